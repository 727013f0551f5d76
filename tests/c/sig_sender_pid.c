/* si_pid of a standard signal that many processes send at once is always
 * one of the senders, while the receiver's handler (which blocks the
 * signal) runs and more copies merge into the pending one (LTP kill10's
 * managers checked it and saw the sentry's pid). */
#include "common.h"

#define KIDS 6
static pid_t kids[KIDS];
static volatile sig_atomic_t got, bad;

static void on_usr2(int sig, siginfo_t *si, void *ctx)
{
	(void)sig; (void)ctx;
	int ok = 0;
	for (int i = 0; i < KIDS; i++)
		ok |= si->si_pid == kids[i];
	if (!ok)
		bad++;
	got++;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr2;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t parent = getpid();
	for (int i = 0; i < KIDS; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			for (int n = 0; n < 3000; n++) {
				kill(parent, SIGUSR2);
				if (n % 16 == 0)
					usleep(50);
			}
			_exit(0);
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < KIDS; i++)
		while (waitpid(kids[i], NULL, 0) < 0)
			;
	printf("signals taken: %s; from someone other than a sender: %d\n", got > 0 ? "some" : "none", bad);
	return 0;
}
