/* prctl: name, pdeath signal, child subreaper, dumpable, no_new_privs;
 * orphans are reparented to the subreaper, and their exit is reported there. */
#include "common.h"
#include <sys/prctl.h>

static volatile sig_atomic_t got;
static void on_sig(int sig)
{
	(void)sig;
	got++;
}

int main(void)
{
	char name[16] = {0};
	prctl(PR_SET_NAME, "rvtest-name-long-one");
	prctl(PR_GET_NAME, name);
	printf("name: %s\n", name);
	printf("dumpable: %d", prctl(PR_GET_DUMPABLE));
	prctl(PR_SET_DUMPABLE, 0);
	printf(" -> %d\n", prctl(PR_GET_DUMPABLE));
	prctl(PR_SET_DUMPABLE, 1);
	printf("no_new_privs: %d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	printf(" -> %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));

	int v = -1;
	prctl(PR_GET_CHILD_SUBREAPER, &v);
	printf("subreaper: %d", v);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_GET_CHILD_SUBREAPER, &v);
	printf(" -> %d\n", v);

	int p[2];
	pipe(p);
	pid_t me = getpid();
	pid_t mid = fork();
	if (mid == 0) {
		pid_t grand = fork();
		if (grand == 0) {
			signal(SIGUSR1, on_sig);
			prctl(PR_SET_PDEATHSIG, SIGUSR1);
			int s = -1;
			prctl(PR_GET_PDEATHSIG, &s);
			write(p[1], "r", 1);
			while (!got)
				pause();
			/* Reparented to the subreaper (our grandparent), not init. */
			char msg[64];
			int l = snprintf(msg, sizeof msg, "pdeath=%d got=%d ppid_is_reaper=%d\n", s, (int)got, getppid() == me);
			write(p[1], msg, l);
			_exit(5);
		}
		char b;
		read(p[0], &b, 1);
		_exit(0);
	}
	close(p[1]);
	int st;
	waitpid(mid, &st, 0);
	char buf[128] = {0};
	int n = read(p[0], buf, sizeof buf - 1);
	printf("grandchild: %.*s", n > 0 ? n : 0, buf);
	/* The orphan is now our child: wait reaps it. */
	pid_t w = wait(&st);
	printf("reaped orphan: %d status=%d\n", w > 0, WEXITSTATUS(st));
	errno = 0;
	w = wait(&st);
	printf("no more children: %d %s\n", w, errname(errno));
	return 0;
}
