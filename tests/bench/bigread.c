/* bigread FILE: reads FILE to the end in 1 MiB chunks. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bigread FILE\n");
        return 2;
    }
    char *buf = malloc(CHUNK);
    if (!buf)
        return 1;
    memset(buf, 0, CHUNK); /* fault the buffer in before timing */
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    long long bytes = 0, ops = 0;
    long long t0 = now_ns();
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0) {
            perror("read");
            return 1;
        }
        ops++;
        if (r == 0)
            break;
        bytes += r;
    }
    long long t1 = now_ns();
    close(fd);
    printf("BENCH ops=%lld ns=%lld bytes=%lld\n", ops, t1 - t0, bytes);
    return 0;
}
