/* Calls made at the systrap handler's exec site by an app that jumps there
 * itself, for the escape_* programs that attack what the filter allows
 * from there. On ptrace the site is an ordinary trapped call. */
#ifndef RVISOR_EXEC_SITE_H
#define RVISOR_EXEC_SITE_H
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <linux/futex.h>
#include "common.h"

/* STUB_BASE + the handler's offset + the exec site's, minus the syscall's 2 bytes. */
#define EXEC_SYSCALL 0x10328UL

/* A stand-in for the handler's slot (state, spin count, result at 80) and
 * the gregs it writes the result into on the way out. */
struct site_slot {
	volatile uint32_t state;
	uint32_t spin;
	uint64_t words[14];
} __attribute__((aligned(64)));
static struct site_slot site_slot;
static uint64_t site_gregs[32];

/* Answers the handler's "published" (1, or 4 once it sleeps) on `slot` with
 * "reply" (2): 1 if it did. */
static int site_reply(struct site_slot *slot)
{
	uint32_t s = __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
	if (s == 1 || s == 4) {
		__atomic_store_n(&slot->state, 2, __ATOMIC_RELEASE);
		syscall(SYS_futex, &slot->state, FUTEX_WAKE, 1, 0, 0, 0);
		return 1;
	}
	return 0;
}

static void site_on_alarm(int sig)
{
	(void)sig;
	site_reply(&site_slot);
}

/* A 1 ms timer replies for the handler (no thread: this works in fork
 * children too), armed only while a call at the site waits. */
static void site_replier(int on)
{
	signal(SIGALRM, site_on_alarm);
	struct itimerval it = { { 0, on ? 1000 : 0 }, { 0, on ? 1000 : 0 } };
	setitimer(ITIMER_REAL, &it, 0);
}

/* Makes syscall nr at the exec site with `slot` as the handler's slot and
 * `gregs` as its ucontext's registers; returns its raw result, which the
 * handler leaves where rt_sigreturn would restore rax from: gregs[13].
 * Someone else must answer the handler (site_reply): this makes no other
 * call, trapped or not. */
static __attribute__((unused)) long site_call_at(struct site_slot *slot, uint64_t *gregs, long nr, long a0,
						 long a1, long a2, long a3, long a4, long a5)
{
	slot->state = 0;
	slot->spin = 1000;
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long clobbered;
	/* Below the red zone, the return address the handler's `ret` takes. */
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "push %%r15\n\t"
			 "lea 1f(%%rip), %%rcx\n\t"
			 "push %%rcx\n\t"
			 "mov %[s], %%r12\n\t"
			 "mov %[g], %%r13\n\t"
			 "mov %[site], %%r14\n\t"
			 /* The command the handler took: EXEC (8), whose result it publishes. */
			 "mov $8, %%r15d\n\t"
			 "jmp *%%r14\n"
			 "1:\n\t"
			 "pop %%r15\n\t"
			 "add $128, %%rsp"
			 : "=a"(clobbered), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8), "+r"(r9)
			 : "a"(nr), [s] "r"(slot), [g] "r"(gregs), [site] "r"(EXEC_SYSCALL)
			 : "rcx", "r11", "r12", "r13", "r14", "memory", "cc");
	(void)clobbered;
	return (long)gregs[13];
}

/* site_call_at with this process's stand-in slot, a 1 ms timer answering. */
static __attribute__((unused)) long site_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	site_replier(1);
	long r = site_call_at(&site_slot, site_gregs, nr, a0, a1, a2, a3, a4, a5);
	site_replier(0);
	return r;
}

/* The stub's batch runner (STUB_BATCH): with r12 a table of entries and
 * r13 their count, it makes each call at its own `syscall`, which the
 * filter treats as the exec site, stores the result, stops after a failed
 * one, and ends in int3. */
#define BATCH_RUNNER 0x101a0UL

struct batch_entry {
	long nr, args[6], result;
};

static sigjmp_buf batch_back;

static void batch_on_trap(int sig)
{
	(void)sig;
	siglongjmp(batch_back, 1);
}

/* Runs `n` entries of `t` through the batch runner; its int3 comes back as
 * SIGTRAP, whose handler returns here. */
static __attribute__((unused)) void batch_run(struct batch_entry *t, long n)
{
	signal(SIGTRAP, batch_on_trap);
	if (sigsetjmp(batch_back, 1) == 0)
		__asm__ volatile("mov %0, %%r12\n\t"
				 "mov %1, %%r13\n\t"
				 "jmp *%2"
				 :
				 : "r"(t), "r"(n), "r"(BATCH_RUNNER)
				 : "r12", "r13", "memory");
	signal(SIGTRAP, SIG_DFL);
}

/* One call through the batch runner: its result. */
static __attribute__((unused)) long batch_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	struct batch_entry e = { nr, { a0, a1, a2, a3, a4, a5 }, 0x7777 };
	batch_run(&e, 1);
	return e.result;
}

#endif
