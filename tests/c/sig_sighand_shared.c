/* Processes sharing signal handlers (clone CLONE_VM|CLONE_SIGHAND without
 * CLONE_THREAD): a handler the child installs is the parent's too, and the
 * parent re-installing its own handler afterwards takes effect. */
#define _GNU_SOURCE
#include "common.h"
#include <sched.h>
#include <sys/wait.h>

static volatile sig_atomic_t which;

static void parent_handler(int sig)
{
	(void)sig;
	which = 1;
}

static void child_handler(int sig)
{
	(void)sig;
	which = 2;
}

static void install(void (*h)(int))
{
	struct sigaction sa = {0};
	sa.sa_handler = h;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
}

static int child(void *arg)
{
	(void)arg;
	install(child_handler);
	return 0;
}

int main(void)
{
	static char stack[65536];
	install(parent_handler);
	pid_t c = clone(child, stack + sizeof stack, CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
	if (c < 0)
		return 1;
	waitpid(c, NULL, 0);
	raise(SIGUSR2);
	printf("after the child's sigaction: handler %d\n", (int)which);
	install(parent_handler);
	which = 0;
	raise(SIGUSR2);
	printf("after re-installing the parent's: handler %d\n", (int)which);
	return 0;
}
