/* Wake-ups of waits on files whose readiness is kernel state rather than
 * data in a buffer: a blocked poll, select, pselect6, ppoll, epoll_wait,
 * epoll_pwait2 or read on a signalfd, a POSIX message queue or a nested
 * epoll, woken by another process. Every wait has a long timeout, so the
 * output says which event woke it; epoll loops are refused with ELOOP. */
#include "common.h"
#include <mqueue.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>

#define LONG_MS 20000

/* A child that sleeps a little (so the parent is likely blocked), runs
 * `what`, and exits with `code`. */
static pid_t later(void (*what)(long), long arg, int code)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		usleep(100 * 1000);
		what(arg);
		_exit(code);
	}
	return pid;
}

static void send_usr1(long ppid)
{
	kill((pid_t)ppid, SIGUSR1);
}

static void queue_rt(long ppid)
{
	union sigval v = {.sival_int = 77};
	sigqueue((pid_t)ppid, SIGRTMIN + 1, v);
}

static void nothing(long arg)
{
	(void)arg;
}

static const char *mq_name = "/rvisor_ev_wakeup";

static void mq_put(long prio)
{
	mqd_t q = mq_open(mq_name, O_WRONLY);
	if (q == (mqd_t)-1)
		_exit(3);
	mq_send(q, "hello", 5, (unsigned)prio);
	mq_close(q);
}

static void mq_take(long arg)
{
	(void)arg;
	char buf[64];
	mqd_t q = mq_open(mq_name, O_RDONLY);
	if (q == (mqd_t)-1)
		_exit(3);
	mq_receive(q, buf, sizeof buf, NULL);
	mq_close(q);
}

static void reap(pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
}

static void drain_sfd(const char *label, int sfd)
{
	struct signalfd_siginfo si;
	long n = read(sfd, &si, sizeof si);
	if (n == (long)sizeof si)
		printf("%s: signo=%s code=%d int=%d status=%d\n", label,
		       si.ssi_signo == SIGUSR1 ? "USR1" : si.ssi_signo == SIGCHLD ? "CHLD" : si.ssi_signo == (uint32_t)SIGRTMIN + 1 ? "RTMIN+1" : "?",
		       si.ssi_code, si.ssi_int, si.ssi_signo == SIGCHLD ? si.ssi_status : 0);
	else
		printf("%s: read %ld %s\n", label, n, errname(errno));
}

int main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN + 1);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	/* SIGCHLD has its own signalfd, so exits never race with other signals. */
	int sfd = CHECK(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	int cfd = CHECK(signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC));
	long me = getpid();

	/* poll on a signalfd, woken by another process's kill. */
	pid_t c = later(send_usr1, me, 0);
	struct pollfd p = {sfd, POLLIN, 0};
	int r = poll(&p, 1, LONG_MS);
	printf("poll: r=%d revents=%#x\n", r, p.revents);
	drain_sfd("poll", sfd);
	reap(c);

	/* epoll_wait on a signalfd, woken by a child's exit (SIGCHLD). */
	int ep = CHECK(epoll_create1(EPOLL_CLOEXEC));
	int cep = CHECK(epoll_create1(EPOLL_CLOEXEC));
	struct epoll_event ev = {EPOLLIN, {.u64 = 11}}, out[4];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev));
	ev.data.u64 = 12;
	CHECK(epoll_ctl(cep, EPOLL_CTL_ADD, cfd, &ev));
	struct signalfd_siginfo junk;
	while (read(cfd, &junk, sizeof junk) > 0)
		;
	c = later(nothing, 0, 7);
	r = epoll_wait(cep, out, 4, LONG_MS);
	printf("epoll_wait: r=%d data=%llu events=%#x\n", r, r > 0 ? (unsigned long long)out[0].data.u64 : 0ULL, r > 0 ? out[0].events : 0);
	drain_sfd("epoll", cfd);
	reap(c);

	/* select and pselect6 on a signalfd, woken by a sigqueue. */
	c = later(queue_rt, me, 0);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(sfd, &rs);
	struct timeval tv = {LONG_MS / 1000, 0};
	r = select(sfd + 1, &rs, NULL, NULL, &tv);
	printf("select: r=%d isset=%d\n", r, FD_ISSET(sfd, &rs));
	drain_sfd("select", sfd);
	reap(c);
	c = later(send_usr1, me, 0);
	FD_ZERO(&rs);
	FD_SET(sfd, &rs);
	struct timespec ts = {LONG_MS / 1000, 0};
	sigset_t none;
	sigemptyset(&none);
	sigaddset(&none, SIGUSR1);
	sigaddset(&none, SIGCHLD);
	sigaddset(&none, SIGRTMIN + 1);
	r = pselect(sfd + 1, &rs, NULL, NULL, &ts, &none);
	printf("pselect: r=%d isset=%d\n", r, FD_ISSET(sfd, &rs));
	drain_sfd("pselect", sfd);
	reap(c);

	/* A blocking read on a signalfd. */
	int bfd = CHECK(signalfd(-1, &set, SFD_CLOEXEC));
	c = later(queue_rt, me, 0);
	drain_sfd("blocking read", bfd);
	reap(c);

	/* A message queue: ppoll for POLLIN, woken by another process's send. */
	mq_unlink(mq_name);
	struct mq_attr attr = {.mq_maxmsg = 2, .mq_msgsize = 64};
	mqd_t q = mq_open(mq_name, O_RDWR | O_CREAT | O_NONBLOCK, 0600, &attr);
	if (q == (mqd_t)-1)
		die("mq_open");
	c = later(mq_put, 3, 0);
	struct pollfd mp = {q, POLLIN, 0};
	r = ppoll(&mp, 1, &ts, NULL);
	printf("ppoll mq: r=%d revents=%#x\n", r, mp.revents);
	char buf[64];
	unsigned prio = 0;
	long n = mq_receive(q, buf, sizeof buf, &prio);
	printf("received %ld prio=%u\n", n, prio);
	reap(c);

	/* A full queue: POLLOUT once another process takes a message. */
	mq_send(q, "a", 1, 0);
	mq_send(q, "b", 1, 0);
	mp.events = POLLOUT;
	printf("full: %d\n", poll(&mp, 1, 0));
	c = later(mq_take, 0, 0);
	r = poll(&mp, 1, LONG_MS);
	printf("poll mq out: r=%d revents=%#x\n", r, mp.revents);
	reap(c);

	/* Nested epoll: outer watches inner, inner watches the queue. */
	while (mq_receive(q, buf, sizeof buf, NULL) >= 0)
		;
	int inner = CHECK(epoll_create1(0));
	int outer = CHECK(epoll_create1(0));
	struct epoll_event qe = {EPOLLIN, {.u64 = 21}}, ie = {EPOLLIN, {.u64 = 22}};
	CHECK(epoll_ctl(inner, EPOLL_CTL_ADD, q, &qe));
	CHECK(epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ie));
	struct epoll_event loop = {EPOLLIN, {.u64 = 0}};
	CHECK(epoll_ctl(inner, EPOLL_CTL_ADD, outer, &loop));
	printf("nested empty: %d\n", epoll_wait(outer, out, 4, 0));
	c = later(mq_put, 1, 0);
	struct timespec t2 = {LONG_MS / 1000, 0};
	r = (int)syscall(SYS_epoll_pwait2, outer, out, 4, &t2, NULL, 8);
	printf("epoll_pwait2 nested: r=%d data=%llu\n", r, r > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
	r = epoll_wait(inner, out, 4, 0);
	printf("inner: r=%d data=%llu\n", r, r > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
	reap(c);

	/* poll on an epoll fd whose interest is a signalfd. */
	c = later(send_usr1, me, 0);
	struct pollfd pe = {ep, POLLIN, 0};
	r = poll(&pe, 1, LONG_MS);
	printf("poll epoll: r=%d revents=%#x\n", r, pe.revents);
	drain_sfd("poll epoll", sfd);
	reap(c);

	/* A timeout still times out. */
	r = poll(&p, 1, 30);
	printf("timeout: r=%d\n", r);
	mq_close(q);
	mq_unlink(mq_name);
	return 0;
}
