//! epoll and eventfd. An epoll instance is a sentry object: its interest list
//! holds open file descriptions, and waits poll them (blocking on their host
//! fds where they have one).

use std::any::Any;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::fs::host::check;
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
    /// EPOLLONESHOT entry already fired; disabled until EPOLL_CTL_MOD.
    disabled: bool,
}

/// An epoll instance.
pub struct Epoll {
    /// Keyed by (fd, open file description address), as Linux keys by (fd, file).
    interests: Mutex<BTreeMap<(i32, usize), Interest>>,
}

impl Epoll {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(i32, usize), Interest>> {
        self.interests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Collects up to `max` ready events; fills `wait_on` with host fds to block on.
    fn collect(&self, max: usize, wait_on: &mut Vec<(RawFd, i16)>) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut map = self.lock();
        map.retain(|_, i| i.file.strong_count() > 0);
        for i in map.values_mut() {
            if out.len() >= max {
                break;
            }
            if i.disabled {
                continue;
            }
            let Some(f) = i.file.upgrade() else { continue };
            let want = (i.events & 0xffff) as i16 | libc::POLLERR | libc::POLLHUP;
            let ready = (f.ops().poll(want) & want) as u16 as u32;
            if ready == 0 {
                i.last = 0;
                if let Some(h) = f.ops().host_fd() {
                    wait_on.push((h, (i.events & 0xffff) as i16));
                }
                continue;
            }
            if i.events & EPOLLET != 0 && ready == i.last {
                if let Some(h) = f.ops().host_fd() {
                    wait_on.push((h, (i.events & 0xffff) as i16));
                }
                continue;
            }
            i.last = ready;
            if i.events & EPOLLONESHOT != 0 {
                i.disabled = true;
            }
            out.push((ready, i.data));
        }
        out
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
    let ep = Arc::new(Epoll { interests: Mutex::new(BTreeMap::new()) });
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

pub fn sys_epoll_ctl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (epfd, op, fd, evp) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3]);
    let epf = ctx.file(epfd)?;
    let target = ctx.file(fd)?;
    let ep = epoll_of(&epf)?;
    if Arc::ptr_eq(&epf, &target) {
        return Err(Errno::EINVAL);
    }
    let attr = target.attr()?;
    if attr.is_regular() || attr.is_dir() {
        return Err(Errno::EPERM);
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
            map.insert(key, Interest { file: Arc::downgrade(&target), events, data, last: 0, disabled: false });
            Ok(0)
        }
        libc::EPOLL_CTL_MOD => {
            let i = map.get_mut(&key).ok_or(Errno::ENOENT)?;
            let (events, data) = ev.unwrap_or_default();
            if events & EPOLLEXCLUSIVE != 0 || i.events & EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            *i = Interest { file: i.file.clone(), events: events & !EPOLLWAKEUP, data, last: 0, disabled: false };
            Ok(0)
        }
        libc::EPOLL_CTL_DEL => map.remove(&key).map(|_| 0).ok_or(Errno::ENOENT),
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
    loop {
        let mut wait_on = Vec::new();
        let ready = ep.collect(max as usize, &mut wait_on);
        if !ready.is_empty() {
            let mut buf = Vec::with_capacity(ready.len() * 12);
            for (ev, data) in &ready {
                buf.extend_from_slice(&ev.to_ne_bytes());
                buf.extend_from_slice(&data.to_ne_bytes());
            }
            ctx.mem.write(evp, &buf)?;
            return Ok(ready.len() as i64);
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()).as_millis() as i32);
        if remaining == Some(0) {
            return Ok(0);
        }
        // Sentry-internal files have no host fd to wait on: re-check periodically.
        let slice = remaining.map(|r| r.min(50)).unwrap_or(50);
        // epoll_wait is never restarted, whatever SA_RESTART says.
        ctx.block(&wait_on, slice).map_err(|e| if e == Errno::ERESTARTSYS { Errno::EINTR } else { e })?;
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
