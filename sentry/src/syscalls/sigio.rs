//! Signal-driven I/O (O_ASYNC, F_SETOWN, F_SETSIG): a description with
//! O_ASYNC set has its host fds (FileOps::async_sources) registered,
//! edge-triggered, in one host epoll that a sentry thread waits on. Each
//! edge (new data, new room, hang-up) raises the owner's signal, as Linux's
//! kill_fasync does when the file's state changes: SIGIO without details,
//! or the F_SETSIG signal with si_code POLL_IN/POLL_OUT/..., si_band and
//! si_fd. Sources are the host's, so data arriving from outside the sandbox
//! (a network peer, the terminal) raises the signal too.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rvisor_syscalls::abi::Siginfo;
use rvisor_syscalls::Errno;

use crate::kernel::signal as ksig;
use crate::vfs::file::{AsyncOwner, F_OWNER_PGRP, F_OWNER_PID, F_OWNER_TID};
use crate::vfs::OpenFile;

/// si_code values of SIGPOLL.
pub const POLL_IN: i32 = 1;
pub const POLL_OUT: i32 = 2;
pub const POLL_ERR: i32 = 4;
pub const POLL_HUP: i32 = 6;

const EPOLLIN: u32 = 0x1;
const EPOLLPRI: u32 = 0x2;
const EPOLLOUT: u32 = 0x4;
const EPOLLERR: u32 = 0x8;
const EPOLLHUP: u32 = 0x10;
const EPOLLRDNORM: u32 = 0x40;
const EPOLLRDBAND: u32 = 0x80;
const EPOLLWRNORM: u32 = 0x100;
const EPOLLWRBAND: u32 = 0x200;
const EPOLLMSG: u32 = 0x400;
const EPOLLRDHUP: u32 = 0x2000;
const EPOLLET: u32 = 1 << 31;

/// Linux's band_table: si_band for each si_code (POLL_IN..POLL_HUP).
fn band(code: i32) -> i64 {
    let b = match code {
        POLL_IN => EPOLLIN | EPOLLRDNORM,
        3 => EPOLLIN | EPOLLRDNORM | EPOLLMSG,
        POLL_OUT => EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND,
        POLL_ERR => EPOLLERR,
        5 => EPOLLPRI | EPOLLRDBAND,
        _ => EPOLLHUP | EPOLLERR,
    };
    i64::from(b)
}

struct Watch {
    file: Weak<OpenFile>,
    /// The fd number O_ASYNC was enabled through (reported as si_fd).
    fd: i32,
    host: RawFd,
    /// Whether the source was writable at the last edge: room reappearing
    /// is an edge, room that stays is not.
    writable: bool,
    /// The host reports a source that is ready when it is added: that
    /// event is the state at O_ASYNC time, not a change, and raises nothing.
    skip_initial: bool,
}

struct Watcher {
    /// The sources' edge-triggered registrations. Drained only under
    /// `watches`' lock, so a drain that finds nothing knows that every edge
    /// queued before it has been dispatched.
    ep: OwnedFd,
    /// Level-triggered on `ep`: what the watcher thread sleeps on.
    outer: OwnedFd,
    watches: Mutex<HashMap<u64, Watch>>,
    next: AtomicU64,
}

/// Sources registered: while zero, [`poke`] costs one load.
static ACTIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The watcher, started on first use.
fn watcher() -> Result<&'static Watcher, Errno> {
    static W: OnceLock<Option<Watcher>> = OnceLock::new();
    let w = W.get_or_init(|| {
        // SAFETY: plain syscall; result checked.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return None;
        }
        // SAFETY: a fresh fd, owned from here on.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        // SAFETY: plain syscall; result checked.
        let outer = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if outer < 0 {
            return None;
        }
        // SAFETY: a fresh fd, owned from here on.
        let outer = unsafe { OwnedFd::from_raw_fd(outer) };
        let mut ev = libc::epoll_event { events: EPOLLIN, u64: 0 };
        // SAFETY: ev is a valid epoll_event; both fds are live.
        if unsafe { libc::epoll_ctl(outer.as_raw_fd(), libc::EPOLL_CTL_ADD, ep.as_raw_fd(), &mut ev) } < 0 {
            return None;
        }
        Some(Watcher { ep, outer, watches: Mutex::new(HashMap::new()), next: AtomicU64::new(1) })
    });
    let w = w.as_ref().ok_or(Errno::ENOMEM)?;
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new().name("sigio".into()).spawn(move || run(w));
        if let Err(e) = spawned {
            tracing::error!("sigio watcher thread: {e}");
        }
    });
    Ok(w)
}

fn run(w: &'static Watcher) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    loop {
        // SAFETY: ev is a valid epoll_event; waits until `ep` has events.
        let n = unsafe { libc::epoll_wait(w.outer.as_raw_fd(), &mut ev, 1, -1) };
        if n < 0 && Errno::last() != Errno::EINTR {
            tracing::error!("sigio watcher: epoll_wait: {:?}", Errno::last());
            return;
        }
        drain(w);
    }
}

/// Dispatches every queued edge, under the lock (see [`Watcher::ep`]).
fn drain(w: &Watcher) {
    let mut map = lock(&w.watches);
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
    loop {
        // SAFETY: evs is a valid array of 64 epoll_event; zero timeout.
        let n = unsafe { libc::epoll_wait(w.ep.as_raw_fd(), evs.as_mut_ptr(), 64, 0) };
        if n <= 0 {
            return;
        }
        for ev in &evs[..n as usize] {
            dispatch(w, &mut map, ev.u64, ev.events);
        }
        if n < 64 {
            return;
        }
    }
}

/// After an operation of the sandbox's own that may have made an O_ASYNC
/// source ready (a write, a read): raises its signals before the operation
/// returns, as Linux does from inside the write.
pub fn poke() {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return;
    }
    if let Ok(w) = watcher() {
        drain(w);
    }
}

/// Raises the signals one host edge stands for.
fn dispatch(w: &Watcher, map: &mut HashMap<u64, Watch>, token: u64, events: u32) {
    let (file, fd, codes) = {
        let Some(watch) = map.get_mut(&token) else { return };
        let Some(file) = watch.file.upgrade() else {
            if let Some(gone) = map.remove(&token) {
                ACTIVE.fetch_sub(1, Ordering::Relaxed);
                // SAFETY: removes a registration; a closed fd is already gone (EBADF is fine).
                unsafe { libc::epoll_ctl(w.ep.as_raw_fd(), libc::EPOLL_CTL_DEL, gone.host, std::ptr::null_mut()) };
            }
            return;
        };
        if std::mem::take(&mut watch.skip_initial) {
            watch.writable = events & EPOLLOUT != 0;
            return;
        }
        // set_async registers before the flag is set (and unregisters after it is cleared).
        if file.flags() & libc::O_ASYNC == 0 {
            return;
        }
        let mut codes = Vec::new();
        if events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP) != 0 && file.readable() {
            codes.push(POLL_IN);
        } else if events & EPOLLERR != 0 {
            codes.push(POLL_ERR);
        }
        let writable = events & EPOLLOUT != 0;
        if writable && !watch.writable && file.writable() {
            codes.push(POLL_OUT);
        }
        watch.writable = writable;
        (file, watch.fd, codes)
    };
    for code in codes {
        raise(&file, fd, code);
    }
}

/// Sends the owner's signal for `code` on `file` (open as `fd`).
pub fn raise(file: &OpenFile, fd: i32, code: i32) {
    let owner = file.async_owner();
    if owner.id == 0 {
        return;
    }
    let Some(kernel) = crate::kernel::current_kernel() else { return };
    let info = if owner.sig == 0 {
        Siginfo { si_signo: libc::SIGIO, si_code: ksig::SI_KERNEL, ..Default::default() }
    } else {
        let mut si = Siginfo { si_signo: owner.sig, si_code: code, ..Default::default() };
        si.fields[0] = band(code) as u64;
        si.fields[1] = fd as u32 as u64;
        si
    };
    match owner.kind {
        F_OWNER_TID => {
            if let Some(t) = kernel.task_by_vtid(owner.id) {
                ksig::send_to_task(&t, info, None);
            }
        }
        F_OWNER_PGRP => {
            for g in kernel.all_groups().iter().filter(|g| g.lock().pgid == owner.id) {
                ksig::send_to_group(&kernel, g, info, None);
            }
        }
        _ => {
            if let Some(g) = kernel.group_by_vpid(owner.id) {
                ksig::send_to_group(&kernel, &g, info, None);
            }
        }
    }
}

/// O_ASYNC turned on (`on`) or off for `file`, open as `fd`. Err(ENOTTY)
/// when the file has no fasync.
pub fn set_async(file: &Arc<OpenFile>, fd: i32, on: bool) -> Result<(), Errno> {
    let sources = file.ops().async_sources().ok_or(Errno::ENOTTY)?;
    let w = watcher()?;
    let mut map = lock(&w.watches);
    let me = Arc::as_ptr(file);
    let old: Vec<u64> = map.iter().filter(|(_, x)| x.file.as_ptr() == me).map(|(t, _)| *t).collect();
    for t in old {
        if let Some(x) = map.remove(&t) {
            ACTIVE.fetch_sub(1, Ordering::Relaxed);
            // SAFETY: removes a registration of a live (or closed) host fd.
            unsafe { libc::epoll_ctl(w.ep.as_raw_fd(), libc::EPOLL_CTL_DEL, x.host, std::ptr::null_mut()) };
        }
    }
    if !on {
        return Ok(());
    }
    for (host, events) in sources {
        let token = w.next.fetch_add(1, Ordering::Relaxed);
        let mut want = EPOLLET | EPOLLERR | EPOLLHUP;
        if events & libc::POLLIN != 0 {
            want |= EPOLLIN | EPOLLRDHUP | EPOLLPRI;
        }
        if events & libc::POLLOUT != 0 {
            want |= EPOLLOUT;
        }
        let mut ev = libc::epoll_event { events: want, u64: token };
        // SAFETY: ev is a valid epoll_event; both fds are live.
        if unsafe { libc::epoll_ctl(w.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, host, &mut ev) } == 0 {
            // The map lock is held, so the initial event is dispatched after this.
            let now = crate::vfs::host_poll(host, events | libc::POLLERR | libc::POLLHUP);
            let writable = now & libc::POLLOUT != 0;
            let watch = Watch { file: Arc::downgrade(file), fd, host, writable, skip_initial: now != 0 };
            map.insert(token, watch);
            ACTIVE.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// F_SETOWN / F_SETOWN_EX: checks that the owner exists (ESRCH).
pub fn set_owner(ctx: &super::SyscallCtx<'_>, file: &OpenFile, kind: i32, id: i32) -> Result<(), Errno> {
    if id < 0 || !matches!(kind, F_OWNER_TID | F_OWNER_PID | F_OWNER_PGRP) {
        return Err(Errno::EINVAL);
    }
    if id != 0 {
        let exists = match kind {
            F_OWNER_PGRP => {
                ctx.kernel.all_groups().iter().any(|g| g.lock().pgid == id) || ctx.kernel.task_by_vtid(id).is_some()
            }
            _ => ctx.kernel.task_by_vtid(id).is_some() || ctx.kernel.group_by_vpid(id).is_some(),
        };
        if !exists {
            return Err(Errno::ESRCH);
        }
    }
    file.set_async_owner(|o| {
        o.kind = kind;
        o.id = id;
    });
    Ok(())
}

/// F_GETOWN: a process group is reported negated.
pub fn get_owner(file: &OpenFile) -> i64 {
    let AsyncOwner { kind, id, .. } = file.async_owner();
    if kind == F_OWNER_PGRP {
        -i64::from(id)
    } else {
        i64::from(id)
    }
}
