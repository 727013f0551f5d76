//! The host pids engines wait on: the container's pid (--pid-file of
//! create) exits with init's status, dying of the same signal; an exec
//! --detach stand-in exits with its process's status. This test process is
//! a child subreaper so those orphaned pids become its children (kept in a
//! binary of its own: the subreaper setting is process-wide).

mod oci_support;

use std::fs;

use oci_support::{report, Bundle, Root};
use rvisor_tests::Status;

fn wait_pid(pid: i32) -> Status {
    let mut st = 0;
    // SAFETY: waiting for a process that was reparented to this subreaper.
    let r = unsafe { libc::waitpid(pid, &mut st, 0) };
    assert_eq!(r, pid, "waitpid({pid}): {}", std::io::Error::last_os_error());
    if libc::WIFSIGNALED(st) {
        Status::Signaled(libc::WTERMSIG(st))
    } else {
        Status::Exited(libc::WEXITSTATUS(st))
    }
}

fn pid_file(p: &std::path::Path) -> i32 {
    fs::read_to_string(p).expect("pid file").trim().parse().expect("pid")
}

#[test]
fn waited_pids_carry_the_exit_status() {
    // SAFETY: prctl on this process.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }, 0);
    let root = Root::new();

    // Init's exit code.
    let b = Bundle::new(&["sh", "-c", "exit 42"]);
    let pf = b.path().join("init.pid");
    assert_eq!(
        root.create(&b, "code", &["--pid-file", pf.to_str().unwrap()]).status,
        Status::Exited(0),
        "{}",
        b.stderr()
    );
    let o = root.run(&["start", "code"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    assert_eq!(wait_pid(pid_file(&pf)), Status::Exited(42));
    assert_eq!(root.run(&["delete", "code"]).status, Status::Exited(0));

    // Init killed by a signal: the container's pid dies of it too.
    let b = Bundle::new(&["sleep", "100"]);
    let pf = b.path().join("init.pid");
    assert_eq!(
        root.create(&b, "sig", &["--pid-file", pf.to_str().unwrap()]).status,
        Status::Exited(0),
        "{}",
        b.stderr()
    );
    let o = root.run(&["start", "sig"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));

    // exec --detach: the stand-in's status is the process's.
    for (script, want) in [("exit 5", Status::Exited(5)), ("kill -USR1 $$", Status::Signaled(libc::SIGUSR1))] {
        let epf = b.path().join("exec.pid");
        let o = root.run(&["exec", "--detach", "--pid-file", epf.to_str().unwrap(), "sig", "sh", "-c", script]);
        assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
        assert_eq!(wait_pid(pid_file(&epf)), want, "exec {script}");
    }
    // A signal sent to the stand-in reaches the process.
    let epf = b.path().join("exec2.pid");
    // The process keeps its stdio: give it files, not the harness's pipes.
    let out = fs::File::create(b.path().join("exec2.out")).unwrap();
    let err = fs::File::create(b.path().join("exec2.err")).unwrap();
    let o = root
        .rvisor(&["exec", "--detach", "--pid-file", epf.to_str().unwrap(), "sig", "sleep", "100"])
        .stdout_file(out)
        .stderr_file(err)
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let standin = pid_file(&epf);
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: signals the stand-in this test started.
    unsafe { libc::kill(standin, libc::SIGTERM) };
    assert_eq!(wait_pid(standin), Status::Signaled(libc::SIGTERM));

    assert_eq!(root.run(&["kill", "sig", "KILL"]).status, Status::Exited(0));
    assert_eq!(wait_pid(pid_file(&pf)), Status::Signaled(libc::SIGKILL));
    assert_eq!(root.run(&["delete", "sig"]).status, Status::Exited(0));
}
