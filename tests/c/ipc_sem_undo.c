/* SEM_UNDO applied when a process exits: a blocked semop (a decrement, and
 * a wait-for-zero) woken by the exit of the process holding the
 * adjustment, several adjustments on several semaphores undone together,
 * sempid set to the exiting process, clamping at zero, and SETVAL
 * clearing adjustments. */
#include "common.h"
#include <sys/ipc.h>
#include <sys/sem.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int sync_pipe[2], go_pipe[2];

/* A child that runs `ops` with SEM_UNDO, reports, and exits `ms` after
 * the parent's go (see `go`). */
static pid_t holder(int s, struct sembuf *ops, int n, int ms)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (semop(s, ops, n) < 0)
			_exit(3);
		if (write(sync_pipe[1], "k", 1) != 1)
			_exit(4);
		char c;
		if (read(go_pipe[0], &c, 1) != 1)
			_exit(5);
		usleep(ms * 1000);
		_exit(0);
	}
	char c;
	if (read(sync_pipe[0], &c, 1) != 1)
		die("sync");
	return pid;
}

/* Lets the holder exit. */
static void go(void)
{
	if (write(go_pipe[1], "g", 1) != 1)
		die("go");
}

static void reap(const char *label, pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	printf("%s: exit=%d\n", label, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void vals(const char *label, int s)
{
	printf("%s: %d %d\n", label, semctl(s, 0, GETVAL), semctl(s, 1, GETVAL));
}

int main(void)
{
	if (pipe(sync_pipe) < 0 || pipe(go_pipe) < 0)
		die("pipe");
	int s = CHECK(semget(IPC_PRIVATE, 2, IPC_CREAT | 0600));
	union semun u;

	/* A decrement that blocks until the holder exits. */
	u.val = 1;
	CHECK(semctl(s, 0, SETVAL, u));
	struct sembuf take = {0, -1, SEM_UNDO};
	pid_t pid = holder(s, &take, 1, 100);
	vals("held", s);
	go();
	struct sembuf plain = {0, -1, 0};
	CHECK(semop(s, &plain, 1));
	vals("taken after exit", s);
	reap("holder 1", pid);

	/* Waiting for zero until the holder's +1 is undone. */
	u.val = 0;
	CHECK(semctl(s, 0, SETVAL, u));
	struct sembuf up = {0, 1, SEM_UNDO};
	pid = holder(s, &up, 1, 100);
	vals("raised", s);
	go();
	struct sembuf zero = {0, 0, 0};
	CHECK(semop(s, &zero, 1));
	vals("zero after exit", s);
	reap("holder 2", pid);

	/* Several adjustments, undone together; sempid is the exiting process. */
	u.val = 3;
	CHECK(semctl(s, 0, SETVAL, u));
	CHECK(semctl(s, 1, SETVAL, u));
	struct sembuf many[3] = {{0, 2, SEM_UNDO}, {1, -1, SEM_UNDO}, {1, -1, SEM_UNDO}};
	pid = holder(s, many, 3, 0);
	vals("adjusted", s);
	go();
	reap("holder 3", pid);
	vals("after exit", s);
	printf("sempid is holder: %d %d\n", semctl(s, 0, GETPID) == pid, semctl(s, 1, GETPID) == pid);

	/* An undo that would go negative stops at zero. */
	u.val = 0;
	CHECK(semctl(s, 0, SETVAL, u));
	struct sembuf five = {0, 5, SEM_UNDO};
	pid = holder(s, &five, 1, 50);
	struct sembuf four = {0, -4, 0};
	CHECK(semop(s, &four, 1));
	go();
	reap("holder 4", pid);
	vals("clamped", s);

	/* SETVAL clears the adjustment: the exit changes nothing. */
	u.val = 0;
	CHECK(semctl(s, 1, SETVAL, u));
	struct sembuf two = {1, 2, SEM_UNDO};
	pid = holder(s, &two, 1, 50);
	u.val = 7;
	CHECK(semctl(s, 1, SETVAL, u));
	go();
	reap("holder 5", pid);
	vals("setval kept", s);

	CHECK(semctl(s, 0, IPC_RMID));
	return 0;
}
