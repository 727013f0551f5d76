/* chmod/fchmod/fchmodat. */
#include "common.h"

int main(void)
{
	CHECK(write_file("f", "x"));
	CHECK(mkdir("d", 0755));
	CHECK(symlink("f", "lnk"));
	CHECK(chmod("f", 0600));
	show_stat("f");
	CHECK(chmod("f", 04755));
	show_stat("f");
	CHECK(chmod("f", 02755));
	show_stat("f");
	CHECK(chmod("f", 07777));
	show_stat("f");
	CHECK(chmod("f", 0177777));
	show_stat("f");
	CHECK(chmod("f", 0));
	show_stat("f");
	show_file("f");
	CHECK(chmod("d", 01777));
	show_stat("d");
	CHECK(chmod("lnk", 0640));
	show_stat("f");
	show_lstat("lnk");
	CHECK(chmod("nope", 0644));
	CHECK(chmod("f/", 0644));
	CHECK(chmod("", 0644));

	int fd = open("f", O_RDONLY);
	CHECK(fchmod(fd, 0444));
	show_stat("f");
	close(fd);
	fd = open("d", O_RDONLY | O_DIRECTORY);
	CHECK(fchmod(fd, 0700));
	show_stat("d");
	CHECK(fchmodat(fd, "..", 0755, 0));
	close(fd);
	CHECK(fchmod(9999, 0644));

	CHECK(fchmodat(AT_FDCWD, "f", 0664, 0));
	show_stat("f");
	CHECK(fchmodat(AT_FDCWD, "f", 0660, AT_SYMLINK_NOFOLLOW));
	show_stat("f");
	CHECK(fchmodat(AT_FDCWD, "lnk", 0600, AT_SYMLINK_NOFOLLOW));
	show_stat("f");
	CHECK(syscall(SYS_fchmodat, AT_FDCWD, "lnk", 0606));
	show_stat("f");
	CHECK(syscall(SYS_fchmodat, 9999, "f", 0606));

	/* fchmodat2 (452, Linux 6.6): flags, a symlink's own mode, an empty path. */
	CHECK(syscall(452, AT_FDCWD, "f", 0640, 0));
	show_stat("f");
	CHECK(syscall(452, AT_FDCWD, "lnk", 0600, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(452, AT_FDCWD, "lnk", 0604, 0));
	show_stat("f");
	CHECK(syscall(452, AT_FDCWD, "f", 0600, -1));
	CHECK(syscall(452, -1, "f", 0600, 0));
	CHECK(syscall(452, AT_FDCWD, "missing", 0600, 0));
	int ff = open("f", O_RDONLY);
	CHECK(syscall(452, ff, "", 0644, AT_EMPTY_PATH));
	CHECK(syscall(452, ff, "", 0644, 0));
	close(ff);
	show_stat("f");

	/* fchmod on a pipe succeeds (changes the pipe inode). */
	int p[2];
	pipe(p);
	CHECK(fchmod(p[0], 0600));
	struct stat st;
	fstat(p[0], &st);
	printf("pipe mode: %04o\n", st.st_mode & 07777);

	/* Mode change is visible through an already open fd. */
	fd = open("f", O_RDONLY);
	CHECK(chmod("f", 0751));
	fstat(fd, &st);
	print_stat("fstat after chmod", &st);
	return 0;
}
