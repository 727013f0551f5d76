/* Syscall sites of the `mov eax, NR; syscall` form, as systrap's site
 * patching rewrites them: registers and the red zone across the call,
 * threads hammering one site, fork, exec, and a signal handler that makes
 * the same call while the interrupted loop is inside it. Prints the same
 * natively and in the sandbox (with or without patching).
 * `patch_sites text` instead prints the two sites' bytes after using them
 * (a patched site reads back differently, docs/systrap-status.md), and
 * `patch_sites time N` the ns per call of N calls through one site. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

extern const unsigned char site_start[], site_threads[];

/* getppid through one fixed site `label`; checks that every register the
 * syscall ABI keeps (all but rax, rcx, r11), the flags and the red zone
 * survive the call. */
#define SITE_FN(name, label)                                                   \
    __attribute__((noinline)) static long name(int *bad) {                     \
        long ret, chk;                                                         \
        __asm__ volatile(                                                      \
            "push %%rbx\n push %%r12\n"                                        \
            "mov $0x1111, %%rdi\n mov $0x2222, %%rsi\n mov $0x3333, %%rdx\n"   \
            "mov $0x4444, %%r10\n mov $0x5555, %%r8\n mov $0x6666, %%r9\n"     \
            "mov $0x7777, %%rbx\n mov $0x8888, %%r12\n"                        \
            "movq $0x1234, -8(%%rsp)\n movq $0x5678, -128(%%rsp)\n"            \
            "stc\n"                                                            \
            ".globl " #label "\n" #label ":\n"                                 \
            "mov $110, %%eax\n syscall\n"                                      \
            "setc %%cl\n movzbl %%cl, %%ecx\n xor $1, %%ecx\n"                 \
            "xor %%r11d, %%r11d\n"                                             \
            "cmpq $0x1234, -8(%%rsp)\n setne %%r11b\n or %%r11, %%rcx\n"       \
            "cmpq $0x5678, -128(%%rsp)\n setne %%r11b\n or %%r11, %%rcx\n"     \
            "cmp $0x1111, %%rdi\n setne %%r11b\n or %%r11, %%rcx\n"            \
            "cmp $0x2222, %%rsi\n setne %%r11b\n or %%r11, %%rcx\n"            \
            "cmp $0x3333, %%rdx\n setne %%r11b\n or %%r11, %%rcx\n"            \
            "cmp $0x4444, %%r10\n setne %%r11b\n or %%r11, %%rcx\n"            \
            "cmp $0x5555, %%r8\n setne %%r11b\n or %%r11, %%rcx\n"             \
            "cmp $0x6666, %%r9\n setne %%r11b\n or %%r11, %%rcx\n"             \
            "cmp $0x7777, %%rbx\n setne %%r11b\n or %%r11, %%rcx\n"            \
            "cmp $0x8888, %%r12\n setne %%r11b\n or %%r11, %%rcx\n"            \
            "mov %%rcx, %%rdx\n pop %%r12\n pop %%rbx\n"                       \
            : "=a"(ret), "=d"(chk)                                             \
            :                                                                  \
            : "rdi", "rsi", "r8", "r9", "r10", "rcx", "r11", "memory", "cc");  \
        if (chk)                                                               \
            *bad += 1;                                                         \
        return ret;                                                            \
    }

SITE_FN(site_getppid, site_start)
SITE_FN(site2_getppid, site_threads)

static long want_ppid;
static volatile sig_atomic_t in_handler_calls, handler_bad;

static void on_alarm(int sig) {
    int bad = 0;
    (void)sig;
    /* The same site and a glibc one, while the loop below may be in it. */
    if (site_getppid(&bad) != want_ppid || bad || getppid() != want_ppid)
        handler_bad = 1;
    in_handler_calls++;
}

struct arg { int n; int bad; };

static void *hammer(void *p) {
    struct arg *a = p;
    /* site_start was patched before: its thunk runs while site_threads is
     * being patched (the patch area must stay executable meanwhile). */
    for (int i = 0; i < a->n; i++)
        if (site2_getppid(&a->bad) != want_ppid || site_getppid(&a->bad) != want_ppid)
            a->bad++;
    return NULL;
}

static int loop(int n) {
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (site_getppid(&bad) != want_ppid)
            bad++;
    return bad;
}

int main(int argc, char **argv) {
    want_ppid = getppid();
    if (argc > 1 && strcmp(argv[1], "text") == 0) {
        int bad = 0;
        loop(200);
        for (int i = 0; i < 200; i++)
            site2_getppid(&bad);
        for (int i = 0; i < 7; i++)
            printf("%02x", site_start[i]);
        printf(" ");
        for (int i = 0; i < 7; i++)
            printf("%02x", site_threads[i]);
        printf(" bad %d\n", bad + loop(10));
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "time") == 0) {
        /* ns per call through the site (the measurement test prints it). */
        int n = atoi(argv[2]), bad = 0;
        struct timespec a, b;
        loop(100);
        clock_gettime(CLOCK_MONOTONIC, &a);
        bad = loop(n);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.0f %d\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n, bad);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        printf("exec: bad %d\n", loop(5000));
        return 0;
    }

    printf("loop: bad %d\n", loop(20000));

    /* Threads on one site from its first call on, so while it is patched. */
    pthread_t t[4];
    struct arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].n = 5000;
        a[i].bad = 0;
        pthread_create(&t[i], NULL, hammer, &a[i]);
    }
    int tbad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        tbad += a[i].bad;
    }
    printf("threads: bad %d\n", tbad);

    /* A fork child uses the (patched) site with its own parent. */
    fflush(stdout);
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        int bad = 0;
        for (int i = 0; i < 2000; i++)
            if (site_getppid(&bad) != me)
                bad++;
        printf("child: bad %d\n", bad);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child status %d, parent again: bad %d\n", WEXITSTATUS(st), loop(1000));

    /* Signals arriving while the loop is inside the site's call. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 500}, {0, 500}};
    setitimer(ITIMER_REAL, &it, NULL);
    int sbad = 0;
    for (int i = 0; i < 200 && in_handler_calls < 20; i++)
        sbad += loop(500);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("signals: handler ran %s, bad %d, handler bad %d\n", in_handler_calls > 0 ? "yes" : "no", sbad,
           (int)handler_bad);

    /* A new image of the same program. */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
        _exit(127);
    }
    waitpid(c, &st, 0);
    printf("exec child status %d\n", WEXITSTATUS(st));
    return 0;
}
