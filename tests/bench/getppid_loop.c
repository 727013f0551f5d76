/* getppid_loop N: N raw getppid syscalls; prints the loop's own elapsed time
 * so the caller can subtract process start-up. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    long long t0 = now_ns();
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    long long t1 = now_ns();
    printf("BENCH ops=%ld ns=%lld bytes=0\n", n, t1 - t0);
    return 0;
}
