/* Attacks on host processes by their host pids: the test writes /hostpids
 * (lines "NAME PID": the rvisor launcher, the sentry, the gofer and an
 * unrelated host process, "victim") once the sandbox runs. Every call must
 * fail: the sandbox's pids are virtual and its pid namespace holds none of
 * these. Success of any call prints LEAK. */
#include "escape.h"
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>

struct target {
	char name[32];
	int pid;
};

static void op(char *out, size_t sz, size_t *off, const char *what, long r)
{
	sappend(out, sz, off, "%s=%s ", what, r < 0 ? errname(errno) : "LEAK");
}

static void attack(const struct target *t)
{
	char out[2048] = "";
	size_t off = 0;
	int p = t->pid;
	long buf[4] = {0};
	struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
	op(out, sizeof out, &off, "kill0", kill(p, 0));
	op(out, sizeof out, &off, "ptrace", ptrace(PTRACE_ATTACH, p, 0, 0));
	op(out, sizeof out, &off, "seize", ptrace(PTRACE_SEIZE, p, 0, 0));
	op(out, sizeof out, &off, "vm_read", process_vm_readv(p, &local, 1, &remote, 1, 0));
	op(out, sizeof out, &off, "vm_write", process_vm_writev(p, &local, 1, &remote, 1, 0));
	op(out, sizeof out, &off, "pidfd", syscall(SYS_pidfd_open, p, 0));
	op(out, sizeof out, &off, "getpgid", getpgid(p));
	op(out, sizeof out, &off, "getsid", getsid(p));
	op(out, sizeof out, &off, "setprio", setpriority(PRIO_PROCESS, p, 19));
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	op(out, sizeof out, &off, "affinity", sched_setaffinity(p, sizeof set, &set));
	struct rlimit rl;
	op(out, sizeof out, &off, "prlimit", prlimit(p, RLIMIT_NOFILE, NULL, &rl));
	op(out, sizeof out, &off, "kcmp", syscall(SYS_kcmp, p, p, 0 /* KCMP_FILE */, 0, 0));
	op(out, sizeof out, &off, "tgkill0", syscall(SYS_tgkill, p, p, 0));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_code = -1;
	op(out, sizeof out, &off, "sigqueue0", syscall(SYS_rt_sigqueueinfo, p, 0, &si));
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", p);
	op(out, sizeof out, &off, "proc_status", open(path, O_RDONLY));
	snprintf(path, sizeof path, "/proc/%d/fd", p);
	op(out, sizeof out, &off, "proc_fd", open(path, O_RDONLY | O_DIRECTORY));
	snprintf(path, sizeof path, "/proc/%d/fd/0", p);
	op(out, sizeof out, &off, "proc_fd0", open(path, O_RDONLY));
	snprintf(path, sizeof path, "/proc/%d/mem", p);
	op(out, sizeof out, &off, "proc_mem", open(path, O_RDWR));
	snprintf(path, sizeof path, "/proc/%d/root", p);
	op(out, sizeof out, &off, "proc_root", open(path, O_RDONLY | O_DIRECTORY));
	/* Last: a signal that would end the target. */
	op(out, sizeof out, &off, "kill9", kill(p, SIGKILL));
	attempt_result(t->name, "%s", out);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: escape_hostpids SECRET_PATH OUTSIDE_DIR\n");
		return 2;
	}
	/* Wait for the test to publish the host pids (up to 60 s). */
	FILE *f = NULL;
	for (int i = 0; i < 6000 && !(f = fopen("/hostpids", "r")); i++)
		usleep(10000);
	if (!f) {
		printf("no /hostpids: %s\n", errname(errno));
		return 1;
	}
	struct target t[8];
	int n = 0;
	while (n < 8 && fscanf(f, "%31s %d", t[n].name, &t[n].pid) == 2)
		n++;
	fclose(f);
	printf("targets: %d\n", n);
	for (int i = 0; i < n; i++)
		attack(&t[i]);
	attempt_result("after the attacks", "%s", "still running");
	finish();
	return 0;
}
