/* A handler installed with SA_ONSTACK runs on the alternate stack, which
 * cannot be changed meanwhile; fork from inside such a handler: the child,
 * born on that stack (and still with it as its alternate stack,
 * SS_ONSTACK), makes syscalls there, and either exits from the handler or
 * returns from it to the interrupted code; a vfork child does the same; the
 * parent carries on after each. Then the same in a new thread, which has
 * no alternate stack (SA_ONSTACK then means nothing on Linux; under systrap
 * such a handler runs on the thread's chunk, which a fork child gets a copy
 * of). Last, a fresh image whose only SA_ONSTACK handler is SIGBUS's. */
#include "common.h"
#include <pthread.h>

static int mode; /* 0: the child exits in the handler; 1: it returns; 2: vfork */
static volatile pid_t child;
static char *alt;
static int with_alt;

static void on_usr1(int sig)
{
	(void)sig;
	char probe;
	printf("handler on the alternate stack: %d\n", &probe >= alt && &probe < alt + (1 << 16));
	if (with_alt) {
		stack_t other = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
		errno = 0;
		int r = sigaltstack(&other, NULL);
		printf("changing it while on it: %d %s\n", r, errname(errno));
		free(other.ss_sp);
	}
	fflush(stdout);
	pid_t pid = mode == 2 ? vfork() : fork();
	if (pid == 0) {
		if (mode == 2)
			_exit(syscall(SYS_getppid) > 0 ? 9 : 10);
		stack_t cur;
		sigaltstack(NULL, &cur);
		char msg[] = "child in handler, on its alternate stack: 0\n";
		msg[sizeof msg - 3] += (cur.ss_flags & SS_ONSTACK) && cur.ss_size == 1 << 16;
		write(1, msg, sizeof msg - 1);
		if (mode == 0)
			_exit(getpid() > 0 ? 7 : 6);
		child = 0;
		return;
	}
	child = pid;
}

static void run_modes(void)
{
	for (mode = 0; mode < 3; mode++) {
		child = -1;
		raise(SIGUSR1);
		if (child == 0) {
			printf("child after handler: mode %d\n", mode);
			fflush(stdout);
			_exit(8);
		}
		int st;
		pid_t w = waitpid(child, &st, 0);
		printf("mode %d: waited %d exited %d code %d\n", mode, w == child, WIFEXITED(st),
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
}

static void *thread_modes(void *arg)
{
	(void)arg;
	stack_t now;
	sigaltstack(NULL, &now);
	printf("thread: no alternate stack: %d\n", (now.ss_flags & SS_DISABLE) != 0);
	run_modes();
	return NULL;
}

static void on_bus(int sig)
{
	(void)sig;
	char probe;
	printf("SIGBUS handler on the alternate stack: %d\n", &probe >= alt && &probe < alt + (1 << 16));
}

/* A fresh image whose only SA_ONSTACK handler is SIGBUS's (as programs
 * that catch stack overflow have): raised, it runs on the alternate stack. */
static int bus_only(void)
{
	alt = malloc(1 << 16);
	stack_t ss = {.ss_sp = alt, .ss_size = 1 << 16};
	CHECK(sigaltstack(&ss, NULL));
	struct sigaction sa = {0};
	sa.sa_handler = on_bus;
	sa.sa_flags = SA_ONSTACK;
	CHECK(sigaction(SIGBUS, &sa, NULL));
	for (int i = 0; i < 100; i++)
		syscall(SYS_getppid);
	raise(SIGBUS);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return bus_only();
	alt = malloc(1 << 16);
	stack_t ss = {.ss_sp = alt, .ss_size = 1 << 16};
	CHECK(sigaltstack(&ss, NULL));
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	CHECK(sigaction(SIGUSR1, &sa, NULL));
	with_alt = 1;
	run_modes();
	with_alt = 0;
	pthread_t t;
	pthread_create(&t, NULL, thread_modes, NULL);
	pthread_join(t, NULL);
	stack_t now;
	sigaltstack(NULL, &now);
	printf("main thread's alternate stack kept: %d\n", now.ss_sp == alt && !(now.ss_flags & SS_DISABLE));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "bus", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("bus-only image: exited %d code %d\n", WIFEXITED(st), WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}
