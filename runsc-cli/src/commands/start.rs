//! `rvisor start`: run a created container's init.

use anyhow::Context;
use rvisor_sentry::control::Request;

use crate::container::Status;
use crate::{hooks, GlobalArgs};

pub fn run(g: &GlobalArgs, id: &str) -> anyhow::Result<()> {
    let (dir, mut st) = super::open(&g.root, id)?;
    super::require(&st, &[Status::Created], "start needs a created container")?;
    hooks::run("startContainer", &st.start_container, &st.oci_json())?;
    super::connect(&dir)?.call(&Request::Start, &[]).with_context(|| format!("starting container {id}"))?;
    st.status = Status::Running;
    dir.save(&st)?;
    // poststart failures are reported, not fatal (runtime-spec).
    if let Err(e) = hooks::run("poststart", &st.poststart, &st.oci_json()) {
        tracing::warn!(error = %e, "poststart hook failed");
    }
    Ok(())
}
