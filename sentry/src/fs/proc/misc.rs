//! Global /proc files: meminfo, cpuinfo, stat, uptime, loadavg, version,
//! filesystems, and the mount lists of /proc/[pid]/mounts and mountinfo.
//!
//! Times count from the sandbox's boot (the sentry's start), as sysinfo(2)
//! and times(2) count them. Memory and CPU descriptions are the host's, as sysinfo(2) and the
//! CPUID instruction already show them to the app.

use std::collections::HashMap;
use std::sync::Mutex;

use super::pid::threads;
use super::stat::{running_tasks, HostStat};
use super::{host_read, kernel, uptime_ticks, HZ};
use crate::vfs::path::path_of;
use crate::vfs::{Location, VfsResult};

fn host_uname() -> (String, String) {
    // SAFETY: zeroed utsname is a valid out-buffer.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is valid.
    unsafe { libc::uname(&mut u) };
    let s = |f: &[libc::c_char]| f.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect::<String>();
    (s(&u.release), s(&u.version))
}

/// The release and version uname(2) reports.
pub(super) fn release() -> String {
    host_uname().0
}

pub(super) fn kernel_version() -> String {
    host_uname().1
}

fn host_sysinfo() -> libc::sysinfo {
    // SAFETY: zeroed sysinfo is a valid out-buffer.
    let mut h: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: h is valid.
    unsafe { libc::sysinfo(&mut h) };
    h
}

fn ncpus() -> u64 {
    // The sandbox's CPUs (sysconf would open /sys: the sentry opens no host path).
    crate::kernel::sandbox_cpus().len().max(1) as u64
}

pub(super) fn meminfo() -> VfsResult<Vec<u8>> {
    if let Ok(host) = host_read("meminfo") {
        return Ok(host);
    }
    let h = host_sysinfo();
    let kb = |v: u64| v * h.mem_unit as u64 / 1024;
    let rows = [
        ("MemTotal", kb(h.totalram)),
        ("MemFree", kb(h.freeram)),
        ("MemAvailable", kb(h.freeram + h.bufferram)),
        ("Buffers", kb(h.bufferram)),
        ("Cached", 0),
        ("SwapTotal", kb(h.totalswap)),
        ("SwapFree", kb(h.freeswap)),
    ];
    Ok(rows.iter().map(|(k, v)| format!("{:<16}{v:>8} kB\n", format!("{k}:"))).collect::<String>().into_bytes())
}

pub(super) fn cpuinfo() -> VfsResult<Vec<u8>> {
    if let Ok(host) = crate::confine::host_cpuinfo() {
        return Ok(host);
    }
    // No host copy: the sandbox's CPUs with a generic model.
    let n = ncpus();
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: rvisor virtual CPU\ncpu MHz\t\t: 2000.000\n\
             core id\t\t: {i}\ncpu cores\t: {n}\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2\n\n"
        ));
    }
    Ok(out.into_bytes())
}

/// CPU ticks the sandbox's processes have used, never decreasing: live
/// processes as the host counts them, exited ones as last seen.
#[derive(Default)]
struct CpuUse {
    live: HashMap<(i32, i32), (u64, u64)>,
    gone: (u64, u64),
}

static CPU_USE: Mutex<Option<CpuUse>> = Mutex::new(None);

/// (user, system) ticks of the whole sandbox.
fn busy_ticks() -> (u64, u64) {
    let mut now = HashMap::new();
    if let Ok(k) = kernel() {
        for g in k.all_groups() {
            let host = g.host_pid();
            if host <= 0 || g.lock().exit.is_some() {
                continue;
            }
            if let Some(h) = HostStat::read(&host.to_string()) {
                now.insert((g.tgid, host), (h.field(14), h.field(15)));
            }
        }
    }
    let mut guard = CPU_USE.lock().unwrap_or_else(|e| e.into_inner());
    let acc = guard.get_or_insert_with(CpuUse::default);
    for (key, (u, s)) in acc.live.drain() {
        if !now.contains_key(&key) {
            acc.gone.0 += u;
            acc.gone.1 += s;
        }
    }
    let mut total = acc.gone;
    for (key, &(u, s)) in &now {
        total.0 += u;
        total.1 += s;
        acc.live.insert(*key, (u, s));
    }
    total
}

/// Idle ticks summed over the CPUs, as /proc/stat and /proc/uptime count them.
fn idle_ticks(busy: (u64, u64)) -> u64 {
    (uptime_ticks() * ncpus()).saturating_sub(busy.0 + busy.1)
}

pub(super) fn uptime() -> VfsResult<Vec<u8>> {
    let up = uptime_ticks();
    let idle = idle_ticks(busy_ticks());
    Ok(format!("{}.{:02} {}.{:02}\n", up / HZ, up % HZ, idle / HZ, idle % HZ).into_bytes())
}

fn cpu_line(name: &str, user: u64, system: u64, idle: u64) -> String {
    format!("{name} {user} 0 {system} {idle} 0 0 0 0 0 0\n")
}

/// The highest pid in use (Linux shows the last one allocated).
fn last_pid() -> i32 {
    kernel()
        .map(|k| k.pids.lock().unwrap_or_else(|e| e.into_inner()).tasks.keys().copied().max().unwrap_or(1))
        .unwrap_or(1)
}

pub(super) fn stat() -> VfsResult<Vec<u8>> {
    let busy = busy_ticks();
    let idle = idle_ticks(busy);
    let n = ncpus();
    let mut out = cpu_line("cpu ", busy.0, busy.1, idle);
    for i in 0..n {
        // The totals spread over the CPUs; the first takes the remainder.
        let share = |v: u64| v / n + if i == 0 { v % n } else { 0 };
        out.push_str(&cpu_line(&format!("cpu{i}"), share(busy.0), share(busy.1), share(idle)));
    }
    let boot = uptime_ticks() / HZ;
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    out.push_str("intr 0\nctxt 0\n");
    out.push_str(&format!("btime {}\n", wall.saturating_sub(boot)));
    out.push_str(&format!("processes {}\n", last_pid()));
    out.push_str(&format!("procs_running {}\nprocs_blocked 0\n", running_tasks()));
    out.push_str("softirq 0 0 0 0 0 0 0 0 0 0 0\n");
    Ok(out.into_bytes())
}

/// A load average (fixed point, 16 fraction bits) as Linux prints it.
pub(super) fn load(v: u64) -> String {
    let v = v + (1 << 16) / 200;
    format!("{}.{:02}", v >> 16, ((v & 0xffff) * 100) >> 16)
}

pub(super) fn loadavg() -> VfsResult<Vec<u8>> {
    let h = host_sysinfo();
    let tasks = kernel().map(|k| k.all_groups().iter().map(|g| threads(g).len()).sum::<usize>()).unwrap_or(1);
    Ok(format!(
        "{} {} {} {}/{} {}\n",
        load(h.loads[0]),
        load(h.loads[1]),
        load(h.loads[2]),
        running_tasks(),
        tasks.max(1),
        last_pid()
    )
    .into_bytes())
}

pub(super) fn version() -> VfsResult<Vec<u8>> {
    Ok(format!("Linux version {} (root@localhost) (gcc) {}\n", release(), kernel_version()).into_bytes())
}

/// The file system types the sandbox provides.
pub(super) fn filesystems() -> VfsResult<Vec<u8>> {
    let mut types: Vec<String> = ["proc", "tmpfs", "devtmpfs"].iter().map(|s| s.to_string()).collect();
    for m in kernel()?.mounts.all() {
        if !types.contains(&m.fstype) {
            types.push(m.fstype.clone());
        }
    }
    Ok(types.iter().map(|t| format!("nodev\t{t}\n")).collect::<String>().into_bytes())
}

/// Escapes space, tab, newline and backslash in octal, as Linux does in mount lists.
pub(super) fn escape_mount(s: &[u8]) -> String {
    let mut out = String::new();
    for &b in s {
        match b {
            b' ' | b'\t' | b'\n' | b'\\' => out.push_str(&format!("\\{b:03o}")),
            _ => out.push(b as char),
        }
    }
    out
}

fn mount_opts(f: &crate::vfs::dentry::MountFlags) -> String {
    let mut o = String::from(if f.readonly { "ro" } else { "rw" });
    for (set, name) in [(f.nosuid, ",nosuid"), (f.nodev, ",nodev"), (f.noexec, ",noexec")] {
        if set {
            o.push_str(name);
        }
    }
    o.push_str(",relatime");
    o
}

/// Mounts visible from `root`, with their paths as seen from it.
fn visible_mounts(root: &Location) -> VfsResult<Vec<(std::sync::Arc<crate::vfs::Mount>, Vec<u8>)>> {
    let mut v = Vec::new();
    for m in kernel()?.mounts.all() {
        let at = Location::new(m.clone(), m.root.clone());
        let (path, reachable) = path_of(&at, root);
        if reachable {
            v.push((m, path));
        }
    }
    Ok(v)
}

pub(super) fn mounts(root: &Location) -> VfsResult<Vec<u8>> {
    let mut out = String::new();
    for (m, path) in visible_mounts(root)? {
        let src = escape_mount(m.source.as_bytes());
        out.push_str(&format!("{src} {} {} {} 0 0\n", escape_mount(&path), m.fstype, mount_opts(&m.flags)));
    }
    Ok(out.into_bytes())
}

pub(super) fn mountinfo(root: &Location) -> VfsResult<Vec<u8>> {
    let mut out = String::new();
    for (m, path) in visible_mounts(root)? {
        let parent = m.mountpoint.as_ref().map(|(p, _)| p.id).unwrap_or(0);
        let dev = Location::new(m.clone(), m.root.clone()).attr().map(|a| a.dev).unwrap_or(0);
        let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
        let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
        let sb = if m.flags.readonly { "ro" } else { "rw" };
        out.push_str(&format!(
            "{} {parent} {major}:{minor} / {} {} - {} {} {sb}\n",
            m.id,
            escape_mount(&path),
            mount_opts(&m.flags),
            m.fstype,
            escape_mount(m.source.as_bytes()),
        ));
    }
    Ok(out.into_bytes())
}
