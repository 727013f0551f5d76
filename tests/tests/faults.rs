//! Faults: SIGKILL of the rvisor launcher, the sentry or the gofer at a
//! random moment (start-up included) leaves nothing behind: no app process,
//! no rvisor process, no cgroup, no mount in the host's namespace.

mod sandbox_procs;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rvisor_tests::{native_only, random_hex, rvisor_bin, BASE_ENV};
use sandbox_procs::{ns, wait_until};

/// A workload that keeps forking, reading files and holding children.
const WORKLOAD: &str = "sleep 60 & sleep 60 & i=0; while :; do cat /etc/hostname >/dev/null; \
                        (true) ; i=$((i+1)); done";

#[derive(Clone, Copy, Debug)]
enum Victim {
    Launcher,
    Sentry,
    Gofer,
}

/// A small deterministic generator, seeded per run and printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn mountinfo() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().skip(3).take(2).collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

/// Every live process in pid namespace `pidns`.
fn in_pidns(pidns: &str) -> Vec<i32> {
    sandbox_procs::all().into_iter().filter(|p| ns(p.pid, "pid").as_deref() == Some(pidns)).map(|p| p.pid).collect()
}

fn one_round(round: usize, victim: Victim, delay: Duration, tag: &str) {
    let ctx = format!("round {round}: SIGKILL of the {victim:?} after {delay:?}");
    let mut launcher = Command::new(rvisor_bin())
        .env_clear()
        .envs(BASE_ENV.iter().copied())
        .args(["do", "--pids", "200", "--", "/bin/sh", "-c", WORKLOAD, tag])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rvisor");
    let lpid = launcher.id() as i32;
    let start = Instant::now();
    // The launcher is killable at once; the others once they exist.
    let mut sb = None;
    let mut pidns = None;
    while start.elapsed() < delay || (sb.is_none() && !matches!(victim, Victim::Launcher)) {
        if sb.is_none() {
            let kids = sandbox_procs::children(lpid);
            let find = |n: &str| kids.iter().find(|p| p.comm == n).map(|p| p.pid);
            if let (Some(s), Some(g)) = (find("rvisor-sentry"), find("rvisor-gofer")) {
                sb = Some((s, g));
            }
        }
        if let Some((s, _)) = sb {
            // Remember the sandbox's pid namespace once the sentry is in it.
            let n = ns(s, "pid");
            if n.is_some() && n != ns(lpid, "pid") {
                pidns = n;
            }
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = launcher.kill();
            panic!("{ctx}: the sandbox did not start");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let target = match (victim, sb) {
        (Victim::Launcher, _) => lpid,
        (Victim::Sentry, Some((s, _))) => s,
        (Victim::Gofer, Some((_, g))) => g,
        _ => unreachable!("waited for the sandbox above"),
    };
    // SAFETY: SIGKILL to a process this test started (or its child).
    unsafe { libc::kill(target, libc::SIGKILL) };
    // The launcher ends by itself unless it was the one killed.
    let waited = wait_until(Duration::from_secs(15), || launcher.try_wait().map(|s| s.is_some()).unwrap_or(true));
    assert!(waited, "{ctx}: rvisor did not exit");
    // What rvisor said, read without waiting: a process left behind may hold the pipe.
    let mut stderr = String::new();
    if let Some(mut e) = launcher.stderr.take() {
        // SAFETY: fcntl on a pipe fd this test owns.
        unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&e), libc::F_SETFL, libc::O_NONBLOCK) };
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut e, &mut buf);
        stderr = String::from_utf8_lossy(&buf).into_owned();
    }
    let cgroup = format!("rvisor-{lpid}");
    let clean = wait_until(Duration::from_secs(15), || {
        let rvisor_left = sandbox_procs::all().iter().any(|p| {
            p.comm.starts_with("rvisor-")
                && std::fs::read(format!("/proc/{}/cmdline", p.pid))
                    .map(|c| String::from_utf8_lossy(&c).contains(tag))
                    .unwrap_or(false)
        });
        let apps_left = pidns.as_deref().map(|n| !in_pidns(n).is_empty()).unwrap_or(false);
        !rvisor_left && !apps_left && sandbox_procs::cgroup_dirs_named(&cgroup).is_empty()
    });
    if !clean {
        let left: Vec<_> = sandbox_procs::all()
            .into_iter()
            .filter(|p| {
                p.comm.starts_with("rvisor") || pidns.as_deref().is_some_and(|n| ns(p.pid, "pid").as_deref() == Some(n))
            })
            .collect();
        let cgroups: Vec<_> = sandbox_procs::cgroup_dirs_named(&cgroup)
            .into_iter()
            .map(|d| {
                let procs = std::fs::read_to_string(format!("{d}/tasks")).unwrap_or_default();
                format!("{d} (tasks: {:?})", procs.split_whitespace().collect::<Vec<_>>())
            })
            .collect();
        panic!("{ctx}: left behind: processes {left:?}, cgroups {cgroups:?}; rvisor's stderr: {stderr}");
    }
}

#[test]
fn sigkill_at_random_points_leaves_nothing_behind() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: fault injection is sandbox-only; skipping");
        return;
    }
    let seed = std::env::var("RVISOR_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from_str_radix(&random_hex(4), 16).unwrap_or(1) | 1);
    eprintln!("fault seed {seed} (RVISOR_FAULT_SEED reproduces it)");
    let mut rng = Rng(seed);
    let mounts_before = mountinfo();
    let victims = [Victim::Launcher, Victim::Sentry, Victim::Gofer];
    for round in 0..15 {
        let victim = victims[round % 3];
        // Mostly mid-run, sometimes during start-up.
        let delay = Duration::from_millis(if rng.next() % 4 == 0 { rng.next() % 30 } else { 30 + rng.next() % 400 });
        // A unique word on the workload's command line marks this round's processes.
        let tag = format!("rvisor-fault-{}-{round}", random_hex(4));
        one_round(round, victim, delay, &tag);
    }
    assert_eq!(mountinfo(), mounts_before, "the host's mount table changed");
}
