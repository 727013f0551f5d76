/* POSIX record locks within a process and across fork. */
#include "common.h"

static void getlk(const char *label, int fd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(fd, F_GETLK, &fl) < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	const char *t = fl.l_type == F_UNLCK ? "unlck" : fl.l_type == F_RDLCK ? "rdlck" : "wrlck";
	if (fl.l_type == F_UNLCK)
		printf("%s: %s\n", label, t);
	else
		printf("%s: %s start=%lld len=%lld pid_is_parent=%d\n", label, t,
		       (long long)fl.l_start, (long long)fl.l_len, fl.l_pid == getppid());
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

int main(void)
{
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECKV(write(fd, "0123456789", 10));

	CHECK(setlk(fd, F_SETLK, F_WRLCK, 0, 5));
	CHECK(setlk(fd, F_SETLK, F_RDLCK, 3, 4));
	/* Own locks never conflict. */
	getlk("own getlk", fd, F_WRLCK, 0, 0);
	CHECK(setlk(fd, F_SETLK, 7, 0, 1));
	CHECK(setlk(fd, F_SETLK, F_WRLCK, -5, 1));
	struct flock bad = {.l_type = F_WRLCK, .l_whence = 9};
	CHECK(fcntl(fd, F_SETLK, &bad));
	CHECK(fcntl(fd, F_GETLK, (void *)1));

	int ro = open("f", O_RDONLY);
	CHECK(setlk(ro, F_SETLK, F_WRLCK, 20, 1));
	CHECK(setlk(ro, F_SETLK, F_RDLCK, 20, 1));
	int wo = open("f", O_WRONLY);
	CHECK(setlk(wo, F_SETLK, F_RDLCK, 30, 1));

	int sync1[2], sync2[2];
	pipe(sync1);
	pipe(sync2);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		int cfd = open("f", O_RDWR);
		getlk("child getlk wr 0-0", cfd, F_WRLCK, 0, 0);
		getlk("child getlk rd 0-1", cfd, F_RDLCK, 0, 1);
		getlk("child getlk rd 4-1", cfd, F_RDLCK, 4, 1);
		getlk("child getlk wr 5-1", cfd, F_WRLCK, 5, 1);
		getlk("child getlk wr 7-100", cfd, F_WRLCK, 7, 100);
		getlk("child getlk wr 20-1", cfd, F_WRLCK, 20, 1);
		CHECK(setlk(cfd, F_SETLK, F_WRLCK, 0, 1));
		CHECK(setlk(cfd, F_SETLK, F_RDLCK, 3, 1));
		CHECK(setlk(cfd, F_SETLK, F_RDLCK, 5, 1));
		CHECK(setlk(cfd, F_SETLK, F_WRLCK, 100, 0));
		/* Blocks until the parent unlocks. */
		write(sync1[1], "g", 1);
		CHECK(setlk(cfd, F_SETLKW, F_WRLCK, 0, 1));
		read(sync2[0], &c, 1);
		printf("child got lock after parent unlocked\n");
		getlk("child getlk after", cfd, F_WRLCK, 0, 10);
		exit(0);
	}
	char c;
	read(sync1[0], &c, 1);
	usleep(100000);
	printf("parent unlocking\n");
	write(sync2[1], "g", 1);
	/* Print only after the child is done, so output order is fixed. */
	int ur = setlk(fd, F_SETLK, F_UNLCK, 0, 0);
	int ue = errno;
	wait_child("child", pid);
	printf("parent unlock: %s\n", ur < 0 ? errname(ue) : "ok");

	/* Closing any fd for the file drops the process's locks. */
	CHECK(setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	int other = open("f", O_RDONLY);
	close(other);
	pid = fork();
	if (pid == 0) {
		int cfd = open("f", O_RDWR);
		getlk("child after close-other", cfd, F_WRLCK, 0, 10);
		exit(0);
	}
	wait_child("child2", pid);

	/* Locks are not inherited by fork. */
	CHECK(setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	pid = fork();
	if (pid == 0) {
		CHECK(setlk(fd, F_SETLK, F_WRLCK, 0, 1));
		exit(0);
	}
	wait_child("child3", pid);

	/* Open file description locks. */
	struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 5};
	CHECK(fcntl(fd, F_OFD_SETLK, &ofd));
	int fd2 = open("f", O_RDWR);
	struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 1};
	CHECK(fcntl(fd2, F_OFD_GETLK, &q));
	printf("ofd getlk type=%s pid=%d\n", q.l_type == F_WRLCK ? "wrlck" : "other", q.l_pid);
	struct flock q2 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 1};
	CHECK(fcntl(fd2, F_OFD_SETLK, &q2));
	struct flock q3 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 1, .l_pid = 1};
	CHECK(fcntl(fd2, F_OFD_SETLK, &q3));
	return 0;
}
