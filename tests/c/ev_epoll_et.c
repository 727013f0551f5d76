/* epoll edge- and level-triggered semantics on pipes, eventfds, TCP and
 * unix sockets: a second write while still readable is a new edge; a
 * drained-then-refilled fd reports again; EPOLLONESHOT fires once until
 * EPOLL_CTL_MOD; level-triggered keeps reporting. */
#include "common.h"
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static int ep;

static void wait0(const char *label)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 0);
	printf("%s: n=%d", label, n);
	for (int i = 0; i < n; i++)
		printf(" [data=%llu ev=%#x]", (unsigned long long)ev[i].data.u64, ev[i].events);
	printf("\n");
}

static void add(int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {events, {.u64 = data}};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
}

static void run_pair(const char *what, int r, int w)
{
	char buf[64];
	printf("-- %s\n", what);
	add(r, EPOLLIN | EPOLLET, 1);
	wait0("et empty");
	write(w, "a", 1);
	wait0("et first write");
	wait0("et no new edge");
	write(w, "b", 1);
	wait0("et second write (new edge)");
	while (read(r, buf, sizeof buf) > 0)
		;
	wait0("et drained");
	write(w, "c", 1);
	wait0("et refilled");
	read(r, buf, sizeof buf);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, r, NULL));

	add(r, EPOLLIN | EPOLLONESHOT, 2);
	write(w, "d", 1);
	wait0("oneshot first");
	write(w, "e", 1);
	wait0("oneshot disarmed");
	struct epoll_event mod = {EPOLLIN | EPOLLONESHOT, {.u64 = 3}};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, r, &mod));
	wait0("oneshot rearmed");
	wait0("oneshot disarmed again");
	read(r, buf, sizeof buf);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, r, NULL));

	add(r, EPOLLIN, 4);
	write(w, "f", 1);
	wait0("level 1");
	wait0("level 2");
	read(r, buf, sizeof buf);
	wait0("level drained");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, r, NULL));

	/* Writable side, edge-triggered: fires once while room stays. */
	add(w, EPOLLOUT | EPOLLET, 5);
	wait0("et writable");
	wait0("et writable again");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, w, NULL));
}

int main(void)
{
	ep = CHECK(epoll_create1(EPOLL_CLOEXEC));
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK));
	run_pair("pipe", p[0], p[1]);

	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	run_pair("unix stream", sv[0], sv[1]);

	int l = CHECK(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = {AF_INET, 0, {htonl(INADDR_LOOPBACK)}, {0}};
	socklen_t al = sizeof a;
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a));
	CHECK(listen(l, 4));
	getsockname(l, (struct sockaddr *)&a, &al);
	add(l, EPOLLIN | EPOLLET, 9);
	int c = CHECK(socket(AF_INET, SOCK_STREAM, 0));
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a));
	struct epoll_event ev;
	printf("listener edge: %d\n", epoll_wait(ep, &ev, 1, 5000));
	int s = CHECK(accept4(l, NULL, NULL, SOCK_NONBLOCK));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, l, NULL));
	add(s, EPOLLIN | EPOLLET, 1);
	write(c, "x", 1);
	printf("tcp first: %d\n", epoll_wait(ep, &ev, 1, 5000));
	wait0("tcp no new edge");
	write(c, "y", 1);
	printf("tcp second edge: %d\n", epoll_wait(ep, &ev, 1, 5000));
	shutdown(c, SHUT_WR);
	printf("tcp hangup edge: %d ev=%#x\n", epoll_wait(ep, &ev, 1, 5000), ev.events & (EPOLLIN | EPOLLRDHUP));

	int efd = CHECK(eventfd(0, EFD_NONBLOCK));
	add(efd, EPOLLIN | EPOLLET, 7);
	uint64_t one = 1;
	write(efd, &one, 8);
	wait0("eventfd edge");
	wait0("eventfd no edge");
	write(efd, &one, 8);
	wait0("eventfd second edge");
	return 0;
}
