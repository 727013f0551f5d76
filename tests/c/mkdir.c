/* mkdir/mkdirat: errors, modes, umask. */
#include "common.h"

int main(void)
{
	CHECK(mkdir("a", 0777));
	show_stat("a");
	CHECK(mkdir("a", 0777));
	CHECK(mkdir("x/y", 0777));
	CHECK(mkdir("a/b", 0700));
	show_stat("a/b");
	show_stat("a");
	CHECK(mkdir("a/b/", 0700));
	CHECK(mkdir("a/c/", 0700));
	CHECK(mkdir("a/d//", 0700));
	show_stat("a/c");
	CHECK(write_file("f", ""));
	CHECK(mkdir("f", 0755));
	CHECK(mkdir("f/sub", 0755));
	CHECK(mkdir("", 0755));
	CHECK(mkdir(".", 0755));
	CHECK(mkdir("..", 0755));
	CHECK(mkdir("a/.", 0755));
	CHECK(mkdir("/", 0755));

	/* Symlinks in the last component are not followed. */
	CHECK(symlink("target", "dangling"));
	CHECK(mkdir("dangling", 0755));
	show_stat("target");
	CHECK(symlink("a", "alink"));
	CHECK(mkdir("alink/viasym", 0755));
	show_stat("a/viasym");

	/* umask applies. */
	umask(027);
	CHECK(mkdir("m1", 0777));
	show_stat("m1");
	umask(0);
	CHECK(mkdir("m2", 0777));
	show_stat("m2");
	CHECK(mkdir("m3", 01777));
	show_stat("m3");
	CHECK(mkdir("m4", 07777));
	show_stat("m4");
	umask(0777);
	CHECK(mkdir("m5", 0777));
	show_stat("m5");
	umask(022);

	/* setgid directories propagate to children. */
	CHECK(mkdir("sg", 0755));
	CHECK(chown("sg", 0, 1234));
	CHECK(chmod("sg", 02755));
	CHECK(mkdir("sg/child", 0755));
	show_stat("sg/child");
	CHECK(write_file("sg/file", ""));
	show_stat("sg/file");

	int dfd = open("a", O_RDONLY | O_DIRECTORY);
	CHECK(mkdirat(dfd, "at", 0750));
	show_stat("a/at");
	CHECK(mkdirat(dfd, "at", 0750));
	CHECK(mkdirat(9999, "z", 0750));
	int ffd = open("f", O_RDONLY);
	CHECK(mkdirat(ffd, "z", 0750));
	list_dir("a");
	show_stat("a");
	return 0;
}
