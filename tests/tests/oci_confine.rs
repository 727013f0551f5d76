//! OCI containers get the sentry's whole confinement, including its seccomp
//! filter, although `exec` starts processes from outside: those are cloned
//! from the zygote, which the sandbox cannot see.

mod oci_support;
mod sandbox_procs;

use oci_support::{report, Bundle, Root};
use rvisor_tests::Status;

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

    // The supervisor (the state's pid) runs the sentry.
    let sentry = sandbox_procs::children(pid as i32)
        .into_iter()
        .find(|p| p.comm == "rvisor-sentry")
        .unwrap_or_else(|| panic!("no rvisor-sentry below {pid}"))
        .pid;
    let field = sandbox_procs::status_field;
    assert_eq!(field(sentry, "Seccomp").as_deref(), Some("2"), "the sentry runs under its seccomp filter");
    assert_eq!(field(sentry, "NoNewPrivs").as_deref(), Some("1"));
    // The sentry's children: init (sleep) and the zygote (still the stub), both filtered.
    let children = sandbox_procs::children(sentry);
    assert_eq!(children.len(), 2, "init and the zygote: {children:?}");
    for c in children {
        assert_eq!(field(c.pid, "Seccomp").as_deref(), Some("2"), "app process {c:?} is filtered");
    }

    // The filter did not kill the sentry on the way: the container still runs.
    assert_eq!(root.status("conf"), "running");
    assert_eq!(root.run(&["delete", "--force", "conf"]).status, Status::Exited(0));
}
