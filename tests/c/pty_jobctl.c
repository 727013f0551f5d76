/* Terminal job control on a pty: a background process group reading its
 * controlling terminal gets SIGTTIN (its handler runs, the read fails with
 * EINTR without SA_RESTART); with SIGTTIN ignored the read fails with EIO;
 * made foreground, the reader gets its line. (Being stopped by a default
 * SIGTTIN is not covered: the sandbox cannot stop on it yet.) */
#include "pty_util.h"

static int rep[2];
static volatile sig_atomic_t ttin;

static void on_ttin(int sig)
{
	(void)sig;
	ttin++;
}

static void report(const char *s)
{
	if (write(rep[1], s, strlen(s)) < 0)
		_exit(3);
}

static void session(const char *name)
{
	char buf[64];
	signal(SIGTTOU, SIG_IGN);
	setsid();
	int s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
		_exit(4);

	int sync[2];
	if (pipe(sync) < 0)
		_exit(5);
	pid_t gc = fork();
	if (gc == 0) {
		setpgid(0, 0);
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_ttin;
		sigaction(SIGTTIN, &sa, NULL);
		long n = read(s, buf, sizeof buf);
		int e = errno;
		snprintf(buf, sizeof buf, "background read: %s, SIGTTIN handled: %d\n", n < 0 ? errname(e) : "data",
			 ttin > 0);
		report(buf);
		if (write(sync[1], "x", 1) != 1)
			_exit(6);
		/* Wait to be made foreground, then read for real. */
		while (tcgetpgrp(s) != getpgrp())
			usleep(10000);
		n = read(s, buf, sizeof buf);
		_exit(n == 3 && !memcmp(buf, "fg\n", 3) ? 0 : 1);
	}
	setpgid(gc, gc);
	int st;
	if (read(sync[0], buf, 1) != 1)
		_exit(7);
	tcsetpgrp(s, gc);
	report("reader in the foreground\n");
	waitpid(gc, &st, 0);
	snprintf(buf, sizeof buf, "foreground reader got its line: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	report(buf);
	tcsetpgrp(s, getpgrp());

	gc = fork();
	if (gc == 0) {
		setpgid(0, 0);
		signal(SIGTTIN, SIG_IGN);
		long n = read(s, buf, sizeof buf);
		_exit(n < 0 && errno == EIO ? 0 : 1);
	}
	setpgid(gc, gc);
	waitpid(gc, &st, 0);
	snprintf(buf, sizeof buf, "background reader ignoring SIGTTIN got EIO: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	report(buf);
	_exit(0);
}

static void relay(const char *until)
{
	char line[256];
	size_t len = 0;
	char c;
	while (read(rep[0], &c, 1) == 1) {
		line[len++] = c;
		if (c == '\n' || len == sizeof line - 1) {
			line[len] = 0;
			printf("%s", line);
			if (!strncmp(line, until, strlen(until)))
				return;
			len = 0;
		}
	}
	printf("report pipe closed\n");
}

int main(void)
{
	int m, s;
	char name[64];
	open_pair(&m, &s, name, sizeof name);
	close(s);
	pipe(rep);
	pid_t pid = fork();
	if (pid == 0) {
		close(rep[0]);
		close(m);
		session(name);
	}
	close(rep[1]);
	relay("reader in the foreground");
	put(m, "fg\n");
	relay("background reader ignoring");
	int st;
	waitpid(pid, &st, 0);
	printf("session leader exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	show_drain("master", m, 4);
	return 0;
}
