/* Short-lived threads for the escape_* programs that race a systrap
 * thread's set-up: each one's first trapped call is served at its set-up,
 * when the sentry maps its chunk and passes that chunk's fd. */
#ifndef RVISOR_SET_UPS_H
#define RVISOR_SET_UPS_H
#include <time.h>

static void *short_lived(void *arg)
{
	(void)arg;
	/* Its first trapped call (after start_thread's own) is served at its set-up. */
	return (void *)(long)getppid();
}

/* CLOCK_MONOTONIC in seconds. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
