/* sched_setattr/sched_getattr (incl. SCHED_DEADLINE parameters and
 * SCHED_RESET_ON_FORK), readahead(2) and membarrier(2). */
#define _GNU_SOURCE
#include "common.h"
#include <sched.h>
#include <linux/membarrier.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

static long setattr(pid_t pid, struct attr *a, unsigned flags)
{
	return syscall(SYS_sched_setattr, pid, a, flags);
}

static long getattr(pid_t pid, struct attr *a, unsigned size, unsigned flags)
{
	return syscall(SYS_sched_getattr, pid, a, size, flags);
}

static void show(const char *what, pid_t pid)
{
	struct attr a;
	memset(&a, 0xff, sizeof(a));
	long r = getattr(pid, &a, sizeof(a), 0);
	if (r < 0) {
		report_ret(what, r);
		return;
	}
	printf("%s: size %u policy %u flags %llu nice %d prio %u dl %llu/%llu/%llu\n", what, a.size, a.policy,
	       (unsigned long long)a.flags, a.nice, a.priority, (unsigned long long)a.runtime,
	       (unsigned long long)a.deadline, (unsigned long long)a.period);
}

int main(void)
{
	struct attr a = {.size = sizeof(a)};
	show("initial", 0);
	a.policy = SCHED_OTHER;
	a.nice = 5;
	report_ret("set nice 5", setattr(0, &a, 0));
	show("after nice", 0);
	report_ret("getpriority", getpriority(PRIO_PROCESS, 0));
	a.policy = SCHED_FIFO;
	a.priority = 0;
	report_ret("fifo prio 0", setattr(0, &a, 0));
	a.priority = 100;
	report_ret("fifo prio 100", setattr(0, &a, 0));
	a.priority = 10;
	report_ret("fifo prio 10", setattr(0, &a, 0));
	show("fifo", 0);
	report_ret("getscheduler", sched_getscheduler(0));
	struct attr dl = {.size = sizeof(dl), .policy = 6, .runtime = 10000000, .deadline = 30000000,
			  .period = 30000000};
	report_ret("deadline", setattr(0, &dl, 0));
	show("after deadline", 0);
	dl.runtime = 40000000;
	report_ret("deadline runtime > deadline", setattr(0, &dl, 0));
	report_ret("setattr flags", setattr(0, &a, 1));
	report_ret("setattr null", setattr(0, NULL, 0));
	report_ret("setattr no pid", setattr(99999, &a, 0));
	report_ret("setattr bad policy", setattr(0, &(struct attr){.size = sizeof(a), .policy = 42}, 0));
	report_ret("setattr unknown flag", setattr(0, &(struct attr){.size = sizeof(a), .flags = 0x100}, 0));
	char big[128] = {0};
	((struct attr *)big)->size = sizeof(big);
	big[100] = 1;
	report_ret("setattr big nonzero", setattr(0, (struct attr *)big, 0));
	printf("size written back: %u\n", ((struct attr *)big)->size);
	struct attr small = {.size = 20};
	report_ret("setattr small size", setattr(0, &small, 0));
	printf("size written back: %u\n", small.size);
	report_ret("getattr small buf", getattr(0, &a, 40, 0));
	report_ret("getattr flags", getattr(0, &a, sizeof(a), 1));
	struct attr v0;
	report_ret("getattr ver0", getattr(0, &v0, 48, 0));
	printf("ver0 size: %u\n", v0.size);

	struct attr rr = {.size = sizeof(rr), .policy = SCHED_RR, .priority = 5, .flags = 1};
	report_ret("rr reset-on-fork", setattr(0, &rr, 0));
	report_ret("getscheduler", sched_getscheduler(0));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		show("child", 0);
		report_ret("child getscheduler", sched_getscheduler(0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	a = (struct attr){.size = sizeof(a), .policy = SCHED_OTHER};
	setattr(0, &a, 0);

	int fd = open("ra_file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(fd, "data", 4);
	report_ret("readahead file", syscall(SYS_readahead, fd, 0, 4096));
	int wo = open("ra_file", O_WRONLY);
	report_ret("readahead write-only", syscall(SYS_readahead, wo, 0, 4096));
	int p[2];
	pipe(p);
	report_ret("readahead pipe", syscall(SYS_readahead, p[0], 0, 4096));
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	report_ret("readahead socket", syscall(SYS_readahead, s, 0, 4096));
	int d = open(".", O_RDONLY);
	report_ret("readahead dir", syscall(SYS_readahead, d, 0, 4096));
	report_ret("readahead bad fd", syscall(SYS_readahead, 999, 0, 4096));
	unlink("ra_file");

	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	report_ret("membarrier query", q);
	report_ret("private expedited unregistered", syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
	report_ret("register", syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
	report_ret("private expedited", syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
	report_ret("bad cmd", syscall(SYS_membarrier, 1 << 20, 0, 0));
	report_ret("bad flags", syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 4, 0));
	return 0;
}
