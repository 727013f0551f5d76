/* Probes run inside OCI containers by tests/tests/oci*.rs (busybox has no
 * POSIX message queue, pty or thread tools). Prints one result per line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "threads"))
        return threads();
    if (argc == 3 && !strcmp(argv[1], "mq"))
        return mq(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "open")) {
        int fd = open(argv[2], O_RDWR | O_NOCTTY);
        printf("open %s %s\n", argv[2], ename(fd < 0 ? errno : 0));
        return 0;
    }
    fprintf(stderr, "usage: oci_probe mq NAME | open PATH | threads\n");
    return 2;
}
