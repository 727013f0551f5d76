/* Operations on bad and closed descriptors. */
#include "common.h"

int main(void)
{
	char buf[8];
	struct stat st;
	CHECK(close(-1));
	CHECK(close(9999));
	CHECK(close(INT_MAX));
	CHECKV(read(-1, buf, 1));
	CHECKV(write(9999, buf, 1));
	CHECK(fstat(-1, &st));
	CHECK(fstat(4000, &st));
	CHECK(lseek(-1, 0, SEEK_SET));
	CHECK(fsync(9999));
	CHECK(fchdir(9999));
	CHECK(fchmod(9999, 0644));
	CHECK(ftruncate(9999, 0));
	CHECK(dup(9999));
	CHECK(dup2(9999, 20));
	CHECK(fcntl(9999, F_GETFD));
	CHECK(getdents64(9999, buf, sizeof buf));

	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECK(close(fd));
	CHECK(close(fd));
	CHECKV(read(fd, buf, 1));
	CHECKV(write(fd, "x", 1));
	CHECK(fstat(fd, &st));

	/* Closing one dup leaves the other usable. */
	fd = open("f", O_RDWR);
	int d = dup(fd);
	CHECK(close(fd));
	CHECKV(write(d, "abc", 3));
	CHECK(close(d));
	show_file("f");

	/* stdio fds are valid here. */
	CHECK(fstat(0, &st));
	CHECK(fstat(1, &st));
	CHECK(fstat(2, &st));
	return 0;
}
