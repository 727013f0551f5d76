//! Resource limits (`rvisor do --memory/--pids/--cpus`, cgroups): a memory
//! bomb is killed at its limit, a fork bomb is refused at its limit, a
//! spinning program gets its CPU share, and each bomb also runs under a
//! roomy limit to show the limit is what stopped it. The bombs are bounded
//! (a cap in MiB, a number of forks), so a broken limit cannot hurt the host.

mod sandbox_procs;

use std::path::PathBuf;
use std::time::Duration;

use rvisor_tests::{build_static, native_only, Run, RunOutput, Status};

fn report(o: &RunOutput) -> String {
    format!("status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", o.status, o.stdout_str(), o.stderr_str())
}

fn sandbox(flags: &[&str], prog: &PathBuf, args: &[&str]) -> RunOutput {
    sandbox_with(&[], flags, prog, args)
}

/// `rvisor GLOBAL... do FLAGS... -- PROG ARGS...`.
fn sandbox_with(global: &[&str], flags: &[&str], prog: &PathBuf, args: &[&str]) -> RunOutput {
    Run::rvisor()
        .args(global)
        .arg("do")
        .args(flags)
        .arg("--")
        .arg(prog)
        .args(args)
        .cwd("/")
        .timeout(Duration::from_secs(60))
        .output()
}

fn skip() -> bool {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: resource limits are sandbox-only; skipping");
    }
    native_only()
}

/// The `spin` program in a sandbox on another thread, and the marker to find it by.
fn spawn_spin(
    global: &'static [&'static str],
    flags: &'static [&'static str],
    secs: &'static str,
) -> (String, std::thread::JoinHandle<RunOutput>) {
    let spin = build_static("limits", "spin");
    let marker = spin.to_str().expect("utf-8").to_string();
    (marker, std::thread::spawn(move || sandbox_with(global, flags, &spin, &[secs])))
}

/// The largest "allocated N MiB" progress line.
fn allocated(out: &str) -> u64 {
    out.lines().filter_map(|l| l.strip_prefix("allocated ")?.strip_suffix(" MiB")?.parse().ok()).max().unwrap_or(0)
}

#[test]
fn memory_bomb_is_killed_at_its_limit() {
    if skip() {
        return;
    }
    let bomb = build_static("limits", "membomb");
    // Capped at 512 MiB: without the limit it would finish.
    let o = sandbox(&["--memory", "64M"], &bomb, &["512"]);
    let out = o.stdout_str();
    assert_eq!(o.status, Status::Exited(137), "the bomb should die of SIGKILL\n{}", report(&o));
    assert!(!out.contains("survived"), "{}", report(&o));
    assert!(allocated(&out) >= 8, "the bomb never got going\n{}", report(&o));
    assert!(allocated(&out) < 64, "more than the limit was allocated\n{}", report(&o));
    assert!(o.stderr_str().contains("reached its memory limit"), "{}", report(&o));
    // The same bomb, capped below a roomy limit, survives.
    let o = sandbox(&["--memory", "512M"], &bomb, &["96"]);
    assert_eq!((o.status, o.stdout_str().contains("survived 96 MiB")), (Status::Exited(0), true), "{}", report(&o));
    let _ = std::fs::remove_file(bomb);
}

/// "forked N, refused M (...)" of the fork bomb.
fn forks(out: &str) -> (u32, u32) {
    let line = out.lines().find(|l| l.starts_with("forked ")).unwrap_or_default();
    let nums: Vec<u32> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    (nums.first().copied().unwrap_or(0), nums.get(1).copied().unwrap_or(0))
}

#[test]
fn fork_bomb_is_refused_at_its_limit() {
    if skip() {
        return;
    }
    let bomb = build_static("limits", "forkbomb");
    let o = sandbox(&["--pids", "24"], &bomb, &["80"]);
    let out = o.stdout_str();
    let (forked, refused) = forks(&out);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(forked + refused, 80, "{}", report(&o));
    assert!(refused > 0 && out.contains("Resource temporarily unavailable"), "no fork was refused\n{}", report(&o));
    assert!(out.contains(&format!("reaped {forked}\n")), "{}", report(&o));
    assert!(o.stderr_str().contains("reached its pids limit"), "{}", report(&o));
    // Under a roomy limit every fork succeeds.
    let o = sandbox(&["--pids", "400"], &bomb, &["20"]);
    assert_eq!((o.status, forks(&o.stdout_str())), (Status::Exited(0), (20, 0)), "{}", report(&o));
    let _ = std::fs::remove_file(bomb);
}

#[test]
fn cpu_limit_throttles_a_spinning_program() {
    if skip() {
        return;
    }
    let (marker, runner) = spawn_spin(&[], &["--cpus", "0.3"], "2");
    // Read the cgroup's throttling count while the program spins.
    let sb = sandbox_procs::find(&marker, Duration::from_secs(20)).expect("the sandbox's processes");
    std::thread::sleep(Duration::from_millis(1200));
    let name = format!("rvisor-{}", sb.launcher);
    let throttled: u64 = sandbox_procs::cgroup_dirs_named(&name)
        .iter()
        .filter_map(|d| std::fs::read_to_string(format!("{d}/cpu.stat")).ok())
        .flat_map(|s| {
            s.lines().filter_map(|l| l.strip_prefix("nr_throttled ")?.parse::<u64>().ok()).collect::<Vec<_>>()
        })
        .sum();
    let o = runner.join().expect("runner");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let ratio: f64 = o
        .stdout_str()
        .lines()
        .find_map(|l| l.strip_prefix("cpu/wall ")?.parse().ok())
        .unwrap_or_else(|| panic!("no ratio\n{}", report(&o)));
    assert!(ratio > 0.05 && ratio < 0.5, "a 0.3-CPU limit gave {ratio:.3} of a CPU\n{}", report(&o));
    assert!(throttled > 0, "the cgroup never throttled the sandbox");
    assert!(sandbox_procs::cgroup_dirs_named(&name).is_empty(), "the cgroup {name} outlived the sandbox");
    let _ = std::fs::remove_file(marker);
}

#[test]
fn the_gofer_the_sentry_and_the_app_run_in_the_sandbox_cgroup() {
    if skip() {
        return;
    }
    let (marker, runner) = spawn_spin(&[], &[], "2");
    let sb = sandbox_procs::find(&marker, Duration::from_secs(20)).expect("the sandbox's processes");
    assert!(sandbox_procs::wait_until(Duration::from_secs(10), || !sb.apps().is_empty()), "no app process");
    let name = format!("rvisor-{}", sb.launcher);
    let dirs = sandbox_procs::cgroup_dirs_named(&name);
    assert!(!dirs.is_empty(), "no cgroup {name}");
    // Every hierarchy's directory lists all three (they entered v1 ones by
    // moving their own thread), and not the launcher, which supervises
    // from outside.
    for d in &dirs {
        let procs: Vec<i32> = std::fs::read_to_string(format!("{d}/cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        for (what, pid) in [("gofer", sb.gofer), ("sentry", sb.sentry), ("app", sb.apps()[0])] {
            assert!(procs.contains(&pid), "the {what} ({pid}) is not in {d}: {procs:?}");
        }
        assert!(!procs.contains(&sb.launcher), "the launcher is in {d}");
    }
    let o = runner.join().expect("runner");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let _ = std::fs::remove_file(marker);
}

/// The binary links statically: a sandbox's sentry and gofer map no shared
/// library of the host (libc and ld.so were 1.4 MiB of each one's idle RSS).
#[test]
fn the_sentry_and_the_gofer_map_no_host_libraries() {
    if skip() {
        return;
    }
    let (marker, runner) = spawn_spin(&["--ignore-cgroups"], &[], "1");
    let sb = sandbox_procs::find(&marker, Duration::from_secs(20)).expect("the sandbox's processes");
    for (what, pid) in [("sentry", sb.sentry), ("gofer", sb.gofer)] {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
        assert!(maps.lines().count() > 3, "the {what}'s maps: {maps}");
        let libs: Vec<&str> = maps.lines().filter(|l| l.contains(".so")).collect();
        assert!(libs.is_empty(), "the {what} ({pid}) maps host libraries: {libs:#?}");
    }
    let o = runner.join().expect("runner");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let _ = std::fs::remove_file(marker);
}

#[test]
fn bad_limits_are_refused() {
    if skip() {
        return;
    }
    for flags in [["--memory", "1k"], ["--memory", "12q"], ["--pids", "0"], ["--cpus", "0"]] {
        let o = Run::rvisor().arg("do").args(flags).args(["--", "/bin/true"]).output();
        assert_ne!(o.status, Status::Exited(0), "{flags:?} was accepted\n{}", report(&o));
        assert!(o.stderr_str().contains("rvisor") || o.stderr_str().contains("error"), "{}", report(&o));
    }
}

#[test]
fn ignore_cgroups_runs_without_a_cgroup_and_refuses_limits() {
    if skip() {
        return;
    }
    let (marker, runner) = spawn_spin(&["--ignore-cgroups"], &[], "1");
    let sb = sandbox_procs::find(&marker, Duration::from_secs(20)).expect("the sandbox's processes");
    let dirs = sandbox_procs::cgroup_dirs_named(&format!("rvisor-{}", sb.launcher));
    let o = runner.join().expect("runner");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert!(dirs.is_empty(), "--ignore-cgroups made cgroups: {dirs:?}");
    let _ = std::fs::remove_file(marker);
    let o = Run::rvisor().args(["--ignore-cgroups", "do", "--memory", "64M", "--", "/bin/true"]).output();
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    assert!(o.stderr_str().contains("--ignore-cgroups"), "{}", report(&o));
}
