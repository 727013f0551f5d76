/* /dev/null, /dev/zero, /dev/full, /dev/urandom, /dev/random. */
#include "common.h"
#include <sys/mman.h>
#include <sys/random.h>

int main(void)
{
	char buf[256];
	struct stat st;
	const char *devs[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random"};
	for (unsigned i = 0; i < 5; i++) {
		if (stat(devs[i], &st) < 0) {
			printf("%s: %s\n", devs[i], errname(errno));
			continue;
		}
		printf("%s: type=%s mode=%04o\n", devs[i], ftype(st.st_mode), st.st_mode & 07777);
	}

	int fd = CHECK(open("/dev/null", O_RDWR));
	CHECKV(read(fd, buf, sizeof buf));
	CHECKV(write(fd, buf, sizeof buf));
	CHECKV(write(fd, buf, 0));
	CHECKV(lseek(fd, 100, SEEK_SET));
	CHECKV(pread(fd, buf, 10, 5));
	close(fd);

	fd = CHECK(open("/dev/zero", O_RDWR));
	memset(buf, 0xff, sizeof buf);
	CHECKV(read(fd, buf, sizeof buf));
	int zeros = 1;
	for (unsigned i = 0; i < sizeof buf; i++)
		zeros &= buf[i] == 0;
	printf("zero filled: %d\n", zeros);
	CHECKV(write(fd, buf, 10));
	static char big[1 << 20];
	CHECKV(read(fd, big, sizeof big));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("mmap /dev/zero: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	if (m != MAP_FAILED) {
		m[10] = 1;
		printf("mmap byte: %d %d\n", m[10], m[4000]);
	}
	close(fd);

	fd = CHECK(open("/dev/full", O_RDWR));
	CHECKV(write(fd, "x", 1));
	CHECKV(write(fd, "x", 0));
	memset(buf, 0xff, sizeof buf);
	CHECKV(read(fd, buf, 16));
	printf("full reads zero: %d\n", buf[0] == 0 && buf[15] == 0);
	close(fd);

	fd = CHECK(open("/dev/urandom", O_RDONLY));
	memset(buf, 0, sizeof buf);
	CHECKV(read(fd, buf, 64));
	int nonzero = 0;
	for (int i = 0; i < 64; i++)
		nonzero += buf[i] != 0;
	printf("urandom mostly nonzero: %d\n", nonzero > 32);
	char buf2[64];
	read(fd, buf2, 64);
	printf("urandom differs: %d\n", memcmp(buf, buf2, 64) != 0);
	CHECKV(read(fd, big, sizeof big));
	close(fd);
	fd = CHECK(open("/dev/random", O_RDONLY));
	CHECKV(read(fd, buf, 32));
	close(fd);
	CHECKV(getrandom(buf, 32, 0));
	CHECKV(getrandom(buf, 32, GRND_NONBLOCK));
	CHECKV(getrandom(buf, 32, 0x100));

	/* Redirecting via dup2 to /dev/null. */
	fd = open("/dev/null", O_WRONLY);
	int saved = dup(2);
	dup2(fd, 2);
	fprintf(stderr, "this goes nowhere\n");
	dup2(saved, 2);
	printf("stderr restored\n");

	/* Opening /dev/null with O_CREAT/O_TRUNC is fine. */
	fd = CHECK(open("/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	close(fd);
	fd = CHECK(open("/dev/null", O_WRONLY | O_CREAT | O_EXCL, 0644));
	CHECK(open("/dev/null", O_RDONLY | O_DIRECTORY));
	CHECK(open("/dev/null/x", O_RDONLY));
	list_dir("/dev/fd/");
	return 0;
}
