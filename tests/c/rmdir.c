/* rmdir errors. */
#include "common.h"

int main(void)
{
	CHECK(mkdir("d", 0755));
	CHECK(mkdir("d/sub", 0755));
	CHECK(write_file("f", ""));
	CHECK(symlink("d", "dlink"));
	CHECK(rmdir("d"));
	CHECK(rmdir("f"));
	CHECK(rmdir("nope"));
	CHECK(rmdir("nope/x"));
	CHECK(rmdir("f/x"));
	CHECK(rmdir("."));
	CHECK(rmdir("d/."));
	CHECK(rmdir("d/sub/.."));
	CHECK(rmdir(".."));
	CHECK(rmdir(""));
	CHECK(rmdir("dlink"));
	CHECK(rmdir("dlink/"));
	CHECK(rmdir("d/sub/"));
	show_stat("d/sub");
	CHECK(rmdir("d"));
	show_stat("d");
	CHECK(rmdir("/"));

	/* Removing the cwd works; afterwards lookups fail. */
	CHECK(mkdir("cwd", 0755));
	CHECK(chdir("cwd"));
	CHECK(rmdir("../cwd"));
	CHECK(open(".", O_RDONLY) >= 0 ? 0 : -1);
	CHECK(write_file("x", ""));
	CHECK(mkdir("y", 0755));
	CHECK(chdir(".."));
	list_dir(".");

	/* Directory containing only a removed file is empty. */
	CHECK(mkdir("e", 0755));
	CHECK(write_file("e/f", ""));
	CHECK(rmdir("e"));
	CHECK(unlink("e/f"));
	CHECK(rmdir("e"));

	int dfd = open(".", O_RDONLY);
	CHECK(mkdir("u", 0755));
	CHECK(unlinkat(dfd, "u", AT_REMOVEDIR));
	CHECK(unlinkat(dfd, "u", AT_REMOVEDIR));
	CHECK(unlinkat(dfd, "f", AT_REMOVEDIR));
	return 0;
}
