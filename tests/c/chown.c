/* chown/fchown/lchown/fchownat as root. */
#include "common.h"

int main(void)
{
	CHECK(write_file("f", "x"));
	CHECK(mkdir("d", 0755));
	CHECK(symlink("f", "lnk"));
	CHECK(chown("f", 1000, 2000));
	show_stat("f");
	CHECK(chown("f", -1, 3000));
	show_stat("f");
	CHECK(chown("f", 4000, -1));
	show_stat("f");
	CHECK(chown("f", -1, -1));
	show_stat("f");
	CHECK(chown("lnk", 5, 6));
	show_stat("f");
	show_lstat("lnk");
	CHECK(lchown("lnk", 7, 8));
	show_lstat("lnk");
	show_stat("f");
	CHECK(chown("nope", 1, 1));
	CHECK(chown("d", 65534, 65534));
	show_stat("d");

	int fd = open("f", O_RDONLY);
	CHECK(fchown(fd, 11, 12));
	show_stat("f");
	CHECK(fchown(9999, 1, 1));
	close(fd);

	CHECK(fchownat(AT_FDCWD, "lnk", 21, 22, AT_SYMLINK_NOFOLLOW));
	show_lstat("lnk");
	CHECK(fchownat(AT_FDCWD, "lnk", 23, 24, 0));
	show_stat("f");
	fd = open("f", O_RDONLY);
	CHECK(fchownat(fd, "", 31, 32, AT_EMPTY_PATH));
	show_stat("f");
	CHECK(fchownat(fd, "", 31, 32, 0));
	CHECK(fchownat(AT_FDCWD, "f", 1, 1, 0x1));
	close(fd);

	/* chown clears setuid/setgid on regular files. */
	CHECK(chmod("f", 06755));
	show_stat("f");
	CHECK(chown("f", 0, 0));
	show_stat("f");
	CHECK(chmod("f", 02745));
	CHECK(chown("f", -1, -1));
	show_stat("f");
	CHECK(chmod("d", 06755));
	CHECK(chown("d", 0, 0));
	show_stat("d");

	/* Large ids. */
	CHECK(chown("f", 100000, 100000));
	show_stat("f");
	CHECK(chown("f", (uid_t)-2, (gid_t)-2));
	show_stat("f");

	/* Files created inherit fsuid/fsgid (root). */
	CHECK(write_file("new", ""));
	show_stat("new");
	return 0;
}
