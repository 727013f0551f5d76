/* splice between pipes and files (with and without offsets), tee between
 * pipes, and the errors Linux gives for the wrong kinds of descriptors. */
#include "common.h"
#include <signal.h>
#include <sys/uio.h>

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

	/* vmsplice: into a pipe until it is full (never waiting once some fit), out of one. */
	int v[2];
	pipe(v);
	static char big[200000];
	memset(big, 'v', sizeof big);
	struct iovec iv = {big, sizeof big};
	/* How much one call takes depends on page boundaries: only "some". */
	long took = vmsplice(v[1], &iv, 1, 0);
	printf("vmsplice more than fits: %s\n", took > 0 && took < (long)sizeof big ? "some" : "wrong");
	while (vmsplice(v[1], &iv, 1, SPLICE_F_NONBLOCK) > 0)
		;
	errno = 0;
	show("vmsplice into a full pipe, nonblocking", vmsplice(v[1], &iv, 1, SPLICE_F_NONBLOCK));
	char got[100];
	struct iovec ov = {got, sizeof got};
	errno = 0;
	show("vmsplice out of the pipe", vmsplice(v[0], &ov, 1, 0));
	errno = 0;
	show("vmsplice bad flags", vmsplice(v[1], &iv, 1, 64));
	errno = 0;
	show("vmsplice to a file", vmsplice(out, &iv, 1, 0));
	errno = 0;
	show("vmsplice nothing", vmsplice(v[1], &iv, 0, 0));
	int e[2];
	pipe(e);
	errno = 0;
	show("vmsplice from an empty pipe, nonblocking", vmsplice(e[0], &ov, 1, SPLICE_F_NONBLOCK));
	signal(SIGPIPE, SIG_IGN);
	close(e[0]);
	errno = 0;
	show("vmsplice with no reader", vmsplice(e[1], &ov, 1, 0));
	return 0;
}
