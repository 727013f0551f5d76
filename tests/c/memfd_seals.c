/* memfd and tmpfs file seals: F_GET_SEALS/F_ADD_SEALS, what each seal
 * refuses (writes, truncation, growth, writable shared maps, chmod +x),
 * EBUSY while a writable shared mapping exists, MFD_NOEXEC_SEAL. */
#include "common.h"
#include <sys/mman.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 8
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x20
#endif

int main(void)
{
	int plain = memfd_create("plain", 0);
	report_ret("plain seals", fcntl(plain, F_GET_SEALS));
	report_ret("plain add", fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE));

	int fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	report_ret("write", write(fd, "abcdef", 6));
	report_ret("seals", fcntl(fd, F_GET_SEALS));
	report_ret("add bad bit", fcntl(fd, F_ADD_SEALS, 0x100));
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	report_ret("add write while mapped", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(p, 4096);
	report_ret("add shrink", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	report_ret("truncate smaller", ftruncate(fd, 2));
	report_ret("truncate larger", ftruncate(fd, 100));
	report_ret("add grow", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	report_ret("truncate larger sealed", ftruncate(fd, 200));
	report_ret("pwrite past end", pwrite(fd, "x", 1, 100));
	report_ret("pwrite inside", pwrite(fd, "x", 1, 0));
	report_ret("add write", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	report_ret("pwrite after", pwrite(fd, "x", 1, 0));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	report_ret("map shared writable", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	report_ret("map shared read-only", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	report_ret("map private writable", p == MAP_FAILED ? -1 : 0);
	report_ret("seals now", fcntl(fd, F_GET_SEALS));
	report_ret("add seal", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	report_ret("add after seal", fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC));
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY);
	report_ret("add on read-only fd", fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK));
	report_ret("get on read-only fd", fcntl(ro, F_GET_SEALS));

	int nx = memfd_create("noexec", MFD_NOEXEC_SEAL);
	struct stat st;
	fstat(nx, &st);
	printf("noexec mode: %o\n", st.st_mode & 07777);
	report_ret("noexec seals", fcntl(nx, F_GET_SEALS));
	report_ret("noexec chmod +x", fchmod(nx, 0755));
	report_ret("noexec chmod -w", fchmod(nx, 0444));
	report_ret("both exec flags", memfd_create("bad", MFD_NOEXEC_SEAL | 0x10));
	report_ret("huge size without hugetlb", memfd_create("bad", 0x80000000U));

	int ex = memfd_create("exec", MFD_ALLOW_SEALING);
	report_ret("seal exec on executable", fcntl(ex, F_ADD_SEALS, F_SEAL_EXEC));
	report_ret("exec seals", fcntl(ex, F_GET_SEALS));

	int shm = open("/dev/shm/seal_test", O_RDWR | O_CREAT | O_TRUNC, 0600);
	report_ret("tmpfs file seals", fcntl(shm, F_GET_SEALS));
	report_ret("tmpfs file add", fcntl(shm, F_ADD_SEALS, F_SEAL_WRITE));
	unlink("/dev/shm/seal_test");
	int reg = open(".", O_RDONLY);
	report_ret("directory seals", fcntl(reg, F_GET_SEALS));
	return 0;
}
