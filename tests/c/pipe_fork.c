/* Bulk data through pipes between processes, both directions. */
#include "common.h"

int main(void)
{
	int down[2], up[2];
	pipe(down);
	pipe(up);
	pid_t pid = fork();
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		/* Echo everything back, transformed. */
		static char buf[65536];
		ssize_t n;
		uint64_t h = FNV_INIT;
		long total = 0;
		while ((n = read(down[0], buf, sizeof buf)) > 0) {
			h = fnv1a(h, buf, n);
			total += n;
			for (ssize_t i = 0; i < n; i++)
				buf[i] ^= 0x5a;
			for (ssize_t off = 0; off < n;) {
				ssize_t w = write(up[1], buf + off, n - off);
				if (w <= 0)
					exit(3);
				off += w;
			}
		}
		printf("child received %ld hash %016llx\n", total, (unsigned long long)h);
		exit(0);
	}
	close(down[0]);
	close(up[1]);
	/* Writer in a second child so the parent can read concurrently. */
	pid_t wpid = fork();
	if (wpid == 0) {
		close(up[0]);
		static char data[1 << 20];
		for (size_t i = 0; i < sizeof data; i++)
			data[i] = (char)(i * 31 + (i >> 11));
		for (size_t off = 0; off < sizeof data;) {
			ssize_t w = write(down[1], data + off, sizeof data - off);
			if (w <= 0)
				exit(3);
			off += w;
		}
		exit(0);
	}
	close(down[1]);
	static char buf[65536];
	ssize_t n;
	uint64_t h = FNV_INIT;
	long total = 0;
	while ((n = read(up[0], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			buf[i] ^= 0x5a;
		h = fnv1a(h, buf, n);
		total += n;
	}
	wait_child("writer", wpid);
	wait_child("echo", pid);
	printf("parent received %ld hash %016llx\n", total, (unsigned long long)h);
	return 0;
}
