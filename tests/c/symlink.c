/* symlink/readlink: truncation, errors, dangling links, loops. */
#include "common.h"

static void rl(const char *path, size_t sz)
{
	char buf[256];
	memset(buf, '#', sizeof buf);
	ssize_t n = readlink(path, buf, sz);
	char l[300];
	snprintf(l, sizeof l, "readlink %s [%zu]", path, sz);
	if (n < 0)
		printf("%s: %s\n", l, errname(errno));
	else
		print_bytes(l, buf, n + 1 <= (ssize_t)sizeof buf ? n + 1 : n);
}

int main(void)
{
	CHECK(write_file("f", "target data"));
	CHECK(mkdir("d", 0755));
	CHECK(symlink("f", "s1"));
	CHECK(symlink("f", "s1"));
	CHECK(symlink("whatever", "f"));
	CHECK(symlink("", "empty"));
	CHECK(symlink("x", "nodir/s"));
	CHECK(symlink("x", "s/"));
	rl("s1", 100);
	rl("s1", 1);
	rl("s1", 0);
	rl("f", 100);
	rl("d", 100);
	rl("nope", 100);
	rl("", 100);
	CHECK(symlink("a/very/long/target/that/does/not/exist", "long"));
	rl("long", 10);
	rl("long", 100);
	show_lstat("long");
	show_stat("long");
	show_file("long");
	CHECK(syscall(SYS_readlink, "s1", (char *)1, 10));

	/* Absolute and relative, through directories. */
	CHECK(symlink("../f", "d/up"));
	show_file("d/up");
	CHECK(symlink("d", "dl"));
	show_file("dl/up");
	CHECK(symlink("dl/up", "chain"));
	show_file("chain");
	CHECK(symlink("/proc/self/cwd/f", "viaproc"));
	show_file("viaproc");

	/* Loops. */
	CHECK(symlink("loop1", "loop2"));
	CHECK(symlink("loop2", "loop1"));
	show_stat("loop1");
	show_lstat("loop1");
	CHECK(open("loop1", O_RDONLY));
	CHECK(open("loop1", O_CREAT | O_WRONLY, 0644));
	CHECK(symlink("self/x", "self"));
	show_stat("self");
	CHECK(mkdir("self/x", 0755));

	/* Chains: 40 follows allowed, 41 is ELOOP. */
	char name[32], target[32];
	for (int i = 1; i <= 41; i++) {
		snprintf(name, sizeof name, "c%d", i);
		snprintf(target, sizeof target, i == 1 ? "f" : "c%d", i - 1);
		symlink(target, name);
	}
	show_stat("c40");
	show_stat("c41");

	/* symlinkat/readlinkat. */
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	CHECK(symlinkat("../f", dfd, "at"));
	char buf[64];
	ssize_t n = readlinkat(dfd, "at", buf, sizeof buf);
	print_bytes("readlinkat", buf, n < 0 ? 0 : n);
	CHECK(readlinkat(9999, "at", buf, sizeof buf));
	CHECK(readlinkat(dfd, "", buf, sizeof buf));
	show_file("d/at");

	/* Trailing slash follows a symlink to a directory. */
	show_lstat("dl");
	show_lstat("dl/");
	CHECK(unlink("dl/"));
	CHECK(rmdir("dl/"));

	/* Symlink metadata. */
	struct stat st;
	lstat("s1", &st);
	printf("symlink mode 0777: %d\n", (st.st_mode & 07777) == 0777);
	list_dir(".");
	return 0;
}
