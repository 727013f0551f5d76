/* close_range and CLOSE_RANGE_CLOEXEC. */
#include "common.h"
#include <linux/close_range.h>

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
	CHECK(close_range(3, ~0U, CLOSE_RANGE_UNSHARE));
	show_fds("closed 3+ unshare");
	return 0;
}
