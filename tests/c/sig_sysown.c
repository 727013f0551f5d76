/* The app's own SIGSYS (not one from a seccomp filter): raise, kill, tgkill
 * and sigqueue of SIGSYS to itself reach its handler with the sender's
 * siginfo; the handler can make syscalls; SIG_IGN drops it, a blocked one
 * waits for the unblock, SIG_DFL kills (with a core dump status); and
 * /proc/self/status shows SIGSYS as the app set it (caught, ignored,
 * blocked). A blocked SIGSYS is inherited by fork children and threads.
 * Another thread's SigBlk reads as its own mask while it makes syscalls. */
#include "common.h"
#include <pthread.h>
#include <sys/resource.h>

#define SYSBIT (1ULL << (SIGSYS - 1))

static volatile sig_atomic_t got, code, from_me, value, errno_in;
static volatile long in_handler_pid;

static void on_sys(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got = sig;
	code = si->si_code;
	from_me = si->si_pid == getpid(); /* a syscall inside the handler */
	value = si->si_value.sival_int;
	errno_in = si->si_errno;
	in_handler_pid = syscall(SYS_getpid) > 0;
	char msg[] = "in handler\n";
	write(1, msg, sizeof msg - 1);
}

static unsigned long long status_set(const char *path, const char *key)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return ~0ULL;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return ~0ULL;
	buf[n] = 0;
	char *p = strstr(buf, key);
	return p ? strtoull(p + strlen(key) + 2, NULL, 16) : ~0ULL;
}

static void show_sets(const char *when)
{
	const char *f = "/proc/self/status";
	printf("%s: SigBlk %d SigIgn %d SigCgt %d\n", when, !!(status_set(f, "SigBlk") & SYSBIT),
	       !!(status_set(f, "SigIgn") & SYSBIT), !!(status_set(f, "SigCgt") & SYSBIT));
}

static void report(const char *how)
{
	printf("%s: got %d code %d from_me %d value %d errno %d syscalls %d\n", how, (int)got, (int)code,
	       (int)from_me, (int)value, (int)errno_in, (int)in_handler_pid);
	fflush(stdout);
	got = code = from_me = value = errno_in = 0;
	in_handler_pid = 0;
}

static void *mask_has_sigsys(void *arg)
{
	(void)arg;
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return (void *)(long)sigismember(&cur, SIGSYS);
}

static volatile int stop_busy;
static volatile long busy_tid;

static void *busy(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGURG);
	pthread_sigmask(SIG_SETMASK, &s, NULL);
	busy_tid = syscall(SYS_gettid);
	while (!stop_busy)
		syscall(SYS_getppid);
	return NULL;
}

int main(void)
{
	show_sets("default");
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sys;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGSYS, &sa, NULL));
	show_sets("handler");

	raise(SIGSYS);
	report("raise");
	kill(getpid(), SIGSYS);
	report("kill");
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
	report("tgkill");
	union sigval v = {.sival_int = 42};
	sigqueue(getpid(), SIGSYS, v);
	report("sigqueue");

	/* Blocked: pending until unblocked. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_BLOCK, &set, &old);
	show_sets("blocked");
	/* Children and threads inherit the blocked SIGSYS. */
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		_exit(sigismember(&cur, SIGSYS) ? 3 : 4);
	}
	int kst;
	waitpid(kid, &kst, 0);
	printf("fork child: SIGSYS blocked %d\n", WIFEXITED(kst) && WEXITSTATUS(kst) == 3);
	pthread_t kt;
	void *kres;
	pthread_create(&kt, NULL, mask_has_sigsys, NULL);
	pthread_join(kt, &kres);
	printf("thread: SIGSYS blocked %ld\n", (long)kres);
	raise(SIGSYS);
	printf("while blocked: got %d\n", (int)got);
	sigprocmask(SIG_SETMASK, &old, NULL);
	report("after unblock");

	/* Ignored: dropped. */
	signal(SIGSYS, SIG_IGN);
	show_sets("ignored");
	raise(SIGSYS);
	printf("ignored: got %d\n", (int)got);

	/* Another thread's mask, read while it makes syscalls. */
	pthread_t t;
	pthread_create(&t, NULL, busy, NULL);
	while (!busy_tid)
		usleep(1000);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%ld/status", busy_tid);
	int right = 0;
	for (int i = 0; i < 200; i++) {
		unsigned long long blk = status_set(path, "SigBlk");
		right += blk == ((1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGURG - 1)));
	}
	stop_busy = 1;
	pthread_join(t, NULL);
	printf("busy thread SigBlk right: %d/200\n", right);

	/* Default action: the process dies of SIGSYS. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGSYS, SIG_DFL);
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		raise(SIGSYS);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("default: signaled %d sig %d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	return 0;
}
