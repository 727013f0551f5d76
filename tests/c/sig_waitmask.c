/* ppoll, pselect6 and epoll_pwait with a temporary signal mask: a signal
 * blocked normally but unblocked for the wait interrupts it (EINTR, handler
 * runs once), and the original mask is back afterwards; signals blocked by
 * the temporary mask do not interrupt. epoll_wait is never restarted. An
 * ignored signal does not end a sigtimedwait. */
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

static volatile sig_atomic_t got;
static void on_sig(int sig)
{
	(void)sig;
	got++;
}

/* Sends `sig` to the parent after 100 ms. */
static pid_t later(int sig)
{
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		usleep(100000);
		kill(parent, sig);
		_exit(0);
	}
	return c;
}

static void report(const char *what, long r, int e)
{
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("%s: %ld %s handler=%d usr1_still_blocked=%d\n", what, r, r < 0 ? errname(e) : "", (int)got,
	       sigismember(&now, SIGUSR1));
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t usr1, empty, usr2;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&empty);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR1);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr1, NULL);

	int p[2];
	pipe(p);
	struct pollfd pf = {p[0], POLLIN, 0};
	struct timespec ts = {2, 0};

	got = 0;
	pid_t c = later(SIGUSR1);
	errno = 0;
	long r = ppoll(&pf, 1, &ts, &empty);
	report("ppoll unblocking", r, errno);
	waitpid(c, NULL, 0);

	got = 0;
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	c = later(SIGUSR1);
	errno = 0;
	r = pselect(p[0] + 1, &rs, NULL, NULL, &ts, &empty);
	report("pselect unblocking", r, errno);
	waitpid(c, NULL, 0);

	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {0}};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	got = 0;
	c = later(SIGUSR1);
	errno = 0;
	r = epoll_pwait(ep, &ev, 1, 2000, &empty);
	report("epoll_pwait unblocking", r, errno);
	waitpid(c, NULL, 0);

	/* SIGUSR2 is blocked by the temporary mask: the 300 ms wait times out, then
	 * the signal is delivered once the call restores the (unblocking) mask. */
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	got = 0;
	c = later(SIGUSR2);
	struct timespec shortts = {0, 300000000};
	errno = 0;
	r = ppoll(&pf, 1, &shortts, &usr2);
	printf("ppoll with USR2 blocked: %ld handler_after=%d\n", r, (int)got);
	waitpid(c, NULL, 0);

	/* epoll_wait with an SA_RESTART handler still fails with EINTR. */
	got = 0;
	c = later(SIGUSR2);
	errno = 0;
	r = epoll_wait(ep, &ev, 1, 2000);
	printf("epoll_wait SA_RESTART: %ld %s handler=%d\n", r, r < 0 ? errname(errno) : "", (int)got);
	waitpid(c, NULL, 0);

	/* poll with SA_RESTART: EINTR too (never restarted). */
	got = 0;
	c = later(SIGUSR2);
	errno = 0;
	r = poll(&pf, 1, 2000);
	printf("poll SA_RESTART: %ld %s handler=%d\n", r, r < 0 ? errname(errno) : "", (int)got);
	waitpid(c, NULL, 0);

	errno = 0;
	r = syscall(SYS_ppoll, &pf, 1, &ts, &empty, 4);
	printf("ppoll bad sigsetsize: %ld %s\n", r, errname(errno));

	/* sigtimedwait: an ignored signal arriving meanwhile is discarded and
	 * does not end the wait; it times out with EAGAIN. */
	signal(SIGURG, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	struct timespec half = {0, 500000000};
	c = later(SIGURG);
	errno = 0;
	r = sigtimedwait(&none, NULL, &half);
	printf("sigtimedwait, ignored signal meanwhile: %ld %s\n", r, errname(errno));
	waitpid(c, NULL, 0);
	return 0;
}
