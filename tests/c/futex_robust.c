/* Robust mutexes: a thread (or a process, for a shared one) that dies holding
 * one leaves it to the next locker with EOWNERDEAD. (The owner tid in the
 * mutex is the sandbox's; the host kernel compares its own.) */
#include "common.h"
#include <pthread.h>
#include <sys/mman.h>

static pthread_mutex_t m;

static void *holder(void *a)
{
	(void)a;
	pthread_mutex_lock(&m);
	return NULL; /* exits holding it */
}

static void *waiter(void *a)
{
	(void)a;
	int r = pthread_mutex_lock(&m);
	printf("waiter woken: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : errname(r));
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&m);
	pthread_mutex_unlock(&m);
	return NULL;
}

int main(void)
{
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&m, &at);

	pthread_t t;
	pthread_create(&t, NULL, holder, NULL);
	pthread_join(t, NULL);
	int r = pthread_mutex_lock(&m);
	printf("lock after owner thread died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : errname(r));
	pthread_mutex_consistent(&m);
	printf("unlock: %d\n", pthread_mutex_unlock(&m));
	printf("relock: %d\n", pthread_mutex_lock(&m));
	pthread_mutex_unlock(&m);

	/* A waiter blocked on the mutex gets it when the owner unlocks. */
	pthread_mutex_lock(&m);
	pthread_t w;
	pthread_create(&w, NULL, waiter, NULL);
	usleep(100000);
	pthread_mutex_unlock(&m);
	pthread_join(w, NULL);

	/* Process-shared robust mutex in MAP_SHARED memory, owner process killed. */
	pthread_mutex_t *sm = mmap(NULL, sizeof *sm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(sm, &at);
	pid_t c = fork();
	if (c == 0) {
		pthread_mutex_lock(sm);
		raise(SIGKILL);
	}
	waitpid(c, NULL, 0);
	r = pthread_mutex_lock(sm);
	printf("shared lock after owner process died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : errname(r));

	/* The same, the single-threaded owner process ending with exit_group
	 * after a few calls (under systrap, as a process that already runs
	 * detached). */
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(sm);
	pthread_mutex_unlock(sm);
	c = fork();
	if (c == 0) {
		pthread_mutex_lock(sm);
		for (int i = 0; i < 3; i++)
			getppid();
		_exit(0);
	}
	waitpid(c, NULL, 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	r = pthread_mutex_timedlock(sm, &until);
	printf("shared lock after owner process exited: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : errname(r));
	return 0;
}
