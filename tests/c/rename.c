/* rename/renameat/renameat2. */
#include "common.h"

static long r2(const char *a, const char *b, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

int main(void)
{
	CHECK(write_file("f1", "one"));
	CHECK(write_file("f2", "two"));
	CHECK(rename("f1", "f3"));
	show_file("f1");
	show_file("f3");
	CHECK(rename("f3", "f2"));
	show_file("f2");
	CHECK(rename("f2", "f2"));
	CHECK(rename("nope", "x"));
	CHECK(rename("f2", "nodir/x"));

	/* Directories. */
	CHECK(mkdir("d1", 0755));
	CHECK(mkdir("d2", 0755));
	CHECK(mkdir("full", 0755));
	CHECK(write_file("full/x", ""));
	CHECK(write_file("d1/inner", "in"));
	CHECK(rename("d1", "d2"));
	show_file("d2/inner");
	CHECK(rename("d2", "full"));
	CHECK(rename("f2", "full"));
	CHECK(rename("full", "f2"));
	CHECK(rename("d2", "d2/sub"));
	CHECK(mkdir("d2/sub", 0755));
	CHECK(rename("d2", "d2/sub/deeper"));
	CHECK(rename("d2/sub", "d2/sub2"));
	CHECK(rename("d2/sub2", "d2/sub2/"));
	CHECK(rename("f2", "f2new/"));
	CHECK(rename("f2/", "f2new"));
	CHECK(rename("d2/", "d3/"));
	CHECK(rename("d3", "d2"));
	CHECK(rename(".", "dot"));
	CHECK(rename("d2/..", "dotdot"));
	CHECK(rename("d2", "."));
	CHECK(rename("", "x"));
	CHECK(rename("f2", ""));

	/* Hard links to the same inode: no-op, both names stay. */
	CHECK(link("f2", "f2link"));
	CHECK(rename("f2", "f2link"));
	list_dir(".");

	/* Symlinks are renamed, not followed. */
	CHECK(symlink("f2", "sl"));
	CHECK(rename("sl", "sl2"));
	show_lstat("sl2");
	show_stat("sl2");

	/* renameat2 flags. */
	CHECK(write_file("a", "A"));
	CHECK(write_file("b", "B"));
	CHECK(r2("a", "b", RENAME_NOREPLACE));
	CHECK(r2("a", "c", RENAME_NOREPLACE));
	show_file("c");
	CHECK(r2("c", "b", RENAME_EXCHANGE));
	show_file("b");
	show_file("c");
	CHECK(r2("c", "nope", RENAME_EXCHANGE));
	CHECK(r2("c", "b", RENAME_EXCHANGE | RENAME_NOREPLACE));
	CHECK(r2("c", "b", 0x100));
	CHECK(r2("c", "d2", RENAME_EXCHANGE));
	show_stat("c");
	show_stat("d2");
	show_file("d2");
	CHECK(r2("c", "d2", RENAME_EXCHANGE));
	CHECK(r2("d2", "d2/sub", RENAME_EXCHANGE));
	CHECK(r2("b", "b", RENAME_NOREPLACE));
	CHECK(r2("b", "b", RENAME_EXCHANGE));

	/* renameat with dirfds. */
	int d = open("d2", O_RDONLY | O_DIRECTORY);
	CHECK(renameat(AT_FDCWD, "b", d, "b-in-d2"));
	CHECK(renameat(d, "b-in-d2", AT_FDCWD, "b"));
	CHECK(renameat(9999, "b", AT_FDCWD, "x"));
	close(d);

	/* Open fds follow the file. */
	int fd = open("b", O_RDONLY);
	CHECK(rename("b", "moved"));
	char buf[8];
	ssize_t n = read(fd, buf, sizeof buf);
	print_bytes("read after rename", buf, n);
	close(fd);

	/* Overwriting a file that is open keeps the old contents readable. */
	CHECK(write_file("old", "OLD"));
	CHECK(write_file("new", "NEW"));
	fd = open("old", O_RDONLY);
	CHECK(rename("new", "old"));
	n = read(fd, buf, sizeof buf);
	print_bytes("old fd", buf, n);
	show_file("old");
	close(fd);

	/* Directory nlink bookkeeping on cross-directory moves. */
	CHECK(mkdir("p1", 0755));
	CHECK(mkdir("p2", 0755));
	CHECK(mkdir("p1/child", 0755));
	show_stat("p1");
	show_stat("p2");
	CHECK(rename("p1/child", "p2/child"));
	show_stat("p1");
	show_stat("p2");
	show_stat("p2/child/..");
	list_dir(".");
	return 0;
}
