//! Network isolation: `rvisor do` defaults to `--network none` (a network
//! namespace of its own, loopback only); `--network host` shares the host's
//! interfaces; raw and packet sockets, netlink changes and options that reach
//! beyond the socket are refused unless `--net-raw` allows raw sockets.
//! tests/c/net_probe.c prints what it sees; its output is checked here rather
//! than compared with a native run.

use rvisor_tests::{compile_c, run_native, run_sandbox, Status, TempDir};

fn probe(rvisor_args: &[&str], args: &[&str]) -> Vec<String> {
    let prog = compile_c("net_probe");
    let dir = TempDir::new("net-probe");
    let out = run_sandbox(&prog, args, dir.path(), rvisor_args);
    assert_eq!(out.status, Status::Exited(0), "net_probe {rvisor_args:?} failed: {}", out.stderr_str());
    out.stdout_str().lines().map(str::to_string).collect()
}

fn interfaces(lines: &[String]) -> Vec<&str> {
    lines.iter().filter_map(|l| l.strip_prefix("if ")).collect()
}

fn value<'a>(lines: &'a [String], key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    lines.iter().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no '{key}' line in {lines:?}"))
}

#[test]
fn network_none_is_loopback_only_and_refuses_privileged_requests() {
    for args in [&[][..], &["--network", "none"][..]] {
        let lines = probe(args, &[]);
        assert_eq!(interfaces(&lines), ["lo"], "{args:?}: {lines:?}");
        assert_eq!(value(&lines, "raw"), "EPERM");
        assert_eq!(value(&lines, "packet"), "EPERM");
        assert_eq!(value(&lines, "netlink newlink"), "EPERM");
        assert_eq!(value(&lines, "netlink to another port"), "EPERM");
        assert_ne!(value(&lines, "SO_MARK"), "ok");
        assert_ne!(value(&lines, "SO_RCVBUFFORCE"), "ok");
    }
}

#[test]
fn network_host_sees_the_host_interfaces() {
    let prog = compile_c("net_probe");
    let dir = TempDir::new("net-probe-native");
    let native = run_native(&prog, &["interfaces"], dir.path());
    assert_eq!(native.status, Status::Exited(0));
    let native_lines: Vec<String> = native.stdout_str().lines().map(str::to_string).collect();
    let host = probe(&["--network", "host"], &["interfaces"]);
    assert!(interfaces(&native_lines).contains(&"lo"));
    assert_eq!(interfaces(&host), interfaces(&native_lines));
}

#[test]
fn net_raw_allows_raw_sockets() {
    let lines = probe(&["--net-raw"], &[]);
    assert_eq!(value(&lines, "raw"), "ok");
    // Still only the sandbox's own loopback.
    assert_eq!(interfaces(&lines), ["lo"]);
}
