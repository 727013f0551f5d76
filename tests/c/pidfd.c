/* Process file descriptors: pidfd_open, poll at exit and reap,
 * waitid(P_PIDFD), pidfd_send_signal, pidfd_getfd, clone(CLONE_PIDFD). */
#define _GNU_SOURCE
#include "common.h"
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t pid, unsigned flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	int n = poll(&p, 1, 0);
	return n < 0 ? -1 : p.revents;
}

int main(void)
{
	report_ret("open self", pidfd_open(getpid(), 0) >= 0 ? 0 : -1);
	report_ret("open bad flags", pidfd_open(getpid(), 1));
	report_ret("open pid 0", pidfd_open(0, 0));
	report_ret("open no such pid", pidfd_open(99999, 0));

	int go[2];
	pipe(go);
	int fd = open("/dev/null", O_RDONLY);
	int memo = open("pidfd_file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(memo, "shared file", 11);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		char c;
		read(go[0], &c, 1);
		_exit(7);
	}
	int pfd = pidfd_open(child, 0);
	int flags = fcntl(pfd, F_GETFD);
	printf("cloexec: %d\n", flags & FD_CLOEXEC);
	printf("poll running: %d\n", readable(pfd));
	int got = syscall(SYS_pidfd_getfd, pfd, memo, 0);
	char buf[32] = {0};
	pread(got, buf, 11, 0);
	printf("getfd reads: %s\n", buf);
	report_ret("getfd bad fd", syscall(SYS_pidfd_getfd, pfd, 999, 0));
	report_ret("getfd flags", syscall(SYS_pidfd_getfd, pfd, memo, 1));
	report_ret("getfd not a pidfd", syscall(SYS_pidfd_getfd, fd, memo, 0));
	report_ret("send sig 0", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
	report_ret("send bad flags", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 8));
	report_ret("send not a pidfd", syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0));
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGUSR1;
	si.si_code = SI_USER;
	report_ret("send forged info", syscall(SYS_pidfd_send_signal, pfd, SIGUSR1, &si, 0));
	si.si_signo = SIGUSR2;
	report_ret("send mismatched info", syscall(SYS_pidfd_send_signal, pfd, SIGUSR1, &si, 0));
	int nb = pidfd_open(child, O_NONBLOCK);
	siginfo_t info;
	report_ret("waitid nonblocking", waitid(P_PIDFD, nb, &info, WEXITED));
	write(go[1], "x", 1);
	memset(&info, 0, sizeof(info));
	report_ret("waitid WNOWAIT", waitid(P_PIDFD, pfd, &info, WEXITED | WNOWAIT));
	printf("info: pid ok %d status %d code %d\n", info.si_pid == child, info.si_status, info.si_code);
	printf("poll exited: %d\n", readable(pfd));
	report_ret("send to zombie", syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0));
	report_ret("waitid", waitid(P_PIDFD, pfd, &info, WEXITED));
	printf("poll reaped: %d\n", readable(pfd));
	report_ret("waitid again", waitid(P_PIDFD, pfd, &info, WEXITED));
	report_ret("waitid not a pidfd", waitid(P_PIDFD, fd, &info, WEXITED));
	report_ret("open reaped", pidfd_open(child, 0));

	/* A signal through a pidfd kills a child. */
	fflush(stdout);
	pid_t sleeper = fork();
	if (sleeper == 0) {
		pause();
		_exit(0);
	}
	int sfd = pidfd_open(sleeper, 0);
	report_ret("send SIGTERM", syscall(SYS_pidfd_send_signal, sfd, SIGTERM, NULL, 0));
	int status;
	waitpid(sleeper, &status, 0);
	printf("killed by: %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : -1);

	/* clone(CLONE_PIDFD): the pidfd lands where CLONE_PARENT_SETTID would. */
	static char stack[65536];
	int cfd = -1;
	fflush(stdout);
	pid_t c2 = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &cfd, 0, 0);
	if (c2 == 0)
		_exit(3);
	(void)stack;
	printf("clone pidfd valid: %d\n", cfd > 2 && fcntl(cfd, F_GETFD) == FD_CLOEXEC);
	memset(&info, 0, sizeof(info));
	report_ret("waitid clone pidfd", waitid(P_PIDFD, cfd, &info, WEXITED));
	printf("clone child status: %d\n", info.si_status);
	report_ret("clone pidfd with settid",
	       syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &cfd, 0, 0));
	unlink("pidfd_file");
	return 0;
}
