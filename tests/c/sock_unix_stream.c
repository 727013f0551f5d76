/* AF_UNIX stream sockets: socketpair, path and abstract binding, listen /
 * accept / connect across fork, their errors, names, nonblocking accept,
 * poll readiness and shutdown. */
#include "common.h"
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

static volatile int sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static socklen_t path_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

/* Abstract names carry the pid so parallel native runs never collide. */
static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "rvisor-test-%s-%08d", tag, (int)getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void show_name(const char *label, int fd, int peer)
{
	struct sockaddr_un a;
	memset(&a, 0x7f, sizeof a);
	socklen_t len = sizeof a;
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &len) : getsockname(fd, (struct sockaddr *)&a, &len);
	if (r < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	if (len <= offsetof(struct sockaddr_un, sun_path))
		printf("%s: family=%d len=%u (unnamed)\n", label, a.sun_family, (unsigned)len);
	else if (a.sun_path[0] == 0)
		printf("%s: family=%d abstract len=%u\n", label, a.sun_family, (unsigned)len);
	else
		printf("%s: family=%d path=%s len=%u\n", label, a.sun_family, a.sun_path, (unsigned)len);
}

static void show_poll(const char *label, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, 0);
	printf("%s: n=%d in=%d out=%d hup=%d rdhup=%d err=%d\n", label, n, !!(p.revents & POLLIN),
	       !!(p.revents & POLLOUT), !!(p.revents & POLLHUP), !!(p.revents & POLLRDHUP), !!(p.revents & POLLERR));
}

static void echo_child(int fd)
{
	char buf[256];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			buf[i] ^= 0x20;
		if (write(fd, buf, n) != n)
			_exit(3);
	}
	_exit(n == 0 ? 0 : 4);
}

static void socketpair_echo(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		echo_child(sv[1]);
	}
	close(sv[1]);
	char buf[64];
	CHECKV(write(sv[0], "hello", 5));
	ssize_t n = read(sv[0], buf, sizeof buf);
	print_bytes("socketpair echo", buf, n);
	CHECK(shutdown(sv[0], SHUT_WR));
	CHECKV(read(sv[0], buf, sizeof buf));
	wait_child("echo child", pid);
	close(sv[0]);
}

static void path_server(void)
{
	struct sockaddr_un a;
	socklen_t len = path_addr(&a, "srv.sock");
	int s = CHECK(socket(AF_UNIX, SOCK_STREAM, 0));
	show_name("unbound name", s, 0);
	CHECK(bind(s, (struct sockaddr *)&a, len));
	show_lstat("srv.sock");
	show_name("bound name", s, 0);
	CHECK(bind(s, (struct sockaddr *)&a, len) /* bound twice */);
	int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(s2, (struct sockaddr *)&a, len) /* path in use */);
	CHECK(connect(s2, (struct sockaddr *)&a, len) /* not listening */);
	close(s2);
	CHECK(listen(s, 4));
	show_poll("listener idle", s, POLLIN | POLLOUT);

	pid_t pid = fork();
	if (pid == 0) {
		close(s);
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0)
			_exit(5);
		show_name("client peer", c, 1);
		show_name("client name", c, 0);
		echo_child(c);
	}
	/* Nothing is printed until the echo is back: the child prints first. */
	struct pollfd p = { .fd = s, .events = POLLIN };
	int ready = poll(&p, 1, 5000);
	struct sockaddr_un peer;
	socklen_t plen = sizeof peer;
	int c = accept(s, (struct sockaddr *)&peer, &plen);
	if (c < 0)
		die("accept");
	char buf[64];
	ssize_t sent = send(c, "abcdef", 6, 0);
	struct pollfd q = { .fd = c, .events = POLLIN };
	int readable = poll(&q, 1, 5000);
	ssize_t n = recv(c, buf, sizeof buf, 0);
	printf("listener poll=%d accept peer len=%u family=%d sent=%zd echo poll=%d\n", ready, (unsigned)plen,
	       peer.sun_family, sent, readable);
	print_bytes("echoed", buf, n);
	show_name("accepted name", c, 0);
	show_name("accepted peer", c, 1);
	show_poll("accepted writable", c, POLLIN | POLLOUT);
	CHECK(shutdown(c, SHUT_WR));
	wait_child("path client", pid);
	show_poll("peer gone", c, POLLIN | POLLOUT | POLLRDHUP);
	CHECKV(read(c, buf, sizeof buf));
	close(c);
	close(s);
	/* Closed listener: the file stays, connecting is refused. */
	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c2, (struct sockaddr *)&a, len) /* listener closed */);
	close(c2);
	CHECK(unlink("srv.sock"));
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c2, (struct sockaddr *)&a, len) /* file removed */);
	struct sockaddr_un bad;
	socklen_t blen = path_addr(&bad, "no/such/dir/x.sock");
	CHECK(bind(c2, (struct sockaddr *)&bad, blen));
	CHECK(write_file("plain", "x"));
	blen = path_addr(&bad, "plain");
	CHECK(connect(c2, (struct sockaddr *)&bad, blen) /* not a socket */);
	CHECK(unlink("plain"));
	close(c2);
}

static void abstract_and_nonblocking(void)
{
	struct sockaddr_un a;
	socklen_t len = abstract_addr(&a, "stream");
	int s = CHECK(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	printf("flags nonblock=%d cloexec=%d\n", !!(fcntl(s, F_GETFL) & O_NONBLOCK), !!(fcntl(s, F_GETFD) & FD_CLOEXEC));
	CHECK(bind(s, (struct sockaddr *)&a, len));
	show_name("abstract name", s, 0);
	int dup = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(dup, (struct sockaddr *)&a, len) /* abstract in use */);
	close(dup);
	CHECK(listen(s, 2));
	CHECK(accept(s, NULL, NULL) /* empty queue */);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, len));
	CHECK(connect(c, (struct sockaddr *)&a, len) /* again */);
	show_name("abstract peer", c, 1);
	int x = CHECK(accept4(s, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	printf("accept4 nonblock=%d cloexec=%d\n", !!(fcntl(x, F_GETFL) & O_NONBLOCK), !!(fcntl(x, F_GETFD) & FD_CLOEXEC));
	char buf[16];
	CHECK(recv(x, buf, sizeof buf, 0) /* nothing yet */);
	CHECK(recv(c, buf, sizeof buf, MSG_DONTWAIT) /* MSG_DONTWAIT */);
	CHECKV(send(c, "peek", 4, 0));
	ssize_t n = recv(x, buf, sizeof buf, MSG_PEEK);
	print_bytes("peeked", buf, n);
	n = recv(x, buf, 2, 0);
	print_bytes("read 2", buf, n);
	n = recv(x, buf, sizeof buf, 0);
	print_bytes("rest", buf, n);
	/* recvfrom names the sending socket if it is bound. */
	struct sockaddr_un from;
	socklen_t flen = sizeof from;
	CHECKV(send(x, "back", 4, 0));
	n = recvfrom(c, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
	printf("client recvfrom n=%zd fromlen=%u abstract=%d\n", n, (unsigned)flen, flen > 2 && from.sun_path[0] == 0);
	CHECKV(send(c, "fwd", 3, 0));
	flen = sizeof from;
	n = recvfrom(x, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
	printf("server recvfrom n=%zd fromlen=%u\n", n, (unsigned)flen);
	int avail = -1;
	CHECKV(send(c, "xyz", 3, 0));
	CHECK(ioctl(x, FIONREAD, &avail));
	printf("FIONREAD=%d\n", avail);
	close(x);
	close(c);
	close(s);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, len) /* abstract closed */);
	/* Autobind: an abstract name chosen by the kernel. */
	struct sockaddr_un fam = { .sun_family = AF_UNIX };
	CHECK(bind(c, (struct sockaddr *)&fam, sizeof(sa_family_t)));
	struct sockaddr_un got;
	socklen_t glen = sizeof got;
	getsockname(c, (struct sockaddr *)&got, &glen);
	printf("autobind len=%u first=%d\n", (unsigned)glen, got.sun_path[0]);
	close(c);
}

static void shutdown_semantics(void)
{
	int sv[2];
	char buf[16];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(shutdown(sv[0], SHUT_RD));
	show_poll("after SHUT_RD", sv[0], POLLIN | POLLOUT | POLLRDHUP);
	CHECKV(read(sv[0], buf, sizeof buf));
	CHECK(shutdown(sv[0], SHUT_WR));
	show_poll("after SHUT_RDWR", sv[0], POLLIN | POLLOUT | POLLRDHUP);
	show_poll("peer of SHUT_RDWR", sv[1], POLLIN | POLLOUT | POLLRDHUP);
	sigpipes = 0;
	CHECK(write(sv[0], "x", 1) /* after SHUT_WR */);
	printf("sigpipes=%d\n", sigpipes);
	CHECK(send(sv[0], "x", 1, MSG_NOSIGNAL));
	printf("sigpipes=%d\n", sigpipes);
	CHECK(shutdown(sv[0], 7));
	close(sv[0]);
	close(sv[1]);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	close(sv[1]);
	sigpipes = 0;
	CHECK(write(sv[0], "x", 1) /* peer closed */);
	CHECK(send(sv[0], "x", 1, MSG_NOSIGNAL) /* peer closed */);
	printf("sigpipes=%d\n", sigpipes);
	show_poll("peer closed", sv[0], POLLIN | POLLOUT | POLLRDHUP);
	close(sv[0]);

	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	show_poll("unconnected", s, POLLIN | POLLOUT);
	CHECK(read(s, buf, 1) /* unconnected */);
	CHECK(write(s, buf, 1) /* unconnected */);
	show_name("unconnected peer", s, 1);
	CHECK(listen(s, 1) /* unbound listen */);
	show_name("listen autobinds", s, 0);
	CHECK(shutdown(s, SHUT_RDWR) /* listener */);
	close(s);
}

static void blocking_accept_across_fork(void)
{
	struct sockaddr_un a;
	socklen_t len = abstract_addr(&a, "blocking");
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(s, (struct sockaddr *)&a, len));
	CHECK(listen(s, 8));
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0)
			_exit(5);
		/* A big write that must block until the parent drains it. */
		static char big[1 << 20];
		for (size_t i = 0; i < sizeof big; i++)
			big[i] = (char)(i * 7);
		ssize_t w = write(c, big, sizeof big);
		_exit(w == (ssize_t)sizeof big ? 0 : 6);
	}
	int c = CHECK(accept(s, NULL, NULL));
	static char buf[65536];
	long total = 0;
	uint64_t h = FNV_INIT;
	ssize_t n;
	while ((n = read(c, buf, sizeof buf)) > 0) {
		h = fnv1a(h, buf, n);
		total += n;
	}
	printf("received %ld hash %016llx\n", total, (unsigned long long)h);
	wait_child("big writer", pid);
	close(c);
	close(s);
}

int main(void)
{
	signal(SIGPIPE, on_sigpipe);
	socketpair_echo();
	path_server();
	abstract_and_nonblocking();
	shutdown_semantics();
	blocking_accept_across_fork();
	CHECK(socket(AF_UNIX, SOCK_STREAM, 1) /* bad protocol */);
	CHECK(socket(AF_UNIX, 77, 0) /* bad type */);
	CHECK(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0) /* bad flag */);
	int sv[2];
	CHECK(socketpair(AF_INET, SOCK_STREAM, 0, sv));
	return 0;
}
