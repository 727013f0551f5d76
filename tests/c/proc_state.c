/* A process's state in /proc/PID/stat as a parent polling it sees it
 * (LTP's TST_PROCESS_STATE_WAIT): a child that computes is running (R), one
 * blocked in pause(), in a SysV message receive, sigtimedwait or a pipe read is sleeping
 * (S), and the running child is never seen sleeping first. Last, LTP
 * futex_wait07's pattern a hundred times: a new child sets a handler and
 * waits on a futex; the parent signals it once it looks asleep, and the
 * signal must end that wait (a child seen asleep too early takes the signal
 * before its wait, which then runs to its timeout). */
#include "common.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>

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

static volatile sig_atomic_t waiting, early;

static void on_usr1(int sig)
{
	(void)sig;
	early = !waiting;
}

/* One round: 0 if the signal ended the child's futex wait, 1 if the child
 * took it before waiting, 2 if it died of it (seen asleep before its
 * handler was set), 3 if never seen asleep. */
static int futex_round(int *word)
{
	pid_t c = fork();
	if (c == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		struct timespec to = {2, 0};
		waiting = 1;
		long r = syscall(SYS_futex, word, FUTEX_WAIT, 0, &to, NULL, 0);
		_exit(r < 0 && errno == EINTR && !early ? 0 : 1);
	}
	char s = 'R';
	for (int i = 0; i < 2000 && s == 'R'; i++) {
		s = proc_state(c);
		if (s == 'R')
			usleep(100);
	}
	kill(c, SIGUSR1);
	int st = 0;
	waitpid(c, &st, 0);
	if (s == 'R')
		return 3;
	if (WIFSIGNALED(st))
		return 2;
	return WEXITSTATUS(st) == 0 ? 0 : 1;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv){
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

	int *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int count[4] = {0}, rounds = argc > 1 ? atoi(argv[1]) : 100;
	for (int i = 0; i < rounds; i++)
		count[futex_round(word)]++;
	printf("futex waits ended by the signal: %d of %d (taken before the wait %d, killed %d, never asleep %d)\n",
	       count[0], rounds, count[1], count[2], count[3]);
	return 0;
}
