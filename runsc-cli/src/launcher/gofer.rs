//! The gofer process: opens every root it serves, then answers the sentry
//! on one socket per root (a thread each) until the sentry goes away.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;

use super::Plan;

/// Forks the gofer; returns its pid.
pub fn spawn(
    plan: &Plan,
    roots: Vec<(PathBuf, bool)>,
    socks: Vec<OwnedFd>,
    parent: BorrowedFd<'_>,
) -> std::io::Result<i32> {
    // SAFETY: the supervisor is single-threaded; the child runs the gofer and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(pid);
    }
    crate::confine::die_with_parent(parent);
    if let Err(e) = super::enter_cgroup(plan) {
        eprintln!("rvisor: moving the gofer into the sandbox cgroup: {e}");
        // SAFETY: leave without running the parent's atexit handlers.
        unsafe { libc::_exit(1) };
    }
    super::signals::ignore_in_gofer();
    if plan.detach_stdio {
        super::stdio_to_null();
    }
    if let Some(tty) = &plan.tty {
        // The container's terminal is the sentry's business only.
        if let Ok(null) = std::fs::File::open("/dev/null") {
            // SAFETY: points the inherited terminal fd at /dev/null instead.
            unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), std::os::fd::AsRawFd::as_raw_fd(tty)) };
        }
    }
    let code = main(plan, roots, socks);
    // SAFETY: leave without running the parent's atexit handlers.
    unsafe { libc::_exit(code) };
}

fn main(plan: &Plan, roots: Vec<(PathBuf, bool)>, socks: Vec<OwnedFd>) -> i32 {
    let ro: Vec<bool> = roots.iter().map(|r| r.1).collect();
    // One fd per file the sentry has cached (bounded by its dentry cache),
    // plus the directories above them and files being opened.
    let _ = crate::confine::use_descriptors(rvisor_sentry::vfs::dentry::reclaim::limit() + 2048);
    let fds = match super::confine_gofer(plan, &roots) {
        Ok(fds) => fds,
        Err(e) => {
            tracing::error!(error = %e, "gofer confinement failed");
            eprintln!("rvisor: confining the gofer: {e}");
            return 1;
        }
    };
    let opened: Vec<_> = fds.into_iter().zip(ro).zip(socks).map(|((fd, ro), sock)| (fd, ro, sock)).collect();
    let mut threads = Vec::new();
    for (root, ro, sock) in opened {
        let t = std::thread::Builder::new().name("gofer".into()).spawn(move || {
            if let Err(e) = rvisor_gofer::serve(sock, root, ro) {
                tracing::error!(error = %e, "gofer failed");
            }
        });
        match t {
            Ok(t) => threads.push(t),
            Err(e) => {
                tracing::error!(error = %e, "gofer cannot start a thread");
                return 1;
            }
        }
    }
    for t in threads {
        let _ = t.join();
    }
    0
}
