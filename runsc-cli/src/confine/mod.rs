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

/// Gives the allocator's free pages back to the host. The sentry and the
/// gofer are forked from the launcher, whose heap holds the freed remains of
/// argument parsing (clap's command tree is ~200 KiB); without this every
/// idle sandbox keeps them resident twice.
pub fn release_free_heap() {
    // SAFETY: malloc_trim only returns free memory of the allocator's own
    // arenas to the kernel; it is thread-safe and has no preconditions.
    unsafe { libc::malloc_trim(0) };
}

/// Raises the soft descriptor limit to the hard one, and grows the fd table
/// to hold `fds` descriptors (at most the limit) now. The sentry and the
/// gofer are multi-threaded, and Linux waits for an RCU grace period each
/// time a shared fd table grows (10-20 ms on a VM): growing it once, early,
/// keeps those waits out of the sandbox's file operations. Returns the
/// (raised) soft limit.
pub fn use_descriptors(fds: usize) -> u64 {
    // SAFETY: getrlimit/setrlimit on this process with a valid struct.
    let soft = unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
        let mut now: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut now);
        now.rlim_cur
    };
    let top = fds.min(usize::try_from(soft).unwrap_or(usize::MAX)).saturating_sub(1);
    if top < 64 {
        return soft;
    }
    // SAFETY: duplicates fd 0..2's first open one onto a free high number and
    // closes it at once: only the table's size changes. An fd already open
    // at `top` is left alone (dup2 would replace it).
    unsafe {
        if libc::fcntl(top as i32, libc::F_GETFD) >= 0 {
            return soft;
        }
        let src = (0..3).find(|&fd| libc::fcntl(fd, libc::F_GETFD) >= 0);
        if let Some(src) = src {
            if libc::dup2(src, top as i32) >= 0 {
                libc::close(top as i32);
            }
        }
    }
    soft
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
