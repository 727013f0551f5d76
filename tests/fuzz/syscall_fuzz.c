/* Random syscalls with random arguments (random pointers, lengths, flags,
 * small fds that name real objects), issued from several threads at once
 * inside the sandbox to show the sentry survives them. Calls that would end
 * or block the fuzzer itself are skipped.
 *
 * Usage: syscall_fuzz CALLS SEED [THREADS [LINGER_MS]]
 * CALLS is the total over all threads; "progress N" lines count the calls
 * issued so far (in steps of 5000 per thread). Prints "fuzz start" once the
 * threads' own fds exist, and "fuzz done: N calls" after every thread has
 * finished and every fd above stderr is closed; then lingers LINGER_MS so
 * an observer can compare the sentry's resources with those at the start. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_THREADS 16

/* Each thread's writable target for "valid" pointers: its own mapping,
 * followed by a PROT_NONE page, so a long write through a random length
 * faults instead of running into the fuzzer's own state. */
#define SCRATCH_LEN (128UL << 10)

struct worker {
	pthread_t th;
	unsigned long long s;
	long calls;
	long issued;
	char *scratch;
};

/* Calls issued so far by all threads, reported as "progress N" lines. */
static long progress;

static unsigned long long rnd(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Never-mapped memory (PROT_NONE): "bad" pointers land here or in the
 * kernel half, so a call cannot scribble over the fuzzer's own state; "good"
 * ones land in the thread's scratch buffer. */
static char *guard;
#define GUARD_LEN (1UL << 20)

static unsigned long arg(struct worker *w)
{
	unsigned long long *s = &w->s;
	switch (rnd(s) % 8) {
	case 0:
		return 0;
	case 1:
		return rnd(s) % 64; /* small numbers: fds, flags, sizes */
	case 2:
		return (unsigned long)-1;
	case 3:
		return rnd(s) | (1ULL << 63); /* a kernel address, or a huge length */
	case 4:
		return (unsigned long)guard + rnd(s) % GUARD_LEN;
	case 5:
		return (unsigned long)w->scratch + rnd(s) % 4096;
	case 6:
		return 1UL << (rnd(s) % 16); /* single flag bits */
	default:
		return (unsigned long)(long)-(long)(rnd(s) % 200);
	}
}

static const int skip[] = {
	/* ending the thread or the process, or replacing the image */
	SYS_exit, SYS_exit_group, SYS_kill, SYS_tkill, SYS_tgkill, SYS_fork, SYS_vfork, SYS_clone, SYS_clone3,
	SYS_execve, SYS_execveat, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo, SYS_seccomp, SYS_pidfd_send_signal,
	/* the fuzzer's own memory, signals, stack and fd table */
	SYS_rt_sigreturn, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_brk, SYS_mmap, SYS_madvise, SYS_rt_sigaction,
	SYS_rt_sigprocmask, SYS_sigaltstack, SYS_arch_prctl, SYS_set_tid_address, SYS_set_robust_list, SYS_rseq,
	SYS_prctl, SYS_setrlimit, SYS_prlimit64, SYS_close, SYS_close_range, SYS_dup2, SYS_dup3, SYS_shmdt,
	SYS_shmat, SYS_pkey_mprotect, SYS_remap_file_pages, SYS_io_uring_register,
	SYS_setsid, SYS_chroot, SYS_chdir, SYS_fchdir, SYS_umask, SYS_unshare, SYS_personality,
	SYS_setuid, SYS_setresuid, SYS_setreuid, SYS_setfsuid, SYS_setgid, SYS_setresgid, SYS_setregid, SYS_setfsgid,
	SYS_setgroups, SYS_capset,
	/* uretprobe: exempt from seccomp by the kernel, SIGILL outside a uprobe trampoline */
	335,
	/* writes that could clobber the terminal or block on a full pipe */
	SYS_write, SYS_writev, SYS_pwrite64, SYS_pwritev, SYS_pwritev2, SYS_sendfile, SYS_copy_file_range, SYS_ioctl,
	SYS_splice, SYS_tee, SYS_vmsplice,
	/* timers that signal the process */
	SYS_alarm, SYS_setitimer, SYS_timer_create, SYS_timer_settime,
	/* calls that may block forever */
	SYS_pause, SYS_rt_sigsuspend, SYS_nanosleep, SYS_clock_nanosleep, SYS_read, SYS_readv, SYS_pread64, SYS_preadv,
	SYS_preadv2, SYS_futex, SYS_wait4, SYS_waitid, SYS_rt_sigtimedwait, SYS_poll, SYS_ppoll, SYS_select,
	SYS_pselect6, SYS_flock, SYS_fcntl, SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_pwait2, SYS_msgrcv, SYS_msgsnd,
	SYS_semop, SYS_semtimedop, SYS_accept, SYS_accept4, SYS_recvfrom, SYS_recvmsg, SYS_recvmmsg, SYS_connect,
	SYS_sendto, SYS_sendmsg, SYS_sendmmsg, SYS_mq_timedreceive, SYS_mq_timedsend, SYS_open, SYS_openat,
	SYS_openat2, SYS_creat, SYS_mknod, SYS_mknodat,
};

static int skipped(long nr)
{
	for (unsigned k = 0; k < sizeof skip / sizeof skip[0]; k++)
		if (skip[k] == nr)
			return 1;
	return 0;
}

static void *work(void *p)
{
	struct worker *w = p;
	for (long i = 0; i < w->calls; i++) {
		long nr = rnd(&w->s) % 463;
		if (skipped(nr))
			continue;
		syscall(nr, arg(w), arg(w), arg(w), arg(w), arg(w), arg(w));
		if (++w->issued % 5000 == 0) {
			char line[64];
			int n = snprintf(line, sizeof line, "progress %ld\n", __atomic_add_fetch(&progress, 5000, __ATOMIC_SEQ_CST));
			if (write(1, line, n) < 0)
				break;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 20000;
	unsigned long long seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	int threads = argc > 3 ? atoi(argv[3]) : 4;
	int linger_ms = argc > 4 ? atoi(argv[4]) : 0;
	if (threads < 1 || threads > MAX_THREADS)
		threads = 4;
	signal(SIGPIPE, SIG_IGN);
	guard = mmap(NULL, GUARD_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (guard == MAP_FAILED)
		return 2;
	/* Real objects behind small fd numbers. */
	int fds[2];
	pipe(fds);
	socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, fds);
	syscall(SYS_eventfd2, 0, 0);
	syscall(SYS_memfd_create, "fuzz", 0);
	syscall(SYS_epoll_create1, 0);
	static struct worker w[MAX_THREADS];
	printf("fuzz start: %d threads\n", threads);
	fflush(stdout);
	for (int t = 0; t < threads; t++) {
		char *m = mmap(NULL, SCRATCH_LEN + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED || mprotect(m + SCRATCH_LEN, 4096, PROT_NONE) != 0)
			return 2;
		w[t].scratch = m;
		w[t].s = ((seed * 0x9e3779b97f4a7c15ULL) ^ (0x2545f4914f6cdd1dULL * (t + 1))) | 1;
		w[t].calls = calls / threads;
		pthread_create(&w[t].th, NULL, work, &w[t]);
	}
	long issued = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(w[t].th, NULL);
		issued += w[t].issued;
	}
	syscall(SYS_close_range, 3, ~0U, 0);
	printf("fuzz done: %ld calls\n", issued);
	fflush(stdout);
	if (linger_ms > 0)
		usleep(linger_ms * 1000);
	return 0;
}
