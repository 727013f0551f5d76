//! /proc/[pid]/stat, status and statm.
//!
//! Identity (pids, names, owners, states, thread counts, limits) comes from
//! the sentry. Resource use (CPU times, faults, memory sizes, signal masks,
//! context switches) is the app's own host process's, copied number by
//! number from the host's files: nothing else of those files is passed on.

use std::sync::Arc;

use super::pid::{threads, Target};
use super::{boot_ticks, host_read, kernel};
use crate::kernel::task::{GroupState, MmLayout};
use crate::kernel::{current_task, Task};
use crate::vfs::{Errno, VfsResult};

/// Linux's PF_RANDOMIZE: every user process has it.
const PF_RANDOMIZE: u64 = 0x0040_0000;
/// Linux's PF_EXITING, set on zombies.
const PF_EXITING: u64 = 0x4;

/// A host stat file's fields after the command name: `field(n)` is Linux's
/// field number n (1-based), so field(14) is utime.
pub(super) struct HostStat(Vec<String>);

impl HostStat {
    pub fn read(dir: &str) -> Option<HostStat> {
        let text = host_read(&format!("{dir}/stat")).ok()?;
        let close = text.iter().rposition(|&b| b == b')')?;
        let rest = String::from_utf8_lossy(&text[close + 1..]).into_owned();
        Some(HostStat(rest.split_whitespace().map(str::to_string).collect()))
    }

    pub fn state(&self) -> char {
        self.0.first().and_then(|s| s.chars().next()).unwrap_or('S')
    }

    pub fn field(&self, n: usize) -> u64 {
        n.checked_sub(3).and_then(|i| self.0.get(i)).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    fn signed(&self, n: usize) -> i64 {
        n.checked_sub(3).and_then(|i| self.0.get(i)).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}

/// A host status file as (key, value) lines.
struct HostStatus(Vec<(String, String)>);

impl HostStatus {
    fn read(rel: &str) -> HostStatus {
        let text = host_read(rel).unwrap_or_default();
        HostStatus(
            String::from_utf8_lossy(&text)
                .lines()
                .filter_map(|l| l.split_once(':').map(|(k, v)| (k.to_string(), v.trim().to_string())))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// SigPnd, SigBlk, SigIgn and SigCgt as the app sees them: the host's,
    /// with what the platform keeps virtual (systrap's mask and SIGSYS).
    fn signal_sets(&self, task: Option<&Task>) -> (u64, u64, u64, u64) {
        let (blk, ign, cgt) = (self.sigset("SigBlk"), self.sigset("SigIgn"), self.sigset("SigCgt"));
        let (blk, ign, cgt) = match task {
            Some(t) => crate::kernel::systrap::proc_sigsets(t, blk, ign, cgt),
            None => (blk, ign, cgt),
        };
        (self.sigset("SigPnd"), blk, ign, cgt)
    }

    /// A signal set (hex) as a number.
    fn sigset(&self, key: &str) -> u64 {
        self.get(key).and_then(|v| u64::from_str_radix(v, 16).ok()).unwrap_or(0)
    }
}

/// Linux's task state: the letter and its name in status.
pub(super) fn state_name(c: char) -> &'static str {
    match c {
        'R' => "R (running)",
        'D' => "D (disk sleep)",
        'T' => "T (stopped)",
        't' => "t (tracing stop)",
        'Z' => "Z (zombie)",
        'X' => "X (dead)",
        _ => "S (sleeping)",
    }
}

/// The state of a thread (`task`, None once it ended). A task the sentry is
/// serving a syscall for is stopped on the host; to the app it runs in the
/// kernel until the call waits, and sleeps then.
pub(super) fn task_state(task: Option<&Arc<Task>>, st: &GroupState, host: Option<&HostStat>) -> char {
    if st.exit.is_some() {
        return 'Z';
    }
    let Some(task) = task else { return 'Z' };
    if st.stopped {
        return 'T';
    }
    if current_task().is_some_and(|c| Arc::ptr_eq(&c, task)) {
        return 'R';
    }
    if task.syscall_state.load(std::sync::atomic::Ordering::SeqCst) == crate::kernel::task::SYSCALL_SLEEPING {
        return 'S';
    }
    match host.map(HostStat::state) {
        Some('R') => 'R',
        // Sleeping in a call of the app's (passthrough, or injected by the
        // sentry), unless it only waits for the sentry.
        Some(s @ ('S' | 'D')) => {
            if waits_in_sentry_code(task) {
                'R'
            } else {
                s
            }
        }
        // A ptrace stop: the sentry is taking or serving a trapped call.
        Some('t') => 'R',
        _ => 'S',
    }
}

/// Whether a host thread the host calls sleeping waits for the sentry rather
/// than in a call of the app's. To the app it is runnable when it is:
/// * running again by now (woken between the two reads);
/// * parked in the stub (pause) before its first run, between two calls
///   the sentry injects (the injection loop's getpid), or in systrap's
///   handler (futex) while its call is taken and served. Calls the sentry
///   injects also run at the stub but are the app's (rt_sigtimedwait, say):
///   their numbers tell them apart;
/// * in app code, in a call the host does not run for it: the call is on its
///   way to the sentry or back (a trapped call, a stop).
fn waits_in_sentry_code(task: &Task) -> bool {
    use crate::platform::stub::STUB_BASE;
    use crate::platform::systrap::{CHUNK, REGION_BASE, REGION_CHUNKS};
    let dir = format!("{}/task/{}/syscall", task.tg.host_pid(), task.host_tid());
    let Ok(text) = host_read(&dir) else { return false };
    // "NR ARG1..ARG6 SP PC" in a call, "-1 SP PC" blocked outside one,
    // "running" otherwise.
    let text = String::from_utf8_lossy(&text);
    let mut fields = text.split_whitespace();
    let Some(first) = fields.next() else { return false };
    if first == "running" {
        return true;
    }
    let Ok(nr) = first.parse::<i64>() else { return false };
    let Some(pc) = fields.last().and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()) else {
        return false;
    };
    let stub = STUB_BASE..STUB_BASE + 0x10000;
    let region = REGION_BASE..REGION_BASE + (CHUNK * REGION_CHUNKS) as u64;
    if stub.contains(&pc) || region.contains(&pc) {
        return nr == libc::SYS_pause || nr == libc::SYS_futex || nr as u64 == crate::platform::stub::PARK_NR;
    }
    !crate::platform::filter::PASSTHROUGH.iter().any(|p| p.nr == nr)
}

/// Threads Linux counts: live ones, plus a leader that ended before them
/// (it stays until the process ends); a zombie process counts one.
fn thread_count(st: &GroupState) -> usize {
    if st.exit.is_some() {
        return 1;
    }
    st.live_threads + usize::from(st.leader_exit.is_some())
}

fn ppid(t: &Target) -> i32 {
    t.group().ok().and_then(|g| g.parent()).map(|p| p.tgid).unwrap_or(0)
}

pub(super) fn stat(t: &Target) -> VfsResult<Vec<u8>> {
    let g = t.group()?;
    let host = t.host_dir().and_then(|d| HostStat::read(&d));
    let status = t.host_dir().map(|d| HostStatus::read(&format!("{d}/status")));
    // Task lookups take the pid table's lock: never under the group's.
    let task = t.task();
    // Before the group's lock: the SIGSYS disposition takes it.
    let sigs = status.as_ref().map(|s| s.signal_sets(task.as_deref()));
    let st = g.lock();
    let state = task_state(task.as_ref(), &st, host.as_ref());
    let zombie = state == 'Z';
    let h = |n: usize| if zombie { 0 } else { host.as_ref().map_or(0, |h| h.field(n)) };
    let hs = |n: usize| host.as_ref().map_or(0, |h| h.signed(n));
    let sig = |k: &str| {
        let v = match (k, &sigs) {
            (_, None) => 0,
            ("SigPnd", Some(s)) => s.0,
            ("SigBlk", Some(s)) => s.1,
            ("SigIgn", Some(s)) => s.2,
            (_, Some(s)) => s.3,
        };
        if zombie {
            0
        } else {
            v & 0x7fff_ffff
        }
    };
    let m = if zombie { MmLayout::default() } else { st.image.layout };
    let start = host.as_ref().map_or(0, |h| h.field(22)).saturating_sub(boot_ticks());
    let flags = PF_RANDOMIZE | if zombie { PF_EXITING } else { 0 };
    // Threads report -1: only a process's end signals its parent.
    let exit_signal = if t.thread && t.tid != t.tgid { -1 } else { libc::SIGCHLD };
    let exit_code = st.exit.map(|e| e.wait_status()).unwrap_or(0);
    let rsslim = st.rlimits[libc::RLIMIT_RSS as usize].rlim_cur;
    let (pgid, sid, threads) = (st.pgid, st.sid, thread_count(&st));
    let brk_start = if zombie { 0 } else { st.image.brk_start };
    drop(st);
    let (tty_nr, tpgid) = crate::fs::pty::stat_tty(sid);
    let comm = String::from_utf8_lossy(&t.comm()).into_owned();
    let fields: Vec<String> = vec![
        state.to_string(),
        ppid(t).to_string(),
        pgid.to_string(),
        sid.to_string(),
        tty_nr.to_string(),
        tpgid.to_string(),
        flags.to_string(),
        h(10).to_string(), // minflt
        h(11).to_string(),
        h(12).to_string(),
        h(13).to_string(),
        h(14).to_string(), // utime
        h(15).to_string(),
        h(16).to_string(),
        h(17).to_string(),
        if zombie { 20 } else { hs(18) }.to_string(), // priority
        if zombie { 0 } else { hs(19) }.to_string(),  // nice
        threads.to_string(),
        "0".into(), // itrealvalue
        start.to_string(),
        h(23).to_string(), // vsize
        h(24).to_string(), // rss
        rsslim.to_string(),
        m.start_code.to_string(),
        m.end_code.to_string(),
        m.start_stack.to_string(),
        "0".into(), // kstkesp
        "0".into(), // kstkeip
        sig("SigPnd").to_string(),
        sig("SigBlk").to_string(),
        sig("SigIgn").to_string(),
        sig("SigCgt").to_string(),
        "0".into(), // wchan
        "0".into(),
        "0".into(),
        exit_signal.to_string(),
        h(39).to_string(), // processor
        h(40).to_string(), // rt_priority
        h(41).to_string(), // policy
        h(42).to_string(),
        h(43).to_string(),
        h(44).to_string(),
        m.start_data.to_string(),
        m.end_data.to_string(),
        brk_start.to_string(),
        m.arg_start.to_string(),
        m.arg_end.to_string(),
        m.env_start.to_string(),
        m.env_end.to_string(),
        exit_code.to_string(),
    ];
    Ok(format!("{} ({comm}) {}\n", t.tid, fields.join(" ")).into_bytes())
}

/// A comm as status shows it: newline and backslash escaped.
fn escape_name(name: &[u8]) -> String {
    let mut out = String::new();
    for &b in name {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            _ => out.push(b as char),
        }
    }
    out
}

/// Size of a code range in kB, as Linux's VmExe.
fn code_kb(m: &MmLayout) -> u64 {
    let end = m.end_code.saturating_add(4095) & !4095;
    end.saturating_sub(m.start_code & !4095) >> 10
}

/// Memory lines of status, copied from the host's (they describe the app's
/// own host process); VmExe/VmLib split as the sandbox loaded the image.
const MEM_KEYS: &[&str] = &[
    "VmPeak",
    "VmSize",
    "VmLck",
    "VmPin",
    "VmHWM",
    "VmRSS",
    "RssAnon",
    "RssFile",
    "RssShmem",
    "VmData",
    "VmStk",
    "VmExe",
    "VmLib",
    "VmPTE",
    "VmSwap",
    "HugetlbPages",
];

fn kb_value(v: &str) -> u64 {
    v.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

pub(super) fn status(t: &Target) -> VfsResult<Vec<u8>> {
    let g = t.group()?;
    let host = t.host_dir().and_then(|d| HostStat::read(&d));
    let hs = t.host_dir().map(|d| HostStatus::read(&format!("{d}/status"))).unwrap_or(HostStatus(Vec::new()));
    // The sandbox's CPUs and memory nodes are the sentry's own.
    let me = HostStatus::read("self/status");
    let task = t.task();
    // Before the group's lock: the SIGSYS disposition takes it.
    let (pnd, blk, ign, cgt) = hs.signal_sets(task.as_deref());
    let st = g.lock();
    let state = task_state(task.as_ref(), &st, host.as_ref());
    let zombie = state == 'Z';
    let layout = st.image.layout;
    let threads = thread_count(&st);
    let (pgid, sid) = (st.pgid, st.sid);
    let sigq_limit = st.rlimits[libc::RLIMIT_SIGPENDING as usize].rlim_cur;
    let snapshot = st.leader_exit.clone();
    let no_new_privs = st.no_new_privs;
    // mlock is the sandbox's own accounting (nothing is pinned on the host).
    let locked_kb = (!st.mlock.all).then(|| st.mlock.ranges.iter().map(|(a, b)| b - a).sum::<u64>() >> 10);
    drop(st);
    let (creds, umask) = match (&task, snapshot) {
        (Some(task), _) => (task.creds(), Some(task.fs().umask())),
        (None, Some(s)) => (s.creds, None),
        (None, None) => return Err(Errno::ESRCH),
    };
    let fd_size = task.as_ref().map_or(0, |task| {
        let top = task.files().list().last().map_or(0, |(fd, _)| *fd as usize + 1);
        top.max(64).next_power_of_two()
    });
    let mut o = String::new();
    let mut line = |k: &str, v: &str| {
        o.push_str(k);
        o.push_str(":\t");
        o.push_str(v);
        o.push('\n');
    };
    line("Name", &escape_name(&t.comm()));
    if let Some(u) = umask.filter(|_| !zombie) {
        line("Umask", &format!("{u:04o}"));
    }
    line("State", state_name(state));
    line("Tgid", &t.tgid.to_string());
    line("Ngid", "0");
    line("Pid", &t.tid.to_string());
    line("PPid", &ppid(t).to_string());
    // Never the sentry, although it traces every task.
    line("TracerPid", "0");
    line("Uid", &format!("{}\t{}\t{}\t{}", creds.ruid, creds.euid, creds.suid, creds.fsuid));
    line("Gid", &format!("{}\t{}\t{}\t{}", creds.rgid, creds.egid, creds.sgid, creds.fsgid));
    line("FDSize", &fd_size.to_string());
    let groups: String = creds.groups.iter().map(|g| format!("{g} ")).collect();
    line("Groups", if groups.is_empty() { " " } else { &groups });
    line("NStgid", &t.tgid.to_string());
    line("NSpid", &t.tid.to_string());
    line("NSpgid", &pgid.to_string());
    line("NSsid", &sid.to_string());
    line("Kthread", "0");
    if !zombie {
        let exe_kb = code_kb(&layout);
        for key in MEM_KEYS {
            let host_kb = kb_value(hs.get(key).unwrap_or("0"));
            let kb = match *key {
                "VmExe" => exe_kb,
                "VmLck" => locked_kb.unwrap_or_else(|| kb_value(hs.get("VmSize").unwrap_or("0"))),
                "VmLib" => (host_kb + kb_value(hs.get("VmExe").unwrap_or("0"))).saturating_sub(exe_kb),
                _ => host_kb,
            };
            line(key, &format!("{kb:>8} kB"));
        }
        line("CoreDumping", "0");
        line("THP_enabled", hs.get("THP_enabled").unwrap_or("1"));
    }
    line("Threads", &threads.to_string());
    // The host's count is its user's across the host: count this process's own.
    let queued = if zombie { 0 } else { (hs.sigset("SigPnd") | hs.sigset("ShdPnd")).count_ones() };
    line("SigQ", &format!("{queued}/{sigq_limit}"));
    let shd = hs.sigset("ShdPnd");
    for (key, v) in [("SigPnd", pnd), ("ShdPnd", shd), ("SigBlk", blk), ("SigIgn", ign), ("SigCgt", cgt)] {
        let v = if zombie { 0 } else { v };
        line(key, &format!("{v:016x}"));
    }
    let c = creds.caps;
    line("CapInh", &format!("{:016x}", c.inheritable));
    line("CapPrm", &format!("{:016x}", c.permitted));
    line("CapEff", &format!("{:016x}", c.effective));
    line("CapBnd", &format!("{:016x}", c.bounding));
    line("CapAmb", &format!("{:016x}", 0));
    line("NoNewPrivs", if no_new_privs { "1" } else { "0" });
    // The app's own seccomp mode, not the sandbox's filter (as gVisor shows
    // it): the app cannot install filters of its own, so it is 0.
    line("Seccomp", "0");
    line("Seccomp_filters", "0");
    for key in ["Cpus_allowed", "Cpus_allowed_list", "Mems_allowed", "Mems_allowed_list"] {
        if let Some(v) = me.get(key) {
            line(key, v);
        }
    }
    for key in ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"] {
        line(key, if zombie { "0" } else { hs.get(key).unwrap_or("0") });
    }
    Ok(o.into_bytes())
}

pub(super) fn statm(t: &Target) -> VfsResult<Vec<u8>> {
    let g = t.group()?;
    let Some((layout, _)) = t.memory() else { return Ok(b"0 0 0 0 0 0 0\n".to_vec()) };
    let _ = g;
    let host = t.host_dir().and_then(|d| host_read(&format!("{d}/statm")).ok()).unwrap_or_default();
    let mut v: Vec<u64> = String::from_utf8_lossy(&host).split_whitespace().map(|s| s.parse().unwrap_or(0)).collect();
    v.resize(7, 0);
    // size resident shared text lib data dt: text is the loaded program's code.
    v[3] = code_kb(&layout) / 4;
    Ok(format!("{} {} {} {} 0 {} 0\n", v[0], v[1], v[2], v[3], v[5]).into_bytes())
}

/// Tasks of the sandbox in the running state (for loadavg and /proc/stat).
pub(super) fn running_tasks() -> usize {
    let Ok(k) = kernel() else { return 1 };
    let mut n = 0;
    for g in k.all_groups() {
        for task in threads(&g) {
            let me = current_task().is_some_and(|c| Arc::ptr_eq(&c, &task));
            let host = format!("{}/task/{}", g.host_pid(), task.host_tid());
            if me || HostStat::read(&host).is_some_and(|h| h.state() == 'R') {
                n += 1;
            }
        }
    }
    n.max(1)
}
