//! Containers as a state machine stored on disk: `<root>/<id>/state.json`
//! (written to a temporary file and renamed into place, under an flock of
//! the directory), the control socket beside it, and the exit status the
//! sandbox writes when it ends.
//!
//! creating -> created -> running <-> paused -> stopped: the stored status
//! says how far the runtime got; a dead sandbox process means stopped.

mod time;

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use time::rfc3339_now;

/// Why a container operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-' and '.'")]
    BadId(String),
    #[error("container {0} already exists")]
    Exists(String),
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("container {id} is {status}, {need}")]
    WrongStatus { id: String, status: Status, need: &'static str },
    #[error("state of container {id}: {source}")]
    Io { id: String, source: std::io::Error },
    #[error("state of container {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// A host process of the sandbox, identified beyond pid reuse by its start time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostProc {
    pub pid: i32,
    pub start_time: u64,
}

impl HostProc {
    pub fn of(pid: i32) -> HostProc {
        HostProc { pid, start_time: start_time(pid).unwrap_or(0) }
    }

    /// Whether this very process still exists (a zombie counts as gone).
    pub fn alive(&self) -> bool {
        self.pid > 0 && start_time(self.pid) == Some(self.start_time) && !is_zombie(self.pid)
    }

    pub fn kill(&self, sig: i32) {
        if self.alive() {
            // SAFETY: signals a process we verified to be ours by start time.
            unsafe { libc::kill(self.pid, sig) };
        }
    }
}

/// /proc/<pid>/stat's starttime (field 22).
fn start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// Everything the runtime remembers about a container.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub annotations: BTreeMap<String, String>,
    pub created: String,
    pub owner: String,
    /// The sandbox process: its pid is the container's pid.
    pub sandbox: HostProc,
    pub sentry: HostProc,
    pub gofer: HostProc,
    /// Cgroup directories, one per hierarchy (empty: none).
    pub cgroups: Vec<PathBuf>,
    /// poststop hooks, kept for `delete` (the bundle may be gone by then).
    #[serde(default)]
    pub poststop: Vec<crate::hooks::Hook>,
    #[serde(default)]
    pub poststart: Vec<crate::hooks::Hook>,
    #[serde(default)]
    pub start_container: Vec<crate::hooks::Hook>,
    /// The sandbox's platform ("ptrace" or "systrap"; empty: an older record).
    #[serde(default)]
    pub platform: String,
}

/// The state an OCI runtime prints (runtime-spec "State").
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'static str,
    pub id: &'a str,
    pub status: Status,
    pub pid: i32,
    pub bundle: &'a Path,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    /// runc's extra fields, which some engines read.
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
}

pub const OCI_VERSION: &str = "1.1.0";

impl State {
    /// The status, corrected for a sandbox that has gone away.
    pub fn current_status(&self) -> Status {
        match self.status {
            Status::Stopped => Status::Stopped,
            Status::Creating if self.sandbox.pid == 0 => Status::Creating,
            s if self.sandbox.alive() => s,
            _ => Status::Stopped,
        }
    }

    pub fn oci(&self) -> OciState<'_> {
        let status = self.current_status();
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            status,
            pid: if status == Status::Stopped { 0 } else { self.sandbox.pid },
            bundle: &self.bundle,
            annotations: &self.annotations,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
        }
    }

    pub fn oci_json(&self) -> String {
        serde_json::to_string(&self.oci()).unwrap_or_default()
    }
}

/// Container ids become directory names: keep them to a safe alphabet.
pub fn check_id(id: &str) -> Result<(), ContainerError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::BadId(id.to_string()))
    }
}

/// A container's directory under the runtime root, locked while held.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    lock: std::fs::File,
}

impl ContainerDir {
    /// Creates the directory of a new container (fails if the id is taken).
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir, ContainerError> {
        check_id(id)?;
        let io = |source| ContainerError::Io { id: id.to_string(), source };
        std::fs::create_dir_all(root).map_err(io)?;
        let path = root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(ContainerError::Exists(id.into())),
            Err(e) => return Err(io(e)),
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o711));
        Self::lock(id, path)
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir, ContainerError> {
        check_id(id)?;
        let path = root.join(id);
        if !path.join("state.json").exists() {
            return Err(ContainerError::NotFound(id.into()));
        }
        Self::lock(id, path)
    }

    /// Takes the container's lock: a POSIX record lock on `<dir>/.lock`. Such
    /// locks belong to the process, so the sandbox processes forked while
    /// it is held do not inherit it.
    fn lock(id: &str, path: PathBuf) -> Result<ContainerDir, ContainerError> {
        let io = |source| ContainerError::Io { id: id.to_string(), source };
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path.join(".lock"))
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    ContainerError::NotFound(id.into())
                } else {
                    io(e)
                }
            })?;
        // SAFETY: a zeroed flock is valid; F_SETLKW on a descriptor we own.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        loop {
            // SAFETY: see above.
            if unsafe { libc::fcntl(lock.as_raw_fd(), libc::F_SETLKW, &fl) } == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(io(e));
            }
        }
        Ok(ContainerDir { id: id.to_string(), path, lock })
    }

    pub fn state_path(&self) -> PathBuf {
        self.path.join("state.json")
    }

    pub fn control_path(&self) -> PathBuf {
        self.path.join("control.sock")
    }

    pub fn exit_path(&self) -> PathBuf {
        self.path.join("exit")
    }

    pub fn load(&self) -> Result<State, ContainerError> {
        let text = std::fs::read(self.state_path()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ContainerError::NotFound(self.id.clone())
            } else {
                ContainerError::Io { id: self.id.clone(), source: e }
            }
        })?;
        serde_json::from_slice(&text)
            .map_err(|e| ContainerError::Corrupt { id: self.id.clone(), reason: e.to_string() })
    }

    /// Writes the state: temporary file, fsync-free rename (atomic for readers).
    pub fn save(&self, st: &State) -> Result<(), ContainerError> {
        let io = |source| ContainerError::Io { id: self.id.clone(), source };
        let tmp = self.path.join(".state.json.tmp");
        let json = serde_json::to_vec_pretty(st).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, self.state_path()).map_err(io)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<(), ContainerError> {
        let r = std::fs::remove_dir_all(&self.path);
        drop(self.lock);
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ContainerError::Io { id: self.id, source: e }),
        }
    }

    /// The exit status the sandbox recorded, if it has ended.
    pub fn exit_status(&self) -> Option<i32> {
        std::fs::read_to_string(self.exit_path()).ok()?.trim().parse().ok()
    }

    /// Releases the lock (e.g. before a long wait).
    pub fn unlock(self) {
        drop(self.lock);
    }
}

/// Ids of all containers under `root`.
pub fn list_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}
