/* signalfd: flags, mask updates, reading queued signals with their
 * siginfo (sender pid, sigqueue value), several per read, EAGAIN when
 * empty, poll/epoll readiness, a blocking read woken by a child's kill,
 * SIGCHLD details, and the signal stays pending while unread. */
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

static void readiness(const char *label, int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r = poll(&p, 1, 0);
	printf("%s: r=%d revents=%#x\n", label, r, p.revents);
}

int main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);

	CHECK(signalfd(-1, &set, 0x1234));
	CHECK(syscall(SYS_signalfd4, -1, &set, 4, 0));
	CHECK(signalfd(0, &set, 0));
	int fd = CHECK(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	printf("cloexec=%d nonblock=%d\n", !!(fcntl(fd, F_GETFD) & FD_CLOEXEC), !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	struct signalfd_siginfo si[4];
	CHECK(read(fd, si, sizeof si));
	CHECK(read(fd, si, 10));
	readiness("empty", fd);

	kill(getpid(), SIGUSR1);
	readiness("after kill", fd);
	sigset_t pend;
	sigpending(&pend);
	printf("pending before read: %d\n", sigismember(&pend, SIGUSR1));
	long n = CHECKV(read(fd, si, sizeof si));
	if (n > 0)
		printf("signo=%u code=%d pid_ok=%d uid=%u\n", si[0].ssi_signo, si[0].ssi_code, si[0].ssi_pid == (uint32_t)getpid(), si[0].ssi_uid);
	sigpending(&pend);
	printf("pending after read: %d\n", sigismember(&pend, SIGUSR1));
	readiness("drained", fd);

	/* Several at once, a queued value. */
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGRTMIN, v);
	kill(getpid(), SIGUSR2);
	n = CHECKV(read(fd, si, sizeof si));
	for (int i = 0; i < n / (long)sizeof si[0]; i++)
		printf("  [%d] signo=%s code=%d int=%d\n", i, si[i].ssi_signo == (uint32_t)SIGRTMIN ? "RTMIN" : si[i].ssi_signo == SIGUSR2 ? "USR2" : "?",
		       si[i].ssi_code, si[i].ssi_int);

	/* Changing the mask: SIGUSR1 no longer reported. */
	sigset_t only2;
	sigemptyset(&only2);
	sigaddset(&only2, SIGUSR2);
	CHECKV(signalfd(fd, &only2, 0));
	kill(getpid(), SIGUSR1);
	readiness("masked out", fd);
	CHECK(read(fd, si, sizeof si));
	sigset_t one1;
	sigemptyset(&one1);
	sigaddset(&one1, SIGUSR1);
	int w = sigwaitinfo(&one1, NULL);
	printf("sigwaitinfo took: %s\n", w == SIGUSR1 ? "USR1" : "?");
	CHECKV(signalfd(fd, &set, 0));

	/* epoll sees it. */
	int ep = CHECK(epoll_create1(0));
	struct epoll_event ev = {EPOLLIN, {.u64 = 5}};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	struct epoll_event out;
	printf("epoll empty: %d\n", epoll_wait(ep, &out, 1, 0));
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50 * 1000);
		kill(getppid(), SIGUSR2);
		_exit(3);
	}
	int r = epoll_wait(ep, &out, 1, 5000);
	printf("epoll woken: %d data=%llu\n", r, r > 0 ? (unsigned long long)out.data.u64 : 0ULL);
	n = read(fd, si, sizeof si[0]);
	printf("read one: n=%ld signo=%s pid_ok=%d\n", n, si[0].ssi_signo == SIGUSR2 ? "USR2" : si[0].ssi_signo == SIGCHLD ? "CHLD" : "?",
	       si[0].ssi_pid == (uint32_t)pid);

	/* Blocking read: SIGCHLD from the exiting child. */
	int bfd = CHECK(signalfd(-1, &set, 0));
	int got_chld = 0;
	for (int i = 0; i < 3 && !got_chld; i++) {
		n = read(bfd, si, sizeof si[0]);
		if (n == sizeof si[0] && si[0].ssi_signo == SIGCHLD) {
			got_chld = 1;
			printf("SIGCHLD: code=%d status=%d pid_ok=%d\n", si[0].ssi_code, si[0].ssi_status, si[0].ssi_pid == (uint32_t)pid);
		}
	}
	waitpid(pid, NULL, 0);
	printf("blocking read got SIGCHLD: %d\n", got_chld);
	readiness("end", bfd);
	return 0;
}
