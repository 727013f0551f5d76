/* A process killed while blocked in semop or msgrcv takes nothing after
 * its death: the semaphore raised and the message sent once it has been
 * reaped are still there for the next taker, and it is no longer counted
 * as a waiter. */
#include "common.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

static void wait_sleeping(pid_t p)
{
	for (int i = 0; i < 5000 && proc_state(p) != 'S'; i++) usleep(1000);
	usleep(50000);
}

int main(void){
	int sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct sembuf op = {0, -1, 0};
			semop(sem, &op, 1);
			_exit(0);
		}
		wait_sleeping(kids[i]);
	}
	printf("ncnt before kill: %d\n", semctl(sem, 0, GETNCNT));
	for (int i = 0; i < 3; i++) kill(kids[i], SIGKILL);
	for (int i = 0; i < 3; i++) waitpid(kids[i], NULL, 0);
	struct sembuf up = {0, 1, 0};
	semop(sem, &up, 1);
	usleep(100000);
	printf("value after kill and raise: %d, ncnt %d\n", semctl(sem, 0, GETVAL), semctl(sem, 0, GETNCNT));
	semctl(sem, 0, IPC_RMID);

	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	pid_t c = fork();
	if (c == 0) {
		struct { long t; char b[8]; } m;
		msgrcv(q, &m, sizeof m.b, 0, 0);
		_exit(0);
	}
	wait_sleeping(c);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	struct { long t; char b[8]; } m = {1, "hello"};
	msgsnd(q, &m, 6, 0);
	usleep(100000);
	struct msqid_ds ds;
	msgctl(q, IPC_STAT, &ds);
	printf("messages after kill and send: %lu\n", (unsigned long)ds.msg_qnum);
	msgctl(q, IPC_RMID, NULL);
	return 0;
}
