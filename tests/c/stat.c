/* stat/fstat/lstat/fstatat. */
#include "common.h"

static void fsa(const char *label, int dfd, const char *path, int flags)
{
	struct stat st;
	if (fstatat(dfd, path, &st, flags) < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		print_stat(label, &st);
}

int main(void)
{
	struct stat st, st2;
	CHECK(write_file("f", "12345"));
	CHECK(mkdir("d", 0750));
	CHECK(mkdir("d/s1", 0755));
	CHECK(mkdir("d/s2", 0755));
	CHECK(symlink("f", "lnk"));
	CHECK(symlink("nowhere", "dangling"));
	CHECK(symlink("d", "dlnk"));
	CHECK(mkfifo("fifo", 0600));

	show_stat("f");
	show_lstat("f");
	show_stat("d");
	show_stat("d/s1");
	show_stat("lnk");
	show_lstat("lnk");
	show_stat("dangling");
	show_lstat("dangling");
	show_stat("dlnk");
	show_lstat("dlnk");
	show_stat("dlnk/");
	show_lstat("dlnk/");
	show_lstat("lnk/");
	show_stat("fifo");
	show_stat("nope");
	show_stat("f/x");
	show_stat("d/s1/../../f");
	show_stat("/dev/null");

	int fd = open("f", O_RDONLY);
	CHECK(fstat(fd, &st));
	print_stat("fstat f", &st);
	stat("f", &st2);
	printf("same ino/dev as stat: %d\n", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	lstat("lnk", &st2);
	printf("symlink has own ino: %d\n", st.st_ino != st2.st_ino);
	stat("lnk", &st2);
	printf("symlink target ino: %d\n", st.st_ino == st2.st_ino);
	printf("blksize>0: %d\n", st.st_blksize > 0);

	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	fsa("fstatat d s1", dfd, "s1", 0);
	fsa("fstatat empty", fd, "", AT_EMPTY_PATH);
	fsa("fstatat empty no flag", fd, "", 0);
	CHECK(fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH));
	printf("cwd: type=%s mode=%04o\n", ftype(st.st_mode), st.st_mode & 07777);
	fsa("fstatat lnk nofollow", AT_FDCWD, "lnk", AT_SYMLINK_NOFOLLOW);
	fsa("fstatat lnk follow", AT_FDCWD, "lnk", 0);
	fsa("fstatat bad flag", AT_FDCWD, "f", 0x1);
	fsa("fstatat bad fd", 9999, "f", 0);
	fsa("fstatat file as dirfd", fd, "x", 0);
	fsa("fstatat abs ignores fd", 9999, "/dev/null", 0);
	CHECK(stat("f", (struct stat *)1));
	CHECK(stat((const char *)1, &st));

	/* st_size tracks writes and symlink target length. */
	int w = open("f", O_WRONLY | O_APPEND);
	write(w, "678", 3);
	fstat(w, &st);
	printf("size after append: %lld\n", (long long)st.st_size);
	close(w);
	CHECK(symlink("a-rather-long-symlink-target", "long"));
	show_lstat("long");

	/* Hard links share the inode. */
	CHECK(link("f", "hl"));
	stat("hl", &st2);
	printf("hardlink same ino: %d nlink=%lu\n", st.st_ino == st2.st_ino, (unsigned long)st2.st_nlink);
	return 0;
}
