/* Memory bomb: touch 1 MiB anonymous chunks until killed, or until CAP_MIB
 * (so a missing limit cannot hurt the host). Usage: membomb CAP_MIB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	long cap = argc > 1 ? atol(argv[1]) : 256;
	long mib = 0;
	for (; mib < cap; mib++) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			printf("mmap failed at %ld MiB\n", mib);
			return 2;
		}
		memset(p, 0x5a, 1 << 20);
		if (mib % 8 == 0) {
			printf("allocated %ld MiB\n", mib);
			fflush(stdout);
		}
	}
	printf("survived %ld MiB\n", mib);
	return 0;
}
