/* A process group whose leader has exited but is not reaped yet still
 * exists (Linux keeps a zombie in its group until it is reaped): a shell
 * puts a pipeline's second process into the first's group even when the
 * first has already finished. Once the zombie is reaped, the group is gone. */
#include "common.h"

static const char *res(int r)
{
	return r == 0 ? "ok" : strerror(errno);
}

int main(void)
{
	pid_t a = fork();
	if (a == 0) {
		setpgid(0, 0);
		_exit(0);
	}
	setpgid(a, a);
	/* Wait until a is a zombie, without reaping it. */
	siginfo_t si;
	if (waitid(P_PID, a, &si, WEXITED | WNOWAIT) != 0)
		return 1;
	int p[2];
	if (pipe(p) != 0)
		return 1;
	pid_t b = fork();
	if (b == 0) {
		char c;
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		printf("the child joins the zombie's group itself: %s\n", res(setpgid(0, a)));
		printf("the child's group is the zombie's: %s\n", getpgrp() == a ? "yes" : "no");
		fflush(stdout);
		_exit(0);
	}
	printf("the parent moves the child into the zombie's group: %s\n", res(setpgid(b, a)));
	fflush(stdout);
	if (write(p[1], "x", 1) != 1)
		return 1;
	waitpid(b, NULL, 0);
	waitpid(a, NULL, 0);
	/* Both members are reaped now: the group is gone. */
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	printf("joining the group once its members are reaped: %s\n", res(setpgid(c, a)));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return 0;
}
