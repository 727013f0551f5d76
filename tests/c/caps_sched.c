/* Capabilities (capget/capset, the bounding set, uid changes), scheduling
 * (affinity, policies, nice) and personality, as an unprivileged program
 * sees them after dropping root. Runs as root to start. */
#include "common.h"
#include <linux/capability.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* Evaluates one call, then prints its result and errno name. */
#define SHOW(label, expr)                                                                          \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(expr);                                                            \
		int e_ = errno;                                                                    \
		printf("%s: %ld %s\n", label, r_, r_ < 0 ? errname(e_) : "");                     \
	} while (0)

static int capget2(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return syscall(SYS_capget, &h, d);
}

static int has(struct __user_cap_data_struct d[2], int cap, int which)
{
	unsigned v = which == 0 ? d[cap / 32].effective : which == 1 ? d[cap / 32].permitted : d[cap / 32].inheritable;
	return (v >> (cap % 32)) & 1;
}

int main(void)
{
	struct __user_cap_header_struct h = {0x12345678, 0};
	errno = 0;
	long r = syscall(SYS_capget, &h, NULL);
	printf("capget probe: %ld version=%#x\n", r, h.version);

	struct __user_cap_data_struct d[2];
	capget2(d);
	printf("root: setuid eff=%d kill eff=%d\n", has(d, CAP_SETUID, 0), has(d, CAP_KILL, 0));

	/* Drop CAP_SETUID from effective: setuid to another uid then fails. */
	d[0].effective &= ~(1u << CAP_SETUID);
	struct __user_cap_header_struct h3 = {_LINUX_CAPABILITY_VERSION_3, 0};
	printf("capset drop effective: %ld\n", syscall(SYS_capset, &h3, d));
	SHOW("setresuid without CAP_SETUID", setresuid(-1, 1234, -1));
	d[0].effective |= 1u << CAP_SETUID;
	printf("capset raise back: %ld\n", syscall(SYS_capset, &h3, d));
	/* Raising beyond permitted fails. */
	struct __user_cap_data_struct e[2];
	capget2(e);
	e[0].permitted &= ~(1u << CAP_NET_RAW);
	e[0].effective &= ~(1u << CAP_NET_RAW);
	syscall(SYS_capset, &h3, e);
	e[0].permitted |= 1u << CAP_NET_RAW;
	SHOW("capset regain dropped permitted", syscall(SYS_capset, &h3, e));

	printf("bounding has CAP_SYS_CHROOT: %d\n", prctl(PR_CAPBSET_READ, CAP_SYS_CHROOT) == 1);
	SHOW("bounding drop", prctl(PR_CAPBSET_DROP, CAP_SYS_CHROOT));
	SHOW("bounding now", prctl(PR_CAPBSET_READ, CAP_SYS_CHROOT));

	pid_t c = fork();
	if (c == 0) {
		/* Leaving uid 0 entirely clears effective and permitted. */
		setresuid(1000, 1000, 1000);
		struct __user_cap_data_struct u[2];
		capget2(u);
		printf("uid 1000: eff=%#x perm=%#x\n", u[0].effective, u[0].permitted);
		SHOW("uid 1000 setuid(0)", setuid(0));
		SHOW("uid 1000 kill(1, 0)", kill(1, 0));
		SHOW("uid 1000 lower nice", setpriority(PRIO_PROCESS, 0, -5));
		SHOW("uid 1000 raise nice", setpriority(PRIO_PROCESS, 0, 5));
		SHOW("uid 1000 nice now", getpriority(PRIO_PROCESS, 0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);

	cpu_set_t set;
	CPU_ZERO(&set);
	r = sched_getaffinity(0, sizeof set, &set);
	int n = CPU_COUNT(&set);
	printf("getaffinity: %ld cpus=%d sysconf=%d\n", r, n == sysconf(_SC_NPROCESSORS_ONLN), n > 0);
	long raw = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
	printf("raw getaffinity size multiple of 8: %d\n", raw > 0 && raw % 8 == 0);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	SHOW("setaffinity cpu0", sched_setaffinity(0, sizeof set, &set));
	sched_getaffinity(0, sizeof set, &set);
	printf("count after: %d\n", CPU_COUNT(&set));
	CPU_ZERO(&set);
	SHOW("setaffinity empty", sched_setaffinity(0, sizeof set, &set));
	SHOW("getaffinity tiny", syscall(SYS_sched_getaffinity, 0, 4, &set));

	printf("policy: %d max fifo=%d min fifo=%d max other=%d\n", sched_getscheduler(0), sched_get_priority_max(SCHED_FIFO),
	       sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_OTHER));
	struct sched_param sp = {10};
	SHOW("setscheduler other prio 10", sched_setscheduler(0, SCHED_OTHER, &sp));
	sp.sched_priority = 0;
	SHOW("setscheduler batch", sched_setscheduler(0, SCHED_BATCH, &sp));
	SHOW("getscheduler", sched_getscheduler(0));
	sched_setscheduler(0, SCHED_OTHER, &sp);
	SHOW("getscheduler of no one", sched_getscheduler(999999));
	SHOW("priority max bad policy", sched_get_priority_max(42));
	SHOW("nice", getpriority(PRIO_PROCESS, 0));
	SHOW("set nice 3", setpriority(PRIO_PROCESS, 0, 3));
	SHOW("nice now", getpriority(PRIO_PROCESS, 0));
	SHOW("raw getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	SHOW("getpriority bad which", getpriority(7, 0));
	int old = personality(0xffffffff);
	SHOW("personality set", personality(ADDR_NO_RANDOMIZE));
	SHOW("personality now", personality(0xffffffff));
	personality(old);
	return 0;
}
