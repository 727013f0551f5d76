/* kcmp(2) and process_vm_readv/writev(2) between sandboxed processes:
 * what is shared compares equal, errors, the ptrace access rule. */
#define _GNU_SOURCE
#include "common.h"
#include <sched.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define KCMP_FILE 0
#define KCMP_VM 1
#define KCMP_FILES 2
#define KCMP_FS 3
#define KCMP_SIGHAND 4
#define KCMP_IO 5
#define KCMP_SYSVSEM 6

static long kcmp(pid_t a, pid_t b, int type, unsigned long x, unsigned long y)
{
	return syscall(SYS_kcmp, a, b, type, x, y);
}

static void same(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, errname(errno));
	else
		printf("%s: %s\n", what, r == 0 ? "same" : "different");
}

static char shared_buf[64] = "parent data";
static volatile int child_flag;
static int pipefd[2];

static int clone_child(void *arg)
{
	(void)arg;
	char c;
	read(pipefd[0], &c, 1);
	return 0;
}

static void clone_case(const char *what, int flags, int type)
{
	static char stack[65536];
	pipe(pipefd);
	pid_t pid = clone(clone_child, stack + sizeof(stack), flags | SIGCHLD, NULL);
	same(what, kcmp(getpid(), pid, type, 0, 0));
	write(pipefd[1], "x", 1);
	waitpid(pid, NULL, 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

int main(void)
{
	pid_t me = getpid();
	int a = open("/dev/null", O_RDONLY);
	int b = dup(a);
	int c = open("/dev/null", O_RDONLY);
	same("file dup", kcmp(me, me, KCMP_FILE, a, b));
	same("file other open", kcmp(me, me, KCMP_FILE, a, c));
	report_ret("file bad fd", kcmp(me, me, KCMP_FILE, a, 999));
	report_ret("bad type", kcmp(me, me, 99, 0, 0));
	report_ret("no such pid", kcmp(me, 99999, KCMP_VM, 0, 0));
	same("vm self", kcmp(me, me, KCMP_VM, 0, 0));

	clone_case("clone vm", CLONE_VM, KCMP_VM);
	clone_case("fork vm", 0, KCMP_VM);
	clone_case("clone files", CLONE_FILES, KCMP_FILES);
	clone_case("fork files", 0, KCMP_FILES);
	clone_case("clone fs", CLONE_FS, KCMP_FS);
	clone_case("fork fs", 0, KCMP_FS);
	clone_case("clone sighand", CLONE_VM | CLONE_SIGHAND, KCMP_SIGHAND);
	clone_case("fork sighand", 0, KCMP_SIGHAND);
	clone_case("fork sysvsem", 0, KCMP_SYSVSEM);

	/* process_vm_readv/writev with a forked child: same addresses. */
	int go[2], done[2];
	pipe(go);
	pipe(done);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		strcpy(shared_buf, "child data");
		write(done[1], "r", 1);
		char ch;
		read(go[0], &ch, 1);
		printf("child sees: %s\n", shared_buf);
		/* An unprivileged child may not look at root's process. */
		if (setgid(1000) || setuid(1000))
			_exit(3);
		char tmp[16];
		struct iovec l = {tmp, sizeof(tmp)}, r = {shared_buf, sizeof(tmp)};
		report_ret("unprivileged readv", process_vm_readv(getppid(), &l, 1, &r, 1, 0));
		report_ret("unprivileged kcmp", kcmp(getpid(), getppid(), KCMP_VM, 0, 0));
		fflush(stdout);
		_exit(0);
	}
	char ch;
	read(done[0], &ch, 1);
	char got[32] = {0};
	struct iovec local[2] = {{got, 5}, {got + 5, 27}};
	struct iovec remote = {shared_buf, 32};
	report_ret("readv", process_vm_readv(child, local, 2, &remote, 1, 0));
	printf("read: %s\n", got);
	struct iovec wl = {"written by parent", 18}, wr = {shared_buf, 18};
	report_ret("writev", process_vm_writev(child, &wl, 1, &wr, 1, 0));
	struct iovec bad = {(void *)8, 16};
	report_ret("readv bad remote", process_vm_readv(child, local, 1, &bad, 1, 0));
	struct iovec two[2] = {{shared_buf, 8}, {(void *)8, 8}};
	report_ret("readv partial", process_vm_readv(child, local, 1, two, 2, 0));
	report_ret("readv flags", process_vm_readv(child, local, 1, &remote, 1, 1));
	report_ret("readv no pid", process_vm_readv(99999, local, 1, &remote, 1, 0));
	report_ret("readv zero", process_vm_readv(child, local, 0, &remote, 0, 0));
	fflush(stdout);
	write(go[1], "g", 1);
	int status;
	waitpid(child, &status, 0);
	return WEXITSTATUS(status);
}
