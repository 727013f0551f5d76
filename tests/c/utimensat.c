/* utimensat/futimens/utimes: explicit times, UTIME_NOW, UTIME_OMIT. */
#include "common.h"
#include <sys/time.h>
#include <time.h>
#include <utime.h>

static void times_of(const char *label, const char *path, int flags)
{
	struct stat st;
	if (fstatat(AT_FDCWD, path, &st, flags) < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	printf("%s: atime=%lld.%09ld mtime=%lld.%09ld\n", label,
	       (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static int recent(const struct timespec *t)
{
	time_t now = time(NULL);
	return t->tv_sec >= now - 30 && t->tv_sec <= now + 1;
}

int main(void)
{
	CHECK(write_file("f", "x"));
	CHECK(symlink("f", "lnk"));
	struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
	CHECK(utimensat(AT_FDCWD, "f", ts, 0));
	times_of("explicit", "f", 0);

	struct timespec omit[2] = {{0, UTIME_OMIT}, {42, 1}};
	CHECK(utimensat(AT_FDCWD, "f", omit, 0));
	times_of("omit atime", "f", 0);
	struct timespec omit2[2] = {{7, 7}, {0, UTIME_OMIT}};
	CHECK(utimensat(AT_FDCWD, "f", omit2, 0));
	times_of("omit mtime", "f", 0);
	struct timespec both[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	CHECK(utimensat(AT_FDCWD, "f", both, 0));
	times_of("omit both", "f", 0);

	struct timespec now[2] = {{0, UTIME_NOW}, {99, 0}};
	CHECK(utimensat(AT_FDCWD, "f", now, 0));
	struct stat st;
	stat("f", &st);
	printf("atime now recent=%d mtime=%lld\n", recent(&st.st_atim), (long long)st.st_mtim.tv_sec);
	CHECK(utimensat(AT_FDCWD, "f", NULL, 0));
	stat("f", &st);
	printf("NULL: atime recent=%d mtime recent=%d\n", recent(&st.st_atim), recent(&st.st_mtim));

	/* Symlink itself with AT_SYMLINK_NOFOLLOW. */
	struct timespec lt[2] = {{111, 0}, {222, 0}};
	CHECK(utimensat(AT_FDCWD, "lnk", lt, AT_SYMLINK_NOFOLLOW));
	times_of("symlink", "lnk", AT_SYMLINK_NOFOLLOW);
	struct timespec ft[2] = {{333, 0}, {444, 0}};
	CHECK(utimensat(AT_FDCWD, "lnk", ft, 0));
	times_of("through symlink", "f", 0);

	/* Errors. */
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	CHECK(utimensat(AT_FDCWD, "f", bad, 0));
	struct timespec neg[2] = {{0, -5}, {0, 0}};
	CHECK(utimensat(AT_FDCWD, "f", neg, 0));
	CHECK(utimensat(AT_FDCWD, "nope", ts, 0));
	CHECK(utimensat(AT_FDCWD, "f", ts, 0x1));
	CHECK(utimensat(9999, "f", ts, 0));

	/* futimens and the NULL-path form. */
	int fd = open("f", O_RDONLY);
	struct timespec t3[2] = {{555, 5}, {666, 6}};
	CHECK(futimens(fd, t3));
	times_of("futimens", "f", 0);
	struct timespec t4[2] = {{777, 0}, {888, 0}};
	CHECK(syscall(SYS_utimensat, fd, NULL, t4, 0));
	times_of("utimensat(fd, NULL)", "f", 0);
	CHECK(futimens(9999, t3));
	close(fd);

	/* utimes/utime. */
	struct timeval tv[2] = {{1234, 500000}, {5678, 250000}};
	CHECK(utimes("f", tv));
	times_of("utimes", "f", 0);
	struct utimbuf ub = {2000, 3000};
	CHECK(utime("f", &ub));
	times_of("utime", "f", 0);

	/* Directories. */
	CHECK(mkdir("d", 0755));
	CHECK(utimensat(AT_FDCWD, "d", ts, 0));
	times_of("dir", "d", 0);

	/* Negative and large times. */
	struct timespec old[2] = {{-1, 0}, {4000000000LL, 0}};
	CHECK(utimensat(AT_FDCWD, "f", old, 0));
	times_of("negative/large", "f", 0);

	/* Writing updates mtime to now. */
	CHECK(utimensat(AT_FDCWD, "f", ts, 0));
	fd = open("f", O_WRONLY);
	write(fd, "y", 1);
	close(fd);
	stat("f", &st);
	printf("after write: mtime recent=%d atime=%lld\n", recent(&st.st_mtim), (long long)st.st_atim.tv_sec);
	return 0;
}
