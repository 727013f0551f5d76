/* systrap's copy file: once a process has made enough copies of its memory,
 * the sentry installs a sealed memfd at fd 1018 and the stub's handler moves
 * the app's bytes through it (pwrite64/pread64 at the handler's exec site,
 * the only place the filter lets them run, and only on that fd). An app can
 * jump to the site itself. This program does, and checks that the file is
 * only ever its own process's:
 * - the file cannot grow (its size is sealed);
 * - a fork child does not hold its parent's file;
 * - once the process shares its fd table with another (CLONE_FILES), the
 *   sentry stops reading the process's paths through the file.
 * That the sentry reads paths through the file at all is shown first: a
 * marker written over the whole file is replaced by a path the program
 * stats. On ptrace the site is an ordinary trapped call and there is no
 * file (EBADF). */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/wait.h>
#include "escape.h"
#include "exec_site.h"

#define COPY_FD 1018
#define FILE_LEN (64 * 16384)

static char file[FILE_LEN];

static const char *result(long r)
{
	static char buf[32];
	if (r < 0 && r > -4096)
		return errname((int)-r);
	snprintf(buf, sizeof buf, "%ld", r);
	return buf;
}

/* Marks the whole file, stats a long path ending in `probe`, and says
 * whether the probe is now in the file (the sentry read the path through
 * it; the calls that arm the timer copy small structs over the path's
 * start). A call the sentry serves traced reads it the other way: a few tries. */
static const char *path_through_file(const char *tail)
{
	struct stat st;
	char probe[300];
	snprintf(probe, sizeof probe, "/%0200d%s", 0, tail);
	for (int i = 0; i < 50; i++) {
		memset(file, 'M', sizeof file);
		long w = site_call(SYS_pwrite64, COPY_FD, (long)file, sizeof file, 0, 0, 0);
		if (w != (long)sizeof file)
			return result(w);
		stat(probe, &st);
		memset(file, 0, sizeof file);
		long r = site_call(SYS_pread64, COPY_FD, (long)file, sizeof file, 0, 0, 0);
		if (r != (long)sizeof file)
			return result(r);
		if (memmem(file, sizeof file, tail, strlen(tail)))
			return "read through the file";
	}
	return "not through the file";
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct stat st;
	/* Enough copies of app memory for the sentry to install the file. */
	for (int i = 0; i < 500; i++)
		stat("/tmp", &st);
	attempt_result("the sentry reads a path through the copy file", "%s",
		       path_through_file("probe-before-sharing"));
	char byte = 'x';
	attempt_result("grow the copy file", "%s", result(site_call(SYS_pwrite64, COPY_FD, (long)&byte, 1, FILE_LEN, 0, 0)));
	pid_t child = fork();
	if (child == 0) {
		long r = site_call(SYS_pwrite64, COPY_FD, (long)&byte, 1, 0, 0, 0);
		_exit(r == -EBADF ? 0 : 1);
	}
	int status = 0;
	waitpid(child, &status, 0);
	attempt_result("a fork child writes its parent's copy file", "%s",
		       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "EBADF" : "WROTE (LEAK)");
	/* A process sharing this one's fd table: it could write the file too. */
	child = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	if (child == 0)
		_exit(0);
	waitpid(child, &status, 0);
	attempt_result("after sharing the fd table", "%s", path_through_file("probe-after-sharing"));
	finish();
	return 0;
}
