/* Touching a file mapping beyond EOF raises SIGBUS. */
#include "common.h"
#include <setjmp.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static volatile int last_sig, last_code;

static void handler(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	last_sig = sig;
	last_code = si->si_code;
	siglongjmp(jb, 1);
}

static void touch(const char *label, volatile char *p, int write)
{
	last_sig = 0;
	if (sigsetjmp(jb, 1) == 0) {
		if (write)
			*p = 'x';
		else
			(void)*p;
		printf("%s: no signal\n", label);
	} else {
		printf("%s: signal %d code %d\n", label, last_sig, last_code);
	}
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);

	CHECK(write_file("f", "short"));
	int fd = open("f", O_RDWR);
	char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("map 3 pages of 5-byte file: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	touch("page 0 in file", p, 0);
	touch("page 0 past EOF", p + 100, 1);
	touch("page 1 read", p + pg, 0);
	touch("page 2 write", p + 2 * pg + 5, 1);
	/* Growing the file makes the pages valid. */
	CHECK(ftruncate(fd, 3 * pg));
	touch("page 2 after grow", p + 2 * pg, 1);
	/* Shrinking invalidates them again. */
	CHECK(ftruncate(fd, 10));
	touch("page 1 after shrink", p + pg, 0);
	munmap(p, 3 * pg);

	/* Private mapping behaves the same. */
	p = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
	touch("private page 1", p + pg, 0);
	munmap(p, 2 * pg);

	/* PROT_NONE faults with SIGSEGV. */
	p = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE, fd, 0);
	touch("prot none", p, 0);
	/* Read-only mapping: write faults with SIGSEGV. */
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
	touch("write to read-only", p, 1);
	return 0;
}
