/* Helpers for the escape_* programs. They run only inside the sandbox with
 * --rootfs; argv[1] is the host path of a secret file outside the rootfs and
 * argv[2] the host directory holding it. Never print argv: the test checks
 * that neither the secret nor that directory name appears in the output.
 * Every vector prints exactly one "attempt N name: result" line. */
#ifndef RVISOR_ESCAPE_H
#define RVISOR_ESCAPE_H
#include "common.h"

static int attempt_no;

static __attribute__((unused, format(printf, 2, 3))) void attempt_result(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("attempt %d %s: ", ++attempt_no, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* snprintf-append that never runs past the buffer. */
static __attribute__((unused, format(printf, 4, 5))) void sappend(char *buf, size_t sz, size_t *off, const char *fmt, ...)
{
	if (*off >= sz)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *off, sz - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
	if (*off >= sz)
		*off = sz;
}

/* Read up to 200 bytes of fd and describe them. */
static __attribute__((unused)) const char *describe_fd(int fd)
{
	static char out[1024];
	char buf[201];
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* A directory: list it, then try the secret's name inside. */
		int d2 = dup(fd);
		DIR *d = fdopendir(d2);
		struct dirent *e;
		size_t off = 0;
		sappend(out, sizeof out, &off, "dir [");
		while (d && (e = readdir(d)) && off < 400)
			sappend(out, sizeof out, &off, "%s ", e->d_name);
		if (d)
			closedir(d);
		int s = openat(fd, "secret.txt", O_RDONLY);
		if (s >= 0) {
			ssize_t n = read(s, buf, 200);
			close(s);
			buf[n < 0 ? 0 : n] = 0;
			sappend(out, sizeof out, &off, "] secret.txt=[%s]", buf);
		} else {
			sappend(out, sizeof out, &off, "] secret.txt=%s", errname(errno));
		}
		return out;
	}
	ssize_t n = read(fd, buf, 200);
	if (n < 0) {
		snprintf(out, sizeof out, "opened, read %s", errname(errno));
		return out;
	}
	buf[n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == 0)
			buf[i] = ' ';
	snprintf(out, sizeof out, "read [%s]", buf);
	return out;
}

static __attribute__((unused)) void try_fd(const char *name, int fd)
{
	if (fd < 0) {
		attempt_result(name, "%s", errname(errno));
		return;
	}
	attempt_result(name, "%s", describe_fd(fd));
	close(fd);
}

static __attribute__((unused)) void try_open(const char *name, const char *path)
{
	try_fd(name, open(path, O_RDONLY));
}

static __attribute__((unused)) void try_openat(const char *name, int dfd, const char *path)
{
	try_fd(name, openat(dfd, path, O_RDONLY));
}

static __attribute__((unused)) void finish(void)
{
	printf("attempts: %d\n", attempt_no);
}

#endif
