/* getdents64 directly: d_type, small buffers, rewinding. */
#include "common.h"

struct d64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static int list_fd(int fd, char **names, int max, int bufsz)
{
	char buf[8192];
	int n = 0;
	for (;;) {
		long r = syscall(SYS_getdents64, fd, buf, bufsz);
		if (r < 0) {
			printf("getdents64(%d): %s\n", bufsz, errname(errno));
			return n;
		}
		if (r == 0)
			break;
		for (long off = 0; off < r;) {
			struct d64 *e = (struct d64 *)(buf + off);
			if (n < max) {
				names[n] = malloc(300);
				snprintf(names[n], 300, "%s:%s", e->name, dtype(e->type));
				n++;
			}
			off += e->reclen;
		}
	}
	return n;
}

static void show(const char *label, int fd, int bufsz)
{
	char *names[64];
	int n = list_fd(fd, names, 64, bufsz);
	qsort(names, n, sizeof names[0], cmp_str);
	printf("%s (%d):", label, n);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

int main(void)
{
	CHECK(mkdir("d", 0755));
	CHECK(mkdir("d/subdir", 0755));
	CHECK(write_file("d/file", "x"));
	CHECK(symlink("file", "d/link"));
	CHECK(mkfifo("d/fifo", 0644));
	CHECK(write_file("d/a-much-longer-file-name-to-vary-the-record-length", ""));
	int fd = CHECK(open("d", O_RDONLY | O_DIRECTORY));
	show("full", fd, 8192);
	show("again at end", fd, 8192);
	CHECKV(lseek(fd, 0, SEEK_SET));
	show("rewound", fd, 8192);
	close(fd);

	/* A 64-byte buffer holds at least one short-named entry per call. */
	CHECK(mkdir("short", 0755));
	for (int i = 0; i < 12; i++) {
		char p[32];
		snprintf(p, sizeof p, "short/n%02d", i);
		write_file(p, "");
	}
	fd = CHECK(open("short", O_RDONLY | O_DIRECTORY));
	show("small buffer", fd, 64);
	close(fd);
	fd = CHECK(open("d", O_RDONLY | O_DIRECTORY));
	CHECKV(lseek(fd, 0, SEEK_SET));
	char tiny[8];
	CHECKV(syscall(SYS_getdents64, fd, tiny, sizeof tiny));
	CHECKV(syscall(SYS_getdents64, fd, tiny, 0));
	CHECKV(syscall(SYS_getdents64, fd, (void *)1, 4096));

	/* Entries added/removed after rewinding are seen. */
	CHECK(unlink("d/file"));
	CHECK(write_file("d/new", ""));
	CHECKV(lseek(fd, 0, SEEK_SET));
	show("after change", fd, 8192);
	close(fd);

	/* Reported offsets can be used to resume. */
	fd = open("d", O_RDONLY | O_DIRECTORY);
	char buf[4096];
	long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
	int count = 0;
	int64_t second_off = 0;
	for (long off = 0; off < r; count++) {
		struct d64 *e = (struct d64 *)(buf + off);
		if (count == 1)
			second_off = e->off;
		off += e->reclen;
	}
	CHECK(lseek(fd, second_off, SEEK_SET));
	char *names[64];
	int n = list_fd(fd, names, 64, 8192);
	printf("resume after 2 entries: %d of %d\n", n, count);
	close(fd);

	int f = open("d/new", O_RDONLY);
	CHECKV(syscall(SYS_getdents64, f, buf, sizeof buf));
	close(f);
	CHECKV(syscall(SYS_getdents64, 9999, buf, sizeof buf));
	f = open("d", O_PATH);
	CHECKV(syscall(SYS_getdents64, f, buf, sizeof buf));
	close(f);

	/* An emptied, removed directory lists nothing. */
	CHECK(mkdir("gone", 0755));
	fd = open("gone", O_RDONLY | O_DIRECTORY);
	CHECK(rmdir("gone"));
	show("removed dir", fd, 8192);
	close(fd);
	fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
	CHECKV(syscall(SYS_getdents64, fd, buf, sizeof buf) > 0);
	close(fd);
	return 0;
}
