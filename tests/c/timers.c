/* alarm, setitimer/getitimer and POSIX timers (including a thread-directed
 * one) deliver their signals with the right siginfo. */
#include "common.h"
#include <sys/resource.h>
#include <pthread.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t got, code, on_thread;
static volatile int value;
static pid_t target_tid;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got++;
	code = si->si_code;
	value = si->si_value.sival_int;
	on_thread = syscall(SYS_gettid) == target_tid;
}

static void *worker(void *arg)
{
	(void)arg;
	target_tid = syscall(SYS_gettid);
	while (!got)
		usleep(1000);
	return NULL;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	printf("alarm(0) before: %u\n", alarm(0));
	alarm(5);
	printf("alarm remaining after re-arm: %u\n", alarm(1));
	while (!got)
		pause();
	printf("alarm: got=%d code=%d\n", (int)got, (int)code);

	struct itimerval it = {{0, 0}, {0, 50000}}, cur;
	got = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	getitimer(ITIMER_REAL, &cur);
	printf("itimer armed: %d\n", cur.it_value.tv_usec > 0 || cur.it_value.tv_sec > 0);
	while (!got)
		pause();
	printf("itimer: code=%d\n", (int)code);

	timer_t t;
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	ev.sigev_value.sival_int = 77;
	printf("timer_create: %d\n", timer_create(CLOCK_MONOTONIC, &ev, &t));
	struct itimerspec its = {{0, 0}, {0, 30000000}};
	got = 0;
	timer_settime(t, 0, &its, NULL);
	while (!got)
		pause();
	printf("posix timer: code=%d value=%d overrun=%d\n", (int)code, value, timer_getoverrun(t));
	timer_delete(t);

	pthread_t th;
	got = 0;
	target_tid = 0;
	pthread_create(&th, NULL, worker, NULL);
	while (!target_tid)
		usleep(1000);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev._sigev_un._tid = target_tid;
	ev.sigev_value.sival_int = 88;
	printf("thread timer_create: %d\n", timer_create(CLOCK_MONOTONIC, &ev, &t));
	timer_settime(t, 0, &its, NULL);
	pthread_join(th, NULL);
	printf("thread timer: value=%d on_target_thread=%d\n", value, (int)on_thread);
	ev._sigev_un._tid = 999999;
	errno = 0;
	int tr = timer_create(CLOCK_MONOTONIC, &ev, &t);
	printf("timer for a foreign tid: %d %s\n", tr, errname(errno));

	/* CPU-time clocks of this process and of a child, by pid. */
	clockid_t cid;
	struct timespec ts;
	printf("own cpu clock: %d\n", clock_getcpuclockid(getpid(), &cid) == 0 && clock_gettime(cid, &ts) == 0);
	/* The child says when its busy loop is done, so a loaded machine cannot
	 * leave it with too little CPU time to count. */
	int busy[2];
	char done;
	if (pipe(busy) != 0)
		return 1;
	pid_t c = fork();
	if (c == 0) {
		for (volatile long i = 0; i < 50000000; i++)
			;
		if (write(busy[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	if (read(busy[0], &done, 1) != 1)
		return 1;
	int ok = clock_getcpuclockid(c, &cid) == 0 && clock_gettime(cid, &ts) == 0;
	printf("child cpu clock readable: %d, advanced: %d\n", ok, ts.tv_sec > 0 || ts.tv_nsec > 1000000);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("children cpu time counted: %d\n", ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 1000);
	return 0;
}
