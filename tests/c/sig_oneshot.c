/* A one-shot handler (SA_RESETHAND): the disposition goes back to SIG_DFL
 * when the signal is delivered, and installing the same handler again
 * arms it again, also after a delivery by a host timer to a thread busy
 * in quick syscalls (which the sentry never sees being delivered). */
#include "common.h"
#include <sys/time.h>

static volatile sig_atomic_t got;

static void on_sig(int sig)
{
	(void)sig;
	got++;
}

static void one_shot(int sig)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESETHAND;
	sigaction(sig, &sa, NULL);
}

static const char *disposition(int sig)
{
	struct sigaction old;
	sigaction(sig, NULL, &old);
	return old.sa_handler == SIG_DFL ? "SIG_DFL" : old.sa_handler == on_sig ? "handler" : "other";
}

/* Arms a 5 ms timer and makes quick syscalls until its signal was handled. */
static int timer_round(void)
{
	int before = got;
	struct itimerval it = {{0, 0}, {0, 5000}};
	setitimer(ITIMER_REAL, &it, NULL);
	for (long i = 0; i < 20000000 && got == before; i++)
		getppid();
	return got - before;
}

int main(void)
{
	one_shot(SIGUSR1);
	printf("installed: %s\n", disposition(SIGUSR1));
	kill(getpid(), SIGUSR1);
	printf("after kill: got=%d now %s\n", (int)got, disposition(SIGUSR1));
	one_shot(SIGUSR1);
	one_shot(SIGUSR1);
	kill(getpid(), SIGUSR1);
	printf("re-installed twice, after kill: got=%d now %s\n", (int)got, disposition(SIGUSR1));

	got = 0;
	for (int round = 1; round <= 3; round++) {
		one_shot(SIGALRM);
		/* The same action again: must still be armed on the host. */
		one_shot(SIGALRM);
		printf("timer round %d: handled=%d\n", round, timer_round());
	}
	return 0;
}
