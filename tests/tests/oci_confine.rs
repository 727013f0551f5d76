//! OCI containers get the sentry's whole confinement, including its seccomp
//! filter, although `exec` starts processes from outside: those are cloned
//! from the zygote, which the sandbox cannot see.

mod oci_support;

use std::fs;

use oci_support::{report, Bundle, Root};
use rvisor_tests::Status;

/// `/proc/PID/status` field `key` of a host process.
fn status_field(pid: i64, key: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key).map(|v| v.trim_start_matches(':').trim().to_string()))
}

fn parent(pid: i64) -> Option<i64> {
    status_field(pid, "PPid")?.parse().ok()
}

fn comm(pid: i64) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

/// Host pids of every process descended from `ancestor`.
fn descendants(ancestor: i64) -> Vec<i64> {
    let all: Vec<i64> =
        fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    all.into_iter()
        .filter(|&p| {
            let mut cur = p;
            for _ in 0..16 {
                match parent(cur) {
                    Some(pp) if pp == ancestor => return true,
                    Some(pp) if pp > 1 => cur = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

#[test]
fn the_sentry_of_a_container_is_filtered_and_exec_still_works() {
    let root = Root::new();
    let b = Bundle::new(&["sleep", "100"]);
    assert_eq!(root.create(&b, "conf", &[]).status, Status::Exited(0), "{}", b.stderr());
    assert_eq!(root.run(&["start", "conf"]).status, Status::Exited(0));
    let pid = root.state("conf")["pid"].as_i64().expect("state has a pid");

    // Several execs, each after the filter is in place.
    for i in 0..3 {
        let o = root.run(&["exec", "conf", "sh", "-c", &format!("echo run {i}; echo /proc/[0-9]*")]);
        assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
        // Only init and this sh (the glob is the shell's own): the zygote has no pid in the sandbox.
        let out = o.stdout_str();
        let pids: Vec<&str> = out.lines().nth(1).unwrap_or_default().split_whitespace().collect();
        assert_eq!(out.lines().next(), Some(format!("run {i}").as_str()), "{}", report(&o));
        assert_eq!(pids.len(), 2, "{}", report(&o));
        assert_eq!(pids[0], "/proc/1", "{}", report(&o));
    }

    let procs = descendants(pid);
    let sentry = *procs
        .iter()
        .find(|&&p| comm(p) == "rvisor-sentry")
        .unwrap_or_else(|| panic!("no rvisor-sentry below {pid}: {procs:?}"));
    assert_eq!(status_field(sentry, "Seccomp").as_deref(), Some("2"), "the sentry runs under its seccomp filter");
    assert_eq!(status_field(sentry, "NoNewPrivs").as_deref(), Some("1"));
    // The sentry's children: init (sleep) and the zygote (still the stub), both filtered.
    let children: Vec<i64> = procs.iter().copied().filter(|&p| parent(p) == Some(sentry)).collect();
    assert_eq!(
        children.len(),
        2,
        "init and the zygote: {children:?} {:?}",
        children.iter().map(|&p| comm(p)).collect::<Vec<_>>()
    );
    for c in children {
        assert_eq!(status_field(c, "Seccomp").as_deref(), Some("2"), "app process {c} ({}) is filtered", comm(c));
    }

    // The filter did not kill the sentry on the way: the container still runs.
    assert_eq!(root.status("conf"), "running");
    assert_eq!(root.run(&["delete", "--force", "conf"]).status, Status::Exited(0));
}
