//! OCI containers run on the platform chosen as for `rvisor do`: systrap
//! where the CPU can run its handler (rdtscp), else ptrace; `--platform` and
//! RVISOR_PLATFORM (the flag's default) choose. exec'd processes are cloned
//! from the zygote inside the container's sentry, so they run on the
//! container's platform whatever `exec` is told.

mod oci_support;
mod sandbox_procs;

use std::fs;
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use oci_support::{cpu_has_rdtscp, read_until, recv_fd, region_count, report, suite_platform, Bundle, Root};
use rvisor_tests::{rvisor_bin, Run, RunOutput, Status, SANDBOX_TIMEOUT};

/// Lines of a maps file in systrap's region (at 0x6000_0000_0000): a
/// process on systrap has its threads' chunks there, one on ptrace none.
fn region_lines(maps: &str) -> usize {
    maps.lines().filter(|l| l.starts_with("6000")).count()
}

/// `rvisor --root ROOT GLOBAL create --bundle B ID` with RVISOR_PLATFORM set
/// to `env` or unset: not `Root::rvisor`, which passes the suite's own
/// RVISOR_PLATFORM on (the default must be seen without it).
fn create(root: &Root, b: &Bundle, global: &[&str], env: Option<&str>, id: &str) -> RunOutput {
    let out = fs::File::create(b.path().join("stdout")).expect("stdout file");
    let err = fs::File::create(b.path().join("stderr")).expect("stderr file");
    let mut run = Run::new(rvisor_bin()).timeout(SANDBOX_TIMEOUT).arg("--root").arg(root.path()).args(global);
    run = run.arg("create").arg("--bundle").arg(b.path()).arg(id);
    if let Some(p) = env {
        run = run.env("RVISOR_PLATFORM", p);
    }
    run.stdout_file(out).stderr_file(err).output()
}

/// The host pid of a container's init (`ps --format json` lists host pids).
fn init_host_pid(root: &Root, id: &str) -> i32 {
    let o = root.run(&["ps", "--format", "json", id]);
    assert_eq!(o.status, Status::Exited(0), "ps: {}", report(&o));
    let pids: Vec<i32> = serde_json::from_str(&o.stdout_str()).expect("ps json is an array of pids");
    assert_eq!(pids.len(), 1, "only init runs: {pids:?}");
    pids[0]
}

#[test]
fn containers_run_on_the_chosen_platform_and_exec_follows_it() {
    let rdtscp = cpu_has_rdtscp();
    let root = Root::new();
    let b = Bundle::new(&["sleep", "100"]);
    // (what, global flags, RVISOR_PLATFORM, whether systrap is expected)
    let mut cases: Vec<(&str, &[&str], Option<&str>, bool)> = vec![
        ("the default", &[], None, rdtscp),
        ("--platform ptrace", &["--platform", "ptrace"], None, false),
        ("RVISOR_PLATFORM=ptrace", &[], Some("ptrace"), false),
    ];
    if rdtscp {
        cases.push((
            "--platform systrap over RVISOR_PLATFORM=ptrace",
            &["--platform", "systrap"],
            Some("ptrace"),
            true,
        ));
    }
    for (i, (what, global, env, systrap)) in cases.into_iter().enumerate() {
        let id = format!("plat{i}");
        let o = create(&root, &b, global, env, &id);
        assert_eq!(o.status, Status::Exited(0), "{what}: create: {}\n{}", report(&o), b.stderr());
        let o = root.run(&["start", &id]);
        assert_eq!(o.status, Status::Exited(0), "{what}: start: {}", report(&o));
        let name = if systrap { "systrap" } else { "ptrace" };
        assert_eq!(root.record(&id)["platform"], name, "{what}: the record names the platform");

        // From the host: init's process has its chunk mapped on systrap only
        // (sleep made trapped calls before it slept).
        let init = init_host_pid(&root, &id);
        let maps = fs::read_to_string(format!("/proc/{init}/maps")).expect("init's host maps");
        assert_eq!(region_lines(&maps), usize::from(systrap), "{what}: init's host mappings:\n{maps}");

        // An exec'd process runs on the container's platform, whatever exec
        // is told; it sees its own chunk in its maps.
        let other = if systrap { "ptrace" } else { "systrap" };
        for args in [&["exec"][..], &["--platform", other, "exec"][..]] {
            let o = root.rvisor(args).args([id.as_str(), "grep", "-c", "^6000", "/proc/self/maps"]).output();
            assert_eq!(o.stdout_str().trim(), region_count(name), "{what}: {args:?}: {}", report(&o));
        }

        // The sentry's children, init and the zygote, are filtered on both
        // platforms (on systrap the filter goes in by injection in both).
        let sandbox = root.state(&id)["pid"].as_i64().expect("state has a pid") as i32;
        let sentry = sandbox_procs::children(sandbox)
            .into_iter()
            .find(|p| p.comm == "rvisor-sentry")
            .unwrap_or_else(|| panic!("{what}: no rvisor-sentry below {sandbox}"))
            .pid;
        let children = sandbox_procs::children(sentry);
        assert_eq!(children.len(), 2, "{what}: init and the zygote: {children:?}");
        for c in children {
            assert_eq!(sandbox_procs::status_field(c.pid, "Seccomp").as_deref(), Some("2"), "{what}: {c:?}");
        }
        assert_eq!(root.run(&["delete", "--force", &id]).status, Status::Exited(0));
    }
    assert!(root.ids().is_empty(), "{:?}", root.ids());
}

/// An unknown platform, named by the flag or by RVISOR_PLATFORM: exit 1, a
/// clear message, and no container.
#[test]
fn an_unknown_platform_fails_create_cleanly() {
    let root = Root::new();
    let b = Bundle::new(&["true"]);
    for (global, env, needle) in [
        (&["--platform", "kvm"][..], None, "--platform kvm: unknown platform"),
        (&[][..], Some("kvm"), "RVISOR_PLATFORM=kvm: unknown platform"),
    ] {
        let o = create(&root, &b, global, env, "bad");
        assert_eq!(o.status, Status::Exited(1), "{global:?} {env:?}: {}", b.stderr());
        assert!(b.stderr().contains(needle), "{global:?} {env:?}: expected {needle:?} in {}", b.stderr());
        assert!(root.ids().is_empty(), "state left behind: {:?}", root.ids());
    }
}

/// What an exec'd process does on the container's platform (the suite's:
/// systrap by default, ptrace in its second pass): threads and a forked
/// child with threads of its own, a terminal, and a signal forwarded by the
/// stand-in that `exec --detach --pid-file` leaves on the host.
#[test]
fn exec_runs_threads_forks_terminals_and_signals() {
    let root = Root::new();
    let mut b = Bundle::new(&["sleep", "100"]).with_probe();
    b.config["root"]["readonly"] = serde_json::json!(false);
    b.save();
    assert_eq!(root.create(&b, "ex", &[]).status, Status::Exited(0), "{}", b.stderr());
    assert_eq!(root.run(&["start", "ex"]).status, Status::Exited(0));
    assert_eq!(root.record("ex")["platform"], suite_platform());

    let o = root.run(&["exec", "ex", "/bin/oci_probe", "threads"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "threads 4\nchild 7\n", "{}", report(&o));

    // exec --tty: the terminal's master goes to the console socket.
    let sock = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock).expect("console socket");
    let receiver = std::thread::spawn(move || recv_fd(&listener));
    let exec = root
        .rvisor(&["exec", "--tty", "--console-socket", sock.to_str().unwrap(), "ex", "sh"])
        .timeout(Duration::from_secs(60));
    let session = std::thread::spawn(move || exec.output());
    let mut master = fs::File::from(receiver.join().expect("console socket receiver"));
    master
        .write_all(b"[ -t 0 ] && [ -t 1 ] && echo tty:$(readlink /proc/self/fd/0); echo $((6*7))x; exit 5\n")
        .expect("write to the terminal");
    let seen = read_until(&mut master, "42x");
    assert!(seen.contains("tty:") && seen.contains("42x"), "terminal output: {seen:?}");
    let o = session.join().expect("exec --tty");
    assert_eq!(o.status, Status::Exited(5), "exec --tty: {}", report(&o));

    // A signal to the stand-in reaches the process, whose handler runs.
    let pidfile = b.path().join("exec.pid");
    let script = "echo $$ > /tmp/self; trap 'echo got USR1 > /tmp/usr1; exit 0' USR1; while true; do sleep 0.05; done";
    // Its stdio in files: pipes would stay open as long as it runs.
    let out = fs::File::create(b.path().join("exec.out")).expect("exec.out");
    let err = fs::File::create(b.path().join("exec.err")).expect("exec.err");
    let o = root
        .rvisor(&["exec", "--detach", "--pid-file", pidfile.to_str().unwrap(), "ex", "sh", "-c", script])
        .stdout_file(out)
        .stderr_file(err)
        .output();
    let err = || fs::read_to_string(b.path().join("exec.err")).unwrap_or_default();
    assert_eq!(o.status, Status::Exited(0), "exec --detach: {}", err());
    let standin: i32 = fs::read_to_string(&pidfile).expect("pid file").trim().parse().expect("a pid");
    // The trap is set before the loop's first sleep; give sh that long.
    std::thread::sleep(Duration::from_millis(300));

    // From the host, the exec'd process is under the app filter, and its
    // getpid was answered by the sentry: the pid it knows itself by is the
    // sandbox's, not its host pid.
    let o = root.run(&["ps", "ex"]);
    let line = o.stdout_str().lines().find(|l| l.contains("trap")).map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("the exec'd sh is not listed: {}", report(&o)));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (vpid, host): (&str, i32) = (fields[1], fields[3].parse().expect("HOST-PID is a number"));
    assert_eq!(sandbox_procs::status_field(host, "Seccomp").as_deref(), Some("2"), "{line}");
    assert_eq!(sandbox_procs::status_field(host, "NoNewPrivs").as_deref(), Some("1"), "{line}");
    let o = root.run(&["exec", "ex", "cat", "/tmp/self"]);
    assert_eq!(o.stdout_str().trim(), vpid, "{line}: {}", report(&o));
    assert_ne!(o.stdout_str().trim(), host.to_string(), "{line}");
    // SAFETY: signals the stand-in, a process this test's exec started.
    assert_eq!(unsafe { libc::kill(standin, libc::SIGUSR1) }, 0);
    assert!(oci_support::wait_dead(&[standin as i64]), "the stand-in did not end after its process did");
    let o = root.run(&["exec", "ex", "cat", "/tmp/usr1"]);
    assert_eq!(o.stdout_str(), "got USR1\n", "{}\nthe process's stderr: {}", report(&o), err());

    // Still only init: every exec'd process (and the probe's child) is gone.
    let o = root.run(&["ps", "ex"]);
    assert_eq!(o.stdout_str().lines().count(), 2, "header and init: {}", report(&o));
    assert_eq!(root.run(&["delete", "--force", "ex"]).status, Status::Exited(0));
}
