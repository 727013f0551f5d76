/* openat/mkdirat/... relative to dirfds. */
#include "common.h"

int main(void)
{
	char buf[64];
	CHECK(mkdir("d", 0755));
	CHECK(mkdir("d/sub", 0755));
	CHECK(write_file("d/f", "in-d"));
	CHECK(write_file("f", "in-cwd"));

	int dfd = CHECK(open("d", O_RDONLY | O_DIRECTORY));
	int fd = CHECK(openat(dfd, "f", O_RDONLY));
	ssize_t n = read(fd, buf, sizeof buf);
	print_bytes("d/f", buf, n);
	close(fd);

	fd = CHECK(openat(AT_FDCWD, "f", O_RDONLY));
	n = read(fd, buf, sizeof buf);
	print_bytes("./f", buf, n);
	close(fd);

	fd = CHECK(openat(dfd, "sub/../f", O_RDONLY));
	n = read(fd, buf, sizeof buf);
	print_bytes("d/sub/../f", buf, n);
	close(fd);

	fd = CHECK(openat(dfd, "../f", O_RDONLY));
	n = read(fd, buf, sizeof buf);
	print_bytes("d/../f", buf, n);
	close(fd);

	/* Absolute path ignores dirfd, even a bad one. */
	fd = CHECK(openat(12345, "/dev/null", O_RDONLY));
	close(fd);
	CHECK(openat(12345, "f", O_RDONLY));
	CHECK(openat(-5, "f", O_RDONLY));

	int ffd = CHECK(open("f", O_RDONLY));
	CHECK(openat(ffd, "x", O_RDONLY));
	CHECK(openat(ffd, "", O_RDONLY));
	close(ffd);

	fd = CHECK(openat(dfd, "new", O_CREAT | O_WRONLY | O_EXCL, 0600));
	close(fd);
	show_stat("d/new");
	CHECK(mkdirat(dfd, "newdir", 0700));
	show_stat("d/newdir");
	CHECK(symlinkat("new", dfd, "lnk"));
	n = readlinkat(dfd, "lnk", buf, sizeof buf);
	print_bytes("readlinkat", buf, n < 0 ? 0 : n);
	CHECK(unlinkat(dfd, "lnk", 0));
	CHECK(renameat(dfd, "new", AT_FDCWD, "moved"));
	show_stat("moved");
	CHECK(linkat(AT_FDCWD, "moved", dfd, "hl", 0));
	show_stat("d/hl");
	CHECK(unlinkat(dfd, "newdir", AT_REMOVEDIR));
	list_dir("d");

	/* The dirfd keeps pointing at the directory after it is renamed. */
	CHECK(rename("d", "d2"));
	fd = CHECK(openat(dfd, "f", O_RDONLY));
	n = read(fd, buf, sizeof buf);
	print_bytes("renamed dir f", buf, n);
	close(fd);
	close(dfd);
	return 0;
}
