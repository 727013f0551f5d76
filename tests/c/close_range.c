/* close_range and CLOSE_RANGE_CLOEXEC. */
#include "common.h"
#include <linux/close_range.h>
#include <sched.h>

static void show_fds(const char *label)
{
	printf("%s:", label);
	for (int i = 0; i < 40; i++) {
		int f = fcntl(i, F_GETFD);
		if (f >= 0)
			printf(" %d%s", i, f & FD_CLOEXEC ? "c" : "");
	}
	printf("\n");
}

static int unshare_child(void *arg)
{
	int fd = *(int *)arg;
	if (close_range(fd, fd, CLOSE_RANGE_UNSHARE) < 0)
		return 2;
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF ? 1 : 0;
}

static int plain_child(void *arg)
{
	int fd = *(int *)arg;
	return close_range(fd, fd, 0) < 0 ? 2 : 0;
}

int main(void)
{
	for (int i = 0; i < 10; i++)
		open("/dev/null", O_RDONLY);
	dup2(0, 30);
	show_fds("start");
	CHECK(close_range(5, 7, 0));
	show_fds("closed 5-7");
	CHECK(close_range(8, 9, CLOSE_RANGE_CLOEXEC));
	show_fds("cloexec 8-9");
	CHECK(close_range(7, 5, 0));
	CHECK(close_range(3, 3, 0x100));
	CHECK(close_range(100, ~0U, 0));
	CHECK(close_range(10, ~0U, 0));
	show_fds("closed 10+");
	/* A CLONE_FILES child that closes with CLOSE_RANGE_UNSHARE closes in
	 * its own copy: the parent keeps its descriptors. */
	int shared = open("/dev/null", O_RDONLY);
	static char stack[65536];
	pid_t c = clone(unshare_child, stack + sizeof stack, CLONE_FILES | SIGCHLD, &shared);
	int st = 0;
	waitpid(c, &st, 0);
	printf("child saw its copy closed: %d\n", WEXITSTATUS(st));
	printf("parent's fd after the child's unshare+close: %s\n", fcntl(shared, F_GETFD) >= 0 ? "open" : errname(errno));
	c = clone(plain_child, stack + sizeof stack, CLONE_FILES | SIGCHLD, &shared);
	waitpid(c, &st, 0);
	printf("parent's fd after the child's plain close: %s\n", fcntl(shared, F_GETFD) >= 0 ? "open" : errname(errno));
	CHECK(close_range(3, ~0U, CLOSE_RANGE_UNSHARE));
	show_fds("closed 3+ unshare");
	return 0;
}
