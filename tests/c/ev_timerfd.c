/* timerfd: create flags, settime/gettime, expirations read, non-blocking
 * EAGAIN, blocking read, poll and epoll readiness, bad arguments. */
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

static void pollstate(const char *label, int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r = poll(&p, 1, 0);
	printf("%s: r=%d revents=%#x\n", label, r, p.revents);
}

int main(void)
{
	CHECK(timerfd_create(CLOCK_MONOTONIC, 0x1234));
	CHECK(timerfd_create(12345, 0));
	int fd = CHECK(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	printf("cloexec: %d nonblock: %d\n", !!(fcntl(fd, F_GETFD) & FD_CLOEXEC), !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	uint64_t n = 0;
	char small[4];
	CHECK(read(fd, small, 4));
	CHECK(read(fd, &n, 8));
	CHECK(write(fd, &n, 8));
	pollstate("disarmed", fd);

	/* Long enough that a slow (loaded, traced) run still polls before expiry. */
	struct itimerspec its = {{0, 0}, {0, 500 * 1000 * 1000}}, old, cur;
	CHECK(timerfd_settime(fd, 0, &its, &old));
	printf("old: %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
	CHECK(timerfd_gettime(fd, &cur));
	printf("armed value positive: %d\n", cur.it_value.tv_sec > 0 || cur.it_value.tv_nsec > 0);
	pollstate("before expiry", fd);
	struct pollfd p = {fd, POLLIN, 0};
	CHECKV(poll(&p, 1, 5000));
	CHECKV(read(fd, &n, 8));
	printf("expirations: %llu\n", (unsigned long long)n);
	CHECK(read(fd, &n, 8));
	CHECK(timerfd_gettime(fd, &cur));
	printf("after one-shot: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

	/* Bad flags, bad fd, not a timerfd, bad pointer, bad nsec. */
	CHECK(timerfd_settime(fd, 0x100, &its, NULL));
	CHECK(timerfd_settime(999, 0, &its, NULL));
	CHECK(timerfd_settime(0, 0, &its, NULL));
	CHECK(timerfd_settime(fd, 0, (void *)8, NULL));
	CHECK(timerfd_gettime(fd, (void *)8));
	struct itimerspec bad = {{0, 0}, {0, 2000000000L}};
	CHECK(timerfd_settime(fd, 0, &bad, NULL));

	/* Periodic timer: several expirations accumulate, epoll sees it. */
	int ep = CHECK(epoll_create1(0));
	struct epoll_event ev = {EPOLLIN, {.u64 = 77}};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	struct itimerspec per = {{0, 5 * 1000 * 1000}, {0, 5 * 1000 * 1000}};
	CHECK(timerfd_settime(fd, 0, &per, NULL));
	struct epoll_event out;
	int r = CHECKV(epoll_wait(ep, &out, 1, 5000));
	printf("epoll data: %llu events=%#x\n", r > 0 ? (unsigned long long)out.data.u64 : 0ULL, r > 0 ? out.events : 0);
	usleep(30 * 1000);
	CHECK(read(fd, &n, 8));
	printf("several: %d\n", n >= 2);
	struct itimerspec zero = {{0, 0}, {0, 0}};
	CHECK(timerfd_settime(fd, 0, &zero, &old));
	printf("old interval: %ld %ld\n", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);

	/* Absolute time, blocking read on a blocking timerfd. */
	int bfd = CHECK(timerfd_create(CLOCK_REALTIME, 0));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_nsec += 30 * 1000 * 1000;
	if (now.tv_nsec >= 1000000000L) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000L;
	}
	struct itimerspec abs = {{0, 0}, now};
	CHECK(timerfd_settime(bfd, TFD_TIMER_ABSTIME, &abs, NULL));
	CHECKV(read(bfd, &n, 8));
	printf("blocking expirations: %llu\n", (unsigned long long)n);
	/* An absolute time in the past fires at once. */
	struct itimerspec past = {{0, 0}, {1, 0}};
	CHECK(timerfd_settime(bfd, TFD_TIMER_ABSTIME, &past, NULL));
	pollstate("past absolute", bfd);
	CHECKV(read(bfd, &n, 8));
	return 0;
}
