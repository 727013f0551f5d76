//! Signals from outside the sandbox: a `kill` of the launcher reaches the
//! sandbox's init (which may handle it) instead of killing the sandbox.

use std::process::{Command, Stdio};
use std::time::Duration;

use rvisor_tests::{native_only, rvisor_bin};

/// Runs `script` in `rvisor do`, sends `sig` to the launcher after `delay`, returns (stdout, exit code).
fn run_and_signal(script: &str, sig: i32, delay: Duration) -> (String, Option<i32>) {
    let child = Command::new(rvisor_bin())
        .args(["do", "--", "/bin/sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rvisor");
    std::thread::sleep(delay);
    // SAFETY: signals the launcher we just started.
    unsafe { libc::kill(child.id() as i32, sig) };
    let out = child.wait_with_output().expect("wait for rvisor");
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code())
}

#[test]
fn a_handled_signal_reaches_init_and_the_sandbox_survives() {
    if native_only() {
        return;
    }
    let (out, code) = run_and_signal(
        "trap 'echo got TERM' TERM; echo ready; i=0; while [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done; echo done; exit 3",
        libc::SIGTERM,
        Duration::from_millis(700),
    );
    assert_eq!(out, "ready\ngot TERM\ndone\n");
    assert_eq!(code, Some(3));
}

#[test]
fn an_unhandled_signal_ends_init_with_that_signal() {
    if native_only() {
        return;
    }
    let (out, code) = run_and_signal("echo ready; exec sleep 5", libc::SIGINT, Duration::from_millis(700));
    assert_eq!(out, "ready\n");
    assert_eq!(code, Some(128 + libc::SIGINT));
}
