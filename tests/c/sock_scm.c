/* AF_UNIX ancillary data: SCM_RIGHTS (a file, a pipe, several at once,
 * truncation, MSG_CMSG_CLOEXEC, across fork, over datagrams), SCM_CREDENTIALS
 * with SO_PASSCRED, and SO_PEERCRED for socketpairs and connections. */
#include "common.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static int send_fds(int sock, const char *data, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n > 0) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	return sendmsg(sock, &m, 0);
}

/* Receives one message; stores up to `max` fds; prints what arrived. */
static int recv_fds(const char *label, int sock, int *fds, int max, size_t cspace, int flags)
{
	char data[64];
	char cbuf[512];
	struct iovec iov = { data, sizeof data };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = cspace };
	ssize_t n = recvmsg(sock, &m, flags);
	if (n < 0) {
		printf("%s: %s\n", label, errname(errno));
		return -1;
	}
	int got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < k && got < max; i++)
				memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	}
	printf("%s: data=%.*s fds=%d ctrunc=%d controllen=%zu\n", label, (int)n, data, got,
	       !!(m.msg_flags & MSG_CTRUNC), (size_t)m.msg_controllen);
	return got;
}

static void show_fd(const char *label, int fd)
{
	char buf[32];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0)
		printf("%s read: %s\n", label, errname(errno));
	else
		print_bytes(label, buf, n);
}

static void rights(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(write_file("passed.txt", "0123456789"));
	int f = open("passed.txt", O_RDWR);
	lseek(f, 3, SEEK_SET);
	int p[2];
	pipe(p);
	CHECKV(write(p[1], "through-pipe", 12));
	int fds[3] = { f, p[0], p[1] };
	CHECKV(send_fds(sv[0], "three", fds, 3));
	int got[8];
	int n = recv_fds("recv three", sv[1], got, 8, 512, MSG_CMSG_CLOEXEC);
	if (n == 3) {
		printf("received fds are new: %d\n", got[0] != f && got[1] != p[0] && got[2] != p[1]);
		printf("cloexec=%d\n", !!(fcntl(got[0], F_GETFD) & FD_CLOEXEC));
		show_fd("file via fd", got[0]);
		printf("offset shared: %ld\n", (long)lseek(f, 0, SEEK_CUR));
		show_fd("pipe via fd", got[1]);
		CHECKV(write(got[2], "!", 1));
		show_fd("pipe again", p[0]);
		for (int i = 0; i < 3; i++)
			close(got[i]);
	}
	/* Room for one fd only: the rest is lost, MSG_CTRUNC says so. */
	CHECKV(send_fds(sv[0], "trunc", fds, 3));
	n = recv_fds("recv small", sv[1], got, 8, CMSG_SPACE(sizeof(int)), 0);
	for (int i = 0; i < n; i++)
		close(got[i]);
	CHECKV(send_fds(sv[0], "none", fds, 3));
	n = recv_fds("recv no control", sv[1], got, 8, 0, 0);
	CHECKV(send_fds(sv[0], "peek", fds, 1));
	n = recv_fds("peek", sv[1], got, 8, 512, MSG_PEEK);
	for (int i = 0; i < n; i++)
		close(got[i]);
	n = recv_fds("after peek", sv[1], got, 8, 512, 0);
	for (int i = 0; i < n; i++)
		close(got[i]);
	int bad = 999;
	CHECK(send_fds(sv[0], "bad", &bad, 1) /* bad fd */);

	/* Across fork: the child opens a file and sends it; the parent reads it. */
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[1]);
		write_file("child.txt", "made by child");
		int cf = open("child.txt", O_RDONLY);
		send_fds(sv[0], "from child", &cf, 1);
		close(cf);
		unlink("child.txt");
		_exit(0);
	}
	wait_child("sender", pid);
	n = recv_fds("from child", sv[1], got, 8, 512, 0);
	if (n == 1)
		show_fd("child's file", got[0]);
	close(sv[0]);
	close(sv[1]);

	/* Datagrams carry fds too. */
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECKV(send_fds(sv[0], "dgram", &f, 1));
	n = recv_fds("dgram fds", sv[1], got, 8, 512, 0);
	if (n == 1) {
		lseek(got[0], 0, SEEK_SET);
		show_fd("file via dgram", got[0]);
	}
	close(sv[0]);
	close(sv[1]);
	close(f);
	close(p[0]);
	close(p[1]);
	unlink("passed.txt");
}

static void show_cmsg_creds(const char *label, int sock, pid_t expect_pid)
{
	char data[16];
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { data, sizeof data };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t n = recvmsg(sock, &m, 0);
	if (n < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_CREDENTIALS) {
		printf("%s: %.*s no credentials\n", label, (int)n, data);
		return;
	}
	struct ucred u;
	memcpy(&u, CMSG_DATA(c), sizeof u);
	printf("%s: %.*s pid-match=%d uid=%u gid=%u\n", label, (int)n, data, u.pid == expect_pid, u.uid, u.gid);
}

static void credentials(void)
{
	int sv[2];
	int on = 1;
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECKV(send(sv[0], "before", 6, 0));
	show_cmsg_creds("without SO_PASSCRED", sv[1], getpid());
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	int v = -1;
	socklen_t vl = sizeof v;
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &vl));
	printf("SO_PASSCRED=%d len=%u\n", v, (unsigned)vl);
	pid_t pid = fork();
	if (pid == 0) {
		send(sv[0], "child", 5, 0);
		_exit(0);
	}
	wait_child("cred child", pid);
	show_cmsg_creds("implicit", sv[1], pid);

	/* Explicit credentials: our own pid is always allowed. */
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct ucred u = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
	struct iovec iov = { "explicit", 8 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof u);
	memcpy(CMSG_DATA(c), &u, sizeof u);
	CHECKV(sendmsg(sv[0], &m, 0));
	show_cmsg_creds("explicit", sv[1], getpid());
	close(sv[0]);
	close(sv[1]);

	/* Streams report the writer's credentials too. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	CHECKV(send(sv[0], "stream", 6, 0));
	show_cmsg_creds("stream", sv[1], getpid());
	close(sv[0]);
	close(sv[1]);
}

static void show_peercred(const char *label, int fd, pid_t expect)
{
	struct ucred u;
	socklen_t len = sizeof u;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len) < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	printf("%s: len=%u pid-match=%d uid=%u gid=%u\n", label, (unsigned)len, u.pid == expect, u.uid, u.gid);
}

static void peercred(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	show_peercred("socketpair", sv[0], getpid());
	close(sv[0]);
	close(sv[1]);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	show_peercred("unconnected", s, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "rvisor-cred-%08d", (int)getpid());
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	CHECK(bind(s, (struct sockaddr *)&a, len));
	CHECK(listen(s, 1));
	int ready[2];
	pipe(ready);
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0)
			_exit(2);
		struct ucred u;
		socklen_t ul = sizeof u;
		getsockopt(c, SOL_SOCKET, SO_PEERCRED, &u, &ul);
		/* Tell the parent whether the peer is the parent. */
		char ok = u.pid == getppid() ? 'y' : 'n';
		write(c, &ok, 1);
		char b;
		read(c, &b, 1);
		_exit(0);
	}
	int c = CHECK(accept(s, NULL, NULL));
	show_peercred("accepted", c, pid);
	char ok = '?';
	read(c, &ok, 1);
	printf("client saw listener as peer: %c\n", ok);
	write(c, "x", 1);
	wait_child("cred client", pid);
	close(c);
	close(s);
}

int main(void)
{
	rights();
	credentials();
	peercred();
	return 0;
}
