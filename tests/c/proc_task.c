/* /proc/self/task of a multi-threaded process: the listing, each thread's
 * stat/status/comm and links, /proc/[tid], /proc/thread-self, and renaming
 * threads through comm. */
#include "common.h"
#include <pthread.h>
#include <sys/prctl.h>

#define N 3

static pid_t tids[N];
static pthread_t threads[N];
static pthread_barrier_t ready, done;
static int thread_self_ok, thread_self_stat_ok;

static char buf[16384];

static ssize_t slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

/* Values live in rotating buffers, so one printf may show several. */
static char *next_val(void)
{
	static char vals[4][256];
	static int k;
	return vals[k++ % 4];
}

static const char *status_value(const char *key)
{
	static char text[sizeof buf + 1];
	char *val = next_val();
	char pat[64];
	snprintf(pat, sizeof pat, "\n%s:\t", key);
	snprintf(text, sizeof text, "\n%s", buf);
	const char *p = strstr(text, pat);
	if (!p)
		return "-";
	p += strlen(pat);
	snprintf(val, 256, "%.*s", (int)strcspn(p, "\n"), p);
	return val;
}

/* Field `n` (Linux numbering, n >= 3) of a stat line. */
static const char *stat_field(int n)
{
	char *val = next_val();
	const char *p = strrchr(buf, ')');
	if (!p)
		return "-";
	p += 2;
	for (int i = 3; i < n && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return "-";
	snprintf(val, 256, "%.*s", (int)strcspn(p, " \n"), p);
	return val;
}

static void *worker(void *arg)
{
	long i = (long)arg;
	char name[16], want[64], got[64];
	tids[i] = gettid();
	snprintf(name, sizeof name, "worker%ld", i);
	prctl(PR_SET_NAME, name);
	if (i == 0) {
		snprintf(want, sizeof want, "%d/task/%d", getpid(), gettid());
		ssize_t n = readlink("/proc/thread-self", got, sizeof got - 1);
		got[n < 0 ? 0 : n] = 0;
		thread_self_ok = strcmp(want, got) == 0;
		char line[512];
		int fd = open("/proc/thread-self/stat", O_RDONLY);
		n = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
		line[n < 0 ? 0 : n] = 0;
		thread_self_stat_ok = atoi(line) == gettid();
		if (fd >= 0)
			close(fd);
	}
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&done);
	return NULL;
}

static int listed(const char *dir, int id)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) == id)
			found = 1;
	if (d)
		closedir(d);
	return found;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static int same_link(const char *a, const char *b)
{
	char x[PATH_MAX], y[PATH_MAX];
	ssize_t n = readlink(a, x, sizeof x - 1), m = readlink(b, y, sizeof y - 1);
	if (n < 0 || m < 0)
		return 0;
	x[n] = y[m] = 0;
	return strcmp(x, y) == 0;
}

static void show_thread(int i)
{
	char p[256], q[256];
	pid_t tid = tids[i];
	printf("thread %d:\n", i);
	/* Blocked on the barrier: sleeping, once it got there. */
	const char *state = "-";
	for (int tries = 0; tries < 200; tries++) {
		snprintf(p, sizeof p, "/proc/self/task/%d/stat", tid);
		slurp(p);
		state = stat_field(3);
		if (!strcmp(state, "S"))
			break;
		usleep(10000);
	}
	printf("  stat pid == tid: %d state: %s\n", atoi(buf) == tid, state);
	printf("  stat comm: %.*s\n", (int)(strrchr(buf, ')') - strchr(buf, '(') + 1), strchr(buf, '('));
	printf("  stat ppid == getppid: %d\n", atoi(stat_field(4)) == getppid());
	printf("  stat threads: %s exit_signal: %s\n", stat_field(20), stat_field(38));
	snprintf(p, sizeof p, "/proc/self/task/%d/status", tid);
	slurp(p);
	printf("  status Name: %s Pid == tid: %d Tgid == pid: %d Threads: %s\n", status_value("Name"),
	       atoi(status_value("Pid")) == tid, atoi(status_value("Tgid")) == getpid(), status_value("Threads"));
	snprintf(p, sizeof p, "/proc/self/task/%d/comm", tid);
	slurp(p);
	print_bytes("  comm", buf, strlen(buf));
	const char *links[] = {"exe", "cwd", "root"};
	for (int k = 0; k < 3; k++) {
		snprintf(p, sizeof p, "/proc/self/task/%d/%s", tid, links[k]);
		snprintf(q, sizeof q, "/proc/self/%s", links[k]);
		printf("  %s same as process: %d\n", links[k], same_link(p, q));
	}
	const char *want[] = {"cmdline", "comm", "cwd", "environ", "exe", "fd", "fdinfo", "limits", "maps",
			      "mounts", "mountinfo", "root", "stat", "statm", "status", NULL};
	int missing = 0;
	for (int k = 0; want[k]; k++) {
		struct stat st;
		snprintf(p, sizeof p, "/proc/self/task/%d/%s", tid, want[k]);
		if (lstat(p, &st) < 0) {
			printf("  missing %s: %s\n", want[k], errname(errno));
			missing++;
		}
	}
	snprintf(p, sizeof p, "/proc/self/task/%d/task", tid);
	printf("  entries missing: %d, has task/: %d\n", missing, access(p, F_OK) == 0);
	/* /proc/[tid]: found by lookup, not listed. */
	snprintf(p, sizeof p, "/proc/%d/status", tid);
	slurp(p);
	printf("  /proc/tid status Pid == tid: %d Tgid == pid: %d listed in /proc: %d\n",
	       atoi(status_value("Pid")) == tid, atoi(status_value("Tgid")) == getpid(), listed("/proc", tid));
}

int main(void)
{
	char p[256];
	pthread_barrier_init(&ready, NULL, N + 1);
	pthread_barrier_init(&done, NULL, N + 1);
	for (long i = 0; i < N; i++)
		pthread_create(&threads[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&ready);

	printf("task entries: %d\n", count_entries("/proc/self/task"));
	int all = listed("/proc/self/task", getpid());
	for (int i = 0; i < N; i++)
		all &= listed("/proc/self/task", tids[i]);
	printf("all tids listed: %d\n", all);
	slurp("/proc/self/status");
	printf("status Threads: %s\n", status_value("Threads"));
	slurp("/proc/self/stat");
	printf("stat threads: %s\n", stat_field(20));
	printf("thread-self link ok: %d stat ok: %d\n", thread_self_ok, thread_self_stat_ok);
	snprintf(p, sizeof p, "/proc/self/task/%d/stat", getpid());
	slurp(p);
	printf("leader task stat state: %s exit_signal: %s\n", stat_field(3), stat_field(38));
	for (int i = 0; i < N; i++)
		show_thread(i);

	/* Renaming another thread goes through its comm file. */
	int r = pthread_setname_np(threads[1], "renamed-one");
	printf("pthread_setname_np: %s\n", errname(r));
	snprintf(p, sizeof p, "/proc/self/task/%d/comm", tids[1]);
	slurp(p);
	print_bytes("renamed comm", buf, strlen(buf));
	char name[32] = "";
	pthread_getname_np(threads[1], name, sizeof name);
	printf("pthread_getname_np: %s\n", name);
	/* Linux keeps what is written, newline included, up to 15 bytes. */
	snprintf(p, sizeof p, "/proc/self/task/%d/comm", tids[2]);
	int fd = open(p, O_WRONLY);
	printf("write comm: %zd\n", write(fd, "a-very-long-thread-name\n", 24));
	close(fd);
	slurp(p);
	print_bytes("long comm", buf, strlen(buf));
	fd = open(p, O_WRONLY);
	printf("write comm: %zd\n", write(fd, "nl\n", 3));
	close(fd);
	slurp(p);
	print_bytes("comm with newline", buf, strlen(buf));
	snprintf(p, sizeof p, "/proc/self/task/%d/status", tids[2]);
	slurp(p);
	printf("status Name: %s\n", status_value("Name"));

	pthread_barrier_wait(&done);
	for (int i = 0; i < N; i++)
		pthread_join(threads[i], NULL);
	/* Joined threads leave the listing. Linux wakes the joiner (the
	 * thread's clear-tid futex) before the thread is gone from /proc, so a
	 * moment's wait may be needed there. */
	int entries = count_entries("/proc/self/task");
	for (int i = 0; i < 1000 && entries != 1; i++) {
		usleep(1000);
		entries = count_entries("/proc/self/task");
	}
	printf("task entries after join: %d\n", entries);
	slurp("/proc/self/status");
	printf("status Threads after join: %s\n", status_value("Threads"));
	snprintf(p, sizeof p, "/proc/self/task/%d", tids[0]);
	printf("joined thread dir: %s\n", access(p, F_OK) == 0 ? "exists" : errname(errno));
	return 0;
}
