/* flock(2) across descriptions and fork. */
#include "common.h"
#include <sys/file.h>

int main(void)
{
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	int fd2 = CHECK(open("f", O_RDWR));
	CHECK(flock(fd, LOCK_EX));
	CHECK(flock(fd, LOCK_EX));
	CHECK(flock(fd2, LOCK_EX | LOCK_NB));
	CHECK(flock(fd2, LOCK_SH | LOCK_NB));
	CHECK(flock(fd, LOCK_SH));
	CHECK(flock(fd2, LOCK_SH | LOCK_NB));
	CHECK(flock(fd2, LOCK_EX | LOCK_NB));
	CHECK(flock(fd2, LOCK_UN));
	CHECK(flock(fd, LOCK_UN));
	CHECK(flock(fd, 0));
	CHECK(flock(fd, LOCK_NB));
	CHECK(flock(9999, LOCK_EX));

	/* The lock belongs to the description: shared by dup and fork. */
	CHECK(flock(fd, LOCK_EX));
	int d = dup(fd);
	CHECK(flock(d, LOCK_EX | LOCK_NB));
	pid_t pid = fork();
	if (pid == 0) {
		CHECK(flock(fd, LOCK_EX | LOCK_NB));
		int mine = open("f", O_RDWR);
		CHECK(flock(mine, LOCK_EX | LOCK_NB));
		exit(0);
	}
	wait_child("child", pid);

	int p[2];
	pipe(p);
	pid = fork();
	if (pid == 0) {
		int mine = open("f", O_RDWR);
		write(p[1], "r", 1);
		CHECK(flock(mine, LOCK_EX));
		printf("child acquired after release\n");
		exit(0);
	}
	char c;
	read(p[0], &c, 1);
	usleep(100000);
	printf("parent releasing\n");
	close(d);
	/* Print only after the child is done, so output order is fixed. */
	int ur = flock(fd, LOCK_UN);
	int ue = errno;
	wait_child("child2", pid);
	printf("parent unlock: %s\n", ur < 0 ? errname(ue) : "ok");

	/* Closing the last fd of the description releases it. */
	CHECK(flock(fd2, LOCK_EX | LOCK_NB));
	close(fd2);
	CHECK(flock(fd, LOCK_EX | LOCK_NB));

	/* Directories and pipes can be flocked. */
	int dfd = open(".", O_RDONLY);
	CHECK(flock(dfd, LOCK_EX | LOCK_NB));
	CHECK(flock(p[0], LOCK_EX | LOCK_NB));
	return 0;
}
