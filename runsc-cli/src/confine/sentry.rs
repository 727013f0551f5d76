//! The sentry's confinement, in two steps around the start of the app.
//!
//! [`enter`] runs in the freshly forked sentry (already in its new pid, ipc,
//! uts and network namespaces, and in the sandbox's cgroup): a private mount
//! namespace, a procfs for its pid namespace opened once, pivot_root into an
//! empty read-only tmpfs, capabilities cut to [`SENTRY_CAPS`], no_new_privs.
//! App processes are forked after this, so they inherit the empty root and
//! no capabilities (the locked securebits make exec grant none).
//!
//! [`register_after_start`] arranges the second step, which boot runs once
//! the app's init process exists (it must not inherit the sentry's filter):
//! the sentry becomes non-dumpable (no same-uid ptrace or /proc/PID access)
//! and installs its seccomp filter on all its threads.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::caps::{self, CAP_NET_BIND_SERVICE, CAP_NET_RAW};
use super::seccomp::{self, Mode, Role};
use super::{mounts, no_new_privs, sys_err, ConfineError};

/// Capabilities the sentry keeps: binding sandbox servers to ports below
/// 1024 (the sandbox's root may). Raw sockets add CAP_NET_RAW (`--net-raw`).
pub const SENTRY_CAPS: &[u32] = &[CAP_NET_BIND_SERVICE];

/// How the sentry is confined.
#[derive(Clone, Copy, Debug, Default)]
pub struct SentryOptions {
    /// Keep CAP_NET_RAW for raw and packet sockets.
    pub net_raw: bool,
}

/// First step, before boot; call it single-threaded. Returns the procfs
/// directory fd to hand to `rvisor_sentry::confine::set_host_proc`.
pub fn enter(opts: SentryOptions) -> Result<OwnedFd, ConfineError> {
    mounts::unshare_private_mounts(0)?;
    mounts::mount_proc(c"/proc")?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: literal path; the result is checked.
    let fd = unsafe { libc::open(c"/proc".as_ptr(), flags) };
    if fd < 0 {
        return Err(sys_err("opening the sentry's procfs"));
    }
    // SAFETY: fd is fresh and ours.
    let proc_dir = unsafe { OwnedFd::from_raw_fd(fd) };
    // The empty root is a tmpfs stacked on /proc, a directory every host has.
    mounts::mount_empty_tmpfs(c"/proc")?;
    mounts::pivot_into(c"/proc")?;
    mounts::remount_readonly(c"/")?;
    let mut keep = SENTRY_CAPS.to_vec();
    if opts.net_raw {
        keep.push(CAP_NET_RAW);
    }
    caps::restrict_to(&keep)?;
    no_new_privs()?;
    Ok(proc_dir)
}

/// Registers the second step with the sentry's boot. `proc_dir` is the fd
/// [`enter`] returned (after it was handed to the sentry).
pub fn register_after_start(proc_dir: RawFd) {
    let role = Role::Sentry { proc_dir };
    let mode = Mode::from_env();
    // Compiled now, while allocation and failure are cheap to report.
    let progs = seccomp::build(role, mode);
    rvisor_sentry::confine::set_after_start(Box::new(move || {
        // SAFETY: prctl with constant arguments on this process.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(format!("PR_SET_DUMPABLE: {}", std::io::Error::last_os_error()));
        }
        let progs = progs.map_err(|e| e.to_string())?;
        seccomp::apply(role, &progs).map_err(|e| e.to_string())?;
        if mode == Mode::Log {
            tracing::warn!("RVISOR_SECCOMP=log: the sentry's seccomp filter only logs");
        }
        Ok(())
    }));
}
