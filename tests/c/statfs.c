/* statfs/fstatfs: only stable facts. */
#include "common.h"
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

static void sf(const char *path)
{
	struct statfs s;
	if (statfs(path, &s) < 0) {
		printf("statfs %s: %s\n", path, errname(errno));
		return;
	}
	printf("statfs %s: namelen>0=%d bsize>0=%d blocks>=bfree=%d bfree>=bavail=%d\n", path,
	       s.f_namelen > 0, s.f_bsize > 0, s.f_blocks >= s.f_bfree, s.f_bfree >= s.f_bavail);
}

int main(void)
{
	sf(".");
	sf("/");
	sf("nope");
	sf("");
	CHECK(write_file("f", ""));
	sf("f/");
	sf("f");

	struct statfs s;
	CHECK(statfs("/proc", &s));
	printf("/proc is proc: %d\n", s.f_type == PROC_SUPER_MAGIC);
	CHECK(statfs("/proc/self", &s));
	printf("/proc/self is proc: %d\n", s.f_type == PROC_SUPER_MAGIC);
	CHECK(statfs("/dev/shm", &s));
	printf("/dev/shm is tmpfs: %d\n", s.f_type == TMPFS_MAGIC);

	int fd = open("f", O_RDONLY);
	struct statfs a, b;
	CHECK(fstatfs(fd, &a));
	CHECK(statfs(".", &b));
	printf("fstatfs == statfs: type %d bsize %d namelen %d\n", a.f_type == b.f_type,
	       a.f_bsize == b.f_bsize, a.f_namelen == b.f_namelen);
	close(fd);
	CHECK(fstatfs(9999, &a));
	int p[2];
	pipe(p);
	CHECK(fstatfs(p[0], &a));
	printf("pipe fs namelen>0: %d\n", a.f_namelen > 0);
	CHECK(statfs(".", (struct statfs *)1));

	struct statvfs v;
	CHECK(statvfs(".", &v));
	printf("statvfs namemax>0=%d\n", v.f_namemax > 0);
	return 0;
}
