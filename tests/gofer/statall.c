/* Stats every entry of a directory twice, then opens and reads each file:
 * prints how many of each step succeeded, and the first failure. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	static char names[8192][32];
	int n = 0;
	DIR *d = opendir(argv[1]);
	if (!d) {
		perror("opendir");
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(d)) && n < 8192) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(names[n++], sizeof names[0], "%s", e->d_name);
	}
	closedir(d);
	if (chdir(argv[1]) != 0)
		return 1;
	int first_errno = 0;
	for (int pass = 0; pass < 2; pass++) {
		int ok = 0;
		for (int i = 0; i < n; i++) {
			struct stat st;
			if (lstat(names[i], &st) == 0 && st.st_size == (off_t)strlen(names[i]))
				ok++;
			else if (!first_errno)
				first_errno = errno ? errno : -1;
		}
		printf("pass %d: %d of %d stat\n", pass, ok, n);
	}
	int read_ok = 0;
	for (int i = 0; i < n; i++) {
		char buf[64];
		int fd = open(names[i], O_RDONLY);
		if (fd < 0) {
			if (!first_errno)
				first_errno = errno;
			continue;
		}
		ssize_t r = read(fd, buf, sizeof buf);
		if (r == (ssize_t)strlen(names[i]) && memcmp(buf, names[i], r) == 0)
			read_ok++;
		close(fd);
	}
	printf("read: %d of %d\n", read_ok, n);
	printf("first error: %s\n", first_errno > 0 ? strerror(first_errno) : first_errno ? "wrong size" : "none");
	return 0;
}
