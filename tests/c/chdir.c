/* chdir/fchdir/getcwd. */
#include "common.h"

static char base[PATH_MAX];

/* Print getcwd relative to the starting directory. */
static void cwd(const char *label)
{
	char buf[PATH_MAX];
	if (!getcwd(buf, sizeof buf)) {
		printf("%s: getcwd %s\n", label, errname(errno));
		return;
	}
	size_t n = strlen(base);
	if (strncmp(buf, base, n) == 0)
		printf("%s: <base>%s\n", label, buf + n);
	else
		printf("%s: outside base\n", label);
}

int main(void)
{
	if (!getcwd(base, sizeof base))
		die("getcwd");
	printf("absolute: %d\n", base[0] == '/');
	CHECK(mkdir("a", 0755));
	CHECK(mkdir("a/b", 0755));
	CHECK(write_file("f", ""));
	CHECK(symlink("a/b", "lnk"));
	CHECK(chdir("a"));
	cwd("in a");
	CHECK(chdir("b/../b/./"));
	cwd("in a/b");
	CHECK(chdir("../.."));
	cwd("back");
	CHECK(chdir("lnk"));
	cwd("via symlink");
	CHECK(chdir(base));
	CHECK(chdir("f"));
	CHECK(chdir("nope"));
	CHECK(chdir(""));
	CHECK(chdir("f/"));
	cwd("unchanged");

	int dfd = open("a", O_RDONLY | O_DIRECTORY);
	int ffd = open("f", O_RDONLY);
	CHECK(fchdir(dfd));
	cwd("fchdir a");
	CHECK(fchdir(ffd));
	CHECK(fchdir(9999));
	CHECK(chdir(base));

	/* getcwd buffer sizes. */
	char small[4];
	errno = 0;
	char *res = getcwd(small, sizeof small);
	printf("getcwd small: %s %s\n", res ? "ok" : "NULL", errname(errno));
	errno = 0;
	long rs = syscall(SYS_getcwd, small, 0);
	printf("getcwd size 0: %s %s\n", rs < 0 ? "fail" : "ok", errname(errno));
	size_t len = strlen(base) + 1;
	char *exact = malloc(len);
	long r = syscall(SYS_getcwd, exact, len);
	printf("getcwd exact size: returns len+1=%d\n", r == (long)len);
	r = syscall(SYS_getcwd, exact, len - 1);
	printf("getcwd one short: %s\n", r < 0 ? errname(errno) : "ok");
	r = syscall(SYS_getcwd, (char *)1, 4096);
	printf("getcwd bad ptr: %s\n", r < 0 ? errname(errno) : "ok");
	char *dyn = getcwd(NULL, 0);
	printf("getcwd(NULL,0) matches: %d\n", dyn && strcmp(dyn, base) == 0);
	free(dyn);

	/* Rename an ancestor of cwd: getcwd follows. */
	CHECK(mkdir("p", 0755));
	CHECK(mkdir("p/q", 0755));
	CHECK(chdir("p/q"));
	CHECK(rename("../../p", "../../renamed"));
	cwd("after parent rename");
	CHECK(chdir(".."));
	cwd("parent");
	CHECK(chdir(base));

	/* Remove cwd: getcwd fails, ".." still works? */
	CHECK(mkdir("gone", 0755));
	CHECK(chdir("gone"));
	CHECK(rmdir("../gone"));
	cwd("removed");
	errno = 0;
	char buf[PATH_MAX];
	long rr = syscall(SYS_getcwd, buf, sizeof buf);
	printf("raw getcwd removed: %s\n", rr < 0 ? errname(errno) : "ok");
	CHECK(chdir(".."));
	cwd("after .. from removed");

	/* Unreadable and unsearchable directories as root. */
	CHECK(chdir(base));
	CHECK(mkdir("noperm", 0));
	CHECK(chdir("noperm"));
	cwd("noperm");
	CHECK(chdir("/"));
	char root[8];
	printf("root: %s\n", getcwd(root, sizeof root));
	CHECK(chdir("/.."));
	printf("root/..: %s\n", getcwd(root, sizeof root));
	return 0;
}
