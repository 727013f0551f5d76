/* copy_file_range. */
#include "common.h"

int main(void)
{
	char buf[64];
	CHECK(write_file("src", "0123456789abcdefghij"));
	int in = open("src", O_RDONLY);
	int out = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECKV(copy_file_range(in, NULL, out, NULL, 5, 0));
	CHECKV(lseek(in, 0, SEEK_CUR));
	CHECKV(lseek(out, 0, SEEK_CUR));
	loff_t ioff = 10, ooff = 20;
	CHECKV(copy_file_range(in, &ioff, out, &ooff, 5, 0));
	printf("offsets: %lld %lld\n", (long long)ioff, (long long)ooff);
	CHECKV(lseek(in, 0, SEEK_CUR));
	CHECKV(lseek(out, 0, SEEK_CUR));
	ioff = 18;
	CHECKV(copy_file_range(in, &ioff, out, NULL, 100, 0));
	ioff = 100;
	CHECKV(copy_file_range(in, &ioff, out, NULL, 100, 0));
	ssize_t n = pread(out, buf, sizeof buf, 0);
	print_bytes("dst", buf, n);

	/* Errors. */
	CHECKV(copy_file_range(in, NULL, out, NULL, 5, 1));
	int rw = open("src", O_RDWR);
	ioff = 0;
	ooff = 5;
	CHECKV(copy_file_range(rw, &ioff, rw, &ooff, 10, 0));
	ioff = 0;
	ooff = 15;
	CHECKV(copy_file_range(rw, &ioff, rw, &ooff, 3, 0));
	n = pread(rw, buf, sizeof buf, 0);
	print_bytes("src after same-file copy", buf, n);
	int ro = open("dst", O_RDONLY);
	CHECKV(copy_file_range(in, NULL, ro, NULL, 5, 0));
	int wo = open("src", O_WRONLY);
	CHECKV(copy_file_range(wo, NULL, out, NULL, 5, 0));
	int ap = open("dst", O_WRONLY | O_APPEND);
	CHECKV(copy_file_range(in, NULL, ap, NULL, 5, 0));
	CHECKV(copy_file_range(9999, NULL, out, NULL, 5, 0));
	int p[2];
	pipe(p);
	CHECKV(copy_file_range(in, NULL, p[1], NULL, 5, 0));
	mkdir("d", 0755);
	int d = open("d", O_RDONLY);
	CHECKV(copy_file_range(d, NULL, out, NULL, 5, 0));
	ioff = -1;
	CHECKV(copy_file_range(in, &ioff, out, NULL, 5, 0));
	CHECKV(copy_file_range(in, NULL, out, NULL, 0, 0));
	return 0;
}
