/* execve: /bin/true, errors, scripts, close-on-exec, signal state. */
#include "common.h"

static void run(const char *label, const char *path, char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		char *envp[] = {"RVISOR_TEST_VAR=hello", "PATH=/usr/bin:/bin", NULL};
		execve(path, argv, envp);
		printf("%s: execve %s\n", label, errname(errno));
		_exit(127);
	}
	wait_child(label, pid);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static int exec_child(int argc, char **argv)
{
	if (!strcmp(argv[1], "fds")) {
		int a = atoi(argv[2]), b = atoi(argv[3]);
		printf("after exec: cloexec fd %s, plain fd %s\n",
		       fcntl(a, F_GETFD) < 0 ? errname(errno) : "open",
		       fcntl(b, F_GETFD) < 0 ? errname(errno) : "open");
		return 0;
	}
	if (!strcmp(argv[1], "signals")) {
		struct sigaction sa;
		sigaction(SIGUSR1, NULL, &sa);
		printf("after exec: SIGUSR1 handler is %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
		sigaction(SIGUSR2, NULL, &sa);
		printf("after exec: SIGUSR2 handler is %s\n", sa.sa_handler == SIG_IGN ? "SIG_IGN" : "other");
		sigset_t m;
		sigprocmask(SIG_BLOCK, NULL, &m);
		printf("after exec: SIGTERM blocked=%d\n", sigismember(&m, SIGTERM));
		printf("after exec: pid preserved=%d\n", getpid() == atoi(argv[2]));
		return 0;
	}
	if (!strcmp(argv[1], "env")) {
		const char *v = getenv("RVISOR_TEST_VAR");
		printf("after exec: env %s argc=%d\n", v ? v : "(unset)", argc);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "env") == 0))
		return exec_child(argc, argv);

	char *t[] = {"true", NULL};
	run("/bin/true", "/bin/true", t);
	char *f[] = {"false", NULL};
	run("/bin/false", "/bin/false", f);
	run("nonexistent", "/nonexistent/prog", t);
	run("directory", "/", t);
	run("relative dir", ".", t);
	run("empty path", "", t);

	CHECK(write_file("noexec", "#!/bin/sh\nexit 3\n"));
	run("not executable", "./noexec", t);
	CHECK(write_file("garbage", "this is not an executable\n"));
	CHECK(chmod("garbage", 0755));
	run("garbage", "./garbage", t);
	CHECK(write_file("script", "#!/bin/sh\nexit 5\n"));
	CHECK(chmod("script", 0755));
	run("script", "./script", t);
	CHECK(write_file("script2", "#!/bin/sh -e\necho \"script args: $0 $1 $RVISOR_TEST_VAR\"\n"));
	CHECK(chmod("script2", 0755));
	char *sa[] = {"script2", "arg1", NULL};
	run("script with args", "./script2", sa);
	CHECK(write_file("badinterp", "#!/nonexistent/interp\n"));
	CHECK(chmod("badinterp", 0755));
	run("missing interpreter", "./badinterp", t);
	CHECK(write_file("empty", ""));
	CHECK(chmod("empty", 0755));
	run("empty file", "./empty", t);
	CHECK(mkdir("d", 0755));
	run("file under file", "./script/x", t);
	CHECK(symlink("script", "sl"));
	run("via symlink", "./sl", t);

	/* Environment and argv reach the new image. */
	char *ea[] = {argv[0], "env", NULL};
	run("self env", "/proc/self/exe", ea);

	/* Close-on-exec. */
	int a = open("script", O_RDONLY | O_CLOEXEC);
	int b = open("script", O_RDONLY);
	char as[16], bs[16];
	snprintf(as, sizeof as, "%d", a);
	snprintf(bs, sizeof bs, "%d", b);
	char *fa[] = {argv[0], "fds", as, bs, NULL};
	run("self fds", "/proc/self/exe", fa);

	/* Handlers reset, ignored stays ignored, mask kept, same pid. */
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGUSR1, on_usr1);
		signal(SIGUSR2, SIG_IGN);
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGTERM);
		sigprocmask(SIG_BLOCK, &m, NULL);
		char ps[16];
		snprintf(ps, sizeof ps, "%d", getpid());
		char *args[] = {argv[0], "signals", ps, NULL};
		execv("/proc/self/exe", args);
		_exit(127);
	}
	wait_child("self signals", pid);

	/* execvp searches PATH. */
	pid = fork();
	if (pid == 0) {
		setenv("PATH", "/nonexistent:/bin:/usr/bin", 1);
		execlp("true", "true", NULL);
		_exit(127);
	}
	wait_child("execlp true", pid);

	/* Plain execve replacing this process last. */
	fflush(stdout);
	execve("/bin/true", t, NULL);
	printf("not reached: %s\n", errname(errno));
	return 1;
}
