//! Finding a running sandbox's host processes from the outside: the `rvisor`
//! launcher (by a marker on its command line) and its children, which name
//! themselves rvisor-sentry, rvisor-gofer and rvisor-janitor.

#![allow(dead_code)] // each test file uses its own subset

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// One host process.
#[derive(Clone, Debug)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub comm: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let close = stat.rfind(')')?;
    let comm = stat[stat.find('(')? + 1..close].to_string();
    let mut rest = stat[close + 2..].split(' ');
    let state = rest.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let ppid = rest.next()?.parse().ok()?;
    Some(Proc { pid, ppid, comm })
}

/// Every live (non-zombie) process.
pub fn all() -> Vec<Proc> {
    let Ok(rd) = fs::read_dir("/proc") else { return Vec::new() };
    rd.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter_map(read_proc).collect()
}

pub fn alive(pid: i32) -> bool {
    read_proc(pid).is_some()
}

pub fn children(pid: i32) -> Vec<Proc> {
    all().into_iter().filter(|p| p.ppid == pid).collect()
}

/// A field of /proc/PID/status ("CapEff", "Seccomp", "NoNewPrivs", "TracerPid").
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// The host fds a process holds.
pub fn fds(pid: i32) -> Vec<i32> {
    let mut v: Vec<i32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// The namespace a process is in ("pid", "mnt", "net", ...), as "pid:[4026531836]".
pub fn ns(pid: i32, kind: &str) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok().map(|p| p.display().to_string())
}

/// A running sandbox's host processes.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub launcher: i32,
    pub sentry: i32,
    pub gofer: i32,
    pub janitor: Option<i32>,
}

impl Sandbox {
    /// App processes: the sentry's children (it is every app process's host parent).
    pub fn apps(&self) -> Vec<i32> {
        children(self.sentry).into_iter().map(|p| p.pid).collect()
    }
}

/// Waits for the sandbox whose launcher's command line contains `marker`.
pub fn find(marker: &str, timeout: Duration) -> Option<Sandbox> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let procs = all();
        for l in procs.iter().filter(|p| p.comm == "rvisor") {
            let cmd = fs::read(format!("/proc/{}/cmdline", l.pid)).unwrap_or_default();
            if !String::from_utf8_lossy(&cmd).contains(marker) {
                continue;
            }
            let kid = |name: &str| procs.iter().find(|p| p.ppid == l.pid && p.comm == name).map(|p| p.pid);
            if let (Some(sentry), Some(gofer)) = (kid("rvisor-sentry"), kid("rvisor-gofer")) {
                return Some(Sandbox { launcher: l.pid, sentry, gofer, janitor: kid("rvisor-janitor") });
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Waits until `f` holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Cgroup directories named `name` anywhere under /sys/fs/cgroup (two levels of hierarchy).
pub fn cgroup_dirs_named(name: &str) -> Vec<String> {
    let mut found = Vec::new();
    fn walk(dir: &Path, name: &str, depth: usize, found: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            if e.file_name().to_str() == Some(name) {
                found.push(p.display().to_string());
            } else if depth > 0 {
                walk(&p, name, depth - 1, found);
            }
        }
    }
    walk(Path::new("/sys/fs/cgroup"), name, 4, &mut found);
    found
}
