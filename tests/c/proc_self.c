/* /proc/self: cmdline, stat, status, fd, exe, cwd. */
#include "common.h"

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static ssize_t slurp(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, sz - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

int main(int argc, char **argv)
{
	char buf[8192], l[PATH_MAX];
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		/* Re-executed with arguments: print our own cmdline. */
		ssize_t n = slurp("/proc/self/cmdline", buf, sizeof buf);
		int args = 0;
		printf("exec'd cmdline:");
		for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1, args++)
			printf(" [%s]", args == 0 ? base(buf + i) : buf + i);
		printf(" (%d)\n", args);
		return 0;
	}

	ssize_t n = slurp("/proc/self/cmdline", buf, sizeof buf);
	printf("cmdline basename: %s, args: %d, ends with NUL: %d\n", base(buf),
	       (int)(strlen(buf) + 1 == (size_t)n), buf[n - 1] == 0);
	printf("argv[0] matches: %d\n", strcmp(buf, argv[0]) == 0);

	/* stat: "pid (comm) S ..." */
	n = slurp("/proc/self/stat", buf, sizeof buf);
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	printf("stat pid matches: %d\n", atoi(buf) == getpid());
	printf("stat comm: %.*s\n", (int)(rp - lp + 1), lp);
	printf("stat state: %c\n", rp[2]);
	int ppid = atoi(rp + 4);
	printf("stat ppid matches: %d\n", ppid == getppid());

	/* status */
	FILE *f = fopen("/proc/self/status", "r");
	while (fgets(l, sizeof l, f)) {
		if (!strncmp(l, "Name:", 5) || !strncmp(l, "State:", 6) || !strncmp(l, "Umask:", 6))
			printf("status %s", l);
		if (!strncmp(l, "Pid:", 4))
			printf("status Pid matches: %d\n", atoi(l + 5) == getpid());
		if (!strncmp(l, "PPid:", 5))
			printf("status PPid matches: %d\n", atoi(l + 6) == getppid());
		if (!strncmp(l, "Uid:", 4) || !strncmp(l, "Gid:", 4))
			printf("status %s", l);
		if (!strncmp(l, "Threads:", 8))
			printf("status %s", l);
	}
	fclose(f);

	/* fd directory: our stdio + an opened dir. */
	CHECK(mkdir("opened-dir", 0755));
	int dfd = open("opened-dir", O_RDONLY | O_DIRECTORY);
	printf("opened dir fd: %d\n", dfd);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fds[64], nf = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && nf < 64)
			fds[nf++] = atoi(e->d_name);
	closedir(d);
	for (int i = 0; i < nf; i++)
		for (int j = i + 1; j < nf; j++)
			if (fds[j] < fds[i]) {
				int t = fds[i];
				fds[i] = fds[j];
				fds[j] = t;
			}
	printf("fd listing:");
	for (int i = 0; i < nf; i++)
		printf(" %d", fds[i]);
	printf("\n");
	snprintf(l, sizeof l, "/proc/self/fd/%d", dfd);
	n = readlink(l, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("fd link basename: %s\n", base(buf));
	struct stat st;
	lstat(l, &st);
	printf("fd entry is symlink: %d\n", S_ISLNK(st.st_mode));
	snprintf(l, sizeof l, "/proc/self/fdinfo/%d", dfd);
	n = slurp(l, buf, sizeof buf);
	printf("fdinfo has flags: %d\n", n > 0 && strstr(buf, "flags:") != NULL);

	/* exe and cwd. */
	n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("exe basename: %s\n", base(buf));
	printf("exe absolute: %d\n", buf[0] == '/');
	CHECK(chdir("opened-dir"));
	n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("cwd basename: %s\n", base(buf));
	char cwd[PATH_MAX];
	getcwd(cwd, sizeof cwd);
	printf("cwd link == getcwd: %d\n", strcmp(cwd, buf) == 0);
	CHECK(chdir(".."));
	n = readlink("/proc/self/root", buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("root link: %s\n", buf);

	/* /proc/self resolves to our pid; /proc/thread-self too. */
	n = readlink("/proc/self", buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("/proc/self -> pid: %d\n", atoi(buf) == getpid());
	snprintf(l, sizeof l, "/proc/%d/comm", getpid());
	n = slurp(l, buf, sizeof buf);
	printf("comm: %s", buf);

	/* Deleted file shows " (deleted)". */
	int fd = open("tmp", O_CREAT | O_RDWR, 0644);
	unlink("tmp");
	snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
	n = readlink(l, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("deleted link basename: %s\n", base(buf));

	/* Pipes show as pipe:[N]. */
	int p[2];
	pipe(p);
	snprintf(l, sizeof l, "/proc/self/fd/%d", p[0]);
	n = readlink(l, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("pipe link prefix ok: %d\n", strncmp(buf, "pipe:[", 6) == 0);
	fflush(stdout);

	/* Exec ourselves with arguments. */
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "child", "two words", "", NULL);
		printf("exec failed: %s\n", errname(errno));
		exit(1);
	}
	wait_child("re-exec", pid);
	return 0;
}
