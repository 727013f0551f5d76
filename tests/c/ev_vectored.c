/* Vectored and positional I/O on event files, as Linux allows it:
 * signalfd and timerfd have read_iter (readv fills the vector as one
 * buffer; preadv2 with offset -1 too), eventfd reads likewise but writes
 * per iovec (a split 8-byte value is EINVAL), inotify reads per iovec (a
 * first iovec smaller than an event is EINVAL), and every positional
 * form is ESPIPE. */
#include "common.h"
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

int main(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	int sfd = CHECK(signalfd(-1, &s, SFD_NONBLOCK));
	struct signalfd_siginfo si[2];
	memset(si, 0, sizeof si);

	/* signalfd: 64 + 192 bytes hold two records, split across iovecs. */
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR2);
	struct iovec iov[2] = {{&si[0], 64}, {(char *)&si[0] + 64, 192}};
	CHECKV(readv(sfd, iov, 2));
	printf("signos: %u %u\n", si[0].ssi_signo, si[1].ssi_signo);
	kill(getpid(), SIGUSR1);
	CHECKV(pread(sfd, si, sizeof si, 0));
	CHECKV(preadv(sfd, iov, 2, 0));
	CHECKV(preadv2(sfd, iov, 2, 0, 0));
	memset(si, 0, sizeof si);
	CHECKV(preadv2(sfd, iov, 2, -1, 0));
	printf("signo: %u\n", si[0].ssi_signo);
	CHECKV(readv(sfd, iov, 2));
	struct iovec tiny[2] = {{&si[0], 60}, {(char *)&si[0] + 60, 60}};
	kill(getpid(), SIGUSR1);
	CHECKV(readv(sfd, tiny, 2));
	struct iovec halves[2] = {{&si[0], 100}, {(char *)&si[0] + 100, 100}};
	CHECKV(readv(sfd, halves, 2));
	printf("signo: %u\n", si[0].ssi_signo);

	/* eventfd. */
	int efd = CHECK(eventfd(5, EFD_NONBLOCK));
	uint64_t v = 0;
	struct iovec e2[2] = {{&v, 4}, {(char *)&v + 4, 4}};
	CHECKV(readv(efd, e2, 2));
	printf("value: %llu\n", (unsigned long long)v);
	CHECKV(pread(efd, &v, 8, 0));
	v = 3;
	CHECKV(writev(efd, e2, 2));
	CHECKV(pwrite(efd, &v, 8, 0));
	struct iovec whole[2] = {{&v, 8}, {&v, 8}};
	CHECKV(writev(efd, whole, 2));
	struct iovec e1 = {&v, 8};
	CHECKV(readv(efd, &e1, 1));
	printf("value: %llu\n", (unsigned long long)v);
	CHECKV(pwritev(efd, &e1, 1, 0));

	/* timerfd. */
	int tfd = CHECK(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
	struct itimerspec it = {{0, 0}, {0, 1000}};
	CHECK(timerfd_settime(tfd, 0, &it, NULL));
	usleep(10000);
	CHECKV(readv(tfd, e2, 2));
	printf("expirations: %llu\n", (unsigned long long)v);
	CHECKV(pread(tfd, &v, 8, 0));

	/* inotify. */
	int ifd = CHECK(inotify_init1(IN_NONBLOCK));
	CHECK(mkdir("vw", 0755));
	CHECK(inotify_add_watch(ifd, "vw", IN_CREATE));
	close(CHECK(open("vw/f", O_CREAT | O_WRONLY, 0644)));
	char buf[256];
	struct iovec i2[2] = {{buf, 8}, {buf + 8, 200}};
	CHECKV(readv(ifd, i2, 2));
	CHECKV(pread(ifd, buf, sizeof buf, 0));
	struct iovec i3[2] = {{buf, 100}, {buf + 100, 100}};
	CHECKV(readv(ifd, i3, 2));
	struct inotify_event *e = (struct inotify_event *)buf;
	printf("event: mask=%#x name=%s\n", e->mask, e->len ? e->name : "-");
	CHECK(unlink("vw/f"));
	CHECK(rmdir("vw"));
	return 0;
}
