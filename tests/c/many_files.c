/* Create 500 files, list them, stat them, delete them. */
#include "common.h"

#define N 500

int main(void)
{
	char name[64];
	CHECK(mkdir("many", 0755));
	int errors = 0;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "many/file-%04d", i);
		int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			errors++;
			continue;
		}
		char data[32];
		int l = snprintf(data, sizeof data, "content %d", i);
		if (write(fd, data, l) != l)
			errors++;
		close(fd);
	}
	printf("create errors: %d\n", errors);

	DIR *d = opendir("many");
	struct dirent *e;
	int count = 0, regs = 0;
	uint64_t h = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		count++;
		regs += e->d_type == DT_REG;
		/* Order-independent hash of names. */
		h += fnv1a(FNV_INIT, e->d_name, strlen(e->d_name));
	}
	closedir(d);
	printf("listed %d files (%d regular), name sum %016llx\n", count, regs, (unsigned long long)h);

	int bad = 0;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "many/file-%04d", i);
		struct stat st;
		char want[32];
		int l = snprintf(want, sizeof want, "content %d", i);
		if (stat(name, &st) < 0 || st.st_size != l)
			bad++;
	}
	printf("stat mismatches: %d\n", bad);

	/* Delete every other file while iterating, then the rest. */
	int fd = open("many", O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < N; i += 2) {
		snprintf(name, sizeof name, "file-%04d", i);
		if (unlinkat(fd, name, 0) < 0)
			bad++;
	}
	d = opendir("many");
	count = 0;
	while ((e = readdir(d)))
		count += e->d_name[0] != '.';
	closedir(d);
	printf("after deleting half: %d\n", count);
	for (int i = 1; i < N; i += 2) {
		snprintf(name, sizeof name, "file-%04d", i);
		if (unlinkat(fd, name, 0) < 0)
			bad++;
	}
	printf("unlink errors: %d\n", bad);
	close(fd);
	list_dir("many");
	CHECK(rmdir("many"));

	/* Many open fds at once. */
	int fds[200], opened = 0;
	CHECK(write_file("shared", "x"));
	for (int i = 0; i < 200; i++) {
		fds[i] = open("shared", O_RDONLY);
		opened += fds[i] >= 0;
	}
	printf("opened %d fds, last=%d\n", opened, fds[199]);
	for (int i = 0; i < 200; i++)
		close(fds[i]);
	return 0;
}
