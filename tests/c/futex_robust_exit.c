/* Process-shared robust mutexes held by threads that die with their
 * process while busy making syscalls: the process ends by exit() in
 * another thread, by a fault in another thread, or by SIGKILL from another
 * process. The next locker gets EOWNERDEAD each time. */
#include "common.h"
#include <pthread.h>
#include <sys/mman.h>

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
			usleep(30000); /* the owner busy for a while */
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
	return 0;
}
