/* open/creat flag matrix. */
#include "common.h"

static void show_content(const char *path)
{
	show_file(path);
}

int main(void)
{
	int fd;
	char buf[64];

	fd = CHECK(open("f", O_CREAT | O_EXCL | O_WRONLY, 0640));
	close(fd);
	show_stat("f");
	CHECK(open("f", O_CREAT | O_EXCL | O_WRONLY, 0640));
	CHECK(write_file("f", "hello world"));

	fd = CHECK(open("f", O_RDWR | O_TRUNC));
	struct stat st;
	fstat(fd, &st);
	printf("size after O_TRUNC: %lld\n", (long long)st.st_size);
	close(fd);

	fd = CHECK(open("f", O_WRONLY | O_APPEND));
	CHECKV(write(fd, "abc", 3));
	CHECKV(lseek(fd, 0, SEEK_SET));
	CHECKV(write(fd, "def", 3));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	close(fd);
	show_content("f");

	/* O_RDONLY|O_TRUNC still truncates on Linux. */
	fd = CHECK(open("f", O_RDONLY | O_TRUNC));
	CHECKV(read(fd, buf, sizeof buf));
	close(fd);
	write_file("f", "data");

	CHECK(open("f", O_RDONLY | O_DIRECTORY));
	CHECK(open("nonexistent", O_RDONLY));
	CHECK(open("nonexistent/x", O_CREAT | O_WRONLY, 0644));
	CHECK(open("f/x", O_RDONLY));
	CHECK(open("f/", O_RDONLY));
	CHECK(open("f/", O_CREAT | O_WRONLY, 0644));
	CHECK(open("newfile/", O_CREAT | O_WRONLY, 0644));
	show_stat("newfile");

	CHECK(symlink("f", "lnk"));
	CHECK(open("lnk", O_RDONLY | O_NOFOLLOW));
	fd = CHECK(open("lnk", O_RDONLY));
	CHECKV(read(fd, buf, sizeof buf));
	close(fd);
	CHECK(open("lnk", O_CREAT | O_EXCL | O_WRONLY, 0644));

	CHECK(mkdir("d", 0755));
	CHECK(open("d", O_WRONLY));
	CHECK(open("d", O_RDWR));
	CHECK(open("d", O_CREAT | O_WRONLY, 0644));
	CHECK(open("d", O_CREAT | O_EXCL | O_WRONLY, 0644));
	fd = CHECK(open("d", O_RDONLY));
	close(fd);
	fd = CHECK(open("d", O_RDONLY | O_DIRECTORY));
	CHECKV(read(fd, buf, sizeof buf));
	CHECKV(write(fd, "x", 1));
	close(fd);
	fd = CHECK(open("d/", O_RDONLY | O_DIRECTORY));
	close(fd);

	/* O_CREAT through a dangling symlink creates its target. */
	CHECK(symlink("target1", "dang"));
	fd = CHECK(open("dang", O_CREAT | O_WRONLY, 0600));
	close(fd);
	show_stat("target1");
	show_lstat("dang");
	CHECK(symlink("target2", "dang2"));
	CHECK(open("dang2", O_CREAT | O_EXCL | O_WRONLY, 0600));
	show_lstat("target2");
	CHECK(open("dang2", O_RDONLY));

	/* creat() == O_CREAT|O_WRONLY|O_TRUNC */
	fd = CHECK(creat("c", 0751));
	CHECKV(write(fd, "12345", 5));
	CHECKV(read(fd, buf, 1));
	close(fd);
	show_stat("c");
	fd = CHECK(creat("c", 0600));
	close(fd);
	show_stat("c");

	/* Special mode bits are kept for root, the type bits ignored. */
	fd = CHECK(open("m", O_CREAT | O_WRONLY, 0177777));
	close(fd);
	show_stat("m");

	/* Access mode 3: neither read nor write allowed. */
	fd = CHECK(open("f", O_WRONLY | O_RDWR));
	if (fd >= 0) {
		CHECKV(read(fd, buf, 1));
		CHECKV(write(fd, "x", 1));
		close(fd);
	}

	fd = CHECK(open("f", O_RDONLY | O_CLOEXEC));
	CHECKV(fcntl(fd, F_GETFD));
	close(fd);
	fd = CHECK(open("f", O_RDONLY));
	CHECKV(fcntl(fd, F_GETFD));
	close(fd);
	fd = CHECK(open("f", O_RDONLY | O_NOATIME));
	close(fd);

	/* Read-only, write-only fds. */
	fd = CHECK(open("f", O_RDONLY));
	CHECKV(write(fd, "x", 1));
	close(fd);
	fd = CHECK(open("f", O_WRONLY));
	CHECKV(read(fd, buf, 1));
	close(fd);

	/* Lowest free fd is used. */
	int a = open("f", O_RDONLY), b = open("f", O_RDONLY);
	close(a);
	fd = open("f", O_RDONLY);
	printf("reuses lowest fd: %s\n", fd == a ? "yes" : "no");
	close(fd);
	close(b);
	return 0;
}
