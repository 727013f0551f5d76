/* AF_UNIX connects to a listener whose backlog is full: a non-blocking one
 * fails with EAGAIN, a blocking one waits until an accept makes room. */
#include "common.h"
#include <sys/socket.h>
#include <sys/un.h>

static struct sockaddr_un addr(const char *name)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, name);
	return a;
}

static int dial(const char *name, int flags)
{
	struct sockaddr_un a = addr(name);
	int c = socket(AF_UNIX, SOCK_STREAM | flags, 0);
	if (c < 0)
		die("socket");
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(c);
		errno = e;
		return -1;
	}
	return c;
}

/* A child that connects (blocking) and reports through its exit code. */
static pid_t dial_later(const char *name)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int c = dial(name, 0);
		if (c >= 0)
			_exit(0);
		_exit(errno == EAGAIN ? 11 : 12);
	}
	return pid;
}

static void reap(const char *label, pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	printf("%s: exit=%d\n", label, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void)
{
	unlink("bl.sock");
	int l = CHECK(socket(AF_UNIX, SOCK_STREAM, 0));
	struct sockaddr_un a = addr("bl.sock");
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a));
	CHECK(listen(l, 0));
	int c1 = CHECK(dial("bl.sock", 0));
	CHECK(dial("bl.sock", SOCK_NONBLOCK));
	pid_t pid = dial_later("bl.sock");
	usleep(100 * 1000);
	int s1 = CHECK(accept(l, NULL, NULL));
	reap("blocked connect after accept", pid);
	int s2 = CHECK(accept(l, NULL, NULL));
	close(s1);
	close(s2);
	close(c1);

	CHECK(close(l));
	CHECK(unlink("bl.sock"));
	return 0;
}
