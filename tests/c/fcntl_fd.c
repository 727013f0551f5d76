/* fcntl: descriptor and status flags. */
#include "common.h"
#include <sys/resource.h>

int main(void)
{
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECKV(fcntl(fd, F_DUPFD, 0));
	CHECKV(fcntl(fd, F_DUPFD, 10));
	CHECKV(fcntl(fd, F_DUPFD, 10));
	CHECKV(fcntl(10, F_GETFD));
	CHECKV(fcntl(fd, F_DUPFD_CLOEXEC, 20));
	CHECKV(fcntl(20, F_GETFD));
	CHECKV(fcntl(fd, F_DUPFD, -1));
	CHECKV(fcntl(fd, F_DUPFD, 1 << 30));

	CHECKV(fcntl(fd, F_GETFD));
	CHECKV(fcntl(fd, F_SETFD, FD_CLOEXEC));
	CHECKV(fcntl(fd, F_GETFD));
	CHECKV(fcntl(fd, F_SETFD, 0xff));
	CHECKV(fcntl(fd, F_GETFD));
	CHECKV(fcntl(fd, F_SETFD, 0));
	CHECKV(fcntl(fd, F_GETFD));

	/* F_GETFL includes the access mode and O_LARGEFILE on 64-bit. */
	printf("getfl rdwr: 0%lo\n", (long)fcntl(fd, F_GETFL));
	CHECKV(fcntl(fd, F_SETFL, O_APPEND));
	printf("getfl append: 0%lo\n", (long)fcntl(fd, F_GETFL));
	CHECKV(write(fd, "ab", 2));
	CHECKV(lseek(fd, 0, SEEK_SET));
	CHECKV(write(fd, "cd", 2));
	show_file("f");
	CHECKV(fcntl(fd, F_SETFL, O_NONBLOCK));
	printf("getfl nonblock: 0%lo\n", (long)fcntl(fd, F_GETFL));
	/* Access mode and creation flags cannot be changed. */
	CHECKV(fcntl(fd, F_SETFL, O_RDONLY | O_TRUNC | O_CREAT | O_EXCL));
	printf("getfl after: 0%lo\n", (long)fcntl(fd, F_GETFL));
	close(fd);

	fd = open("f", O_RDONLY);
	printf("getfl rdonly: 0%lo\n", (long)fcntl(fd, F_GETFL));
	close(fd);
	fd = open("f", O_WRONLY | O_APPEND | O_CLOEXEC);
	printf("getfl wronly append: 0%lo\n", (long)fcntl(fd, F_GETFL));
	close(fd);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	printf("getfl dir: 0%lo\n", (long)fcntl(fd, F_GETFL));
	close(fd);
	fd = open("f", O_PATH);
	printf("getfl path: 0%lo\n", (long)fcntl(fd, F_GETFL));
	close(fd);

	int p[2];
	pipe2(p, O_NONBLOCK);
	printf("getfl pipe r: 0%lo\n", (long)fcntl(p[0], F_GETFL));
	printf("getfl pipe w: 0%lo\n", (long)fcntl(p[1], F_GETFL));
	CHECKV(fcntl(p[0], F_SETFL, 0));
	printf("getfl pipe r: 0%lo\n", (long)fcntl(p[0], F_GETFL));
	CHECKV(fcntl(p[0], F_GETPIPE_SZ));
	CHECKV(fcntl(p[0], F_SETPIPE_SZ, 8192));
	CHECKV(fcntl(p[0], F_GETPIPE_SZ));
	CHECKV(fcntl(p[0], F_SETPIPE_SZ, 100));
	CHECKV(fcntl(p[0], F_GETPIPE_SZ));
	/* Past 2^31: EINVAL; past pipe-max-size unprivileged: EPERM. */
	CHECKV(fcntl(p[0], F_SETPIPE_SZ, (1U << 31) + 1));
	if (fork() == 0) {
		if (setuid(65534) == 0)
			CHECKV(fcntl(p[0], F_SETPIPE_SZ, 1 << 30));
		_exit(0);
	}
	wait(NULL);
	fd = open("f", O_RDONLY);
	CHECKV(fcntl(fd, F_GETPIPE_SZ));
	close(fd);

	CHECKV(fcntl(p[0], 12345));
	CHECKV(fcntl(9999, F_GETFL));

	/* F_DUPFD honours RLIMIT_NOFILE. */
	struct rlimit rl = {32, 32};
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	CHECKV(fcntl(p[0], F_DUPFD, 31));
	CHECKV(fcntl(p[0], F_DUPFD, 32));
	CHECKV(dup2(p[0], 32));
	CHECKV(dup3(p[0], 40, 0));
	return 0;
}
