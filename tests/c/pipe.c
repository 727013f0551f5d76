/* pipe/pipe2 semantics. */
#include "common.h"
#include <sys/ioctl.h>

static int sigpipes;
static void on_sigpipe(int s)
{
	(void)s;
	sigpipes++;
}

int main(void)
{
	int p[2];
	char buf[128];
	struct stat st;
	CHECK(pipe(p));
	CHECK(fstat(p[0], &st));
	printf("type: %s mode: %04o\n", ftype(st.st_mode), st.st_mode & 07777);
	CHECKV(fcntl(p[0], F_GETFD));
	CHECKV(write(p[1], "hello", 5));
	int avail = -1;
	CHECK(ioctl(p[0], FIONREAD, &avail));
	printf("FIONREAD: %d\n", avail);
	CHECKV(read(p[0], buf, 2));
	CHECKV(read(p[0], buf, sizeof buf));
	CHECKV(write(p[0], "x", 1));
	CHECKV(read(p[1], buf, 1));
	CHECKV(write(p[1], "", 0));
	CHECK(close(p[1]));
	CHECKV(read(p[0], buf, sizeof buf));
	CHECKV(read(p[0], buf, sizeof buf));
	close(p[0]);

	CHECK(pipe2(p, O_CLOEXEC));
	CHECKV(fcntl(p[0], F_GETFD));
	CHECKV(fcntl(p[1], F_GETFD));
	close(p[0]);
	close(p[1]);

	CHECK(pipe2(p, O_NONBLOCK));
	CHECKV(read(p[0], buf, sizeof buf));
	/* Fill the pipe: EAGAIN once full, total = capacity. */
	long total = 0;
	static char chunk[4096];
	for (;;) {
		ssize_t n = write(p[1], chunk, sizeof chunk);
		if (n < 0) {
			printf("fill ended: %s\n", errname(errno));
			break;
		}
		total += n;
	}
	printf("capacity: %ld\n", total);
	CHECKV(write(p[1], "x", 1));
	CHECK(ioctl(p[0], FIONREAD, &avail));
	printf("FIONREAD full: %d\n", avail);
	close(p[0]);
	close(p[1]);

	CHECK(pipe2(p, 0x1));
	CHECK(pipe2(p, O_DIRECT));
	close(p[0]);
	close(p[1]);
	CHECK(syscall(SYS_pipe, (int *)1));

	/* EPIPE: with SIGPIPE ignored, then with a handler. */
	signal(SIGPIPE, SIG_IGN);
	pipe(p);
	close(p[0]);
	CHECKV(write(p[1], "x", 1));
	close(p[1]);
	signal(SIGPIPE, on_sigpipe);
	pipe(p);
	close(p[0]);
	CHECKV(write(p[1], "x", 1));
	CHECKV(write(p[1], "y", 1));
	printf("sigpipes caught: %d\n", sigpipes);
	close(p[1]);

	/* Default SIGPIPE kills the writer. */
	pipe(p);
	close(p[0]);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(p[1], "x", 1);
		exit(0);
	}
	close(p[1]);
	wait_child("writer without reader", pid);

	/* Atomic writes <= PIPE_BUF, data order preserved across fork. */
	pipe(p);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (int i = 0; i < 100; i++) {
			char m[16];
			int l = snprintf(m, sizeof m, "msg%03d;", i);
			write(p[1], m, l);
		}
		exit(0);
	}
	close(p[1]);
	uint64_t h = FNV_INIT;
	long got = 0;
	ssize_t n;
	while ((n = read(p[0], buf, sizeof buf)) > 0) {
		h = fnv1a(h, buf, n);
		got += n;
	}
	printf("received %ld bytes hash %016llx\n", got, (unsigned long long)h);
	wait_child("producer", pid);
	close(p[0]);

	/* Blocking read woken by a writer. */
	pipe(p);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		write(p[1], "late", 4);
		exit(0);
	}
	n = read(p[0], buf, sizeof buf);
	print_bytes("blocking read", buf, n);
	wait_child("late writer", pid);
	close(p[0]);
	close(p[1]);
	return 0;
}
