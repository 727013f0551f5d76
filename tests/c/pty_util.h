/* Helpers for the pty tests: allocation like openpty(3), and reading what
 * a pty end has to say without depending on when Linux's asynchronous
 * flip-buffer work delivers it. */
#ifndef RVISOR_TEST_PTY_UTIL_H
#define RVISOR_TEST_PTY_UTIL_H

#include "common.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

/* Master and slave of a fresh pair (the slave opened with O_NOCTTY). */
static __attribute__((unused)) void open_pair(int *m, int *s, char *name, size_t len)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	if (*m < 0)
		die("posix_openpt");
	if (grantpt(*m) < 0 || unlockpt(*m) < 0)
		die("grantpt/unlockpt");
	if (ptsname_r(*m, name, len) != 0)
		die("ptsname_r");
	*s = open(name, O_RDWR | O_NOCTTY);
	if (*s < 0)
		die("open slave");
}

/* Reads until `want` bytes came (each wait up to 2 s), then whatever else
 * arrives within 50 ms; returns the count. */
static __attribute__((unused)) long drain(int fd, char *buf, long cap, long want)
{
	long got = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, got < want ? 2000 : 50);
		if (r <= 0 || !(p.revents & POLLIN))
			break;
		long n = read(fd, buf + got, cap - got);
		if (n <= 0)
			break;
		got += n;
		if (got >= cap)
			break;
	}
	return got;
}

/* Prints what `fd` has to read, expecting `want` bytes. */
static __attribute__((unused)) void show_drain(const char *label, int fd, long want)
{
	char buf[8192];
	long n = drain(fd, buf, sizeof buf, want);
	print_bytes(label, buf, n);
}

/* poll revents for `events` after up to `ms` milliseconds. */
static __attribute__((unused)) int poll_one(int fd, short events, int ms)
{
	struct pollfd p = { fd, events, 0 };
	if (poll(&p, 1, ms) < 0)
		return -1;
	return p.revents;
}

static __attribute__((unused)) void put(int fd, const char *s)
{
	size_t n = strlen(s);
	if (write(fd, s, n) != (ssize_t)n)
		die("write");
}

#endif
