//! Removing a sandbox's cgroup when its launcher dies abruptly.
//!
//! The launcher's children die with it (PR_SET_PDEATHSIG, and the app with
//! the sentry's pid namespace), but the cgroup directories would stay. A
//! janitor is a small process outside the cgroup that holds the read end of
//! a pipe whose only write end the launcher keeps: end-of-file means the
//! launcher is gone, however it went, and the janitor then destroys the
//! cgroup. A launcher that cleans up itself dismisses it.
//!
//! The janitor is started *before* the cgroup is created and is given its
//! planned directories, so there is no moment when a cgroup exists unwatched.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::Cgroup;

/// The launcher's handle on its janitor.
#[derive(Debug)]
pub struct Janitor {
    pid: libc::pid_t,
    /// Written to dismiss the janitor; its closing (the launcher's death) sends it to work.
    tx: OwnedFd,
}

/// Byte that dismisses the janitor without cleaning up.
const DISMISS: u8 = b'd';
/// How long the janitor keeps trying to remove a busy cgroup.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl Janitor {
    /// Forks the janitor for whichever of `cgs` gets made (made or not yet).
    /// Call it while single-threaded, before creating the cgroup.
    pub fn spawn(cgs: &[Cgroup]) -> std::io::Result<Janitor> {
        let mut p = [0; 2];
        // SAFETY: p is a valid 2-element array.
        if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both fds are fresh and ours.
        let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        // SAFETY: single-threaded caller; the child runs `watch` and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            drop(tx);
            // SAFETY: leaves the forked child without unwinding into the launcher.
            unsafe { libc::_exit(watch(rx, cgs)) };
        }
        Ok(Janitor { pid, tx })
    }

    /// The launcher could not remove the cgroup (processes still dying in
    /// it): the janitor takes over and keeps trying after the launcher is gone.
    pub fn hand_over(self) {
        // Closing the pipe without a word sends the janitor to work; it is
        // not waited for.
        drop(self.tx);
    }

    /// The launcher cleaned up itself: let the janitor go and reap it.
    pub fn dismiss(self) {
        // SAFETY: one byte from a valid buffer into our pipe; then reap our child.
        unsafe {
            libc::write(self.tx.as_raw_fd(), [DISMISS].as_ptr().cast(), 1);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// The janitor's life: detach from the terminal, keep only the pipe, wait.
fn watch(rx: OwnedFd, cgs: &[Cgroup]) -> i32 {
    super::super::confine::set_process_name(c"rvisor-janitor");
    // SAFETY: process-level calls on ourselves: a new session (no terminal
    // signals), ignore SIGINT/SIGTERM/SIGHUP/SIGPIPE, and close every fd but the pipe.
    unsafe {
        libc::setsid();
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_IGN);
        }
        let keep = rx.as_raw_fd() as libc::c_uint;
        if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, keep - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32);
    }
    let mut b = 0u8;
    let n = loop {
        // SAFETY: reads one byte into a valid buffer from our pipe.
        let n = unsafe { libc::read(rx.as_raw_fd(), (&mut b as *mut u8).cast(), 1) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    if n == 1 && b == DISMISS {
        return 0;
    }
    // Processes of the sandbox may take a while to die (a loaded machine,
    // a zombie not yet reaped): keep killing and removing for a while.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let mut failed = false;
        for cg in cgs.iter().filter(|cg| cg.dirs.iter().any(|d| d.is_dir())) {
            cg.kill_all();
            failed |= !cg.destroy().is_empty();
        }
        if !failed || std::time::Instant::now() > deadline {
            return i32::from(failed);
        }
    }
}
