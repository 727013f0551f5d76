/* Signal-driven I/O: F_SETOWN/F_GETOWN/F_SETOWN_EX/F_GETOWN_EX/F_SETSIG/
 * F_GETSIG validation, O_ASYNC through F_SETFL and FIOASYNC, and the signal
 * (SIGIO without details, or the F_SETSIG signal with si_code, si_band and
 * si_fd) raised when another process writes to a pipe, an AF_UNIX socket or
 * a TCP socket (or connects to a TCP listener), or the owner writes, for a
 * process owner and a process-group owner, taken with sigtimedwait or by a
 * handler. Each writer waits for the parent before it exits, and O_ASYNC is
 * turned off first, so hang-ups raise nothing. */
#include "common.h"
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifndef F_SETOWN_EX
#define F_SETOWN_EX 15
#define F_GETOWN_EX 16
#define F_OWNER_TID 0
#define F_OWNER_PID 1
#define F_OWNER_PGRP 2
struct f_owner_ex {
	int type;
	pid_t pid;
};
#endif

static int go[2];

/* A child that writes one byte to `fd` and waits for the parent's go. */
static pid_t writer(int fd)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		usleep(50 * 1000);
		if (write(fd, "x", 1) != 1)
			_exit(3);
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(4);
		_exit(0);
	}
	return pid;
}

static void release(pid_t pid)
{
	if (write(go[1], "g", 1) != 1)
		die("go");
	int st;
	waitpid(pid, &st, 0);
	printf("  writer exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void take(const char *label, int sig, int fd)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	struct timespec ts = {10, 0};
	siginfo_t si;
	int r = sigtimedwait(&s, &si, &ts);
	if (r < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	printf("%s: sig=%s code=%d", label, r == SIGIO ? "SIGIO" : r == SIGRTMIN ? "RTMIN" : "?", si.si_code);
	if (si.si_code > 0 && si.si_code < 0x80)
		printf(" band=%#lx fd_ok=%d", (long)si.si_band, si.si_fd == fd);
	printf("\n");
}

/* Discards queued copies of `sig` (a real-time signal may queue twice). */
static void discard(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&s, NULL, &zero) > 0)
		;
}

static void async_off(int fd)
{
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_ASYNC));
}

static volatile sig_atomic_t h_code, h_fd, h_count;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	h_code = si->si_code;
	h_fd = si->si_fd;
	h_count++;
}

int main(void)
{
	sigset_t blk;
	sigemptyset(&blk);
	sigaddset(&blk, SIGIO);
	sigaddset(&blk, SIGRTMIN);
	sigaddset(&blk, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &blk, NULL);
	/* A group of our own: the group owner's signal must not reach the runner. */
	(void)setpgid(0, 0); /* EPERM for a session leader (a sandbox init) */
	if (pipe(go) < 0)
		die("pipe");
	int p[2];
	if (pipe(p) < 0)
		die("pipe");

	/* Owner and signal bookkeeping. */
	printf("getown default=%d getsig default=%d\n", fcntl(p[0], F_GETOWN), fcntl(p[0], F_GETSIG));
	CHECK(fcntl(p[0], F_SETOWN, getpid()));
	printf("getown is me: %d\n", fcntl(p[0], F_GETOWN) == getpid());
	struct f_owner_ex ox = {-1, 0};
	CHECK(fcntl(p[0], F_GETOWN_EX, &ox));
	printf("getown_ex: type=%d is me=%d\n", ox.type, ox.pid == getpid());
	CHECK(fcntl(p[0], F_SETOWN, -getpgrp()));
	printf("getown is -pgrp: %d\n", fcntl(p[0], F_GETOWN) == -getpgrp());
	CHECK(fcntl(p[0], F_GETOWN_EX, &ox));
	printf("getown_ex: type=%d is pgrp=%d\n", ox.type, ox.pid == getpgrp());
	CHECK(fcntl(p[0], F_SETOWN, 999999));
	ox.type = 7;
	ox.pid = getpid();
	CHECK(fcntl(p[0], F_SETOWN_EX, &ox));
	ox.type = F_OWNER_TID;
	ox.pid = 999999;
	CHECK(fcntl(p[0], F_SETOWN_EX, &ox));
	CHECK(fcntl(p[0], F_SETOWN_EX, (void *)8));
	ox.pid = (pid_t)syscall(SYS_gettid);
	CHECK(fcntl(p[0], F_SETOWN_EX, &ox));
	printf("getown after tid owner is me: %d\n", fcntl(p[0], F_GETOWN) == getpid());
	CHECK(fcntl(p[0], F_SETSIG, 65));
	CHECK(fcntl(p[0], F_SETSIG, -1));
	CHECK(fcntl(p[0], F_SETSIG, SIGRTMIN));
	printf("getsig is RTMIN: %d\n", fcntl(p[0], F_GETSIG) == SIGRTMIN);
	CHECK(fcntl(p[0], F_SETSIG, 0));
	CHECK(fcntl(p[0], F_SETOWN, 0));
	printf("getown cleared=%d\n", fcntl(p[0], F_GETOWN));

	/* FIOASYNC needs fasync; F_SETFL just records the flag. */
	int one = 1, zero = 0;
	int efd = CHECK(eventfd(0, 0));
	CHECK(ioctl(efd, FIOASYNC, &one));
	CHECK(fcntl(efd, F_SETFL, O_ASYNC));
	printf("eventfd O_ASYNC in F_GETFL: %d\n", !!(fcntl(efd, F_GETFL) & O_ASYNC));
	CHECK(ioctl(p[0], FIOASYNC, &one));
	printf("pipe FIOASYNC in F_GETFL: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
	CHECK(ioctl(p[0], FIOASYNC, &zero));
	printf("pipe after FIOASYNC off: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));

	/* A pipe, plain SIGIO to the process. */
	char c;
	CHECK(fcntl(p[0], F_SETOWN, getpid()));
	CHECK(fcntl(p[0], F_SETFL, O_ASYNC));
	pid_t w = writer(p[1]);
	take("pipe SIGIO", SIGIO, p[0]);
	async_off(p[0]);
	release(w);
	CHECK(read(p[0], &c, 1));

	/* The F_SETSIG signal with details. */
	CHECK(fcntl(p[0], F_SETSIG, SIGRTMIN));
	CHECK(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
	w = writer(p[1]);
	take("pipe RTMIN", SIGRTMIN, p[0]);
	async_off(p[0]);
	release(w);
	CHECK(read(p[0], &c, 1));

	/* A process-group owner. */
	CHECK(fcntl(p[0], F_SETOWN, -getpgrp()));
	CHECK(fcntl(p[0], F_SETFL, O_ASYNC));
	w = writer(p[1]);
	take("pipe pgrp", SIGRTMIN, p[0]);
	async_off(p[0]);
	release(w);
	CHECK(read(p[0], &c, 1));

	/* A socketpair through FIOASYNC, and a handler. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN + 2, &sa, NULL);
	CHECK(fcntl(sv[0], F_SETOWN, getpid()));
	CHECK(fcntl(sv[0], F_SETSIG, SIGRTMIN + 2));
	CHECK(ioctl(sv[0], FIOASYNC, &one));
	w = writer(sv[1]);
	sigset_t wait_mask;
	sigprocmask(SIG_SETMASK, NULL, &wait_mask);
	sigdelset(&wait_mask, SIGRTMIN + 2);
	while (h_count == 0)
		sigsuspend(&wait_mask);
	printf("socket handler: code=%d fd_ok=%d\n", h_code, h_fd == sv[0]);
	CHECK(ioctl(sv[0], FIOASYNC, &zero));
	release(w);
	CHECK(read(sv[0], &c, 1));

	/* A datagram socketpair, plain SIGIO. */
	int dv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dv) < 0)
		die("socketpair");
	CHECK(fcntl(dv[0], F_SETOWN, getpid()));
	CHECK(fcntl(dv[0], F_SETFL, O_ASYNC));
	w = writer(dv[1]);
	take("dgram SIGIO", SIGIO, dv[0]);
	async_off(dv[0]);
	release(w);
	CHECK(read(dv[0], &c, 1));

	/* The owner writing itself: the handler has run when write returns. */
	sigaction(SIGRTMIN + 3, &sa, NULL);
	h_count = 0;
	CHECK(fcntl(p[0], F_SETOWN, getpid()));
	CHECK(fcntl(p[0], F_SETSIG, SIGRTMIN + 3));
	CHECK(fcntl(p[0], F_SETFL, O_ASYNC));
	CHECK(write(p[1], "y", 1));
	printf("after own write: count=%d code=%d fd_ok=%d\n", h_count, h_code, h_fd == p[0]);
	async_off(p[0]);
	CHECK(read(p[0], &c, 1));
	CHECK(fcntl(p[0], F_SETSIG, SIGRTMIN));

	/* TCP over loopback: a connection raises it on the listener, data on
	 * the accepted socket. */
	int rt4 = SIGRTMIN + 4;
	sigset_t b4;
	sigemptyset(&b4);
	sigaddset(&b4, rt4);
	sigprocmask(SIG_BLOCK, &b4, NULL);
	int l = CHECK(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sin;
	CHECK(bind(l, (struct sockaddr *)&sin, sizeof sin));
	CHECK(listen(l, 4));
	CHECK(getsockname(l, (struct sockaddr *)&sin, &sl));
	CHECK(fcntl(l, F_SETOWN, getpid()));
	CHECK(fcntl(l, F_SETSIG, rt4));
	CHECK(fcntl(l, F_SETFL, O_ASYNC));
	w = fork();
	if (w == 0) {
		usleep(50 * 1000);
		int cs = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(cs, (struct sockaddr *)&sin, sizeof sin) < 0)
			_exit(3);
		char g;
		if (read(go[0], &g, 1) != 1 || write(cs, "t", 1) != 1 || read(go[0], &g, 1) != 1)
			_exit(4);
		_exit(0);
	}
	sigset_t s4;
	sigemptyset(&s4);
	sigaddset(&s4, rt4);
	struct timespec ten = {10, 0};
	siginfo_t si4;
	int r4 = sigtimedwait(&s4, &si4, &ten);
	printf("tcp listener: got=%d code=%d fd_ok=%d\n", r4 == rt4, si4.si_code, si4.si_fd == l);
	async_off(l);
	discard(rt4);
	int as = CHECK(accept(l, NULL, NULL));
	CHECK(fcntl(as, F_SETOWN, getpid()));
	CHECK(fcntl(as, F_SETSIG, rt4));
	CHECK(fcntl(as, F_SETFL, O_ASYNC));
	if (write(go[1], "g", 1) != 1)
		die("go");
	r4 = sigtimedwait(&s4, &si4, &ten);
	printf("tcp data: got=%d code=%d band=%#lx fd_ok=%d\n", r4 == rt4, si4.si_code, (long)si4.si_band, si4.si_fd == as);
	async_off(as);
	discard(rt4);
	CHECK(read(as, &c, 1));
	release(w);
	close(as);
	close(l);

	/* No owner: nothing is raised. */
	CHECK(fcntl(p[0], F_SETOWN, 0));
	CHECK(fcntl(p[0], F_SETFL, O_ASYNC));
	w = writer(p[1]);
	CHECK(read(p[0], &c, 1));
	async_off(p[0]);
	release(w);
	sigset_t pend;
	sigpending(&pend);
	printf("nothing pending: %d\n", !sigismember(&pend, SIGRTMIN) && !sigismember(&pend, SIGIO));
	return 0;
}
