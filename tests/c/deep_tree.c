/* mkdir -p 50 levels, walk down and up, long relative paths. */
#include "common.h"

#define DEPTH 50

int main(void)
{
	char base[PATH_MAX], cwd[PATH_MAX], path[8192] = "";
	getcwd(base, sizeof base);
	int errors = 0;
	for (int i = 0; i < DEPTH; i++) {
		char comp[32];
		snprintf(comp, sizeof comp, "%slevel%02d", i ? "/" : "", i);
		strcat(path, comp);
		if (mkdir(path, 0755) < 0)
			errors++;
	}
	printf("mkdir errors: %d, path length: %zu\n", errors, strlen(path));
	strcat(path, "/leaf");
	CHECK(write_file(path, "deep"));
	show_file(path);

	/* Walk down with chdir. */
	errors = 0;
	for (int i = 0; i < DEPTH; i++) {
		char comp[32];
		snprintf(comp, sizeof comp, "level%02d", i);
		if (chdir(comp) < 0)
			errors++;
	}
	printf("chdir down errors: %d\n", errors);
	show_file("leaf");
	getcwd(cwd, sizeof cwd);
	printf("depth below base: %zu chars\n", strlen(cwd) - strlen(base));

	/* Up with "..". */
	errors = 0;
	for (int i = 0; i < DEPTH; i++)
		if (chdir("..") < 0)
			errors++;
	getcwd(cwd, sizeof cwd);
	printf("chdir up errors: %d, back at base: %d\n", errors, strcmp(cwd, base) == 0);

	/* Access via a long "../" chain from the bottom. */
	char up[4096] = "";
	*strrchr(path, '/') = 0;
	CHECK(chdir(path));
	strcat(path, "/leaf");
	for (int i = 0; i < DEPTH; i++)
		strcat(up, "../");
	strcat(up, "level00/level01");
	struct stat st;
	CHECK(stat(up, &st));
	chdir(base);

	/* openat chain down, one fd per level. */
	int fd = open(".", O_RDONLY | O_DIRECTORY);
	errors = 0;
	for (int i = 0; i < DEPTH; i++) {
		char comp[32];
		snprintf(comp, sizeof comp, "level%02d", i);
		int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY);
		if (nfd < 0) {
			errors++;
			break;
		}
		close(fd);
		fd = nfd;
	}
	int lf = openat(fd, "leaf", O_RDONLY);
	printf("openat chain errors: %d, leaf: %s\n", errors, lf < 0 ? errname(errno) : "ok");
	close(lf);
	close(fd);

	/* Rename the top; paths below follow. */
	CHECK(rename("level00", "top"));
	char moved[8192];
	snprintf(moved, sizeof moved, "top%s", path + strlen("level00"));
	show_file(moved);

	/* Remove bottom-up. */
	strcpy(path, moved);
	CHECK(unlink(path));
	errors = 0;
	for (int i = 0; i < DEPTH; i++) {
		char *s = strrchr(path, '/');
		if (!s)
			break;
		*s = 0;
		if (rmdir(path) < 0)
			errors++;
	}
	printf("rmdir errors: %d\n", errors);
	list_dir(".");
	return 0;
}
