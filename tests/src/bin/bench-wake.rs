//! `bench-wake`: how fast a task blocked in poll/epoll_wait/read wakes when
//! another process changes the state it waits on, inside the sandbox
//! against the same natively, in one run (see "Wake-ups" in
//! docs/performance.md). A static C helper ping-pongs between a parent and
//! a forked child: each side blocks until the other signals it, then
//! answers. It times N round trips and prints `BENCH ops=N ns=T`.
//!
//! Usage: bench-wake [--rvisor PATH] [--quick] [--dir DIR]

use std::time::Duration;

use rvisor_tests::bench::{build_helper, helper_opts, load_average, median, num, run_helper};

/// Modes (argv[1]); each round trip is two wake-ups, one per side.
/// `pipe`: poll on a pipe, then read (host-fd baseline).
/// `signalfd`: poll on a signalfd for SIGUSR1 sent with kill.
/// `signalfd-epoll`: epoll_wait on that signalfd.
/// `signalfd-read`: a blocking read of the signalfd.
/// `mqueue`: poll on a POSIX message queue, woken by mq_send.
const HELPER_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *mode;
static int sfd, ep, rfd, wfd;
static mqd_t rq, wq;
static pid_t peer;

static void die(const char *w) { perror(w); exit(1); }

static void wait_turn(void) {
    char c;
    struct signalfd_siginfo si;
    if (!strcmp(mode, "pipe")) {
        struct pollfd p = {rfd, POLLIN, 0};
        if (poll(&p, 1, -1) != 1 || read(rfd, &c, 1) != 1) die("pipe");
    } else if (!strcmp(mode, "signalfd")) {
        struct pollfd p = {sfd, POLLIN, 0};
        if (poll(&p, 1, -1) != 1 || read(sfd, &si, sizeof si) != sizeof si) die("signalfd");
    } else if (!strcmp(mode, "signalfd-epoll")) {
        struct epoll_event e;
        if (epoll_wait(ep, &e, 1, -1) != 1 || read(sfd, &si, sizeof si) != sizeof si) die("epoll");
    } else if (!strcmp(mode, "signalfd-read")) {
        if (read(sfd, &si, sizeof si) != sizeof si) die("read");
    } else {
        struct pollfd p = {rq, POLLIN, 0};
        if (poll(&p, 1, -1) != 1 || mq_receive(rq, &c, 64, NULL) != 1) die("mq");
    }
}

static void give_turn(void) {
    if (!strcmp(mode, "pipe")) {
        if (write(wfd, "x", 1) != 1) die("write");
    } else if (!strncmp(mode, "signalfd", 8)) {
        if (kill(peer, SIGUSR1)) die("kill");
    } else {
        if (mq_send(wq, "x", 1, 0)) die("mq_send");
    }
}

static void setup(int child, int p1[2], int p2[2]) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sfd = signalfd(-1, &s, strcmp(mode, "signalfd-read") ? SFD_NONBLOCK : 0);
    ep = epoll_create1(0);
    struct epoll_event e = {EPOLLIN, {0}};
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
    rfd = child ? p1[0] : p2[0];
    wfd = child ? p2[1] : p1[1];
    rq = mq_open(child ? "/bw_a" : "/bw_b", O_RDONLY | O_NONBLOCK);
    wq = mq_open(child ? "/bw_b" : "/bw_a", O_WRONLY);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    mode = argv[1];
    long n = atol(argv[2]);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, NULL);
    struct mq_attr a = {.mq_maxmsg = 4, .mq_msgsize = 64};
    mq_unlink("/bw_a");
    mq_unlink("/bw_b");
    mqd_t qa = mq_open("/bw_a", O_RDWR | O_CREAT, 0600, &a), qb = mq_open("/bw_b", O_RDWR | O_CREAT, 0600, &a);
    if (qa == (mqd_t)-1 || qb == (mqd_t)-1) die("mq_open");
    int p1[2], p2[2];
    if (pipe(p1) || pipe(p2)) die("pipe");
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        peer = parent;
        setup(1, p1, p2);
        for (long i = 0; i < n; i++) {
            wait_turn();
            give_turn();
        }
        _exit(0);
    }
    peer = pid;
    setup(0, p1, p2);
    usleep(20000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        give_turn();
        wait_turn();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "child failed\n"); return 1; }
    mq_unlink("/bw_a");
    mq_unlink("/bw_b");
    printf("BENCH ops=%ld ns=%lld\n", n, (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
    return 0;
}
"#;

const USAGE: &str = "usage: bench-wake [--rvisor PATH] [--quick] [--dir DIR]\n\
         \n\
         --rvisor PATH  the rvisor binary (default: target/x86_64-unknown-linux-gnu/release/rvisor of this workspace)\n\
         --quick        one repetition and fewer round trips\n\
         --dir DIR      where to build the helper (default /tmp; uses DIR/rvisor-bench-wake/)";

fn main() {
    let opts = helper_opts(USAGE);
    let reps = if opts.quick { 1 } else { 5 };
    let trips: u64 = if opts.quick { 100 } else { 500 };
    println!("rvisor wake-up bench; rvisor: {}", opts.rvisor.display());
    println!("µs per round trip (two wake-ups), median of {reps} run(s) of {trips}, native and sandboxed alternating");
    println!("load average at the start: {}\n", load_average().unwrap_or_default());
    let helper = match build_helper(&opts.dir.join("rvisor-bench-wake"), "wake_helper", HELPER_C) {
        Ok(h) => h.to_string_lossy().into_owned(),
        Err(e) => {
            eprintln!("bench-wake: {e}");
            std::process::exit(1);
        }
    };
    let cases = [
        ("pipe, poll (host fd)", "pipe"),
        ("signalfd, poll", "signalfd"),
        ("signalfd, epoll_wait", "signalfd-epoll"),
        ("signalfd, blocking read", "signalfd-read"),
        ("mqueue, poll", "mqueue"),
    ];
    let w = 28;
    println!("{:<w$}  {:>10}  {:>10}  {:>14}", "case", "native µs", "rvisor µs", "rvisor/native");
    println!("{}", "-".repeat(w + 40));
    for (label, mode) in cases {
        let native_argv = vec![helper.clone(), mode.to_string(), trips.to_string()];
        let mut sandboxed = vec![opts.rvisor.to_string_lossy().into_owned(), "do".into(), "--".into()];
        sandboxed.extend(native_argv.iter().cloned());
        let (mut n, mut s) = (Vec::new(), Vec::new());
        let mut err = None;
        for _ in 0..reps {
            match (run_helper(&native_argv, Duration::from_secs(60)), run_helper(&sandboxed, Duration::from_secs(300)))
            {
                (Ok((o1, t1)), Ok((o2, t2))) => {
                    n.push(t1 as f64 / o1 as f64 / 1000.0);
                    s.push(t2 as f64 / o2 as f64 / 1000.0);
                }
                (Err(e), _) | (_, Err(e)) => {
                    err = Some(e);
                    break;
                }
            }
        }
        match err {
            Some(e) => println!("{label:<w$}  error: {e}"),
            None => {
                let (n, s) = (median(n), median(s));
                println!("{label:<w$}  {:>10}  {:>10}  {:>13}x", num(n), num(s), num(s / n));
            }
        }
    }
    println!("\nload average at the end: {}", load_average().unwrap_or_default());
}
