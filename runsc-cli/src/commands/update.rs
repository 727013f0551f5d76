//! `rvisor update`: change a container's cgroup limits.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use oci_spec::runtime::LinuxResources;
use serde_json::json;

use crate::cgroups::{Cgroup, CgroupError};
use crate::container::Status;
use crate::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON file ("-": standard input).
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes.
    #[arg(long)]
    pub memory: Option<i64>,
    /// Memory reservation (soft limit) in bytes.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<i64>,
    /// Memory plus swap limit in bytes.
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<i64>,
    /// Maximum number of processes.
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs the container may use.
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Container id.
    pub id: String,
}

fn resources(a: &UpdateArgs) -> anyhow::Result<LinuxResources> {
    let mut v = match &a.resources {
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            }
            serde_json::from_str::<serde_json::Value>(&text).context("invalid resources JSON")?
        }
        None => json!({}),
    };
    let mut set = |section: &str, key: &str, val: serde_json::Value| {
        if !v[section].is_object() {
            v[section] = json!({});
        }
        v[section][key] = val;
    };
    if let Some(x) = a.memory {
        set("memory", "limit", x.into());
    }
    if let Some(x) = a.memory_reservation {
        set("memory", "reservation", x.into());
    }
    if let Some(x) = a.memory_swap {
        set("memory", "swap", x.into());
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", x.into());
    }
    if let Some(x) = a.cpu_shares {
        set("cpu", "shares", x.into());
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", x.into());
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", x.into());
    }
    if let Some(x) = &a.cpuset_cpus {
        set("cpu", "cpus", x.clone().into());
    }
    if let Some(x) = &a.cpuset_mems {
        set("cpu", "mems", x.clone().into());
    }
    serde_json::from_value(v).context("invalid resources")
}

pub fn run(g: &GlobalArgs, a: UpdateArgs) -> anyhow::Result<()> {
    let r = resources(&a)?;
    let (_dir, st) = super::open(&g.root, &a.id)?;
    super::require(
        &st,
        &[Status::Created, Status::Running, Status::Paused],
        "update needs a container that is not stopped",
    )?;
    anyhow::ensure!(!st.cgroups.is_empty(), CgroupError::None);
    Cgroup::from_dirs(st.cgroups.clone()).apply(&r)?;
    Ok(())
}
