/* readdir/rewinddir/seekdir/scandir and reading a directory fd. */
#include "common.h"

static int skip_dots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
}

int main(void)
{
	char buf[16];
	CHECK(mkdir("d", 0755));
	const char *names[] = {"zeta", "alpha", "Beta", "_under", "with space", "dot.ext", "UPPER"};
	for (int i = 0; i < 7; i++) {
		char p[64];
		snprintf(p, sizeof p, "d/%s", names[i]);
		write_file(p, names[i]);
	}
	CHECK(mkdir("d/subdir", 0755));
	list_dir("d");

	struct dirent **list;
	int n = scandir("d", &list, skip_dots, alphasort);
	printf("scandir %d:", n);
	for (int i = 0; i < n; i++) {
		printf(" %s", list[i]->d_name);
		free(list[i]);
	}
	printf("\n");
	free(list);

	DIR *d = opendir("d");
	int count = 0;
	while (readdir(d))
		count++;
	printf("first pass %d\n", count);
	rewinddir(d);
	count = 0;
	long pos3 = -1;
	struct dirent *e;
	char third[256] = "";
	while ((e = readdir(d))) {
		if (count == 2)
			pos3 = telldir(d);
		if (count == 3)
			strcpy(third, e->d_name);
		count++;
	}
	printf("after rewind %d\n", count);
	seekdir(d, pos3);
	e = readdir(d);
	printf("seekdir returns same entry: %d\n", e && !strcmp(e->d_name, third));
	printf("dirfd valid: %d\n", dirfd(d) >= 0);
	closedir(d);

	int fd = open("d", O_RDONLY | O_DIRECTORY);
	CHECKV(read(fd, buf, sizeof buf));
	CHECKV(pread(fd, buf, sizeof buf, 0));
	d = fdopendir(fd);
	count = 0;
	while (readdir(d))
		count++;
	printf("fdopendir %d\n", count);
	closedir(d);
	CHECK(fcntl(fd, F_GETFD));

	errno = 0;
	d = opendir("d/alpha");
	printf("opendir file: %s\n", d ? "ok" : errname(errno));
	d = opendir("nope");
	printf("opendir missing: %s\n", d ? "ok" : errname(errno));
	fd = open("d/alpha", O_RDONLY);
	d = fdopendir(fd);
	printf("fdopendir file: %s\n", d ? "ok" : errname(errno));

	/* Directory listing of "/" includes standard names. */
	d = opendir("/");
	int has_proc = 0, has_dev = 0, has_tmp = 0, has_dot = 0;
	while ((e = readdir(d))) {
		has_proc |= !strcmp(e->d_name, "proc") && e->d_type == DT_DIR;
		has_dev |= !strcmp(e->d_name, "dev") && e->d_type == DT_DIR;
		has_tmp |= !strcmp(e->d_name, "tmp") && e->d_type == DT_DIR;
		has_dot |= !strcmp(e->d_name, "..");
	}
	closedir(d);
	printf("/ has proc=%d dev=%d tmp=%d ..=%d\n", has_proc, has_dev, has_tmp, has_dot);
	return 0;
}
