/* /proc/self/smaps and smaps_rollup: a mapping's block (size, resident
 * pages, Locked and the "lo" flag around mlock/munlock) and the rollup's
 * layout. */
#define _GNU_SOURCE
#include "common.h"
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGES 4

/* Prints the fields of the smaps block of the mapping at `addr`. */
static void block(const char *what, void *addr)
{
	char want[32], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f) {
		printf("%s: open: %s\n", what, errname(errno));
		return;
	}
	int in = 0, found = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e;
		int header = sscanf(line, "%lx-%lx ", &s, &e) == 2;
		if (header) {
			in = !strncmp(line, want, strlen(want));
			found |= in;
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "Size:", 5) || !strncmp(line, "Rss:", 4) || !strncmp(line, "Locked:", 7) ||
		    !strncmp(line, "Anonymous:", 10))
			printf("%s: %s", what, line);
		if (!strncmp(line, "VmFlags:", 8))
			printf("%s: locked flag %d\n", what, strstr(line, " lo ") != NULL);
	}
	fclose(f);
	printf("%s: block found %d\n", what, found);
}

static void rollup(const char *what)
{
	char line[512];
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (!f) {
		printf("%s: open: %s\n", what, errname(errno));
		return;
	}
	int n = 0, rss = 0, header = 0;
	long locked = -1;
	while (fgets(line, sizeof line, f)) {
		if (n++ == 0)
			header = strstr(line, "[rollup]") != NULL && strstr(line, " ---p 00000000 00:00 0 ") != NULL;
		rss |= !strncmp(line, "Rss:", 4);
		if (!strncmp(line, "Locked:", 7))
			locked = atol(line + 7);
	}
	fclose(f);
	printf("%s: header %d, Rss line %d, Locked >= %d kB: %d\n", what, header, rss, PAGES * 4,
	       locked >= PAGES * 4);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	block("untouched", p);
	memset(p, 1, PAGES * page);
	block("touched", p);
	printf("mlock: %d\n", mlock(p, PAGES * page));
	block("locked", p);
	rollup("rollup locked");
	printf("munlock: %d\n", munlock(p, PAGES * page));
	block("unlocked", p);

	/* mlock faults the pages in (a write-only shared mapping too);
	 * MLOCK_ONFAULT leaves them out. */
	char *q = mmap(NULL, PAGES * page, PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *r = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED || r == MAP_FAILED)
		return 1;
	printf("mlock shared: %d\n", mlock(q, PAGES * page));
	unsigned char vec[PAGES];
	int present = 0;
	if (mincore(q, PAGES * page, vec) == 0)
		for (int i = 0; i < PAGES; i++)
			present += vec[i] & 1;
	printf("mlock shared: %d pages present\n", present);
	printf("mlock2 onfault: %ld\n", syscall(SYS_mlock2, r, PAGES * page, 1));
	block("onfault", r);
	return 0;
}
