/* statx: print only stable fields. */
#include "common.h"
#include <sys/sysmacros.h>

/* Filesystems may return more than requested, so only the requested basic
 * bits of stx_mask are printed. */
static void sx(const char *label, int dfd, const char *path, int flags, unsigned mask)
{
	struct statx s;
	memset(&s, 0xee, sizeof s);
	if (statx(dfd, path, flags, mask, &s) < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	unsigned want = mask & STATX_BASIC_STATS;
	printf("%s: requested_mask=%#x type=%s mode=%04o size=%lld nlink=%u uid=%u gid=%u blksize>0=%d\n",
	       label, s.stx_mask & want, ftype(s.stx_mode),
	       s.stx_mode & 07777, S_ISDIR(s.stx_mode) ? -1LL : (long long)s.stx_size, s.stx_nlink,
	       s.stx_uid, s.stx_gid, s.stx_blksize > 0);
}

int main(void)
{
	CHECK(write_file("f", "hello statx"));
	CHECK(mkdir("d", 0700));
	CHECK(symlink("f", "lnk"));
	CHECK(link("f", "hl"));
	sx("f", AT_FDCWD, "f", 0, STATX_BASIC_STATS);
	sx("f all", AT_FDCWD, "f", 0, STATX_ALL);
	sx("f size only", AT_FDCWD, "f", 0, STATX_SIZE);
	sx("f mask 0", AT_FDCWD, "f", 0, 0);
	sx("d", AT_FDCWD, "d", 0, STATX_BASIC_STATS);
	sx("lnk", AT_FDCWD, "lnk", 0, STATX_BASIC_STATS);
	sx("lnk nofollow", AT_FDCWD, "lnk", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS);
	sx("sync as stat", AT_FDCWD, "f", AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS);
	sx("force sync", AT_FDCWD, "f", AT_STATX_FORCE_SYNC, STATX_BASIC_STATS);
	sx("dont sync", AT_FDCWD, "f", AT_STATX_DONT_SYNC, STATX_BASIC_STATS);
	sx("both sync", AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS);
	sx("reserved mask", AT_FDCWD, "f", 0, 0x80000000U);
	sx("bad flags", AT_FDCWD, "f", 0x10000000, STATX_BASIC_STATS);
	sx("nope", AT_FDCWD, "nope", 0, STATX_BASIC_STATS);
	sx("empty no flag", AT_FDCWD, "", 0, STATX_BASIC_STATS);
	int fd = open("f", O_RDONLY);
	sx("fd empty path", fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
	struct statx c;
	CHECK(statx(AT_FDCWD, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE, &c));
	printf("cwd: type=%s mode=%04o\n", ftype(c.stx_mode), c.stx_mode & 07777);
	sx("/dev/null", AT_FDCWD, "/dev/null", 0, STATX_BASIC_STATS);
	CHECK(syscall(SYS_statx, AT_FDCWD, "f", 0, STATX_BASIC_STATS, NULL));

	struct statx a, b;
	statx(AT_FDCWD, "f", 0, STATX_INO, &a);
	statx(AT_FDCWD, "hl", 0, STATX_INO, &b);
	printf("hardlink same ino: %d\n", a.stx_ino == b.stx_ino);
	struct stat st;
	stat("f", &st);
	printf("ino matches stat: %d\n", st.st_ino == a.stx_ino);
	printf("dev matches stat: %d\n", major(st.st_dev) == a.stx_dev_major && minor(st.st_dev) == a.stx_dev_minor);
	statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &a);
	printf("mtime matches stat: %d\n", a.stx_mtime.tv_sec == st.st_mtim.tv_sec && a.stx_mtime.tv_nsec == (unsigned)st.st_mtim.tv_nsec);
	return 0;
}
