/* Shared helpers for the C corpus. Output must be deterministic: print errno
 * names, never pids, inode/device numbers, addresses, absolute times or host
 * paths. */
#ifndef RVISOR_TEST_COMMON_H
#define RVISOR_TEST_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static __attribute__((unused)) const char *errname(int e)
{
	static char buf[32];
	switch (e) {
#define E_(x) case x: return #x;
	case 0: return "OK";
	E_(EPERM) E_(ENOENT) E_(ESRCH) E_(EINTR) E_(EIO) E_(ENXIO) E_(E2BIG)
	E_(ENOEXEC) E_(EBADF) E_(ECHILD) E_(EAGAIN) E_(ENOMEM) E_(EACCES)
	E_(EFAULT) E_(ENOTBLK) E_(EBUSY) E_(EEXIST) E_(EXDEV) E_(ENODEV)
	E_(ENOTDIR) E_(EISDIR) E_(EINVAL) E_(ENFILE) E_(EMFILE) E_(ENOTTY)
	E_(ETXTBSY) E_(EFBIG) E_(ENOSPC) E_(ESPIPE) E_(EROFS) E_(EMLINK)
	E_(EPIPE) E_(EDOM) E_(ERANGE) E_(EDEADLK) E_(ENAMETOOLONG) E_(ENOLCK)
	E_(ENOSYS) E_(ENOTEMPTY) E_(ELOOP) E_(ENOMSG) E_(EIDRM) E_(ENOSTR)
	E_(ENODATA) E_(ETIME) E_(ENOSR) E_(EOVERFLOW) E_(EBADFD) E_(EILSEQ)
	E_(ENOTSOCK) E_(EDESTADDRREQ) E_(EMSGSIZE) E_(EPROTOTYPE)
	E_(ENOPROTOOPT) E_(EPROTONOSUPPORT) E_(EOPNOTSUPP) E_(EAFNOSUPPORT)
	E_(EADDRINUSE) E_(EADDRNOTAVAIL) E_(ENETDOWN) E_(ENETUNREACH)
	E_(ECONNABORTED) E_(ECONNRESET) E_(ENOBUFS) E_(EISCONN) E_(ENOTCONN)
	E_(ETIMEDOUT) E_(ECONNREFUSED) E_(EHOSTUNREACH) E_(EALREADY)
	E_(EINPROGRESS) E_(ESTALE) E_(EDQUOT) E_(ECANCELED) E_(EOWNERDEAD)
	E_(ENOTRECOVERABLE) E_(ENOKEY) E_(EMEDIUMTYPE)
#undef E_
	}
	snprintf(buf, sizeof buf, "E#%d", e);
	return buf;
}

/* Evaluate a syscall-like expression (negative = failure, errno set); print
 * "name: ok" or "name: ERRNO". Yields the result. */
#define CHECKN(name, expr)                                                     \
	({                                                                     \
		errno = 0;                                                     \
		long _r = (long)(expr);                                        \
		int _e = errno;                                                \
		if (_r < 0)                                                    \
			printf("%s: %s\n", (name), errname(_e));               \
		else                                                           \
			printf("%s: ok\n", (name));                            \
		errno = _e;                                                    \
		_r;                                                            \
	})
#define CHECK(expr) CHECKN(#expr, expr)

/* Like CHECKN but prints the value on success: "name: = 5". */
#define CHECKVN(name, expr)                                                    \
	({                                                                     \
		errno = 0;                                                     \
		long _r = (long)(expr);                                        \
		int _e = errno;                                                \
		if (_r < 0)                                                    \
			printf("%s: %s\n", (name), errname(_e));               \
		else                                                           \
			printf("%s: = %ld\n", (name), _r);                     \
		errno = _e;                                                    \
		_r;                                                            \
	})
#define CHECKV(expr) CHECKVN(#expr, expr)

/* Prints "what: N" for a result, or "what: ERRNO" for a failure (-1 with errno). */
static __attribute__((unused)) void report_ret(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
}

static __attribute__((unused)) void die(const char *what)
{
	printf("FATAL %s: %s\n", what, errname(errno));
	fflush(stdout);
	exit(2);
}

__attribute__((constructor)) static void common_init(void)
{
	/* Unbuffered: one write per printf, so fork never duplicates output. */
	setvbuf(stdout, NULL, _IONBF, 0);
	umask(022);
}

static __attribute__((unused)) const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFSOCK: return "sock";
	}
	return "?";
}

static __attribute__((unused)) const char *dtype(unsigned char t)
{
	switch (t) {
	case DT_REG: return "reg";
	case DT_DIR: return "dir";
	case DT_LNK: return "lnk";
	case DT_FIFO: return "fifo";
	case DT_CHR: return "chr";
	case DT_BLK: return "blk";
	case DT_SOCK: return "sock";
	case DT_UNKNOWN: return "unknown";
	}
	return "?";
}

/* Stable stat fields only (a directory's size is filesystem-specific). */
static __attribute__((unused)) void print_stat(const char *label, const struct stat *st)
{
	char size[32] = "-";
	if (!S_ISDIR(st->st_mode))
		snprintf(size, sizeof size, "%lld", (long long)st->st_size);
	printf("%s: type=%s mode=%04o size=%s nlink=%lu uid=%u gid=%u\n",
	       label, ftype(st->st_mode), (unsigned)(st->st_mode & 07777),
	       size, (unsigned long)st->st_nlink,
	       (unsigned)st->st_uid, (unsigned)st->st_gid);
}

static __attribute__((unused)) void show_stat(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		printf("stat %s: %s\n", path, errname(errno));
	else {
		char l[300];
		snprintf(l, sizeof l, "stat %s", path);
		print_stat(l, &st);
	}
}

static __attribute__((unused)) void show_lstat(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		printf("lstat %s: %s\n", path, errname(errno));
	else {
		char l[300];
		snprintf(l, sizeof l, "lstat %s", path);
		print_stat(l, &st);
	}
}

static __attribute__((unused)) void print_bytes(const char *label, const void *p, long n)
{
	const unsigned char *b = p;
	printf("%s: [", label);
	for (long i = 0; i < n; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
			putchar(b[i]);
		else
			printf("\\x%02x", b[i]);
	}
	printf("] (%ld)\n", n);
}

static __attribute__((unused)) int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	size_t n = strlen(data);
	if (write(fd, data, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Print a (small) file's contents, or the errno name of the failure. */
static __attribute__((unused)) void show_file(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("cat %s: %s\n", path, errname(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	char l[300];
	snprintf(l, sizeof l, "cat %s", path);
	if (n < 0)
		printf("%s: %s\n", l, errname(errno));
	else
		print_bytes(l, buf, n);
}

static __attribute__((unused)) int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted directory listing with d_type. */
static __attribute__((unused)) void list_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		printf("ls %s: %s\n", path, errname(errno));
		return;
	}
	char *names[1024];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 1024) {
		char *s = malloc(strlen(e->d_name) + 16);
		sprintf(s, "%s(%s)", e->d_name, dtype(e->d_type));
		names[n++] = s;
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_str);
	printf("ls %s:", path);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

/* Report how a child ended, without its pid. */
static __attribute__((unused)) void show_wait(const char *label, int status)
{
	if (WIFEXITED(status))
		printf("%s: exited %d\n", label, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by signal %d\n", label, WTERMSIG(status));
	else
		printf("%s: status 0x%x\n", label, status);
}

static __attribute__((unused)) void wait_child(const char *label, pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) < 0)
		printf("%s: waitpid %s\n", label, errname(errno));
	else
		show_wait(label, status);
}

/* Process p's state letter from /proc/PID/stat (R, S, T, Z...), '?' if unreadable. */
static __attribute__((unused)) char proc_state(pid_t p)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *e = strrchr(buf, ')');
	return e && e[1] == ' ' ? e[2] : '?';
}

static __attribute__((unused)) uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}
#define FNV_INIT 14695981039346656037ULL

/* Byte i of pattern file `seed`: a file whose every byte says where it is. */
static __attribute__((unused)) unsigned char pattern_byte(long seed, long i)
{
	return (unsigned char)(((i + seed) * 2654435761u) >> 11) ^ (unsigned char)(i >> 16);
}

/* Writes `size` bytes of pattern file `seed` to `path`. */
static __attribute__((unused)) void make_pattern_file(const char *path, long seed, long size)
{
	static unsigned char chunk[64 * 1024];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create");
	for (long off = 0; off < size; off += sizeof chunk) {
		long n = size - off < (long)sizeof chunk ? size - off : (long)sizeof chunk;
		for (long i = 0; i < n; i++)
			chunk[i] = pattern_byte(seed, off + i);
		if (write(fd, chunk, n) != n)
			die("write");
	}
	close(fd);
}

#endif
