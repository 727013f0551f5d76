/* Process-shared robust mutexes held by threads that die with their
 * process while busy making syscalls: the process ends by exit() in
 * another thread, by a fault in another thread, or by SIGKILL from another
 * process. The next locker gets EOWNERDEAD each time. Then many fast rounds
 * of exit() and SIGKILL, a few milliseconds after the lock is taken, so the
 * end lands while the owner is at any point of its calls. */
#include "common.h"
#include <pthread.h>
#include <sys/mman.h>

#define FAST_ROUNDS 100

struct shared {
	pthread_mutex_t m;
	volatile int locked;
};

static struct shared *sh;

static void *owner(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sh->m);
	sh->locked = 1;
	for (;;)
		syscall(SYS_getppid);
	return NULL;
}

int main(void)
{
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->m, &at);
	const char *how[] = {"exit", "fault", "SIGKILL"};
	for (int k = 0; k < 3; k++) {
		fflush(stdout);
		sh->locked = 0;
		pid_t c = fork();
		if (c == 0) {
			pthread_t t;
			pthread_create(&t, NULL, owner, NULL);
			while (!sh->locked)
				usleep(1000);
			/* The owner busy for a while. Long enough, even on a loaded
			 * machine, for systrap to trace this idle thread again (20 ms
			 * after its last trapped call): a fault in a thread that runs
			 * detached is a known gap (docs/systrap-status.md). */
			usleep(100000);
			if (k == 0)
				exit(5);
			if (k == 1)
				*(volatile int *)8 = 1;
			for (;;)
				pause();
		}
		while (!sh->locked)
			usleep(1000);
		if (k == 2) {
			usleep(30000);
			kill(c, SIGKILL);
		}
		int st;
		waitpid(c, &st, 0);
		int r = pthread_mutex_lock(&sh->m);
		printf("%s: status %d/%d, lock: %s\n", how[k], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		       WIFSIGNALED(st) ? WTERMSIG(st) : 0, r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : errname(r));
		if (r == EOWNERDEAD)
			pthread_mutex_consistent(&sh->m);
		pthread_mutex_unlock(&sh->m);
	}
	int ownerdead[2] = {0, 0};
	for (int i = 0; i < 2 * FAST_ROUNDS; i++) {
		int kill_it = i % 2;
		int busy_us = 2000 + 100 * (i % 20);
		sh->locked = 0;
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			pthread_t t;
			pthread_create(&t, NULL, owner, NULL);
			while (!sh->locked)
				usleep(500);
			if (!kill_it) {
				usleep(busy_us);
				exit(5);
			}
			for (;;)
				pause();
		}
		while (!sh->locked)
			usleep(500);
		if (kill_it) {
			usleep(busy_us);
			kill(c, SIGKILL);
		}
		waitpid(c, NULL, 0);
		if (pthread_mutex_lock(&sh->m) == EOWNERDEAD) {
			ownerdead[kill_it]++;
			pthread_mutex_consistent(&sh->m);
		}
		pthread_mutex_unlock(&sh->m);
	}
	printf("fast exit: %d of %d EOWNERDEAD\n", ownerdead[0], FAST_ROUNDS);
	printf("fast SIGKILL: %d of %d EOWNERDEAD\n", ownerdead[1], FAST_ROUNDS);
	return 0;
}
