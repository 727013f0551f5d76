//! The idle cost of a sandbox: memory of its sentry and gofer (VmRSS and PSS
//! from /proc/PID/smaps_rollup) and the CPU time of sentry, gofer and app
//! while the app sleeps.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rvisor_tests::bench::Platform;

/// One idle sample.
#[derive(Clone, Copy, Debug)]
pub struct Idle {
    /// Sentry + gofer, MiB.
    pub rss: f64,
    pub pss: f64,
    /// The sentry's and gofer's own VmRSS, MiB (for the report).
    pub sentry_rss: f64,
    pub gofer_rss: f64,
    /// CPU time of sentry, gofer and app over the window, ms.
    pub cpu_ms: f64,
}

fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let close = stat.rfind(')')?;
    let mut v = vec![stat[stat.find('(')? + 1..close].to_string()];
    v.extend(stat[close + 2..].split_whitespace().map(str::to_string));
    Some(v)
}

/// (comm, ppid) of a live, non-zombie process.
fn comm_ppid(pid: i32) -> Option<(String, i32)> {
    let f = stat_fields(pid)?;
    if matches!(f.get(1).map(String::as_str), Some("Z" | "X")) {
        return None;
    }
    Some((f[0].clone(), f.get(2)?.parse().ok()?))
}

fn children(pid: i32) -> Vec<(i32, String)> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|p| comm_ppid(p).filter(|(_, pp)| *pp == pid).map(|(c, _)| (p, c)))
        .collect()
}

/// CPU time of every live thread of `pid`, ms: the first field of
/// /proc/PID/task/TID/schedstat (ns on the CPU, user and system: what
/// utime + stime count, but in ns rather than 10 ms ticks, which an idle
/// window of a few seconds would mostly round to 0).
fn cpu_ms(pid: i32) -> Option<f64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut ns = 0u64;
    for t in tasks.flatten() {
        let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        ns += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    Some(ns as f64 / 1e6)
}

/// (Rss, Pss) in MiB from /proc/PID/smaps_rollup.
fn rss_pss(pid: i32) -> Option<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb = |name: &str| -> Option<f64> {
        s.lines().find_map(|l| l.strip_prefix(name)?.split_whitespace().next()?.parse().ok())
    };
    Some((kb("Rss:")? / 1024.0, kb("Pss:")? / 1024.0))
}

/// Runs `sleep` on `platform` and samples it after `settle`, over `window`.
/// Natively, only the app's CPU time is measured (there is no sentry).
pub fn measure(rvisor: &Path, platform: Platform, settle: Duration, window: Duration) -> Result<Idle, String> {
    let secs = (settle + window).as_secs() + 2;
    let argv: Vec<OsString> = vec!["/bin/sleep".into(), secs.to_string().into()];
    let cmd = platform.command(rvisor, &argv);
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", Path::new(&cmd[0]).display()))?;
    let r = sample(child.id() as i32, platform, settle, window);
    let _ = child.kill();
    let _ = child.wait();
    r
}

fn sample(launcher: i32, platform: Platform, settle: Duration, window: Duration) -> Result<Idle, String> {
    let start = Instant::now();
    // The sandbox's processes: the launcher's children name themselves
    // rvisor-sentry and rvisor-gofer; the app is the sentry's child.
    let (sentry, gofer, app) = loop {
        if platform == Platform::Native {
            break (None, None, launcher);
        }
        let kids = children(launcher);
        let find = |name: &str| kids.iter().find(|(_, c)| c == name).map(|(p, _)| *p);
        if let (Some(s), Some(g)) = (find("rvisor-sentry"), find("rvisor-gofer")) {
            if let Some((app, _)) = children(s).first() {
                break (Some(s), Some(g), *app);
            }
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("no sentry, gofer and app under launcher {launcher} after 10 s"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(settle);
    let pids: Vec<i32> = [sentry, gofer, Some(app)].into_iter().flatten().collect();
    let total = || -> Result<f64, String> {
        pids.iter().map(|&p| cpu_ms(p).ok_or_else(|| format!("process {p} is gone"))).sum()
    };
    let before = total()?;
    std::thread::sleep(window);
    let after = total()?;
    let mem = |pid: Option<i32>| -> Result<(f64, f64), String> {
        match pid {
            None => Ok((0.0, 0.0)),
            Some(p) => rss_pss(p).ok_or_else(|| format!("no smaps_rollup for {p}")),
        }
    };
    let (s_rss, s_pss) = mem(sentry)?;
    let (g_rss, g_pss) = mem(gofer)?;
    Ok(Idle { rss: s_rss + g_rss, pss: s_pss + g_pss, sentry_rss: s_rss, gofer_rss: g_rss, cpu_ms: after - before })
}
