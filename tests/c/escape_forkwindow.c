/* A fork made while the sentry is handing something to another thread of
 * the process. Under systrap the sentry passes fds to an app process: a
 * new thread's chunk of the shared region at its set-up, the process's
 * copy file, files to install. Each arrives at a low number and is moved
 * or mapped, then closed, while the process's other threads run; a fork in
 * that window copies it into the child. And a chunk is mapped shared before
 * it is marked MADV_DONTFORK: a fork in between maps it in the child too.
 * Either way the child would hold a slot of its parent's (the calls made
 * there run with the parent's credentials) until it execs.
 * Here one thread of the parent starts short-lived threads (each one's
 * first trapped call is its set-up) while another forks child after child.
 * Each child first counts the chunks mapped in it before its own set-up
 * (mincore, a call that does not trap), then jumps to the stub handler's
 * exec site, where the filter lets dup3 move any fd onto the installed
 * files' numbers and pread64 read them, and tries every low fd. It must
 * find nothing.
 * On ptrace the site is an ordinary trapped call: dup3 and pread64 act on
 * the child's own (virtual) fds, and there is no region. Host fds the
 * sentry passes there are out of the app's reach: every call that names
 * an fd is the sentry's. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "escape.h"
#include "exec_site.h"
#include "set_ups.h"

#define TARGET_FD 1002
#define LOW_FDS 4

/* Where the sentry maps chunks in app processes (platform/systrap:
 * REGION_BASE, CHUNK): chunk i at REGION_BASE + i * CHUNK, i counting up
 * from 0 over the sandbox's life. */
#define REGION_BASE 0x600000000000UL
#define CHUNK (64 * 1024)

/* How a child's probe ended, as its exit code: nothing found (every low fd
 * closed, no chunk mapped), an fd taken (16 bytes read through it), a chunk
 * mapped before its own set-up, or neither (on ptrace: the child's own
 * stdin and so on, which read nothing here). */
enum { NOTHING = 0, TOOK_FD = 1, OTHER = 2, HAD_CHUNK = 3 };

static atomic_int stop;
/* Whether the sandbox runs on systrap: this process has chunks mapped. */
static int systrap;
static atomic_long forks, clean, took_fd, had_chunk, other, set_ups, maps;

/* In the child, before any trapped call (which would set up its own
 * chunk): how many of the first `bound` chunks are mapped. MADV_DONTFORK
 * keeps a parent's chunks out of a child, once it is set. */
static long mapped_chunks(long bound)
{
	unsigned char v;
	long n = 0;
	for (long i = 0; i < bound; i++)
		if (syscall(SYS_mincore, REGION_BASE + (unsigned long)i * CHUNK, 4096, &v) == 0)
			n++;
	return n;
}

/* In the child: dup3 each low fd onto TARGET_FD at the exec site and read
 * whatever lands there. */
static int probe_fds(void)
{
	static char buf[16];
	int all_closed = 1;
	for (int fd = 0; fd < LOW_FDS; fd++) {
		long r = site_call(SYS_dup3, fd, TARGET_FD, 0, 0, 0, 0);
		if (r == -EBADF)
			continue;
		all_closed = 0;
		if (r == TARGET_FD && site_call(SYS_pread64, TARGET_FD, (long)buf, sizeof buf, 0, 0, 0) == sizeof buf)
			return TOOK_FD;
	}
	return all_closed ? NOTHING : OTHER;
}

static void *forker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		/* Every chunk so far: one per thread set up, the children's too. */
		long bound = atomic_load(&set_ups) + atomic_load(&forks) + 64;
		/* The raw call: the child's first trapped call is then the probe's. */
		pid_t pid = (pid_t)syscall(SYS_fork);
		if (pid == 0) {
			if (mapped_chunks(bound))
				_exit(HAD_CHUNK);
			/* On ptrace what dup3 finds is one of the child's own fds. */
			int found = probe_fds();
			_exit(found == TOOK_FD && !systrap ? OTHER : found);
		}
		if (pid < 0)
			break;
		int status;
		if (waitpid(pid, &status, 0) != pid)
			break;
		atomic_fetch_add(&forks, 1);
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : OTHER;
		atomic_fetch_add(code == NOTHING ? &clean : code == TOOK_FD ? &took_fd : code == HAD_CHUNK ? &had_chunk : &other, 1);
	}
	return 0;
}

/* Maps files in turn, more of them than the process has numbers to install
 * files at (16): each open's first map installs its file's host fd in the
 * process, passed at a low number. */
#define MAPPED_FILES 24
static void *mapper(void *arg)
{
	(void)arg;
	char path[64];
	for (int i = 0; i < MAPPED_FILES; i++) {
		snprintf(path, sizeof path, "/tmp/forkwindow-%d", i);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, 4096) != 0)
			return 0;
		close(fd);
	}
	for (int i = 0; !atomic_load(&stop); i = (i + 1) % MAPPED_FILES) {
		snprintf(path, sizeof path, "/tmp/forkwindow-%d", i);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			break;
		void *p = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		close(fd);
		atomic_fetch_add(&maps, 1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pthread_t f, m;
	/* Set up at its exec, this thread has had a chunk from the start. */
	systrap = mapped_chunks(1024) > 0;
	pthread_create(&f, 0, forker, 0);
	pthread_create(&m, 0, mapper, 0);
	double end = now() + 10;
	while (!atomic_load(&stop) && atomic_load(&forks) < 2000 && now() < end) {
		pthread_t t;
		if (pthread_create(&t, 0, short_lived, 0) != 0)
			break;
		pthread_join(t, 0);
		atomic_fetch_add(&set_ups, 1);
	}
	atomic_store(&stop, 1);
	pthread_join(f, 0);
	pthread_join(m, 0);
	long leaks = atomic_load(&took_fd) + atomic_load(&had_chunk);
	attempt_result("take a passed fd or a mapped chunk through a fork in its window",
		       "%s (%ld set-ups and %ld file maps raced, %ld forks: %ld found nothing, %ld took an fd, %ld had a chunk, %ld neither)",
		       leaks > 0 ? "LEAK" : "nothing taken", atomic_load(&set_ups), atomic_load(&maps), atomic_load(&forks),
		       atomic_load(&clean), atomic_load(&took_fd), atomic_load(&had_chunk), atomic_load(&other));
	finish();
	return 0;
}
