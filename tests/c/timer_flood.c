/* A POSIX timer with a 1 ns period (LTP timer_settime03's pattern): its
 * signal is queued again as soon as it is taken, so it is pending at
 * every moment the timer runs. Arming it is a call the sentry runs for the
 * app (it notes the expiry); taking the signal while it ran made that
 * call stop the thread for the signal over and over, and never end. The
 * handler disarms the timer; the overrun count is capped, never negative. */
#include "common.h"
#include <limits.h>
#include <time.h>

static timer_t timer;
static volatile sig_atomic_t handled;
static volatile int overrun;

static void on_usr1(int sig)
{
	(void)sig;
	if (handled)
		return;
	overrun = timer_getoverrun(timer);
	struct itimerspec off;
	memset(&off, 0, sizeof off);
	if (timer_settime(timer, 0, &off, NULL) < 0)
		_exit(3);
	handled = 1;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	CHECK(sigaction(SIGUSR1, &sa, NULL));
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	CHECK(timer_create(CLOCK_MONOTONIC, &ev, &timer));
	for (int round = 0; round < 3; round++) {
		handled = 0;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* Due 1 s ago, every nanosecond since: ~1e9 overruns at once. */
		struct itimerspec its = { { 0, 1 }, { now.tv_sec - 1, now.tv_nsec } };
		CHECK(timer_settime(timer, TIMER_ABSTIME, &its, NULL));
		while (!handled)
			;
		printf("round %d: handled, overrun %s\n", round,
		       overrun == INT_MAX ? "capped" : overrun > 0 ? "counted" : "wrong");
	}
	CHECK(timer_delete(timer));
	return 0;
}
