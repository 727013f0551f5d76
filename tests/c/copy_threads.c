/* Many threads and forks copying through systrap's copy file at once: 100
 * threads (more than the file's 64 areas, so some copy the slow way) stat
 * and read one file again and again while the process forks, twice over;
 * every result must be right. A process whose threads all ask for a copy
 * file at the same moment must still end up with one file, the one its fd
 * names (two at once once left the record and the fd apart). */
#include <pthread.h>
#include <sys/wait.h>
#include "common.h"

#define THREADS 100
#define ROUNDS 300

static off_t want;
static char first[64];

static void *worker(void *arg)
{
	(void)arg;
	long bad = 0;
	char path[64], buf[64];
	struct stat st;
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(path, sizeof path, "/etc/%s", (i & 1) ? "passwd" : "./passwd");
		if (stat(path, &st) != 0 || st.st_size != want)
			bad++;
		int fd = open(path, O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof buf) != (ssize_t)sizeof buf || memcmp(buf, first, sizeof buf))
			bad++;
		close(fd);
	}
	return (void *)bad;
}

int main(void)
{
	struct stat st;
	int fd = open("/etc/passwd", O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 || read(fd, first, sizeof first) != (ssize_t)sizeof first) {
		printf("setup failed\n");
		return 1;
	}
	close(fd);
	want = st.st_size;
	long bad = 0, children_bad = 0;
	for (int round = 0; round < 2; round++) {
		pthread_t t[THREADS];
		for (int i = 0; i < THREADS; i++)
			pthread_create(&t[i], 0, worker, 0);
		pid_t c = fork();
		if (c == 0)
			_exit(worker(0) ? 1 : 0);
		for (int i = 0; i < THREADS; i++) {
			void *r;
			pthread_join(t[i], &r);
			bad += (long)r;
		}
		int s;
		waitpid(c, &s, 0);
		children_bad += !WIFEXITED(s) || WEXITSTATUS(s) != 0;
	}
	printf("wrong results: %ld, children wrong: %ld\n", bad, children_bad);
	return 0;
}
