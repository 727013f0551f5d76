//! cgroup v2 files.

use std::path::Path;

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use super::{io_err, read, write, CgroupError};

/// Creates the directory, enabling the controllers we set in every ancestor.
pub fn create(mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(mount).unwrap_or(dir);
    let mut cur = mount.to_path_buf();
    for c in rel.components() {
        let available = read(&cur.join("cgroup.controllers")).unwrap_or_default();
        let wanted: Vec<String> = available
            .split_whitespace()
            .filter(|c| matches!(*c, "cpu" | "cpuset" | "memory" | "pids"))
            .map(|c| format!("+{c}"))
            .collect();
        if !wanted.is_empty() {
            // Best effort: a parent with processes of its own cannot delegate.
            let _ = write(&cur.join("cgroup.subtree_control"), &wanted.join(" "));
        }
        cur.push(c);
        if !cur.exists() {
            std::fs::create_dir(&cur).or_else(|e| if cur.exists() { Ok(()) } else { Err(io_err(&cur, e)) })?;
        }
    }
    Ok(())
}

fn limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

pub fn apply(d: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let has = |f: &str| d.join(f).exists();
    if let Some(m) = r.memory() {
        if has("memory.max") {
            if let Some(l) = m.limit() {
                write(&d.join("memory.max"), &limit(l))?;
                if let (Some(s), true) = (m.swap(), has("memory.swap.max")) {
                    // v1's swap is memory+swap; v2 limits swap alone.
                    let swap = if s < 0 || l < 0 { "max".to_string() } else { (s - l).max(0).to_string() };
                    write(&d.join("memory.swap.max"), &swap)?;
                }
            }
            if let Some(res) = m.reservation() {
                write(&d.join("memory.low"), &limit(res))?;
            }
        }
    }
    if let Some(c) = r.cpu() {
        if has("cpu.weight") {
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                // runc's conversion of shares [2, 262144] to weight [1, 10000].
                let w = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
                write(&d.join("cpu.weight"), &w.to_string())?;
            }
        }
        if has("cpu.max") && (c.quota().is_some() || c.period().is_some()) {
            let quota = c.quota().filter(|&q| q > 0).map(|q| q.to_string()).unwrap_or_else(|| "max".into());
            let period = c.period().unwrap_or(100_000);
            write(&d.join("cpu.max"), &format!("{quota} {period}"))?;
        }
        if has("cpuset.cpus") {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(&d.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(&d.join("cpuset.mems"), mems)?;
            }
        }
    }
    if let Some(p) = r.pids() {
        if has("pids.max") {
            write(&d.join("pids.max"), &if p.limit() > 0 { p.limit().to_string() } else { "max".into() })?;
        }
    }
    for (k, v) in r.unified().iter().flatten() {
        if k.contains('/') || k.starts_with('.') {
            continue;
        }
        write(&d.join(k), v)?;
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

fn keyed(d: &Path, f: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for l in read(&d.join(f)).unwrap_or_default().lines() {
        if let Some((k, v)) = l.split_once(' ') {
            if let Ok(n) = v.parse::<u64>() {
                m.insert(k.to_string(), n.into());
            }
        }
    }
    m
}

pub fn stats(d: &Path, out: &mut Value) {
    let cpu = keyed(d, "cpu.stat");
    if let Some(u) = cpu.get("usage_usec").and_then(Value::as_u64) {
        let us = |k: &str| cpu.get(k).and_then(Value::as_u64).unwrap_or(0) * 1000;
        out["cpu"] = json!({"usage": {"total": u * 1000, "user": us("user_usec"), "kernel": us("system_usec")}, "throttling": {}});
    }
    if let Some(usage) = num(d, "memory.current") {
        let raw = keyed(d, "memory.stat");
        out["memory"] = json!({
            "cache": raw.get("file").cloned().unwrap_or(0.into()),
            "usage": {"usage": usage, "limit": num(d, "memory.max").unwrap_or(u64::MAX), "max": num(d, "memory.peak").unwrap_or(0)},
            "raw": raw,
        });
    }
    if let Some(current) = num(d, "pids.current") {
        out["pids"] = json!({"current": current, "limit": num(d, "pids.max").filter(|&m| m != u64::MAX).unwrap_or(0)});
    }
}
