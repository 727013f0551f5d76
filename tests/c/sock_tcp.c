/* TCP over 127.0.0.1 and ::1: listen on an ephemeral port, echo across
 * fork, names, nonblocking connect and accept, refused connections,
 * shutdown, timeouts, common socket options. Ports are never printed. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

static volatile int sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

typedef union {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
} addr_t;

static socklen_t loopback(addr_t *a, int family, int port)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons(port);
		a->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof a->in4;
	}
	a->in6.sin6_family = AF_INET6;
	a->in6.sin6_port = htons(port);
	a->in6.sin6_addr = in6addr_loopback;
	return sizeof a->in6;
}

static int port_of(const addr_t *a)
{
	return ntohs(a->sa.sa_family == AF_INET ? a->in4.sin_port : a->in6.sin6_port);
}

/* Address without the port. */
static const char *host_of(const addr_t *a, char *buf, size_t n)
{
	if (a->sa.sa_family == AF_INET)
		return inet_ntop(AF_INET, &a->in4.sin_addr, buf, n);
	return inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, n);
}

static int listener(int family, addr_t *bound)
{
	int s = socket(family, SOCK_STREAM, 0);
	int on = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	addr_t a;
	socklen_t len = loopback(&a, family, 0);
	if (bind(s, &a.sa, len) < 0 || listen(s, 16) < 0)
		die("listener");
	socklen_t bl = sizeof *bound;
	getsockname(s, &bound->sa, &bl);
	return s;
}

static void echo_over(int family)
{
	const char *fam = family == AF_INET ? "ipv4" : "ipv6";
	printf("== tcp %s\n", fam);
	addr_t srv;
	int s = listener(family, &srv);
	char h[64];
	printf("listening on %s port-nonzero=%d\n", host_of(&srv, h, sizeof h), port_of(&srv) != 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(s);
		int c = socket(family, SOCK_STREAM, 0);
		if (connect(c, &srv.sa, family == AF_INET ? sizeof srv.in4 : sizeof srv.in6) < 0)
			_exit(2);
		static char big[300000];
		for (size_t i = 0; i < sizeof big; i++)
			big[i] = (char)(i * 13 + 7);
		if (write(c, big, sizeof big) != (ssize_t)sizeof big)
			_exit(3);
		shutdown(c, SHUT_WR);
		char buf[4096];
		long total = 0;
		ssize_t n;
		while ((n = read(c, buf, sizeof buf)) > 0)
			total += n;
		_exit(total == (long)sizeof big ? 0 : 4);
	}
	addr_t peer;
	socklen_t plen = sizeof peer;
	int c = accept(s, &peer.sa, &plen);
	if (c < 0)
		die("accept");
	printf("peer %s len-ok=%d\n", host_of(&peer, h, sizeof h), plen == (family == AF_INET ? sizeof peer.in4 : sizeof peer.in6));
	addr_t mine;
	socklen_t ml = sizeof mine;
	getsockname(c, &mine.sa, &ml);
	printf("accepted local port matches listener: %d\n", port_of(&mine) == port_of(&srv));
	static char buf[65536];
	long total = 0;
	uint64_t hsh = FNV_INIT;
	ssize_t n;
	while ((n = read(c, buf, sizeof buf)) > 0) {
		hsh = fnv1a(hsh, buf, n);
		total += n;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, n - off);
			if (w <= 0)
				die("echo write");
			off += w;
		}
	}
	printf("echoed %ld bytes hash %016llx\n", total, (unsigned long long)hsh);
	close(c);
	wait_child("tcp client", pid);
	close(s);
}

static void nonblocking_and_errors(void)
{
	printf("== nonblocking\n");
	addr_t srv;
	int s = listener(AF_INET, &srv);
	fcntl(s, F_SETFL, O_NONBLOCK);
	CHECK(accept(s, NULL, NULL) /* nothing pending */);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(c, &srv.sa, sizeof srv.in4);
	printf("nonblocking connect: %s\n", r == 0 ? "ok" : errname(errno));
	struct pollfd p = { .fd = c, .events = POLLOUT };
	CHECKV(poll(&p, 1, 5000));
	int err = -1;
	socklen_t el = sizeof err;
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
	printf("SO_ERROR=%s\n", errname(err));
	struct pollfd q = { .fd = s, .events = POLLIN };
	CHECKV(poll(&q, 1, 5000));
	int a = CHECK(accept4(s, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	printf("accept4 nonblock=%d cloexec=%d\n", !!(fcntl(a, F_GETFL) & O_NONBLOCK), !!(fcntl(a, F_GETFD) & FD_CLOEXEC));
	char buf[16];
	CHECK(read(a, buf, sizeof buf) /* no data */);
	CHECKV(send(c, "hi", 2, 0));
	q.fd = a;
	CHECKV(poll(&q, 1, 5000));
	int avail = -1;
	CHECK(ioctl(a, FIONREAD, &avail));
	printf("FIONREAD=%d\n", avail);
	CHECKV(recv(a, buf, sizeof buf, MSG_PEEK));
	CHECKV(recv(a, buf, sizeof buf, 0));
	CHECK(connect(c, &srv.sa, sizeof srv.in4) /* already connected */);
	CHECK(shutdown(a, SHUT_WR));
	q.fd = c;
	CHECKV(poll(&q, 1, 5000));
	CHECKV(read(c, buf, sizeof buf) /* EOF */);
	close(c);
	/* Writing to a connection the peer closed: EPIPE (or ECONNRESET), SIGPIPE unless MSG_NOSIGNAL. */
	usleep(20000);
	sigpipes = 0;
	int tries = 0;
	while (send(a, "x", 1, MSG_NOSIGNAL) >= 0 && tries++ < 100)
		usleep(1000);
	printf("MSG_NOSIGNAL send after close: %s sigpipes=%d\n", errno == EPIPE ? "EPIPE" : errname(errno), sigpipes);
	CHECK(write(a, "x", 1));
	printf("sigpipes=%d\n", sigpipes);
	close(a);
	close(s);

	/* A closed port refuses. */
	addr_t gone;
	int t = listener(AF_INET, &gone);
	close(t);
	int d = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(d, &gone.sa, sizeof gone.in4) /* closed port */);
	close(d);
	d = socket(AF_INET6, SOCK_STREAM, 0);
	CHECK(connect(d, &gone.sa, sizeof gone.in4) /* wrong family */);
	CHECK(listen(d, 1) /* unbound listen autobinds */);
	close(d);
	d = socket(AF_INET, SOCK_STREAM, 0);
	char h[64];
	addr_t u;
	socklen_t ul = sizeof u;
	CHECK(getsockname(d, &u.sa, &ul));
	printf("unbound name %s port=%d\n", host_of(&u, h, sizeof h), port_of(&u));
	ul = sizeof u;
	CHECK(getpeername(d, &u.sa, &ul) /* unconnected */);
	CHECK(shutdown(d, SHUT_RDWR) /* unconnected */);
	addr_t bad;
	socklen_t bl = loopback(&bad, AF_INET, 0);
	bad.in4.sin_addr.s_addr = inet_addr("192.0.2.1");
	CHECK(bind(d, &bad.sa, bl) /* address not here */);
	CHECK(bind(d, &gone.sa, 3) /* short address */);
	close(d);
}

static void timeouts_and_options(void)
{
	printf("== options\n");
	int sv = socket(AF_INET, SOCK_STREAM, 0);
	int v;
	socklen_t vl = sizeof v;
#define SHOWOPT(level, name)                                                                                 \
	do {                                                                                                 \
		vl = sizeof v;                                                                               \
		v = -7;                                                                                      \
		if (getsockopt(sv, level, name, &v, &vl) < 0)                                                \
			printf(#name ": %s\n", errname(errno));                                               \
		else                                                                                         \
			printf(#name " = %d (len %u)\n", v, (unsigned)vl);                                    \
	} while (0)
	SHOWOPT(SOL_SOCKET, SO_TYPE);
	SHOWOPT(SOL_SOCKET, SO_DOMAIN);
	SHOWOPT(SOL_SOCKET, SO_PROTOCOL);
	SHOWOPT(SOL_SOCKET, SO_ACCEPTCONN);
	SHOWOPT(SOL_SOCKET, SO_REUSEADDR);
	v = 1;
	CHECK(setsockopt(sv, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
	SHOWOPT(SOL_SOCKET, SO_REUSEADDR);
	CHECK(setsockopt(sv, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v));
	SHOWOPT(SOL_SOCKET, SO_KEEPALIVE);
	CHECK(setsockopt(sv, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
	SHOWOPT(IPPROTO_TCP, TCP_NODELAY);
	v = 30;
	CHECK(setsockopt(sv, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v));
	SHOWOPT(IPPROTO_TCP, TCP_KEEPIDLE);
	v = 65536;
	CHECK(setsockopt(sv, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
	SHOWOPT(SOL_SOCKET, SO_RCVBUF);
	struct linger lg = { 1, 5 };
	CHECK(setsockopt(sv, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	socklen_t ll = sizeof lg;
	memset(&lg, 0, sizeof lg);
	CHECK(getsockopt(sv, SOL_SOCKET, SO_LINGER, &lg, &ll));
	printf("linger on=%d secs=%d len=%u\n", lg.l_onoff, lg.l_linger, (unsigned)ll);
	v = 1;
	CHECK(setsockopt(sv, SOL_SOCKET, SO_REUSEADDR, &v, 2) /* short value */);
	CHECK(setsockopt(sv, SOL_SOCKET, 9999, &v, sizeof v) /* unknown option */);
	CHECK(getsockopt(sv, IPPROTO_TCP, 9999, &v, &vl) /* unknown option */);
	vl = 2;
	CHECK(getsockopt(sv, SOL_SOCKET, SO_TYPE, &v, &vl));
	printf("short getsockopt len=%u\n", (unsigned)vl);
	close(sv);

	/* SO_RCVTIMEO: a blocking recv gives up with EAGAIN. */
	addr_t srv;
	int s = listener(AF_INET, &srv);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, &srv.sa, sizeof srv.in4);
	int a = accept(s, NULL, NULL);
	struct timeval tv = { 0, 150000 };
	CHECK(setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	struct timeval got = { 9, 9 };
	socklen_t gl = sizeof got;
	CHECK(getsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &got, &gl));
	printf("SO_RCVTIMEO = %ld.%06ld (len %u)\n", (long)got.tv_sec, (long)got.tv_usec, (unsigned)gl);
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	char buf[8];
	CHECK(recv(a, buf, sizeof buf, 0) /* times out */);
	gettimeofday(&t1, NULL);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	printf("waited at least the timeout: %d\n", ms >= 140);
	tv.tv_usec = 2000000;
	CHECK(setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) /* bad usec */);
	close(a);
	close(c);
	close(s);
}

int main(void)
{
	signal(SIGPIPE, on_sigpipe);
	echo_over(AF_INET);
	echo_over(AF_INET6);
	nonblocking_and_errors();
	timeouts_and_options();
	CHECK(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP) /* wrong protocol */);
	CHECK(socket(AF_INET, SOCK_SEQPACKET, 0));
	CHECK(socket(12345, SOCK_STREAM, 0) /* no such family */);
	int fd = open(".", O_RDONLY);
	CHECK(listen(fd, 1) /* not a socket */);
	CHECK(listen(999, 1) /* bad fd */);
	close(fd);
	return 0;
}
