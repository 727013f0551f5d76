//! The OCI runtime driven directly, as an engine would: lifecycle, state,
//! exec, signals, hooks, mounts, process settings, cgroups, terminals, and
//! bad input that must fail cleanly.

mod oci_support;

use std::fs;
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_support::{alive, read_until, recv_fd, report, wait_dead, Bundle, Root};
use rvisor_tests::{Input, Status, TempDir};
use serde_json::json;

#[test]
fn run_propagates_output_and_exit_status() {
    let root = Root::new();
    let b = Bundle::new(&["sh", "-c", "echo out; echo err >&2; exit 7"]);
    let o = root.run(&["run", "--bundle", b.path().to_str().unwrap(), "run1"]);
    assert_eq!(o.status, Status::Exited(7), "{}", report(&o));
    assert_eq!(o.stdout_str(), "out\n", "{}", report(&o));
    assert_eq!(o.stderr_str(), "err\n", "{}", report(&o));
    assert!(root.ids().is_empty(), "run removes the container: {:?}", root.ids());
}

#[test]
fn lifecycle_create_start_exec_kill_delete() {
    let root = Root::new();
    let b =
        Bundle::new(&["sh", "-c", "echo started; trap 'echo got TERM; exit 5' TERM; while true; do sleep 0.05; done"]);
    let pidfile = b.path().join("pid");
    let o = root.create(&b, "life", &["--pid-file", pidfile.to_str().unwrap()]);
    assert_eq!(o.status, Status::Exited(0), "create: {}\n{}", report(&o), b.stderr());
    let st = root.state("life");
    assert_eq!(st["status"], "created");
    assert_eq!(st["ociVersion"], "1.1.0");
    assert_eq!(st["id"], "life");
    assert_eq!(Path::new(st["bundle"].as_str().unwrap()), fs::canonicalize(b.path()).unwrap());
    let pid: i64 = fs::read_to_string(&pidfile).expect("pid file").trim().parse().expect("pid file holds a number");
    assert_eq!(st["pid"], pid);
    assert!(alive(pid));
    // Nothing runs before start.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(b.stdout(), "");

    let o = root.run(&["start", "life"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    assert_eq!(root.status("life"), "running");
    let o = root.run(&["start", "life"]);
    assert_eq!(o.status, Status::Exited(1), "second start must fail: {}", report(&o));
    assert!(o.stderr_str().contains("running"), "{}", report(&o));

    let o = root.run(&["exec", "life", "sh", "-c", "echo exec-out; echo $$; exit 4"]);
    assert_eq!(o.status, Status::Exited(4), "exec: {}", report(&o));
    let out = o.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "exec-out");
    assert_ne!(lines[1], "1", "an exec'd process is not the container's init");

    // The container's loop starts a short `sleep` every 50 ms, which may be
    // gone by the time a listed pid is checked on a loaded machine: a listing
    // whose pids all live must come within a few tries.
    let mut listed = Vec::new();
    for _ in 0..10 {
        let o = root.run(&["ps", "--format", "json", "life"]);
        assert_eq!(o.status, Status::Exited(0), "ps: {}", report(&o));
        let pids: Vec<i64> = serde_json::from_str(&o.stdout_str()).expect("ps json is an array of pids");
        assert!(!pids.is_empty(), "ps lists no pids");
        if pids.iter().all(|&p| alive(p)) {
            listed.clear();
            break;
        }
        listed.push(pids);
    }
    assert!(listed.is_empty(), "ps pids must be live host pids: 10 listings held dead ones: {listed:?}");

    let o = root.run(&["kill", "life", "TERM"]);
    assert_eq!(o.status, Status::Exited(0), "kill: {}", report(&o));
    root.wait_status("life", "stopped");
    assert!(b.stdout().contains("started\n") && b.stdout().contains("got TERM"), "stdout: {}", b.stdout());
    assert_eq!(root.state("life")["pid"], 0);
    let o = root.run(&["kill", "life", "KILL"]);
    assert_eq!(o.status, Status::Exited(1), "kill of a stopped container must fail: {}", report(&o));
    assert!(o.stderr_str().contains("stopped"), "{}", report(&o));

    let cgroups = root.record("life")["cgroups"].clone();
    let o = root.run(&["delete", "life"]);
    assert_eq!(o.status, Status::Exited(0), "delete: {}", report(&o));
    assert!(root.ids().is_empty());
    for d in cgroups.as_array().into_iter().flatten() {
        assert!(!Path::new(d.as_str().unwrap()).exists(), "cgroup {d} left behind");
    }
    let o = root.run(&["state", "life"]);
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
}

#[test]
fn init_ignores_unhandled_signals_like_a_namespace_init() {
    let root = Root::new();
    let b = Bundle::new(&["sleep", "100"]);
    assert_eq!(root.create(&b, "sig", &[]).status, Status::Exited(0), "{}", b.stderr());
    let o = root.run(&["start", "sig"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    // SIGTERM without a handler does nothing to a pid namespace's init.
    assert_eq!(root.run(&["kill", "sig", "SIGTERM"]).status, Status::Exited(0));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(root.status("sig"), "running");
    assert_eq!(root.run(&["kill", "sig", "9"]).status, Status::Exited(0));
    root.wait_status("sig", "stopped");
    assert_eq!(fs::read_to_string(root.path().join("sig/exit")).unwrap_or_default().trim(), "137");
    assert_eq!(root.run(&["delete", "sig"]).status, Status::Exited(0));
}

#[test]
fn kill_all_reaches_every_process() {
    let root = Root::new();
    let b = Bundle::new(&["sh", "-c", "trap '' TERM; sleep 100 & sleep 100 & wait"]);
    assert_eq!(root.create(&b, "all", &[]).status, Status::Exited(0), "{}", b.stderr());
    let o = root.run(&["start", "all"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    std::thread::sleep(Duration::from_millis(300));
    let o = root.run(&["ps", "all"]);
    assert_eq!(o.stdout_str().lines().filter(|l| l.ends_with(" sleep 100")).count(), 2, "{}", report(&o));
    assert_eq!(root.run(&["kill", "--all", "all", "KILL"]).status, Status::Exited(0));
    root.wait_status("all", "stopped");
    assert_eq!(root.run(&["delete", "all"]).status, Status::Exited(0));
}

/// Two containers of one id under two state roots, neither naming a
/// cgroup, would share the default one (/rvisor/<id>): the second create
/// is refused with a clear error, as runc refuses a cgroup that holds
/// processes, and the first container runs on, untouched (deleting it
/// afterwards works as usual).
#[test]
fn a_cgroup_that_holds_processes_is_refused() {
    let id = format!("dup-{}", std::process::id());
    let (first, second) = (Root::new(), Root::new());
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["linux"]["cgroupsPath"] = serde_json::Value::Null;
    b.save();
    assert_eq!(first.create(&b, &id, &[]).status, Status::Exited(0), "{}", b.stderr());
    assert_eq!(first.run(&["start", &id]).status, Status::Exited(0));
    let sandbox = first.state(&id)["pid"].as_i64().expect("sandbox pid");

    let o = second.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_ne!(o.status, Status::Exited(0), "a second container in the same cgroup: {}", report(&o));
    let err = o.stderr_str();
    assert!(err.contains(&format!("/rvisor/{id} already holds processes")), "{}", report(&o));
    assert!(err.contains("cgroupsPath"), "the error says what to do: {}", report(&o));
    assert!(!second.path().join(&id).exists(), "nothing of the refused container is left");

    assert!(alive(sandbox), "the first container's sandbox runs on");
    assert_eq!(first.status(&id), "running");
    assert_eq!(first.run(&["delete", "--force", &id]).status, Status::Exited(0));
    assert!(wait_dead(&[sandbox]), "the first container's sandbox ends with its delete");
}

#[test]
fn exec_with_process_file_user_env_and_cwd() {
    let root = Root::new();
    let b = Bundle::new(&["sleep", "100"]);
    assert_eq!(root.create(&b, "ex", &[]).status, Status::Exited(0), "{}", b.stderr());
    let o = root.run(&["start", "ex"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    let proc_json = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
        "args": ["sh", "-c", "id -u; id -g; id -G; echo $GREETING; pwd"],
        "env": ["PATH=/bin", "GREETING=hello"],
        "cwd": "/tmp"
    });
    let pf = b.path().join("process.json");
    fs::write(&pf, proc_json.to_string()).unwrap();
    let o = root.run(&["exec", "--process", pf.to_str().unwrap(), "ex"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "1000\n1000\n1000 5\nhello\n/tmp\n", "{}", report(&o));
    let o = root.run(&["exec", "--cwd", "/etc", "--env", "X=y", "--user", "0:0", "ex", "sh", "-c", "pwd; echo $X"]);
    assert_eq!(o.stdout_str(), "/etc\ny\n", "{}", report(&o));
    let o = root.rvisor(&["exec", "ex", "cat"]).input(Input::Bytes(b"piped stdin\n".to_vec())).output();
    assert_eq!(o.stdout_str(), "piped stdin\n", "{}", report(&o));
    let o = root.run(&["exec", "ex", "/no/such/program"]);
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    assert!(o.stderr_str().contains("executable file not found"), "{}", report(&o));
    assert_eq!(root.run(&["delete", "--force", "ex"]).status, Status::Exited(0));
    assert!(root.ids().is_empty());
}

#[test]
fn process_settings_hostname_mounts_and_readonly_root() {
    let root = Root::new();
    let host_dir = TempDir::new("oci-bind");
    fs::write(host_dir.path().join("data"), "bound data\n").unwrap();
    let rw_dir = TempDir::new("oci-bind-rw");
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "hostname; id -u; ulimit -n; umask; echo $FOO; pwd; cat /mnt/ro/data; cat /etc/bound-file; \
         touch /mnt/ro/new 2>/dev/null && echo ro-writable || echo ro-refused; \
         echo written > /mnt/rw/out && echo rw-ok; \
         echo t > /scratch/x && cat /scratch/x; \
         touch /rootfile 2>/dev/null && echo root-writable || echo root-readonly; \
         grep -c ' /mnt/ro ' /proc/mounts",
    ]);
    b.config["hostname"] = json!("oci-test-host");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
    b.config["process"]["cwd"] = json!("/tmp");
    b.config["process"]["user"] = json!({"uid": 0, "gid": 0, "umask": 63});
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 321, "soft": 123}]);
    b.config["root"]["readonly"] = json!(true);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts
        .push(json!({"destination": "/mnt/ro", "type": "bind", "source": host_dir.path(), "options": ["rbind", "ro"]}));
    mounts.push(json!({"destination": "/mnt/rw", "type": "bind", "source": rw_dir.path(), "options": ["rbind", "rw"]}));
    mounts.push(json!({"destination": "/etc/bound-file", "type": "bind", "source": host_dir.path().join("data"), "options": ["bind", "ro"]}));
    mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}));
    b.save();
    let o = root.run(&["run", "--bundle", b.path().to_str().unwrap(), "settings"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(
        o.stdout_str(),
        "oci-test-host\n0\n123\n0077\nbar\n/tmp\nbound data\nbound data\nro-refused\nrw-ok\nt\nroot-readonly\n1\n",
        "{}",
        report(&o)
    );
    assert_eq!(fs::read_to_string(rw_dir.path().join("out")).unwrap(), "written\n");
    assert!(!host_dir.path().join("new").exists());
}

/// Hooks that record the state they were given on stdin.
#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    let root = Root::new();
    let log = TempDir::new("oci-hooks");
    let mut b = Bundle::new(&["true"]);
    let hook = |name: &str| {
        let out = log.path().join(name);
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}; echo {name} >> {}", out.display(), log.path().join("order").display())]})
    };
    b.config["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "startContainer": [hook("startContainer")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
    });
    b.save();
    assert_eq!(root.create(&b, "hk", &[]).status, Status::Exited(0), "{}", b.stderr());
    let o = root.run(&["start", "hk"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    root.wait_status("hk", "stopped");
    assert_eq!(root.run(&["delete", "hk"]).status, Status::Exited(0));
    let order = fs::read_to_string(log.path().join("order")).unwrap();
    assert_eq!(order, "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\npoststop\n");
    for name in ["createRuntime", "poststart", "poststop"] {
        let st: serde_json::Value = serde_json::from_str(&fs::read_to_string(log.path().join(name)).unwrap()).unwrap();
        assert_eq!(st["id"], "hk", "{name}");
        assert_eq!(st["ociVersion"], "1.1.0");
    }
    let st: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(log.path().join("poststop")).unwrap()).unwrap();
    assert_eq!(st["status"], "stopped");
}

#[test]
fn failing_create_hook_fails_create_and_cleans_up() {
    let root = Root::new();
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]});
    b.save();
    let o = root.create(&b, "badhook", &[]);
    assert_eq!(o.status, Status::Exited(1));
    assert!(b.stderr().contains("createRuntime hook"), "{}", b.stderr());
    assert!(root.ids().is_empty(), "{:?}", root.ids());
}

fn cgroup_file(dirs: &serde_json::Value, name: &str) -> PathBuf {
    dirs.as_array()
        .into_iter()
        .flatten()
        .map(|d| Path::new(d.as_str().unwrap()).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no cgroup has {name}: {dirs}"))
}

#[test]
fn cgroup_limits_update_stats_pause_and_resume() {
    let root = Root::new();
    let mut b = Bundle::new(&["sh", "-c", "while true; do sleep 0.05; done"]);
    let cg_path = format!("/rvisor-test/cg-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(cg_path);
    b.config["linux"]["resources"] =
        json!({"memory": {"limit": 268435456}, "pids": {"limit": 64}, "cpu": {"shares": 512}});
    b.save();
    assert_eq!(root.create(&b, "cg", &[]).status, Status::Exited(0), "{}", b.stderr());
    let dirs = root.record("cg")["cgroups"].clone();
    assert!(dirs.as_array().is_some_and(|d| d.iter().all(|d| d.as_str().unwrap().ends_with(&cg_path))), "{dirs}");
    let v1 = Path::new("/sys/fs/cgroup/memory").exists();
    let (mem, pids) = if v1 { ("memory.limit_in_bytes", "pids.max") } else { ("memory.max", "pids.max") };
    assert_eq!(fs::read_to_string(cgroup_file(&dirs, mem)).unwrap().trim(), "268435456");
    assert_eq!(fs::read_to_string(cgroup_file(&dirs, pids)).unwrap().trim(), "64");
    let sandbox_pid = root.state("cg")["pid"].to_string();
    let procs = fs::read_to_string(cgroup_file(&dirs, "cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == sandbox_pid), "the sandbox is in its cgroup: {procs}");
    let o = root.run(&["start", "cg"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));

    let o = root
        .rvisor(&["update", "--resources", "-", "cg"])
        .input(Input::Bytes(br#"{"pids": {"limit": 77}}"#.to_vec()))
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(fs::read_to_string(cgroup_file(&dirs, pids)).unwrap().trim(), "77");
    let o = root.run(&["update", "--memory", "134217728", "cg"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(fs::read_to_string(cgroup_file(&dirs, mem)).unwrap().trim(), "134217728");

    let o = root.run(&["events", "--stats", "cg"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let ev: serde_json::Value = serde_json::from_str(o.stdout_str().trim()).expect("one JSON event");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], "cg");
    assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0, "{ev}");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 134217728, "{ev}");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 3, "sandbox processes are counted: {ev}");
    assert_eq!(ev["data"]["pids"]["limit"], 77);

    assert_eq!(root.run(&["pause", "cg"]).status, Status::Exited(0));
    assert_eq!(root.status("cg"), "paused");
    let o = root.run(&["pause", "cg"]);
    assert_eq!(o.status, Status::Exited(1), "pausing twice fails: {}", report(&o));
    let o = root.run(&["resume", "cg"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(root.status("cg"), "running");
    let o = root.run(&["exec", "cg", "echo", "after resume"]);
    assert_eq!(o.stdout_str(), "after resume\n", "{}", report(&o));

    assert_eq!(root.run(&["delete", "--force", "cg"]).status, Status::Exited(0));
    for d in dirs.as_array().into_iter().flatten() {
        assert!(!Path::new(d.as_str().unwrap()).exists(), "cgroup {d} left behind");
    }
}

#[test]
fn terminal_goes_to_the_console_socket() {
    let root = Root::new();
    let mut b = Bundle::new(&["sh"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let sock = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || recv_fd(&listener));
    let o = root.create(&b, "tty", &["--console-socket", sock.to_str().unwrap()]);
    assert_eq!(o.status, Status::Exited(0), "{}", b.stderr());
    let master = receiver.join().unwrap();
    let o = root.run(&["start", "tty"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    let mut f = fs::File::from(master);
    f.write_all(b"echo pts:$(ls /dev/pts | tr '\\n' ,) $(tty); echo $((6*7))x; exit 3\n").unwrap();
    let seen = read_until(&mut f, "42x");
    assert!(seen.contains("42x"), "terminal output: {seen:?}");
    // devpts shows the sandbox's terminal as 0 beside ptmx, and ttyname finds it there.
    assert!(seen.contains("pts:0,ptmx, /dev/pts/0"), "terminal output: {seen:?}");
    root.wait_status("tty", "stopped");
    assert_eq!(fs::read_to_string(root.path().join("tty/exit")).unwrap().trim(), "3");
    assert_eq!(root.run(&["delete", "tty"]).status, Status::Exited(0));
}

/// Every way the input can be wrong: exit 1, a clear message, and nothing
/// left behind.
#[test]
fn bad_input_fails_cleanly() {
    let root = Root::new();
    let b = Bundle::new(&["true"]);
    let bp = b.path().to_str().unwrap().to_string();
    let check = |args: &[&str], needle: &str| {
        let o = root.run(args);
        assert_eq!(o.status, Status::Exited(1), "{args:?}: {}", report(&o));
        assert!(o.stderr_str().contains(needle), "{args:?}: expected {needle:?}\n{}", report(&o));
        assert!(root.ids().is_empty(), "{args:?} left state behind: {:?}", root.ids());
    };
    let empty = TempDir::new("oci-empty");
    check(&["create", "--bundle", empty.path().to_str().unwrap(), "x"], "config.json is missing");
    check(&["create", "--bundle", "/nonexistent-bundle", "x"], "no such directory");

    let bad = |f: &dyn Fn(&mut serde_json::Value), needle: &str| {
        let mut c = b.config.clone();
        f(&mut c);
        fs::write(b.path().join("config.json"), c.to_string()).unwrap();
        check(&["create", "--bundle", &bp, "x"], needle);
    };
    fs::write(b.path().join("config.json"), "{ not json").unwrap();
    check(&["create", "--bundle", &bp, "x"], "invalid config.json");
    bad(&|c| c["process"]["args"] = json!(5), "invalid config.json");
    bad(&|c| c["process"]["args"] = json!([]), "process.args is empty");
    bad(&|c| c["root"]["path"] = json!("no-such-rootfs"), "no-such-rootfs");
    bad(&|c| c["process"]["args"] = json!(["/no/such/init"]), "executable file not found");
    bad(
        &|c| {
            c["mounts"] =
                json!([{"destination": "/x", "type": "bind", "source": "/no/such/source", "options": ["bind"]}])
        },
        "/no/such/source",
    );
    bad(&|c| c["process"]["capabilities"] = json!({"bounding": ["CAP_NOT_A_CAP"]}), "invalid config.json");
    b.save();

    check(&["start", "unknown-id"], "does not exist");
    check(&["kill", "unknown-id", "KILL"], "does not exist");
    check(&["delete", "unknown-id"], "does not exist");
    check(&["create", "--bundle", &bp, "../escape"], "invalid container id");

    assert_eq!(root.create(&b, "dup", &[]).status, Status::Exited(0), "{}", b.stderr());
    let o = root.create(&b, "dup", &[]);
    assert_eq!(o.status, Status::Exited(1));
    assert!(b.stderr().contains("already exists"), "{}", b.stderr());
    assert_eq!(root.ids(), ["dup"]);
    let o = root.run(&["kill", "dup", "NOSUCHSIG"]);
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    assert!(o.stderr_str().contains("unknown signal"), "{}", report(&o));
    assert_eq!(root.run(&["delete", "dup"]).status, Status::Exited(0));
    assert!(root.ids().is_empty());
}

/// `delete --force` cleans up whatever part of the sandbox was killed.
#[test]
fn delete_force_after_sigkill_of_sandbox_parts() {
    for victim in ["sentry", "gofer", "sandbox"] {
        let root = Root::new();
        let b = Bundle::new(&["sleep", "100"]);
        let id = format!("k-{victim}");
        assert_eq!(root.create(&b, &id, &[]).status, Status::Exited(0), "{}", b.stderr());
        assert_eq!(root.run(&["start", &id]).status, Status::Exited(0));
        let rec = root.record(&id);
        let pids: Vec<i64> = ["sandbox", "sentry", "gofer"].iter().map(|k| rec[k]["pid"].as_i64().unwrap()).collect();
        assert!(pids.iter().all(|&p| p > 0 && alive(p)), "{rec}");
        let v = rec[victim]["pid"].as_i64().unwrap();
        // SAFETY: kill(2) of a process this test's container owns.
        unsafe { libc::kill(v as i32, libc::SIGKILL) };
        let o = root.run(&["delete", "--force", &id]);
        assert_eq!(o.status, Status::Exited(0), "{victim}: {}", report(&o));
        assert!(root.ids().is_empty(), "{victim}: {:?}", root.ids());
        assert!(wait_dead(&pids), "{victim}: sandbox processes left: {pids:?}");
        for d in rec["cgroups"].as_array().into_iter().flatten() {
            assert!(!Path::new(d.as_str().unwrap()).exists(), "{victim}: cgroup {d} left behind");
        }
    }
}

#[test]
fn spec_features_list_and_version() {
    let root = Root::new();
    let o = root.run(&["--version"]);
    assert_eq!(o.status, Status::Exited(0));
    assert!(o.stdout_str().contains("rvisor") && o.stdout_str().contains("spec: 1.1.0"), "{}", report(&o));
    let o = root.run(&["features"]);
    let f: serde_json::Value = serde_json::from_str(&o.stdout_str()).expect("features JSON");
    assert_eq!(f["ociVersionMax"], "1.1.0");
    assert!(f["hooks"].as_array().unwrap().iter().any(|h| h == "createRuntime"));
    let dir = TempDir::new("oci-spec");
    assert_eq!(root.run(&["spec", "--bundle", dir.path().to_str().unwrap()]).status, Status::Exited(0));
    let c: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(c["root"]["path"], "rootfs");
    assert_eq!(c["process"]["args"], json!(["sh"]));
    let o = root.run(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    assert_eq!(o.status, Status::Exited(1), "spec must not overwrite: {}", report(&o));

    let b = Bundle::new(&["sleep", "100"]);
    assert_eq!(root.create(&b, "listed", &[]).status, Status::Exited(0), "{}", b.stderr());
    let o = root.run(&["list", "--format", "json"]);
    let l: serde_json::Value = serde_json::from_str(&o.stdout_str()).expect("list JSON");
    assert_eq!(l[0]["id"], "listed");
    assert_eq!(l[0]["status"], "created");
    assert_eq!(root.run(&["list", "-q"]).stdout_str(), "listed\n");
    // A created container can be deleted without --force.
    assert_eq!(root.run(&["delete", "listed"]).status, Status::Exited(0));
}

#[test]
fn json_log_ends_with_the_error() {
    let root = Root::new();
    let log = root.dir.path().join("log.json");
    let o = root.run(&["--log", log.to_str().unwrap(), "--log-format", "json", "start", "missing-container"]);
    assert_eq!(o.status, Status::Exited(1));
    let text = fs::read_to_string(&log).expect("log file");
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("a log line")).expect("json log line");
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("missing-container does not exist"), "{last}");
}

#[test]
fn install_adds_the_runtime_to_daemon_json() {
    let dir = TempDir::new("oci-install");
    let cfg = dir.path().join("daemon.json");
    fs::write(&cfg, r#"{"debug": true, "runtimes": {"other": {"path": "/bin/other"}}}"#).unwrap();
    let o = rvisor_tests::Run::rvisor()
        .args(["install", "--config-file"])
        .arg(&cfg)
        .args(["--", "--network=host"])
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(v["debug"], true);
    assert_eq!(v["runtimes"]["other"]["path"], "/bin/other");
    assert_eq!(
        Path::new(v["runtimes"]["rvisor"]["path"].as_str().unwrap()),
        rvisor_tests::rvisor_bin().canonicalize().unwrap()
    );
    assert_eq!(v["runtimes"]["rvisor"]["runtimeArgs"], json!(["--network=host"]));
}
