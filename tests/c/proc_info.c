/* /proc global files: meminfo, cpuinfo, uptime, loadavg, version, mounts, maps. */
#include "common.h"

static int file_has(const char *path, const char *needle)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t total = 0, n;
	while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	for (ssize_t i = 0; i < total; i++)
		if (buf[i] == 0)
			buf[i] = '\n';
	return strstr(buf, needle) != NULL;
}

static void has(const char *path, const char *needle)
{
	int r = file_has(path, needle);
	if (r < 0)
		printf("%s: %s\n", path, errname(-r));
	else
		printf("%s has \"%s\": %d\n", path, needle, r);
}

int main(void)
{
	has("/proc/meminfo", "MemTotal:");
	has("/proc/meminfo", "MemFree:");
	has("/proc/cpuinfo", "processor");
	has("/proc/self/maps", "proc_info");
	has("/proc/self/maps", "[stack]");
	has("/proc/self/mounts", " / ");
	has("/proc/filesystems", "proc");
	has("/proc/version", "Linux");
	has("/proc/sys/kernel/ostype", "Linux");
	has("/proc/self/environ", "PATH=");

	/* Uptime counts from the sandbox's start, which may be under 10 ms
	 * ago here: after 30 ms it is positive in any case. */
	usleep(30000);
	FILE *f = fopen("/proc/uptime", "r");
	double up = -1, idle = -1;
	if (f) {
		printf("uptime fields: %d\n", fscanf(f, "%lf %lf", &up, &idle));
		printf("uptime positive: %d\n", up > 0);
		fclose(f);
	}
	f = fopen("/proc/loadavg", "r");
	if (f) {
		double a, b, c;
		printf("loadavg fields: %d\n", fscanf(f, "%lf %lf %lf", &a, &b, &c));
		fclose(f);
	}
	f = fopen("/proc/meminfo", "r");
	if (f) {
		char key[64];
		unsigned long long v;
		int ok = fscanf(f, "%63s %llu", key, &v);
		printf("meminfo first: %s positive=%d (%d)\n", key, v > 0, ok);
		fclose(f);
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	printf("nprocs positive: %d\n", cpus > 0);
	printf("pagesize: %ld\n", sysconf(_SC_PAGESIZE));

	/* /proc files: empty size, not writable as data. */
	struct stat st;
	stat("/proc/meminfo", &st);
	printf("meminfo: type=%s mode=%04o size=%lld\n", ftype(st.st_mode), st.st_mode & 07777, (long long)st.st_size);
	CHECK(open("/proc/meminfo", O_WRONLY));
	CHECK(open("/proc/nonexistent", O_RDONLY));
	CHECK(mkdir("/proc/newdir", 0755));
	CHECK(write_file("/proc/newfile", "x"));

	/* Reading in small pieces gives the same contents. */
	int fd = open("/proc/self/status", O_RDONLY);
	char c;
	long n1 = 0;
	while (read(fd, &c, 1) == 1)
		n1++;
	close(fd);
	printf("status read bytewise: nonempty=%d\n", n1 > 0);
	return 0;
}
