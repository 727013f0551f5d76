//! `rvisor do`'s resource limits (--memory, --pids, --cpus), expressed as
//! the OCI resources the cgroup code applies, and the counters that say a
//! sandbox ran into one.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::CgroupError;

/// CFS period used for CPU limits.
const CPU_PERIOD_US: u64 = 100_000;

/// Resource limits of a sandbox (`None`: unlimited).
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
    pub fn validate(&self) -> Result<(), CgroupError> {
        if self.memory.is_some_and(|m| m < 4 << 20) {
            return Err(CgroupError::Invalid("memory must be at least 4 MiB".into()));
        }
        if self.memory.is_some_and(|m| m > i64::MAX as u64) || self.pids.is_some_and(|p| p > i64::MAX as u64) {
            return Err(CgroupError::Invalid("limit too large".into()));
        }
        if self.pids == Some(0) {
            return Err(CgroupError::Invalid("pids must be at least 1".into()));
        }
        if self.cpus.is_some_and(|c| !(c.is_finite() && (0.01..=1e6).contains(&c))) {
            return Err(CgroupError::Invalid("cpus must be at least 0.01".into()));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The same limits as OCI resources (memory+swap equal to memory: no swap).
    pub fn to_resources(&self) -> Result<LinuxResources, CgroupError> {
        let mut v = serde_json::json!({});
        if let Some(m) = self.memory {
            v["memory"] = serde_json::json!({ "limit": m, "swap": m });
        }
        if let Some(p) = self.pids {
            v["pids"] = serde_json::json!({ "limit": p });
        }
        if let Some(c) = self.cpus {
            let quota = ((c * CPU_PERIOD_US as f64) as u64).max(1000);
            v["cpu"] = serde_json::json!({ "quota": quota, "period": CPU_PERIOD_US });
        }
        serde_json::from_value(v).map_err(|e| CgroupError::Invalid(e.to_string()))
    }

    /// Files (v1, v2) that must exist for each requested limit to apply.
    pub(super) fn needed_files(&self) -> Vec<(&'static str, [&'static str; 2])> {
        let mut v = Vec::new();
        if self.memory.is_some() {
            v.push(("memory", ["memory.limit_in_bytes", "memory.max"]));
        }
        if self.pids.is_some() {
            v.push(("pids", ["pids.max", "pids.max"]));
        }
        if self.cpus.is_some() {
            v.push(("cpu", ["cpu.cfs_quota_us", "cpu.max"]));
        }
        v
    }
}

/// Parses "512", "64k", "100M", "2G" (binary units) into bytes.
pub fn parse_bytes(s: &str) -> Result<u64, CgroupError> {
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

/// How often a sandbox hit its limits (`None`: the host does not count it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitHits {
    /// Processes killed by the OOM killer inside the cgroup.
    pub oom_kills: Option<u64>,
    /// Forks refused because of the pids limit.
    pub pids_refused: Option<u64>,
}

/// `key value` lines (memory.events, memory.oom_control, pids.events).
fn keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Fills in what one cgroup directory counts.
pub(super) fn read_hits(dir: &Path, h: &mut LimitHits) {
    h.oom_kills = h
        .oom_kills
        .or_else(|| keyed(dir, "memory.events", "oom_kill"))
        .or_else(|| keyed(dir, "memory.oom_control", "oom_kill"));
    h.pids_refused = h.pids_refused.or_else(|| keyed(dir, "pids.events", "max"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_limits() {
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("64k").unwrap(), 64 << 10);
        assert_eq!(parse_bytes("100M").unwrap(), 100 << 20);
        assert_eq!(parse_bytes("2g").unwrap(), 2 << 30);
        assert!(parse_bytes("12x").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("99999999999999T").is_err());
        assert!(Limits { memory: Some(1 << 20), ..Default::default() }.validate().is_err());
        assert!(Limits { pids: Some(0), ..Default::default() }.validate().is_err());
        assert!(Limits { cpus: Some(f64::NAN), ..Default::default() }.validate().is_err());
        let l = Limits { memory: Some(64 << 20), pids: Some(32), cpus: Some(0.5) };
        l.validate().unwrap();
        let r = l.to_resources().unwrap();
        assert_eq!(r.memory().as_ref().and_then(|m| m.limit()), Some(64 << 20));
        assert_eq!(r.memory().as_ref().and_then(|m| m.swap()), Some(64 << 20));
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(32));
        assert_eq!(r.cpu().as_ref().and_then(|c| c.quota()), Some(50_000));
        assert_eq!(r.cpu().as_ref().and_then(|c| c.period()), Some(100_000));
    }
}
