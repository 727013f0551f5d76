/* sigsuspend with a mask that blocks (nearly) everything, SIGSYS included:
 * the handler that runs during it makes syscalls and sees the suspend mask
 * (plus its own signal); afterwards sigsuspend fails with EINTR and the old
 * mask is back. Then a thread suspends the same way while the main thread
 * signals it, and a handler with SIGSYS in its sa_mask makes syscalls. */
#include "common.h"
#include <pthread.h>

static volatile sig_atomic_t handled;
static volatile unsigned long long mask_in_handler;
static volatile long ppid_in_handler;

static unsigned long long low_bits(const sigset_t *s)
{
	unsigned long long m = 0;
	for (int sig = 1; sig < 32; sig++)
		if (sigismember(s, sig))
			m |= 1ULL << (sig - 1);
	return m;
}

static void on_usr(int sig)
{
	(void)sig;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	mask_in_handler = low_bits(&cur);
	ppid_in_handler = syscall(SYS_getpid) > 0;
	char msg[] = "handler ran\n";
	write(1, msg, sizeof msg - 1);
	handled++;
}

static void *sender(void *arg)
{
	pid_t target = (pid_t)(long)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	usleep(20000);
	syscall(SYS_tgkill, getpid(), target, SIGUSR1);
	return NULL;
}

static volatile long suspender_tid;
static void *suspender(void *arg)
{
	(void)arg;
	sigset_t s;
	sigfillset(&s);
	sigdelset(&s, SIGUSR2);
	suspender_tid = syscall(SYS_gettid);
	int r = sigsuspend(&s);
	printf("thread sigsuspend: %d %s handled %d\n", r, errname(errno), (int)handled);
	return NULL;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_usr;
	CHECK(sigaction(SIGUSR1, &sa, NULL));
	CHECK(sigaction(SIGUSR2, &sa, NULL));
	sigset_t block, old, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);

	/* The main thread suspends with everything but SIGUSR1 blocked. */
	pthread_t t;
	pthread_create(&t, NULL, sender, (void *)(long)syscall(SYS_gettid));
	sigset_t during;
	sigfillset(&during);
	sigdelset(&during, SIGUSR1);
	errno = 0;
	int r = sigsuspend(&during);
	printf("sigsuspend: %d %s handled %d\n", r, errname(errno), (int)handled);
	printf("mask in handler: %llx (SIGSYS %d, SIGUSR1 %d)\n", mask_in_handler,
	       !!(mask_in_handler & (1ULL << (SIGSYS - 1))), !!(mask_in_handler & (1ULL << (SIGUSR1 - 1))));
	printf("syscall in handler: %ld\n", ppid_in_handler);
	pthread_join(t, NULL);
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("mask after: %llx\n", low_bits(&now));

	/* A thread suspends; the main thread signals it. */
	handled = 0;
	pthread_create(&t, NULL, suspender, NULL);
	while (!suspender_tid)
		usleep(1000);
	usleep(20000);
	syscall(SYS_tgkill, getpid(), suspender_tid, SIGUSR2);
	pthread_join(t, NULL);

	/* A handler whose sa_mask holds SIGSYS (and everything else). */
	sigfillset(&sa.sa_mask);
	CHECK(sigaction(SIGTERM, &sa, NULL));
	handled = 0;
	raise(SIGTERM);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* (Not its SIGSYS bit: systrap shows SIGSYS unblocked there, see
	 * docs/systrap-status.md.) */
	printf("sa_mask handler: handled %d SIGUSR2 %d syscall %ld\n", (int)handled,
	       !!(mask_in_handler & (1ULL << (SIGUSR2 - 1))), ppid_in_handler);
	return 0;
}
