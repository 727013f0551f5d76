//! A short syscall-fuzzing run inside the sandbox: the sentry must neither
//! panic nor hang, whatever numbers and arguments the app throws at it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rvisor_tests::{build_dir, native_only, tests_dir, Run, Status, TempDir};

fn build_fuzzer() -> PathBuf {
    let src = tests_dir().join("fuzz/syscall_fuzz.c");
    let out = build_dir().join(format!("syscall_fuzz-{}", std::process::id()));
    let ok = Command::new("cc").args(["-static", "-O1", "-o"]).arg(&out).arg(&src).status().expect("run cc");
    assert!(ok.success(), "compiling {}", src.display());
    out
}

#[test]
fn random_syscalls_do_not_break_the_sentry() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping the sandbox fuzz test");
        return;
    }
    let prog = build_fuzzer();
    for seed in 1..=4u32 {
        let dir = TempDir::new("fuzz");
        let run = Run::rvisor()
            .args(["do", "--compat-report", "--"])
            .arg(&prog)
            .args(["3000", &seed.to_string()])
            .cwd(dir.path())
            .timeout(Duration::from_secs(120))
            .output();
        let err = run.stderr_str();
        assert!(run.status != Status::TimedOut, "seed {seed}: the sandbox hung\n{err}");
        assert!(!err.contains("panicked"), "seed {seed}: the sentry panicked:\n{err}");
        assert!(!err.contains("task thread panicked"), "seed {seed}: a task thread panicked:\n{err}");
        // Exit statuses vary (the fuzzer may kill itself); only the sentry matters. The
        // fuzzer's own count and the compatibility report prove it really ran.
        let out = run.stdout_str();
        let issued: usize = out
            .lines()
            .find_map(|l| l.strip_prefix("fuzz done: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let hit: usize = err
            .lines()
            .find_map(|l| l.strip_prefix("rvisor: compatibility report: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("seed {seed}: no compatibility report (did the sandbox end normally?)\n{err}"));
        assert!(hit >= 1, "seed {seed}: the fuzzer reached no unsupported syscall");
        // About a third of the numbers are skipped; a run that died early issued few calls.
        if !out.is_empty() {
            assert!(issued >= 1000, "seed {seed}: only {issued} calls issued\n{out}");
        }
    }
    let _ = std::fs::remove_file(prog);
}
