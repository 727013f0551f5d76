/* The last copy-out of a call that only reports (the stat family, statfs,
 * uname, sysinfo, getcwd) into memory that faults: the call fails with
 * EFAULT, whole or partly bad, and a good buffer right after gets the right
 * bytes. Under systrap these copy-outs run as the call returns, once the
 * process has its copy file: the loop of good calls first gets it one. */
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include "common.h"

static long page;

static void check(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? errname(errno) : "OK");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	if (chdir("/etc") != 0) {
		printf("chdir failed\n");
		return 1;
	}
	/* Page 0 writable, page 1 read-only, page 2 unmapped. */
	char *m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + page, page, PROT_READ) || munmap(m + 2 * page, page)) {
		printf("setup failed\n");
		return 1;
	}
	struct stat want, st;
	if (stat("/etc/passwd", &want) != 0) {
		printf("stat failed\n");
		return 1;
	}
	long bad = 0;
	for (int i = 0; i < 300; i++)
		if (stat("/etc/passwd", &st) != 0 || st.st_size != want.st_size || st.st_ino != want.st_ino)
			bad++;
	printf("good stats wrong: %ld\n", bad);

	char *ro = m + page, *straddle = m + page - sizeof(struct stat) / 2;
	char *gone = m + 2 * page;
	int fd = open("/etc/passwd", O_RDONLY);
	for (int round = 0; round < 2; round++) {
		check("stat read-only", stat("/etc/passwd", (struct stat *)ro));
		check("stat unmapped", stat("/etc/passwd", (struct stat *)gone));
		check("stat straddling", stat("/etc/passwd", (struct stat *)straddle));
		check("lstat null", syscall(SYS_lstat, "/etc/passwd", NULL));
		check("fstat read-only", fstat(fd, (struct stat *)ro));
		check("fstatat unmapped", fstatat(AT_FDCWD, "/etc", (struct stat *)gone, 0));
		check("statx straddling", syscall(SYS_statx, AT_FDCWD, "/etc/passwd", 0, 0x7ff, m + page - 64));
		check("statfs read-only", statfs("/", (struct statfs *)ro));
		check("fstatfs unmapped", fstatfs(fd, (struct statfs *)gone));
		check("uname read-only", uname((struct utsname *)ro));
		check("sysinfo straddling", sysinfo((struct sysinfo *)(m + page - 16)));
		check("getcwd read-only", syscall(SYS_getcwd, ro, 64));
		check("getcwd straddling", syscall(SYS_getcwd, m + page - 1, 64));
		/* A good call right after each bad one gets the right bytes. */
		memset(&st, 0, sizeof st);
		check("stat good", stat("/etc/passwd", &st));
		printf("same file: %d\n", st.st_ino == want.st_ino && st.st_size == want.st_size);
		struct stat *edge = (struct stat *)(m + page - sizeof(struct stat));
		check("stat at the page's end", stat("/etc/passwd", edge));
		printf("same file: %d\n", edge->st_ino == want.st_ino && edge->st_size == want.st_size);
		char cwd[64] = {0};
		check("getcwd good", syscall(SYS_getcwd, cwd, sizeof cwd));
		printf("cwd: %s\n", cwd);
		struct utsname u;
		check("uname good", uname(&u));
		printf("sysname: %s\n", u.sysname);
		/* Copies in and out of calls that do more than report. */
		check("sigprocmask set unmapped", syscall(SYS_rt_sigprocmask, SIG_BLOCK, gone, NULL, 8));
		check("sigprocmask old read-only", syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, ro, 8));
		check("sigaction act unmapped", syscall(SYS_rt_sigaction, SIGUSR1, gone, NULL, 8));
		check("sigaction old read-only", syscall(SYS_rt_sigaction, SIGUSR1, NULL, ro, 8));
		sigset_t add, old;
		sigemptyset(&add);
		sigaddset(&add, SIGUSR2);
		check("sigprocmask good", sigprocmask(SIG_BLOCK, &add, &old));
		check("sigprocmask back", sigprocmask(SIG_SETMASK, &old, &add));
		printf("SIGUSR2 was blocked: %d, is now: %d\n", sigismember(&add, SIGUSR2),
		       sigprocmask(SIG_BLOCK, NULL, &old) == 0 && sigismember(&old, SIGUSR2));
	}
	/* Bad buffers from many threads' worth of calls leave nothing behind. */
	for (int i = 0; i < 100; i++) {
		if (stat("/etc/passwd", (struct stat *)gone) == 0 || errno != EFAULT)
			bad++;
		if (stat("/etc/passwd", &st) != 0 || st.st_ino != want.st_ino)
			bad++;
	}
	printf("alternating wrong: %ld\n", bad);
	return 0;
}
