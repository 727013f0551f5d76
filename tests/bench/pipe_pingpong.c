/* pipe_pingpong N: a parent and a forked child pass one byte back and forth
 * over two pipes N times; prints the parent's own time for the N round trips
 * (fork and the child's exit excluded). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    int ping[2], pong[2];
    if (pipe(ping) || pipe(pong)) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    char c = 'x';
    if (pid == 0) {
        for (long i = 0; i < n; i++) {
            if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    /* One untimed round trip: the child is running and both sides are warm. */
    if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
        fprintf(stderr, "pipe_pingpong: first round trip failed\n");
        return 1;
    }
    long long t0 = now_ns();
    for (long i = 1; i < n; i++) {
        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
            fprintf(stderr, "pipe_pingpong: round trip %ld failed\n", i);
            return 1;
        }
    }
    long long t1 = now_ns();
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "pipe_pingpong: the child failed\n");
        return 1;
    }
    printf("BENCH ops=%ld ns=%lld bytes=0\n", n - 1, t1 - t0);
    return 0;
}
