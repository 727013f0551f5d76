//! OCI hooks: each runs with the container's state JSON on stdin, in order,
//! with its own args, env and timeout.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One hook (runtime-spec "hooks" entry).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hook {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{stage} hook {path}: {source}")]
    Spawn { stage: &'static str, path: String, source: std::io::Error },
    #[error("{stage} hook {path} failed: {status}{stderr}")]
    Failed { stage: &'static str, path: String, status: String, stderr: String },
    #[error("{stage} hook {path} timed out after {secs}s")]
    Timeout { stage: &'static str, path: String, secs: u64 },
}

impl From<&oci_spec::runtime::Hook> for Hook {
    fn from(h: &oci_spec::runtime::Hook) -> Hook {
        Hook {
            path: h.path().clone(),
            args: h.args().clone().unwrap_or_default(),
            env: h.env().clone().unwrap_or_default(),
            timeout: h.timeout().map(|t| t.max(1) as u64),
        }
    }
}

/// The hooks of one stage from a spec.
pub fn from_spec(list: &Option<Vec<oci_spec::runtime::Hook>>) -> Vec<Hook> {
    list.iter().flatten().map(Hook::from).collect()
}

/// Runs `hooks` in order; the first failure stops the rest.
pub fn run(stage: &'static str, hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    for h in hooks {
        run_one(stage, h, state_json)?;
    }
    Ok(())
}

fn run_one(stage: &'static str, h: &Hook, state_json: &str) -> Result<(), HookError> {
    let path = h.path.display().to_string();
    let mut cmd = Command::new(&h.path);
    if let Some((argv0, rest)) = h.args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for e in &h.env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn { stage, path: path.clone(), source })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = h.timeout.map(|s| (Instant::now() + Duration::from_secs(s), s));
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if status.success() {
                    return Ok(());
                }
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                let stderr = if err.trim().is_empty() { String::new() } else { format!(": {}", err.trim()) };
                return Err(HookError::Failed { stage, path, status: status.to_string(), stderr });
            }
            Ok(None) => {}
            Err(source) => return Err(HookError::Spawn { stage, path, source }),
        }
        if let Some((at, secs)) = deadline {
            if Instant::now() >= at {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HookError::Timeout { stage, path, secs });
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
