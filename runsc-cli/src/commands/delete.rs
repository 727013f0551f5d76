//! `rvisor delete`: remove a stopped (or, with --force, any) container and
//! everything it left on the host.

use std::time::{Duration, Instant};

use crate::cgroups::Cgroup;
use crate::container::{ContainerDir, State, Status};
use crate::{hooks, GlobalArgs};

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container first if it is still running.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id.
    pub id: String,
}

pub fn run(g: &GlobalArgs, a: DeleteArgs) -> anyhow::Result<()> {
    let dir = match ContainerDir::open(&g.root, &a.id) {
        Ok(d) => d,
        // Nothing to delete is no error for --force (runc's behaviour).
        Err(crate::container::ContainerError::NotFound(_)) if a.force => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let st = match dir.load() {
        Ok(st) => st,
        Err(e) if a.force => {
            tracing::warn!(error = %e, "removing a container whose state is unreadable");
            dir.remove()?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    if !a.force {
        super::require(&st, &[Status::Stopped, Status::Created], "delete needs a stopped container (or --force)")?;
    }
    destroy(dir, &st)
}

/// Kills whatever is left of the sandbox, removes its cgroup, runs the
/// poststop hooks and removes the state.
pub fn destroy(dir: ContainerDir, st: &State) -> anyhow::Result<()> {
    for p in [&st.sandbox, &st.sentry, &st.gofer] {
        p.kill(libc::SIGKILL);
    }
    let cg = Cgroup::from_dirs(st.cgroups.clone());
    cg.kill_all();
    let deadline = Instant::now() + Duration::from_secs(5);
    while [&st.sandbox, &st.sentry, &st.gofer].iter().any(|p| p.alive()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let errs = cg.destroy();
    let mut stopped = st.clone();
    stopped.status = Status::Stopped;
    if let Err(e) = hooks::run("poststop", &st.poststop, &stopped.oci_json()) {
        tracing::warn!(error = %e, "poststop hook failed");
    }
    dir.remove()?;
    if let Some(e) = errs.into_iter().next() {
        return Err(e.into());
    }
    Ok(())
}
