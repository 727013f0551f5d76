/* mknod/mknodat/mkfifo and FIFO open semantics. */
#include "common.h"

int main(void)
{
	char buf[32];
	CHECK(mknod("fifo", S_IFIFO | 0644, 0));
	show_stat("fifo");
	CHECK(mknod("fifo", S_IFIFO | 0644, 0));
	CHECK(mknod("reg", S_IFREG | 0600, 0));
	show_stat("reg");
	CHECK(mknod("plain", 0640, 0));
	show_stat("plain");
	CHECK(mknod("sock", S_IFSOCK | 0755, 0));
	show_stat("sock");
	CHECK(mknod("dir", S_IFDIR | 0755, 0));
	CHECK(mknod("bad", 0170000 | 0644, 0));
	CHECK(mknod("nodir/x", S_IFIFO | 0644, 0));
	CHECK(mkfifo("fifo2", 0600));
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(mknodat(dfd, "fifo3", S_IFIFO | 0666, 0));
	show_stat("fifo3");
	CHECK(mkfifoat(dfd, "fifo4", 0666));
	close(dfd);

	/* Non-blocking opens. */
	int r = CHECK(open("fifo", O_RDONLY | O_NONBLOCK));
	CHECKV(read(r, buf, sizeof buf));
	CHECK(open("fifo2", O_WRONLY | O_NONBLOCK));
	int w = CHECK(open("fifo", O_WRONLY | O_NONBLOCK));
	CHECKV(write(w, "through fifo", 12));
	ssize_t n = read(r, buf, sizeof buf);
	print_bytes("read", buf, n);
	CHECKV(read(r, buf, sizeof buf));
	close(w);
	CHECKV(read(r, buf, sizeof buf));
	close(r);
	int rw = CHECK(open("fifo", O_RDWR));
	CHECKV(write(rw, "self", 4));
	n = read(rw, buf, sizeof buf);
	print_bytes("O_RDWR loop", buf, n);
	CHECKV(lseek(rw, 0, SEEK_SET));
	close(rw);

	/* Blocking open rendezvous with a child. */
	pid_t pid = fork();
	if (pid == 0) {
		int cw = open("fifo", O_WRONLY);
		write(cw, "from child", 10);
		close(cw);
		_exit(0);
	}
	r = open("fifo", O_RDONLY);
	long total = 0;
	while ((n = read(r, buf + total, sizeof buf - total)) > 0)
		total += n;
	print_bytes("rendezvous", buf, total);
	close(r);
	wait_child("fifo writer", pid);

	/* Sockets created by mknod cannot be opened. */
	CHECK(open("sock", O_RDONLY));
	CHECK(open("fifo", O_RDONLY | O_NONBLOCK | O_TRUNC));
	list_dir(".");
	return 0;
}
