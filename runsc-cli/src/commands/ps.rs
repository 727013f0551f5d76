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
            Response::Ps { processes } => processes,
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
