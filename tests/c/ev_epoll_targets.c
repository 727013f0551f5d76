/* Which files epoll accepts: a pidfd (readable once its process exits),
 * not /dev/zero or /dev/urandom (no poll method: EPERM), /dev/random yes,
 * not an O_PATH descriptor (EBADF, as for socket calls on one). */
#define _GNU_SOURCE
#include "common.h"
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static void try_add(int ep, const char *what, int fd)
{
	struct epoll_event e = {EPOLLIN, {0}};
	errno = 0;
	int r = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	printf("%s: %d %s\n", what, r, errname(errno));
}

int main(void)
{
	pid_t c = fork();
	if (c == 0) {
		usleep(200000);
		_exit(0);
	}
	int pfd = syscall(SYS_pidfd_open, c, 0);
	int ep = epoll_create1(0);
	try_add(ep, "pidfd", pfd);
	struct epoll_event out;
	int r = epoll_wait(ep, &out, 1, 3000);
	printf("pidfd wait: %d events %x\n", r, r > 0 ? out.events : 0);
	waitpid(c, NULL, 0);
	try_add(ep, "/dev/zero", open("/dev/zero", O_RDONLY));
	try_add(ep, "/dev/null", open("/dev/null", O_RDONLY));
	try_add(ep, "/dev/urandom", open("/dev/urandom", O_RDONLY));
	try_add(ep, "/dev/random", open("/dev/random", O_RDONLY));
	int path = open("/tmp", O_PATH);
	try_add(ep, "O_PATH", path);
	errno = 0;
	r = accept(path, NULL, NULL);
	printf("accept on O_PATH: %d %s\n", r, errname(errno));
	errno = 0;
	r = listen(path, 1);
	printf("listen on O_PATH: %d %s\n", r, errname(errno));
	return 0;
}
