/* File offsets of files read in large chunks (which the sentry may let the
 * host read in the app's own context, the offset then living in a host
 * description): dup'd descriptors share an offset, separate opens do not,
 * pread leaves it alone, lseek and small reads mix with large ones, a forked
 * child moves its parent's offset, /proc/self/fdinfo shows it, and a
 * descriptor number reused for another file reads that file. */
#include "common.h"
#include <sys/uio.h>
#include <sys/wait.h>

#define KIB 1024L
#define MIB (1024L * 1024)

static unsigned char buf[2 * MIB];

/* Reads n bytes at the offset and checks them against file `seed` from
 * `expect` on; prints the count, the mismatches and the offset after. */
static void rd(const char *label, int fd, long n, long seed, long expect)
{
	ssize_t got = read(fd, buf, n);
	long wrong = 0;
	for (long i = 0; i < got; i++)
		wrong += buf[i] != pattern_byte(seed, expect + i);
	printf("%s: got %ld wrong %ld offset %ld\n", label, (long)got, wrong, (long)lseek(fd, 0, SEEK_CUR));
}

static long fdinfo_pos(int fd)
{
	char path[64], text[256];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = CHECK(open(path, O_RDONLY));
	ssize_t n = read(f, text, sizeof text - 1);
	close(f);
	text[n > 0 ? n : 0] = 0;
	long pos = -1;
	sscanf(text, "pos: %ld", &pos);
	return pos;
}

int main(void)
{
	make_pattern_file("offs-a", 1, 4 * MIB);
	make_pattern_file("offs-b", 2, 3 * MIB);
	int a = CHECK(open("offs-a", O_RDONLY));
	rd("first large read", a, MIB, 1, 0);
	int d = CHECK(dup(a));
	rd("read through a dup", d, 512 * KIB, 1, MIB);
	printf("the original's offset after it: %ld\n", (long)lseek(a, 0, SEEK_CUR));
	int other = CHECK(open("offs-a", O_RDONLY));
	rd("a second open starts at 0", other, MIB, 1, 0);
	printf("the first open's offset: %ld\n", (long)lseek(a, 0, SEEK_CUR));
	ssize_t p = pread(a, buf, 300 * KIB, 0);
	printf("pread %ld, offset still %ld\n", (long)p, (long)lseek(a, 0, SEEK_CUR));
	lseek(a, 100, SEEK_SET);
	rd("large read after lseek to 100", a, MIB, 1, 100);
	rd("small read", a, 100, 1, MIB + 100);
	rd("large read after it", a, MIB, 1, MIB + 200);
	printf("fdinfo pos: %ld\n", fdinfo_pos(a));
	struct iovec iov[2] = {{buf, 256 * KIB}, {buf + 256 * KIB, 256 * KIB}};
	ssize_t v = readv(a, iov, 2);
	long wrong = 0;
	for (long i = 0; i < v; i++)
		wrong += buf[i] != pattern_byte(1, 2 * MIB + 200 + i);
	printf("readv: got %ld wrong %ld offset %ld\n", (long)v, wrong, (long)lseek(a, 0, SEEK_CUR));
	pid_t pid = fork();
	if (pid == 0) {
		rd("the child's read", a, MIB, 1, 2 * MIB + 200 + 512 * KIB);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("the parent's offset after the child's read: %ld\n", (long)lseek(a, 0, SEEK_CUR));
	rd("reading to the end", a, 2 * MIB, 1, 3 * MIB + 200 + 512 * KIB);
	rd("at the end", a, MIB, 1, 4 * MIB);
	/* The same number for another file: its own contents. */
	int num = a;
	close(a);
	close(d);
	int b = CHECK(open("offs-b", O_RDONLY));
	printf("the reopened number is the same: %s\n", b == num ? "yes" : "no");
	rd("another file at the same number", b, MIB, 2, 0);
	/* dup2 over a number another open used. */
	CHECK(dup2(other, b));
	rd("after dup2 of the second open over it", b, MIB, 1, MIB);
	close(b);
	close(other);
	unlink("offs-a");
	unlink("offs-b");
	return 0;
}
