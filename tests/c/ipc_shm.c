/* System V shared memory and MAP_SHARED across fork: shmget sizes, shmat
 * read/write, SHM_RDONLY faults on write, nattch across fork and shmdt,
 * IPC_RMID with attaches alive, memfd and anonymous MAP_SHARED seen by a
 * forked child's writes. */
#include "common.h"
#include <setjmp.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

static sigjmp_buf jb;
static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

static void nattch(const char *label, int id)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		printf("%s: nattch=%lu size=%lu mode=%o\n", label, (unsigned long)ds.shm_nattch,
		       (unsigned long)ds.shm_segsz, ds.shm_perm.mode & 01777);
}

int main(void)
{
	key_t key = 0x54560000 + (getpid() & 0xffff);
	CHECK(shmget(key, 4096, 0600));
	CHECK(shmget(key, 0, IPC_CREAT | 0600));
	int id = CHECK(shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600));
	CHECK(shmget(key, 20000, 0600));
	printf("lookup: %d\n", shmget(key, 100, 0600) == id);
	nattch("fresh", id);

	char *p = shmat(id, NULL, 0);
	printf("shmat: %s\n", p == (void *)-1 ? errname(errno) : "ok");
	printf("zero filled: %d\n", p[0] == 0 && p[9999] == 0);
	strcpy(p, "hello from parent");
	nattch("attached", id);
	CHECK((long)shmat(id, (void *)(p + 1), 0));
	CHECK((long)shmat(12345678, NULL, 0));

	pid_t pid = fork();
	if (pid == 0) {
		char *q = shmat(id, NULL, 0);
		printf("child reads: %s\n", q);
		strcpy(q + 100, "child wrote");
		nattch("child attached twice", id);
		_exit(0);
	}
	wait_child("child", pid);
	printf("parent reads child: %s\n", p + 100);
	nattch("after child exit", id);

	char *r = shmat(id, NULL, SHM_RDONLY);
	printf("rdonly reads: %s\n", r);
	signal(SIGSEGV, on_segv);
	if (sigsetjmp(jb, 1) == 0) {
		r[0] = 'X';
		printf("rdonly write: no fault\n");
	} else {
		printf("rdonly write: SIGSEGV\n");
	}
	CHECK(mprotect(r, 4096, PROT_READ | PROT_WRITE));
	nattch("two attaches", id);
	CHECK(shmdt(r));
	CHECK(shmdt(r));
	CHECK(shmdt(p + 1));
	nattch("one attach", id);

	CHECK(shmctl(id, IPC_RMID, NULL));
	nattch("removed but attached", id);
	CHECK(shmget(key, 100, 0600));
	printf("still mapped: %s\n", p);
	CHECK(shmdt(p));
	nattch("after last detach", id);

	/* memfd and anonymous MAP_SHARED across fork. */
	int mfd = CHECK(memfd_create("ipc-test", 0));
	CHECK(ftruncate(mfd, 4096));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	char *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("maps: %d %d\n", m != MAP_FAILED, a != MAP_FAILED);
	pid = fork();
	if (pid == 0) {
		strcpy(m, "memfd child");
		strcpy(a, "anon child");
		_exit(0);
	}
	wait_child("mapper", pid);
	printf("memfd: %s anon: %s\n", m, a);
	char buf[16] = {0};
	CHECK(pread(mfd, buf, 11, 0));
	printf("memfd pread: %s\n", buf);

	struct shminfo info;
	CHECK(shmctl(0, IPC_INFO, (struct shmid_ds *)&info));
	printf("shmmin=%lu\n", (unsigned long)info.shmmin);
	/* IPC_INFO's shmall is /proc/sys/kernel/shmall's value. */
	unsigned long shmall = 0;
	FILE *f = fopen("/proc/sys/kernel/shmall", "r");
	if (f && fscanf(f, "%lu", &shmall) == 1)
		printf("shmall matches /proc: %d\n", shmall == (unsigned long)info.shmall);
	if (f)
		fclose(f);
	CHECK(shmctl(0, 9999, NULL));
	return 0;
}
