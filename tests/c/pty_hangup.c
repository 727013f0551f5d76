/* pty hang-up both ways and readiness: master reads give the remaining
 * output then EIO once every slave is closed (POLLHUP meanwhile); slave
 * files of a closed master read EOF and write EIO; blocked readers on
 * either end wake; poll/epoll report input; O_NONBLOCK gives EAGAIN and
 * full buffers stop writers. */
#include "pty_util.h"
#include <sys/epoll.h>

#define BITS (POLLIN | POLLOUT | POLLHUP | POLLERR)

static void show_poll(const char *label, int fd, int ms)
{
	int r = poll_one(fd, POLLIN | POLLOUT, ms);
	printf("%s:%s%s%s%s\n", label, r & POLLIN ? " IN" : "", r & POLLOUT ? " OUT" : "", r & POLLHUP ? " HUP" : "",
	       r & POLLERR ? " ERR" : "");
}

static void raw(int s)
{
	struct termios t;
	tcgetattr(s, &t);
	cfmakeraw(&t);
	tcsetattr(s, TCSANOW, &t);
}

int main(void)
{
	int m, s, st;
	char name[64], buf[8192];
	struct stat sb;

	/* Slave side closes: output still readable, then EIO. */
	open_pair(&m, &s, name, sizeof name);
	show_poll("fresh master", m, 0);
	show_poll("fresh slave", s, 0);
	put(s, "bye\n");
	close(s);
	show_poll("master, slave closed, data left", m, 1000);
	show_drain("master reads", m, 5);
	show_poll("master, slave closed, drained", m, 0);
	CHECK(read(m, buf, sizeof buf));
	CHECK(write(m, "x", 1));
	CHECK(stat(name, &sb));
	s = CHECK(open(name, O_RDWR | O_NOCTTY));
	printf("master, slave reopened: echo of x readable: %d\n", (poll_one(m, POLLIN, 1000) & POLLIN) != 0);
	show_poll("master, slave reopened", m, 0);
	show_drain("master reads echo of x", m, 1);

	/* Master closes: the slave is hung up. */
	close(m);
	show_poll("slave, master closed", s, 0);
	CHECKV(read(s, buf, sizeof buf));
	CHECK(write(s, "x", 1));
	struct termios t;
	CHECK(tcgetattr(s, &t));
	printf("node: %s\n", stat(name, &sb) < 0 ? errname(errno) : "present");
	close(s);

	/* A reader blocked on the slave wakes at hang-up with EOF. */
	open_pair(&m, &s, name, sizeof name);
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		/* Linux: EIO for the read that was waiting, then end of file. */
		long n = read(s, buf, sizeof buf);
		int e = errno;
		_exit(n < 0 && e == EIO && read(s, buf, sizeof buf) == 0 ? 0 : 1);
	}
	usleep(100000);
	close(m);
	waitpid(pid, &st, 0);
	printf("blocked slave reader saw EIO, then EOF: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(s);

	/* A reader blocked on the master wakes with EIO when the slave closes. */
	open_pair(&m, &s, name, sizeof name);
	pid = fork();
	if (pid == 0) {
		close(s);
		long n = read(m, buf, sizeof buf);
		_exit(n < 0 && errno == EIO ? 0 : 1);
	}
	usleep(100000);
	close(s);
	waitpid(pid, &st, 0);
	printf("blocked master reader saw EIO: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(m);

	/* A blocked canonical reader wakes for a complete line only. */
	open_pair(&m, &s, name, sizeof name);
	pid = fork();
	if (pid == 0) {
		long n = read(s, buf, sizeof buf);
		_exit(n == 6 && !memcmp(buf, "later\n", 6) ? 0 : 1);
	}
	put(m, "lat");
	usleep(100000);
	printf("reader still blocked: %d\n", waitpid(pid, &st, WNOHANG) == 0);
	put(m, "er\n");
	waitpid(pid, &st, 0);
	printf("reader got the line: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	show_drain("echo", m, 7);

	/* epoll on both ends. */
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = m }, out[4];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, m, &ev));
	ev.data.fd = s;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	CHECKV(epoll_wait(ep, out, 4, 50));
	put(s, "out");
	int n = epoll_wait(ep, out, 4, 2000);
	printf("epoll after slave write: %d ready, master: %d\n", n, n == 1 && out[0].data.fd == m);
	show_drain("master", m, 3);
	put(m, "in\n");
	show_drain("echo", m, 4);
	n = epoll_wait(ep, out, 4, 2000);
	printf("epoll after a line: %d ready, slave: %d\n", n, n == 1 && out[0].data.fd == s);
	read(s, buf, sizeof buf);
	close(ep);

	/* Non-blocking ends and full buffers. */
	fcntl(m, F_SETFL, O_NONBLOCK);
	fcntl(s, F_SETFL, O_NONBLOCK);
	CHECK(read(m, buf, sizeof buf));
	CHECK(read(s, buf, sizeof buf));
	raw(s);
	memset(buf, 'a', sizeof buf);
	long total = 0, r;
	while ((r = write(m, buf, 1000)) > 0 && total < 1000000)
		total += r;
	printf("master writes stop: %s after >= 4095 bytes: %d\n", r < 0 ? errname(errno) : "no", total >= 4095);
	usleep(200000);
	int cnt = 0;
	CHECK(ioctl(s, FIONREAD, &cnt));
	printf("slave FIONREAD when full: %d\n", cnt);
	total = 0;
	while ((r = write(s, buf, 1000)) > 0 && total < 1000000)
		total += r;
	printf("slave writes stop: %s after >= 4095 bytes: %d\n", r < 0 ? errname(errno) : "no", total >= 4095);
	usleep(200000);
	CHECK(ioctl(m, FIONREAD, &cnt));
	printf("master FIONREAD when full: %d\n", cnt);
	CHECK(tcflush(s, TCIOFLUSH));
	CHECK(ioctl(s, FIONREAD, &cnt));
	printf("slave FIONREAD after TCIOFLUSH: %d\n", cnt);
	close(s);
	close(m);
	return 0;
}
