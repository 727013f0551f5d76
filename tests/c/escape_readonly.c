/* Writes to a read-only root (rvisor do --read-only): every way to change a
 * file, a directory or metadata must fail, and the host tree stay as it was.
 * Any success prints LEAK. */
#include "escape.h"
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>

static void must_fail(const char *name, long r)
{
	attempt_result(name, "%s", r < 0 ? errname(errno) : "LEAK-succeeded");
}

static void try_open_w(const char *name, const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	if (fd >= 0) {
		ssize_t n = write(fd, "LEAK", 4);
		close(fd);
		attempt_result(name, "LEAK-opened (write %zd)", n);
		return;
	}
	attempt_result(name, "%s", errname(errno));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: escape_readonly SECRET_PATH OUTSIDE_DIR\n");
		return 2;
	}
	try_open_w("open O_WRONLY", "/inside.txt", O_WRONLY);
	try_open_w("open O_RDWR", "/inside.txt", O_RDWR);
	try_open_w("open O_WRONLY|O_APPEND", "/inside.txt", O_WRONLY | O_APPEND);
	try_open_w("open O_TRUNC", "/inside.txt", O_RDONLY | O_TRUNC);
	try_open_w("open O_CREAT new file", "/newfile", O_WRONLY | O_CREAT);
	try_open_w("creat in /tmp", "/tmp/newfile", O_WRONLY | O_CREAT | O_EXCL);
	try_open_w("O_TMPFILE in /", "/", O_TMPFILE | O_RDWR);
	try_open_w("write through the hard link", "/inside_hardlink", O_WRONLY);
	must_fail("truncate", truncate("/inside.txt", 0));
	must_fail("unlink", unlink("/inside.txt"));
	must_fail("rename", rename("/inside.txt", "/moved"));
	must_fail("renameat2 EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, "/inside.txt", AT_FDCWD, "/inside_hardlink", 2));
	must_fail("mkdir", mkdir("/newdir", 0755));
	must_fail("rmdir", rmdir("/sub/deeper"));
	must_fail("link", link("/inside.txt", "/hardlink2"));
	must_fail("symlink", symlink("inside.txt", "/symlink2"));
	must_fail("chmod", chmod("/inside.txt", 0777));
	must_fail("chown", chown("/inside.txt", 1, 1));
	must_fail("utimensat", utimensat(AT_FDCWD, "/inside.txt", NULL, 0));
	must_fail("setxattr", setxattr("/inside.txt", "user.rvisor", "x", 1, 0));
	must_fail("removexattr", removexattr("/inside.txt", "user.rvisor"));
	must_fail("mknod fifo", mknod("/fifo", S_IFIFO | 0644, 0));
	int fd = open("/inside.txt", O_RDONLY);
	must_fail("fchmod on a read-only fd", fchmod(fd, 0777));
	must_fail("ftruncate on a read-only fd", ftruncate(fd, 0));
	must_fail("fallocate on a read-only fd", fallocate(fd, 0, 0, 4096));
	must_fail("write on a read-only fd", write(fd, "LEAK", 4));
	/* A shared mapping of a read-only open: writable directly or later. */
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	must_fail("mmap shared writable of a read-only fd", m == MAP_FAILED ? -1 : 0);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		attempt_result("mprotect a shared read-only mapping writable", "mmap %s", errname(errno));
	} else {
		long r = mprotect(m, 4096, PROT_READ | PROT_WRITE);
		if (r == 0)
			memcpy(m, "LEAK", 4);
		must_fail("mprotect a shared read-only mapping writable", r);
		munmap(m, 4096);
	}
	close(fd);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, "/sock");
	must_fail("bind a unix socket in /", bind(s, (struct sockaddr *)&a, sizeof a));
	close(s);
	/* Nothing new appeared. */
	char names[1024] = "";
	size_t off = 0;
	DIR *d = opendir("/");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			sappend(names, sizeof names, &off, "%s ", e->d_name);
	if (d)
		closedir(d);
	attempt_result("root listing afterwards", "%s", names);
	finish();
	return 0;
}
