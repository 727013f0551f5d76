//! `rvisor state`: the container's state as runtime-spec JSON.

use crate::GlobalArgs;

pub fn run(g: &GlobalArgs, id: &str) -> anyhow::Result<()> {
    let (_dir, st) = super::open(&g.root, id)?;
    println!("{}", serde_json::to_string_pretty(&st.oci())?);
    Ok(())
}
