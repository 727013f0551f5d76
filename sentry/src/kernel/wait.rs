//! Interruptible blocking: every wait in the sentry polls host fds together
//! with the task's interrupt eventfd, so a signal aimed at the task can cut
//! a blocking syscall short with EINTR.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use rvisor_syscalls::Errno;

/// An eventfd used to wake one waiter. `pending` mirrors whether it holds a
/// count, so the common "nothing pending" check costs no syscall.
pub struct EventFd {
    fd: OwnedFd,
    pending: std::sync::atomic::AtomicBool,
}

impl EventFd {
    pub fn new() -> Result<EventFd, Errno> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(EventFd { fd: unsafe { OwnedFd::from_raw_fd(fd) }, pending: Default::default() })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn notify(&self) {
        self.pending.store(true, std::sync::atomic::Ordering::SeqCst);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64.
        unsafe { libc::write(self.raw(), &one as *const u64 as *const libc::c_void, 8) };
    }

    /// Consumes the count after poll reported the fd readable.
    pub fn clear(&self) {
        self.pending.store(false, std::sync::atomic::Ordering::SeqCst);
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; the fd is non-blocking.
        unsafe { libc::read(self.raw(), &mut v as *mut u64 as *mut libc::c_void, 8) };
    }

    /// Consumes pending notifications; true if there were any.
    pub fn drain(&self) -> bool {
        if !self.pending.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; the fd is non-blocking.
        unsafe { libc::read(self.raw(), &mut v as *mut u64 as *mut libc::c_void, 8) == 8 }
    }
}

/// Outcome of a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woken {
    /// One of the watched fds is ready.
    Ready,
    /// The interrupt fd fired.
    Interrupted,
    TimedOut,
}

/// Waits until any fd in `fds` has any of its events, `interrupt` fires, or
/// `timeout_ms` passes (-1 = forever).
pub fn wait_fds(fds: &[(RawFd, i16)], interrupt: RawFd, timeout_ms: i32) -> Woken {
    let mut pfds: Vec<libc::pollfd> = fds.iter().map(|&(fd, events)| libc::pollfd { fd, events, revents: 0 }).collect();
    pfds.push(libc::pollfd { fd: interrupt, events: libc::POLLIN, revents: 0 });
    loop {
        // SAFETY: pfds is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Woken::Ready;
        }
        if n == 0 {
            return Woken::TimedOut;
        }
        if pfds.last().is_some_and(|p| p.revents != 0) {
            return Woken::Interrupted;
        }
        return Woken::Ready;
    }
}

/// Waits on `cv` for at most `ms` milliseconds. For sentry-internal state
/// (lock tables, FIFO rendezvous) whose waiters must also notice signals:
/// callers re-check their condition and the task's interrupt after each nap.
pub fn nap<'a, T>(
    cv: &std::sync::Condvar,
    guard: std::sync::MutexGuard<'a, T>,
    ms: u64,
) -> std::sync::MutexGuard<'a, T> {
    cv.wait_timeout(guard, std::time::Duration::from_millis(ms)).unwrap_or_else(|e| e.into_inner()).0
}
