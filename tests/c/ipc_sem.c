/* System V semaphores: semget sizes, SETVAL/GETVAL/SETALL/GETALL, atomic
 * multi-op semop, IPC_NOWAIT EAGAIN, semtimedop timeout, ERANGE, EFBIG,
 * E2BIG, blocking wait woken by a child, SEM_UNDO on exit, EIDRM. */
#include "common.h"
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void show(int s, int n)
{
	printf("vals:");
	for (int i = 0; i < n; i++)
		printf(" %d", semctl(s, i, GETVAL));
	printf("\n");
}

int main(void)
{
	key_t key = 0x53560000 + (getpid() & 0xffff);
	CHECK(semget(key, 3, 0600));
	CHECK(semget(key, 0, IPC_CREAT | 0600));
	CHECK(semget(key, -1, IPC_CREAT | 0600));
	int s = CHECK(semget(key, 3, IPC_CREAT | IPC_EXCL | 0600));
	printf("lookup smaller: %d\n", semget(key, 2, 0) == s);
	CHECK(semget(key, 4, 0));
	CHECK(semget(key, 0, 0));
	show(s, 3);

	union semun u = {.val = 5};
	CHECK(semctl(s, 0, SETVAL, u));
	u.val = 40000;
	CHECK(semctl(s, 1, SETVAL, u));
	u.val = -1;
	CHECK(semctl(s, 1, SETVAL, u));
	CHECK(semctl(s, 7, GETVAL));
	unsigned short all[3] = {1, 2, 3}, got[3];
	u.array = all;
	CHECK(semctl(s, 0, SETALL, u));
	u.array = got;
	CHECK(semctl(s, 0, GETALL, u));
	printf("getall: %d %d %d\n", got[0], got[1], got[2]);
	printf("getpid ok: %d\n", semctl(s, 0, GETPID) == getpid());

	struct sembuf ops[2] = {{0, -1, 0}, {1, -5, IPC_NOWAIT}};
	CHECK(semop(s, ops, 2));
	show(s, 3); /* unchanged: all or nothing */
	ops[1].sem_op = -2;
	CHECK(semop(s, ops, 2));
	show(s, 3);
	struct sembuf z = {1, 0, IPC_NOWAIT};
	CHECK(semop(s, &z, 1));
	z.sem_num = 2;
	CHECK(semop(s, &z, 1));
	struct sembuf big = {2, 32767, 0};
	CHECK(semop(s, &big, 1));
	struct sembuf efbig = {3, 1, 0};
	CHECK(semop(s, &efbig, 1));
	CHECK(semop(s, ops, 0));
	static struct sembuf many[501];
	CHECK(semop(s, many, 501));
	CHECK(semop(s, (void *)8, 1));

	struct timespec ts = {0, 30 * 1000 * 1000};
	struct sembuf dec = {0, -1, 0};
	CHECK(semtimedop(s, &dec, 1, &ts));
	ts.tv_nsec = 2000000000L;
	CHECK(semtimedop(s, &dec, 1, &ts));

	/* Blocked decrement woken by a child's increment; GETNCNT meanwhile. */
	pid_t pid = fork();
	if (pid == 0) {
		/* Wait (bounded) until the parent is blocked, whatever the load. */
		for (int i = 0; i < 500 && semctl(s, 0, GETNCNT) != 1; i++)
			usleep(10 * 1000);
		printf("child sees ncnt: %d\n", semctl(s, 0, GETNCNT));
		struct sembuf inc = {0, 1, 0};
		semop(s, &inc, 1);
		_exit(0);
	}
	CHECK(semop(s, &dec, 1));
	wait_child("incrementer", pid);
	show(s, 3);

	/* SEM_UNDO: a child takes the semaphore and exits holding it. */
	u.val = 1;
	CHECK(semctl(s, 0, SETVAL, u));
	pid = fork();
	if (pid == 0) {
		struct sembuf take = {0, -1, SEM_UNDO};
		semop(s, &take, 1);
		printf("child took: %d\n", semctl(s, 0, GETVAL));
		_exit(0);
	}
	wait_child("undo child", pid);
	CHECK(semop(s, &dec, 1));
	printf("after undo and take: %d\n", semctl(s, 0, GETVAL));

	struct semid_ds ds;
	u.buf = &ds;
	CHECK(semctl(s, 0, IPC_STAT, u));
	printf("nsems=%lu mode=%o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
	ds.sem_perm.mode = 0640;
	CHECK(semctl(s, 0, IPC_SET, u));
	CHECK(semctl(s, 0, IPC_STAT, u));
	printf("mode after set=%o\n", ds.sem_perm.mode & 0777);

	/* A blocked waiter sees EIDRM. */
	pid = fork();
	if (pid == 0) {
		struct sembuf w = {0, -1, 0};
		int r = semop(s, &w, 1);
		printf("child semop after rmid: %d %s\n", r, errname(errno));
		_exit(0);
	}
	for (int i = 0; i < 500 && semctl(s, 0, GETNCNT) != 1; i++)
		usleep(10 * 1000);
	/* Reported after the child's line: which prints first is a race. */
	int rm = semctl(s, 0, IPC_RMID);
	int rm_err = errno;
	wait_child("waiter", pid);
	printf("semctl IPC_RMID: %s\n", rm < 0 ? errname(rm_err) : "ok");
	CHECK(semop(s, &dec, 1));
	CHECK(semctl(s, 0, GETVAL));
	CHECK(semctl(s, 0, 9999));
	return 0;
}
