//! `rvisor ps`: a container's processes.

use rvisor_sentry::control::{ProcInfo, Request, Response};

use crate::cgroups::Cgroup;
use crate::container::Status;
use crate::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Output format.
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Container id.
    pub id: String,
    /// Accepted for runc compatibility (ps(1) options).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(g: &GlobalArgs, a: PsArgs) -> anyhow::Result<()> {
    let (dir, st) = super::open(&g.root, &a.id)?;
    let status = super::require(
        &st,
        &[Status::Created, Status::Running, Status::Paused],
        "ps needs a container that is not stopped",
    )?;
    let procs: Vec<ProcInfo> = if status == Status::Paused {
        // The frozen sentry cannot answer; the cgroup still knows the host pids.
        Cgroup::from_dirs(st.cgroups.clone())
            .pids()
            .into_iter()
            .map(|p| ProcInfo { pid: 0, ppid: 0, host_pid: p, uid: 0, cmd: String::new() })
            .collect()
    } else {
        match super::connect(&dir)?.call(&Request::Ps, &[])? {
            Response::Ps { processes } => to_host_pids(processes, st.sentry.pid),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    };
    if a.format == "json" {
        // runc prints the host pids.
        let pids: Vec<i32> = procs.iter().map(|p| p.host_pid).collect();
        println!("{}", serde_json::to_string(&pids)?);
    } else {
        println!("{:<8} {:<8} {:<8} {:<10} CMD", "UID", "PID", "PPID", "HOST-PID");
        for p in procs {
            println!("{:<8} {:<8} {:<8} {:<10} {}", p.uid, p.pid, p.ppid, p.host_pid, p.cmd);
        }
    }
    Ok(())
}

/// The sentry knows its processes' pids in its own pid namespace; engines
/// want the host's. /proc/N/status's NSpid line has both.
fn to_host_pids(mut procs: Vec<ProcInfo>, sentry: i32) -> Vec<ProcInfo> {
    let Ok(ns) = std::fs::read_link(format!("/proc/{sentry}/ns/pid")) else { return procs };
    let mut map = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if std::fs::read_link(e.path().join("ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        if let Some(inner) =
            status.lines().find_map(|l| l.strip_prefix("NSpid:")).and_then(|l| l.split_whitespace().last())
        {
            if let Ok(inner) = inner.parse::<i32>() {
                map.insert(inner, pid);
            }
        }
    }
    for p in &mut procs {
        if let Some(h) = map.get(&p.host_pid) {
            p.host_pid = *h;
        }
    }
    procs
}
