/* Large reads (which the sentry lets the host run in the app's own context):
 * whole files in big chunks, across EOF, into partly unmapped, unmapped and
 * read-only buffers, readv/preadv/preadv2 of large sizes, a file truncated and
 * regrown between reads, reads after fork and after exec, two threads reading
 * more files than the sentry keeps installed per process, and the program's
 * own executable (a gofer-served host file in the sandbox).
 * tests/tests/big_read_host.rs also runs it as `big_read make PATH` and
 * `big_read host-truncate PATH`, to truncate a host file under the sandbox. */
#include "common.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define KIB 1024L
#define MIB (1024L * 1024)
#define SIZE (3 * MIB + 12345)

/* Bytes of b[0..n) that differ from the pattern at file offset off. */
static long bad(long seed, const unsigned char *b, long off, long n)
{
	long k = 0;
	for (long i = 0; i < n; i++)
		k += b[i] != pattern_byte(seed, off + i);
	return k;
}

static void whole(int fd, long seed, long chunk, const char *label)
{
	unsigned char *buf = malloc(chunk);
	lseek(fd, 0, SEEK_SET);
	long total = 0, wrong = 0, reads = 0;
	ssize_t n;
	while ((n = read(fd, buf, chunk)) > 0) {
		wrong += bad(seed, buf, total, n);
		total += n;
		reads++;
	}
	printf("%s: total=%ld wrong=%ld reads=%ld last=%s\n", label, total, wrong, reads,
	       n < 0 ? errname(errno) : "eof");
	free(buf);
}

static void show_pos(const char *label, int fd)
{
	printf("%s: offset %ld\n", label, (long)lseek(fd, 0, SEEK_CUR));
}

static void bad_buffers(int fd, long seed)
{
	/* Second half unmapped: Linux copies up to the hole. */
	unsigned char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p + 512 * KIB, 512 * KIB);
	lseek(fd, 100, SEEK_SET);
	ssize_t n = CHECKV(read(fd, p, MIB));
	if (n > 0)
		printf("half-mapped read: wrong=%ld\n", bad(seed, p, 100, n));
	show_pos("after half-mapped read", fd);
	n = CHECKV(pread(fd, p, MIB, 777));
	if (n > 0)
		printf("half-mapped pread: wrong=%ld\n", bad(seed, p, 777, n));

	/* Nothing mapped: EFAULT, and the offset does not move. */
	munmap(p, 512 * KIB);
	CHECKV(read(fd, p, MIB));
	show_pos("after unmapped read", fd);

	/* Read-only buffer. */
	unsigned char *ro = mmap(NULL, MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKV(read(fd, ro, MIB));
	show_pos("after read-only read", fd);
	munmap(ro, MIB);

	/* readv with an unmapped middle iovec. */
	unsigned char *q = mmap(NULL, 3 * 256 * KIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(q + 256 * KIB, 256 * KIB);
	struct iovec iov[3] = {{q, 256 * KIB}, {q + 256 * KIB, 256 * KIB}, {q + 512 * KIB, 256 * KIB}};
	lseek(fd, 0, SEEK_SET);
	n = CHECKV(readv(fd, iov, 3));
	if (n > 0)
		printf("holed readv: wrong=%ld\n", bad(seed, q, 0, n < 256 * KIB ? n : 256 * KIB));
	show_pos("after holed readv", fd);
	munmap(q, 3 * 256 * KIB);
}

static void vectored(int fd, long seed)
{
	static unsigned char a[300 * KIB], b[1], c[700 * KIB];
	struct iovec iov[3] = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
	lseek(fd, 1000, SEEK_SET);
	ssize_t n = CHECKV(readv(fd, iov, 3));
	printf("readv: wrong=%ld\n", bad(seed, a, 1000, sizeof a) + bad(seed, b, 1000 + sizeof a, 1) +
					     bad(seed, c, 1001 + sizeof a, n - 1 - (long)sizeof a));
	show_pos("after readv", fd);
	n = CHECKV(preadv(fd, iov, 3, 2 * MIB + 5000));
	printf("preadv across eof: wrong=%ld\n", bad(seed, a, 2 * MIB + 5000, sizeof a) +
						       bad(seed, b, 2 * MIB + 5000 + sizeof a, 1) +
						       bad(seed, c, 2 * MIB + 5001 + sizeof a, n - 1 - (long)sizeof a));
	show_pos("after preadv", fd);
	lseek(fd, SIZE - 400 * KIB, SEEK_SET);
	n = CHECKV(preadv2(fd, iov, 3, -1, 0));
	printf("preadv2(-1): wrong=%ld\n", bad(seed, a, SIZE - 400 * KIB, sizeof a) +
					       bad(seed, b, SIZE - 100 * KIB, 1) +
					       bad(seed, c, SIZE - 100 * KIB + 1, n - 1 - (long)sizeof a));
	show_pos("after preadv2", fd);
	CHECKV(preadv2(fd, iov, 3, -1, 0));
}

static void truncated(long seed)
{
	static unsigned char buf[MIB];
	int fd = CHECK(open("big", O_RDONLY));
	int wfd = CHECK(open("big", O_RDWR));
	ssize_t n = CHECKV(read(fd, buf, MIB));
	printf("first: wrong=%ld\n", bad(seed, buf, 0, n));
	CHECK(ftruncate(wfd, MIB + 512 * KIB));
	n = CHECKV(read(fd, buf, MIB));
	printf("after shrink: wrong=%ld\n", bad(seed, buf, MIB, n));
	CHECKV(read(fd, buf, MIB));
	CHECK(ftruncate(wfd, 0));
	CHECKV(pread(fd, buf, MIB, 0));
	CHECKV(read(fd, buf, MIB));
	show_pos("after truncate to 0", fd);
	/* Regrow with other contents: the next read sees them. */
	close(wfd);
	make_pattern_file("big", seed + 1, 2 * MIB);
	n = CHECKV(read(fd, buf, MIB));
	printf("after regrow: wrong=%ld\n", bad(seed + 1, buf, MIB + 512 * KIB, n));
	close(fd);
}

static void own_exe(void)
{
	int fd = CHECK(open("/proc/self/exe", O_RDONLY));
	uint64_t big = FNV_INIT, small = FNV_INIT;
	static unsigned char buf[256 * KIB];
	long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		big = fnv1a(big, buf, n);
		total += n;
	}
	lseek(fd, 0, SEEK_SET);
	long total2 = 0;
	while ((n = read(fd, buf, 4096)) > 0) {
		small = fnv1a(small, buf, n);
		total2 += n;
	}
	struct stat st;
	fstat(fd, &st);
	printf("own executable: sizes agree=%d hashes agree=%d\n", total == st.st_size && total2 == total, big == small);
	close(fd);
}

#define NFILES 10

/* Reads each of the NFILES files a few times; returns wrong bytes + errors. */
static void *reader(void *arg)
{
	long id = (long)arg, wrong = 0;
	unsigned char *buf = malloc(256 * KIB);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NFILES; i++) {
			int k = (i + id * 5) % NFILES;
			char name[16];
			snprintf(name, sizeof name, "many%d", k);
			int fd = open(name, O_RDONLY);
			ssize_t n = fd < 0 ? -1 : pread(fd, buf, 256 * KIB, 1000);
			wrong += n != 256 * KIB ? 1 : bad(100 + k, buf, 1000, n);
			close(fd);
		}
	free(buf);
	return (void *)wrong;
}

static void threads(void)
{
	for (int k = 0; k < NFILES; k++) {
		char name[16];
		snprintf(name, sizeof name, "many%d", k);
		make_pattern_file(name, 100 + k, MIB + 2000);
	}
	pthread_t t;
	pthread_create(&t, NULL, reader, (void *)1);
	long mine = (long)reader((void *)0);
	void *theirs;
	pthread_join(t, &theirs);
	printf("two threads, %d files: wrong=%ld\n", NFILES, mine + (long)theirs);
}

/* After exec the process's installed host fds are gone; another file read
 * first may reuse their numbers. Both files must still read correctly. */
static int after_exec(char **argv)
{
	int fd = atoi(argv[2]);
	make_pattern_file("other", 7, 2 * MIB);
	int o = CHECK(open("other", O_RDONLY));
	whole(o, 7, MIB, "after exec, other file");
	whole(fd, 1, MIB, "after exec, inherited fd");
	return 0;
}

/* Waits for a line on stdin: the caller changes the file meanwhile. */
static void wait_line(void)
{
	char c;
	while (read(0, &c, 1) == 1 && c != '\n')
		;
}

/* Reads a host file while the test truncates it from outside. */
static int host_truncate(const char *path)
{
	static unsigned char buf[MIB];
	int fd = CHECK(open(path, O_RDONLY));
	ssize_t n = CHECKV(read(fd, buf, MIB));
	printf("first: wrong=%ld\n", bad(1, buf, 0, n));
	wait_line(); /* truncated to 1.5 MiB */
	n = CHECKV(read(fd, buf, MIB));
	printf("after shrink: wrong=%ld\n", bad(1, buf, MIB, n));
	CHECKV(read(fd, buf, MIB));
	n = CHECKV(pread(fd, buf, MIB, 256 * KIB));
	printf("pread after shrink: wrong=%ld\n", bad(1, buf, 256 * KIB, n));
	wait_line(); /* truncated to 0 */
	CHECKV(pread(fd, buf, MIB, 0));
	CHECKV(read(fd, buf, MIB));
	show_pos("at the end", fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "after-exec"))
		return after_exec(argv);
	if (argc > 2 && !strcmp(argv[1], "make")) {
		make_pattern_file(argv[2], 1, SIZE);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "host-truncate"))
		return host_truncate(argv[2]);
	make_pattern_file("big", 1, SIZE);
	int fd = CHECK(open("big", O_RDONLY));
	whole(fd, 1, MIB, "read 1M");
	whole(fd, 1, 256 * KIB, "read 256K");
	whole(fd, 1, 300001, "read 300001");
	whole(fd, 1, 4 * MIB, "read 4M");

	static unsigned char buf[MIB];
	lseek(fd, SIZE - 200000, SEEK_SET);
	ssize_t n = CHECKV(read(fd, buf, MIB));
	printf("across eof: wrong=%ld\n", bad(1, buf, SIZE - 200000, n));
	CHECKV(read(fd, buf, MIB));
	show_pos("at eof", fd);
	n = CHECKV(pread(fd, buf, MIB, 12345));
	printf("pread: wrong=%ld\n", bad(1, buf, 12345, n));
	CHECKV(pread(fd, buf, MIB, SIZE - 5));
	CHECKV(pread(fd, buf, MIB, SIZE + 5));
	CHECKV(pread(fd, buf, MIB, -1));
	show_pos("after preads", fd);

	vectored(fd, 1);
	bad_buffers(fd, 1);

	pid_t pid = fork();
	if (pid == 0) {
		n = pread(fd, buf, MIB, 3);
		printf("child pread: n=%ld wrong=%ld\n", (long)n, bad(1, buf, 3, n));
		whole(fd, 1, MIB, "child read 1M");
		_exit(0);
	}
	wait_child("child", pid);
	show_pos("parent after child", fd);
	whole(fd, 1, 512 * KIB, "parent read 512K");

	own_exe();
	threads();

	char fds[16];
	snprintf(fds, sizeof fds, "%d", fd);
	pid = fork();
	if (pid == 0) {
		whole(fd, 1, MIB, "before exec");
		char *args[] = {argv[0], "after-exec", fds, NULL};
		execv("/proc/self/exe", args);
		die("execv");
	}
	wait_child("exec child", pid);

	close(fd);
	truncated(1);
	return 0;
}
