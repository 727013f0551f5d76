/* Descriptor sharing across fork and threads. */
#include "common.h"
#include <pthread.h>

static int thread_fd = -1;
static void *opener(void *arg)
{
	(void)arg;
	thread_fd = open("f", O_RDONLY);
	return NULL;
}

int main(void)
{
	int fd = CHECK(open("f", O_CREAT | O_RDWR | O_TRUNC, 0644));
	CHECKV(write(fd, "abc", 3));
	pid_t pid = fork();
	if (pid == 0) {
		printf("child offset: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
		write(fd, "def", 3);
		exit(0);
	}
	wait_child("child1", pid);
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(write(fd, "ghi", 3));
	show_file("f");

	/* Child lseek moves the shared offset. */
	pid = fork();
	if (pid == 0) {
		lseek(fd, 1, SEEK_SET);
		exit(0);
	}
	wait_child("child2", pid);
	CHECKV(lseek(fd, 0, SEEK_CUR));

	/* Child closing its copy does not affect the parent. */
	pid = fork();
	if (pid == 0) {
		close(fd);
		CHECKN("child write after close", write(fd, "x", 1));
		exit(0);
	}
	wait_child("child3", pid);
	CHECKV(write(fd, "X", 1));

	/* Status flags are shared; fd flags are per-table but copied. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		printf("child sees cloexec: %d\n", fcntl(fd, F_GETFD));
		fcntl(fd, F_SETFL, O_APPEND);
		fcntl(fd, F_SETFD, 0);
		exit(0);
	}
	wait_child("child4", pid);
	printf("parent append after child set it: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
	printf("parent cloexec unchanged: %d\n", fcntl(fd, F_GETFD));

	/* fds opened in the child are not in the parent's table. */
	int p[2];
	pipe(p);
	pid = fork();
	if (pid == 0) {
		int nfd = open("f", O_RDONLY);
		write(p[1], &nfd, sizeof nfd);
		exit(0);
	}
	int childfd;
	read(p[0], &childfd, sizeof childfd);
	wait_child("child5", pid);
	printf("child's new fd number: %d\n", childfd);
	CHECKN("parent fcntl on that number", fcntl(childfd, F_GETFD));

	/* Threads share the table. */
	pthread_t t;
	pthread_create(&t, NULL, opener, NULL);
	pthread_join(t, NULL);
	printf("thread fd: %d\n", thread_fd);
	CHECKN("main uses thread's fd", fcntl(thread_fd, F_GETFD));
	char buf[16];
	ssize_t n = read(thread_fd, buf, sizeof buf);
	print_bytes("read via thread fd", buf, n);

	/* Reads from two processes on one description split the data. */
	CHECK(write_file("g", "0123456789"));
	int g = open("g", O_RDONLY);
	pid = fork();
	if (pid == 0) {
		n = read(g, buf, 4);
		print_bytes("child read", buf, n);
		exit(0);
	}
	wait_child("child6", pid);
	n = read(g, buf, sizeof buf);
	print_bytes("parent read rest", buf, n);
	show_file("f");
	return 0;
}
