//! Signals sent to the supervising process (a `kill` of `rvisor do` or of the
//! pid an engine waits on) go on to the sentry, which forwards them into the
//! sandbox, instead of killing the supervisor and with it the sandbox.

use std::sync::atomic::{AtomicI32, Ordering};

/// Signals passed on to the sentry. A terminal's own signals (si_code
/// SI_KERNEL) reach the sentry directly, being in the same process group.
pub const FORWARDED: &[i32] = &[libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2];

static SENTRY_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    if code != libc::SI_KERNEL {
        let pid = SENTRY_PID.load(Ordering::Relaxed);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe; pid is our own child.
            unsafe { libc::kill(pid, sig) };
        }
    }
}

/// Installs the forwarding handlers in the supervisor, for sentry `pid`.
pub fn forward_to(pid: i32) {
    SENTRY_PID.store(pid, Ordering::Relaxed);
    for &sig in FORWARDED {
        // SAFETY: installs an async-signal-safe handler; sa is fully initialised.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// In the gofer: the supervisor ends it itself; signals meant for the sandbox
/// must not take the file server down first.
pub fn ignore_in_gofer() {
    for &sig in FORWARDED {
        // SAFETY: setting a disposition in the single-threaded gofer child.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
}
