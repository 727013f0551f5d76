/* readv/writev/preadv/pwritev/preadv2/pwritev2. */
#include "common.h"
#include <sys/uio.h>

int main(void)
{
	char a[4], b[6], c[10];
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	struct iovec w[3] = {
		{"abc", 3}, {"", 0}, {"defghij", 7}};
	CHECKV(writev(fd, w, 3));
	CHECKV(writev(fd, w, 0));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(lseek(fd, 0, SEEK_SET));

	struct iovec r[3] = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
	CHECKV(readv(fd, r, 3));
	print_bytes("a", a, sizeof a);
	print_bytes("b", b, sizeof b);
	CHECKV(readv(fd, r, 3));

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	CHECKV(preadv(fd, r, 2, 2));
	print_bytes("a", a, sizeof a);
	print_bytes("b", b, sizeof b);
	CHECKV(lseek(fd, 0, SEEK_CUR));

	struct iovec w2[2] = {{"XY", 2}, {"Z", 1}};
	CHECKV(pwritev(fd, w2, 2, 20));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	char all[32];
	ssize_t n = pread(fd, all, sizeof all, 0);
	print_bytes("file", all, n);

	/* preadv2/pwritev2 with offset -1 use and update the file offset. */
	CHECKV(lseek(fd, 1, SEEK_SET));
	memset(a, 0, sizeof a);
	struct iovec r1 = {a, 3};
	CHECKV(preadv2(fd, &r1, 1, -1, 0));
	print_bytes("preadv2 cur", a, 3);
	CHECKV(lseek(fd, 0, SEEK_CUR));
	struct iovec w1 = {"QQ", 2};
	CHECKV(pwritev2(fd, &w1, 1, 0, 0));
	CHECKV(pwritev2(fd, &w1, 1, -1, 0));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(preadv2(fd, &r1, 1, 0, 0x1000));
	CHECKV(preadv2(fd, &r1, 1, 0, RWF_HIPRI));
	n = pread(fd, all, sizeof all, 0);
	print_bytes("file", all, n);

	/* Errors. */
	CHECKV(syscall(SYS_writev, fd, w, -1));
	CHECKV(syscall(SYS_writev, fd, w, 1025));
	CHECKV(syscall(SYS_readv, fd, r, 1025));
	struct iovec bad[2] = {{"ok", 2}, {(void *)1, 5}};
	CHECKV(writev(fd, bad, 2));
	struct iovec neg[2] = {{"ok", 2}, {"x", (size_t)-1}};
	CHECKV(writev(fd, neg, 2));
	CHECKV(preadv(fd, r, 1, -5));
	int p[2];
	pipe(p);
	CHECKV(pwritev(p[1], w, 1, 0));
	CHECKV(writev(p[1], w, 3));
	memset(c, 0, sizeof c);
	struct iovec rp[2] = {{a, 2}, {c, 10}};
	n = CHECKV(readv(p[0], rp, 2));
	print_bytes("pipe a", a, 2);
	print_bytes("pipe c", c, 8);
	close(p[0]);
	close(p[1]);
	close(fd);
	return 0;
}
