/* Sockets under poll, select and epoll (listeners, connections, datagram
 * sockets), blocking calls interrupted by signals, and SIGPIPE's default
 * action. */
#include "common.h"
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>

static volatile int usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static int tcp_listener(struct sockaddr_in *a)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof *a;
	if (bind(s, (struct sockaddr *)a, l) < 0 || listen(s, 8) < 0)
		die("listen");
	getsockname(s, (struct sockaddr *)a, &l);
	return s;
}

static void epoll_server(void)
{
	struct sockaddr_in a;
	int l = tcp_listener(&a);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 3; i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
				_exit(2);
			char msg[8];
			snprintf(msg, sizeof msg, "req%d", i);
			write(c, msg, strlen(msg));
			char buf[16];
			ssize_t n = read(c, buf, sizeof buf);
			if (n != 4 || buf[0] != 'R')
				_exit(3);
			close(c);
		}
		_exit(0);
	}
	/* A tiny event loop: accept, read a request, answer, close. */
	int served = 0, events = 0;
	while (served < 3 && events < 100) {
		struct epoll_event out[8];
		int n = epoll_wait(ep, out, 8, 5000);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			events++;
			int fd = out[i].data.fd;
			if (fd == l) {
				int c;
				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event cev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				if (errno != EAGAIN)
					die("accept4");
			} else {
				char buf[16];
				ssize_t r = read(fd, buf, sizeof buf);
				if (r > 0) {
					buf[0] = 'R';
					write(fd, buf, 4);
				} else {
					epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
					served++;
				}
			}
		}
	}
	printf("epoll served %d connections\n", served);
	wait_child("epoll clients", pid);
	close(ep);
	close(l);
}

static void select_unix(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(sv[0], &r);
	FD_SET(sv[0], &w);
	struct timeval tv = { 0, 0 };
	int n = select(sv[0] + 1, &r, &w, NULL, &tv);
	printf("select idle: n=%d r=%d w=%d\n", n, FD_ISSET(sv[0], &r), FD_ISSET(sv[0], &w));
	write(sv[1], "x", 1);
	FD_ZERO(&r);
	FD_SET(sv[0], &r);
	tv.tv_sec = 5;
	n = select(sv[0] + 1, &r, NULL, NULL, &tv);
	printf("select readable: n=%d r=%d\n", n, FD_ISSET(sv[0], &r));
	close(sv[1]);
	struct pollfd p = { .fd = sv[0], .events = POLLIN | POLLRDHUP };
	n = poll(&p, 1, 5000);
	printf("poll after peer close: n=%d in=%d rdhup=%d hup=%d\n", n, !!(p.revents & POLLIN),
	       !!(p.revents & POLLRDHUP), !!(p.revents & POLLHUP));
	close(sv[0]);

	/* A datagram socket becomes readable when a message arrives from a child. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(30000);
		send(sv[1], "late", 4, 0);
		_exit(0);
	}
	p.fd = sv[0];
	p.events = POLLIN;
	n = poll(&p, 1, 5000);
	printf("dgram poll: n=%d in=%d\n", n, !!(p.revents & POLLIN));
	wait_child("dgram sender", pid);
	close(sv[0]);
	close(sv[1]);

	/* A listening unix socket under epoll, edge-triggered. */
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "rvisor-poll-%08d", (int)getpid());
	socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + len;
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(l, (struct sockaddr *)&a, alen);
	listen(l, 4);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u32 = 7 };
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	struct epoll_event out;
	CHECKV(epoll_wait(ep, &out, 1, 0) /* nothing yet */);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, alen));
	n = epoll_wait(ep, &out, 1, 5000);
	printf("epoll listener: n=%d data=%u in=%d\n", n, out.data.u32, !!(out.events & EPOLLIN));
	CHECKV(epoll_wait(ep, &out, 1, 0) /* edge already reported */);
	int x = CHECK(accept(l, NULL, NULL));
	close(x);
	close(c);
	close(ep);
	close(l);
}

/* A child that signals the parent every 50 ms until it is killed: the
 * parent's blocking call is interrupted however late it starts. */
static pid_t start_signaller(pid_t parent)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;) {
			usleep(50000);
			kill(parent, SIGUSR1);
		}
	}
	return pid;
}

static void stop_signaller(pid_t pid)
{
	kill(pid, SIGKILL);
	wait_child("signaller", pid);
}

static void interrupted(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t parent = getpid();
	pid_t pid = start_signaller(parent);
	char buf[8];
	CHECK(recv(sv[0], buf, sizeof buf, 0) /* interrupted */);
	stop_signaller(pid);
	printf("handler ran: %d\n", usr1 > 0);

	struct sockaddr_in a;
	int l = tcp_listener(&a);
	fcntl(l, F_SETFL, 0);
	usr1 = 0;
	pid = start_signaller(parent);
	CHECK(accept(l, NULL, NULL) /* interrupted */);
	stop_signaller(pid);
	printf("handler ran: %d\n", usr1 > 0);
	close(l);
	close(sv[0]);
	close(sv[1]);
}

static void sigpipe_default(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	close(sv[1]);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(sv[0], "x", 1);
		_exit(0);
	}
	wait_child("writer to closed socket", pid);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		send(sv[0], "x", 1, MSG_NOSIGNAL);
		_exit(7);
	}
	wait_child("MSG_NOSIGNAL writer", pid);
	close(sv[0]);
}

int main(void)
{
	epoll_server();
	select_unix();
	interrupted();
	sigpipe_default();
	return 0;
}
