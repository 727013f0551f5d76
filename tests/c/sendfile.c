/* sendfile: file->file, file->pipe, offset pointer. */
#include "common.h"
#include <sys/sendfile.h>

int main(void)
{
	char buf[64];
	CHECK(write_file("src", "0123456789abcdefghij"));
	int in = open("src", O_RDONLY);
	int out = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECKV(sendfile(out, in, NULL, 5));
	CHECKV(lseek(in, 0, SEEK_CUR));
	CHECKV(lseek(out, 0, SEEK_CUR));
	off_t off = 10;
	CHECKV(sendfile(out, in, &off, 4));
	printf("off now: %lld\n", (long long)off);
	CHECKV(lseek(in, 0, SEEK_CUR));
	CHECKV(sendfile(out, in, NULL, 1000));
	CHECKV(sendfile(out, in, NULL, 1000));
	off = 100;
	CHECKV(sendfile(out, in, &off, 10));
	off = -1;
	CHECKV(sendfile(out, in, &off, 10));
	ssize_t n = pread(out, buf, sizeof buf, 0);
	print_bytes("dst", buf, n);

	/* file -> pipe */
	int p[2];
	pipe(p);
	off = 2;
	CHECKV(sendfile(p[1], in, &off, 6));
	n = read(p[0], buf, sizeof buf);
	print_bytes("pipe", buf, n);

	/* Errors. */
	int ro = open("dst", O_RDONLY);
	CHECKV(sendfile(ro, in, NULL, 1));
	int wo = open("src", O_WRONLY);
	CHECKV(sendfile(out, wo, NULL, 1));
	CHECKV(sendfile(out, 9999, NULL, 1));
	CHECKV(sendfile(9999, in, NULL, 1));
	int ap = open("dst", O_WRONLY | O_APPEND);
	CHECKV(sendfile(ap, in, NULL, 1));
	CHECKV(sendfile(out, p[0], NULL, 1));
	CHECKV(sendfile(out, in, NULL, 0));
	lseek(in, 0, SEEK_SET);
	int dn = open("/dev/null", O_WRONLY);
	CHECKV(sendfile(dn, in, NULL, 100));

	/* Large transfer with offset pointer. */
	int big = open("big", O_CREAT | O_RDWR, 0644);
	static char data[200000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i % 251);
	write(big, data, sizeof data);
	int copy = open("copy", O_CREAT | O_RDWR, 0644);
	off = 0;
	long total = 0;
	while (total < (long)sizeof data) {
		ssize_t r = sendfile(copy, big, &off, sizeof data);
		if (r <= 0)
			break;
		total += r;
	}
	static char back[200000];
	pread(copy, back, sizeof back, 0);
	printf("big copied %ld equal=%d\n", total, memcmp(data, back, sizeof data) == 0);
	return 0;
}
