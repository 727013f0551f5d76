/* Concurrent O_APPEND writers never overwrite each other. */
#include "common.h"

#define WRITERS 4
#define RECORDS 200

int main(void)
{
	int fd = open("log", O_CREAT | O_WRONLY | O_APPEND | O_TRUNC, 0644);
	for (int w = 0; w < WRITERS; w++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* Each writer opens its own description. */
			int my = w % 2 ? open("log", O_WRONLY | O_APPEND) : fd;
			for (int i = 0; i < RECORDS; i++) {
				char rec[32];
				int l = snprintf(rec, sizeof rec, "w%d-r%03d\n", w, i);
				if (write(my, rec, l) != l)
					_exit(1);
			}
			_exit(0);
		}
	}
	int st, failed = 0;
	while (wait(&st) > 0)
		failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	printf("failed writers: %d\n", failed);

	struct stat s;
	fstat(fd, &s);
	printf("size: %lld (expected %d)\n", (long long)s.st_size, WRITERS * RECORDS * 8);
	FILE *f = fopen("log", "r");
	char line[64];
	int per[WRITERS] = {0}, bad = 0, order_ok = 1, last[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		last[i] = -1;
	while (fgets(line, sizeof line, f)) {
		int w, r;
		if (sscanf(line, "w%d-r%d", &w, &r) != 2 || w < 0 || w >= WRITERS || strlen(line) != 8) {
			bad++;
			continue;
		}
		per[w]++;
		if (r != last[w] + 1)
			order_ok = 0;
		last[w] = r;
	}
	fclose(f);
	printf("bad lines: %d, in order: %d, per writer:", bad, order_ok);
	for (int i = 0; i < WRITERS; i++)
		printf(" %d", per[i]);
	printf("\n");
	return 0;
}
