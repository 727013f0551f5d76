//! The gofer process: opens every root it serves, then answers the sentry
//! on one socket per root (a thread each) until the sentry goes away.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use super::Plan;

/// Forks the gofer; returns its pid.
pub fn spawn(plan: &Plan, roots: Vec<(PathBuf, bool)>, socks: Vec<OwnedFd>) -> std::io::Result<i32> {
    // SAFETY: the supervisor is single-threaded; the child runs the gofer and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(pid);
    }
    // SAFETY: dies with the supervisor.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    super::signals::ignore_in_gofer();
    if plan.detach_stdio {
        super::stdio_to_null();
    }
    let code = main(plan, roots, socks);
    // SAFETY: leave without running the parent's atexit handlers.
    unsafe { libc::_exit(code) };
}

fn main(plan: &Plan, roots: Vec<(PathBuf, bool)>, socks: Vec<OwnedFd>) -> i32 {
    let mut opened = Vec::new();
    for ((path, ro), sock) in roots.into_iter().zip(socks) {
        match rvisor_gofer::open_root(&path) {
            Ok(fd) => opened.push((fd, ro, sock)),
            Err(e) => {
                tracing::error!(error = %e, "gofer cannot open a root");
                return 1;
            }
        }
    }
    if let Err(e) = super::confine_gofer(plan) {
        tracing::error!(error = %e, "gofer confinement failed");
        return 1;
    }
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
