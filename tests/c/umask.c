/* umask affects creation modes only. */
#include "common.h"

static void status_umask(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "Umask:", 6) == 0)
			printf("status %s", line);
	if (f)
		fclose(f);
}

int main(void)
{
	printf("umask(077) old: %03o\n", umask(077));
	printf("umask(0) old: %03o\n", umask(0));
	printf("umask(0777777) old: %03o\n", umask(0777777));
	printf("umask(022) old: %03o\n", umask(022));
	status_umask();

	umask(077);
	status_umask();
	int fd = open("f1", O_CREAT | O_WRONLY, 0666);
	close(fd);
	show_stat("f1");
	CHECK(mkdir("d1", 0777));
	show_stat("d1");
	CHECK(mknod("n1", S_IFIFO | 0666, 0));
	show_stat("n1");
	CHECK(chmod("f1", 0666));
	show_stat("f1");
	fd = open("f1", O_RDONLY);
	CHECK(fchmod(fd, 0777));
	close(fd);
	show_stat("f1");
	CHECK(symlink("f1", "s1"));
	show_lstat("s1");

	umask(0);
	fd = open("f2", O_CREAT | O_WRONLY, 0777);
	close(fd);
	show_stat("f2");
	umask(0222);
	fd = open("f3", O_CREAT | O_RDWR, 0666);
	CHECKV(write(fd, "x", 1));
	close(fd);
	show_stat("f3");
	fd = open("d1", O_TMPFILE | O_RDWR, 0666);
	if (fd < 0)
		printf("O_TMPFILE: %s\n", errname(errno));
	if (fd >= 0) {
		struct stat st;
		fstat(fd, &st);
		print_stat("tmpfile", &st);
		close(fd);
	}

	/* Inherited across fork. */
	umask(0055);
	pid_t pid = fork();
	if (pid == 0) {
		printf("child umask: %03o\n", umask(0));
		exit(0);
	}
	wait_child("child", pid);
	return 0;
}
