/* dnotify (fcntl F_NOTIFY): which changes in a directory raise the F_SETSIG
 * signal (with si_fd) or SIGIO, one-shot against DN_MULTISHOT, renames in
 * and out of the directory, and turning notification off. */
#define _GNU_SOURCE
#include "common.h"
#include <sys/stat.h>

#define SIG (SIGRTMIN + 1)

static volatile sig_atomic_t hits, last_fd, sigio;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGIO) {
		sigio++;
		return;
	}
	hits++;
	last_fd = si->si_fd;
}

static void step(const char *what, int fd)
{
	printf("%s: signals %d, si_fd matches %d\n", what, (int)hits, hits ? last_fd == fd : 0);
	hits = 0;
	last_fd = -1;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIG, &sa, NULL);
	sigaction(SIGIO, &sa, NULL);
	if (mkdir("d", 0755) || mkdir("other", 0755))
		return 1;
	int d = open("d", O_RDONLY | O_DIRECTORY);
	fcntl(d, F_SETSIG, SIG);

	printf("notify: %d\n", fcntl(d, F_NOTIFY, DN_CREATE | DN_DELETE | DN_MODIFY | DN_ATTRIB | DN_RENAME | DN_MULTISHOT));
	int f = open("d/file", O_CREAT | O_WRONLY, 0644);
	step("create", d);
	if (write(f, "x", 1) != 1)
		return 1;
	step("write", d);
	chmod("d/file", 0600);
	step("chmod", d);
	rename("d/file", "d/moved");
	step("rename within", d);
	rename("d/moved", "other/moved");
	step("rename out", d);
	rename("other/moved", "d/back");
	step("rename in", d);
	unlink("d/back");
	step("unlink", d);
	chmod("d", 0700);
	step("chmod of the directory itself", d);
	close(f);

	/* A second F_NOTIFY adds to the first (still multishot here); a new
	 * directory file starts one-shot: its first event ends it. */
	printf("add: %d\n", fcntl(d, F_NOTIFY, DN_CREATE));
	close(open("d/a", O_CREAT | O_WRONLY, 0644));
	close(open("d/b", O_CREAT | O_WRONLY, 0644));
	step("two creates, multishot kept", d);
	int d2 = open("d", O_RDONLY | O_DIRECTORY);
	fcntl(d2, F_SETSIG, SIG);
	fcntl(d, F_NOTIFY, 0);
	printf("one-shot: %d\n", fcntl(d2, F_NOTIFY, DN_CREATE));
	close(open("d/a2", O_CREAT | O_WRONLY, 0644));
	close(open("d/b2", O_CREAT | O_WRONLY, 0644));
	step("two creates after one-shot", d2);

	/* Off. */
	fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT);
	printf("off: %d\n", fcntl(d, F_NOTIFY, 0));
	close(open("d/c", O_CREAT | O_WRONLY, 0644));
	step("create after off", d);

	/* No F_SETSIG: SIGIO. */
	fcntl(d, F_SETSIG, 0);
	fcntl(d, F_NOTIFY, DN_DELETE);
	unlink("d/a");
	printf("SIGIO without F_SETSIG: %d\n", (int)sigio);

	int reg = open("d/b", O_RDONLY);
	errno = 0;
	int r = fcntl(reg, F_NOTIFY, DN_CREATE);
	printf("notify on a file: %d %s\n", r, errname(errno));
	return 0;
}
