//! `bench-net`: loopback TCP inside the sandbox against the same natively,
//! as ratios measured in one run (see "Network benchmarks" in
//! docs/performance.md). A static C helper is both server and client (a
//! forked child); it times itself and prints `BENCH ops=N ns=T`.
//!
//! Usage: bench-net [--rvisor PATH] [--quick] [--dir DIR]

use std::time::Duration;

use rvisor_tests::bench::{build_helper, helper_opts, load_average, median, run_helper};

/// `stream BYTES`: one connection, the child writes BYTES in 64 KiB writes.
/// `rr N`: N 64-byte request/response round trips on one connection.
/// `conn N`: N connections, each one request and one response.
const HELPER_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;

static void die(const char *w) { perror(w); exit(1); }

static int dial(void) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

static int full(int fd, char *b, long n, int wr) {
    long d = 0;
    while (d < n) {
        long r = wr ? write(fd, b + d, n - d) : read(fd, b + d, n - d);
        if (r <= 0) return -1;
        d += r;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof addr;
    if (bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 128) < 0) die("listen");
    getsockname(l, (struct sockaddr *)&addr, &al);
    static char buf[65536];
    struct timespec a, b;
    pid_t pid = fork();
    if (pid == 0) {
        if (!strcmp(argv[1], "stream")) {
            int c = dial();
            for (long left = n; left > 0; left -= sizeof buf)
                if (full(c, buf, left < (long)sizeof buf ? left : (long)sizeof buf, 1)) die("write");
        } else if (!strcmp(argv[1], "rr")) {
            int c = dial();
            for (long i = 0; i < n; i++)
                if (full(c, buf, 64, 1) || full(c, buf, 64, 0)) die("rr");
        } else {
            for (long i = 0; i < n; i++) {
                int c = dial();
                if (full(c, buf, 64, 1) || full(c, buf, 64, 0)) die("conn");
                close(c);
            }
        }
        _exit(0);
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (!strcmp(argv[1], "stream")) {
        int s = accept(l, NULL, NULL);
        long got = 0, r;
        while ((r = read(s, buf, sizeof buf)) > 0) got += r;
        if (got != n) { fprintf(stderr, "short stream %ld\n", got); return 1; }
    } else if (!strcmp(argv[1], "rr")) {
        int s = accept(l, NULL, NULL);
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (long i = 0; i < n; i++)
            if (full(s, buf, 64, 0) || full(s, buf, 64, 1)) die("rr server");
    } else {
        for (long i = 0; i < n; i++) {
            int s = accept(l, NULL, NULL);
            if (s < 0 || full(s, buf, 64, 0) || full(s, buf, 64, 1)) die("conn server");
            close(s);
        }
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "client failed\n"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("BENCH ops=%ld ns=%lld\n", n, (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}
"#;

const USAGE: &str = "usage: bench-net [--rvisor PATH] [--quick] [--dir DIR]\n\
         \n\
         --rvisor PATH  the rvisor binary (default: target/x86_64-unknown-linux-gnu/release/rvisor of this workspace)\n\
         --quick        one repetition and smaller transfers\n\
         --dir DIR      where to build the helper (default /tmp; uses DIR/rvisor-bench-net/)";

fn main() {
    let opts = helper_opts(USAGE);
    let reps = if opts.quick { 1 } else { 5 };
    println!("rvisor network bench (loopback TCP); rvisor: {}", opts.rvisor.display());
    println!("each value is the median of {reps} run(s), native and sandboxed runs alternating");
    println!("load average at the start: {}\n", load_average().unwrap_or_default());
    let helper = match build_helper(&opts.dir.join("rvisor-bench-net"), "net_helper", HELPER_C) {
        Ok(h) => h.to_string_lossy().into_owned(),
        Err(e) => {
            eprintln!("bench-net: {e}");
            std::process::exit(1);
        }
    };
    let (mb, rr, conns) = if opts.quick { (32, 500, 100) } else { (128, 3000, 500) };
    let bytes = (mb as u64) << 20;
    // (label, helper args, value from (ops, ns), higher is better)
    type Metric = fn(u64, u64) -> f64;
    let cases: [(&str, String, String, Metric); 3] = [
        ("stream throughput (MB/s)", "stream".into(), bytes.to_string(), |ops, ns| {
            ops as f64 / 1048576.0 / (ns as f64 / 1e9)
        }),
        ("64-byte request/response (req/s)", "rr".into(), rr.to_string(), |ops, ns| ops as f64 / (ns as f64 / 1e9)),
        ("connect+request+close (conn/s)", "conn".into(), conns.to_string(), |ops, ns| ops as f64 / (ns as f64 / 1e9)),
    ];
    let w = 36;
    println!("{:<w$}  {:>10}  {:>10}  {:>14}", "metric", "native", "rvisor", "rvisor/native");
    println!("{}", "-".repeat(w + 40));
    for (label, mode, arg, metric) in cases {
        let native_argv = vec![helper.clone(), mode.clone(), arg.clone()];
        let mut sandboxed = vec![opts.rvisor.to_string_lossy().into_owned(), "do".into(), "--".into()];
        sandboxed.extend(native_argv.iter().cloned());
        let (mut n, mut s) = (Vec::new(), Vec::new());
        let mut err = None;
        for _ in 0..reps {
            match (run_helper(&native_argv, Duration::from_secs(120)), run_helper(&sandboxed, Duration::from_secs(600)))
            {
                (Ok((o1, t1)), Ok((o2, t2))) => {
                    n.push(metric(o1, t1));
                    s.push(metric(o2, t2));
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
                println!("{label:<w$}  {n:>10.0}  {s:>10.0}  {:>13.3}x", s / n);
            }
        }
    }
    println!("\nload average at the end: {}", load_average().unwrap_or_default());
}
