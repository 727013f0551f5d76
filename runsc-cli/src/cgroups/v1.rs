//! cgroup v1 files.

use std::path::Path;

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use super::{io_err, read, write, CgroupError};

/// Creates a cpuset cgroup: every new level copies cpus and mems from its
/// parent, or tasks could not join it.
pub fn create_cpuset(mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(mount).unwrap_or(dir);
    let mut cur = mount.to_path_buf();
    for c in rel.components() {
        let parent = cur.clone();
        cur.push(c);
        if !cur.exists() {
            std::fs::create_dir(&cur).or_else(|e| if cur.exists() { Ok(()) } else { Err(io_err(&cur, e)) })?;
        }
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if read(&cur.join(f)).map(|v| v.is_empty()).unwrap_or(false) {
                write(&cur.join(f), &read(&parent.join(f))?)?;
            }
        }
    }
    Ok(())
}

fn has(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

pub fn apply(d: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        if has(d, "memory.limit_in_bytes") {
            if let Some(limit) = m.limit() {
                let swap = m.swap();
                let memsw = d.join("memory.memsw.limit_in_bytes");
                // memory <= memory+swap must hold after each write: order them.
                if write(&d.join("memory.limit_in_bytes"), &limit.to_string()).is_err() {
                    if let Some(s) = swap {
                        write(&memsw, &s.to_string())?;
                    }
                    write(&d.join("memory.limit_in_bytes"), &limit.to_string())?;
                } else if let Some(s) = swap {
                    if memsw.exists() {
                        write(&memsw, &s.to_string())?;
                    }
                }
            }
            if let Some(res) = m.reservation() {
                write(&d.join("memory.soft_limit_in_bytes"), &res.to_string())?;
            }
            if let Some(s) = m.swappiness() {
                write(&d.join("memory.swappiness"), &s.to_string())?;
            }
        }
    }
    if let Some(c) = r.cpu() {
        if has(d, "cpu.shares") {
            if let Some(s) = c.shares() {
                write(&d.join("cpu.shares"), &s.to_string())?;
            }
            if let Some(p) = c.period() {
                write(&d.join("cpu.cfs_period_us"), &p.to_string())?;
            }
            if let Some(q) = c.quota() {
                write(&d.join("cpu.cfs_quota_us"), &q.to_string())?;
            }
        }
        if has(d, "cpuset.cpus") {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(&d.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(&d.join("cpuset.mems"), mems)?;
            }
        }
    }
    if let Some(p) = r.pids() {
        if has(d, "pids.max") {
            let v = if p.limit() > 0 { p.limit().to_string() } else { "max".into() };
            write(&d.join("pids.max"), &v)?;
        }
    }
    Ok(())
}

fn num(d: &Path, f: &str) -> Option<u64> {
    let v = read(&d.join(f)).ok()?;
    if v == "max" {
        return Some(u64::MAX);
    }
    v.parse().ok()
}

pub fn stats(d: &Path, out: &mut Value) {
    if let Some(total) = num(d, "cpuacct.usage") {
        let percpu: Vec<u64> = read(&d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let (mut user, mut system) = (0u64, 0u64);
        for l in read(&d.join("cpuacct.stat")).unwrap_or_default().lines() {
            // USER_HZ ticks -> nanoseconds.
            match l.split_once(' ') {
                Some(("user", v)) => user = v.parse::<u64>().unwrap_or(0) * 10_000_000,
                Some(("system", v)) => system = v.parse::<u64>().unwrap_or(0) * 10_000_000,
                _ => {}
            }
        }
        out["cpu"] =
            json!({"usage": {"total": total, "percpu": percpu, "user": user, "kernel": system}, "throttling": {}});
    }
    if let Some(usage) = num(d, "memory.usage_in_bytes") {
        let mut raw = serde_json::Map::new();
        for l in read(&d.join("memory.stat")).unwrap_or_default().lines() {
            if let Some((k, v)) = l.split_once(' ') {
                if let Ok(n) = v.parse::<u64>() {
                    raw.insert(k.to_string(), n.into());
                }
            }
        }
        out["memory"] = json!({
            "cache": raw.get("cache").cloned().unwrap_or(0.into()),
            "usage": {
                "usage": usage,
                "max": num(d, "memory.max_usage_in_bytes").unwrap_or(0),
                "limit": num(d, "memory.limit_in_bytes").unwrap_or(0),
                "failcnt": num(d, "memory.failcnt").unwrap_or(0),
            },
            "raw": raw,
        });
    }
    if let Some(current) = num(d, "pids.current") {
        out["pids"] = json!({"current": current, "limit": num(d, "pids.max").filter(|&m| m != u64::MAX).unwrap_or(0)});
    }
}
