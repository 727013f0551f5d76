/* lseek: whence values, errors, SEEK_DATA/SEEK_HOLE basics. */
#include "common.h"

int main(void)
{
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECKV(write(fd, "0123456789", 10));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(lseek(fd, 3, SEEK_SET));
	CHECKV(lseek(fd, 2, SEEK_CUR));
	CHECKV(lseek(fd, -1, SEEK_CUR));
	CHECKV(lseek(fd, 0, SEEK_END));
	CHECKV(lseek(fd, -4, SEEK_END));
	CHECKV(lseek(fd, 5, SEEK_END));
	CHECKV(lseek(fd, 100, SEEK_SET));
	CHECKV(lseek(fd, -1, SEEK_SET));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(lseek(fd, -200, SEEK_CUR));
	CHECKV(lseek(fd, -11, SEEK_END));
	CHECKV(lseek(fd, 0, 7));
	CHECKV(lseek(fd, 0, -1));
	CHECKV(lseek(fd, (off_t)1 << 40, SEEK_SET));
	CHECKV(lseek(fd, 1, SEEK_CUR));
	CHECKV(lseek(fd, 100, SEEK_SET));

	/* Fully written file: data at 0, hole at EOF. */
	CHECKV(lseek(fd, 0, SEEK_DATA));
	CHECKV(lseek(fd, 4, SEEK_DATA));
	CHECKV(lseek(fd, 0, SEEK_HOLE));
	CHECKV(lseek(fd, 10, SEEK_DATA));
	CHECKV(lseek(fd, 10, SEEK_HOLE));
	CHECKV(lseek(fd, 11, SEEK_HOLE));
	CHECKV(lseek(fd, -1, SEEK_DATA));
	close(fd);

	fd = open("empty", O_CREAT | O_RDWR, 0644);
	CHECKV(lseek(fd, 0, SEEK_END));
	CHECKV(lseek(fd, 0, SEEK_DATA));
	CHECKV(lseek(fd, 0, SEEK_HOLE));
	close(fd);

	/* Seek then read at offset. */
	fd = open("f", O_RDONLY);
	char c;
	lseek(fd, 7, SEEK_SET);
	CHECKV(read(fd, &c, 1));
	printf("byte at 7: %c\n", c);
	lseek(fd, 50, SEEK_SET);
	CHECKV(read(fd, &c, 1));
	close(fd);

	int p[2];
	pipe(p);
	CHECKV(lseek(p[0], 0, SEEK_CUR));
	CHECKV(lseek(p[1], 0, SEEK_SET));
	close(p[0]);
	close(p[1]);

	/* Directories and char devices. */
	fd = open(".", O_RDONLY | O_DIRECTORY);
	CHECKV(lseek(fd, 0, SEEK_SET));
	CHECKV(lseek(fd, -1, SEEK_SET));
	close(fd);
	fd = open("/dev/null", O_RDWR);
	CHECKV(lseek(fd, 123, SEEK_SET));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	close(fd);
	fd = open("/dev/zero", O_RDONLY);
	CHECKV(lseek(fd, 55, SEEK_SET));
	close(fd);
	return 0;
}
