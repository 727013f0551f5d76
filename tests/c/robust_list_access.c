/* get_robust_list of another process needs ptrace read access: root may
 * read its parent's, an unprivileged process another user's may not
 * (EPERM); its own and a missing pid's. */
#include "common.h"

static void show(const char *what, pid_t pid)
{
	void *head = NULL;
	size_t len = 0;
	long r = syscall(SYS_get_robust_list, pid, &head, &len);
	printf("%s: %s", what, r < 0 ? errname(errno) : "ok");
	if (r == 0) printf(" (len %zu, head set %d)", len, head != NULL);
	printf("\n");
}

int main(void){
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		show("own", 0);
		show("parent as root", parent);
		show("missing pid", 4000000);
		if (setuid(1) != 0) _exit(1);
		show("own after setuid", 0);
		show("parent as uid 1", parent);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	return 0;
}
