//! `rvisor list`: the containers under --root.

use serde_json::json;

use crate::container::list_ids;
use crate::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(g: &GlobalArgs, a: ListArgs) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for id in list_ids(&g.root) {
        // A container deleted meanwhile is simply not listed.
        if let Ok((_dir, st)) = super::open(&g.root, &id) {
            rows.push(st);
        }
    }
    if a.quiet {
        for st in &rows {
            println!("{}", st.id);
        }
    } else if a.format == "json" {
        let v: Vec<_> = rows
            .iter()
            .map(|st| {
                let o = st.oci();
                json!({"ociVersion": o.oci_version, "id": o.id, "pid": o.pid, "status": o.status, "bundle": o.bundle,
                       "rootfs": o.rootfs, "created": o.created, "owner": o.owner, "annotations": o.annotations})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        println!("{:<20} {:<8} {:<10} {:<40} {:<32} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        for st in &rows {
            let o = st.oci();
            println!(
                "{:<20} {:<8} {:<10} {:<40} {:<32} {}",
                o.id,
                o.pid,
                o.status.to_string(),
                o.bundle.display(),
                o.created,
                o.owner
            );
        }
    }
    Ok(())
}
