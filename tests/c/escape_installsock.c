/* systrap's install socket: each process holds a socket of its own at fd
 * 1019, on which the sentry passes the host fds it installs for a thread it
 * serves without ptrace (a file to map, the copy file); the stub's handler
 * receives them at its exec site, the only place the filter lets recvmsg
 * run, and only on that fd. An app can jump to the site itself. This
 * program does, and checks that it can take nothing but its own:
 * - the socket is there (an empty queue: EAGAIN), so the attacks have a
 *   target; a file mapped first proves the sentry passes fds (the map
 *   works, served detached);
 * - it cannot receive from the injection socket all processes share (1001);
 * - it cannot move another fd onto the socket's number;
 * - a fork child does not hold its parent's socket.
 * On ptrace the site is an ordinary trapped call and there is no socket. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "escape.h"
#include "exec_site.h"

#define INSTALL_FD 1019
#define SHARED_FD 1001

static const char *result(long r)
{
	static char buf[32];
	if (r < 0 && r > -4096)
		return errname((int)-r);
	snprintf(buf, sizeof buf, "RECEIVED fd %ld (LEAK)", r);
	return buf;
}

/* recvmsg of one byte and one fd on `fd` at the exec site. */
static long site_recv(int fd)
{
	static char byte;
	static struct iovec iov = { &byte, 1 };
	static union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	static struct msghdr msg;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	return site_call(SYS_recvmsg, fd, (long)&msg, MSG_DONTWAIT, 0, 0, 0);
}

/* A child forked with a raw clone receives on INSTALL_FD at the exec site
 * before it makes any trapped call (its first would get it a socket of its
 * own); the parent answers the handler through the shared stand-in slot. */
static const char *child_recv(void)
{
	struct shared {
		struct site_slot slot;
		uint64_t gregs[32];
	} *sh = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return "no shared page";
	static char byte;
	static struct iovec iov = { &byte, 1 };
	static char control[CMSG_SPACE(sizeof(int))];
	static struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
				     .msg_controllen = sizeof control };
	sh->gregs[13] = 12345;
	pid_t child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (child == 0) {
		site_call_at(&sh->slot, sh->gregs, SYS_recvmsg, INSTALL_FD, (long)&msg, MSG_DONTWAIT, 0, 0, 0);
		_exit(0);
	}
	/* Answer until the child is gone: giving up after a while left a child
	 * that reached the site late (a loaded machine) waiting for ever. */
	while (waitpid(child, 0, WNOHANG) == 0) {
		site_reply(&sh->slot);
		usleep(1000);
	}
	return sh->gregs[13] == 12345 ? "NO ANSWER" : result((long)sh->gregs[13]);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* A file mapped: its fd is installed, detached through the socket. */
	int fd = open(argv[0], O_RDONLY);
	char *map = fd < 0 ? MAP_FAILED : mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	int mapped = map != MAP_FAILED && memcmp(map, "\177ELF", 4) == 0;
	attempt_result("the install socket is in place", "%s %s", mapped ? "mapped" : "MAP FAILED",
		       result(site_recv(INSTALL_FD)));
	attempt_result("receive from the shared injection socket through the exec site", "%s",
		       result(site_recv(SHARED_FD)));
	long moved = site_call(SYS_dup3, SHARED_FD, INSTALL_FD, O_CLOEXEC, 0, 0, 0);
	attempt_result("move another fd onto the install socket", "%s, then %s", moved < 0 ? "refused" : "MOVED",
		       result(site_recv(INSTALL_FD)));
	attempt_result("a fork child receives on its parent's install socket", "%s", child_recv());
	finish();
	return 0;
}
