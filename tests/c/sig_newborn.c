/* Signals sent to a child the instant fork returns, before it has run:
 * a stop must stop it, a fatal signal must kill it with that signal, a
 * handled one must reach its handler. Many rounds, so a child caught in any
 * state of its start-up is tried. */
#include "common.h"

#define ROUNDS 60

static void on_usr1(int sig)
{
	(void)sig;
	_exit(42);
}

int main(void)
{
	int stop_ok = 0, cont_ok = 0, term_ok = 0, usr1_ok = 0;
	for (int i = 0; i < ROUNDS; i++) {
		/* SIGSTOP, seen by WUNTRACED; then SIGCONT, seen by WCONTINUED. */
		pid_t c = fork();
		if (c == 0) {
			for (;;)
				pause();
		}
		kill(c, SIGSTOP);
		int st = 0;
		if (waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP)
			stop_ok++;
		kill(c, SIGCONT);
		if (waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st))
			cont_ok++;
		kill(c, SIGKILL);
		waitpid(c, &st, 0);

		/* SIGTERM at its default action. */
		c = fork();
		if (c == 0) {
			pause();
			_exit(0);
		}
		kill(c, SIGTERM);
		if (waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
			term_ok++;

		/* SIGUSR1 with the handler inherited from the parent. */
		struct sigaction sa = {0};
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		c = fork();
		if (c == 0) {
			for (;;)
				pause();
		}
		kill(c, SIGUSR1);
		if (waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 42)
			usr1_ok++;
		signal(SIGUSR1, SIG_DFL);
	}
	printf("rounds=%d stopped=%d continued=%d terminated=%d handled=%d\n", ROUNDS, stop_ok, cont_ok, term_ok,
	       usr1_ok);
	return 0;
}
