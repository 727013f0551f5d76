/* /proc/sysvipc/{msg,sem,shm}: the header and, for the objects this
 * program made, their rows (key, id, mode, sizes, counts, owners; pids
 * compared with ours, times only checked for being set). */
#include "common.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static void show(const char *file, int id)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/sysvipc/%s", file);
	FILE *f = fopen(path, "r");
	if (!f) { printf("%s: %s\n", file, errname(errno)); return; }
	if (fgets(line, sizeof line, f)) printf("%s header: %s", file, line);
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		long v[20];
		int n = sscanf(line, "%ld %ld %lo %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld",
			&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]);
		if (n < 2 || v[1] != id) continue;
		found = 1;
		long me = getpid();
		if (!strcmp(file, "msg"))
			printf("msg: key %lx mode %lo cbytes %ld qnum %ld lspid me %d lrpid %ld uid %ld gid %ld cuid %ld cgid %ld stime set %d ctime set %d\n",
				v[0], v[2], v[3], v[4], v[5] == me, v[6], v[7], v[8], v[9], v[10], v[11] > 0, v[13] > 0);
		else if (!strcmp(file, "sem"))
			printf("sem: key %lx mode %lo nsems %ld uid %ld gid %ld cuid %ld cgid %ld otime %ld ctime set %d\n",
				v[0], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9] > 0);
		else
			printf("shm: key %lx mode %lo size %ld cpid me %d nattch %ld uid %ld gid %ld cuid %ld cgid %ld atime set %d ctime set %d fields %d\n",
				v[0], v[2], v[3], v[4] == me, v[6], v[7], v[8], v[9], v[10], v[11] > 0, v[13] > 0, n);
	}
	if (!found) printf("%s: id not listed\n", file);
	fclose(f);
}

int main(void){
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0640);
	struct { long t; char b[8]; } m = {1, "hello"};
	msgsnd(q, &m, 6, 0);
	msgsnd(q, &m, 3, 0);
	show("msg", q);
	int s = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	show("sem", s);
	int h = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0604);
	void *a = shmat(h, NULL, 0);
	show("shm", h);
	shmdt(a);
	msgctl(q, IPC_RMID, NULL);
	semctl(s, 0, IPC_RMID);
	shmctl(h, IPC_RMID, NULL);
	show("msg", q);
	return 0;
}
