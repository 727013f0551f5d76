/* pty line discipline: canonical editing (VERASE, VKILL, VWERASE, VEOF,
 * VEOL), echo as the master sees it (ECHOE/ECHOK/ECHOCTL/ECHONL), input
 * mapping (ICRNL, IGNCR, INLCR), output processing (OPOST/ONLCR), FIONREAD,
 * TCFLSH, termios on either end, and raw mode from cfmakeraw. */
#include "pty_util.h"

static int m, s;

static void slave_reads(const char *label)
{
	char buf[256];
	long n = read(s, buf, sizeof buf);
	if (n < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		print_bytes(label, buf, n);
}

static void tweak(tcflag_t iset, tcflag_t iclr, tcflag_t lset, tcflag_t lclr, tcflag_t oset, tcflag_t oclr)
{
	struct termios t;
	if (tcgetattr(s, &t) < 0)
		die("tcgetattr");
	t.c_iflag = (t.c_iflag | iset) & ~iclr;
	t.c_lflag = (t.c_lflag | lset) & ~lclr;
	t.c_oflag = (t.c_oflag | oset) & ~oclr;
	if (tcsetattr(s, TCSANOW, &t) < 0)
		die("tcsetattr");
}

int main(void)
{
	char name[64];
	open_pair(&m, &s, name, sizeof name);
	struct termios t0, tm;
	CHECK(tcgetattr(s, &t0));
	CHECK(tcgetattr(m, &tm));
	printf("defaults: iflag=%o oflag=%o lflag=%o cflag=%o\n", t0.c_iflag, t0.c_oflag, t0.c_lflag, t0.c_cflag);
	printf("cc: intr=%d quit=%d erase=%d kill=%d eof=%d min=%d time=%d susp=%d werase=%d\n", t0.c_cc[VINTR],
	       t0.c_cc[VQUIT], t0.c_cc[VERASE], t0.c_cc[VKILL], t0.c_cc[VEOF], t0.c_cc[VMIN], t0.c_cc[VTIME],
	       t0.c_cc[VSUSP], t0.c_cc[VWERASE]);
	printf("master sees the slave's termios: %d\n", t0.c_iflag == tm.c_iflag && t0.c_oflag == tm.c_oflag &&
							     t0.c_lflag == tm.c_lflag && !memcmp(t0.c_cc, tm.c_cc, NCCS));

	put(m, "abc\x7f"
	       "d\r");
	show_drain("echo erase", m, 9);
	slave_reads("line");
	put(m, "xyz\x15ok\n");
	show_drain("echo kill", m, 15);
	slave_reads("line");
	put(m, "one two\x17three\n");
	show_drain("echo werase", m, 19);
	slave_reads("line");
	put(m, "x\ty\x7f\x7f\x02\x7f\n");
	show_drain("echo tab and ctl erase", m, 21);
	slave_reads("line");
	put(m, "\x01z\n");
	show_drain("echo ctl", m, 5);
	slave_reads("line");
	put(m, "tail\x04");
	show_drain("echo eof", m, 4);
	slave_reads("eof-ended line");
	put(m, "\x04");
	slave_reads("eof alone");
	put(m, "two\nlines\n");
	show_drain("echo two lines", m, 12);
	char small[3];
	long n = read(s, small, 2);
	print_bytes("short read", small, n);
	slave_reads("rest of line");
	slave_reads("next line");

	/* FIONREAD counts complete lines only. */
	int cnt = -1;
	put(m, "part");
	show_drain("echo part", m, 4);
	CHECK(ioctl(s, FIONREAD, &cnt));
	printf("FIONREAD partial: %d\n", cnt);
	printf("slave poll partial: %x\n", poll_one(s, POLLIN, 50));
	put(m, "\n");
	show_drain("echo nl", m, 2);
	CHECK(ioctl(s, FIONREAD, &cnt));
	printf("FIONREAD line: %d\n", cnt);
	printf("slave poll line: %x\n", poll_one(s, POLLIN, 1000));
	CHECK(tcflush(s, TCIFLUSH));
	CHECK(ioctl(s, FIONREAD, &cnt));
	printf("FIONREAD flushed: %d\n", cnt);

	/* VEOL ends a line too. */
	struct termios t = t0;
	t.c_cc[VEOL] = ';';
	CHECK(tcsetattr(m, TCSANOW, &t));
	put(m, "semi;");
	show_drain("echo eol", m, 5);
	slave_reads("eol line");
	CHECK(tcsetattr(s, TCSANOW, &t0));

	/* Output: ONLCR, then OPOST off. */
	put(s, "a\nb\n");
	show_drain("onlcr", m, 6);
	tweak(0, 0, 0, 0, 0, ONLCR);
	put(s, "c\n");
	show_drain("no onlcr", m, 2);
	tweak(0, 0, 0, 0, ONLCR | OCRNL, OPOST);
	put(s, "d\r\n");
	show_drain("no opost", m, 3);
	tweak(0, 0, 0, 0, OPOST, OCRNL);

	/* Input mapping. */
	tweak(IGNCR, 0, 0, 0, 0, 0);
	put(m, "ig\rn\n");
	show_drain("echo igncr", m, 5);
	slave_reads("igncr line");
	tweak(INLCR, IGNCR | ICRNL, 0, 0, 0, 0);
	put(m, "in\n\r\x04");
	show_drain("echo inlcr", m, 6);
	slave_reads("inlcr line");
	tweak(ICRNL, INLCR, 0, 0, 0, 0);

	/* No echo, but ECHONL. */
	tweak(0, 0, ECHONL, ECHO, 0, 0);
	put(m, "secret\n");
	show_drain("echonl", m, 2);
	slave_reads("secret line");
	tweak(0, 0, ECHO, ECHONL | ECHOCTL, 0, 0);
	put(m, "\x02\n");
	show_drain("no echoctl", m, 3);
	slave_reads("ctl line");
	tweak(0, 0, ECHOCTL, ECHOE, 0, 0);
	put(m, "q\x7fr\n");
	show_drain("no echoe", m, 6);
	slave_reads("line");
	CHECK(tcsetattr(s, TCSANOW, &t0));

	/* UTF-8 characters erase whole under IUTF8. */
	tweak(IUTF8, 0, 0, 0, 0, 0);
	put(m, "a\xc3\xa9\xe2\x82\xac\x7f\x7f\n");
	show_drain("echo utf8 erase", m, 14);
	slave_reads("utf8 line");
	CHECK(tcsetattr(s, TCSANOW, &t0));

	/* Raw mode. */
	struct termios raw = t0;
	cfmakeraw(&raw);
	CHECK(tcsetattr(s, TCSAFLUSH, &raw));
	put(m, "\x03\r\x7fq\x04");
	char buf[64];
	n = drain(s, buf, sizeof buf, 5);
	print_bytes("raw read", buf, n);
	printf("master poll after raw input (no echo): %x\n", poll_one(m, POLLIN, 100));
	put(s, "r\n");
	show_drain("raw output", m, 2);
	fcntl(s, F_SETFL, O_NONBLOCK);
	CHECK(read(s, buf, sizeof buf));
	fcntl(m, F_SETFL, O_NONBLOCK);
	CHECK(read(m, buf, sizeof buf));
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	CHECK(tcsetattr(s, TCSANOW, &raw));
	CHECKV(read(s, buf, sizeof buf));
	fcntl(s, F_SETFL, 0);
	raw.c_cc[VTIME] = 1;
	CHECK(tcsetattr(s, TCSANOW, &raw));
	CHECKV(read(s, buf, sizeof buf));
	return 0;
}
