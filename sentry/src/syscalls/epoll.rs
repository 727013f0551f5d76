//! epoll and eventfd. An epoll instance is a sentry object: its interest list
//! holds open file descriptions, and waits poll them (blocking on their host
//! fds where they have one). Edge-triggered entries with a host fd are also
//! registered, edge-triggered, in a host epoll the instance owns: its events
//! are the real edges (new data, new room), which polling alone cannot see.
//! Interests whose readiness is sentry state (signalfd, mqueue, a nested
//! epoll) are waited on through their wait queues ([`FileOps::wait_on`]).

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::ops::Bound::{Excluded, Unbounded};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::fs::host::check;
use crate::kernel::wait::{WaitQueue, WaitSet};
use crate::vfs::{Attr, FileOps, OpenFile, VfsResult};

const EPOLLET: u32 = 1 << 31;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLWAKEUP: u32 = 1 << 29;

struct Interest {
    file: Weak<OpenFile>,
    events: u32,
    data: u64,
    /// Readiness last reported (edge-triggered entries report changes only).
    last: u32,
    /// For edge-triggered entries on sentry state: the wait queues'
    /// generation when last reported (a notification is an edge).
    generation: Option<u64>,
    /// EPOLLONESHOT entry already fired; disabled until EPOLL_CTL_MOD.
    disabled: bool,
    /// The token of this entry's edge-triggered host registration, if any.
    host_token: Option<u64>,
    /// An edge (or an ADD/MOD) not yet reported for a host-registered entry.
    edge: bool,
}

/// An epoll instance.
pub struct Epoll {
    /// Keyed by (fd, open file description address), as Linux keys by (fd, file).
    interests: Mutex<BTreeMap<(i32, usize), Interest>>,
    /// Host epoll holding the edge-triggered registrations.
    host_ep: OwnedFd,
    next_token: std::sync::atomic::AtomicU64,
    /// Notified when the interest list changes (a ready fd added or re-armed).
    changed: WaitQueue,
    /// The entry reported last: the next scan starts after it, so ready
    /// entries take turns when there are more than a wait's `maxevents`
    /// (Linux moves reported level-triggered entries to its ready list's tail).
    last_reported: Mutex<Option<(i32, usize)>>,
}

/// Linux's EP_MAX_NESTS: how deep epolls may watch epolls.
const MAX_NESTS: u32 = 4;

/// Host epoll events for an app event mask (the low 16 bits are shared).
fn host_events(events: u32) -> u32 {
    (events & 0xffff) | EPOLLET
}

impl Epoll {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(i32, usize), Interest>> {
        self.interests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `i` edge-triggered in the host epoll if it is an ET entry on
    /// a host fd; entries that cannot be registered keep the polled approximation.
    fn register(&self, i: &mut Interest, host_fd: Option<RawFd>) {
        i.edge = true;
        if i.events & EPOLLET == 0 {
            return;
        }
        let Some(h) = host_fd else { return };
        let (op, token) = match i.host_token {
            Some(t) => (libc::EPOLL_CTL_MOD, t),
            None => (libc::EPOLL_CTL_ADD, self.next_token.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
        };
        let mut ev = libc::epoll_event { events: host_events(i.events), u64: token };
        // SAFETY: ev is a valid epoll_event; both fds are live.
        if unsafe { libc::epoll_ctl(self.host_ep.as_raw_fd(), op, h, &mut ev) } == 0 {
            i.host_token = Some(token);
        }
    }

    fn unregister(&self, i: &Interest, host_fd: Option<RawFd>) {
        if let (Some(_), Some(h)) = (i.host_token, host_fd) {
            // SAFETY: plain syscall on live fds; a null event is allowed for DEL.
            unsafe { libc::epoll_ctl(self.host_ep.as_raw_fd(), libc::EPOLL_CTL_DEL, h, std::ptr::null_mut()) };
        }
    }

    /// Tokens of host registrations that saw an edge since the last call.
    fn host_edges(&self) -> HashSet<u64> {
        let mut fired = HashSet::new();
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        loop {
            // SAFETY: evs is a valid array of 64 epoll_event; zero timeout.
            let n = unsafe { libc::epoll_wait(self.host_ep.as_raw_fd(), evs.as_mut_ptr(), 64, 0) };
            if n <= 0 {
                break;
            }
            fired.extend(evs[..n as usize].iter().map(|e| e.u64));
            if n < 64 {
                break;
            }
        }
        fired
    }

    /// Collects up to `max` ready events; registers in `set` what to block on.
    fn collect(&self, max: usize, set: &mut WaitSet) -> Vec<(u32, u64)> {
        set.queue(&self.changed);
        let mut out = Vec::new();
        let fired = self.host_edges();
        let mut map = self.lock();
        map.retain(|_, i| i.file.strong_count() > 0);
        let mut wait_host_ep = false;
        for i in map.values_mut() {
            if i.host_token.is_some_and(|t| fired.contains(&t)) {
                i.edge = true;
            }
        }
        let mut last = self.last_reported.lock().unwrap_or_else(|e| e.into_inner());
        // Scan order: the entries after the last reported one, then the rest.
        let keys: Vec<(i32, usize)> = match *last {
            Some(k) => map.range((Excluded(k), Unbounded)).chain(map.range(..=k)).map(|(k, _)| *k).collect(),
            None => map.keys().copied().collect(),
        };
        for key in keys {
            if out.len() >= max {
                break;
            }
            let Some(i) = map.get_mut(&key) else { continue };
            if i.disabled {
                continue;
            }
            let Some(f) = i.file.upgrade() else { continue };
            let want = (i.events & 0xffff) as i16 | libc::POLLERR | libc::POLLHUP;
            if i.host_token.is_none() || i.events & EPOLLET == 0 {
                // Registered before the check, so a change in between still wakes us.
                f.ops().wait_on((i.events & 0xffff) as i16, set);
            }
            if i.host_token.is_some() && i.events & EPOLLET != 0 {
                // Real edge-triggered entry: report once per edge, if ready then.
                wait_host_ep = true;
                if !i.edge {
                    continue;
                }
                i.edge = false;
                let ready = (f.ops().poll(want) & want) as u16 as u32;
                if ready != 0 {
                    if i.events & EPOLLONESHOT != 0 {
                        i.disabled = true;
                    }
                    out.push((ready, i.data));
                    *last = Some(key);
                }
                continue;
            }
            let ready = (f.ops().poll(want) & want) as u16 as u32;
            if ready == 0 {
                i.last = 0;
                continue;
            }
            if i.events & EPOLLET != 0 {
                // Sentry state: every notification of its queues is an edge.
                let mut probe = WaitSet::probe();
                f.ops().wait_on((i.events & 0xffff) as i16, &mut probe);
                let generation = probe.generation().filter(|_| probe.has_queue());
                let notified = generation.is_some() && generation != i.generation;
                i.generation = generation;
                if ready == i.last && !notified {
                    continue;
                }
            }
            i.last = ready;
            if i.events & EPOLLONESHOT != 0 {
                i.disabled = true;
            }
            out.push((ready, i.data));
            *last = Some(key);
        }
        if wait_host_ep {
            set.fd(self.host_ep.as_raw_fd(), libc::POLLIN);
        }
        out
    }

    /// Whether `target` is this epoll or watches it, directly or through
    /// nested epolls (adding it would make a loop), or nests too deep.
    fn reaches(&self, target: &Epoll, depth: u32) -> bool {
        if std::ptr::eq(self, target) || depth > MAX_NESTS {
            return true;
        }
        target.lock().values().filter_map(|i| i.file.upgrade()).any(|f| {
            match f.ops().as_any().downcast_ref::<Epoll>() {
                Some(inner) => self.reaches(inner, depth + 1),
                None => false,
            }
        })
    }
}

impl FileOps for Epoll {
    fn read(&self, _buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EINVAL)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr { mode: 0o600, nlink: 1, blksize: 4096, ..Default::default() })
    }
    fn wait_on(&self, _events: i16, set: &mut WaitSet) {
        // Readable when any interest is ready: watch them all.
        if set.depth >= MAX_NESTS {
            return set.recheck(50);
        }
        set.queue(&self.changed);
        set.depth += 1;
        let files: Vec<(Arc<OpenFile>, u32)> = self
            .lock()
            .values()
            .filter(|i| !i.disabled)
            .filter_map(|i| i.file.upgrade().map(|f| (f, i.events)))
            .collect();
        for (f, events) in &files {
            f.ops().wait_on((events & 0xffff) as i16, set);
        }
        set.depth -= 1;
    }
    fn poll(&self, events: i16) -> i16 {
        let ready = self.lock().values().any(|i| {
            !i.disabled
                && i.file.upgrade().is_some_and(|f| {
                    let want = (i.events & 0xffff) as i16;
                    f.ops().poll(want) & want != 0
                })
        });
        if ready {
            events & (libc::POLLIN | libc::POLLRDNORM)
        } else {
            0
        }
    }
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn epoll_create(ctx: &mut SyscallCtx<'_>, flags: i32) -> SysResult {
    if flags & !libc::EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: plain syscall; result checked.
    let host_ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if host_ep < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd, owned from here on.
    let host_ep = unsafe { OwnedFd::from_raw_fd(host_ep) };
    let ep = Arc::new(Epoll {
        interests: Mutex::new(BTreeMap::new()),
        host_ep,
        next_token: Default::default(),
        changed: WaitQueue::new(),
        last_reported: Mutex::new(None),
    });
    let file = OpenFile::new_anon(ep, None, libc::O_RDWR, "anon_inode:[eventpoll]".into());
    ctx.task.files().install(file, flags & libc::EPOLL_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

pub fn sys_epoll_create(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    if (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll_create(ctx, 0)
}

pub fn sys_epoll_create1(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    epoll_create(ctx, a[0] as i32)
}

fn epoll_of(file: &Arc<OpenFile>) -> Result<&Epoll, Errno> {
    file.ops().as_any().downcast_ref::<Epoll>().ok_or(Errno::EINVAL)
}

/// Whether `file` has a poll method on Linux: regular files and
/// directories do not (a message queue and a pidfd, which the sandbox shows
/// as regular files, do), nor do /dev/null, /dev/zero, /dev/full and
/// /dev/urandom (/dev/random does).
fn pollable(file: &Arc<OpenFile>, attr: &crate::vfs::Attr) -> bool {
    const MEM_MAJOR: u64 = 1;
    let is_chr = attr.mode & crate::vfs::S_IFMT == crate::vfs::S_IFCHR;
    let (major, minor) = (libc::major(attr.rdev) as u64, libc::minor(attr.rdev) as u64);
    if is_chr && major == MEM_MAJOR && matches!(minor, 3 | 5 | 7 | 9) {
        return false;
    }
    if attr.is_regular() || attr.is_dir() {
        return super::ipc::mqueue::is_queue(file) || file.ops().as_any().is::<super::pidfd::PidFd>();
    }
    true
}

pub fn sys_epoll_ctl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (epfd, op, fd, evp) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3]);
    let epf = ctx.file(epfd)?;
    let target = ctx.file(fd)?;
    let ep = epoll_of(&epf)?;
    if Arc::ptr_eq(&epf, &target) {
        return Err(Errno::EINVAL);
    }
    // O_PATH descriptors are not files to poll (Linux's fdget refuses them).
    if target.is_path_only() || epf.is_path_only() {
        return Err(Errno::EBADF);
    }
    let attr = target.attr()?;
    if !pollable(&target, &attr) {
        return Err(Errno::EPERM);
    }
    if op == libc::EPOLL_CTL_ADD {
        if let Some(inner) = target.ops().as_any().downcast_ref::<Epoll>() {
            if ep.reaches(inner, 1) {
                return Err(Errno::ELOOP);
            }
        }
    }
    let key = (fd, Arc::as_ptr(&target) as usize);
    let ev = if op == libc::EPOLL_CTL_DEL {
        None
    } else {
        let raw: [u8; 12] = ctx.mem.read_val(evp)?;
        let events = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let data = u64::from_ne_bytes([raw[4], raw[5], raw[6], raw[7], raw[8], raw[9], raw[10], raw[11]]);
        Some((events, data))
    };
    let mut map = ep.lock();
    match op {
        libc::EPOLL_CTL_ADD => {
            if map.contains_key(&key) {
                return Err(Errno::EEXIST);
            }
            let (events, data) = ev.unwrap_or_default();
            let mut i = Interest {
                file: Arc::downgrade(&target),
                events: events & !EPOLLWAKEUP,
                data,
                last: 0,
                generation: None,
                disabled: false,
                host_token: None,
                edge: true,
            };
            ep.register(&mut i, target.ops().host_fd());
            map.insert(key, i);
            drop(map);
            ep.changed.notify();
            Ok(0)
        }
        libc::EPOLL_CTL_MOD => {
            let i = map.get_mut(&key).ok_or(Errno::ENOENT)?;
            let (events, data) = ev.unwrap_or_default();
            if events & EPOLLEXCLUSIVE != 0 || i.events & EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            (i.events, i.data, i.last, i.disabled, i.generation) = (events & !EPOLLWAKEUP, data, 0, false, None);
            ep.register(i, target.ops().host_fd());
            drop(map);
            ep.changed.notify();
            Ok(0)
        }
        libc::EPOLL_CTL_DEL => {
            let i = map.remove(&key).ok_or(Errno::ENOENT)?;
            ep.unregister(&i, target.ops().host_fd());
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

fn epoll_wait_common(ctx: &mut SyscallCtx<'_>, epfd: i32, evp: u64, max: i32, timeout_ms: i32) -> SysResult {
    if max <= 0 || max as usize > (i32::MAX as usize) / 12 {
        return Err(Errno::EINVAL);
    }
    let epf = ctx.file(epfd)?;
    let ep = epoll_of(&epf)?;
    let deadline =
        (timeout_ms >= 0).then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    let mut set = WaitSet::new();
    loop {
        set.reset();
        let ready = ep.collect(max as usize, &mut set);
        if !ready.is_empty() {
            let mut buf = Vec::with_capacity(ready.len() * 12);
            for (ev, data) in &ready {
                buf.extend_from_slice(&ev.to_ne_bytes());
                buf.extend_from_slice(&data.to_ne_bytes());
            }
            ctx.mem.write(evp, &buf)?;
            return Ok(ready.len() as i64);
        }
        let remaining = deadline.map(super::sys::remaining_ms);
        if remaining == Some(0) {
            return Ok(0);
        }
        let (fds, ms) = set.block_args(remaining.unwrap_or(-1));
        // epoll_wait is never restarted, whatever SA_RESTART says.
        ctx.block(&fds, ms).map_err(|e| if e == Errno::ERESTARTSYS { Errno::EINTR } else { e })?;
    }
}

pub fn sys_epoll_wait(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    epoll_wait_common(ctx, a[0] as i32, a[1], a[2] as i32, a[3] as i32)
}

pub fn sys_epoll_pwait(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    ctx.wait_mask = super::signal::read_wait_mask(ctx, a[4], a[5])?;
    epoll_wait_common(ctx, a[0] as i32, a[1], a[2] as i32, a[3] as i32)
}

pub fn sys_epoll_pwait2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let timeout = super::sys::timeout_ms(ctx, a[3], false)?;
    ctx.wait_mask = super::signal::read_wait_mask(ctx, a[4], a[5])?;
    epoll_wait_common(ctx, a[0] as i32, a[1], a[2] as i32, timeout)
}

/// An eventfd: the host's own eventfd object, made non-blocking on the host
/// (blocking is emulated by the syscall layer).
struct EventFdFile {
    fd: OwnedFd,
}

impl FileOps for EventFdFile {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        // SAFETY: reads 8 bytes into a buffer of at least 8.
        check(unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) })
    }
    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        // SAFETY: writes 8 bytes from a buffer of at least 8.
        check(unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), 8) })
    }
    fn seekable(&self) -> bool {
        false
    }
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr { mode: 0o600, nlink: 1, blksize: 4096, ..Default::default() })
    }
    fn host_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }
    fn per_segment_io(&self, write: bool) -> bool {
        // eventfd has read_iter but a plain write.
        write
    }
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn eventfd_common(ctx: &mut SyscallCtx<'_>, initval: u32, flags: i32) -> SysResult {
    if flags & !(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | libc::EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: plain syscall; result checked.
    let fd = unsafe { libc::eventfd(initval, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | (flags & libc::EFD_SEMAPHORE)) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd, owned from here on.
    let ops = Arc::new(EventFdFile { fd: unsafe { OwnedFd::from_raw_fd(fd) } });
    let file =
        OpenFile::new_anon(ops, None, libc::O_RDWR | (flags & libc::EFD_NONBLOCK), "anon_inode:[eventfd]".into());
    ctx.task.files().install(file, flags & libc::EFD_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

pub fn sys_eventfd(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    eventfd_common(ctx, a[0] as u32, 0)
}

pub fn sys_eventfd2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    eventfd_common(ctx, a[0] as u32, a[1] as i32)
}
