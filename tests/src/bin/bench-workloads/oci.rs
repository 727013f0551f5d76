//! `runc run` against `rvisor run` of the same busybox bundle running
//! /bin/true (what scripts/bench-oci.sh does, inside the suite), on each
//! platform.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rvisor_tests::bench::{run_command, Output};

const BUSYBOX: &str = "/bin/busybox";
const RUNC: &str = "/usr/sbin/runc";

/// A bundle under `dir/oci`: busybox as /bin/true, the spec `rvisor spec`
/// writes with a non-terminal `/bin/true` as the process.
pub fn bundle(rvisor: &Path, dir: &Path) -> Result<PathBuf, String> {
    for (path, pkg) in [(BUSYBOX, "busybox-static"), (RUNC, "runc")] {
        if !Path::new(path).exists() {
            return Err(format!("{path} missing (Debian package {pkg})"));
        }
    }
    let b = dir.join("oci").join("bundle");
    let bin = b.join("rootfs/bin");
    let _ = std::fs::remove_dir_all(&b);
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    std::fs::copy(BUSYBOX, bin.join("busybox")).map_err(|e| format!("copy busybox: {e}"))?;
    std::os::unix::fs::symlink("busybox", bin.join("true")).map_err(|e| format!("symlink: {e}"))?;
    let argv: Vec<OsString> = vec![rvisor.into(), "spec".into(), "--bundle".into(), b.clone().into()];
    run_command(&argv, dir, Duration::from_secs(30)).map_err(|e| format!("rvisor spec: {e}"))?;
    let path = b.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut spec: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("config.json: {e}"))?;
    let process = spec.get_mut("process").and_then(|p| p.as_object_mut()).ok_or("config.json: no process")?;
    process.insert("terminal".into(), false.into());
    process.insert("args".into(), serde_json::json!(["/bin/true"]));
    std::fs::write(&path, spec.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(b)
}

/// The command running the bundle once with `runtime` (runc, or
/// `rvisor --platform P`) under its own state directory, as container `id`.
pub fn run(runtime: &[OsString], state: &Path, bundle: &Path, id: &str) -> Result<Output, String> {
    let mut argv = runtime.to_vec();
    argv.extend(["--root".into(), state.into(), "run".into(), "--bundle".into(), bundle.into(), id.into()]);
    let cwd = bundle.parent().unwrap_or(bundle);
    run_command(&argv, cwd, Duration::from_secs(60))
}

pub fn runc() -> Vec<OsString> {
    vec![RUNC.into()]
}
