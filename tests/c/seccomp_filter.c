/* An app's own seccomp filters: strict mode, filters returning errno, trap
 * and kill, inheritance by children and threads, PR_GET_SECCOMP, the
 * no_new_privs rule, and a filtered process still doing file I/O, mmap and
 * fork (which the sandbox serves with calls of its own in the process). */
#include "common.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ON(nr, action) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, (action))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static int install(struct sock_filter *f, unsigned short n)
{
	struct sock_fprog p = {n, f};
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
}

/* Runs `fn` in a child and prints how it ended. */
static void in_child(const char *name, void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		printf("%s: killed by %d\n", name, WTERMSIG(st));
	else
		printf("%s: exited %d\n", name, WEXITSTATUS(st));
}

static void strict(void)
{
	printf("mode before: %d\n", prctl(PR_GET_SECCOMP));
	fflush(stdout);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
		_exit(2);
	write(1, "strict: write works\n", 20);
	syscall(SYS_getpid); /* not allowed: SIGKILL */
	write(1, "strict: LEAK getpid allowed\n", 28);
	syscall(SYS_exit, 0);
}

static volatile sig_atomic_t trapped_nr = -1;
static void on_sys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	trapped_nr = si->si_syscall;
}

static void *thread_getppid(void *arg)
{
	(void)arg;
	return (void *)(long)(syscall(SYS_getppid) == -1 ? errno : 0);
}

static void errno_and_trap(void)
{
	struct sock_filter f[] = {
		LD_NR,
		ON(SYS_getppid, SECCOMP_RET_ERRNO | EPERM),
		ON(SYS_uname, SECCOMP_RET_ERRNO | 77),
		ON(SYS_getpgrp, SECCOMP_RET_TRAP),
		ON(SYS_chdir, SECCOMP_RET_KILL_PROCESS),
		ALLOW,
	};
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(install(f, sizeof f / sizeof f[0]));
	printf("mode after: %d\n", prctl(PR_GET_SECCOMP));
	errno = 0;
	long r = syscall(SYS_getppid);
	printf("getppid: %ld %s\n", r, errname(errno));
	struct utsname u;
	errno = 0;
	r = uname(&u);
	printf("uname: %ld errno=%d\n", r, errno);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	syscall(SYS_getpgrp);
	printf("trapped: %d\n", (int)trapped_nr);
	/* Threads and children inherit the filter. */
	pthread_t t;
	void *res;
	pthread_create(&t, NULL, thread_getppid, NULL);
	pthread_join(t, &res);
	printf("thread getppid errno: %s\n", errname((int)(long)res));
	/* The process still works: files, mmap of a file, fork, pipes. */
	int fd = open("/proc/self/cmdline", O_RDONLY);
	char buf[16];
	printf("read: %zd\n", read(fd, buf, sizeof buf) > 0 ? (ssize_t)1 : (ssize_t)-1);
	close(fd);
	fd = open("seccomp_filter.tmp", O_RDWR | O_CREAT | O_TRUNC, 0600);
	write(fd, "mapped!", 7);
	char *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	printf("mmap: %.7s\n", m == MAP_FAILED ? "failed" : m);
	close(fd);
	unlink("seccomp_filter.tmp");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		errno = 0;
		long g = syscall(SYS_getppid);
		printf("child getppid: %ld %s\n", g, errname(errno));
		fflush(stdout);
		chdir("/"); /* killed */
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* A default-deny filter (as hardened programs use): calls the sandbox
 * answers itself (dup, close) and a large read still work. */
static void default_deny(void)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	static char big[1 << 20];
	struct sock_filter f[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 7, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_read, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		ALLOW,
	};
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (install(f, sizeof f / sizeof f[0]))
		_exit(2);
	int d = dup(1);
	if (close(d) != 0)
		_exit(3);
	ssize_t n = read(fd, big, sizeof big);
	char msg[] = "default deny: dup, close and read work\n";
	write(1, msg, sizeof msg - 1);
	_exit(n > 0 ? 0 : 4);
}

/* Prints a call's result and errno (read after the call). */
static void show(const char *what, long r)
{
	printf("%s: %ld %s\n", what, r, r < 0 ? errname(errno) : "-");
}

static void needs_nnp_or_root(void)
{
	struct sock_filter f[] = {ALLOW};
	if (setgid(1000) || setuid(1000))
		_exit(3);
	show("unprivileged without no_new_privs", install(f, 1));
	/* Linux checks the header (EFAULT) and its length (EINVAL) before the
	 * privilege (EACCES), and the instructions' address after it. */
	struct sock_fprog unreadable = {1, (struct sock_filter *)8};
	struct sock_fprog empty = {0, f};
	show("unprivileged, bad pointer", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void *)8));
	show("unprivileged, PR_SET_SECCOMP bad pointer", prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (void *)8, 0, 0));
	show("unprivileged, empty program", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &empty));
	show("unprivileged, unreadable instructions", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &unreadable));
	struct sock_fprog bad = {0, f};
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	show("empty program", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &bad));
	show("unknown flag", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 1 << 20, &bad));
	show("strict with args", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL));
	show("bad pointer", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void *)8));
	show("unknown op", syscall(SYS_seccomp, 99, 0, NULL));
	show("with no_new_privs", install(f, 1));
}

int main(void)
{
	in_child("strict", strict);
	in_child("filter", errno_and_trap);
	in_child("rules", needs_nnp_or_root);
	in_child("default deny", default_deny);
	return 0;
}
