/* inotify (basic): create, modify, close-after-write, rename, delete and
 * mkdir/rmdir events on a watched directory and file; flags, bad
 * arguments, EAGAIN, EINVAL for a too-small buffer, poll readiness, a
 * blocking read woken by a child, rm_watch and IN_IGNORED. */
#include "common.h"
#include <poll.h>
#include <sys/inotify.h>

static const char *mname(uint32_t m)
{
	static char b[128];
	b[0] = 0;
	struct { uint32_t bit; const char *n; } t[] = {
		{IN_MODIFY, "MODIFY"}, {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_MOVED_FROM, "MOVED_FROM"},
		{IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"},
		{IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"}};
	for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++)
		if (m & t[i].bit) {
			strcat(b, b[0] ? "|" : "");
			strcat(b, t[i].n);
		}
	return b;
}

static int wdir, wfile;

static void drain(const char *label, int fd)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n = read(fd, buf, sizeof buf);
	printf("%s:", label);
	if (n < 0) {
		printf(" %s\n", errname(errno));
		return;
	}
	uint32_t cookie = 0;
	for (char *p = buf; p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		const char *who = e->wd == wdir ? "dir" : e->wd == wfile ? "file" : "?";
		printf(" [%s %s %s%s]", who, mname(e->mask), e->len ? e->name : "-",
		       e->cookie ? (cookie && e->cookie == cookie ? " cookie=same" : " cookie") : "");
		if (e->cookie)
			cookie = e->cookie;
		p += sizeof *e + e->len;
	}
	printf("\n");
}

int main(void)
{
	CHECK(inotify_init1(0x1234));
	int fd = CHECK(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	printf("cloexec=%d nonblock=%d\n", !!(fcntl(fd, F_GETFD) & FD_CLOEXEC), !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	CHECK(mkdir("w", 0755));
	CHECK(write_file("w/existing", "x"));
	CHECK(inotify_add_watch(fd, "w", 0));
	CHECK(inotify_add_watch(fd, "missing", IN_ALL_EVENTS));
	CHECK(inotify_add_watch(fd, "w/existing", IN_ALL_EVENTS | IN_ONLYDIR));
	CHECK(inotify_add_watch(0, "w", IN_ALL_EVENTS));
	CHECK(inotify_add_watch(99, "w", IN_ALL_EVENTS));
	uint32_t mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO;
	wdir = CHECK(inotify_add_watch(fd, "w", mask));
	printf("same wd again: %d\n", inotify_add_watch(fd, "w", mask) == wdir);
	CHECK(inotify_add_watch(fd, "w", mask | IN_MASK_CREATE));
	wfile = CHECK(inotify_add_watch(fd, "w/existing", IN_MODIFY | IN_CLOSE_WRITE));
	drain("nothing yet", fd);

	int f = open("w/new", O_CREAT | O_WRONLY, 0644);
	write(f, "abc", 3);
	write(f, "def", 3);
	close(f);
	drain("create+write+close", fd);

	f = open("w/existing", O_WRONLY | O_APPEND);
	write(f, "more", 4);
	close(f);
	drain("existing file", fd);

	f = open("w/existing", O_RDONLY);
	close(f);
	drain("read-only open/close", fd);

	CHECK(rename("w/new", "w/renamed"));
	drain("rename", fd);
	CHECK(mkdir("w/sub", 0755));
	CHECK(rmdir("w/sub"));
	CHECK(unlink("w/renamed"));
	CHECK(symlink("existing", "w/link"));
	drain("mkdir rmdir unlink symlink", fd);

	char tiny[8];
	CHECK(mkdir("w/d2", 0755));
	CHECK(read(fd, tiny, sizeof tiny));
	struct pollfd p = {fd, POLLIN, 0};
	printf("poll pending: %d\n", poll(&p, 1, 0));
	drain("after tiny read", fd);
	printf("poll drained: %d\n", poll(&p, 1, 0));

	/* Blocking read woken by a child's create. */
	int bfd = CHECK(inotify_init());
	wdir = CHECK(inotify_add_watch(bfd, "w", IN_CREATE));
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50 * 1000);
		int c = open("w/from-child", O_CREAT | O_WRONLY, 0644);
		close(c);
		_exit(0);
	}
	drain("blocking", bfd);
	wait_child("child", pid);

	CHECK(inotify_rm_watch(bfd, wdir));
	CHECK(inotify_rm_watch(bfd, wdir));
	CHECK(inotify_rm_watch(bfd, 12345));
	drain("after rm_watch", bfd);
	return 0;
}
