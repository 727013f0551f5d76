/* mlock family: alignment, unmapped ranges, RLIMIT_MEMLOCK for an
 * unprivileged user, mlock2 flags, mlockall flags, munlock. */
#define _GNU_SOURCE
#include "common.h"
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* VmLck of /proc/self/status. */
static void vmlck(const char *what)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmLck:", 6))
			printf("%s: %s", what, line);
	if (f)
		fclose(f);
}

int main(void)
{
	size_t big = 16 << 20;
	char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	report_ret("mlock 16 MiB as root", mlock(p, big));
	vmlck("locked");
	report_ret("munlock", munlock(p, big));
	vmlck("unlocked");
	report_ret("mlock unaligned", mlock(p + 100, 10));
	report_ret("mlock zero", mlock(p, 0));
	munmap(p + 4096, 4096);
	report_ret("mlock over a hole", mlock(p, 3 * 4096));
	report_ret("munlock over a hole", munlock(p, 3 * 4096));
	report_ret("mlock2 onfault", syscall(SYS_mlock2, p, 4096, 1));
	report_ret("mlock2 bad flags", syscall(SYS_mlock2, p, 4096, 2));
	report_ret("mlockall none", mlockall(0));
	report_ret("mlockall onfault alone", mlockall(MCL_ONFAULT));
	report_ret("mlockall bad", mlockall(8));
	report_ret("mlockall future", mlockall(MCL_FUTURE));
	report_ret("munlockall", munlockall());
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {8192, 8192};
		setrlimit(RLIMIT_MEMLOCK, &rl);
		if (setgid(1000) || setuid(1000))
			_exit(3);
		char *q = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		report_ret("user mlock 2 pages", mlock(q, 2 * 4096));
		report_ret("user mlock same again", mlock(q, 2 * 4096));
		report_ret("user mlock 3rd page", mlock(q + 2 * 4096, 4096));
		report_ret("user munlock 1", munlock(q, 4096));
		report_ret("user mlock 3rd page now", mlock(q + 2 * 4096, 4096));
		report_ret("user mlockall current", mlockall(MCL_CURRENT));
		rl.rlim_cur = rl.rlim_max = 0;
		setrlimit(RLIMIT_MEMLOCK, &rl);
		report_ret("user mlock no limit", mlock(q, 4096));
		report_ret("user munlock no limit", munlock(q, 4096));
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	return WEXITSTATUS(status);
}
