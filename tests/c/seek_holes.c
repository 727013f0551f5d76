/* lseek SEEK_DATA and SEEK_HOLE on a sparse file: a 4 MiB file with one
 * byte at 1 MiB and one at 3 MiB, in the working directory (a host file
 * natively, tmpfs in the sandbox's overlay) and in /dev/shm. Printed so that
 * any hole granularity up to 64 KiB gives the same lines. */
#include "common.h"

#define MiB (1L << 20)
#define SLACK (64L << 10)

static void probe(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4 * MiB) != 0 || pwrite(fd, "x", 1, MiB) != 1 ||
	    pwrite(fd, "y", 1, 3 * MiB) != 1) {
		printf("%s: setup %s\n", path, errname(errno));
		return;
	}
	off_t d0 = lseek(fd, 0, SEEK_DATA);
	printf("%s: data from 0 in [1MiB-64KiB, 1MiB]: %s\n", path,
	       d0 >= MiB - SLACK && d0 <= MiB ? "yes" : "no");
	off_t h1 = lseek(fd, MiB, SEEK_HOLE);
	printf("%s: hole from 1MiB in (1MiB, 1MiB+64KiB]: %s\n", path,
	       h1 > MiB && h1 <= MiB + SLACK ? "yes" : "no");
	off_t d2 = lseek(fd, 2 * MiB, SEEK_DATA);
	printf("%s: data from 2MiB in [3MiB-64KiB, 3MiB]: %s\n", path,
	       d2 >= 3 * MiB - SLACK && d2 <= 3 * MiB ? "yes" : "no");
	printf("%s: the offset moved there: %s\n", path, lseek(fd, 0, SEEK_CUR) == d2 ? "yes" : "no");
	off_t h0 = lseek(fd, 0, SEEK_HOLE);
	printf("%s: hole from 0 at 0: %s\n", path, h0 == 0 ? "yes" : "no");
	errno = 0;
	off_t tail = lseek(fd, 4 * MiB - 1, SEEK_DATA);
	int tail_errno = errno;
	printf("%s: data in the trailing hole: %ld %s\n", path, (long)tail, errname(tail_errno));
	off_t th = lseek(fd, 4 * MiB - 1, SEEK_HOLE);
	printf("%s: hole in the trailing hole: %s\n", path, th == 4 * MiB - 1 ? "at the offset" : "elsewhere");
	static const struct {
		const char *what;
		off_t off;
		int whence;
	} bad[] = {
		{"SEEK_DATA at the end", 4 * MiB, SEEK_DATA},
		{"SEEK_HOLE past the end", 5 * MiB, SEEK_HOLE},
		{"SEEK_DATA at -1", -1, SEEK_DATA},
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		off_t r = lseek(fd, bad[i].off, bad[i].whence);
		int e = errno;
		printf("%s: %s: %ld %s\n", path, bad[i].what, (long)r, errname(e));
	}
	/* A file without holes: data everywhere, the hole at the end. */
	int full = open("full.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	char buf[8192];
	memset(buf, 'z', sizeof buf);
	if (full >= 0 && write(full, buf, sizeof buf) == (ssize_t)sizeof buf)
		printf("full: data from 100 %ld, hole from 100 %ld\n", (long)lseek(full, 100, SEEK_DATA),
		       (long)lseek(full, 100, SEEK_HOLE));
	close(full);
	unlink("full.dat");
	close(fd);
	unlink(path);
}

int main(void)
{
	probe("sparse.dat");
	if (access("/dev/shm", W_OK) == 0)
		probe("/dev/shm/rvisor-seek-holes.dat");
	return 0;
}
