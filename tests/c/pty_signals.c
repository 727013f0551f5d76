/* pty controlling terminal and job-control signals: a child in its own
 * session takes the slave as its controlling terminal (TIOCSCTTY, or an
 * open without O_NOCTTY), then ^C, ^\ and ^Z typed on the master and
 * TIOCSWINSZ reach its foreground group; closing the master hangs it up
 * (SIGHUP to the session leader, EOF on reads, EIO on writes). Then
 * hang-ups in a loop: the leader's SIGHUP and SIGCONT are both pending
 * before its blocked read wakes, so its SIGHUP handler never runs alone. */
#include "pty_util.h"

static volatile sig_atomic_t got[65];

static void on_sig(int sig)
{
	got[sig]++;
}

static int rep[2];

static void report(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (write(rep[1], buf, n) != n)
		_exit(3);
}

/* Waits (reading the terminal meanwhile) until `sig` has arrived. */
static void await_sig(int s, int sig)
{
	char buf[64];
	while (!got[sig]) {
		long n = read(s, buf, sizeof buf);
		if (n > 0)
			report("  unexpected input (%ld bytes)\n", n);
		if (n == 0)
			usleep(10000);
	}
}

static void child(const char *name, int use_ioctl)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTSTP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCONT, &sa, NULL);
	int pg = -1;
	report("child: setsid %s\n", setsid() == getpid() ? "ok" : errname(errno));
	int s = open(name, O_RDWR | (use_ioctl ? O_NOCTTY : 0));
	if (s < 0)
		_exit(4);
	if (ioctl(s, TIOCGPGRP, &pg) < 0)
		report("child: TIOCGPGRP before: %s\n", errname(errno));
	else
		report("child: TIOCGPGRP before is mine: %d\n", pg == getpgrp());
	if (use_ioctl) {
		report("child: TIOCSCTTY %s\n", ioctl(s, TIOCSCTTY, 0) < 0 ? errname(errno) : "ok");
		report("child: TIOCSCTTY again %s\n", ioctl(s, TIOCSCTTY, 0) < 0 ? errname(errno) : "ok");
	}
	int sid = -1;
	ioctl(s, TIOCGPGRP, &pg);
	ioctl(s, TIOCGSID, &sid);
	report("child: foreground is mine: %d, session is mine: %d\n", pg == getpgrp(), sid == getsid(0));
	int t = open("/dev/tty", O_RDWR);
	report("child: /dev/tty %s\n", t < 0 ? errname(errno) : "ok");
	if (t >= 0) {
		put(t, "via /dev/tty\n");
		close(t);
	}
	const char *tn = ttyname(s);
	report("child: ttyname is the slave: %d\n", tn && !strcmp(tn, name));
	report("ready\n");

	await_sig(s, SIGINT);
	report("child: SIGINT\n");
	await_sig(s, SIGWINCH);
	struct winsize ws;
	ioctl(s, TIOCGWINSZ, &ws);
	report("child: SIGWINCH, size %dx%d\n", ws.ws_row, ws.ws_col);
	char buf[64];
	long n;
	while ((n = read(s, buf, sizeof buf)) < 0 && errno == EINTR)
		;
	report("child: read %ld bytes: %.*s", n, (int)(n > 0 ? n : 0), buf);
	await_sig(s, SIGQUIT);
	report("child: SIGQUIT\n");
	await_sig(s, SIGTSTP);
	report("child: SIGTSTP\n");
	report("waiting for hangup\n");
	await_sig(s, SIGHUP);
	while ((n = read(s, buf, sizeof buf)) < 0 && errno == EINTR)
		;
	report("child: SIGHUP (SIGCONT too: %d); read after hangup %ld\n", got[SIGCONT] > 0, n);
	report("child: write after hangup %s\n", write(s, "x", 1) < 0 ? errname(errno) : "ok");
	int pg2;
	report("child: TIOCGPGRP after hangup %s\n", ioctl(s, TIOCGPGRP, &pg2) < 0 ? errname(errno) : "ok");
	_exit(0);
}

/* Reads child reports up to and including a line equal to `until`. */
static void relay(const char *until)
{
	char line[256];
	size_t len = 0;
	for (;;) {
		char c;
		if (read(rep[0], &c, 1) != 1) {
			printf("report pipe closed\n");
			return;
		}
		line[len++] = c;
		if (c == '\n' || len == sizeof line - 1) {
			line[len] = 0;
			printf("%s", line);
			if (!strncmp(line, until, strlen(until)))
				return;
			len = 0;
		}
	}
}

static void scenario(int use_ioctl)
{
	int m, s;
	char name[64];
	open_pair(&m, &s, name, sizeof name);
	close(s);
	printf("-- %s\n", use_ioctl ? "TIOCSCTTY" : "open without O_NOCTTY");
	pipe(rep);
	pid_t pid = fork();
	if (pid == 0) {
		close(rep[0]);
		close(m);
		child(name, use_ioctl);
	}
	close(rep[1]);
	relay("ready");
	show_drain("master: /dev/tty output", m, 14);
	int pg = -1, sid = -1;
	CHECK(ioctl(m, TIOCGPGRP, &pg));
	CHECK(ioctl(m, TIOCGSID, &sid));
	printf("master: foreground is the child: %d, session is the child's: %d\n", pg == pid, sid == pid);
	CHECK(ioctl(m, TIOCSPGRP, &pg));
	put(m, "\x03");
	show_drain("master: echo", m, 2);
	relay("child: SIGINT");
	struct winsize ws = { 24, 80, 0, 0 };
	CHECK(ioctl(m, TIOCSWINSZ, &ws));
	relay("child: SIGWINCH");
	put(m, "hello\n");
	show_drain("master: echo", m, 7);
	relay("child: read");
	put(m, "\x1c");
	show_drain("master: echo", m, 2);
	relay("child: SIGQUIT");
	put(m, "\x1a");
	show_drain("master: echo", m, 2);
	relay("child: SIGTSTP");
	relay("waiting for hangup");
	close(m);
	relay("child: TIOCGPGRP after hangup");
	int st;
	waitpid(pid, &st, 0);
	printf("child exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	close(rep[0]);
}

/* One hang-up of a session leader blocked in a read of its controlling
 * terminal: 1 if SIGCONT had arrived by the time the read returned. */
static int hangup_round(void)
{
	int m, s;
	char name[64];
	open_pair(&m, &s, name, sizeof name);
	close(s);
	int sync[2], res[2];
	if (pipe(sync) < 0 || pipe(res) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		close(sync[0]);
		close(res[0]);
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sig;
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGCONT, &sa, NULL);
		setsid();
		int t = open(name, O_RDWR);
		if (t < 0)
			_exit(4);
		if (write(sync[1], "r", 1) != 1)
			_exit(3);
		char buf[16];
		long n;
		while ((n = read(t, buf, sizeof buf)) < 0 && errno == EINTR && !got[SIGHUP])
			;
		char r = got[SIGHUP] && got[SIGCONT] ? 'y' : got[SIGHUP] ? 'h' : 'n';
		if (write(res[1], &r, 1) != 1)
			_exit(3);
		_exit(0);
	}
	close(sync[1]);
	close(res[1]);
	char c;
	if (read(sync[0], &c, 1) != 1)
		die("child ready");
	/* Let the child block in its read before the hang-up: one still running
	 * may take SIGHUP before the hang-up raises SIGCONT, natively too. */
	for (int i = 0; i < 2000 && proc_state(pid) != 'S'; i++)
		usleep(1000);
	usleep(1000);
	close(m);
	if (read(res[0], &c, 1) != 1)
		c = '?';
	waitpid(pid, NULL, 0);
	close(sync[0]);
	close(res[0]);
	return c == 'y';
}

int main(void)
{
	/* Not our controlling terminal: no pgrp/session queries, no TIOCSPGRP. */
	int m, s, pg = getpgrp();
	char name[64];
	open_pair(&m, &s, name, sizeof name);
	CHECK(ioctl(s, TIOCGPGRP, &pg));
	CHECK(ioctl(s, TIOCGSID, &pg));
	CHECK(ioctl(s, TIOCSPGRP, &pg));
	CHECK(ioctl(s, TIOCNOTTY));
	CHECK(ioctl(m, TIOCGSID, &pg));
	CHECKV(ioctl(m, TIOCGPGRP, &pg) < 0 ? -1 : pg);
	close(m);
	close(s);
	scenario(1);
	scenario(0);
	int both = 0, rounds = 20;
	for (int i = 0; i < rounds; i++)
		both += hangup_round();
	printf("hang-ups: SIGHUP came with SIGCONT in %d of %d\n", both, rounds);
	return 0;
}
