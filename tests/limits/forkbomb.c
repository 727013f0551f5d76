/* Fork bomb, bounded: fork up to N children that wait to be killed,
 * counting refusals; then kill and reap them all. Usage: forkbomb N */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	pid_t *kids = calloc(n, sizeof *kids);
	int forked = 0, refused = 0, last_err = 0;
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			/* Grandchildren too: each child tries once more. */
			if (fork() == 0)
				pause();
			pause();
			_exit(0);
		}
		if (p < 0) {
			refused++;
			last_err = errno;
			continue;
		}
		kids[forked++] = p;
	}
	printf("forked %d, refused %d (%s)\n", forked, refused, refused ? strerror(last_err) : "-");
	fflush(stdout);
	for (int i = 0; i < forked; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < forked; i++)
		waitpid(kids[i], NULL, 0);
	printf("reaped %d\n", forked);
	return 0;
}
