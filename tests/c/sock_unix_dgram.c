/* AF_UNIX datagram and seqpacket sockets: message boundaries, sender
 * addresses, connect semantics, MSG_PEEK/MSG_TRUNC, errors, and echo across
 * fork. */
#include "common.h"
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t path_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "rvisor-dg-%s-%08d", tag, (int)getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void show_from(const char *label, const struct sockaddr_un *a, socklen_t len)
{
	if (len <= offsetof(struct sockaddr_un, sun_path))
		printf("%s: from unnamed (len=%u)\n", label, (unsigned)len);
	else if (a->sun_path[0] == 0)
		printf("%s: from abstract len=%u\n", label, (unsigned)len);
	else
		printf("%s: from %s len=%u\n", label, a->sun_path, (unsigned)len);
}

static void recv_show(const char *label, int fd, int flags)
{
	char buf[64];
	struct sockaddr_un from;
	memset(&from, 0, sizeof from);
	socklen_t flen = sizeof from;
	ssize_t n = recvfrom(fd, buf, sizeof buf, flags, (struct sockaddr *)&from, &flen);
	if (n < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	print_bytes(label, buf, n);
	show_from(label, &from, flen);
}

static void dgram_pair(void)
{
	int sv[2];
	char buf[64];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECKV(send(sv[0], "one", 3, 0));
	CHECKV(send(sv[0], "", 0, 0));
	CHECKV(send(sv[0], "three33", 7, 0));
	int avail = -1;
	CHECK(ioctl(sv[1], FIONREAD, &avail));
	printf("FIONREAD=%d\n", avail);
	recv_show("first", sv[1], 0);
	CHECKV(recv(sv[1], buf, sizeof buf, 0) /* empty datagram */);
	CHECKV(recv(sv[1], buf, 2, MSG_PEEK | MSG_TRUNC));
	struct iovec iov = { buf, 4 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(sv[1], &m, 0);
	printf("recvmsg n=%zd trunc=%d\n", n, !!(m.msg_flags & MSG_TRUNC));
	print_bytes("truncated", buf, 4);
	CHECK(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) /* empty */);
	struct pollfd p = { .fd = sv[1], .events = POLLIN | POLLOUT };
	int pn = poll(&p, 1, 0);
	printf("poll n=%d revents in=%d out=%d\n", pn, !!(p.revents & POLLIN), !!(p.revents & POLLOUT));

	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		for (int i = 0; i < 3; i++) {
			n = recv(sv[1], buf, sizeof buf, 0);
			if (n < 0)
				_exit(3);
			for (ssize_t j = 0; j < n; j++)
				buf[j] = (char)(buf[j] + 1);
			if (send(sv[1], buf, n, 0) != n)
				_exit(4);
		}
		_exit(0);
	}
	close(sv[1]);
	for (int i = 0; i < 3; i++) {
		char msg[16];
		snprintf(msg, sizeof msg, "msg-%d", i * 11);
		send(sv[0], msg, strlen(msg), 0);
		n = recv(sv[0], buf, sizeof buf, 0);
		print_bytes("echo", buf, n);
	}
	wait_child("dgram echo", pid);
	CHECK(send(sv[0], "x", 1, 0) /* peer gone */);
	CHECK(send(sv[0], "x", 1, 0) /* again */);
	close(sv[0]);
}

static void dgram_named(void)
{
	struct sockaddr_un srv, cli, ab;
	socklen_t slen = path_addr(&srv, "dg.srv");
	socklen_t clen = path_addr(&cli, "dg.cli");
	socklen_t alen = abstract_addr(&ab, "x");
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	int c = socket(AF_UNIX, SOCK_DGRAM, 0);
	int anon = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(s, (struct sockaddr *)&srv, slen));
	CHECK(bind(c, (struct sockaddr *)&cli, clen));
	int a = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(a, (struct sockaddr *)&ab, alen));
	CHECKV(sendto(c, "from-cli", 8, 0, (struct sockaddr *)&srv, slen));
	CHECKV(sendto(anon, "from-anon", 9, 0, (struct sockaddr *)&srv, slen));
	CHECKV(sendto(a, "from-abs", 8, 0, (struct sockaddr *)&srv, slen));
	recv_show("srv got", s, 0);
	recv_show("srv got", s, 0);
	recv_show("srv got", s, 0);
	CHECK(send(anon, "x", 1, 0) /* not connected */);
	CHECK(connect(anon, (struct sockaddr *)&srv, slen));
	CHECKV(send(anon, "connected", 9, 0));
	recv_show("srv got", s, 0);
	/* A socket connected to c accepts only c's datagrams. */
	CHECK(connect(s, (struct sockaddr *)&cli, clen));
	CHECK(sendto(anon, "y", 1, 0, (struct sockaddr *)&srv, slen) /* srv connected elsewhere */);
	CHECKV(send(s, "reply", 5, 0));
	recv_show("cli got", c, 0);
	struct sockaddr_un peer;
	socklen_t plen = sizeof peer;
	CHECK(getpeername(s, (struct sockaddr *)&peer, &plen));
	show_from("srv peer", &peer, plen);
	struct sockaddr_un unspec = { .sun_family = AF_UNSPEC };
	CHECK(connect(s, (struct sockaddr *)&unspec, sizeof unspec));
	plen = sizeof peer;
	CHECK(getpeername(s, (struct sockaddr *)&peer, &plen) /* dissolved */);
	CHECKV(sendto(anon, "z", 1, 0, (struct sockaddr *)&srv, slen));
	recv_show("srv got", s, 0);
	close(s);
	CHECK(sendto(c, "late", 4, 0, (struct sockaddr *)&srv, slen) /* srv closed */);
	CHECK(send(anon, "late", 4, 0) /* connected peer closed */);
	struct sockaddr_un nope;
	socklen_t nlen = path_addr(&nope, "dg.none");
	CHECK(sendto(c, "x", 1, 0, (struct sockaddr *)&nope, nlen) /* no such file */);
	int st = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(st, (struct sockaddr *)&cli, clen) /* stream to dgram */);
	CHECK(listen(c, 1) /* dgram listen */);
	CHECK(accept(c, NULL, NULL) /* dgram accept */);
	CHECK(shutdown(c, SHUT_WR));
	CHECK(sendto(c, "x", 1, 0, (struct sockaddr *)&cli, clen) /* after SHUT_WR */);
	close(st);
	close(c);
	close(a);
	close(anon);
	list_dir(".");
	unlink("dg.srv");
	unlink("dg.cli");
}

static void seqpacket(void)
{
	struct sockaddr_un a;
	socklen_t len = abstract_addr(&a, "seq");
	int l = CHECK(socket(AF_UNIX, SOCK_SEQPACKET, 0));
	char buf[64];
	CHECK(send(l, "x", 1, 0) /* unconnected */);
	CHECK(recv(l, buf, 1, MSG_DONTWAIT) /* unconnected */);
	CHECK(bind(l, (struct sockaddr *)&a, len));
	CHECK(listen(l, 4));
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0)
			_exit(2);
		send(c, "alpha", 5, 0);
		send(c, "beta-longer-record", 18, 0);
		send(c, "", 0, 0);
		send(c, "gamma", 5, MSG_EOR);
		ssize_t n = recv(c, buf, sizeof buf, 0);
		_exit(n == 3 && memcmp(buf, "ack", 3) == 0 ? 0 : 3);
	}
	int c = CHECK(accept(l, NULL, NULL));
	for (int i = 0; i < 4; i++) {
		struct iovec iov = { buf, 8 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(c, &m, 0);
		printf("record %d: n=%zd trunc=%d\n", i, n, !!(m.msg_flags & MSG_TRUNC));
		print_bytes("  data", buf, n < 0 ? 0 : (n > 8 ? 8 : n));
	}
	CHECKV(send(c, "ack", 3, 0));
	wait_child("seqpacket client", pid);
	CHECKV(recv(c, buf, sizeof buf, 0) /* EOF */);
	int st = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(st, (struct sockaddr *)&a, len) /* stream to seqpacket */);
	close(st);
	close(c);
	close(l);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv));
	CHECK(recv(sv[0], buf, sizeof buf, 0) /* nonblocking empty */);
	CHECKV(send(sv[1], "rec", 3, 0));
	CHECKV(recv(sv[0], buf, 1, 0) /* rest discarded */);
	CHECK(recv(sv[0], buf, sizeof buf, 0));
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	dgram_pair();
	dgram_named();
	seqpacket();
	return 0;
}
