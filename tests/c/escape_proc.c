/* /proc-based escape vectors and host path leaks. */
#include "escape.h"

static void dump(const char *name, const char *path)
{
	char buf[16384];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		attempt_result(name, "%s", errname(errno));
		return;
	}
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	for (ssize_t i = 0; i < total; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
	attempt_result(name, "%zd bytes", total);
	/* The test scans these lines for host paths. */
	char *save, *line = strtok_r(buf, "\n", &save);
	while (line) {
		printf("  | %s\n", line);
		line = strtok_r(NULL, "\n", &save);
	}
}

static void rl(const char *name, const char *path)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n < 0)
		attempt_result(name, "%s", errname(errno));
	else {
		buf[n] = 0;
		attempt_result(name, "-> %s", buf);
	}
}

/* Try every fd magic link of a process directory. */
static void fd_links(const char *name, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		attempt_result(name, "%s", errname(errno));
		return;
	}
	struct dirent *e;
	int tried = 0;
	char results[4096] = "";
	size_t off = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[512], t[512];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(p, t, sizeof t - 1);
		t[n < 0 ? 0 : n] = 0;
		tried++;
		sappend(results, sizeof results, &off, "[%s -> %s", e->d_name, t);
		const char *suffixes[] = {"/../secret.txt", "/../../secret.txt", "/../../../secret.txt"};
		for (int i = 0; i < 3; i++) {
			snprintf(p, sizeof p, "%s/%s%s", dir, e->d_name, suffixes[i]);
			int fd = open(p, O_RDONLY);
			if (fd >= 0) {
				sappend(results, sizeof results, &off, " %s", describe_fd(fd));
				close(fd);
			}
		}
		sappend(results, sizeof results, &off, "] ");
	}
	closedir(d);
	attempt_result(name, "%d links %s", tried, results);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: escape_proc SECRET_PATH OUTSIDE_DIR\n");
		return 2;
	}
	const char *secret = argv[1];
	char p[8192];
	int keep = open("/", O_RDONLY | O_DIRECTORY);

	try_open("/proc/self/root/../secret.txt", "/proc/self/root/../secret.txt");
	snprintf(p, sizeof p, "/proc/self/root%s", secret);
	try_open("/proc/self/root + host path", p);
	try_open("/proc/1/root/../secret.txt", "/proc/1/root/../secret.txt");
	try_open("/proc/1/root/../../../secret.txt", "/proc/1/root/../../../secret.txt");
	try_open("/proc/self/cwd/../secret.txt", "/proc/self/cwd/../secret.txt");
	try_open("/proc/thread-self/root/../secret.txt", "/proc/thread-self/root/../secret.txt");
	try_open("symlink farm /proc/self/root link", "/proc_root_link");
	try_open("symlink farm /proc/1/root link", "/proc1_link");
	snprintf(p, sizeof p, "/proc/self/fd/%d/../secret.txt", keep);
	try_open("/proc/self/fd/<root fd>/..", p);
	try_open("/proc/self/exe/../secret.txt", "/proc/self/exe/../secret.txt");
	try_open("/proc/self/root/proc/self/root/..", "/proc/self/root/proc/self/root/../secret.txt");

	/* Every process visible in /proc. */
	DIR *d = opendir("/proc");
	int procs = 0;
	char found[2048] = "";
	size_t off = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		procs++;
		snprintf(p, sizeof p, "/proc/%s/root/../secret.txt", e->d_name);
		int fd = open(p, O_RDONLY);
		if (fd >= 0) {
			sappend(found, sizeof found, &off, "[%s] ", describe_fd(fd));
			close(fd);
		}
	}
	if (d)
		closedir(d);
	attempt_result("all /proc/<pid>/root/..", "%s", found);
	printf("  (visible processes: %s)\n", procs > 0 ? "some" : "none");

	fd_links("/proc/self/fd magic links", "/proc/self/fd");
	fd_links("/proc/1/fd magic links", "/proc/1/fd");
	fd_links("/proc/self/map_files", "/proc/self/map_files");

	/* Host path leaks through /proc text files and links. */
	dump("/proc/self/mountinfo", "/proc/self/mountinfo");
	dump("/proc/self/mounts", "/proc/self/mounts");
	dump("/proc/1/mountinfo", "/proc/1/mountinfo");
	dump("/proc/self/maps", "/proc/self/maps");
	dump("/proc/self/environ", "/proc/self/environ");
	dump("/proc/self/stat", "/proc/self/stat");
	rl("/proc/self/exe", "/proc/self/exe");
	rl("/proc/self/cwd", "/proc/self/cwd");
	rl("/proc/self/root", "/proc/self/root");
	rl("/proc/1/root", "/proc/1/root");
	rl("/proc/1/exe", "/proc/1/exe");
	snprintf(p, sizeof p, "/proc/self/fd/%d", keep);
	rl("/proc/self/fd/<root fd>", p);
	finish();
	return 0;
}
