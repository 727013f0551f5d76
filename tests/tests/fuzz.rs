//! A short syscall-fuzzing run inside the sandbox (tests/fuzz/syscall_fuzz.c,
//! several threads): the sentry must neither panic, nor hang, nor make a
//! host syscall its seccomp filter refuses, nor leak host fds, threads or
//! memory, whatever numbers and arguments the app throws at it. The long
//! run (a million calls and more) is scripts/nightly-fuzz.sh.

mod sandbox_procs;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rvisor_tests::{build_dir, native_only, rvisor_bin, tests_dir, BASE_ENV};

const THREADS: &str = "4";
const CALLS: &str = "12000";
/// How long the fuzzer waits after its last call, for the resource sample.
const LINGER_MS: &str = "1500";
/// The sandbox's memory limit: random fallocate/ftruncate calls on tmpfs
/// files may legitimately fill memory, which must stay the sandbox's problem.
const MEMORY: &str = "512M";

fn build_fuzzer() -> PathBuf {
    let src = tests_dir().join("fuzz/syscall_fuzz.c");
    std::fs::create_dir_all(build_dir()).expect("build dir");
    let out = build_dir().join(format!("syscall_fuzz-{}", std::process::id()));
    let ok =
        Command::new("cc").args(["-static", "-O1", "-pthread", "-o"]).arg(&out).arg(&src).status().expect("run cc");
    assert!(ok.success(), "compiling {}", src.display());
    out
}

/// The sentry's host resources at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    threads: usize,
    rss_kib: u64,
}

fn sample(sentry: i32) -> Sample {
    let threads = std::fs::read_dir(format!("/proc/{sentry}/task")).map(|d| d.count()).unwrap_or(0);
    let rss_kib = sandbox_procs::status_field(sentry, "VmRSS")
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    Sample { fds: sandbox_procs::fds(sentry).len(), threads, rss_kib }
}

/// What one fuzzing run showed.
struct Outcome {
    stdout: String,
    stderr: String,
    timed_out: bool,
    /// (at "fuzz start", after "fuzz done") when the fuzzer got that far.
    samples: Option<(Sample, Sample)>,
}

fn fuzz_once(prog: &Path, seed: u32) -> Outcome {
    let mut child = Command::new(rvisor_bin())
        .env_clear()
        .envs(BASE_ENV.iter().copied())
        .args(["do", "--compat-report", "--memory", MEMORY, "--pids", "512", "--"])
        .arg(prog)
        .args([CALLS, &seed.to_string(), THREADS, LINGER_MS])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rvisor");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut err = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let marker = prog.to_str().expect("utf-8").to_string();
    let sb = sandbox_procs::find(&marker, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut stdout, mut start, mut samples) = (String::new(), None, None);
    let mut timed_out = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(sb) = &sb {
                    if line.starts_with("fuzz start") {
                        start = Some(sample(sb.sentry));
                    } else if line.starts_with("fuzz done") {
                        // Let the tracer threads of the finished workers wind
                        // down, those kept for a next task after their 1 s wait.
                        std::thread::sleep(Duration::from_millis(1300));
                        samples = start.map(|s| (s, sample(sb.sentry)));
                    }
                }
                stdout.push_str(&line);
                stdout.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() > deadline => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    let _ = child.wait();
    Outcome { stdout, stderr: err_reader.join().unwrap_or_default(), timed_out, samples }
}

#[test]
fn random_syscalls_from_many_threads_do_not_break_the_sentry() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping the sandbox fuzz test");
        return;
    }
    let prog = build_fuzzer();
    let mut checked_leaks = 0;
    for seed in 1..=6u32 {
        let o = fuzz_once(&prog, seed);
        let err = &o.stderr;
        assert!(!o.timed_out, "seed {seed}: the sandbox hung\n{err}");
        assert!(!err.contains("panicked"), "seed {seed}: the sentry panicked:\n{err}");
        assert!(!err.contains("seccomp filter"), "seed {seed}: the sentry broke its seccomp policy:\n{err}");
        assert!(!err.contains("without an exit status"), "seed {seed}: the sentry lost init's exit:\n{err}");
        // Exit statuses vary (the fuzzer may kill itself); only the sentry matters.
        // Filling the sandbox's memory (tmpfs files) ends it at its limit: allowed.
        if err.contains("reached its memory limit") {
            continue;
        }
        // Otherwise the compatibility report proves the sandbox ended in order.
        let hit: usize = err
            .lines()
            .find_map(|l| l.strip_prefix("rvisor: compatibility report: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("seed {seed}: no compatibility report (did the sandbox end normally?)\n{err}"));
        assert!(hit >= 10, "seed {seed}: the fuzzer reached only {hit} unsupported syscalls");
        let issued: Option<usize> = o
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("fuzz done: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok());
        let Some(issued) = issued else { continue }; // the fuzzer died by its own hand
                                                     // A fifth of the numbers are skipped.
        assert!(issued >= 6000, "seed {seed}: only {issued} calls issued\n{}", o.stdout);
        let (a, b) = o.samples.unwrap_or_else(|| panic!("seed {seed}: the sentry was not sampled"));
        // Every app fd was closed: the host fds behind them must be gone.
        assert!(b.fds <= a.fds + 2, "seed {seed}: the sentry leaked host fds: {a:?} -> {b:?}");
        assert!(b.threads <= a.threads + 1, "seed {seed}: the sentry leaked threads: {a:?} -> {b:?}");
        assert!(b.rss_kib <= a.rss_kib + 64 * 1024, "seed {seed}: the sentry's memory grew: {a:?} -> {b:?}");
        checked_leaks += 1;
    }
    assert!(checked_leaks >= 2, "too few runs finished to check for leaks ({checked_leaks})");
    let _ = std::fs::remove_file(prog);
}
