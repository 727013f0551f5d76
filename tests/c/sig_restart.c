/* Syscalls the sentry blocks in (pipe read, wait4) and a signal: SA_RESTART
 * restarts them, a handler without it gets EINTR, a blocked or ignored
 * signal does not interrupt, and a stop/continue restarts transparently. */
#include "common.h"

static volatile sig_atomic_t got;
static void on_sig(int sig)
{
	(void)sig;
	got++;
}

static void set(int sig, void (*h)(int), int flags)
{
	struct sigaction sa = {0};
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

/* A child that sends `sig` to the parent after a moment, then writes "x" to fd after another. */
static pid_t later(int sig, int fd)
{
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		usleep(100000);
		kill(parent, sig);
		usleep(100000);
		if (fd >= 0)
			write(fd, "x", 1);
		_exit(0);
	}
	return c;
}

static void try_read(const char *what, int sig)
{
	int p[2];
	pipe(p);
	got = 0;
	pid_t c = later(sig, p[1]);
	char b;
	errno = 0;
	long r = read(p[0], &b, 1);
	printf("%s: read=%ld %s handler_ran=%d\n", what, r, r < 0 ? errname(errno) : "", (int)got);
	waitpid(c, NULL, 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	set(SIGUSR1, on_sig, SA_RESTART);
	try_read("SA_RESTART", SIGUSR1);
	set(SIGUSR1, on_sig, 0);
	try_read("no SA_RESTART", SIGUSR1);
	set(SIGUSR1, SIG_IGN, 0);
	try_read("ignored", SIGUSR1);
	set(SIGUSR1, on_sig, 0);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	try_read("blocked", SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &m, NULL);
	printf("blocked signal delivered on unblock: %d\n", (int)got);
	try_read("default-ignored SIGWINCH", SIGWINCH);

	/* wait4 with SA_RESTART keeps waiting; without, EINTR. */
	set(SIGUSR2, on_sig, SA_RESTART);
	got = 0;
	pid_t c = later(SIGUSR2, -1);
	int st;
	pid_t w = waitpid(c, &st, 0);
	printf("wait4 SA_RESTART: reaped_child=%d handler_ran=%d\n", w == c, (int)got);
	set(SIGUSR2, on_sig, 0);
	got = 0;
	pid_t parent = getpid();
	c = fork();
	if (c == 0) {
		usleep(100000);
		kill(parent, SIGUSR2);
		usleep(200000);
		_exit(0);
	}
	errno = 0;
	w = waitpid(c, &st, 0);
	printf("wait4 no SA_RESTART: %d %s handler_ran=%d\n", w, w < 0 ? errname(errno) : "", (int)got);
	waitpid(c, &st, 0);

	/* Stopped and continued while blocked in read: the read just continues. */
	int p[2];
	pipe(p);
	c = fork();
	if (c == 0) {
		char b;
		long r = read(p[0], &b, 1);
		printf("child read after stop/continue: %ld %c\n", r, r == 1 ? b : '-');
		fflush(stdout);
		_exit(0);
	}
	usleep(100000);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	printf("child stopped: %d\n", WIFSTOPPED(st));
	kill(c, SIGCONT);
	usleep(50000);
	write(p[1], "y", 1);
	waitpid(c, &st, 0);
	printf("child exited: %d\n", WEXITSTATUS(st));

	/* SIGCHLD ignored: children are reaped by the kernel, wait gives ECHILD. */
	set(SIGCHLD, SIG_IGN, 0);
	c = fork();
	if (c == 0)
		_exit(3);
	errno = 0;
	w = waitpid(c, &st, 0);
	printf("SIGCHLD ignored: wait=%d %s\n", w, errname(errno));
	set(SIGCHLD, SIG_DFL, SA_NOCLDWAIT);
	c = fork();
	if (c == 0)
		_exit(3);
	errno = 0;
	w = waitpid(c, &st, 0);
	printf("SA_NOCLDWAIT: wait=%d %s\n", w, errname(errno));
	set(SIGCHLD, SIG_DFL, 0);
	return 0;
}
