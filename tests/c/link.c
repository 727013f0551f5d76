/* link/linkat and nlink counts. */
#include "common.h"

int main(void)
{
	CHECK(write_file("f", "data"));
	show_stat("f");
	CHECK(link("f", "l1"));
	CHECK(link("f", "l2"));
	show_stat("f");
	CHECK(link("f", "l1"));
	CHECK(link("nope", "l3"));
	CHECK(link("f", "nodir/l3"));
	CHECK(link("f", "l3/"));
	CHECK(link("f/", "l3"));
	CHECK(mkdir("d", 0755));
	CHECK(link("d", "dlink"));
	CHECK(link("f", "d"));
	CHECK(link("f", "d/inside"));
	show_stat("d/inside");
	CHECK(unlink("l1"));
	show_stat("f");

	/* linkat: symlinks followed only with AT_SYMLINK_FOLLOW. */
	CHECK(symlink("f", "sl"));
	CHECK(linkat(AT_FDCWD, "sl", AT_FDCWD, "hl-nofollow", 0));
	show_lstat("hl-nofollow");
	CHECK(linkat(AT_FDCWD, "sl", AT_FDCWD, "hl-follow", AT_SYMLINK_FOLLOW));
	show_lstat("hl-follow");
	show_lstat("sl");
	CHECK(linkat(AT_FDCWD, "sl", AT_FDCWD, "x", 0x1));
	CHECK(symlink("nowhere", "dang"));
	CHECK(linkat(AT_FDCWD, "dang", AT_FDCWD, "hl-dang", 0));
	CHECK(linkat(AT_FDCWD, "dang", AT_FDCWD, "hl-dang2", AT_SYMLINK_FOLLOW));
	show_lstat("hl-dang");

	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	CHECK(linkat(AT_FDCWD, "f", dfd, "at", 0));
	CHECK(linkat(dfd, "at", AT_FDCWD, "back", 0));
	show_stat("back");
	int ffd = open("f", O_RDONLY);
	CHECK(linkat(ffd, "", AT_FDCWD, "empty", 0));
	CHECK(linkat(ffd, "", AT_FDCWD, "empty", AT_EMPTY_PATH));
	show_stat("empty");
	close(ffd);

	/* Writes through one name are visible through the others. */
	int fd = open("l2", O_WRONLY | O_APPEND);
	write(fd, "+more", 5);
	close(fd);
	show_file("f");
	show_file("d/inside");

	/* Unlinking all but one. */
	CHECK(unlink("f"));
	CHECK(unlink("l2"));
	show_stat("d/inside");
	list_dir(".");
	(void)dfd;
	return 0;
}
