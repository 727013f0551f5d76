/* Signals from timers (alarm, setitimer, POSIX timers) interrupt blocking
 * calls the kernel emulates: read (EINTR without SA_RESTART, restarted
 * with it), poll and epoll_wait (EINTR always). */
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <time.h>

static int pfd[2];
static volatile sig_atomic_t hits, feed;

static void on_sig(int sig)
{
	(void)sig;
	hits++;
	if (feed && write(pfd[1], "x", 1) != 1)
		_exit(3);
}

static void handle(int sig, int flags)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

int main(void)
{
	char c;
	if (pipe(pfd))
		return 1;

	handle(SIGALRM, 0);
	alarm(1);
	errno = 0;
	long r = read(pfd[0], &c, 1);
	printf("alarm, read: %ld %s, handler ran %d\n", r, errname(errno), (int)hits);

	handle(SIGALRM, SA_RESTART);
	feed = 1;
	hits = 0;
	alarm(1);
	errno = 0;
	r = read(pfd[0], &c, 1);
	printf("alarm with SA_RESTART, read: %ld %s, handler ran %d\n", r, errname(errno), (int)hits);
	feed = 0;

	hits = 0;
	struct itimerval it = {{0, 0}, {0, 200000}};
	setitimer(ITIMER_REAL, &it, NULL);
	struct pollfd p = {pfd[0], POLLIN, 0};
	errno = 0;
	r = poll(&p, 1, -1);
	printf("setitimer, poll: %ld %s, handler ran %d\n", r, errname(errno), (int)hits);

	handle(SIGUSR1, SA_RESTART);
	hits = 0;
	timer_t t;
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	timer_create(CLOCK_MONOTONIC, &ev, &t);
	struct itimerspec its = {{0, 0}, {0, 200000000}};
	timer_settime(t, 0, &its, NULL);
	int ep = epoll_create1(0);
	struct epoll_event e = {EPOLLIN, {0}}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &e);
	errno = 0;
	r = epoll_wait(ep, &out, 1, 5000);
	printf("timer_create, epoll_wait: %ld %s, handler ran %d\n", r, errname(errno), (int)hits);
	return 0;
}
