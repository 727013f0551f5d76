/* UDP over 127.0.0.1 and ::1: datagrams with addresses, connect, peek and
 * truncation, sendmmsg/recvmmsg, IP_PKTINFO, poll, and echo across fork. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

typedef union {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
} addr_t;

static socklen_t alen(int family)
{
	return family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static int bound_udp(int family, addr_t *a)
{
	int s = socket(family, SOCK_DGRAM, 0);
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_addr = in6addr_loopback;
	}
	if (bind(s, &a->sa, alen(family)) < 0)
		die("bind");
	socklen_t l = sizeof *a;
	getsockname(s, &a->sa, &l);
	return s;
}

static int same_addr(const addr_t *x, const addr_t *y)
{
	if (x->sa.sa_family != y->sa.sa_family)
		return 0;
	if (x->sa.sa_family == AF_INET)
		return x->in4.sin_port == y->in4.sin_port && x->in4.sin_addr.s_addr == y->in4.sin_addr.s_addr;
	return x->in6.sin6_port == y->in6.sin6_port && !memcmp(&x->in6.sin6_addr, &y->in6.sin6_addr, 16);
}

static void udp(int family)
{
	printf("== udp %s\n", family == AF_INET ? "ipv4" : "ipv6");
	addr_t sa, ca;
	int s = bound_udp(family, &sa);
	int c = bound_udp(family, &ca);
	CHECKV(sendto(c, "hello", 5, 0, &sa.sa, alen(family)));
	CHECKV(sendto(c, "world!", 6, 0, &sa.sa, alen(family)));
	struct pollfd p = { .fd = s, .events = POLLIN };
	CHECKV(poll(&p, 1, 5000));
	char buf[64];
	addr_t from;
	socklen_t fl = sizeof from;
	CHECKV(recvfrom(s, buf, 2, MSG_PEEK | MSG_TRUNC, &from.sa, &fl));
	fl = sizeof from;
	ssize_t n = recvfrom(s, buf, sizeof buf, 0, &from.sa, &fl);
	print_bytes("got", buf, n);
	printf("from client: %d len-ok=%d\n", same_addr(&from, &ca), fl == alen(family));
	struct iovec iov = { buf, 3 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_name = &from, .msg_namelen = sizeof from };
	n = recvmsg(s, &m, 0);
	printf("recvmsg n=%zd trunc=%d from-client=%d\n", n, !!(m.msg_flags & MSG_TRUNC), same_addr(&from, &ca));
	CHECK(recv(s, buf, sizeof buf, MSG_DONTWAIT) /* empty */);
	CHECK(send(c, "x", 1, 0) /* not connected */);
	CHECK(connect(c, &sa.sa, alen(family)));
	CHECKV(send(c, "connected", 9, 0));
	n = recv(s, buf, sizeof buf, 0);
	print_bytes("got", buf, n);
	addr_t peer;
	socklen_t pl = sizeof peer;
	CHECK(getpeername(c, &peer.sa, &pl));
	printf("peer is server: %d\n", same_addr(&peer, &sa));

	/* Batches. */
	struct mmsghdr out[3];
	struct iovec oiov[3];
	const char *words[3] = { "a", "bb", "ccc" };
	memset(out, 0, sizeof out);
	for (int i = 0; i < 3; i++) {
		oiov[i].iov_base = (void *)words[i];
		oiov[i].iov_len = strlen(words[i]);
		out[i].msg_hdr.msg_iov = &oiov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}
	CHECKV(sendmmsg(c, out, 3, 0));
	printf("sent lens %u %u %u\n", out[0].msg_len, out[1].msg_len, out[2].msg_len);
	struct mmsghdr in[4];
	struct iovec iiov[4];
	char bufs[4][16];
	memset(in, 0, sizeof in);
	for (int i = 0; i < 4; i++) {
		iiov[i].iov_base = bufs[i];
		iiov[i].iov_len = sizeof bufs[i];
		in[i].msg_hdr.msg_iov = &iiov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	usleep(10000);
	int k = recvmmsg(s, in, 4, MSG_WAITFORONE, NULL);
	printf("recvmmsg = %d:", k);
	for (int i = 0; i < k; i++)
		printf(" %.*s", (int)in[i].msg_len, bufs[i]);
	printf("\n");

	/* Echo across fork. */
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 3; i++) {
			addr_t f;
			socklen_t l = sizeof f;
			ssize_t r = recvfrom(s, buf, sizeof buf, 0, &f.sa, &l);
			if (r < 0)
				_exit(2);
			for (ssize_t j = 0; j < r; j++)
				buf[j] = (char)(buf[j] ^ 0x20);
			sendto(s, buf, r, 0, &f.sa, l);
		}
		_exit(0);
	}
	for (int i = 0; i < 3; i++) {
		char msg[16];
		snprintf(msg, sizeof msg, "ping%d", i);
		send(c, msg, strlen(msg), 0);
		n = recv(c, buf, sizeof buf, 0);
		print_bytes("echo", buf, n);
	}
	wait_child("udp echo", pid);
	close(c);
	close(s);
}

static void pktinfo(void)
{
	printf("== pktinfo\n");
	addr_t sa, ca;
	int s = bound_udp(AF_INET, &sa);
	int c = bound_udp(AF_INET, &ca);
	int on = 1;
	CHECK(setsockopt(s, IPPROTO_IP, IP_PKTINFO, &on, sizeof on));
	sendto(c, "pi", 2, 0, &sa.sa, sizeof sa.in4);
	char buf[8];
	char cbuf[256];
	struct iovec iov = { buf, sizeof buf };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t n = recvmsg(s, &m, 0);
	printf("recvmsg n=%zd\n", n);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof pi);
			char h[32];
			printf("pktinfo dst %s\n", inet_ntop(AF_INET, &pi.ipi_addr, h, sizeof h));
		}
	}
	close(s);
	close(c);
}

int main(void)
{
	udp(AF_INET);
	udp(AF_INET6);
	pktinfo();
	return 0;
}
