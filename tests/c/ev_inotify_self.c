/* inotify beyond namespace changes: IN_OPEN, IN_ACCESS, IN_ATTRIB (chmod,
 * chown, utimes, link count), IN_CLOSE_NOWRITE/IN_CLOSE_WRITE (close, dup2
 * over, exit), directory opens and listings, IN_MOVE_SELF, and
 * IN_DELETE_SELF followed by IN_IGNORED when the watched file or
 * directory goes, each watched from its directory and on itself. */
#include "common.h"
#include <sys/inotify.h>
#include <utime.h>

static const char *mname(uint32_t m)
{
	static char b[192];
	b[0] = 0;
	struct { uint32_t bit; const char *n; } t[] = {
		{IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
		{IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
		{IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
		{IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
		{IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"}};
	for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++)
		if (m & t[i].bit) {
			strcat(b, b[0] ? "|" : "");
			strcat(b, t[i].n);
		}
	return b;
}

static int fd, wdir, wfile, wsub;

static void drain(const char *label)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n = read(fd, buf, sizeof buf);
	printf("%s:", label);
	if (n < 0) {
		printf(" %s\n", errname(errno));
		return;
	}
	for (char *p = buf; p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		const char *who = e->wd == wdir ? "dir" : e->wd == wfile ? "file" : e->wd == wsub ? "sub" : "?";
		printf(" [%s %s %s]", who, mname(e->mask), e->len ? e->name : "-");
		p += sizeof *e + e->len;
	}
	printf("\n");
}

int main(void)
{
	fd = CHECK(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	CHECK(mkdir("s", 0755));
	CHECK(mkdir("s/sub", 0755));
	int f = CHECK(open("s/f", O_CREAT | O_WRONLY, 0644));
	CHECK(write(f, "hello", 5));
	CHECK(close(f));
	wdir = CHECK(inotify_add_watch(fd, "s", IN_ALL_EVENTS));
	wfile = CHECK(inotify_add_watch(fd, "s/f", IN_ALL_EVENTS));
	wsub = CHECK(inotify_add_watch(fd, "s/sub", IN_ALL_EVENTS));
	drain("nothing yet");

	/* open, read, read at EOF, close. */
	char buf[16];
	f = CHECK(open("s/f", O_RDONLY));
	drain("open");
	CHECK(read(f, buf, sizeof buf));
	CHECK(read(f, buf, sizeof buf));
	drain("read");
	CHECK(pread(f, buf, 2, 1));
	drain("pread");
	CHECK(close(f));
	drain("close ro");
	f = CHECK(open("s/f", O_RDWR));
	CHECK(write(f, "x", 1));
	int g = CHECK(dup(f));
	CHECK(close(f));
	drain("rw, one close of two");
	CHECK(dup2(0, g));
	drain("dup2 over the last");
	f = CHECK(open("s/f", O_PATH));
	CHECK(close(f));
	drain("O_PATH");

	/* Attributes. */
	CHECK(chmod("s/f", 0600));
	drain("chmod");
	CHECK(chown("s/f", getuid(), getgid()));
	drain("chown");
	CHECK(utime("s/f", NULL));
	drain("utime");
	CHECK(link("s/f", "s/f2"));
	drain("link");
	CHECK(unlink("s/f2"));
	drain("unlink one name");

	/* Directories: open, list, close, attributes. */
	int d = CHECK(open("s/sub", O_RDONLY | O_DIRECTORY));
	char dents[1024];
	CHECK(syscall(SYS_getdents64, d, dents, sizeof dents));
	CHECK(close(d));
	drain("list sub");
	CHECK(chmod("s/sub", 0700));
	drain("chmod sub");

	/* A child that opens the file and exits with it open. */
	pid_t pid = fork();
	if (pid == 0) {
		if (open("s/f", O_RDONLY) < 0)
			_exit(3);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	drain("child exit");

	/* Moves. */
	CHECK(rename("s/f", "s/g"));
	drain("rename file");
	CHECK(rename("s/sub", "s/sub2"));
	drain("rename sub");

	/* Deletion: IN_DELETE_SELF, then IN_IGNORED. */
	CHECK(unlink("s/g"));
	drain("unlink last name");
	CHECK(rmdir("s/sub2"));
	drain("rmdir sub");
	CHECK(inotify_rm_watch(fd, wfile));
	CHECK(rmdir("s"));
	drain("rmdir watched dir");
	return 0;
}
