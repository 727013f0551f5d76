/* ETXTBSY: a file open for writing cannot be executed, and a running
 * executable (through any of its hard links) cannot be opened for writing,
 * truncated through a path or opened with O_TRUNC; once the process is
 * gone, it can. */
#include "common.h"
#include <sys/wait.h>

static void copy_self(const char *to)
{
	int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[65536];
	ssize_t n;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			break;
	close(in);
	close(out);
}

static void try_open(const char *what, const char *path, int flags)
{
	errno = 0;
	int fd = open(path, flags);
	printf("%s: %s\n", what, fd >= 0 ? "ok" : errname(errno));
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "wait")) {
		/* Running copy: say so, then wait for the parent to close the pipe. */
		int fd = atoi(argv[2]);
		char c;
		if (write(fd, "r", 1) != 1)
			return 1;
		return read(0, &c, 1) < 0;
	}
	copy_self("prog");
	if (link("prog", "prog-link") != 0)
		printf("link: %s\n", errname(errno));

	/* Executing a file open for writing. */
	int w = open("prog", O_WRONLY);
	pid_t c = fork();
	if (c == 0) {
		execl("./prog", "prog", (char *)NULL);
		_exit(errno);
	}
	int st;
	waitpid(c, &st, 0);
	printf("exec while open for writing: %s\n", errname(WEXITSTATUS(st)));
	close(w);

	/* Writing a running executable. */
	int ready[2], hold[2];
	if (pipe(ready) || pipe(hold))
		return 1;
	c = fork();
	if (c == 0) {
		char fd[16];
		snprintf(fd, sizeof fd, "%d", ready[1]);
		dup2(hold[0], 0);
		close(hold[1]);
		execl("./prog", "prog", "wait", fd, (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	close(hold[0]);
	char r;
	printf("child running: %d\n", read(ready[0], &r, 1) == 1);
	try_open("open for writing while running", "prog", O_WRONLY);
	try_open("open read-write through a hard link", "prog-link", O_RDWR);
	try_open("open read-only with O_TRUNC", "prog", O_RDONLY | O_TRUNC);
	try_open("open read-only", "prog", O_RDONLY);
	errno = 0;
	printf("truncate while running: %s\n", truncate("prog", 0) == 0 ? "ok" : errname(errno));
	close(hold[1]);
	waitpid(c, &st, 0);
	printf("child exit: %d\n", WEXITSTATUS(st));
	try_open("open for writing after exit", "prog", O_WRONLY);
	unlink("prog");
	unlink("prog-link");
	return 0;
}
