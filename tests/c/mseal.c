/* mseal (Linux 6.10): a sealed mapping cannot be unmapped, re-protected,
 * moved or discarded (EPERM); its neighbours can; bad arguments. */
#include "common.h"
#include <sys/mman.h>
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

int main(void){
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 4 * pg, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
	m[0] = 1;
	CHECKN("seal pages 1-2", syscall(SYS_mseal, m + pg, 2 * pg, 0));
	CHECKN("mprotect sealed", mprotect(m + pg, pg, PROT_READ));
	CHECKN("munmap sealed", munmap(m + pg, pg));
	CHECKN("mremap sealed", (long)mremap(m + pg, pg, 2 * pg, MREMAP_MAYMOVE) == -1 ? -1 : 0);
	CHECKN("mprotect unsealed neighbour", mprotect(m, pg, PROT_READ));
	CHECKN("munmap unsealed neighbour", munmap(m + 3 * pg, pg));
	CHECKN("munmap across the seal", munmap(m, 2 * pg));
	char *ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
	CHECKN("seal read-only", syscall(SYS_mseal, ro, pg, 0));
	CHECKN("discard sealed read-only", madvise(ro, pg, MADV_DONTNEED));
	CHECKN("seal again", syscall(SYS_mseal, ro, pg, 0));
	CHECKN("bad flags", syscall(SYS_mseal, ro, pg, 1));
	CHECKN("unaligned", syscall(SYS_mseal, ro + 1, pg, 0));
	CHECKN("overflow", syscall(SYS_mseal, ro, -pg, 0));
	char *hole = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
	munmap(hole + pg, pg);
	CHECKN("range with a hole", syscall(SYS_mseal, hole, 3 * pg, 0));
	CHECKN("unmapped", syscall(SYS_mseal, hole + pg, pg, 0));
	CHECKN("zero length", syscall(SYS_mseal, hole, 0, 0));
	printf("sealed page still readable: %d\n", m[pg] == 0);
	return 0;
}
