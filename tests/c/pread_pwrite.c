/* pread64/pwrite64 with offsets, holes and O_APPEND. */
#include "common.h"

int main(void)
{
	char buf[64];
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECKV(pwrite(fd, "hello", 5, 0));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(pwrite(fd, "world", 5, 10));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	ssize_t n = CHECKV(pread(fd, buf, sizeof buf, 0));
	print_bytes("whole", buf, n);
	n = CHECKV(pread(fd, buf, 3, 2));
	print_bytes("mid", buf, n);
	CHECKV(pread(fd, buf, sizeof buf, 15));
	CHECKV(pread(fd, buf, sizeof buf, 1000));
	CHECKV(pread(fd, buf, 0, 0));
	CHECKV(pread(fd, buf, 4, -1));
	CHECKV(pwrite(fd, "x", 1, -1));
	CHECKV(lseek(fd, 0, SEEK_CUR));

	/* Far hole. */
	CHECKV(pwrite(fd, "end", 3, 1 << 20));
	struct stat st;
	fstat(fd, &st);
	printf("size %lld\n", (long long)st.st_size);
	n = CHECKV(pread(fd, buf, 8, (1 << 20) - 4));
	print_bytes("around hole end", buf, n);
	n = CHECKV(pread(fd, buf, 8, 500000));
	print_bytes("in hole", buf, n);
	close(fd);

	/* pwrite on O_APPEND appends regardless of offset (Linux quirk). */
	fd = CHECK(open("a", O_CREAT | O_RDWR | O_APPEND, 0644));
	CHECKV(write(fd, "12345", 5));
	CHECKV(pwrite(fd, "AB", 2, 0));
	n = CHECKV(pread(fd, buf, sizeof buf, 0));
	print_bytes("append file", buf, n);
	close(fd);

	/* Not seekable. */
	int p[2];
	pipe(p);
	CHECKV(pwrite(p[1], "x", 1, 0));
	CHECKV(pread(p[0], buf, 1, 0));
	close(p[0]);
	close(p[1]);

	/* Wrong access mode. */
	fd = open("f", O_RDONLY);
	CHECKV(pwrite(fd, "x", 1, 0));
	close(fd);
	fd = open("f", O_WRONLY);
	CHECKV(pread(fd, buf, 1, 0));
	close(fd);

	/* Directory. */
	fd = open(".", O_RDONLY);
	CHECKV(pread(fd, buf, 1, 0));
	close(fd);
	return 0;
}
