//! The gofer's confinement: it sees only the tree it serves.
//!
//! In new mount, network, ipc and uts namespaces, the root it serves is
//! bind-mounted (with its submounts) and pivoted to; read-only roots become
//! read-only mounts, so the kernel refuses writes even if the server's own
//! checks failed. Then only file capabilities remain, no_new_privs is set and
//! its seccomp filter is installed. The gofer is single-threaded.

use std::os::fd::OwnedFd;
use std::path::Path;

use super::caps::{self, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID};
use super::seccomp::{self, Mode, Role};
use super::{mounts, no_new_privs, ConfineError};

/// Capabilities the gofer keeps, to serve files of every owner as the
/// sandbox's (virtual) root would: bypass permission checks, chown, keep
/// set-id bits, and link by fd (AT_EMPTY_PATH needs DAC_READ_SEARCH).
pub const GOFER_CAPS: &[u32] = &[CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID];

/// Where the root is staged before pivot_root (inside a tmpfs stacked on
/// /proc in the gofer's private mount namespace; works for root "/" too).
const STAGE: &std::ffi::CStr = c"/proc/root";

/// Confines the calling (single-threaded) gofer process to `root` and
/// returns the O_PATH root fd to serve. Call before serving anything.
pub fn enter(root: &Path, readonly: bool) -> Result<OwnedFd, ConfineError> {
    let root = std::fs::canonicalize(root).map_err(|source| ConfineError::Path {
        step: "resolving the gofer root",
        path: root.display().to_string(),
        source,
    })?;
    let croot = mounts::cpath(&root)?;
    mounts::unshare_private_mounts(libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS)?;
    mounts::mount_empty_tmpfs(c"/proc")?;
    // SAFETY: literal path; mode 0555 on the fresh tmpfs is overridden by root's DAC override.
    if unsafe { libc::mkdir(STAGE.as_ptr(), 0o755) } != 0 {
        return Err(super::sys_err("mkdir stage"));
    }
    // SAFETY: both paths are NUL-terminated.
    let r = unsafe {
        libc::mount(croot.as_ptr(), STAGE.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null())
    };
    if r != 0 {
        return Err(super::sys_err("bind-mounting the gofer root"));
    }
    if readonly {
        mounts::make_readonly_recursive(STAGE)?;
    }
    mounts::pivot_into(STAGE)?;
    let fd = rvisor_gofer::open_root(Path::new("/"))
        .map_err(|e| ConfineError::Other(format!("opening the served root: {e}")))?;
    caps::restrict_to(GOFER_CAPS)?;
    no_new_privs()?;
    seccomp::install(Role::Gofer, Mode::from_env())?;
    Ok(fd)
}
