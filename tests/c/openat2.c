/* openat2 and RESOLVE_* flags. */
#include "common.h"
#include <linux/openat2.h>

static long o2(int dfd, const char *path, unsigned long long flags,
	       unsigned long long resolve)
{
	struct open_how how = {.flags = flags, .mode = 0, .resolve = resolve};
	/* Linux may answer EAGAIN for ".." under RESOLVE_BENEATH/IN_ROOT when a
	 * rename or mount raced the lookup anywhere on the system; the man page
	 * says to retry. */
	long r;
	int tries = 0;
	do
		r = syscall(SYS_openat2, dfd, path, &how, sizeof how);
	while (r < 0 && errno == EAGAIN && ++tries < 1000);
	return r;
}

#define TRY(dfd, path, res)                                                    \
	do {                                                                   \
		long _fd = CHECKN(#res " " path, o2(dfd, path, O_RDONLY, res)); \
		if (_fd >= 0)                                                  \
			close(_fd);                                            \
	} while (0)

int main(void)
{
	CHECK(mkdir("root", 0755));
	CHECK(mkdir("root/sub", 0755));
	CHECK(write_file("root/file", "inside"));
	CHECK(write_file("outside", "outside"));
	CHECK(symlink("file", "root/rel"));
	CHECK(symlink("/file", "root/abs"));
	CHECK(symlink("../outside", "root/up"));
	CHECK(symlink("sub/../file", "root/dotdot"));
	CHECK(symlink("loop", "root/loop"));
	int dfd = CHECK(open("root", O_RDONLY | O_DIRECTORY));

	TRY(dfd, "file", 0);
	TRY(dfd, "sub/../file", 0);
	TRY(dfd, "../outside", 0);
	TRY(dfd, "rel", 0);
	TRY(dfd, "up", 0);
	TRY(dfd, "loop", 0);

	TRY(dfd, "file", RESOLVE_BENEATH);
	TRY(dfd, "sub/../file", RESOLVE_BENEATH);
	TRY(dfd, "../outside", RESOLVE_BENEATH);
	TRY(dfd, "up", RESOLVE_BENEATH);
	TRY(dfd, "abs", RESOLVE_BENEATH);
	TRY(dfd, "/etc", RESOLVE_BENEATH);
	TRY(dfd, "rel", RESOLVE_BENEATH);
	TRY(dfd, "dotdot", RESOLVE_BENEATH);

	TRY(dfd, "rel", RESOLVE_NO_SYMLINKS);
	TRY(dfd, "file", RESOLVE_NO_SYMLINKS);
	TRY(dfd, "sub/../file", RESOLVE_NO_SYMLINKS);

	/* RESOLVE_IN_ROOT: "/" and ".." are clamped at dirfd. */
	long fd = CHECK(o2(dfd, "abs", O_RDONLY, RESOLVE_IN_ROOT));
	if (fd >= 0) {
		char buf[32];
		ssize_t n = read(fd, buf, sizeof buf);
		print_bytes("in_root abs", buf, n);
		close(fd);
	}
	fd = CHECK(o2(dfd, "../../../file", O_RDONLY, RESOLVE_IN_ROOT));
	if (fd >= 0) {
		char buf[32];
		ssize_t n = read(fd, buf, sizeof buf);
		print_bytes("in_root ../../../file", buf, n);
		close(fd);
	}
	TRY(dfd, "up", RESOLVE_IN_ROOT);
	TRY(dfd, "/file", RESOLVE_IN_ROOT);

	/* Magic links. */
	int ffd = open("root/file", O_RDONLY);
	char mpath[64];
	snprintf(mpath, sizeof mpath, "/proc/self/fd/%d", ffd);
	fd = CHECKN("magic 0", o2(AT_FDCWD, mpath, O_RDONLY, 0));
	if (fd >= 0)
		close(fd);
	CHECKN("magic NO_MAGICLINKS",
	       o2(AT_FDCWD, mpath, O_RDONLY, RESOLVE_NO_MAGICLINKS));
	CHECKN("magic NO_SYMLINKS",
	       o2(AT_FDCWD, mpath, O_RDONLY, RESOLVE_NO_SYMLINKS));
	close(ffd);

	/* Crossing into the /proc mount. */
	int rfd = open("/", O_RDONLY | O_DIRECTORY);
	fd = CHECKN("proc 0", o2(rfd, "proc", O_RDONLY, 0));
	if (fd >= 0)
		close(fd);
	CHECKN("proc NO_XDEV", o2(rfd, "proc", O_RDONLY, RESOLVE_NO_XDEV));
	CHECKN("proc/self NO_XDEV",
	       o2(rfd, "proc/self", O_RDONLY, RESOLVE_NO_XDEV));
	close(rfd);
	TRY(dfd, "sub", RESOLVE_NO_XDEV);

	/* Argument validation. */
	struct open_how how = {.flags = O_RDONLY};
	CHECKN("size too small", syscall(SYS_openat2, dfd, "file", &how, 8));
	char big[64] = {0};
	memcpy(big, &how, sizeof how);
	fd = CHECKN("size bigger zero tail",
		    syscall(SYS_openat2, dfd, "file", big, sizeof big));
	if (fd >= 0)
		close(fd);
	big[40] = 1;
	CHECKN("size bigger nonzero tail",
	       syscall(SYS_openat2, dfd, "file", big, sizeof big));
	CHECKN("unknown resolve", o2(dfd, "file", O_RDONLY, 1ULL << 40));
	CHECKN("unknown flag", o2(dfd, "file", 1ULL << 40, 0));
	CHECKN("BENEATH|IN_ROOT",
	       o2(dfd, "file", O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
	struct open_how hm = {.flags = O_RDONLY, .mode = 0644};
	CHECKN("mode without O_CREAT",
	       syscall(SYS_openat2, dfd, "file", &hm, sizeof hm));
	struct open_how hc = {.flags = O_CREAT | O_WRONLY, .mode = 0640};
	fd = CHECKN("create", syscall(SYS_openat2, dfd, "new", &hc, sizeof hc));
	if (fd >= 0)
		close(fd);
	show_stat("root/new");
	struct open_how hb = {.flags = O_CREAT | O_WRONLY, .mode = 010000};
	CHECKN("bad mode", syscall(SYS_openat2, dfd, "new2", &hb, sizeof hb));

	/* O_CREAT keeps every restriction, for an existing file and a new one. */
	static const struct {
		const char *what, *path;
		unsigned long long resolve;
	} creat[] = {
		{"creat ../outside BENEATH", "../outside", RESOLVE_BENEATH},
		{"creat ../made BENEATH", "../made", RESOLVE_BENEATH},
		{"creat /made BENEATH", "/made", RESOLVE_BENEATH},
		{"creat up BENEATH", "up", RESOLVE_BENEATH},
		{"creat rel NO_SYMLINKS", "rel", RESOLVE_NO_SYMLINKS},
		{"creat sub/new BENEATH", "sub/new", RESOLVE_BENEATH},
		{"creat /made IN_ROOT", "/made", RESOLVE_IN_ROOT},
		{"creat ../../file IN_ROOT", "../../file", RESOLVE_IN_ROOT},
	};
	for (unsigned i = 0; i < sizeof creat / sizeof creat[0]; i++) {
		fd = CHECKN(creat[i].what, o2(dfd, creat[i].path, O_CREAT | O_RDONLY, creat[i].resolve));
		if (fd >= 0)
			close(fd);
	}
	printf("made outside root: %s\n", access("made", F_OK) == 0 ? "yes" : "no");
	printf("made in root: %s\n", access("root/made", F_OK) == 0 ? "yes" : "no");
	int rfd2 = open("/", O_RDONLY | O_DIRECTORY);
	fd = CHECKN("creat proc/version NO_XDEV", o2(rfd2, "proc/version", O_CREAT | O_RDONLY, RESOLVE_NO_XDEV));
	if (fd >= 0)
		close(fd);
	close(rfd2);
	close(dfd);
	return 0;
}
