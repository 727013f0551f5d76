/* truncate/ftruncate: grow, shrink, read back zeros. */
#include "common.h"

int main(void)
{
	char buf[64];
	CHECK(write_file("f", "0123456789"));
	CHECK(truncate("f", 4));
	show_file("f");
	CHECK(truncate("f", 12));
	show_file("f");
	CHECK(truncate("f", 0));
	show_stat("f");
	CHECK(truncate("f", -1));
	CHECK(truncate("nope", 1));
	CHECK(mkdir("d", 0755));
	CHECK(truncate("d", 0));
	CHECK(truncate("f/", 0));
	CHECK(symlink("f", "lnk"));
	CHECK(truncate("lnk", 3));
	show_stat("f");

	int fd = open("f", O_RDWR | O_TRUNC);
	CHECKV(write(fd, "abcdefgh", 8));
	CHECK(ftruncate(fd, 3));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(write(fd, "Z", 1));
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	print_bytes("after write past new EOF", buf, n);
	CHECK(ftruncate(fd, 1 << 20));
	struct stat st;
	fstat(fd, &st);
	printf("size: %lld\n", (long long)st.st_size);
	n = pread(fd, buf, 8, 500000);
	print_bytes("middle", buf, n);
	CHECK(ftruncate(fd, -1));
	close(fd);

	fd = open("f", O_RDONLY);
	CHECK(ftruncate(fd, 0));
	close(fd);
	fd = open("d", O_RDONLY);
	CHECK(ftruncate(fd, 0));
	close(fd);
	int p[2];
	pipe(p);
	CHECK(ftruncate(p[1], 0));
	CHECK(ftruncate(9999, 0));

	/* Shrink then grow: old data must not reappear. */
	fd = open("g", O_CREAT | O_RDWR, 0644);
	CHECKV(write(fd, "secretdata", 10));
	CHECK(ftruncate(fd, 2));
	CHECK(ftruncate(fd, 10));
	n = pread(fd, buf, sizeof buf, 0);
	print_bytes("regrown", buf, n);

	/* O_APPEND fd: writes go to the new end. */
	int a = open("g", O_WRONLY | O_APPEND);
	CHECK(ftruncate(a, 5));
	CHECKV(write(a, "!", 1));
	n = pread(fd, buf, sizeof buf, 0);
	print_bytes("append after truncate", buf, n);
	close(a);
	close(fd);
	return 0;
}
