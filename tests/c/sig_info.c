/* Siginfo of signals the kernel (here: the sentry) sends: SIGCHLD from exits,
 * kills, stops and continues; kill/tgkill/sigqueue sender fields; the core
 * bit; SIGPIPE. Pids are printed relative to known ones, never raw. */
#include "common.h"
#include <sys/resource.h>

static volatile sig_atomic_t got;
static siginfo_t last;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	last = *si;
	got++;
}

/* Reports a SIGSEGV's address and code, then ends the process. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char msg[96];
	int l = snprintf(msg, sizeof msg, "fault: signo=%d code=%d addr=%lu\n", sig, si->si_code,
			 (unsigned long)si->si_addr);
	write(1, msg, l);
	_exit(0);
}

static void handle(int sig)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, NULL);
}

/* Blocks until `sig` is pending, then takes it with sigwaitinfo. */
static siginfo_t wait_for(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	sigwaitinfo(&set, &si);
	return si;
}

int main(void)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	/* Exit code 7. */
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	siginfo_t si = wait_for(SIGCHLD);
	printf("exit: signo=%d code=%d pid_ok=%d status=%d uid_ok=%d\n", si.si_signo, si.si_code, si.si_pid == c,
	       si.si_status, si.si_uid == getuid());
	waitpid(c, NULL, 0);

	/* Killed by SIGTERM. */
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	kill(c, SIGTERM);
	si = wait_for(SIGCHLD);
	printf("killed: code=%d pid_ok=%d status=%d\n", si.si_code, si.si_pid == c, si.si_status);
	int st;
	waitpid(c, &st, 0);
	printf("killed: WTERMSIG=%d core=%d\n", WTERMSIG(st), WCOREDUMP(st) ? 1 : 0);

	/* SIGSEGV with RLIMIT_CORE 0: killed, no core bit. (With a core limit,
	 * Linux sets the bit only if a core file was really written, which
	 * depends on the host's core_pattern; the sentry never writes one.) */
	c = fork();
	if (c == 0) {
		struct rlimit rl = {0, RLIM_INFINITY};
		setrlimit(RLIMIT_CORE, &rl);
		*(volatile int *)8 = 1;
		_exit(0);
	}
	si = wait_for(SIGCHLD);
	waitpid(c, &st, 0);
	printf("segv: WTERMSIG=%d core=%d code=%d\n", WTERMSIG(st), WCOREDUMP(st) ? 1 : 0, si.si_code);

	/* A fault's siginfo: si_addr and si_code of the access (the host's own). */
	c = fork();
	if (c == 0) {
		struct sigaction fa = {0};
		fa.sa_sigaction = on_fault;
		fa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &fa, NULL);
		*(volatile int *)16 = 1;
		_exit(9);
	}
	waitpid(c, &st, 0);
	wait_for(SIGCHLD);
	printf("fault handler: exit %d\n", WEXITSTATUS(st));

	/* Stop and continue. */
	c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	kill(c, SIGSTOP);
	si = wait_for(SIGCHLD);
	printf("stopped: code=%d status=%d\n", si.si_code, si.si_status);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGCONT);
	si = wait_for(SIGCHLD);
	printf("continued: code=%d status=%d\n", si.si_code, si.si_status);
	kill(c, SIGKILL);
	wait_for(SIGCHLD);
	waitpid(c, &st, 0);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);

	/* kill/tgkill/sigqueue to ourselves and from a child. */
	handle(SIGUSR1);
	kill(getpid(), SIGUSR1);
	printf("kill self: code=%d pid_ok=%d uid_ok=%d\n", last.si_code, last.si_pid == getpid(), last.si_uid == getuid());
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
	printf("tgkill self: code=%d pid_ok=%d\n", last.si_code, last.si_pid == getpid());
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGUSR1, v);
	printf("sigqueue self: code=%d value=%d pid_ok=%d\n", last.si_code, last.si_value.sival_int, last.si_pid == getpid());
	handle(SIGRTMIN + 1);
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	for (int i = 0; i < 3; i++) {
		v.sival_int = 100 + i;
		sigqueue(getpid(), SIGRTMIN + 1, v);
	}
	got = 0;
	sigprocmask(SIG_UNBLOCK, &rt, NULL);
	printf("queued rt signals delivered: %d, last value=%d\n", (int)got, last.si_value.sival_int);

	pid_t parent = getpid();
	got = 0;
	c = fork();
	if (c == 0) {
		kill(parent, SIGUSR1);
		_exit(0);
	}
	while (!got)
		pause();
	printf("kill from child: code=%d pid_ok=%d\n", last.si_code, last.si_pid == c);
	waitpid(c, NULL, 0);

	/* Forged SI_USER to another process is refused. */
	siginfo_t forged;
	memset(&forged, 0, sizeof forged);
	forged.si_code = SI_USER;
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	long r = syscall(SYS_rt_sigqueueinfo, c, SIGUSR1, &forged);
	printf("forged SI_USER to child: %ld %s\n", r, r ? errname(errno) : "");
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);

	/* SIGPIPE from writing to a pipe without readers. */
	handle(SIGPIPE);
	int p[2];
	pipe(p);
	close(p[0]);
	got = 0;
	r = write(p[1], "x", 1);
	printf("sigpipe: write=%ld %s got=%d code=%d pid_ok=%d\n", r, errname(errno), (int)got, last.si_code,
	       last.si_pid == getpid());
	return 0;
}
