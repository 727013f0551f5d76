/* File leases: F_SETLEASE/F_GETLEASE rules (read leases only without
 * writers, write leases only without other opens, F_UNLCK without a lease,
 * directories) and lease breaking: a conflicting open signals the holder
 * (its F_SETSIG signal, with si_fd), an O_NONBLOCK opener fails with
 * EWOULDBLOCK, a blocking one waits until the holder releases or (for a
 * reader) downgrades; a downgrade under a writer fails. */
#include "common.h"
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* In a child: opens "f" with `flags` after `delay_ms`; exits 0 if it took
 * under 5 s, 1 if longer, 2 if the open failed. */
static pid_t opener(int flags, int delay_ms)
{
	pid_t c = fork();
	if (c == 0) {
		usleep(delay_ms * 1000);
		double t = now();
		int fd = open("f", flags);
		_exit(fd < 0 ? 2 : now() - t < 5 ? 0 : 1);
	}
	return c;
}

static int reap(pid_t c)
{
	int st = 0;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void){
	close(creat("f", 0644));
	mkdir("d", 0755);
	int r = open("f", O_RDONLY);
	int w = open("f", O_RDWR);
	printf("getlease none: %d\n", fcntl(r, F_GETLEASE) == F_UNLCK);
	CHECKN("rdlck with a writer", fcntl(r, F_SETLEASE, F_RDLCK));
	CHECKN("wrlck with other opens", fcntl(w, F_SETLEASE, F_WRLCK));
	close(w);
	CHECKN("rdlck", fcntl(r, F_SETLEASE, F_RDLCK));
	printf("getlease: %s\n", fcntl(r, F_GETLEASE) == F_RDLCK ? "F_RDLCK" : "other");
	CHECKN("bad type", fcntl(r, F_SETLEASE, 7));
	CHECKN("unlck", fcntl(r, F_SETLEASE, F_UNLCK));
	CHECKN("unlck again", fcntl(r, F_SETLEASE, F_UNLCK));
	int dfd = open("d", O_RDONLY);
	CHECKN("directory", fcntl(dfd, F_SETLEASE, F_RDLCK));
	int r2 = open("f", O_RDONLY);
	CHECKN("wrlck with another reader", fcntl(r, F_SETLEASE, F_WRLCK));
	close(r2);
	CHECKN("wrlck alone", fcntl(r, F_SETLEASE, F_WRLCK));

	/* Breaking: the holder's signal is SIGRTMIN with si_fd. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fcntl(r, F_SETSIG, SIGRTMIN);
	struct timespec ts = {5, 0};
	siginfo_t si;
	printf("nonblocking reader: exit %d\n", reap(opener(O_RDONLY | O_NONBLOCK, 0)));
	int sig = sigtimedwait(&set, &si, &ts);
	printf("signal %s, si_fd is the lease fd: %d, code %d\n", sig == SIGRTMIN ? "SIGRTMIN" : "none",
		si.si_fd == r, si.si_code);
	printf("getlease while broken to read: %s\n", fcntl(r, F_GETLEASE) == F_RDLCK ? "F_RDLCK" : "other");
	/* A blocking reader waits for the downgrade. */
	pid_t c = opener(O_RDONLY, 0);
	struct timespec short_ts = {0, 300000000};
	sig = sigtimedwait(&set, &si, &short_ts);
	printf("second break signal: %s\n", sig == SIGRTMIN ? "yes" : "no (already broken)");
	usleep(200000);
	printf("reader still waiting: %d\n", waitpid(c, NULL, WNOHANG) == 0);
	CHECKN("downgrade", fcntl(r, F_SETLEASE, F_RDLCK));
	printf("blocking reader: exit %d\n", reap(c));
	printf("getlease after downgrade: %s\n", fcntl(r, F_GETLEASE) == F_RDLCK ? "F_RDLCK" : "other");

	/* A writer breaks the read lease; a downgrade cannot end it. */
	c = opener(O_WRONLY, 0);
	sig = sigtimedwait(&set, &si, &ts);
	printf("writer break signal: %s\n", sig == SIGRTMIN ? "SIGRTMIN" : "none");
	printf("getlease while broken to none: %s\n", fcntl(r, F_GETLEASE) == F_UNLCK ? "F_UNLCK" : "other");
	CHECKN("new lease on another fd meanwhile", fcntl(open("f", O_RDONLY | O_NONBLOCK), F_SETLEASE, F_RDLCK));
	usleep(200000);
	printf("writer still waiting: %d\n", waitpid(c, NULL, WNOHANG) == 0);
	CHECKN("release", fcntl(r, F_SETLEASE, F_UNLCK));
	printf("writer: exit %d\n", reap(c));
	/* The release also ended the owner and the F_SETSIG signal. */
	printf("after release: owner %d, signal %d\n", fcntl(r, F_GETOWN), fcntl(r, F_GETSIG));
	fcntl(r, F_SETSIG, SIGRTMIN);

	/* Closing the file ends the lease too; truncate breaks like a writer. */
	CHECKN("rdlck again", fcntl(r, F_SETLEASE, F_RDLCK));
	c = fork();
	if (c == 0) {
		/* The lease is the description's: only the parent's close may end it. */
		close(r);
		double t = now();
		int rc = truncate("f", 0);
		_exit(rc < 0 ? 2 : now() - t < 5 ? 0 : 1);
	}
	sig = sigtimedwait(&set, &si, &ts);
	printf("truncate break signal: %s\n", sig == SIGRTMIN ? "SIGRTMIN" : "none");
	close(r);
	printf("truncate after close: exit %d\n", reap(c));
	return 0;
}
