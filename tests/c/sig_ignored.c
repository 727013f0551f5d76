/* Signals an app ignores stay ignored when another process sends them, even
 * after the sandbox ran calls in the app's context (each such call ends
 * with a trap instruction, which on the host would un-ignore SIGTRAP); a
 * SIGTRAP handler still runs for a sent SIGTRAP. */
#include "common.h"

static volatile sig_atomic_t trapped;

static void on_trap(int sig)
{
	(void)sig;
	trapped++;
}

/* A child that ignores `sig` (or handles SIGTRAP when `handler`), makes
 * calls the sandbox runs in its context, gets `sig` from its parent, and
 * reports how it ended. */
static void one(int sig, int handler)
{
	int ready[2], go[2];
	if (pipe(ready) || pipe(go))
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		signal(sig, handler ? on_trap : SIG_IGN);
		/* Calls run in the app's context: a signal action, an fd, a mapping. */
		signal(SIGUSR2, SIG_DFL);
		int fd = open("/proc/self/status", O_RDONLY);
		char b;
		if (fd >= 0)
			close(fd);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		/* Wait (in a blocking read) until the parent sent the signal. */
		while (read(go[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(handler ? 10 + trapped : 0);
	}
	char b;
	if (read(ready[0], &b, 1) != 1)
		die("read ready");
	kill(pid, sig);
	usleep(20000);
	if (write(go[1], "g", 1) != 1)
		die("write go");
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		printf("signal %d %s: exited %d\n", sig, handler ? "handled" : "ignored", WEXITSTATUS(st));
	else
		printf("signal %d %s: killed by %d\n", sig, handler ? "handled" : "ignored", WTERMSIG(st));
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

int main(void)
{
	int sigs[] = {SIGTRAP, SIGUSR1, SIGHUP, SIGTERM, SIGALRM, SIGILL, SIGSEGV, SIGBUS};
	for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		one(sigs[i], 0);
	one(SIGTRAP, 1);
	return 0;
}
