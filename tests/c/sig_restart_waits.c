/* More calls the sentry blocks in, cut short by a signal from another
 * process: record locks (F_SETLKW, F_OFD_SETLKW), flock, poll, select,
 * epoll_wait and a socket read. SA_RESTART restarts those Linux restarts
 * (lock waits, reads), poll/select/epoll_wait fail with EINTR whatever the
 * flag says, and a blocked signal interrupts nothing. A self-sent signal
 * arrives with its sender's siginfo before the call that raised it returns. */
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>

static volatile sig_atomic_t got, code, from_self;
static volatile pid_t sender;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got++;
	code = si->si_code;
	sender = si->si_pid;
	from_self = si->si_pid == getpid();
}

static void set(int sig, int flags)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | flags;
	sigaction(sig, &sa, NULL);
}

/* A child that, once `ready` returned, sends SIGUSR1 to the parent after a
 * moment, then runs `after` (which ends the parent's wait) after another. */
static pid_t later(void (*ready)(void), void (*after)(void))
{
	pid_t parent = getpid();
	int go[2];
	if (pipe(go) < 0)
		abort();
	pid_t c = fork();
	if (c == 0) {
		close(go[0]);
		if (ready)
			ready();
		write(go[1], "r", 1);
		usleep(100000);
		kill(parent, SIGUSR1);
		usleep(100000);
		if (after)
			after();
		_exit(0);
	}
	close(go[1]);
	char b;
	read(go[0], &b, 1);
	close(go[0]);
	return c;
}

static int lockfd;

static int setlk(int fd, int cmd, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	return fcntl(fd, cmd, &fl);
}

static void child_lock(void)
{
	int fd = open("lockfile", O_RDWR);
	if (setlk(fd, F_SETLK, F_WRLCK) < 0)
		printf("child lock: %s\n", errname(errno));
	/* Kept open: the lock goes when the child exits. */
}

static void child_flock(void)
{
	int fd = open("lockfile", O_RDWR);
	if (flock(fd, LOCK_EX) < 0)
		printf("child flock: %s\n", errname(errno));
}

/* sender_ok: the handler's siginfo names the child that sent the signal. */
static void report(const char *what, long r, int e, pid_t child)
{
	printf("%s: %ld %s handler_ran=%d", what, r, r < 0 ? errname(e) : "OK", (int)got);
	if (got)
		printf(" sender_ok=%d code=%d", sender == child, (int)code);
	printf("\n");
}

static void try_setlkw(const char *what, int cmd)
{
	got = 0;
	pid_t c = later(child_lock, NULL);
	errno = 0;
	long r = setlk(lockfd, cmd, F_WRLCK);
	report(what, r, errno, c);
	waitpid(c, NULL, 0);
	setlk(lockfd, cmd == F_OFD_SETLKW ? F_OFD_SETLK : F_SETLK, F_UNLCK);
}

static void try_flock(const char *what)
{
	got = 0;
	pid_t c = later(child_flock, NULL);
	errno = 0;
	long r = flock(lockfd, LOCK_EX);
	report(what, r, errno, c);
	waitpid(c, NULL, 0);
	flock(lockfd, LOCK_UN);
}

static int pfd[2];
static void child_write(void)
{
	write(pfd[1], "x", 1);
}

/* poll, select or epoll_wait on a pipe the child writes to after the signal. */
static void try_wait(const char *what, int kind)
{
	if (pipe(pfd) < 0)
		abort();
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev);
	got = 0;
	pid_t c = later(NULL, child_write);
	errno = 0;
	long r;
	if (kind == 0) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		r = poll(&p, 1, 5000);
	} else if (kind == 1) {
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(pfd[0], &rs);
		struct timeval tv = {5, 0};
		r = select(pfd[0] + 1, &rs, NULL, NULL, &tv);
	} else {
		struct epoll_event out;
		r = epoll_wait(ep, &out, 1, 5000);
	}
	report(what, r, errno, c);
	waitpid(c, NULL, 0);
	close(ep);
	close(pfd[0]);
	close(pfd[1]);
}

static int sv[2];
static void child_send(void)
{
	write(sv[1], "s", 1);
}

static void try_recv(const char *what)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	got = 0;
	pid_t c = later(NULL, child_send);
	char b;
	errno = 0;
	long r = recv(sv[0], &b, 1, 0);
	report(what, r, errno, c);
	waitpid(c, NULL, 0);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	lockfd = CHECK(open("lockfile", O_CREAT | O_RDWR, 0644));

	set(SIGUSR1, SA_RESTART);
	try_setlkw("F_SETLKW SA_RESTART", F_SETLKW);
	try_setlkw("F_OFD_SETLKW SA_RESTART", F_OFD_SETLKW);
	try_flock("flock SA_RESTART");
	try_wait("poll SA_RESTART", 0);
	try_wait("select SA_RESTART", 1);
	try_wait("epoll_wait SA_RESTART", 2);
	try_recv("recv SA_RESTART");

	set(SIGUSR1, 0);
	try_setlkw("F_SETLKW", F_SETLKW);
	try_setlkw("F_OFD_SETLKW", F_OFD_SETLKW);
	try_flock("flock");
	try_wait("poll", 0);
	try_wait("select", 1);
	try_wait("epoll_wait", 2);
	try_recv("recv");

	/* Blocked: the waits go on until the child ends them; the signal is
	 * delivered once unblocked (each case alone: a pending signal would
	 * change how the next one is served). */
	sigset_t m, old;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
#define BLOCKED(call)                                                          \
	do {                                                                   \
		sigprocmask(SIG_BLOCK, &m, &old);                              \
		call;                                                          \
		got = 0;                                                       \
		sigprocmask(SIG_SETMASK, &old, NULL);                          \
		printf("  delivered on unblock: %d\n", (int)got);              \
	} while (0)
	BLOCKED(try_setlkw("F_SETLKW blocked", F_SETLKW));
	BLOCKED(try_flock("flock blocked"));
	BLOCKED(try_wait("poll blocked", 0));
	BLOCKED(try_wait("select blocked", 1));
	BLOCKED(try_wait("epoll_wait blocked", 2));
	BLOCKED(try_recv("recv blocked"));

	/* Self-sent: handled before the sending call returns, with its siginfo. */
	got = 0;
	long r = kill(getpid(), SIGUSR1);
	printf("kill self: %ld handler_ran=%d si_code=%d from_self=%d\n", r, (int)got, (int)code, (int)from_self);
	got = 0;
	r = syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
	printf("tgkill self: %ld handler_ran=%d si_code=%d from_self=%d\n", r, (int)got, (int)code, (int)from_self);
	got = 0;
	union sigval v = {.sival_int = 5};
	r = sigqueue(getpid(), SIGUSR1, v);
	printf("sigqueue self: %ld handler_ran=%d si_code=%d from_self=%d\n", r, (int)got, (int)code, (int)from_self);
	return 0;
}
