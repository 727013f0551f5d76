//! `rvisor do` command-line behaviour: errors, exit statuses, stdio.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use rvisor_tests::{native_only, Input, Run, RunOutput, Status, TempDir};

fn rvisor_do(args: &[&str]) -> Run {
    Run::rvisor().arg("do").args(args)
}

fn report(o: &RunOutput) -> String {
    format!("status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", o.status, o.stdout_str(), o.stderr_str())
}

/// These tests need the sandbox; the native self-check mode skips them loudly.
fn sandbox_needed() -> bool {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only CLI test");
        return false;
    }
    true
}

#[test]
fn missing_command_is_127() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--", "/nonexistent"]).output();
    assert_eq!(o.status, Status::Exited(127), "{}", report(&o));
    assert!(o.stderr_str().contains("rvisor: /nonexistent: No such file or directory"), "{}", report(&o));
}

#[test]
fn missing_command_in_path_is_127() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--", "no-such-command-rvisor-test"]).output();
    assert_eq!(o.status, Status::Exited(127), "{}", report(&o));
    assert!(o.stderr_str().contains("no-such-command-rvisor-test"), "{}", report(&o));
}

#[test]
fn non_executable_is_126() {
    if !sandbox_needed() {
        return;
    }
    let dir = TempDir::new("cli-noexec");
    let f = dir.path().join("not-executable");
    fs::write(&f, "#!/bin/sh\necho should not run\n").expect("write");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).expect("chmod");
    let path = f.to_str().expect("utf-8 path");
    let o = rvisor_do(&["--", path]).output();
    assert_eq!(o.status, Status::Exited(126), "{}", report(&o));
    assert!(o.stdout.is_empty(), "{}", report(&o));
    assert!(o.stderr_str().contains(path), "{}", report(&o));
}

#[test]
fn directory_as_command_is_126() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--", "/tmp"]).output();
    assert_eq!(o.status, Status::Exited(126), "{}", report(&o));
}

#[test]
fn missing_rootfs_is_1() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--rootfs", "/nonexistent-rvisor-rootfs", "--", "/bin/sh"]).output();
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    assert!(o.stderr_str().contains("/nonexistent-rvisor-rootfs"), "the error should name the rootfs\n{}", report(&o));
}

#[test]
fn rootfs_that_is_a_file_is_1() {
    if !sandbox_needed() {
        return;
    }
    let dir = TempDir::new("cli-rootfs-file");
    let f = dir.path().join("file");
    fs::write(&f, "x").expect("write");
    let o = rvisor_do(&["--rootfs", f.to_str().expect("utf-8"), "--", "/bin/sh"]).output();
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    assert!(!o.stderr.is_empty(), "{}", report(&o));
}

#[test]
fn unknown_flag_prints_usage() {
    if !sandbox_needed() {
        return;
    }
    for args in [
        &["do", "--no-such-flag", "--", "/bin/true"][..],
        &["--no-such-global-flag", "do", "--", "/bin/true"][..],
        &["no-such-subcommand"][..],
        &["do"][..],
    ] {
        let o = Run::rvisor().args(args).output();
        assert!(matches!(o.status, Status::Exited(c) if c != 0), "rvisor {args:?} should fail\n{}", report(&o));
        assert!(o.stderr_str().to_lowercase().contains("usage"), "rvisor {args:?} should print usage\n{}", report(&o));
    }
}

#[test]
fn help_succeeds() {
    if !sandbox_needed() {
        return;
    }
    let o = Run::rvisor().args(["do", "--help"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert!(o.stdout_str().contains("--rootfs"), "{}", report(&o));
}

#[test]
fn exit_status_propagates() {
    if !sandbox_needed() {
        return;
    }
    for code in [0, 1, 7, 42, 255] {
        let script = format!("exit {code}");
        let o = rvisor_do(&["--", "/bin/sh", "-c", &script]).output();
        assert_eq!(o.status, Status::Exited(code), "{}", report(&o));
    }
    let o = rvisor_do(&["--", "/bin/true"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = rvisor_do(&["--", "/bin/false"]).output();
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
}

#[test]
fn command_found_via_path() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--", "sh", "-c", "exit 3"]).output();
    assert_eq!(o.status, Status::Exited(3), "{}", report(&o));
}

#[test]
fn death_by_signal_is_128_plus_n() {
    if !sandbox_needed() {
        return;
    }
    for (sig, name) in [(9, "KILL"), (11, "SEGV"), (15, "TERM"), (6, "ABRT")] {
        let script = format!("ulimit -c 0; kill -{name} $$; exit 0");
        let o = rvisor_do(&["--", "/bin/sh", "-c", &script]).output();
        assert_eq!(o.status.code(), Some(128 + sig), "SIG{name}: {}", report(&o));
    }
}

#[test]
fn stdin_passes_through() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--", "/bin/cat"]).input(Input::Bytes(b"hello\nworld\n".to_vec())).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "hello\nworld\n");

    let big: Vec<u8> = (0..(2u32 << 20)).map(|i| (i % 251) as u8).collect();
    let o = rvisor_do(&["--", "/bin/cat"]).input(Input::Bytes(big.clone())).output();
    assert_eq!(o.status, Status::Exited(0), "{}", o.stderr_str());
    assert!(o.stdout == big, "2 MiB through cat: got {} bytes", o.stdout.len());

    let o = rvisor_do(&["--", "/bin/sh", "-c", "read a; read b; echo \"$b $a\""])
        .input(Input::Bytes(b"first\nsecond\n".to_vec()))
        .output();
    assert_eq!(o.stdout_str(), "second first\n", "{}", report(&o));

    // stdin at EOF (/dev/null).
    let o = rvisor_do(&["--", "/bin/cat"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert!(o.stdout.is_empty(), "{}", report(&o));
}

#[test]
fn stdout_and_stderr_to_files() {
    if !sandbox_needed() {
        return;
    }
    let dir = TempDir::new("cli-redirect");
    let out = dir.path().join("out");
    let err = dir.path().join("err");
    let o = rvisor_do(&["--", "/bin/sh", "-c", "echo one; echo two >&2; echo three; exit 5"])
        .stdout_file(fs::File::create(&out).expect("create out"))
        .stderr_file(fs::File::create(&err).expect("create err"))
        .output();
    assert_eq!(o.status, Status::Exited(5));
    assert_eq!(fs::read_to_string(&out).expect("read out"), "one\nthree\n");
    assert!(
        fs::read_to_string(&err).expect("read err").contains("two\n"),
        "stderr file: {:?}",
        fs::read_to_string(&err)
    );

    // An O_APPEND file keeps its contents and receives the output at its end.
    fs::write(&out, "existing\n").expect("write");
    let f = fs::OpenOptions::new().append(true).open(&out).expect("open append");
    let o = rvisor_do(&["--", "/bin/echo", "appended"]).stdout_file(f).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(fs::read_to_string(&out).expect("read"), "existing\nappended\n");

    // A large write to a file.
    let o = rvisor_do(&["--", "/bin/sh", "-c", "seq 1 100000"])
        .stdout_file(fs::File::create(&out).expect("create"))
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let text = fs::read_to_string(&out).expect("read");
    assert_eq!(text.lines().count(), 100000);
    assert_eq!(text.lines().last(), Some("100000"));
}

#[test]
fn arguments_pass_through() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--", "/usr/bin/printf", "%s|", "a b", "", "c\td", "ünïcødé", "--", "-x"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "a b||c\td|ünïcødé|--|-x|");
}

#[test]
fn environment_passes_through() {
    if !sandbox_needed() {
        return;
    }
    let o = rvisor_do(&["--", "/bin/sh", "-c", "echo \"$RVISOR_TEST_VAR|$HOME\""])
        .env("RVISOR_TEST_VAR", "value with spaces")
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "value with spaces|/root\n");
}

#[test]
fn cwd_passes_through() {
    if !sandbox_needed() {
        return;
    }
    let dir = TempDir::new("cli-cwd");
    let o = rvisor_do(&["--", "/bin/pwd"]).cwd(dir.path()).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str().trim_end(), dir.path().to_str().expect("utf-8"));
}

/// --strace output into a pipe that closes early must not wedge the sandbox:
/// the sentry's writes to stderr fail with EPIPE and it carries on.
#[test]
fn strace_to_closed_pipe_still_exits() {
    if !sandbox_needed() {
        return;
    }
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(rvisor_tests::rvisor_bin())
        .args(["do", "--strace", "--", "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9; do echo $i; done"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rvisor");
    // Read one chunk of the trace, then close the pipe.
    let mut buf = [0u8; 64];
    let n = child.stderr.take().map(|mut e| e.read(&mut buf).unwrap_or(0)).unwrap_or(0);
    assert!(n > 0, "no strace output at all");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert_eq!(status.code(), Some(0), "sandbox exit status with a closed stderr");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("rvisor did not exit after its stderr closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
