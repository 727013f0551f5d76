/* Kernel attack surface and raw syscalls: interfaces an app must never reach
 * on the host (bpf, perf, keyrings, userfaultfd, io_uring, kexec, modules,
 * namespaces, i386 and x32 entry points, numbers outside the table), attacks
 * on other sandbox processes (ptrace, process_vm_writev, kill -1), and fds
 * leaking across exec. Success of a host-only interface prints LEAK. */
#include "escape.h"
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <linux/perf_event.h>

static const char *res(long r)
{
	static char buf[128];
	if (r < 0)
		snprintf(buf, sizeof buf, "%s", errname(errno));
	else
		snprintf(buf, sizeof buf, "LEAK-succeeded(%ld)", r);
	return buf;
}

/* A host-only interface: any success is a leak. */
static void host_only(const char *name, long r)
{
	attempt_result(name, "%s", res(r));
}

/* How a child ended, as text. */
static const char *fate(pid_t pid)
{
	static char buf[64];
	int st = 0;
	if (waitpid(pid, &st, 0) < 0)
		snprintf(buf, sizeof buf, "waitpid %s", errname(errno));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
	return buf;
}

static volatile long canary = 0x1111;

/* After exec: which fds are still open? Written to a file the parent reads. */
static int after_exec(void)
{
	char list[1024] = "";
	size_t off = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			sappend(list, sizeof list, &off, "%d ", fd);
	int out = open("/tmp/fds_after_exec", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return 1;
	if (write(out, list, strlen(list)) < 0)
		return 1;
	close(out);
	return 0;
}

static void raw_numbers(void)
{
	long nrs[] = {337, 400, 423, 463, 500, 1000, 4096, -1, 0x40000000L, 0x40000000L + 13, 0x7fffffffL};
	char out[512] = "";
	size_t off = 0;
	for (unsigned i = 0; i < sizeof nrs / sizeof nrs[0]; i++) {
		long r = syscall(nrs[i], 0, 0, 0, 0, 0, 0);
		sappend(out, sizeof out, &off, "%ld:%s ", nrs[i], r < 0 ? errname(errno) : "LEAK-succeeded");
	}
	attempt_result("syscall numbers outside the table", "%s", out);
	/* uretprobe (335) and uprobe (336) skip seccomp on Linux 6.11+/6.16+:
	 * the kernel itself only lets them act from its uprobe trampoline. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		syscall(335, 0, 0, 0, 0, 0, 0);
		_exit(errno == ENOSYS ? 0 : 1);
	}
	const char *f = fate(pid);
	long r = syscall(336, 0, 0, 0, 0, 0, 0);
	attempt_result("uretprobe/uprobe outside a trampoline", "335: %s, 336: %s", f, r < 0 ? errname(errno) : "LEAK-succeeded");
}

/* The sentry's stub page sits at 0x10000 in every app process (systrap's
 * per-thread region at 0x600000000000): sealing it (mseal, 462) would stop
 * the sentry managing it. The attempt must fail. */
static void seal_sentry_pages(void)
{
	long stub = syscall(462, 0x10000UL, 4096UL, 0UL);
	const char *s = stub < 0 ? errname(errno) : "LEAK-succeeded";
	long region = syscall(462, 0x600000000000UL, 65536UL, 0UL);
	attempt_result("mseal of the sentry's pages", "stub %s, region %s", s, res(region));
}

static void i386_entry(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		long r;
		/* i386 getpid (20) through int $0x80: a different syscall table. */
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		_exit(r > 0 ? 42 : 43);
	}
	const char *f = fate(pid);
	attempt_result("int 0x80 (i386 ABI)", "%s%s", f, strcmp(f, "exited 42") == 0 ? " LEAK" : "");
}

static void kernel_interfaces(void)
{
	char attr[256];
	memset(attr, 0, sizeof attr);
	attr[0] = 1; /* BPF_MAP_TYPE_HASH */
	attr[4] = 4;
	attr[8] = 4;
	attr[12] = 1;
	host_only("bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, 0, attr, 72));
	memset(attr, 0, sizeof attr);
	host_only("bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, 5, attr, 128));
	struct perf_event_attr pe;
	memset(&pe, 0, sizeof pe);
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof pe;
	pe.config = PERF_COUNT_SW_CPU_CLOCK;
	host_only("perf_event_open(self)", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
	pe.type = PERF_TYPE_TRACEPOINT;
	host_only("perf_event_open(all cpus)", syscall(SYS_perf_event_open, &pe, -1, 0, -1, 0));
	host_only("add_key(user)", syscall(SYS_add_key, "user", "rvisor", "v", 1, -2 /* process keyring */));
	host_only("keyctl(JOIN_SESSION_KEYRING)", syscall(SYS_keyctl, 1, "rvisor"));
	host_only("request_key", syscall(SYS_request_key, "user", "rvisor", NULL, 0));
	host_only("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
	memset(attr, 0, sizeof attr);
	host_only("io_uring_setup", syscall(SYS_io_uring_setup, 8, attr));
	/* Arguments the host would reject anyway: the probes stay harmless. */
	host_only("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xffff0000UL));
	host_only("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 2 /* KEXEC_FILE_NO_INITRAMFS */));
	static char module[64] = "\177ELF";
	host_only("init_module", syscall(SYS_init_module, module, sizeof module, ""));
	int f = open("/inside.txt", O_RDONLY);
	host_only("finit_module", syscall(SYS_finit_module, f, "", 0));
	close(f);
	host_only("delete_module", syscall(SYS_delete_module, "rvisor_no_such_module", O_NONBLOCK));
	host_only("iopl(3)", syscall(SYS_iopl, 3));
	host_only("ioperm(0x80)", syscall(SYS_ioperm, 0x80, 1, 1));
	host_only("swapoff(/)", syscall(SYS_swapoff, "/"));
	/* A wrong second magic: even the host would only answer EINVAL. */
	host_only("reboot", syscall(SYS_reboot, 0xfee1dead, 1, RB_DISABLE_CAD, NULL));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	host_only("clock_settime(now)", clock_settime(CLOCK_REALTIME, &now));
	host_only("umount2(/, MNT_DETACH)", umount2("/", MNT_DETACH));
	host_only("mount tmpfs over /", mount("none", "/", "tmpfs", 0, NULL));
	host_only("acct(/inside.txt)", syscall(SYS_acct, "/inside.txt"));
	host_only("quotactl", syscall(SYS_quotactl, 0x800002 /* Q_GETFMT */, "/", 0, attr));
	host_only("lookup_dcookie", syscall(SYS_lookup_dcookie, 0, attr, 64));
	host_only("fanotify_init", syscall(SYS_fanotify_init, 0, 0));
	host_only("open_tree(/)", syscall(428 /* open_tree */, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */));
	host_only("fsopen(tmpfs)", syscall(430 /* fsopen */, "tmpfs", 0));
	/* A character device for all of physical memory. */
	unlink("/tmp/mem");
	if (mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)) < 0) {
		attempt_result("mknod /dev/mem", "mknod %s", errname(errno));
	} else {
		int m = open("/tmp/mem", O_RDONLY);
		char b[16];
		long n = m < 0 ? -1 : read(m, b, sizeof b);
		attempt_result("mknod /dev/mem", "%s", m < 0 ? errname(errno) : n > 0 ? "LEAK-readable" : "read failed");
		if (m >= 0)
			close(m);
	}
}

static void namespaces(void)
{
	int ns = open("/proc/self/ns/mnt", O_RDONLY);
	char r1[64];
	snprintf(r1, sizeof r1, "%s", ns < 0 ? errname(errno) : "opened");
	long r = syscall(SYS_setns, ns < 0 ? 0 : ns, 0);
	attempt_result("setns(/proc/self/ns/mnt)", "open %s, setns %s", r1, res(r));
	if (ns >= 0)
		close(ns);
	host_only("setns(stdin)", syscall(SYS_setns, 0, 0));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* Regain capabilities in a new user namespace, then use them. */
		if (unshare(CLONE_NEWUSER) < 0) {
			printf("attempt %d unshare user ns to regain caps: %s\n", attempt_no + 1, errname(errno));
			_exit(0);
		}
		long m = mount("none", "/tmp", "tmpfs", 0, NULL);
		int fd = open(getenv("SECRET") ? getenv("SECRET") : "/nonexistent", O_RDONLY);
		printf("attempt %d unshare user ns to regain caps: unshared, mount %s, %s\n", attempt_no + 1, res(m),
		       fd < 0 ? errname(errno) : describe_fd(fd));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	attempt_no++;
	host_only("unshare(CLONE_NEWNS|CLONE_NEWNET)", unshare(CLONE_NEWNS | CLONE_NEWNET));
	host_only("clone(CLONE_NEWUSER|CLONE_NEWPID)", syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0));
}

static void other_processes(void)
{
	/* A child attacks its parent (the sandbox's init): every call either
	 * fails or acts inside the sandbox; the sentry is no sandbox process. */
	pid_t parent = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		long r = ptrace(PTRACE_ATTACH, parent, 0, 0);
		printf("attempt %d ptrace(ATTACH) of the parent: %s\n", attempt_no + 1, r < 0 ? errname(errno) : "attached");
		r = ptrace(PTRACE_SEIZE, 1, 0, 0);
		printf("attempt %d ptrace(SEIZE) of pid 1: %s\n", attempt_no + 2, r < 0 ? errname(errno) : "seized");
		long v = 0x2222;
		struct iovec local = {&v, sizeof v}, remote = {(void *)&canary, sizeof v};
		r = process_vm_writev(parent, &local, 1, &remote, 1, 0);
		/* Allowed, as on Linux (same user): the write stays in the sandbox. */
		printf("attempt %d process_vm_writev into the parent: %s\n", attempt_no + 3, r < 0 ? errname(errno) : "wrote");
		r = process_vm_readv(1, &local, 1, &remote, 1, 0);
		printf("attempt %d process_vm_readv of pid 1: %s\n", attempt_no + 4, r < 0 ? errname(errno) : "read");
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	attempt_no += 4;
	attempt_result("parent canary after the attacks", "%s", canary == 0x1111 ? "unchanged" : "changed (in-sandbox write)");
	/* kill(-1) signals every process the caller may signal: the sandbox only. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		long r = kill(-1, SIGKILL);
		printf("kill(-1) returned %s\n", r < 0 ? errname(errno) : "0");
		_exit(0);
	}
	attempt_result("kill(-1, SIGKILL) from a child", "child %s, parent alive", fate(pid));
	char out[256] = "";
	size_t off = 0;
	int pids[] = {0x7ffffff0, 99999, 4194303, -4194303};
	for (unsigned i = 0; i < 4; i++) {
		long r = kill(pids[i], 0);
		sappend(out, sizeof out, &off, "%d:%s ", pids[i], r < 0 ? errname(errno) : "exists");
	}
	attempt_result("kill(0) of pids outside the sandbox", "%s", out);
	/* Other processes' memory: only sandbox pids name anything. */
	off = 0;
	out[0] = 0;
	long v = 0;
	struct iovec local = {&v, sizeof v}, remote = {&v, sizeof v};
	for (unsigned i = 0; i < 3; i++) {
		long r = process_vm_readv(pids[i], &local, 1, &remote, 1, 0);
		sappend(out, sizeof out, &off, "%d:%s ", pids[i], r < 0 ? errname(errno) : "read");
	}
	attempt_result("process_vm_readv of pids outside the sandbox", "%s", out);
}

static void fd_leaks(const char *self)
{
	int keep = open("/inside.txt", O_RDONLY);
	dup2(keep, 7);
	close(keep);
	int fds[2];
	open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pipe2(fds, O_CLOEXEC);
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
	syscall(SYS_epoll_create1, O_CLOEXEC);
	syscall(SYS_memfd_create, "leak", 1 /* MFD_CLOEXEC */);
	syscall(SYS_eventfd2, 0, O_CLOEXEC);
	fcntl(7, F_DUPFD_CLOEXEC, 20);
	dup3(7, 30, O_CLOEXEC);
	unlink("/tmp/fds_after_exec");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = {(char *)self, "-", "-", "--after-exec", NULL};
		execv(self, args);
		_exit(127);
	}
	const char *f = fate(pid);
	char got[1024] = "";
	int in = open("/tmp/fds_after_exec", O_RDONLY);
	if (in >= 0) {
		ssize_t n = read(in, got, sizeof got - 1);
		got[n < 0 ? 0 : n] = 0;
		close(in);
	}
	attempt_result("fds open after exec", "[%s] (child %s)", got, f);
}

int main(int argc, char **argv)
{
	if (argc > 3 && strcmp(argv[3], "--after-exec") == 0)
		return after_exec();
	if (argc < 3) {
		printf("usage: escape_syscalls SECRET_PATH OUTSIDE_DIR\n");
		return 2;
	}
	setenv("SECRET", argv[1], 1);
	mkdir("/tmp", 01777);
	raw_numbers();
	i386_entry();
	seal_sentry_pages();
	kernel_interfaces();
	namespaces();
	other_processes();
	fd_leaks(argv[0]);
	finish();
	return 0;
}
