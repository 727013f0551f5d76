/* madvise advice from 100 up (trapped by the sandbox): guard regions
 * (Linux 6.13) fault on access until removed; unknown advice is EINVAL. */
#include "common.h"
#include <setjmp.h>
#include <sys/mman.h>
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

static sigjmp_buf jb;
static void on_segv(int s) { (void)s; siglongjmp(jb, 1); }

static const char *touch(volatile char *p)
{
	if (sigsetjmp(jb, 1)) return "SIGSEGV";
	p[0] = 1;
	return "ok";
}

int main(void){
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 4 * pg, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
	signal(SIGSEGV, on_segv);
	m[pg] = 5;
	CHECKN("guard install", madvise(m + pg, pg, MADV_GUARD_INSTALL));
	printf("guarded page: %s, next page: %s\n", touch(m + pg), touch(m + 2 * pg));
	CHECKN("guard remove", madvise(m + pg, pg, MADV_GUARD_REMOVE));
	printf("after remove: %s, contents %d\n", touch(m + pg), m[pg]);
	CHECKN("advice 1212", madvise(m, pg, 1212));
	CHECKN("advice 200", madvise(m, pg, 200));
	CHECKN("guard unaligned", madvise(m + 1, pg, MADV_GUARD_INSTALL));
	return 0;
}
