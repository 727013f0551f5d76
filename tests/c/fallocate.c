/* fallocate: modes common to every filesystem. */
#include "common.h"
#include <linux/falloc.h>

int main(void)
{
	char buf[32];
	struct stat st;
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECK(fallocate(fd, 0, 0, 8192));
	fstat(fd, &st);
	printf("size after allocate: %lld\n", (long long)st.st_size);
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536));
	fstat(fd, &st);
	printf("size after keep_size: %lld\n", (long long)st.st_size);
	CHECK(fallocate(fd, 0, 100, 50));
	fstat(fd, &st);
	printf("size unchanged inside: %lld\n", (long long)st.st_size);
	ssize_t n = pread(fd, buf, 8, 4000);
	print_bytes("allocated reads zeros", buf, n);

	/* Punch a hole in written data. */
	memset(buf, 'A', sizeof buf);
	for (int i = 0; i < 8192 / 32; i++)
		write(fd, buf, sizeof buf);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	n = pread(fd, buf, 8, 10);
	print_bytes("punched", buf, n);
	n = pread(fd, buf, 8, 5000);
	print_bytes("not punched", buf, n);
	fstat(fd, &st);
	printf("size after punch: %lld\n", (long long)st.st_size);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));

	/* Errors. */
	CHECK(fallocate(fd, 0, -1, 10));
	CHECK(fallocate(fd, 0, 0, 0));
	CHECK(fallocate(fd, 0, 0, -5));
	CHECK(fallocate(fd, 0x1000, 0, 10));
	CHECK(fallocate(9999, 0, 0, 10));
	close(fd);
	fd = open("f", O_RDONLY);
	CHECK(fallocate(fd, 0, 0, 10));
	close(fd);
	int p[2];
	pipe(p);
	CHECK(fallocate(p[1], 0, 0, 10));
	mkdir("d", 0755);
	fd = open("d", O_RDONLY);
	CHECK(fallocate(fd, 0, 0, 10));
	close(fd);

	/* posix_fallocate returns the error number. */
	fd = open("g", O_CREAT | O_RDWR, 0644);
	printf("posix_fallocate: %s\n", errname(posix_fallocate(fd, 0, 1000)));
	fstat(fd, &st);
	printf("size: %lld\n", (long long)st.st_size);
	printf("posix_fadvise: %s\n", errname(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)));
	printf("posix_fadvise bad: %s\n", errname(posix_fadvise(fd, 0, 0, 99)));
	printf("posix_fadvise pipe: %s\n", errname(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL)));
	close(fd);
	return 0;
}
