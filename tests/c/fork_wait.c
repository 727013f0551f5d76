/* fork/wait4/waitid: exit codes, signals, stop/continue, ECHILD. */
#include "common.h"
#include <sys/resource.h>

static volatile int chld;
static void on_chld(int s)
{
	(void)s;
	chld++;
}

static pid_t spawn_exit(int code)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(code);
	return pid;
}

static pid_t spawn_signal(int sig)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(99);
	}
	return pid;
}

int main(void)
{
	int st;
	CHECK(wait(&st));
	CHECK(waitpid(-1, &st, WNOHANG));

	int codes[] = {0, 1, 42, 255, 256, 257};
	for (unsigned i = 0; i < 6; i++) {
		char l[32];
		snprintf(l, sizeof l, "exit(%d)", codes[i]);
		wait_child(l, spawn_exit(codes[i]));
	}
	int sigs[] = {SIGKILL, SIGTERM, SIGSEGV, SIGABRT, SIGUSR1, SIGHUP};
	for (unsigned i = 0; i < 6; i++) {
		pid_t pid = spawn_signal(sigs[i]);
		waitpid(pid, &st, 0);
		printf("signal %d: signaled=%d termsig=%d\n", sigs[i], WIFSIGNALED(st), WTERMSIG(st));
	}

	/* Real segfault. */
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		*(volatile int *)8 = 1;
		_exit(0);
	}
	wait_child("null deref", pid);

	/* WNOHANG on a running child, then reap. */
	int p[2];
	pipe(p);
	pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		read(p[0], &c, 1);
		_exit(3);
	}
	close(p[0]);
	CHECKV(waitpid(pid, &st, WNOHANG));
	close(p[1]);
	pid_t got = waitpid(pid, &st, 0);
	printf("reaped right pid: %d\n", got == pid);
	show_wait("after release", st);
	CHECK(waitpid(pid, &st, 0));

	/* waitid. */
	pid = spawn_exit(7);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, pid, &si, WEXITED));
	printf("waitid: code=%d status=%d pid ok=%d signo=%d\n", si.si_code, si.si_status, si.si_pid == pid, si.si_signo);
	pid = spawn_signal(SIGTERM);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_ALL, 0, &si, WEXITED));
	printf("waitid kill: code=%d status=%d\n", si.si_code, si.si_status);
	CHECK(waitid(P_ALL, 0, &si, 0));
	CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG));

	/* WNOWAIT leaves the child waitable. */
	pid = spawn_exit(9);
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	printf("nowait status=%d\n", si.si_status);
	wait_child("after nowait", pid);

	/* Stop and continue. */
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	kill(pid, SIGSTOP);
	waitpid(pid, &st, WUNTRACED);
	printf("stopped=%d stopsig=%d\n", WIFSTOPPED(st), WSTOPSIG(st));
	kill(pid, SIGCONT);
	waitpid(pid, &st, WCONTINUED);
	printf("continued=%d\n", WIFCONTINUED(st));
	kill(pid, SIGKILL);
	wait_child("stopped child", pid);

	/* SIGCHLD delivery and getppid. */
	signal(SIGCHLD, on_chld);
	pid_t me = getpid();
	pid = fork();
	if (pid == 0) {
		printf("child getppid matches: %d\n", getppid() == me);
		printf("child pid differs: %d\n", getpid() != me);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	printf("sigchld count: %d\n", chld);

	/* Many children reaped with wait(). */
	for (int i = 0; i < 20; i++)
		spawn_exit(i);
	int sum = 0, n = 0;
	while (wait(&st) > 0) {
		sum += WEXITSTATUS(st);
		n++;
	}
	printf("reaped %d children, status sum %d\n", n, sum);

	/* wait4 with rusage. */
	struct rusage ru;
	pid = spawn_exit(5);
	CHECK(wait4(pid, &st, 0, &ru));
	show_wait("wait4", st);

	/* Wait for a non-child. */
	CHECK(waitpid(1, &st, 0));
	CHECK(waitpid(-1, &st, 0x40000000 | 0x7));
	return 0;
}
