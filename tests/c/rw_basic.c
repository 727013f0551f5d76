/* read/write: partial, zero-length, EOF. */
#include "common.h"

int main(void)
{
	char buf[64];
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECKV(write(fd, "", 0));
	CHECKV(write(fd, "0123456789", 10));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(read(fd, buf, sizeof buf));
	CHECKV(lseek(fd, 0, SEEK_SET));
	CHECKV(read(fd, buf, 0));
	CHECKV(read(fd, buf, 4));
	print_bytes("first4", buf, 4);
	CHECKV(read(fd, buf, sizeof buf));
	print_bytes("rest", buf, 6);
	CHECKV(read(fd, buf, sizeof buf));
	CHECKV(read(fd, buf, sizeof buf));

	/* Overwrite in the middle. */
	CHECKV(lseek(fd, 3, SEEK_SET));
	CHECKV(write(fd, "XY", 2));
	CHECKV(lseek(fd, 0, SEEK_SET));
	ssize_t n = read(fd, buf, sizeof buf);
	print_bytes("after overwrite", buf, n);

	/* Write past EOF leaves a hole of zeros. */
	CHECKV(lseek(fd, 20, SEEK_SET));
	CHECKV(write(fd, "Z", 1));
	CHECKV(lseek(fd, 0, SEEK_SET));
	n = read(fd, buf, sizeof buf);
	print_bytes("with hole", buf, n);

	/* Bad buffer pointers. */
	CHECKV(lseek(fd, 0, SEEK_SET));
	CHECKV(syscall(SYS_read, fd, (void *)1, 4));
	CHECKV(syscall(SYS_write, fd, (void *)1, 4));
	CHECKV(read(fd, NULL, 0));
	CHECKV(write(fd, NULL, 0));
	close(fd);

	/* Large single write and read. */
	static char big[300000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7);
	fd = open("big", O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECKV(write(fd, big, sizeof big));
	CHECKV(lseek(fd, 0, SEEK_SET));
	static char back[300000];
	size_t got = 0;
	while (got < sizeof back) {
		ssize_t r = read(fd, back + got, sizeof back - got);
		if (r <= 0)
			break;
		got += r;
	}
	printf("big read %zu equal=%d\n", got, memcmp(big, back, sizeof big) == 0);
	close(fd);

	/* stdout write works, stdin is at EOF or readable. */
	CHECKV(write(1, "to stdout\n", 10));
	return 0;
}
