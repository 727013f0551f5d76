/* clone3's argument checks (stack and size go together, the pidfd address
 * must be writable, CLONE_FS with a new mount namespace), and its pidfd
 * field: CLONE_PIDFD stores there, apart from CLONE_PARENT_SETTID's id. */
#include "common.h"
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static long clone3(struct clone_args *a, size_t size) { return syscall(SYS_clone3, a, size); }

static void try(const char *what, struct clone_args a)
{
	errno = 0;
	long r = clone3(&a, sizeof a);
	if (r == 0) _exit(0);
	if (r > 0) waitpid(r, NULL, 0);
	printf("%s: %s\n", what, r < 0 ? errname(errno) : "created");
}

int main(void){
	static char stack[65536];
	int *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
	try("stack without size", (struct clone_args){.exit_signal = SIGCHLD, .stack = (uintptr_t)stack});
	try("size without stack", (struct clone_args){.exit_signal = SIGCHLD, .stack_size = 4});
	try("pidfd unmapped", (struct clone_args){.flags = CLONE_PIDFD, .exit_signal = SIGCHLD, .pidfd = 8});
	try("pidfd read-only", (struct clone_args){.flags = CLONE_PIDFD, .exit_signal = SIGCHLD, .pidfd = (uintptr_t)ro});
	try("fs with newns", (struct clone_args){.flags = CLONE_FS|CLONE_NEWNS, .exit_signal = SIGCHLD});
	try("fs with newuser", (struct clone_args){.flags = CLONE_FS|CLONE_NEWUSER, .exit_signal = SIGCHLD});
	try("newpid with parent", (struct clone_args){.flags = CLONE_NEWPID|CLONE_PARENT, .exit_signal = SIGCHLD});
	int pidfd = -5, tid = -5, same = -5;
	try("pidfd and parent tid apart", (struct clone_args){.flags = CLONE_PIDFD|CLONE_PARENT_SETTID,
		.exit_signal = SIGCHLD, .pidfd = (uintptr_t)&pidfd, .parent_tid = (uintptr_t)&tid});
	printf("pidfd stored: %s, tid stored: %s, pidfd is a pidfd: %s\n", pidfd >= 0 ? "yes" : "no",
		tid > 0 ? "yes" : "no", pidfd >= 0 && fcntl(pidfd, F_GETFD) == FD_CLOEXEC ? "yes" : "no");
	try("pidfd and parent tid same", (struct clone_args){.flags = CLONE_PIDFD|CLONE_PARENT_SETTID,
		.exit_signal = SIGCHLD, .pidfd = (uintptr_t)&same, .parent_tid = (uintptr_t)&same});
	return 0;
}
