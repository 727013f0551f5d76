/* Path-based escape vectors: "..", absolute and relative symlinks, dirfds,
 * cwd tricks, links created at run time. */
#include "escape.h"
#include <linux/openat2.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: escape_paths SECRET_PATH OUTSIDE_DIR\n");
		return 2;
	}
	const char *secret = argv[1];
	char p[8192];

	try_open("direct host path", secret);
	try_open("root dotdot", "/../secret.txt");
	try_open("many root dotdots", "/../../../../../../../../secret.txt");
	chdir("/");
	try_open("relative dotdot from /", "../secret.txt");
	snprintf(p, sizeof p, "../../../../../../../..%s", secret);
	try_open("dotdots then host path", p);
	try_open("abs symlink", "/abs_link");
	try_open("abs dir symlink", "/abs_dir_link/secret.txt");
	try_open("rel symlink ../", "/rel_up");
	try_open("rel symlink deep ../../../", "/sub/deeper/up3");
	try_open("rel symlink long chain", "/rel_chain");
	try_open("dir symlink to ..", "/dotdot_link/secret.txt");
	try_open("dir symlink to ../..", "/sub/mid_link/secret.txt");
	try_open("symlink via dotdot dir link twice", "/dotdot_link/dotdot_link/secret.txt");
	try_open("symlink to host path dir via ..", "/host_rel_link");
	try_open("dir open of /..", "/..");

	int root = open("/", O_RDONLY | O_DIRECTORY);
	try_openat("openat / ..", root, "../secret.txt");
	try_openat("openat / ../..", root, "../../secret.txt");
	int up = openat(root, "..", O_PATH | O_DIRECTORY);
	try_openat("O_PATH .. then secret", up, "secret.txt");
	close(up);

	/* Walk up with chdir and with openat chains. */
	chdir("/");
	for (int i = 0; i < 30; i++)
		chdir("..");
	try_open("chdir .. x30", "secret.txt");
	int fd = open("/", O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 30; i++) {
		int n = openat(fd, "..", O_RDONLY | O_DIRECTORY);
		if (n < 0)
			break;
		close(fd);
		fd = n;
	}
	try_openat("openat .. x30", fd, "secret.txt");
	fchdir(fd);
	try_open("fchdir to that, then relative", "secret.txt");
	close(fd);
	chdir("/");

	/* openat2 without restrictions, and RESOLVE_IN_ROOT. */
	struct open_how how = {.flags = O_RDONLY};
	try_fd("openat2 / ../secret.txt", syscall(SYS_openat2, root, "../secret.txt", &how, sizeof how));
	how.resolve = RESOLVE_IN_ROOT;
	try_fd("openat2 IN_ROOT host path", syscall(SYS_openat2, root, secret, &how, sizeof how));

	/* Links created at run time. */
	mkdir("/tmp", 01777);
	unlink("/tmp/rt_abs");
	symlink(secret, "/tmp/rt_abs");
	try_open("runtime abs symlink", "/tmp/rt_abs");
	unlink("/tmp/rt_rel");
	symlink("../../../../../../secret.txt", "/tmp/rt_rel");
	try_open("runtime rel symlink", "/tmp/rt_rel");
	unlink("/tmp/rt_hl");
	if (link(secret, "/tmp/rt_hl") < 0)
		attempt_result("hard link to host path", "%s", errname(errno));
	else
		try_open("hard link to host path", "/tmp/rt_hl");
	unlink("/tmp/rt_hl2");
	if (linkat(AT_FDCWD, "/abs_link", AT_FDCWD, "/tmp/rt_hl2", AT_SYMLINK_FOLLOW) < 0)
		attempt_result("linkat follow abs symlink", "%s", errname(errno));
	else
		try_open("linkat follow abs symlink", "/tmp/rt_hl2");
	unlink("/tmp/rt_hl3");
	if (link("/rel_up", "/tmp/rt_hl3") < 0)
		attempt_result("hard link of rel symlink", "%s", errname(errno));
	else
		try_open("hard link of rel symlink", "/tmp/rt_hl3");
	try_open("hard link made in rootfs", "/inside_hardlink");

	/* Rename a directory out from under cwd, then walk up. */
	mkdir("/tmp/ra", 0755);
	mkdir("/tmp/ra/rb", 0755);
	mkdir("/tmp/ra/rb/rc", 0755);
	chdir("/tmp/ra/rb/rc");
	rename("/tmp/ra/rb", "/tmp/moved_rb");
	for (int i = 0; i < 30; i++)
		chdir("..");
	try_open("cwd renamed then ..", "secret.txt");
	chdir("/");

	/* Metadata of the host path must not be the secret's. */
	struct stat st;
	if (stat(secret, &st) < 0)
		attempt_result("stat host path", "%s", errname(errno));
	else
		attempt_result("stat host path", "size=%lld", (long long)st.st_size);
	if (lstat("/../secret.txt", &st) < 0)
		attempt_result("lstat /../secret.txt", "%s", errname(errno));
	else
		attempt_result("lstat /../secret.txt", "size=%lld", (long long)st.st_size);

	/* Renaming or linking the host path into the rootfs. */
	if (rename(secret, "/tmp/stolen") < 0)
		attempt_result("rename host path into rootfs", "%s", errname(errno));
	else
		try_open("rename host path into rootfs", "/tmp/stolen");
	if (rename("/../secret.txt", "/tmp/stolen2") < 0)
		attempt_result("rename /../secret.txt", "%s", errname(errno));
	else
		try_open("rename /../secret.txt", "/tmp/stolen2");
	finish();
	return 0;
}
