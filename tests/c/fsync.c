/* fsync/fdatasync/sync_file_range/syncfs. */
#include "common.h"

int main(void)
{
	int fd = CHECK(open("f", O_CREAT | O_RDWR, 0644));
	CHECKV(write(fd, "data", 4));
	CHECK(fsync(fd));
	CHECK(fdatasync(fd));
	CHECK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	CHECK(sync_file_range(fd, 0, 0, 0x100));
	CHECK(sync_file_range(fd, -1, 0, 0));
	CHECK(syncfs(fd));
	close(fd);
	fd = open("f", O_RDONLY);
	CHECK(fsync(fd));
	CHECK(fdatasync(fd));
	close(fd);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(fsync(d));
	CHECK(fdatasync(d));
	close(d);
	int p[2];
	pipe(p);
	CHECK(fsync(p[0]));
	CHECK(fdatasync(p[1]));
	CHECK(sync_file_range(p[0], 0, 0, 0));
	CHECK(fsync(9999));
	CHECK(syncfs(9999));
	fd = open("/dev/null", O_WRONLY);
	CHECK(fsync(fd));
	close(fd);
	sync();
	printf("sync returned\n");
	show_file("f");
	return 0;
}
