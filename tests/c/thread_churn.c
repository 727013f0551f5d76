/* Threads started and ended in batches, far more of them over the
 * process's life than live at once: a long-running server's pattern. The
 * process's mappings must not grow with the threads it has had (past
 * vm.max_map_count, 65 530, its own mmap calls would fail), and a new
 * thread still works after all of them. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>
#include "common.h"

#define BATCHES 400
#define PER_BATCH 8

static void *worker(void *arg)
{
	/* A trapped call and a passthrough one, as any thread makes. */
	long tid = syscall(SYS_gettid);
	void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	*(long *)arg = tid > 0 && p != MAP_FAILED;
	return 0;
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	return n;
}

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	int before = count_maps();
	long ok = 0, started = 0;
	for (int b = 0; b < BATCHES; b++) {
		pthread_t t[PER_BATCH];
		long done[PER_BATCH] = { 0 };
		int n = 0;
		while (n < PER_BATCH && pthread_create(&t[n], 0, worker, &done[n]) == 0)
			n++;
		for (int i = 0; i < n; i++) {
			pthread_join(t[i], 0);
			ok += done[i];
		}
		started += n;
	}
	int after = count_maps();
	printf("threads started: %ld, each made its calls: %s\n", started, ok == started ? "yes" : "no");
	printf("mappings grew by more than %d: %s\n", 4 * PER_BATCH, after - before > 4 * PER_BATCH ? "yes" : "no");
	void *p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("a map after them: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	return 0;
}
