/* /proc/[pid] links (exe, cwd, root, fd/N), entry modes and owners, fdinfo,
 * write errors, and the mounts/mountinfo formats.
 *
 * With the argument "dump" it instead prints "ready", waits for a line on
 * stdin, and prints every file and link under /proc: the leak test in
 * tests/tests/proc.rs scans that for host paths and pids. */
#include "common.h"
#include <sys/statfs.h>
#include <sys/sysmacros.h>

static char buf[1 << 16];

static ssize_t slurp_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

static ssize_t slurp(const char *path)
{
	return slurp_at(AT_FDCWD, path);
}

static void dump_dir(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("== %s: opendir %s\n", dir, errname(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t n = readlink(p, t, sizeof t - 1);
			t[n < 0 ? 0 : n] = 0;
			printf("== %s -> %s\n", p, n < 0 ? errname(errno) : t);
		} else if (S_ISDIR(st.st_mode)) {
			if (depth < 6)
				dump_dir(p, depth + 1);
		} else {
			ssize_t n = slurp(p);
			printf("== %s\n", p);
			for (ssize_t i = 0; i < n; i++)
				putchar(buf[i] ? buf[i] : ' ');
			if (n > 0 && buf[n - 1] != '\n')
				putchar('\n');
		}
	}
	closedir(d);
}

static void show_link(const char *label, const char *path, const char *want)
{
	char t[PATH_MAX];
	ssize_t n = readlink(path, t, sizeof t - 1);
	if (n < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	t[n] = 0;
	printf("%s == expected: %d\n", label, strcmp(t, want) == 0);
}

static void show_mode(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		printf("%s: %s\n", path, errname(errno));
		return;
	}
	int pid_entry = strncmp(path, "/proc/self/", 11) == 0;
	printf("%s: %s %04o owner ok: %d\n", path, ftype(st.st_mode), st.st_mode & 07777,
	       pid_entry ? st.st_uid == geteuid() && st.st_gid == getegid() : st.st_uid == 0 && st.st_gid == 0);
}

/* The mountinfo line mounted at `at`, checked against stat's st_dev. */
static void check_mountinfo(const char *at)
{
	slurp("/proc/self/mountinfo");
	int lines = 0, bad = 0, found = 0, dev_ok = 0;
	char *save;
	struct stat st;
	stat(at, &st);
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		lines++;
		char *sep = strstr(l, " - ");
		unsigned id, parent, maj, min;
		char root[PATH_MAX], point[PATH_MAX], opts[256], fstype[64], src[PATH_MAX], sopts[256];
		if (!sep || sscanf(l, "%u %u %u:%u %s %s %s", &id, &parent, &maj, &min, root, point, opts) != 7 ||
		    sscanf(sep + 3, "%63s %s %255s", fstype, src, sopts) != 3) {
			bad++;
			continue;
		}
		if (!strcmp(point, at)) {
			found = 1;
			dev_ok = maj == major(st.st_dev) && min == minor(st.st_dev);
		}
	}
	printf("mountinfo %s: lines>0: %d malformed: %d found: %d dev matches stat: %d\n", at, lines > 0, bad, found,
	       dev_ok);
}

int main(int argc, char **argv)
{
	char want[PATH_MAX], p[PATH_MAX];
	if (argc > 1 && !strcmp(argv[1], "dump")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(want, sizeof want, stdin))
			return 1;
		dump_dir("/proc", 0);
		return 0;
	}

	/* exe is the program; cwd follows chdir and shows deletion. */
	realpath(argv[0], want);
	show_link("exe", "/proc/self/exe", want);
	char top[1024];
	getcwd(top, sizeof top);
	show_link("cwd", "/proc/self/cwd", top);
	CHECK(mkdir("sub dir", 0755));
	CHECK(chdir("sub dir"));
	snprintf(want, sizeof want, "%s/sub dir", top);
	show_link("cwd in subdir", "/proc/self/cwd", want);
	CHECK(rmdir(want));
	snprintf(p, sizeof p, "%s/sub dir (deleted)", top);
	show_link("cwd deleted", "/proc/self/cwd", p);
	CHECK(chdir(top));
	show_link("root", "/proc/self/root", "/");

	/* A chrooted child: its root as others see it, and as it sees it. */
	CHECK(mkdir("jail", 0755));
	int pp[2];
	pipe(pp);
	pid_t pid = fork();
	if (pid == 0) {
		int self = open("/proc/self", O_PATH | O_DIRECTORY);
		if (chroot("jail") < 0 || chdir("/") < 0)
			die("chroot");
		char t[PATH_MAX];
		ssize_t n = readlinkat(self, "root", t, sizeof t - 1);
		t[n < 0 ? 0 : n] = 0;
		printf("child sees own root: %s\n", n < 0 ? errname(errno) : t);
		n = readlinkat(self, "cwd", t, sizeof t - 1);
		t[n < 0 ? 0 : n] = 0;
		printf("child sees own cwd: %s\n", n < 0 ? errname(errno) : t);
		ssize_t m = slurp_at(self, "mounts");
		printf("child mounts readable: %d\n", m >= 0);
		write(pp[1], "x", 1);
		pause();
		_exit(0);
	}
	char c;
	read(pp[0], &c, 1);
	snprintf(p, sizeof p, "/proc/%d/root", pid);
	snprintf(want, sizeof want, "%s/jail", top);
	show_link("parent sees child root", p, want);
	kill(pid, SIGKILL);
	wait_child("chrooted child", pid);

	/* fd links: their mode tells the access mode. */
	int fds[4] = {
		open("f", O_RDONLY | O_CREAT, 0644),
		open("f", O_WRONLY),
		open("f", O_RDWR | O_CLOEXEC),
		open("f", O_PATH),
	};
	for (int i = 0; i < 4; i++) {
		struct stat st;
		snprintf(p, sizeof p, "/proc/self/fd/%d", fds[i]);
		lstat(p, &st);
		snprintf(want, sizeof want, "%s/f", top);
		char t[PATH_MAX];
		ssize_t n = readlink(p, t, sizeof t - 1);
		t[n < 0 ? 0 : n] = 0;
		printf("fd %d: mode %04o target ok: %d\n", i, st.st_mode & 07777, strcmp(t, want) == 0);
	}
	/* fdinfo lists what fd lists (listing it must not touch the descriptor
	 * that reads the listing). */
	{
		int nfd = 0, ninfo = 0;
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;
		while (d && (e = readdir(d)))
			nfd += e->d_name[0] != '.';
		if (d)
			closedir(d);
		d = opendir("/proc/self/fdinfo");
		while (d && (e = readdir(d)))
			ninfo += e->d_name[0] != '.';
		if (d)
			closedir(d);
		printf("fd entries == fdinfo entries: %d\n", nfd == ninfo && nfd > 4);
	}
	lseek(fds[2], 7, SEEK_SET);
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fds[2]);
	slurp(p);
	printf("fdinfo: %.*s", (int)(strstr(buf, "mnt_id") - buf), buf);

	/* Modes and owners of entries. */
	const char *entries[] = {
		"/proc/self", "/proc/thread-self", "/proc/mounts", "/proc/meminfo", "/proc/uptime",
		"/proc/sys", "/proc/sys/kernel/hostname", "/proc/sys/kernel/ostype", "/proc/self/", "/proc/self/auxv", "/proc/self/cmdline",
		"/proc/self/comm", "/proc/self/cwd", "/proc/self/environ", "/proc/self/exe", "/proc/self/fd",
		"/proc/self/fdinfo", "/proc/self/fdinfo/0", "/proc/self/limits", "/proc/self/maps",
		"/proc/self/mountinfo", "/proc/self/mounts", "/proc/self/root", "/proc/self/stat",
		"/proc/self/statm", "/proc/self/status", "/proc/self/task", NULL,
	};
	for (int i = 0; entries[i]; i++)
		show_mode(entries[i]);

	/* Writes to read-only files fail as on Linux. */
	int fd = open("/proc/self/stat", O_WRONLY);
	printf("write stat: %s\n", write(fd, "x", 1) < 0 ? errname(errno) : "ok");
	close(fd);
	fd = open("/proc/meminfo", O_WRONLY);
	printf("write meminfo: %s\n", write(fd, "x", 1) < 0 ? errname(errno) : "ok");
	close(fd);
	CHECK(open("/proc/sys/kernel/ostype", O_WRONLY));
	CHECK(open("/proc/self/nonexistent", O_RDONLY));

	struct statfs sfs;
	statfs("/proc", &sfs);
	printf("statfs /proc type: %lx\n", (unsigned long)sfs.f_type);

	/* mounts: six fields a line; /proc is there with type proc. */
	slurp("/proc/self/mounts");
	int lines = 0, bad = 0, proc = 0;
	char *save;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char f[6][PATH_MAX], extra[8];
		int k = sscanf(l, "%s %s %s %s %s %s %7s", f[0], f[1], f[2], f[3], f[4], f[5], extra);
		lines++;
		bad += k != 6;
		if (k >= 3 && !strcmp(f[1], "/proc") && !strcmp(f[2], "proc"))
			proc = 1;
	}
	printf("mounts: lines>0: %d malformed: %d proc: %d\n", lines > 0, bad, proc);
	check_mountinfo("/proc");
	check_mountinfo("/");
	return 0;
}
