/* RLIMIT_NOFILE and EMFILE. */
#include "common.h"
#include <sys/resource.h>

int main(void)
{
	struct rlimit rl, old;
	getrlimit(RLIMIT_NOFILE, &old);
	printf("soft<=hard: %d\n", old.rlim_cur <= old.rlim_max);
	rl.rlim_cur = 16;
	rl.rlim_max = old.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	CHECK(write_file("f", ""));
	int n = 0, last = -1;
	for (;;) {
		int fd = open("f", O_RDONLY);
		if (fd < 0) {
			printf("open stopped: %s\n", errname(errno));
			break;
		}
		last = fd;
		n++;
	}
	printf("opened %d, last fd %d\n", n, last);
	CHECK(dup(0));
	int p[2];
	CHECK(pipe(p));
	CHECK(fcntl(0, F_DUPFD, 0));
	CHECK(dup2(0, 15));
	CHECK(dup2(0, 16));
	CHECK(openat(AT_FDCWD, "f", O_RDONLY));
	close(5);
	CHECKV(open("f", O_RDONLY));
	CHECK(open("f", O_RDONLY));

	/* Lowering below open fds is allowed; new fds still fail. */
	rl.rlim_cur = 4;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	CHECK(open("f", O_RDONLY));
	CHECK(fcntl(10, F_GETFD));
	close(3);
	CHECKV(open("f", O_RDONLY));

	rl.rlim_cur = old.rlim_max + 1;
	rl.rlim_max = old.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	rl.rlim_cur = 64;
	rl.rlim_max = 32;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("soft now: %lu\n", (unsigned long)rl.rlim_cur);
	rl.rlim_cur = 1 << 20;
	rl.rlim_max = 1 << 30;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	struct rlimit pl;
	CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &pl));
	printf("prlimit soft: %lu\n", (unsigned long)pl.rlim_cur);
	printf("getdtablesize: %d\n", getdtablesize());
	return 0;
}
