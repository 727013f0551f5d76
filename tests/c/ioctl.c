/* ioctl: FIONREAD, TCGETS on non-ttys, FIOCLEX/FIONCLEX, FIONBIO. */
#include "common.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(void)
{
	int p[2], n = -1;
	struct termios t;
	pipe(p);
	CHECK(ioctl(p[0], FIONREAD, &n));
	printf("empty pipe FIONREAD: %d\n", n);
	write(p[1], "12345", 5);
	CHECK(ioctl(p[0], FIONREAD, &n));
	printf("pipe FIONREAD: %d\n", n);
	CHECK(ioctl(p[0], FIONREAD, (int *)1));
	CHECK(ioctl(p[0], TCGETS, &t));
	CHECK(ioctl(p[1], TCGETS, &t));

	CHECK(write_file("f", "0123456789"));
	int fd = open("f", O_RDWR);
	CHECK(ioctl(fd, TCGETS, &t));
	CHECK(ioctl(fd, TIOCGWINSZ, &t));
	CHECK(ioctl(fd, FIONREAD, &n));
	printf("file FIONREAD: %d\n", n);
	lseek(fd, 4, SEEK_SET);
	CHECK(ioctl(fd, FIONREAD, &n));
	printf("file FIONREAD at 4: %d\n", n);
	CHECK(ioctl(fd, 0x12345678, 0));
	CHECK(isatty(fd) ? 0 : -1);

	CHECK(ioctl(fd, FIOCLEX));
	CHECKV(fcntl(fd, F_GETFD));
	CHECK(ioctl(fd, FIONCLEX));
	CHECKV(fcntl(fd, F_GETFD));
	int on = 1;
	CHECK(ioctl(p[0], FIONBIO, &on));
	printf("nonblock set: %d\n", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
	char c[8];
	read(p[0], c, 5);
	CHECKV(read(p[0], c, 1));
	on = 0;
	CHECK(ioctl(p[0], FIONBIO, &on));
	printf("nonblock cleared: %d\n", (fcntl(p[0], F_GETFL) & O_NONBLOCK) == 0);
	close(fd);

	int dn = open("/dev/null", O_RDWR);
	CHECK(ioctl(dn, TCGETS, &t));
	CHECK(tcgetattr(dn, &t));
	CHECK(ioctl(9999, TCGETS, &t));
	int dfd = open(".", O_RDONLY);
	CHECK(ioctl(dfd, FIONREAD, &n));
	CHECK(ioctl(dfd, TCGETS, &t));
	return 0;
}
