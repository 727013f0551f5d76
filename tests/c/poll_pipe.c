/* poll/select/epoll readiness on pipes and files. */
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

static void pl(const char *label, int fd, short events)
{
	struct pollfd p = {fd, events, 0};
	int r = poll(&p, 1, 0);
	if (r < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		printf("%s: r=%d revents=%#x\n", label, r, p.revents);
}

int main(void)
{
	int p[2];
	pipe(p);
	pl("empty read end", p[0], POLLIN);
	pl("empty write end", p[1], POLLOUT);
	write(p[1], "x", 1);
	pl("data", p[0], POLLIN);
	close(p[1]);
	pl("writer closed", p[0], POLLIN);
	char c;
	read(p[0], &c, 1);
	pl("writer closed, drained", p[0], POLLIN);
	close(p[0]);
	pipe(p);
	close(p[0]);
	pl("reader closed", p[1], POLLOUT);
	close(p[1]);
	pl("closed fd", p[1], POLLIN);
	pl("negative fd", -1, POLLIN);

	CHECK(write_file("f", "data"));
	int fd = open("f", O_RDWR);
	pl("regular file", fd, POLLIN | POLLOUT);

	/* select */
	pipe(p);
	fd_set rs, ws;
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_SET(p[0], &rs);
	FD_SET(p[1], &ws);
	struct timeval tv = {0, 0};
	int r = select(p[1] + 1, &rs, &ws, NULL, &tv);
	printf("select: r=%d read=%d write=%d\n", r, FD_ISSET(p[0], &rs), FD_ISSET(p[1], &ws));
	FD_ZERO(&rs);
	FD_SET(60, &rs);
	tv.tv_usec = 0;
	CHECK(select(61, &rs, NULL, NULL, &tv));

	/* Timeout elapses with nothing ready. */
	struct pollfd pf = {p[0], POLLIN, 0};
	CHECKV(poll(&pf, 1, 50));

	/* poll wakes when a child writes. */
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		write(p[1], "y", 1);
		_exit(0);
	}
	CHECKV(poll(&pf, 1, 5000));
	printf("revents after child write: %#x\n", pf.revents);
	wait_child("child", pid);

	/* epoll */
	int ep = CHECK(epoll_create1(EPOLL_CLOEXEC));
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 77};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	struct epoll_event out[4];
	int n = CHECKV(epoll_wait(ep, out, 4, 0));
	if (n > 0)
		printf("epoll event data=%u events=%#x\n", out[0].data.u32, out[0].events);
	read(p[0], &c, 1);
	CHECKV(epoll_wait(ep, out, 4, 0));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
	return 0;
}
