/* unlink/unlinkat. */
#include "common.h"

int main(void)
{
	char buf[16];
	CHECK(write_file("f", "still here"));
	CHECK(mkdir("d", 0755));
	CHECK(symlink("f", "lnk"));
	CHECK(symlink("d", "dlnk"));
	CHECK(unlink("d"));
	CHECK(unlink("nope"));
	CHECK(unlink("f/"));
	CHECK(unlink("dlnk/"));
	CHECK(unlink(""));
	CHECK(unlink("."));
	CHECK(unlink("lnk"));
	show_stat("f");
	CHECK(unlink("dlnk"));
	show_stat("d");

	/* An unlinked open file stays readable; nlink drops to 0. */
	int fd = open("f", O_RDWR);
	CHECK(unlink("f"));
	show_stat("f");
	struct stat st;
	fstat(fd, &st);
	print_stat("fstat unlinked", &st);
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	print_bytes("read unlinked", buf, n);
	CHECKV(write(fd, "more", 4));
	close(fd);

	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(write_file("g", ""));
	CHECK(unlinkat(dfd, "g", 0));
	CHECK(unlinkat(dfd, "d", 0));
	CHECK(unlinkat(dfd, "d", AT_REMOVEDIR));
	CHECK(write_file("h", ""));
	CHECK(unlinkat(dfd, "h", 0x1));
	CHECK(unlinkat(dfd, "h", AT_SYMLINK_NOFOLLOW));
	CHECK(unlinkat(9999, "h", 0));
	CHECK(unlinkat(9999, "/nonexistent-rvisor-test", 0));
	CHECK(unlink("/proc/self/status"));
	CHECK(unlink("h/x"));

	/* Hard links: one name gone, the other remains. */
	CHECK(write_file("a", "A"));
	CHECK(link("a", "b"));
	CHECK(unlink("a"));
	show_stat("b");
	show_file("b");

	/* fifo */
	CHECK(mkfifo("fifo", 0644));
	CHECK(unlink("fifo"));
	list_dir(".");
	return 0;
}
