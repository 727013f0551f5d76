/* SIGTSTP, SIGTTIN and SIGTTOU at their default action stop a process in a
 * process group that is not orphaned (reported with that signal), and a
 * handled one runs its handler instead. */
#include "common.h"

static volatile sig_atomic_t handled;
static void on_tstp(int sig)
{
	handled = sig;
}

static void stop_case(int sig, int own_group)
{
	int go[2], done[2];
	pipe(go);
	pipe(done);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (own_group)
			setpgid(0, 0);
		char c;
		read(go[0], &c, 1);
		raise(sig);
		/* Stay until the parent saw the continue (else wait may see the exit). */
		read(done[0], &c, 1);
		printf("child %d: running again\n", sig);
		fflush(stdout);
		_exit(0);
	}
	write(go[1], "x", 1);
	int st;
	waitpid(pid, &st, WUNTRACED);
	if (WIFSTOPPED(st)) {
		printf("sig %d: stopped by %d\n", sig, WSTOPSIG(st));
		kill(pid, SIGCONT);
		waitpid(pid, &st, WCONTINUED);
		printf("sig %d: continued %d\n", sig, WIFCONTINUED(st));
	}
	fflush(stdout);
	write(done[1], "x", 1);
	waitpid(pid, &st, 0);
	printf("sig %d: exited %d\n", sig, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

int main(void)
{
	stop_case(SIGTSTP, 1);
	stop_case(SIGTTIN, 1);
	stop_case(SIGTTOU, 1);
	/* kill -STOP still works alike. */
	stop_case(SIGSTOP, 1);
	signal(SIGTSTP, on_tstp);
	raise(SIGTSTP);
	printf("handled: %d\n", handled);
	signal(SIGTSTP, SIG_IGN);
	raise(SIGTSTP);
	printf("ignored: still running\n");
	return 0;
}
