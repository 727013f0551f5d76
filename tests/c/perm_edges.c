/* Permission edge cases: O_CREAT on a directory, O_NOATIME by a non-owner,
 * chmod's S_ISGID dropped for a caller outside the file's group. */
#include "common.h"

static void report(const char *what, int r)
{
	printf("%s: %s\n", what, r < 0 ? errname(errno) : "ok");
}

int main(void)
{
	mkdir("pe_dir", 0755);
	report("open dir O_CREAT", open("pe_dir", O_RDONLY | O_CREAT, 0644));
	report("open . O_CREAT", open(".", O_RDONLY | O_CREAT, 0644));
	int fd = open("pe_file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	close(fd);
	report("owner O_NOATIME", fd = open("pe_file", O_RDONLY | O_NOATIME));
	close(fd);
	mkdir("pe_other", 0755);
	chown("pe_other", 1000, 2000);
	mkdir("pe_mine", 0755);
	chown("pe_mine", 1000, 1000);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(1000) || setuid(1000))
			_exit(3);
		report("non-owner O_NOATIME", open("pe_file", O_RDONLY | O_NOATIME));
		struct stat st;
		report("chmod setgid, not in group", chmod("pe_other", 02777));
		stat("pe_other", &st);
		printf("mode: %o\n", st.st_mode & 07777);
		report("chmod setgid, in group", chmod("pe_mine", 02777));
		stat("pe_mine", &st);
		printf("mode: %o\n", st.st_mode & 07777);
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	unlink("pe_file");
	rmdir("pe_dir");
	rmdir("pe_other");
	rmdir("pe_mine");
	return WEXITSTATUS(status);
}
