//! The gofer's confinement: it sees only the tree it serves.
//!
//! In new mount, network, ipc and uts namespaces, the root it serves is
//! bind-mounted (with its submounts) and pivoted to; read-only roots become
//! read-only mounts, so the kernel refuses writes even if the server's own
//! checks failed. Then only file capabilities remain, no_new_privs is set and
//! its seccomp filter is installed, before it starts one serving thread per
//! root (which inherit the filter).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::caps::{self, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID};
use super::seccomp::{self, Mode, Role};
use super::{mounts, no_new_privs, ConfineError};

/// Capabilities the gofer keeps, to serve files of every owner as the
/// sandbox's (virtual) root would: bypass permission checks, chown, keep
/// set-id bits, and link by fd (AT_EMPTY_PATH needs DAC_READ_SEARCH).
pub const GOFER_CAPS: &[u32] = &[CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID];

/// Where the roots are staged before pivot_root: a tmpfs stacked on /proc
/// in the gofer's private mount namespace (works for root "/" too).
const STAGE: &std::ffi::CStr = c"/proc";

/// Confines the calling (still single-threaded) gofer process to `roots`
/// (each with whether it is served read-only) and returns their O_PATH
/// root fds, in order. Call before serving anything.
pub fn enter(roots: &[(PathBuf, bool)]) -> Result<Vec<OwnedFd>, ConfineError> {
    let mut canon = Vec::new();
    for (root, ro) in roots {
        let c = std::fs::canonicalize(root).map_err(|source| ConfineError::Path {
            step: "resolving a gofer root",
            path: root.display().to_string(),
            source,
        })?;
        canon.push((mounts::cpath(&c)?, *ro));
    }
    mounts::unshare_private_mounts(libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS)?;
    mounts::mount_empty_tmpfs(STAGE)?;
    // Each root is bind-mounted (with its submounts) at /proc/N; read-only
    // roots become read-only mounts, so the kernel refuses writes even if
    // the server's own checks failed.
    for (i, (croot, ro)) in canon.iter().enumerate() {
        let stage = mounts::cpath(Path::new(&format!("/proc/{i}")))?;
        // SAFETY: NUL-terminated path on the fresh tmpfs.
        if unsafe { libc::mkdir(stage.as_ptr(), 0o755) } != 0 {
            return Err(super::sys_err("mkdir stage"));
        }
        // SAFETY: both paths are NUL-terminated.
        let r = unsafe {
            libc::mount(
                croot.as_ptr(),
                stage.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(super::sys_err("bind-mounting a gofer root"));
        }
        if *ro {
            mounts::make_readonly_recursive(&stage)?;
        }
    }
    mounts::pivot_into(STAGE)?;
    let mut fds = Vec::new();
    for i in 0..canon.len() {
        let fd = rvisor_gofer::open_root(Path::new(&format!("/{i}")))
            .map_err(|e| ConfineError::Other(format!("opening a served root: {e}")))?;
        fds.push(fd);
    }
    caps::restrict_to(GOFER_CAPS)?;
    no_new_privs()?;
    seccomp::install(Role::Gofer, Mode::from_env())?;
    Ok(fds)
}
