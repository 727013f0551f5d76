/* tmpfs in /dev/shm: create, mmap shared, read back, across fork. */
#include "common.h"
#include <sys/mman.h>

int main(void)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/dev/shm/rvisor-test-%d", getpid());
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	printf("create: %s\n", fd < 0 ? errname(errno) : "ok");
	if (fd < 0)
		return 1;
	CHECK(ftruncate(fd, 8192));
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	strcpy(p, "written through mapping");
	ssize_t n = pread(fd, buf, 23, 0);
	print_bytes("pread", buf, n);
	CHECKV(pwrite(fd, "PWRITE", 6, 4096));
	print_bytes("map sees pwrite", p + 4096, 6);

	pid_t pid = fork();
	if (pid == 0) {
		strcpy(p + 100, "child wrote this");
		int fd2 = open(path, O_RDWR);
		pwrite(fd2, "child-pwrite", 12, 200);
		exit(0);
	}
	wait_child("child", pid);
	print_bytes("parent sees child map write", p + 100, 16);
	print_bytes("parent sees child pwrite", p + 200, 12);
	munmap(p, 8192);

	struct stat st;
	fstat(fd, &st);
	print_stat("fstat", &st);
	close(fd);

	/* A second name, a subdirectory, and cleanup. */
	char dir[80], file[100];
	snprintf(dir, sizeof dir, "%s.d", path);
	CHECK(mkdir(dir, 0700));
	snprintf(file, sizeof file, "%s/x", dir);
	CHECK(write_file(file, "in shm dir"));
	int xf = open(file, O_RDONLY);
	n = read(xf, buf, sizeof buf);
	close(xf);
	print_bytes("read shm dir file", buf, n);
	CHECK(unlink(file));
	CHECK(rmdir(dir));
	CHECK(unlink(path));
	CHECK(unlink(path));

	/* shm_open uses /dev/shm. */
	char name[64];
	snprintf(name, sizeof name, "/rvisor-shm-%d", getpid());
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	printf("shm_open: %s\n", fd < 0 ? errname(errno) : "ok");
	CHECK(ftruncate(fd, 4096));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	strcpy(p, "shm_open data");
	int fd2 = shm_open(name, O_RDONLY, 0);
	n = read(fd2, buf, 13);
	print_bytes("second open", buf, n);
	CHECK(shm_unlink(name));
	CHECK(shm_unlink(name));

	/* memfd behaves like tmpfs. */
	int m = memfd_create("rvisor-memfd", MFD_CLOEXEC);
	printf("memfd: %s\n", m < 0 ? errname(errno) : "ok");
	CHECKV(write(m, "memfd!", 6));
	n = pread(m, buf, sizeof buf, 0);
	print_bytes("memfd read", buf, n);
	char l[64], t[128];
	snprintf(l, sizeof l, "/proc/self/fd/%d", m);
	n = readlink(l, t, sizeof t - 1);
	t[n < 0 ? 0 : n] = 0;
	printf("memfd link: %s\n", t);
	CHECKV(fcntl(m, F_GETFD));
	return 0;
}
