/* System V message queues: get/create flags, send/receive by type,
 * IPC_NOWAIT, E2BIG/MSG_NOERROR, MSG_EXCEPT, negative types, IPC_STAT/SET,
 * blocking receive woken by a child's send, EIDRM for a blocked receiver. */
#include "common.h"
#include <sys/ipc.h>
#include <sys/msg.h>

struct m {
	long mtype;
	char text[64];
};

static void snd(int q, long type, const char *s)
{
	struct m msg = {type, {0}};
	strcpy(msg.text, s);
	char label[80];
	snprintf(label, sizeof label, "msgsnd %ld '%s'", type, s);
	CHECKN(label, msgsnd(q, &msg, strlen(s) + 1, IPC_NOWAIT));
}

static void rcv(int q, long type, int flags, size_t size)
{
	struct m msg = {0, {0}};
	errno = 0;
	long n = msgrcv(q, &msg, size, type, flags | IPC_NOWAIT);
	if (n < 0)
		printf("msgrcv type=%ld: %s\n", type, errname(errno));
	else
		printf("msgrcv type=%ld: n=%ld mtype=%ld text='%.*s'\n", type, n, msg.mtype, (int)n, msg.text);
}

int main(void)
{
	key_t key = 0x52560000 + (getpid() & 0xffff);
	CHECK(msgget(key, 0600));
	int q = CHECK(msgget(key, IPC_CREAT | IPC_EXCL | 0600));
	CHECK(msgget(key, IPC_CREAT | IPC_EXCL | 0600));
	printf("same id: %d\n", msgget(key, 0) == q);
	int priv = CHECK(msgget(IPC_PRIVATE, 0600));
	printf("private differs: %d\n", priv != q);

	snd(q, 1, "one");
	snd(q, 2, "two");
	snd(q, 3, "three");
	snd(q, 1, "uno");
	struct m bad = {0, "x"};
	CHECK(msgsnd(q, &bad, 2, 0));
	CHECK(msgsnd(q, (void *)8, 2, 0));
	CHECK(msgsnd(q, &bad, 100000, 0));
	CHECK(msgsnd(12345678, &bad, 2, 0));

	struct msqid_ds ds;
	CHECK(msgctl(q, IPC_STAT, &ds));
	printf("qnum=%lu cbytes=%lu qbytes=%lu mode=%o lspid_ok=%d\n", (unsigned long)ds.msg_qnum,
	       (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_perm.mode & 0777,
	       ds.msg_lspid == getpid());

	rcv(q, 2, 0, 64);
	rcv(q, 2, 0, 64);
	rcv(q, 1, 0, 2);
	rcv(q, 1, MSG_NOERROR, 2);
	rcv(q, 1, MSG_EXCEPT, 64);
	rcv(q, -5, 0, 64);
	rcv(q, 0, 0, 64);
	rcv(q, 0, 0, 64);
	rcv(q, -1, 0, -1);

	/* A full queue: qbytes lowered. */
	ds.msg_qbytes = 10;
	CHECK(msgctl(q, IPC_SET, &ds));
	snd(q, 5, "123456789");
	snd(q, 5, "more");
	CHECK(msgctl(q, IPC_STAT, &ds));
	printf("qbytes=%lu qnum=%lu\n", (unsigned long)ds.msg_qbytes, (unsigned long)ds.msg_qnum);
	rcv(q, 5, 0, 64);

	/* A blocked receiver is woken by a child's send. */
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50 * 1000);
		struct m msg = {7, "fromchild"};
		msgsnd(q, &msg, 10, 0);
		_exit(0);
	}
	struct m got = {0, {0}};
	long n = msgrcv(q, &got, sizeof got.text, 7, 0);
	printf("blocking receive: n=%ld '%s'\n", n, got.text);
	wait_child("sender", pid);

	/* A blocked receiver sees EIDRM when the queue is removed. */
	pid = fork();
	if (pid == 0) {
		struct m msg;
		long r = msgrcv(q, &msg, sizeof msg.text, 99, 0);
		printf("child msgrcv after rmid: %ld %s\n", r, errname(errno));
		_exit(0);
	}
	/* Nothing reports a blocked receiver: give the child ample time. */
	usleep(500 * 1000);
	/* Reported after the child's line: which prints first is a race. */
	int rm = msgctl(q, IPC_RMID, NULL);
	int rm_err = errno;
	wait_child("receiver", pid);
	printf("msgctl IPC_RMID: %s\n", rm < 0 ? errname(rm_err) : "ok");
	CHECK(msgctl(q, IPC_STAT, &ds));
	CHECK(msgsnd(q, &bad, 2, IPC_NOWAIT));
	CHECK(msgget(key, 0600));
	CHECK(msgctl(priv, 1234, &ds));
	CHECK(msgctl(priv, IPC_RMID, NULL));
	return 0;
}
