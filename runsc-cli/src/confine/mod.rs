//! Confinement of rvisor's own processes: the launch-sequence steps that
//! turn a forked child into a confined sentry or gofer.
//!
//! * [`sentry`]: private mount namespace, pivot_root into an empty read-only
//!   tmpfs, capabilities reduced to what serving sockets needs, no_new_privs,
//!   then (once the app's init exists) not dumpable and its seccomp filter.
//! * [`gofer`]: private mount/net/ipc/uts namespaces that see only the root it
//!   serves, file capabilities only, no_new_privs, its seccomp filter.
//! * [`seccomp_policy`]: both filters as commented data; [`seccomp`] compiles
//!   and installs them (`RVISOR_SECCOMP=log` logs instead of killing).
//! * [`reexec`]: the binary runs from a file nothing can write (CVE-2019-5736).
//! * [`userns`]: rootless mode, a user namespace where the caller is root.
//!
//! Launchers (`rvisor do`, the OCI runtime) call these in order; each step
//! is one function so the sequence reads linearly at the call site.

pub mod caps;
pub mod gofer;
mod mounts;
pub mod reexec;
pub mod seccomp;
pub mod seccomp_policy;
pub mod sentry;
pub mod userns;

/// Why a confinement step failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("{step}: {source}")]
    Sys { step: &'static str, source: std::io::Error },
    #[error("{step} {path}: {source}")]
    Path { step: &'static str, path: String, source: std::io::Error },
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("{0}")]
    Other(String),
}

/// A failed step with the current errno.
pub(crate) fn sys_err(step: &'static str) -> ConfineError {
    ConfineError::Sys { step, source: std::io::Error::last_os_error() }
}

/// Sets the calling thread's name (shown as /proc/PID/comm): lets operators
/// and the fault tests tell rvisor's processes apart.
pub fn set_process_name(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string (truncated to 15 bytes).
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// PR_SET_NO_NEW_PRIVS: nothing this process or its children exec can gain privileges.
pub fn no_new_privs() -> Result<(), ConfineError> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(sys_err("PR_SET_NO_NEW_PRIVS"));
    }
    Ok(())
}

/// A pidfd for the calling process, for its children's [`die_with_parent`].
pub fn own_pidfd() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open of our own pid; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and ours; pidfds are close-on-exec.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Makes a forked child die with its parent (`parent`: the parent's pidfd,
/// which works across pid namespaces), closing the race where the parent
/// died before the request: then the child exits at once.
pub fn die_with_parent(parent: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd { fd: parent.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: prctl/poll/_exit on this process; p is a valid pollfd.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // A pidfd polls readable once its process has exited.
        if libc::poll(&mut p, 1, 0) != 0 {
            libc::_exit(1);
        }
    }
}
