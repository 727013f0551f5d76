/* POSIX message queues: open flags and attributes, priority order,
 * EMSGSIZE, EAGAIN on a full or empty non-blocking queue, ETIMEDOUT,
 * getsetattr, poll readiness, a blocking receive woken by a child, unlink
 * while open. */
#include "common.h"
#include <mqueue.h>
#include <poll.h>
#include <time.h>

static void attrs(const char *label, mqd_t q)
{
	struct mq_attr a;
	if (mq_getattr(q, &a) < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		printf("%s: flags=%#lx maxmsg=%ld msgsize=%ld curmsgs=%ld\n", label, a.mq_flags, a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

int main(void)
{
	char name[64];
	snprintf(name, sizeof name, "/rvisor-mq-%d", getpid());
	CHECK(mq_open(name, O_RDWR));
	CHECK(mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL));
	struct mq_attr bad = {0, 0, 64, 0};
	CHECK(mq_open(name, O_RDWR | O_CREAT, 0600, &bad));
	struct mq_attr at = {0, 4, 64, 0};
	mqd_t q = CHECK(mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0640, &at));
	CHECK(mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &at));
	attrs("new", q);
	struct stat st;
	CHECK(fstat(q, &st));
	printf("mode=%o\n", st.st_mode & 0777);

	CHECK(mq_send(q, "low", 3, 1));
	CHECK(mq_send(q, "high", 4, 9));
	CHECK(mq_send(q, "mid", 3, 5));
	CHECK(mq_send(q, "low2", 4, 1));
	CHECK(mq_send(q, "full", 4, 1));
	char big[100] = {0};
	CHECK(mq_send(q, big, 65, 1));
	CHECK(mq_send(q, "x", 1, 40000));
	attrs("four queued", q);
	struct pollfd p = {q, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	printf("poll full: %#x\n", p.revents);

	char buf[64];
	CHECK(mq_receive(q, buf, 10, NULL));
	for (int i = 0; i < 5; i++) {
		unsigned prio = 99;
		ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
		if (n < 0)
			printf("receive: %s\n", errname(errno));
		else
			printf("receive: '%.*s' prio=%u\n", (int)n, buf, prio);
	}
	p.revents = 0;
	poll(&p, 1, 0);
	printf("poll empty: %#x\n", p.revents);

	/* Blocking with a timeout. */
	struct mq_attr nb = {0, 0, 0, 0}, old;
	CHECK(mq_setattr(q, &nb, &old));
	printf("old flags nonblock: %d\n", !!(old.mq_flags & O_NONBLOCK));
	attrs("blocking", q);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 30 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &ts));
	ts.tv_nsec = 2000000000L;
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &ts));

	pid_t pid = fork();
	if (pid == 0) {
		mqd_t c = mq_open(name, O_WRONLY);
		usleep(50 * 1000);
		mq_send(c, "from child", 10, 3);
		_exit(0);
	}
	ssize_t n = mq_receive(q, buf, sizeof buf, NULL);
	printf("blocking receive: %.*s\n", (int)(n > 0 ? n : 0), buf);
	wait_child("sender", pid);

	mqd_t ro = CHECK(mq_open(name, O_RDONLY));
	CHECK(mq_send(ro, "x", 1, 0));
	CHECK(mq_unlink(name));
	CHECK(mq_unlink(name));
	CHECK(mq_open(name, O_RDWR));
	CHECK(mq_send(q, "still", 5, 0));
	n = mq_receive(ro, buf, sizeof buf, NULL);
	printf("after unlink: %.*s\n", (int)(n > 0 ? n : 0), buf);
	CHECK(mq_send(0, "x", 1, 0));
	CHECK(mq_close(q));
	return 0;
}
