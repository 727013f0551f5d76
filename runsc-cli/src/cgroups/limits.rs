//! Limit values, their cgroup files (v1 and v2) and usage statistics.

use std::path::Path;

use super::{read_file, write_file, CgroupError, Result, Version};

/// CFS period used for CPU limits.
const CPU_PERIOD_US: u64 = 100_000;

/// Resource limits of a sandbox (`None`: unlimited / unchanged).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Bytes of memory (swap is capped at zero on top of it where the host
    /// accounts swap, so the limit is not dodged by swapping).
    pub memory: Option<u64>,
    /// Processes and threads together (the sentry's own threads count too).
    pub pids: Option<u64>,
    /// CPUs' worth of time per period, e.g. 0.5.
    pub cpus: Option<f64>,
}

impl Limits {
    /// Checks the values are ones the kernel accepts.
    pub fn validate(&self) -> Result<()> {
        if self.memory.is_some_and(|m| m < 4 << 20) {
            return Err(CgroupError::Invalid("memory must be at least 4 MiB".into()));
        }
        if self.pids == Some(0) {
            return Err(CgroupError::Invalid("pids must be at least 1".into()));
        }
        if self.cpus.is_some_and(|c| !(c.is_finite() && c >= 0.01)) {
            return Err(CgroupError::Invalid("cpus must be at least 0.01".into()));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    fn cpu_quota_us(&self) -> Option<u64> {
        self.cpus.map(|c| ((c * CPU_PERIOD_US as f64) as u64).max(1000))
    }
}

/// Parses "512", "64k", "100M", "2G" (binary units) into bytes.
pub fn parse_bytes(s: &str) -> Result<u64> {
    let s = s.trim();
    let bad = || CgroupError::Invalid(format!("{s:?} is not a size (e.g. 512M, 2G)"));
    let (num, mult) = match s.char_indices().last().ok_or_else(bad)? {
        (i, c) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_lowercase() {
                'b' => 1,
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                _ => return Err(bad()),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(bad)
}

fn has(version: &Version, ctrl: &str, dir: &Path) -> bool {
    match version {
        Version::V1(c) => c.iter().any(|x| x == ctrl),
        Version::V2 => super::hierarchy::v2_controllers(dir).iter().any(|x| x == ctrl),
    }
}

/// Writes `limits` into the files of one cgroup directory.
pub(super) fn apply(dir: &Path, version: &Version, limits: &Limits) -> Result<()> {
    let v2 = *version == Version::V2;
    if let Some(mem) = limits.memory.filter(|_| has(version, "memory", dir)) {
        if v2 {
            write_file(&dir.join("memory.max"), &mem.to_string())?;
            let swap = dir.join("memory.swap.max");
            if swap.exists() {
                write_file(&swap, "0")?;
            }
        } else {
            // memsw (memory+swap) must stay >= the memory limit: lower order matters.
            let memsw = dir.join("memory.memsw.limit_in_bytes");
            let cur = read_file(&dir.join("memory.limit_in_bytes")).ok().and_then(|s| s.trim().parse::<u64>().ok());
            if memsw.exists() && cur.is_some_and(|c| c > mem) {
                write_file(&dir.join("memory.limit_in_bytes"), &mem.to_string())?;
                write_file(&memsw, &mem.to_string())?;
            } else {
                if memsw.exists() {
                    write_file(&memsw, &mem.to_string())?;
                }
                write_file(&dir.join("memory.limit_in_bytes"), &mem.to_string())?;
            }
        }
    }
    if let Some(pids) = limits.pids.filter(|_| has(version, "pids", dir)) {
        write_file(&dir.join("pids.max"), &pids.to_string())?;
    }
    if let Some(quota) = limits.cpu_quota_us().filter(|_| has(version, "cpu", dir)) {
        if v2 {
            write_file(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
        } else {
            write_file(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
            write_file(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
        }
    }
    Ok(())
}

/// Usage figures (`None` when the host does not provide one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub memory_bytes: Option<u64>,
    pub memory_peak_bytes: Option<u64>,
    /// Processes killed by the OOM killer inside the cgroup.
    pub oom_kills: Option<u64>,
    pub pids: Option<u64>,
    /// Forks refused because of the pids limit.
    pub pids_refused: Option<u64>,
    pub cpu_usage_ns: Option<u64>,
}

fn num(dir: &Path, file: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

/// `key value` lines (memory.events, cpu.stat, memory.oom_control, pids.events).
fn keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Fills in what one cgroup directory knows.
pub(super) fn read_stats(dir: &Path, version: &Version, s: &mut Stats) {
    if *version == Version::V2 {
        s.memory_bytes = s.memory_bytes.or_else(|| num(dir, "memory.current"));
        s.memory_peak_bytes = s.memory_peak_bytes.or_else(|| num(dir, "memory.peak"));
        s.oom_kills = s.oom_kills.or_else(|| keyed(dir, "memory.events", "oom_kill"));
        s.pids = s.pids.or_else(|| num(dir, "pids.current"));
        s.pids_refused = s.pids_refused.or_else(|| keyed(dir, "pids.events", "max"));
        s.cpu_usage_ns = s.cpu_usage_ns.or_else(|| keyed(dir, "cpu.stat", "usage_usec").map(|u| u * 1000));
        return;
    }
    if has(version, "memory", dir) {
        s.memory_bytes = num(dir, "memory.usage_in_bytes");
        s.memory_peak_bytes = num(dir, "memory.max_usage_in_bytes");
        s.oom_kills = keyed(dir, "memory.oom_control", "oom_kill");
    }
    if has(version, "pids", dir) {
        s.pids = num(dir, "pids.current");
        s.pids_refused = keyed(dir, "pids.events", "max");
    }
    if has(version, "cpuacct", dir) {
        s.cpu_usage_ns = num(dir, "cpuacct.usage");
    }
}
