/* The systrap handler's exec site: the one `syscall` instruction from which
 * the filter lets positional reads and file maps run on the host, on the fd
 * numbers where the sentry installs files the app has open (1002-1017). An
 * app can jump there itself. This program does, as an unprivileged user
 * holding a read-only open of a root-owned read-only tmpfs file that the
 * sentry has installed (by a map of it), and tries to get write access:
 * a shared writable map of every installed number, a write through it, and
 * mprotect of a read-only shared map; then the same reads and maps, and a
 * recvmsg on the sentry's injection socket, through the stub's batch
 * runner, whose site the filter treats as the exec site. On ptrace both
 * sites are ordinary trapped calls (the sandbox has no fd 1002: EBADF). */
#include <sys/mman.h>
#include <sys/socket.h>
#include "escape.h"
#include "exec_site.h"

#define FIRST_SLOT 1002
#define SLOTS 16

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	const char *path = "/dev/shm/root-only";
	int w = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0444);
	if (w < 0 || write(w, "ORIGINAL", 8) != 8 || close(w) != 0) {
		printf("setup: %s\n", errname(errno));
		return 1;
	}
	if (setgid(65534) != 0 || setuid(65534) != 0) {
		printf("setup: setuid %s\n", errname(errno));
		return 1;
	}
	int fd = open(path, O_RDWR);
	attempt_result("open for writing as nobody", "%s", fd < 0 ? errname(errno) : "OPENED (LEAK)");
	fd = open(path, O_RDONLY);
	char *ro = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (fd < 0 || ro == MAP_FAILED) {
		printf("setup: read-only map %s\n", errname(errno));
		return 1;
	}
	/* Which numbers hold the file (readable through the site, as the app may). */
	int readable = 0, mapped = 0;
	char buf[9] = {0};
	for (int n = FIRST_SLOT; n < FIRST_SLOT + SLOTS; n++)
		if (site_call(SYS_pread64, n, (long)buf, 8, 0, 0, 0) == 8 && memcmp(buf, "ORIGINAL", 8) == 0)
			readable++;
	attempt_result("read the installed file through the exec site", "%s",
		       readable > 0 ? "read (the file is installed)" : "nothing installed");
	for (int n = FIRST_SLOT; n < FIRST_SLOT + SLOTS; n++) {
		long p = site_call(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, n, 0);
		if (p >= 0 || p < -4095) {
			memcpy((char *)p, "LEAKLEAK", 8);
			mapped++;
		}
	}
	attempt_result("writable shared map through the exec site", "%s", mapped ? "MAPPED (LEAK)" : "refused");
	long r = site_call(SYS_mprotect, (long)ro, 4096, PROT_READ | PROT_WRITE, 0, 0, 0);
	attempt_result("mprotect the read-only shared map writable", "%s", r == 0 ? "WRITABLE (LEAK)" : errname(-r));
	/* The stub's batch runner, whose site the filter treats as the exec
	 * site's twin: the same reads, the same refusals, and the shared
	 * injection socket (1001) out of reach. */
	int batch_read = 0, batch_mapped = 0;
	for (int n = FIRST_SLOT; n < FIRST_SLOT + SLOTS; n++) {
		memset(buf, 0, sizeof(buf));
		if (batch_call(SYS_pread64, n, (long)buf, 8, 0, 0, 0) == 8 && memcmp(buf, "ORIGINAL", 8) == 0)
			batch_read++;
		long p = batch_call(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, n, 0);
		if (p >= 0 || p < -4095) {
			memcpy((char *)p, "LEAKLEAK", 8);
			batch_mapped++;
		}
	}
	attempt_result("read the installed file through the batch runner", "%s",
		       batch_read > 0 ? "read (the file is installed)" : "nothing installed");
	attempt_result("writable shared map through the batch runner", "%s", batch_mapped ? "MAPPED (LEAK)" : "refused");
	char data[64];
	char control[256];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
	r = batch_call(SYS_recvmsg, 1001, (long)&msg, MSG_DONTWAIT, 0, 0, 0);
	attempt_result("recvmsg on the injection socket through the batch runner", "%s",
		       r >= 0 ? "RECEIVED (LEAK)" : errname(-r));
	int again = open(path, O_RDONLY);
	ssize_t got = again < 0 ? -1 : read(again, buf, 8);
	buf[got > 0 ? got : 0] = 0;
	attempt_result("file content after the attacks", "[%s]", buf);
	finish();
	return 0;
}
