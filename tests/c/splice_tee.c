/* splice between pipes and files (with and without offsets), tee between
 * pipes, and the errors Linux gives for the wrong kinds of descriptors. */
#include "common.h"

static void show(const char *what, long r)
{
	printf("%s: %ld %s\n", what, r, r < 0 ? errname(errno) : "");
}

int main(void)
{
	int p[2], q[2];
	pipe(p);
	pipe(q);
	int f = open("data", O_CREAT | O_RDWR | O_TRUNC, 0644);
	write(f, "0123456789abcdef", 16);

	loff_t off = 4;
	errno = 0;
	show("file->pipe at offset 4", splice(f, &off, p[1], NULL, 6, 0));
	printf("offset now %lld, file offset %lld\n", (long long)off, (long long)lseek(f, 0, SEEK_CUR));
	errno = 0;
	show("tee pipe->pipe", tee(p[0], q[1], 100, 0));
	char buf[32] = {0};
	printf("q holds: %.*s\n", (int)read(q[0], buf, sizeof buf), buf);
	int out = open("copy", O_CREAT | O_RDWR | O_TRUNC, 0644);
	errno = 0;
	show("pipe->file", splice(p[0], NULL, out, NULL, 100, 0));
	memset(buf, 0, sizeof buf);
	pread(out, buf, sizeof buf, 0);
	printf("copy holds: %s\n", buf);

	errno = 0;
	show("file->file", splice(f, NULL, out, NULL, 4, 0));
	errno = 0;
	show("offset on a pipe", splice(p[0], &off, out, NULL, 4, 0));
	errno = 0;
	show("nonblocking from empty pipe", splice(p[0], NULL, out, NULL, 4, SPLICE_F_NONBLOCK));
	errno = 0;
	show("tee empty nonblocking", tee(p[0], q[1], 4, SPLICE_F_NONBLOCK));
	errno = 0;
	show("tee to itself", tee(p[0], p[1], 4, 0));
	errno = 0;
	show("bad fd", splice(99, NULL, p[1], NULL, 4, 0));
	errno = 0;
	show("zero length", splice(f, NULL, p[1], NULL, 0, 0));
	int ro = open("data", O_RDONLY);
	write(p[1], "zz", 2);
	errno = 0;
	show("into a read-only file", splice(p[0], NULL, ro, NULL, 2, 0));
	close(p[1]);
	errno = 0;
	show("from a pipe at EOF", splice(p[0], NULL, out, NULL, 4, 0));
	return 0;
}
