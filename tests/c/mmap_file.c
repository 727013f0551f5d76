/* mmap of regular files: private vs shared, msync, errors. */
#include "common.h"
#include <sys/mman.h>

int main(void)
{
	char buf[32];
	long pg = sysconf(_SC_PAGESIZE);
	CHECK(write_file("f", "hello mmap world"));
	int fd = open("f", O_RDWR);

	char *p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("private map: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	print_bytes("private read", p, 16);
	print_bytes("tail zero-filled", p + 16, 4);
	munmap(p, pg);

	/* Private writes are not written back. */
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	memcpy(p, "HELLO", 5);
	print_bytes("private after write", p, 16);
	show_file("f");
	munmap(p, pg);

	/* Shared writes are visible through read(). */
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared map: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	memcpy(p + 6, "MMAP", 4);
	ssize_t n = pread(fd, buf, 16, 0);
	print_bytes("read after shared write", buf, n);
	CHECK(msync(p, pg, MS_SYNC));
	CHECK(msync(p, pg, MS_ASYNC));
	CHECK(msync(p, pg, MS_INVALIDATE));
	CHECK(msync(p + 1, pg, MS_SYNC));
	CHECK(msync(p, pg, MS_SYNC | MS_ASYNC));
	/* write() is visible through the mapping. */
	pwrite(fd, "W", 1, 0);
	printf("mapping sees write: %c\n", p[0]);
	/* Writes beyond EOF in the last page are not part of the file. */
	p[100] = 'X';
	struct stat st;
	fstat(fd, &st);
	printf("size unchanged: %lld\n", (long long)st.st_size);
	/* (Whether growing the file then exposes 'X' depends on the filesystem.) */
	munmap(p, pg);

	/* Mapping a second page at an offset. */
	CHECK(ftruncate(fd, 2 * pg));
	pwrite(fd, "page2", 5, pg);
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, pg);
	print_bytes("offset map", p, 5);
	munmap(p, pg);

	/* Errors. */
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 1);
	printf("unaligned offset: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	p = mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0);
	printf("zero length: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd, 0);
	printf("shared|private: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, 9999, 0);
	printf("bad fd: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	int ro = open("f", O_RDONLY);
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	printf("shared write on O_RDONLY: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	printf("private write on O_RDONLY: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	if (p != MAP_FAILED)
		munmap(p, pg);
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, ro, 0);
	printf("shared read on O_RDONLY: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	/* mprotect to write on a read-only shared file mapping fails. */
	if (p != MAP_FAILED) {
		CHECK(mprotect(p, pg, PROT_READ | PROT_WRITE));
		munmap(p, pg);
	}
	int wo = open("f", O_WRONLY);
	p = mmap(NULL, pg, PROT_WRITE, MAP_SHARED, wo, 0);
	printf("map O_WRONLY: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	int ap = open("f", O_RDWR | O_APPEND);
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, ap, 0);
	printf("shared write on O_APPEND: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	int pp[2];
	pipe(pp);
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, pp[0], 0);
	printf("map pipe: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	mkdir("d", 0755);
	int d = open("d", O_RDONLY);
	p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, d, 0);
	printf("map dir: %s\n", p == MAP_FAILED ? errname(errno) : "ok");

	/* Mapping survives close and unlink. */
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	CHECK(unlink("f"));
	memcpy(p, "after-unlink", 12);
	print_bytes("after close+unlink", p, 12);
	munmap(p, pg);

	/* Shared mapping seen by a forked child and vice versa. */
	fd = open("g", O_CREAT | O_RDWR, 0644);
	ftruncate(fd, pg);
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *q = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	pid_t pid = fork();
	if (pid == 0) {
		memcpy(p, "from child", 10);
		memcpy(q, "private child", 13);
		exit(0);
	}
	wait_child("child", pid);
	print_bytes("shared after child", p, 10);
	print_bytes("private after child", q, 13);
	n = pread(fd, buf, 10, 0);
	print_bytes("file after child", buf, n);
	return 0;
}
