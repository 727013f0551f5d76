/* Probes run inside OCI containers by tests/tests/oci*.rs (busybox has no
 * POSIX message queue, pty or thread tools). Prints one result per line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case ENOTTY: return "ENOTTY";
    default: return strerror(e);
    }
}

/* Creates queue NAME with one 5-byte message, lists /dev/mqueue, prints the
 * queue file's status, removes it through /dev/mqueue and reopens it. */
static int mq(const char *name) {
    char path[300];
    snprintf(path, sizeof path, "/%s", name);
    mqd_t q = mq_open(path, O_CREAT | O_RDWR, 0640, NULL);
    if (q == (mqd_t)-1) {
        printf("mq_open %s\n", ename(errno));
        return 1;
    }
    if (mq_send(q, "hello", 5, 1) != 0) {
        printf("mq_send %s\n", ename(errno));
        return 1;
    }
    DIR *d = opendir("/dev/mqueue");
    if (!d) {
        printf("opendir %s\n", ename(errno));
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            printf("entry %s\n", e->d_name);
    closedir(d);
    snprintf(path, sizeof path, "/dev/mqueue/%s", name);
    char buf[200] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) < 0) {
        printf("read %s\n", ename(errno));
        return 1;
    }
    close(fd);
    printf("status %.11s\n", buf);
    printf("unlink %s\n", ename(unlink(path) == 0 ? 0 : errno));
    snprintf(path, sizeof path, "/%s", name);
    printf("reopen %s\n", ename(mq_open(path, O_RDONLY) == (mqd_t)-1 ? errno : 0));
    return 0;
}

#define NTHREADS 4

static int fds[2];

/* Each thread makes calls served in different ways (an id getter, a pipe
 * write) and reports its own thread id through the pipe. */
static void *worker(void *arg) {
    long tid = syscall(SYS_gettid);
    for (int i = 0; i < 200; i++)
        if (getppid() < 0 || getpid() == tid)
            return (void *)1;
    return write(fds[1], &tid, sizeof tid) == sizeof tid ? NULL : (void *)1;
}

/* NTHREADS threads with distinct ids, joined; returns how many were. */
static int run_threads(void) {
    pthread_t t[NTHREADS];
    if (pipe(fds) != 0)
        return -1;
    int ok = 0;
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0)
            return -1;
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        ok += r == NULL;
    }
    long seen[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        if (read(fds[0], &seen[i], sizeof seen[i]) != sizeof seen[i])
            return -1;
    for (int i = 0; i < NTHREADS; i++)
        for (int j = 0; j < i; j++)
            if (seen[i] == seen[j])
                return -1;
    close(fds[0]);
    close(fds[1]);
    return ok;
}

/* Threads, then a forked child that runs threads of its own. */
static int threads(void) {
    printf("threads %d\n", run_threads());
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(run_threads() == NTHREADS ? 7 : 1);
    int st = 0;
    if (c < 0 || waitpid(c, &st, 0) != c) {
        printf("fork %s\n", ename(errno));
        return 1;
    }
    printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
    return 0;
}

static int same_node(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_rdev == b->st_rdev;
}

/* What glibc and job-control shells ask of stdin when it is a terminal:
 * its name (ttyname: the /proc/self/fd/0 link, checked against fstat),
 * that the name and the fd's link are that very node, termios, the
 * session and foreground group, and TIOCGPTN (a master-only ioctl). */
static int tty(void) {
    char *name = ttyname(0);
    printf("ttyname %s\n", name ? name : ename(errno));
    printf("isatty %d\n", isatty(0));
    char link[256] = {0};
    ssize_t n = readlink("/proc/self/fd/0", link, sizeof link - 1);
    printf("link %s\n", n > 0 ? link : ename(errno));
    struct stat fd_st, name_st, link_st;
    int ok = fstat(0, &fd_st) == 0 && name && stat(name, &name_st) == 0 && stat(link, &link_st) == 0;
    printf("same-node %d\n", ok && same_node(&fd_st, &name_st) && same_node(&fd_st, &link_st));
    printf("major %u\n", ok ? major(fd_st.st_rdev) : 0);
    /* Reopening the fd's link gives another file of the same terminal. */
    int fd = open("/proc/self/fd/0", O_RDWR | O_NOCTTY);
    struct stat re_st;
    printf("reopen %s\n", fd < 0 ? ename(errno) : fstat(fd, &re_st) == 0 && same_node(&fd_st, &re_st) ? "same" : "other");
    struct termios t;
    printf("tcgetattr %s\n", ename(tcgetattr(0, &t) == 0 ? 0 : errno));
    printf("sid-is-me %d\n", tcgetsid(0) == getpid() && getsid(0) == getpid());
    printf("fg-is-mine %d\n", tcgetpgrp(0) == getpgrp());
    unsigned ptn;
    printf("TIOCGPTN %s\n", ename(ioctl(0, TIOCGPTN, &ptn) == 0 ? 0 : errno));
    return 0;
}

static volatile sig_atomic_t winched;

static void on_winch(int sig) {
    (void)sig;
    winched = 1;
}

/* Says "ready", waits (at most 5 s) for SIGWINCH, prints the new size. */
static int winch(void) {
    signal(SIGWINCH, on_winch);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 500 && !winched; i++)
        usleep(10000);
    struct winsize w = {0};
    int r = ioctl(0, TIOCGWINSZ, &w);
    printf("winch %d %d %d %s\n", winched, w.ws_row, w.ws_col, ename(r == 0 ? 0 : errno));
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "winch"))
        return winch();
    if (argc == 2 && !strcmp(argv[1], "tty"))
        return tty();
    if (argc == 2 && !strcmp(argv[1], "threads"))
        return threads();
    if (argc == 3 && !strcmp(argv[1], "mq"))
        return mq(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "open")) {
        int fd = open(argv[2], O_RDWR | O_NOCTTY);
        printf("open %s %s\n", argv[2], ename(fd < 0 ? errno : 0));
        return 0;
    }
    fprintf(stderr, "usage: oci_probe mq NAME | open PATH | threads | tty\n");
    return 2;
}
