//! Interruptible blocking: every wait in the sentry polls host fds together
//! with the task's interrupt eventfd, so a signal aimed at the task can cut
//! a blocking syscall short with EINTR.
//!
//! State the sentry keeps itself (message queues, pending signals, lock
//! tables, epoll interest lists) has no host fd to poll: its owner keeps a
//! [`WaitQueue`] and notifies it on every change, and waiters register an
//! eventfd there ([`WaitSet`]), so they wake at once and sleep without
//! re-checking on a timer.

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

/// Tasks waiting for a change of sentry-side state (a message queue, the
/// signals pending in the sandbox, an epoll interest list): the state's
/// owner calls [`WaitQueue::notify`] after every change that may make a
/// waiter's condition true, and each waiter's eventfd becomes readable.
/// Waiters re-check their condition after waking, so spurious wake-ups are
/// harmless; a waiter registers *before* checking, so none is lost.
pub struct WaitQueue {
    waiters: std::sync::Mutex<Vec<std::sync::Weak<EventFd>>>,
    /// Registrations, possibly stale: lets `notify` skip the lock when zero.
    count: std::sync::atomic::AtomicUsize,
    /// Notifications so far: an edge-triggered epoll entry reports again
    /// when this moved (Linux's wake-up callback marks it ready).
    generation: std::sync::atomic::AtomicU64,
}

impl Default for WaitQueue {
    fn default() -> Self {
        WaitQueue::new()
    }
}

impl WaitQueue {
    pub const fn new() -> WaitQueue {
        WaitQueue {
            waiters: std::sync::Mutex::new(Vec::new()),
            count: std::sync::atomic::AtomicUsize::new(0),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<std::sync::Weak<EventFd>>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a fresh eventfd; the registration ends when it is dropped.
    pub fn register(&self) -> Result<std::sync::Arc<EventFd>, Errno> {
        let ev = std::sync::Arc::new(EventFd::new()?);
        self.add(&ev);
        Ok(ev)
    }

    /// Registers `ev` (weakly: dropping the last Arc ends the registration).
    pub fn add(&self, ev: &std::sync::Arc<EventFd>) {
        let mut w = self.lock();
        w.retain(|x| x.strong_count() > 0);
        if !w.iter().any(|x| std::ptr::eq(x.as_ptr(), std::sync::Arc::as_ptr(ev))) {
            w.push(std::sync::Arc::downgrade(ev));
        }
        self.count.store(w.len(), std::sync::atomic::Ordering::SeqCst);
    }

    /// Wakes every registered waiter.
    pub fn notify(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return;
        }
        let mut w = self.lock();
        w.retain(|x| match x.upgrade() {
            Some(ev) => {
                ev.notify();
                true
            }
            None => false,
        });
        self.count.store(w.len(), std::sync::atomic::Ordering::SeqCst);
    }

    /// Same as [`notify`](Self::notify) (the IPC code's name for it).
    pub fn wake_all(&self) {
        self.notify();
    }

    /// Live registrations (for tests and diagnostics).
    pub fn waiters(&self) -> usize {
        self.lock().iter().filter(|x| x.strong_count() > 0).count()
    }
}

/// Signals raised by the sentry: signalfd readers and pollers wait here,
/// since a blocked signal does not interrupt their wait.
pub static SIGNALS: WaitQueue = WaitQueue::new();

/// What one blocking wait watches: host fds, and the wait queues of
/// sentry-side state (all sharing one eventfd). Built afresh for each
/// check-then-sleep round; dropping it ends its registrations.
#[derive(Default)]
pub struct WaitSet {
    fds: Vec<(RawFd, i16)>,
    waker: Option<std::sync::Arc<EventFd>>,
    /// A source whose changes nothing announces: re-check within this many ms.
    recheck_ms: Option<i32>,
    /// Nesting depth while an epoll registers its interests.
    pub depth: u32,
    /// A probe registers nothing: it sums the queues' generations.
    probe: Option<u64>,
    /// A wait queue was registered (or probed).
    queued: bool,
}

impl WaitSet {
    pub fn new() -> WaitSet {
        WaitSet::default()
    }

    /// Starts a new check-then-sleep round: forgets the fds and re-check
    /// interval, keeps the eventfd (and its registrations) and drains it.
    /// Call before re-registering and re-checking.
    pub fn reset(&mut self) {
        self.fds.clear();
        self.recheck_ms = None;
        self.depth = 0;
        self.queued = false;
        if let Some(w) = &self.waker {
            w.clear();
        }
    }

    /// Watches host fd `fd` for `events`.
    pub fn fd(&mut self, fd: RawFd, events: i16) {
        match self.fds.iter_mut().find(|(f, _)| *f == fd) {
            Some(e) => e.1 |= events,
            None => self.fds.push((fd, events)),
        }
    }

    /// A set that only observes: `generation` then tells whether any queue
    /// a file waits on was notified since an earlier probe.
    pub fn probe() -> WaitSet {
        WaitSet { probe: Some(0), ..WaitSet::default() }
    }

    /// The sum of the probed queues' generations (None for a real set).
    pub fn generation(&self) -> Option<u64> {
        self.probe
    }

    /// Registers with `q`; if no eventfd can be made, falls back to re-checks.
    pub fn queue(&mut self, q: &WaitQueue) {
        self.queued = true;
        if let Some(g) = &mut self.probe {
            *g = g.wrapping_add(q.generation.load(std::sync::atomic::Ordering::SeqCst));
            return;
        }
        if self.waker.is_none() {
            match EventFd::new() {
                Ok(ev) => self.waker = Some(std::sync::Arc::new(ev)),
                Err(_) => return self.recheck(10),
            }
        }
        if let Some(w) = &self.waker {
            q.add(w);
        }
    }

    /// Asks for a re-check within `ms` (state that changes unannounced).
    pub fn recheck(&mut self, ms: i32) {
        self.recheck_ms = Some(self.recheck_ms.map_or(ms, |m| m.min(ms)));
    }

    pub fn recheck_ms(&self) -> Option<i32> {
        self.recheck_ms
    }

    /// Whether a wait queue was registered.
    pub fn has_queue(&self) -> bool {
        self.queued
    }

    /// The host fds to block on (the queues' eventfd included) and the
    /// timeout to use for a wait of at most `timeout_ms` (-1 = forever).
    pub fn block_args(&self, timeout_ms: i32) -> (Vec<(RawFd, i16)>, i32) {
        let mut fds = self.fds.clone();
        if let Some(w) = &self.waker {
            fds.push((w.raw(), libc::POLLIN));
        }
        let ms = match self.recheck_ms {
            Some(r) if timeout_ms < 0 || timeout_ms > r => r,
            _ => timeout_ms,
        };
        (fds, ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_wakes_a_registered_waiter_without_timeout() {
        let q = std::sync::Arc::new(WaitQueue::new());
        let mut set = WaitSet::new();
        set.queue(&q);
        let (fds, ms) = set.block_args(-1);
        assert_eq!(ms, -1, "a queue-only wait needs no periodic re-check");
        let never = EventFd::new().expect("eventfd");
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            q2.notify();
        });
        // An infinite wait: only the notification can end it.
        assert_eq!(wait_fds(&fds, never.raw(), -1), Woken::Ready);
        t.join().expect("notifier thread");
    }

    #[test]
    fn registration_ends_with_the_set() {
        let q = WaitQueue::new();
        {
            let mut set = WaitSet::new();
            set.queue(&q);
            set.queue(&q);
            assert_eq!(q.waiters(), 1, "one set registers once per queue");
        }
        assert_eq!(q.waiters(), 0);
        q.notify();
    }

    #[test]
    fn a_probe_sees_notifications_without_registering() {
        let q = WaitQueue::new();
        let gen = |q: &WaitQueue| {
            let mut p = WaitSet::probe();
            p.queue(q);
            assert!(p.has_queue());
            p.generation()
        };
        let before = gen(&q);
        assert_eq!(q.waiters(), 0, "a probe registers nothing");
        assert_eq!(gen(&q), before);
        q.notify();
        assert_ne!(gen(&q), before);
        assert_eq!(WaitSet::new().generation(), None);
    }

    #[test]
    fn recheck_caps_the_timeout() {
        let mut set = WaitSet::new();
        set.recheck(10);
        assert_eq!(set.block_args(-1).1, 10);
        assert_eq!(set.block_args(5).1, 5);
        assert_eq!(set.block_args(50).1, 10);
    }
}
