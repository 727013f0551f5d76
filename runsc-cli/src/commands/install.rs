//! `rvisor install`: register rvisor as a Docker runtime in daemon.json
//! (keeping everything else in the file).

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Docker's daemon configuration file.
    #[arg(long = "config-file", default_value = "/etc/docker/daemon.json")]
    pub config_file: PathBuf,
    /// Name of the runtime in Docker.
    #[arg(long, default_value = "rvisor")]
    pub runtime: String,
    /// Remove the runtime instead.
    #[arg(long)]
    pub uninstall: bool,
    /// Flags passed to rvisor on every call (e.g. --network=host).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub runtime_args: Vec<String>,
}

pub fn run(a: InstallArgs) -> anyhow::Result<()> {
    let path = &a.config_file;
    let mut cfg: serde_json::Value = match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => {
            serde_json::from_str(&t).with_context(|| format!("{}: invalid JSON", path.display()))?
        }
        Ok(_) => json!({}),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    anyhow::ensure!(cfg.is_object(), "{}: not a JSON object", path.display());
    if !cfg["runtimes"].is_object() {
        cfg["runtimes"] = json!({});
    }
    if a.uninstall {
        if let Some(m) = cfg["runtimes"].as_object_mut() {
            m.remove(&a.runtime);
        }
    } else {
        let exe = std::env::current_exe().context("finding the rvisor binary")?;
        let mut entry = json!({"path": exe});
        if !a.runtime_args.is_empty() {
            entry["runtimeArgs"] = json!(a.runtime_args);
        }
        cfg["runtimes"][&a.runtime] = entry;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.rvisor-tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&cfg)? + "\n")?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "rvisor: {} runtime {:?} in {}; restart dockerd to apply",
        if a.uninstall { "removed" } else { "added" },
        a.runtime,
        path.display()
    );
    Ok(())
}
