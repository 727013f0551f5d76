/* Path edge cases: slashes, dots, empty, too long. */
#include "common.h"

int main(void)
{
	struct stat st;
	CHECK(mkdir("a", 0755));
	CHECK(mkdir("a/b", 0755));
	CHECK(write_file("a/b/f", "F"));
	CHECK(symlink("b", "a/lb"));
	CHECK(symlink("b/f", "a/lf"));

	CHECK(stat("a/b/f", &st));
	CHECK(stat("a//b///f", &st));
	CHECK(stat("./a/./b/./f", &st));
	CHECK(stat("a/b/../b/f", &st));
	CHECK(stat("a/b/f/", &st));
	CHECK(stat("a/b/f/.", &st));
	CHECK(stat("a/b/f/..", &st));
	CHECK(stat("a/b/f//", &st));
	CHECK(stat("a/lf/", &st));
	CHECK(stat("a/lb/", &st));
	CHECK(stat("a/lb/f", &st));
	CHECK(stat("a/b/", &st));
	CHECK(stat("a/b//", &st));
	CHECK(stat("a/nope/..", &st));
	CHECK(stat("a/b/f/nope", &st));
	CHECK(stat("", &st));
	CHECK(lstat("", &st));
	CHECK(open("", O_RDONLY));
	CHECK(stat(".", &st));
	CHECK(stat("..", &st));
	CHECK(stat("...", &st));
	CHECK(stat("/", &st));
	CHECK(stat("//", &st));
	CHECK(stat("///", &st));
	CHECK(stat("/..", &st));
	CHECK(stat("/../../..", &st));
	CHECK(stat("/./.", &st));
	CHECK(stat("/dev/null/", &st));
	CHECK(access("a/b/f/", F_OK));
	CHECK(open("a/b/f/", O_RDONLY));
	CHECK(open("a/b/f/", O_RDONLY | O_CREAT, 0644));
	CHECK(open("a/b/newf/", O_WRONLY | O_CREAT, 0644));
	CHECK(unlink("a/b/f/"));
	CHECK(rename("a/b/f", "a/b/g/"));
	CHECK(link("a/b/f", "a/b/h/"));
	CHECK(symlink("x", "a/b/s/"));
	CHECK(mkdir("a/c/", 0755));
	CHECK(mkdir("a/c//", 0755));
	CHECK(rmdir("a/c//"));
	CHECK(mkdir("a/c/.", 0755));
	CHECK(stat("a/c", &st));

	/* Component of exactly 255 works, 256 does not. */
	char name[300];
	memset(name, 'n', 255);
	name[255] = 0;
	CHECK(write_file(name, "x"));
	CHECK(stat(name, &st));
	CHECK(unlink(name));
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK(open(name, O_CREAT | O_WRONLY, 0644));
	CHECK(stat(name, &st));
	CHECK(mkdir(name, 0755));
	char inpath[400];
	snprintf(inpath, sizeof inpath, "a/%s/x", name);
	CHECK(stat(inpath, &st));

	/* Total path length: PATH_MAX (4096) including NUL. */
	static char longp[8192];
	char *p = longp;
	while (p - longp < 4094)
		p += sprintf(p, "./");
	longp[4094] = 0;
	printf("len %zu: ", strlen(longp));
	CHECK(stat(longp, &st));
	strcat(longp, "a");
	printf("len %zu: ", strlen(longp));
	CHECK(stat(longp, &st));
	strcat(longp, "/");
	printf("len %zu: ", strlen(longp));
	CHECK(stat(longp, &st));
	longp[4096] = 0;
	memset(longp, '/', 4096);
	printf("4096 slashes: ");
	CHECK(stat(longp, &st));
	memset(longp, '/', 4095);
	longp[4095] = 0;
	printf("4095 slashes: ");
	CHECK(stat(longp, &st));
	memset(longp, 'x', 8000);
	longp[8000] = 0;
	CHECK(open(longp, O_RDONLY));
	CHECK(mkdir(longp, 0755));
	CHECK(symlink("x", longp));
	CHECK(symlink(longp, "toolong"));
	memset(longp, 'x', 4095);
	longp[4095] = 0;
	CHECK(symlink(longp, "maxtarget"));
	CHECK(symlink(longp, "maxtarget"));

	/* Symlink whose target is long but path resolution succeeds. */
	char lt[4000];
	p = lt;
	while (p - lt < 3900)
		p += sprintf(p, "./");
	strcpy(p, "a/b/f");
	CHECK(symlink(lt, "longtarget"));
	show_file("longtarget");

	/* NUL-free bad pointers. */
	CHECK(stat((const char *)1, &st));
	CHECK(syscall(SYS_open, NULL, O_RDONLY));
	return 0;
}
