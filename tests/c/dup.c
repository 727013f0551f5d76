/* dup/dup2/dup3. */
#include "common.h"

int main(void)
{
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	int d = CHECKV(dup(fd));
	CHECKV(write(fd, "abc", 3));
	CHECKV(lseek(d, 0, SEEK_CUR));
	CHECKV(write(d, "def", 3));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	show_file("f");

	CHECKV(dup2(fd, fd));
	CHECKV(dup2(fd, 50));
	CHECKV(fcntl(50, F_GETFD));
	CHECKV(lseek(50, 0, SEEK_CUR));
	CHECKV(dup2(fd, 50));
	CHECKV(dup2(9999, 51));
	CHECKV(dup2(fd, -1));
	CHECKV(dup2(fd, 1 << 20));
	CHECKV(dup2(9999, 9999));

	CHECKV(dup3(fd, fd, 0));
	CHECKV(dup3(fd, 60, O_CLOEXEC));
	CHECKV(fcntl(60, F_GETFD));
	CHECKV(dup3(fd, 61, 0));
	CHECKV(fcntl(61, F_GETFD));
	CHECKV(dup3(fd, 62, O_NONBLOCK));
	CHECKV(dup3(fd, 62, 0x40000000));

	/* dup never copies close-on-exec. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	d = dup(fd);
	CHECKV(fcntl(d, F_GETFD));
	int d2 = dup2(fd, 70);
	CHECKV(fcntl(d2, F_GETFD));
	close(d);

	/* dup2 over an open fd closes it silently. */
	int g = open("g", O_CREAT | O_RDWR, 0644);
	CHECKV(dup2(fd, g));
	CHECKV(write(g, "X", 1));
	show_file("f");
	show_file("g");

	/* Flags are shared between dups (they share the description). */
	fcntl(fd, F_SETFL, O_APPEND);
	CHECKV(fcntl(50, F_GETFL) & O_APPEND);

	/* Lowest available fd. */
	close(50);
	close(d2);
	CHECKV(dup(fd));
	CHECKV(fcntl(fd, F_DUPFD, 45));
	return 0;
}
