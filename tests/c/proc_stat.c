/* /proc/self/stat, status, statm and limits: formats, field counts, key
 * order, and the values a process can check against its own syscalls. */
#include "common.h"
#include <sys/prctl.h>
#include <sys/auxv.h>
#include <sys/resource.h>

extern char **environ;

static char buf[65536];

static ssize_t slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

/* Fields of a stat line after "pid (comm)": f[3] is Linux's field 3 (state). */
static char *sf[64];
static int stat_fields(const char *path, char *comm, size_t commsz)
{
	if (slurp(path) < 0)
		return -1;
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	if (!lp || !rp)
		return -1;
	snprintf(comm, commsz, "%.*s", (int)(rp - lp - 1), lp + 1);
	static char copy[sizeof buf];
	snprintf(copy, sizeof copy, "%s", buf);
	int n = 0;
	sf[1] = copy;
	sf[2] = comm;
	n = 2;
	char *save, *tok = strtok_r(copy + (rp - buf) + 1, " \n", &save);
	while (tok && n < 63) {
		sf[++n] = tok;
		tok = strtok_r(NULL, " \n", &save);
	}
	return n;
}

static unsigned long long F(int i)
{
	return strtoull(sf[i], NULL, 10);
}

static const char *status_value(const char *key)
{
	static char val[1024], text[sizeof buf + 1];
	char pat[64];
	snprintf(pat, sizeof pat, "\n%s:\t", key);
	snprintf(text, sizeof text, "\n%s", buf);
	const char *p = strstr(text, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	size_t n = strcspn(p, "\n");
	snprintf(val, sizeof val, "%.*s", (int)n, p);
	return val;
}

/* Keys every Linux since 4.x prints, in its order. */
static const char *known_keys[] = {
	"Name", "Umask", "State", "Tgid", "Ngid", "Pid", "PPid", "TracerPid", "Uid", "Gid",
	"FDSize", "Groups", "NStgid", "NSpid", "NSpgid", "NSsid", "VmPeak", "VmSize", "VmLck",
	"VmPin", "VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmData", "VmStk", "VmExe",
	"VmLib", "VmPTE", "VmSwap", "HugetlbPages", "CoreDumping", "Threads", "SigQ", "SigPnd",
	"ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
	"NoNewPrivs", "Seccomp", "Cpus_allowed", "Cpus_allowed_list", "Mems_allowed",
	"Mems_allowed_list", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches", NULL,
};

static void check_status_keys(void)
{
	int next = 0, missing = 0, out_of_order = 0;
	char *save, *copy = strdup(buf);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(l, ':');
		if (!colon || colon[1] != '\t') {
			printf("status line without \":\\t\": %s\n", l);
			continue;
		}
		*colon = 0;
		int k = -1;
		for (int i = 0; known_keys[i]; i++)
			if (!strcmp(known_keys[i], l))
				k = i;
		if (k < 0)
			continue;
		if (k < next)
			out_of_order++;
		missing += k - next;
		next = k + 1;
	}
	free(copy);
	printf("status keys: missing=%d out_of_order=%d last_known=%s\n", missing, out_of_order,
	       next > 0 ? known_keys[next - 1] : "-");
}

static void on_term(int s)
{
	(void)s;
}

int main(int argc, char **argv)
{
	char comm[64];
	int local = 0;

	/* A known signal state: SIGUSR1 blocked, SIGUSR2 ignored, SIGTERM caught. */
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_SETMASK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGTERM, on_term);
	/* One pending, blocked signal. */
	kill(getpid(), SIGUSR1);

	int n = stat_fields("/proc/self/stat", comm, sizeof comm);
	printf("stat fields: %d\n", n);
	printf("stat comm: %s state: %s\n", comm, sf[3]);
	printf("stat pid == getpid: %d\n", atoi(sf[1]) == getpid());
	printf("stat ppid == getppid: %d\n", atoi(sf[4]) == getppid());
	printf("stat pgrp == getpgrp: %d\n", atoi(sf[5]) == getpgrp());
	printf("stat session == getsid: %d\n", atoi(sf[6]) == getsid(0));
	printf("stat tty_nr tpgid: %s %s\n", sf[7], sf[8]);
	printf("stat threads: %s itrealvalue: %s\n", sf[20], sf[21]);
	printf("stat signal blocked sigignore sigcatch: %s %s %s %s\n", sf[31], sf[32], sf[33], sf[34]);
	printf("stat exit_signal: %s exit_code: %s\n", sf[38], sf[52]);
	uintptr_t code = (uintptr_t)&main, stack = (uintptr_t)&local;
	printf("stat main in [startcode, endcode): %d\n", F(26) <= code && code < F(27));
	printf("stat local below startstack: %d\n", stack < F(28) && F(28) - stack < (1 << 20));
	printf("stat start_data <= end_data: %d\n", F(45) <= F(46));
	printf("stat start_brk <= brk: %d\n", F(47) <= (uintptr_t)sbrk(0));
	uintptr_t a0 = (uintptr_t)argv[argc > 0 ? 0 : 0], e0 = (uintptr_t)environ[0];
	printf("stat arg_end == env_start: %d\n", F(49) == F(50));
	printf("stat argv[0] in args: %d\n", F(48) <= a0 && a0 < F(49));
	printf("stat environ[0] in env: %d\n", F(50) <= e0 && e0 < F(51));
	slurp("/proc/uptime");
	double up = atof(buf);
	printf("stat starttime <= uptime: %d\n", F(22) <= (unsigned long long)(up * 100) + 1);
	printf("stat vsize > 0: %d rss > 0: %d\n", F(23) > 0, F(24) > 0);

	/* status */
	slurp("/proc/self/status");
	check_status_keys();
	printf("status Name: %s\n", status_value("Name"));
	printf("status Umask: %s\n", status_value("Umask"));
	printf("status State: %s\n", status_value("State"));
	printf("status Tgid == getpid: %d\n", atoi(status_value("Tgid")) == getpid());
	printf("status Pid == gettid: %d\n", atoi(status_value("Pid")) == gettid());
	printf("status PPid == getppid: %d\n", atoi(status_value("PPid")) == getppid());
	printf("status NSpid == getpid: %d\n", atoi(status_value("NSpid")) == getpid());
	printf("status NSsid == getsid: %d\n", atoi(status_value("NSsid")) == getsid(0));
	printf("status TracerPid: %s\n", status_value("TracerPid"));
	char want[256];
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	snprintf(want, sizeof want, "%u\t%u\t%u\t%u", r, e, s, e);
	printf("status Uid matches: %d\n", !strcmp(status_value("Uid"), want));
	snprintf(want, sizeof want, "%u\t%u\t%u\t%u", gr, ge, gs, ge);
	printf("status Gid matches: %d\n", !strcmp(status_value("Gid"), want));
	gid_t groups[64];
	int ng = getgroups(64, groups);
	want[0] = 0;
	for (int i = 0; i < ng; i++)
		snprintf(want + strlen(want), sizeof want - strlen(want), "%u ", groups[i]);
	if (ng == 0)
		strcpy(want, " ");
	printf("status Groups matches: %d\n", !strcmp(status_value("Groups"), want));
	printf("status Threads: %s\n", status_value("Threads"));
	printf("status SigPnd: %s\n", status_value("SigPnd"));
	printf("status ShdPnd: %s\n", status_value("ShdPnd"));
	printf("status SigBlk: %s\n", status_value("SigBlk"));
	printf("status SigIgn: %s\n", status_value("SigIgn"));
	printf("status SigCgt: %s\n", status_value("SigCgt"));
	const char *q = status_value("SigQ");
	struct rlimit sigpending;
	getrlimit(RLIMIT_SIGPENDING, &sigpending);
	printf("status SigQ limit == RLIMIT_SIGPENDING: %d\n",
	       q && strtoull(strchr(q, '/') + 1, NULL, 10) == (unsigned long long)sigpending.rlim_cur);
	const char *rss = status_value("VmRSS");
	printf("status VmRSS format ok: %d\n", rss && strlen(rss) == 11 && !strcmp(rss + 8, " kB"));
	printf("status Cpus_allowed_list present: %d\n", status_value("Cpus_allowed_list") != NULL);

	/* Blocking SIGUSR2 too shows at once. */
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_SETMASK, &set, NULL);
	slurp("/proc/self/status");
	printf("status SigBlk after: %s\n", status_value("SigBlk"));
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigwaitinfo(&usr1, NULL);
	slurp("/proc/self/status");
	printf("status SigPnd after wait: %s\n", status_value("SigPnd"));

	/* The name follows prctl, escaped in status. */
	prctl(PR_SET_NAME, "new\\name");
	slurp("/proc/self/status");
	printf("status Name after prctl: %s\n", status_value("Name"));
	stat_fields("/proc/self/stat", comm, sizeof comm);
	printf("stat comm after prctl: %s\n", comm);
	slurp("/proc/self/comm");
	print_bytes("comm", buf, strlen(buf));
	umask(077);
	slurp("/proc/self/status");
	printf("status Umask after umask: %s\n", status_value("Umask"));

	/* auxv: (type, value) pairs ending with AT_NULL, as getauxval sees them. */
	ssize_t an = slurp("/proc/self/auxv");
	int pairs = an > 0 ? an / 16 : 0, mismatches = 0;
	unsigned long kv[2] = {1, 0};
	printf("auxv types:");
	for (int i = 0; i < pairs; i++) {
		memcpy(kv, buf + 16 * i, 16);
		printf(" %lu", kv[0]);
		/* glibc's AT_HWCAP is its own x86 feature word, not the kernel's. */
		if (kv[0] != AT_NULL && kv[0] != AT_HWCAP && getauxval(kv[0]) != kv[1])
			mismatches++;
	}
	printf("\nauxv: whole pairs: %d ends with AT_NULL: %d mismatches: %d\n", an % 16 == 0,
	       kv[0] == AT_NULL && kv[1] == 0, mismatches);

	/* statm: seven numbers, the last two and the lib column zero. */
	slurp("/proc/self/statm");
	unsigned long m[8];
	int k = sscanf(buf, "%lu %lu %lu %lu %lu %lu %lu %lu", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &m[6], &m[7]);
	printf("statm fields: %d size>=resident: %d lib=%lu dt=%lu text>0: %d\n", k, m[0] >= m[1], m[4], m[6],
	       m[3] > 0);

	/* limits: the table after setting every limit. */
	static const int res[] = {RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE,
				  RLIMIT_RSS, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_AS,
				  RLIMIT_LOCKS, RLIMIT_SIGPENDING, RLIMIT_MSGQUEUE, RLIMIT_NICE,
				  RLIMIT_RTPRIO, RLIMIT_RTTIME};
	for (unsigned i = 0; i < sizeof res / sizeof res[0]; i++) {
		struct rlimit rl = {100 + i, 200 + i};
		if (res[i] == RLIMIT_CPU)
			rl.rlim_max = RLIM_INFINITY;
		if (res[i] == RLIMIT_FSIZE)
			rl = (struct rlimit){1 << 30, RLIM_INFINITY};
		if (res[i] == RLIMIT_AS || res[i] == RLIMIT_DATA || res[i] == RLIMIT_STACK)
			rl = (struct rlimit){RLIM_INFINITY, RLIM_INFINITY};
		if (res[i] == RLIMIT_NOFILE)
			rl = (struct rlimit){64, 128};
		/* Raising these from 0 (Linux's default; the test harness's
		 * core limit) needs CAP_SYS_RESOURCE. */
		if (res[i] == RLIMIT_NICE || res[i] == RLIMIT_RTPRIO || res[i] == RLIMIT_CORE)
			rl = (struct rlimit){0, 0};
		if (setrlimit(res[i], &rl) < 0)
			printf("setrlimit %d: %s\n", res[i], errname(errno));
	}
	slurp("/proc/self/limits");
	printf("%s", buf);
	return 0;
}
