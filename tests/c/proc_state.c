/* A process's state in /proc/PID/stat as a parent polling it sees it
 * (LTP's TST_PROCESS_STATE_WAIT): a child that computes is running (R), one
 * blocked in pause(), in a SysV message receive, sigtimedwait or a pipe read is sleeping
 * (S), and the running child is never seen sleeping first. */
#include "common.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>

/* The first state other than R seen within 2 s, or R. */
static char settle(pid_t p)
{
	for (int i = 0; i < 2000; i++) {
		char s = proc_state(p);
		if (s != 'R') return s;
		usleep(1000);
	}
	return 'R';
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void){
	pid_t c = fork();
	if (c == 0) {
		volatile unsigned long x = 0;
		double end = now() + 0.5;
		while (now() < end) x++;
		_exit(0);
	}
	/* Until it exits the computing child must never look asleep. */
	char seen = 'R';
	for (int i = 0; i < 100; i++) {
		char s = proc_state(c);
		if (s != 'R') { seen = s; break; }
		usleep(2000);
	}
	printf("computing child: %c\n", seen);
	waitpid(c, NULL, 0);

	c = fork();
	if (c == 0) { pause(); _exit(0); }
	printf("pause: %c\n", settle(c));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);

	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	c = fork();
	if (c == 0) {
		struct { long t; char b[8]; } m;
		_exit(msgrcv(q, &m, sizeof m.b, 1, 0) < 0 && errno == EIDRM ? 3 : 4);
	}
	printf("msgrcv: %c\n", settle(c));
	msgctl(q, IPC_RMID, NULL);
	int st = 0;
	waitpid(c, &st, 0);
	printf("msgrcv after removal: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 3 ? "EIDRM" : "other");

	c = fork();
	if (c == 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		struct timespec ts = {10, 0};
		_exit(sigtimedwait(&set, NULL, &ts) == SIGUSR1 ? 0 : 1);
	}
	printf("sigtimedwait: %c\n", settle(c));
	kill(c, SIGUSR1);
	waitpid(c, &st, 0);
	printf("sigtimedwait woken: %d\n", WEXITSTATUS(st));

	int p[2];
	pipe(p);
	c = fork();
	if (c == 0) { char b; _exit(read(p[0], &b, 1) == 1 ? 0 : 1); }
	printf("pipe read: %c\n", settle(c));
	write(p[1], "x", 1);
	waitpid(c, &st, 0);
	printf("pipe reader: %d\n", WEXITSTATUS(st));
	return 0;
}
