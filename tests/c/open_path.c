/* O_PATH descriptors. */
#include "common.h"
#include <sys/mman.h>

int main(void)
{
	char buf[16];
	struct stat st;
	CHECK(mkdir("d", 0755));
	CHECK(write_file("d/f", "hello"));
	CHECK(symlink("d/f", "lnk"));

	int fd = CHECK(open("d/f", O_PATH));
	CHECKV(read(fd, buf, sizeof buf));
	CHECKV(write(fd, "x", 1));
	CHECK(fstat(fd, &st));
	print_stat("fstat O_PATH", &st);
	CHECK(fchmod(fd, 0600));
	CHECK(fchown(fd, 0, 0));
	CHECK(ftruncate(fd, 0));
	CHECK(fsync(fd));
	CHECKV(lseek(fd, 0, SEEK_SET));
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
	CHECKV(fcntl(fd, F_GETFL) & ~O_LARGEFILE);
	CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH));
	print_stat("fstatat empty", &st);
	int fd2 = CHECKV(dup(fd));
	close(fd2);
	close(fd);

	/* O_PATH on a directory works as a dirfd and for fchdir. */
	int dfd = CHECK(open("d", O_PATH | O_DIRECTORY));
	fd = CHECK(openat(dfd, "f", O_RDONLY));
	ssize_t n = read(fd, buf, sizeof buf);
	print_bytes("via O_PATH dirfd", buf, n);
	close(fd);
	CHECK(getdents64(dfd, buf, sizeof buf));
	CHECK(fchdir(dfd));
	show_file("f");
	CHECK(chdir(".."));
	close(dfd);

	/* O_PATH|O_NOFOLLOW opens the symlink itself. */
	fd = CHECK(open("lnk", O_PATH | O_NOFOLLOW));
	CHECK(fstat(fd, &st));
	print_stat("symlink O_PATH", &st);
	n = readlinkat(fd, "", buf, sizeof buf);
	if (n < 0)
		printf("readlinkat empty: %s\n", errname(errno));
	else
		print_bytes("readlinkat empty", buf, n);
	CHECK(openat(fd, "", O_RDONLY));
	close(fd);
	fd = CHECK(open("lnk", O_PATH));
	CHECK(fstat(fd, &st));
	print_stat("followed O_PATH", &st);
	close(fd);

	/* Reopen an O_PATH fd via /proc/self/fd. */
	fd = CHECK(open("d/f", O_PATH));
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int rfd = CHECK(open(p, O_RDONLY));
	n = read(rfd, buf, sizeof buf);
	print_bytes("reopened", buf, n);
	close(rfd);
	close(fd);

	/* O_PATH ignores flags other than O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC. */
	fd = CHECK(open("d/f", O_PATH | O_RDWR | O_TRUNC));
	close(fd);
	show_stat("d/f");
	CHECK(open("d/f", O_PATH | O_DIRECTORY));
	CHECK(open("nope", O_PATH));
	fd = CHECK(open("d/f", O_PATH | O_CLOEXEC));
	CHECKV(fcntl(fd, F_GETFD));
	close(fd);
	return 0;
}
