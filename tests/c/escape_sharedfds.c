/* Two processes sharing one fd table (clone with CLONE_FILES, without
 * CLONE_THREAD): under systrap the sentry passes a new thread its chunk's
 * fd through the fd table, at a low number, for the moment between its
 * arrival and its close. A process sharing that table would see it arrive
 * and could take it, and with it the slot of the other process's thread,
 * where calls run with that process's credentials. So the sentry keeps
 * the threads of such processes traced and passes them no chunk.
 * Here the parent starts short-lived threads (each one's first trapped
 * call would be its set-up) while the child, sharing its fd table, jumps
 * to the stub handler's exec site, where the filter lets dup3 move any fd
 * onto the installed files' numbers and pread64 read them, and tries every
 * low fd. It must take nothing. On ptrace the site is an ordinary trapped
 * call, on the child's own (virtual) fds, which read nothing here. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include "escape.h"
#include "exec_site.h"
#include "set_ups.h"

#define TARGET_FD 1002
#define LOW_FDS 4
#define SECONDS 8

/* The child's counts, written to the parent through a pipe. */
struct counts {
	long tries, taken;
};

static void child(int out)
{
	struct counts c = { 0, 0 };
	char buf[16];
	double end = now() + SECONDS;
	while (now() < end) {
		for (int fd = 0; fd < LOW_FDS; fd++) {
			c.tries++;
			if (site_call(SYS_dup3, fd, TARGET_FD, 0, 0, 0, 0) != TARGET_FD)
				continue;
			/* A chunk's fd reads 16 bytes at 0 (the child's own fds here read none). */
			if (site_call(SYS_pread64, TARGET_FD, (long)buf, sizeof buf, 0, 0, 0) == sizeof buf)
				c.taken++;
		}
	}
	if (write(out, &c, sizeof c) != sizeof c)
		_exit(2);
	_exit(0);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int p[2];
	if (pipe(p) != 0) {
		attempt_result("take a chunk fd through a shared fd table", "pipe: %s", errname(errno));
		finish();
		return 0;
	}
	/* fork's semantics (a copy of the memory, the stack included), plus
	 * the one fd table. */
	long pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		child(p[1]);
	if (pid < 0) {
		attempt_result("take a chunk fd through a shared fd table", "clone: %s", errname(errno));
		finish();
		return 0;
	}
	long started = 0;
	double end = now() + SECONDS;
	while (now() < end) {
		pthread_t t;
		if (pthread_create(&t, 0, short_lived, 0) != 0)
			break;
		pthread_join(t, 0);
		started++;
	}
	struct counts c = { -1, -1 };
	ssize_t got = read(p[0], &c, sizeof c);
	int status = 0;
	waitpid((pid_t)pid, &status, 0);
	attempt_result("take a chunk fd through a shared fd table", "%s (%ld threads started, %ld tries, %ld fds taken, child %s)",
		       c.taken > 0 ? "LEAK" : "nothing taken", started, c.tries, c.taken,
		       got == sizeof c && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "failed");
	finish();
	return 0;
}
