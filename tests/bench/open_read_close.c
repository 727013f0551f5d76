/* open_read_close N FILE: N rounds of open(FILE) + read(4 KiB) + close. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: open_read_close N FILE\n");
        return 2;
    }
    long n = atol(argv[1]);
    const char *path = argv[2];
    static char buf[4096];
    long long bytes = 0;
    long long t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0) {
            perror("read");
            return 1;
        }
        bytes += r;
        close(fd);
    }
    long long t1 = now_ns();
    printf("BENCH ops=%ld ns=%lld bytes=%lld\n", n, t1 - t0, bytes);
    return 0;
}
