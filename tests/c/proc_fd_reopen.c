/* Opening /proc/self/fd/N of files without a path: a pipe gives a new
 * description of the same pipe (either side), a memfd its file; sockets and
 * eventfds cannot be reopened (ENXIO). */
#include "common.h"
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

static int reopen(int fd, int flags)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	return open(p, flags);
}

int main(void)
{
	int p[2];
	pipe(p);
	int w2 = reopen(p[0], O_WRONLY); /* the write side, through the read end's link */
	printf("reopen read end for writing: %s\n", w2 >= 0 ? "ok" : errname(errno));
	write(w2, "via-reopen", 10);
	close(w2);
	char buf[32] = {0};
	printf("read: %.*s\n", (int)read(p[0], buf, sizeof buf), buf);
	int r2 = reopen(p[1], O_RDONLY | O_NONBLOCK);
	write(p[1], "second", 6);
	memset(buf, 0, sizeof buf);
	printf("read via reopened read side: %.*s\n", (int)read(r2, buf, sizeof buf), buf);
	errno = 0;
	ssize_t n = read(r2, buf, 1);
	printf("empty pipe, nonblocking: %zd %s\n", n, errname(errno));
	struct stat a, b;
	fstat(p[0], &a);
	fstat(r2, &b);
	printf("same pipe inode: %d\n", a.st_ino == b.st_ino);
	close(p[1]);
	printf("EOF once the only writer is closed: %zd\n", read(r2, buf, 1));

	int m = memfd_create("m", 0);
	write(m, "memfd-data", 10);
	int m2 = reopen(m, O_RDONLY);
	memset(buf, 0, sizeof buf);
	printf("memfd reopen: %.*s\n", (int)read(m2, buf, sizeof buf), buf);

	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	errno = 0;
	int r = reopen(s[0], O_RDWR);
	printf("socket reopen: %d %s\n", r, errname(errno));
	int e = eventfd(0, 0);
	errno = 0;
	r = reopen(e, O_RDWR);
	printf("eventfd reopen: %d %s\n", r, errname(errno));
	return 0;
}
