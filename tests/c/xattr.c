/* Extended attributes: create/replace flags, sizes, listing, removal, the
 * name-space rules (user.* only on files and directories, trusted.* for
 * CAP_SYS_ADMIN, sticky directories), f*xattr and l*xattr. */
#include "common.h"
#include <sys/xattr.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in sorted order: file systems list them in their own order. */
static void show_list(const char *what, const char *path)
{
	char buf[1024];
	ssize_t n = listxattr(path, buf, sizeof(buf));
	if (n < 0) {
		report_ret(what, n);
		return;
	}
	char *names[64];
	int k = 0;
	for (char *p = buf; p < buf + n && k < 64; p += strlen(p) + 1)
		names[k++] = p;
	qsort(names, k, sizeof(names[0]), cmp);
	printf("%s: %zd bytes:", what, n);
	for (int i = 0; i < k; i++)
		printf(" %s", names[i]);
	printf("\n");
}

int main(void)
{
	char buf[256];
	int fd = open("xa_file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	report_ret("set", setxattr("xa_file", "user.a", "hello", 5, 0));
	report_ret("set create existing", setxattr("xa_file", "user.a", "x", 1, XATTR_CREATE));
	report_ret("set replace missing", setxattr("xa_file", "user.b", "x", 1, XATTR_REPLACE));
	report_ret("set replace", setxattr("xa_file", "user.a", "world!", 6, XATTR_REPLACE));
	report_ret("set bad flags", setxattr("xa_file", "user.a", "x", 1, 4));
	report_ret("set empty value", setxattr("xa_file", "user.empty", "", 0, 0));
	report_ret("set empty name", setxattr("xa_file", "", "x", 1, 0));
	memset(buf, 'n', 255);
	memcpy(buf, "user.", 5);
	buf[255] = 0;
	report_ret("set name 255", setxattr("xa_file", buf, "x", 1, 0));
	char longname[300];
	memset(longname, 'n', 299);
	memcpy(longname, "user.", 5);
	longname[299] = 0;
	report_ret("set name 299", setxattr("xa_file", longname, "x", 1, 0));
	report_ret("set too big", setxattr("xa_file", "user.big", buf, 65537, 0));
	report_ret("set unknown ns", setxattr("xa_file", "bogus.a", "x", 1, 0));
	report_ret("set bare prefix", setxattr("xa_file", "user.", "x", 1, 0));
	report_ret("set trusted", setxattr("xa_file", "trusted.t", "tt", 2, 0));
	report_ret("get size", getxattr("xa_file", "user.a", NULL, 0));
	memset(buf, 0, sizeof(buf));
	report_ret("get", getxattr("xa_file", "user.a", buf, sizeof(buf)));
	printf("value: %s\n", buf);
	report_ret("get small buffer", getxattr("xa_file", "user.a", buf, 3));
	report_ret("get missing", getxattr("xa_file", "user.zz", buf, sizeof(buf)));
	report_ret("get unknown ns", getxattr("xa_file", "bogus.a", buf, sizeof(buf)));
	report_ret("get empty", getxattr("xa_file", "user.empty", buf, sizeof(buf)));
	report_ret("get no file", getxattr("xa_nofile", "user.a", buf, sizeof(buf)));
	report_ret("get bad pointer", getxattr("xa_file", "user.a", (void *)8, sizeof(buf)));
	show_list("list", "xa_file");
	report_ret("list size", listxattr("xa_file", NULL, 0));
	report_ret("list small", listxattr("xa_file", buf, 4));
	report_ret("fget", fgetxattr(fd, "user.a", buf, sizeof(buf)));
	report_ret("fset", fsetxattr(fd, "user.f", "ff", 2, 0));
	report_ret("flist size", flistxattr(fd, NULL, 0));
	report_ret("fremove", fremovexattr(fd, "user.f"));
	report_ret("fremove again", fremovexattr(fd, "user.f"));
	report_ret("fget bad fd", fgetxattr(999, "user.a", buf, sizeof(buf)));
	int pfd = open("xa_file", O_PATH);
	report_ret("fget O_PATH", fgetxattr(pfd, "user.a", buf, sizeof(buf)));
	close(pfd);
	report_ret("remove", removexattr("xa_file", "user.a"));
	report_ret("remove missing", removexattr("xa_file", "user.a"));
	report_ret("remove trusted", removexattr("xa_file", "trusted.t"));
	show_list("list after", "xa_file");

	/* user.* on a symlink, a fifo: only files and directories. */
	symlink("xa_file", "xa_link");
	report_ret("lset link", lsetxattr("xa_link", "user.l", "x", 1, 0));
	report_ret("lget link", lgetxattr("xa_link", "user.l", buf, sizeof(buf)));
	report_ret("set through link", setxattr("xa_link", "user.l", "x", 1, 0));
	report_ret("lget file via link", getxattr("xa_link", "user.l", buf, sizeof(buf)));
	mkfifo("xa_fifo", 0644);
	report_ret("set fifo", setxattr("xa_fifo", "user.x", "x", 1, 0));
	report_ret("get fifo", getxattr("xa_fifo", "user.x", buf, sizeof(buf)));
	mkdir("xa_dir", 0755);
	report_ret("set dir", setxattr("xa_dir", "user.d", "dd", 2, 0));
	mkdir("xa_sticky", 01777);

	/* An unprivileged user: no trusted.*, no write without permission. */
	chmod("xa_file", 0644);
	setxattr("xa_file", "trusted.t", "tt", 2, 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(1000) || setuid(1000))
			_exit(3);
		report_ret("user set no write perm", setxattr("xa_file", "user.u", "x", 1, 0));
		report_ret("user get", getxattr("xa_file", "user.l", buf, sizeof(buf)));
		report_ret("user get trusted", getxattr("xa_file", "trusted.t", buf, sizeof(buf)));
		report_ret("user set trusted", setxattr("xa_file", "trusted.u", "x", 1, 0));
		report_ret("user set security", setxattr("xa_file", "security.u", "x", 1, 0));
		show_list("user list", "xa_file");
		report_ret("user set sticky dir", setxattr("xa_sticky", "user.s", "x", 1, 0));
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	show_list("root list", "xa_file");
	close(fd);
	unlink("xa_file");
	unlink("xa_link");
	unlink("xa_fifo");
	rmdir("xa_dir");
	rmdir("xa_sticky");
	return WEXITSTATUS(status);
}
