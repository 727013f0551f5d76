/* Probes run inside OCI containers by tests/tests/oci.rs (busybox has no
 * POSIX message queue or pty tools). Prints one result per line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "mq"))
        return mq(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "open")) {
        int fd = open(argv[2], O_RDWR | O_NOCTTY);
        printf("open %s %s\n", argv[2], ename(fd < 0 ? errno : 0));
        return 0;
    }
    fprintf(stderr, "usage: oci_probe mq NAME | open PATH\n");
    return 2;
}
