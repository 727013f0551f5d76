//! The sentry's dentry cache against the gofer's descriptors: every cached
//! gofer file pins an fd in the gofer, so a sandbox that touches more files
//! than the gofer may hold open must drop unused cache entries rather than
//! fail with EMFILE. Run under a host descriptor limit far below the number
//! of files, and compared with the same program run natively.

use rvisor_tests::{build_static, native_only, rvisor_bin, Run, RunOutput, TempDir};

/// More files than the descriptor limit below, several times over.
const FILES: usize = 3000;
/// The host RLIMIT_NOFILE the sandbox runs under.
const NOFILE: &str = "--nofile=1024:1024";

fn report(o: &RunOutput) -> String {
    format!("status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", o.status, o.stdout_str(), o.stderr_str())
}

#[test]
fn more_files_than_the_gofer_may_hold_open() {
    let prog = build_static("gofer", "statall");
    let dir = TempDir::new("gofer-many");
    for i in 0..FILES {
        let name = format!("file-{i:05}");
        std::fs::write(dir.path().join(&name), &name).expect("write file");
    }
    let target = dir.path().to_str().expect("utf-8 temp path");
    let native = Run::new(&prog).arg(target).output();
    let expected = format!("pass 0: {FILES} of {FILES} stat\npass 1: {FILES} of {FILES} stat\nread: {FILES} of {FILES}\nfirst error: none\n");
    assert_eq!(native.stdout_str(), expected, "native run:\n{}", report(&native));
    if native_only() {
        return;
    }
    let mut run = Run::new("prlimit").arg(NOFILE).arg(rvisor_bin()).arg("do").arg("--").arg(&prog).arg(target);
    if let Some(p) = std::env::var_os("RVISOR_PLATFORM") {
        run = run.env("RVISOR_PLATFORM", p);
    }
    let sandbox = run.output();
    assert_eq!(sandbox.stdout_str(), expected, "sandbox run:\n{}", report(&sandbox));
    // The limit really was below the number of files: the same walk on the
    // host under it cannot keep one descriptor per file.
    let hold =
        Run::new("prlimit").arg(NOFILE).arg("sh").arg("-c").arg(format!("ulimit -n; ls {target} | wc -l")).output();
    let lines: Vec<u64> = hold.stdout_str().lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert!(matches!(lines[..], [limit, files] if limit < files && files == FILES as u64), "{}", report(&hold));
}

/// App processes hold the stub and the injection socket at fixed fds near
/// 1000: a host limit below that is a clear error, not a failed exec.
#[test]
fn a_descriptor_limit_too_small_for_the_sandbox_is_a_clear_error() {
    if native_only() {
        return;
    }
    let out =
        Run::new("prlimit").arg("--nofile=512:512").arg(rvisor_bin()).arg("do").arg("--").arg("/bin/true").output();
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    assert!(out.stderr_str().contains("RLIMIT_NOFILE) is 512"), "{}", report(&out));
}
