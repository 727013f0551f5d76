/* /proc/[pid]/cmdline and environ read the process's live memory: argv and
 * the environment rewritten in place (setproctitle) show. Also what /proc
 * shows of a stopped and of a zombie child. */
#include "common.h"

extern char **environ;

static char buf[16384];

static ssize_t slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

static void show(const char *label, const char *path)
{
	ssize_t n = slurp(path);
	if (n < 0)
		printf("%s: %s\n", label, errname(-n));
	else
		print_bytes(label, buf, n);
}

/* The same file read a few bytes at a time. */
static void show_small_reads(const char *label, const char *path)
{
	int fd = open(path, O_RDONLY);
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, 5)) > 0)
		total += n;
	close(fd);
	print_bytes(label, buf, total);
}

static void on_usr1(int s)
{
	(void)s;
	_exit(3);
}

static int child_main(int argc, char **argv, int ready_fd)
{
	signal(SIGUSR1, on_usr1);
	show("cmdline", "/proc/self/cmdline");
	show("environ", "/proc/self/environ");

	/* In-place edits show. */
	argv[1][0] = 'C';
	environ[0][0] = 'Q';
	show("cmdline after edit", "/proc/self/cmdline");
	show("environ after edit", "/proc/self/environ");
	/* A new variable lives elsewhere: the original area is unchanged. */
	setenv("NEW", "x", 1);
	show("environ after setenv", "/proc/self/environ");

	/* setproctitle: argv and the environment strings are one area. */
	int envc = 0;
	while (environ[envc] && strcmp(environ[envc], "NEW=x") != 0)
		envc++;
	char *start = argv[0], *end = environ[envc - 1] + strlen(environ[envc - 1]) + 1;
	int contiguous = 1;
	for (int i = 1; i < argc; i++)
		contiguous &= argv[i] == argv[i - 1] + strlen(argv[i - 1]) + 1;
	contiguous &= environ[0] == argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	printf("argv and environ contiguous: %d\n", contiguous);
	memset(start, 0, end - start);
	strcpy(start, "title: a process title longer than its arguments");
	show("cmdline long title", "/proc/self/cmdline");
	show_small_reads("cmdline long title, small reads", "/proc/self/cmdline");
	show("environ after title", "/proc/self/environ");
	memset(start, 0, end - start);
	strcpy(start, "short");
	show("cmdline short title", "/proc/self/cmdline");

	/* Tell the parent, then wait to be stopped, continued and killed. */
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	for (;;)
		pause();
}

static const char *stat_state(const char *path)
{
	static char st[8];
	if (slurp(path) < 0)
		return "gone";
	const char *p = strrchr(buf, ')');
	snprintf(st, sizeof st, "%c", p ? p[2] : '?');
	return st;
}

static const char *wait_state(const char *path, const char *want)
{
	const char *s = "?";
	for (int i = 0; i < 300; i++) {
		s = stat_state(path);
		if (!strcmp(s, want))
			break;
		usleep(10000);
	}
	return s;
}

static void status_lines(const char *path, const char **keys)
{
	static char text[sizeof buf + 1];
	slurp(path);
	snprintf(text, sizeof text, "\n%s", buf);
	for (int k = 0; keys[k]; k++) {
		char pat[64];
		snprintf(pat, sizeof pat, "\n%s:", keys[k]);
		char *p = strstr(text, pat);
		if (!p)
			printf("  status %s: absent\n", keys[k]);
		else if (!strcmp(keys[k], "VmRSS"))
			printf("  status VmRSS: present\n");
		else
			printf("  status %.*s\n", (int)strcspn(p + 1, "\n"), p + 1);
	}
}

static void show_link(const char *label, const char *path)
{
	char t[PATH_MAX];
	ssize_t n = readlink(path, t, sizeof t - 1);
	printf("%s: %s\n", label, n < 0 ? errname(errno) : "ok");
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "child") == 0)
		return child_main(argc, argv, atoi(argv[2]));

	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	char fdarg[16];
	snprintf(fdarg, sizeof fdarg, "%d", p[1]);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		char *args[] = {"prog", "child", fdarg, "two words", "", "last", NULL};
		char *env[] = {"A=1", "LONGER=some value", "EMPTY=", NULL};
		execve("/proc/self/exe", args, env);
		die("execve");
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1)
		die("child did not get ready");

	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	show("parent sees cmdline", path);
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	show("parent sees environ", path);

	char statp[64], statusp[64], base[64];
	snprintf(statp, sizeof statp, "/proc/%d/stat", pid);
	snprintf(statusp, sizeof statusp, "/proc/%d/status", pid);
	snprintf(base, sizeof base, "/proc/%d", pid);
	const char *keys[] = {"Name", "State", "Threads", "Umask", "VmRSS", NULL};
	printf("paused child: %s\n", wait_state(statp, "S"));

	int status;
	kill(pid, SIGSTOP);
	waitpid(pid, &status, WUNTRACED);
	printf("stopped child: %s\n", wait_state(statp, "T"));
	status_lines(statusp, keys);
	kill(pid, SIGCONT);
	waitpid(pid, &status, WCONTINUED);
	printf("continued child: %s\n", wait_state(statp, "S"));

	kill(pid, SIGUSR1);
	printf("exited child: %s\n", wait_state(statp, "Z"));
	slurp(statp);
	const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	printf("  comm: %.*s\n", lp && rp ? (int)(rp - lp + 1) : 0, lp ? lp : "");
	printf("  exit_code: %s", rp ? strrchr(buf, ' ') + 1 : "-\n");
	status_lines(statusp, keys);
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	show("  zombie cmdline", path);
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	show("  zombie environ", path);
	const char *links[] = {"exe", "cwd", "root"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "/proc/%d/%s", pid, links[i]);
		char label[32];
		snprintf(label, sizeof label, "  zombie %s", links[i]);
		show_link(label, path);
	}
	DIR *d = opendir(base);
	printf("  zombie dir listed: %s\n", d ? "ok" : errname(errno));
	if (d)
		closedir(d);

	waitpid(pid, &status, 0);
	show_wait("child", status);
	printf("reaped child stat: %s\n", stat_state(statp));
	return 0;
}
