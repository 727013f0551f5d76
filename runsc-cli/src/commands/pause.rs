//! `rvisor pause` / `rvisor resume`: freeze and thaw the whole sandbox
//! through its cgroup's freezer.

use crate::cgroups::Cgroup;
use crate::container::Status;
use crate::GlobalArgs;

pub fn pause(g: &GlobalArgs, id: &str) -> anyhow::Result<()> {
    let (dir, mut st) = super::open(&g.root, id)?;
    super::require(&st, &[Status::Running], "pause needs a running container")?;
    Cgroup::from_dirs(st.cgroups.clone()).set_frozen(true)?;
    st.status = Status::Paused;
    dir.save(&st)?;
    Ok(())
}

pub fn resume(g: &GlobalArgs, id: &str) -> anyhow::Result<()> {
    let (dir, mut st) = super::open(&g.root, id)?;
    super::require(&st, &[Status::Paused], "resume needs a paused container")?;
    Cgroup::from_dirs(st.cgroups.clone()).set_frozen(false)?;
    st.status = Status::Running;
    dir.save(&st)?;
    Ok(())
}
