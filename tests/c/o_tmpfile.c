/* O_TMPFILE: unnamed files, linked in later. */
#include "common.h"

int main(void)
{
	char buf[32], p[64];
	struct stat st;
	CHECK(mkdir("d", 0755));
	int fd = CHECK(open("d", O_TMPFILE | O_RDWR, 0640));
	if (fd < 0)
		return 0;
	CHECKV(write(fd, "tmpdata", 7));
	CHECK(fstat(fd, &st));
	print_stat("tmpfile", &st);
	list_dir("d");
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	CHECK(linkat(AT_FDCWD, p, AT_FDCWD, "d/linked", AT_SYMLINK_FOLLOW));
	CHECK(fstat(fd, &st));
	print_stat("after link", &st);
	list_dir("d");
	show_file("d/linked");
	close(fd);

	/* O_EXCL: can never be linked. */
	fd = CHECK(open("d", O_TMPFILE | O_RDWR | O_EXCL, 0600));
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	CHECK(linkat(AT_FDCWD, p, AT_FDCWD, "d/excl", AT_SYMLINK_FOLLOW));
	close(fd);

	/* AT_EMPTY_PATH linking (root has CAP_DAC_READ_SEARCH). */
	fd = CHECK(open("d", O_TMPFILE | O_WRONLY, 0600));
	CHECK(linkat(fd, "", AT_FDCWD, "d/empty", AT_EMPTY_PATH));
	close(fd);
	show_stat("d/empty");

	CHECK(open("d", O_TMPFILE | O_RDONLY, 0600));
	CHECK(write_file("f", "x"));
	CHECK(open("f", O_TMPFILE | O_RDWR, 0600));
	CHECK(open("nope", O_TMPFILE | O_RDWR, 0600));
	(void)buf;
	return 0;
}
