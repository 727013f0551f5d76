//! `rvisor kill`: signal a container's init, or all its processes.

use anyhow::Context;
use rvisor_sentry::control::client::ControlError;
use rvisor_sentry::control::Request;

use crate::cgroups::Cgroup;
use crate::container::Status;
use crate::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container, not only init.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id.
    pub id: String,
    /// Signal name or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &GlobalArgs, a: KillArgs) -> anyhow::Result<()> {
    let sig = super::parse_signal(&a.signal)?;
    let (dir, st) = super::open(&g.root, &a.id)?;
    let status = super::require(
        &st,
        &[Status::Created, Status::Running, Status::Paused],
        "kill needs a container that is not stopped",
    )?;
    if status == Status::Paused {
        // A frozen sentry cannot answer: only SIGKILL, through the host.
        anyhow::ensure!(sig == libc::SIGKILL, "container {} is paused; only SIGKILL can reach it", a.id);
        Cgroup::from_dirs(st.cgroups.clone()).kill_all();
        st.sandbox.kill(libc::SIGKILL);
        return Ok(());
    }
    match super::connect(&dir)?.call(&Request::Kill { signal: sig, all: a.all }, &[]) {
        // The signal ended the sandbox before it could answer.
        Ok(_) | Err(ControlError::Closed) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("signalling container {}", a.id)),
    }
}
