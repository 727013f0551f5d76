/* getppid_loop N [libc]: N raw getppid syscalls; prints the loop's own
 * elapsed time so the caller can subtract process start-up. With "libc",
 * through glibc's getppid(), whose `mov eax, 110; syscall` site systrap's
 * syscall-site patching can rewrite (syscall(2)'s generic site it cannot). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    int libc = argc > 2 && strcmp(argv[2], "libc") == 0;
    long long t0 = now_ns();
    if (libc)
        for (long i = 0; i < n; i++)
            getppid();
    else
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
    long long t1 = now_ns();
    printf("BENCH ops=%ld ns=%lld bytes=0\n", n, t1 - t0);
    return 0;
}
