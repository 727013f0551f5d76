/* access/faccessat/faccessat2, as root and as an unprivileged child. */
#include "common.h"
#include <grp.h>

static long fa2(const char *path, int mode, int flags)
{
	return syscall(SYS_faccessat2, AT_FDCWD, path, mode, flags);
}

static void matrix(const char *path)
{
	char l[128];
	static const struct {
		int m;
		const char *n;
	} modes[] = {{F_OK, "F_OK"}, {R_OK, "R_OK"}, {W_OK, "W_OK"}, {X_OK, "X_OK"}, {R_OK | W_OK | X_OK, "RWX"}};
	for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		snprintf(l, sizeof l, "access(%s, %s)", path, modes[i].n);
		CHECKN(l, access(path, modes[i].m));
	}
}

int main(void)
{
	CHECK(chmod(".", 0755));
	CHECK(write_file("f000", ""));
	CHECK(chmod("f000", 0));
	CHECK(write_file("f100", ""));
	CHECK(chmod("f100", 0100));
	CHECK(write_file("f001", ""));
	CHECK(chmod("f001", 0001));
	CHECK(write_file("f644", ""));
	CHECK(write_file("f600", ""));
	CHECK(chmod("f600", 0600));
	CHECK(write_file("f755", ""));
	CHECK(chmod("f755", 0755));
	CHECK(mkdir("d000", 0));
	CHECK(mkdir("d700", 0700));
	CHECK(symlink("f755", "lnk"));
	CHECK(symlink("nowhere", "dang"));

	printf("-- as root\n");
	matrix("f000");
	matrix("f100");
	matrix("f001");
	matrix("f644");
	matrix("d000");
	matrix("lnk");
	matrix("dang");
	matrix("nope");
	CHECK(access("f644/x", F_OK));
	CHECK(access("f644", 8));
	CHECK(access("f644", -1));
	CHECK(access("", F_OK));
	CHECK(faccessat(AT_FDCWD, "f100", X_OK, AT_EACCESS));
	CHECK(syscall(SYS_faccessat, AT_FDCWD, "f644", R_OK));
	CHECK(syscall(SYS_faccessat, 9999, "f644", R_OK));
	CHECK(fa2("f644", R_OK, 0));
	CHECK(fa2("f000", X_OK, AT_EACCESS));
	CHECK(fa2("dang", F_OK, AT_SYMLINK_NOFOLLOW));
	CHECK(fa2("dang", F_OK, 0));
	CHECK(fa2("f644", F_OK, 0x1));
	int fd = open("f644", O_RDONLY);
	CHECK(syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	CHECK(syscall(SYS_faccessat2, fd, "", R_OK, 0));
	close(fd);
	CHECK(access("/proc/self/status", W_OK));

	printf("-- as nobody\n");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			die("drop privileges");
		matrix("f000");
		matrix("f600");
		matrix("f644");
		matrix("f755");
		matrix("f001");
		matrix("d700");
		CHECK(access("d700/x", F_OK));
		CHECK(open("f600", O_RDONLY));
		CHECK(open("f644", O_WRONLY));
		CHECK(open("f644", O_RDONLY) >= 0 ? 0 : -1);
		CHECK(write_file("created-by-nobody", ""));
		CHECK(chmod("f644", 0777));
		CHECK(chown("f644", 65534, 65534));
		CHECK(unlink("f644"));
		CHECK(mkdir("d700/sub", 0755));
		exit(0);
	}
	wait_child("nobody child", pid);

	/* Real vs effective ids: AT_EACCESS uses the effective uid. */
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 0, 0) < 0)
			die("setresuid");
		CHECKN("real nobody, access f600", access("f600", R_OK));
		CHECKN("real nobody, faccessat AT_EACCESS f600", faccessat(AT_FDCWD, "f600", R_OK, AT_EACCESS));
		CHECKN("real nobody, open f600", open("f600", O_RDONLY) >= 0 ? 0 : -1);
		exit(0);
	}
	wait_child("mixed-id child", pid);
	return 0;
}
