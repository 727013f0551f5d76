/* pty allocation: /dev/ptmx and /dev/pts/ptmx, TIOCGPTN/TIOCSPTLCK/
 * TIOCGPTLCK/TIOCGPTPEER, grantpt/unlockpt/ptsname, openpty, ttyname, the
 * /dev/pts/N node (stat, readdir) and its removal. */
#include "pty_util.h"
#include <pty.h>
#include <sys/sysmacros.h>

static int listed(unsigned n)
{
	char want[16];
	snprintf(want, sizeof want, "%u", n);
	DIR *d = opendir("/dev/pts");
	if (!d)
		return -1;
	struct dirent *e;
	int found = 0;
	while ((e = readdir(d)))
		if (!strcmp(e->d_name, want))
			found = e->d_type == DT_CHR ? 1 : 2;
	closedir(d);
	return found;
}

static int same_file(int fd, const char *path)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return 0;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_rdev == b.st_rdev;
}

int main(void)
{
	struct stat st;
	int m = CHECK(posix_openpt(O_RDWR | O_NOCTTY));
	if (m < 0)
		return 1;
	printf("isatty(master): %d\n", isatty(m));
	CHECK(fstat(m, &st));
	printf("master: %s %u:%u\n", ftype(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
	unsigned n = 0;
	CHECK(ioctl(m, TIOCGPTN, &n));
	char want[32], name[64];
	snprintf(want, sizeof want, "/dev/pts/%u", n);
	printf("ptsname matches TIOCGPTN: %d\n", !strcmp(ptsname(m), want));
	int lk = -1;
	CHECK(ioctl(m, TIOCGPTLCK, &lk));
	printf("locked at first: %d\n", lk);
	CHECK(grantpt(m));
	CHECK(open(want, O_RDWR | O_NOCTTY));
	CHECK(unlockpt(m));
	CHECK(ioctl(m, TIOCGPTLCK, &lk));
	printf("locked after unlockpt: %d\n", lk);
	int s = CHECK(open(want, O_RDWR | O_NOCTTY));
	CHECK(stat(want, &st));
	printf("node: %s major=%u minor-is-N=%d owner-is-me=%d\n", ftype(st.st_mode), major(st.st_rdev),
	       minor(st.st_rdev) == n, st.st_uid == geteuid());
	printf("fstat(slave) is the node: %d\n", same_file(s, want));
	printf("listed in /dev/pts: %d\n", listed(n));
	printf("isatty(slave): %d\n", isatty(s));
	const char *tn = ttyname(s);
	printf("ttyname(slave) is ptsname: %d\n", tn && !strcmp(tn, want));
	unsigned sn;
	CHECK(ioctl(s, TIOCGPTN, &sn));
	CHECK(ioctl(s, TIOCSPTLCK, &lk));

	int p = CHECK(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY));
	printf("peer is the node: %d\n", same_file(p, want));
	tn = ttyname(p);
	printf("ttyname(peer) is ptsname: %d\n", tn && !strcmp(tn, want));
	int other = open("/dev/null", O_RDWR);
	CHECK(ioctl(other, TIOCGPTPEER, O_RDWR));
	put(p, "via peer\n");
	show_drain("master reads", m, 10);

	/* The second ptmx: devpts' own. */
	int m2 = CHECK(open("/dev/pts/ptmx", O_RDWR | O_NOCTTY));
	unsigned n2 = n;
	CHECK(ioctl(m2, TIOCGPTN, &n2));
	printf("second pair has another index: %d\n", n2 != n);
	close(m2);
	snprintf(name, sizeof name, "/dev/pts/%u", n2);
	printf("closed pair's node: %d\n", stat(name, &st) < 0 ? errno == ENOENT : 0);

	/* openpty(3): TIOCGPTPEER in glibc 2.36. */
	int om, os;
	char oname[64];
	CHECK(openpty(&om, &os, oname, NULL, NULL));
	tn = ttyname(os);
	printf("openpty name is ttyname: %d\n", tn && !strcmp(tn, oname));
	close(om);
	close(os);

	/* Closing the master removes the node even with slaves open. */
	close(m);
	printf("node after master close: %s\n", stat(want, &st) < 0 ? errname(errno) : "present");
	printf("listed after master close: %d\n", listed(n));
	CHECK(open(want, O_RDWR | O_NOCTTY));
	char c;
	CHECKV(read(s, &c, 1));
	CHECK(write(s, "x", 1));
	close(s);
	close(p);
	CHECK(open("/dev/pts/999999", O_RDWR));
	CHECK(open("/dev/pts/01", O_RDWR));
	return 0;
}
