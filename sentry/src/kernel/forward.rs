//! Signals from outside the sandbox. The sentry is pid 1 of its own pid
//! namespace and app processes run in a host session of their own, so a
//! terminal's Ctrl-C or a `kill` of the sandbox reaches the sentry only. It
//! forwards them: terminal-generated ones to the foreground process group of
//! the sandbox's terminal (as the terminal would inside), others to init
//! (as `docker run` proxies signals to the container's init).

use std::sync::Arc;

use super::signal::{self, sender_info, SI_KERNEL, SI_USER};
use super::Kernel;

/// Signals the sentry takes from the host and passes on.
const FORWARDED: &[i32] =
    &[libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP, libc::SIGWINCH, libc::SIGUSR1, libc::SIGUSR2];

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the forwarded signals in the calling thread and every thread it
/// starts later, so only [`spawn`]'s thread takes them. Call first in boot.
/// (Blocked, they are queued even for a pid-namespace init with no handler.)
pub fn block_forwarded() {
    let set = forwarded_set();
    // SAFETY: changes only this thread's mask; app processes reset theirs at fork.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Starts the thread that forwards host signals into the sandbox.
pub fn spawn(kernel: Arc<Kernel>) {
    let res = std::thread::Builder::new().name("signals".into()).stack_size(64 << 10).spawn(move || {
        let set = forwarded_set();
        loop {
            // SAFETY: zeroed siginfo_t is a valid out-buffer.
            let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: set and si are valid; waits for one of our blocked signals.
            let sig = unsafe { libc::sigwaitinfo(&set, &mut si) };
            if sig < 0 {
                continue;
            }
            forward(&kernel, sig, si.si_code == SI_KERNEL);
        }
    });
    if let Err(e) = res {
        tracing::warn!(error = %e, "cannot start the signal-forwarding thread");
    }
}

fn forward(kernel: &Kernel, sig: i32, from_terminal: bool) {
    let fg = if from_terminal { *kernel.tty_foreground.lock().unwrap_or_else(|e| e.into_inner()) } else { None };
    let groups = kernel.all_groups();
    let targets: Vec<_> = match fg {
        Some(pg) => groups.into_iter().filter(|g| g.lock().pgid == pg && g.lock().exit.is_none()).collect(),
        None => groups.into_iter().filter(|g| g.tgid == 1).collect(),
    };
    let code = if from_terminal { SI_KERNEL } else { SI_USER };
    tracing::debug!(sig, from_terminal, targets = targets.len(), "forwarding a host signal");
    for g in targets {
        signal::send_to_group(kernel, &g, sender_info(sig, code, 0, 0), None);
    }
}
