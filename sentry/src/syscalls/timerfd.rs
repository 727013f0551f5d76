//! timerfd: backed by a host timerfd owned by the sentry. The host object
//! does the timekeeping (the sandbox shares the host's clocks) and its fd is
//! what poll, epoll and blocking reads wait on. It is non-blocking on the
//! host; blocking reads are emulated by the syscall layer like other host fds.

use std::any::Any;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::fs::host::check;
use crate::vfs::{Attr, FileOps, OpenFile, VfsResult};

const TFD_TIMER_ABSTIME: i32 = 1;
const TFD_TIMER_CANCEL_ON_SET: i32 = 2;

struct TimerFdFile {
    fd: OwnedFd,
}

impl FileOps for TimerFdFile {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        // SAFETY: reads 8 bytes into a buffer of at least 8.
        check(unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) })
    }
    fn write(&self, _buf: &[u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EINVAL)
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

pub fn sys_timerfd_create(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (clock, flags) = (a[0] as i32, a[1] as i32);
    if flags & !(libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    // Only the fixed system clocks: a CPU-time clock id would name a host pid.
    if clock < 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: plain syscall; result checked.
    let fd = unsafe { libc::timerfd_create(clock, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd, owned from here on.
    let ops = Arc::new(TimerFdFile { fd: unsafe { OwnedFd::from_raw_fd(fd) } });
    let file =
        OpenFile::new_anon(ops, None, libc::O_RDWR | (flags & libc::TFD_NONBLOCK), "anon_inode:[timerfd]".into());
    ctx.task.files().install(file, flags & libc::TFD_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

/// The timerfd open as `fd` and its host fd (valid while the Arc is held).
fn timer_of(ctx: &SyscallCtx<'_>, fd: i32) -> Result<(Arc<OpenFile>, RawFd), Errno> {
    let file = ctx.file(fd)?;
    let host = file.ops().as_any().downcast_ref::<TimerFdFile>().ok_or(Errno::EINVAL)?.fd.as_raw_fd();
    Ok((file, host))
}

fn to_itimerspec(v: [i64; 4]) -> libc::itimerspec {
    libc::itimerspec {
        it_interval: libc::timespec { tv_sec: v[0], tv_nsec: v[1] },
        it_value: libc::timespec { tv_sec: v[2], tv_nsec: v[3] },
    }
}

fn from_itimerspec(t: &libc::itimerspec) -> [i64; 4] {
    [t.it_interval.tv_sec, t.it_interval.tv_nsec, t.it_value.tv_sec, t.it_value.tv_nsec]
}

pub fn sys_timerfd_settime(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, flags, new_addr, old_addr) = (a[0] as i32, a[1] as i32, a[2], a[3]);
    // Linux's order: copy in, validate the flags, then look up the fd.
    let new = to_itimerspec(ctx.mem.read_val::<[i64; 4]>(new_addr)?);
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let (file, host) = timer_of(ctx, fd)?;
    let mut old = to_itimerspec([0; 4]);
    // SAFETY: both pointers reference live locals of the right type.
    if unsafe { libc::timerfd_settime(host, flags, &new, &mut old) } != 0 {
        return Err(Errno::last());
    }
    drop(file);
    if old_addr != 0 {
        ctx.mem.write_val(old_addr, &from_itimerspec(&old))?;
    }
    Ok(0)
}

pub fn sys_timerfd_gettime(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (file, host) = timer_of(ctx, a[0] as i32)?;
    let mut cur = to_itimerspec([0; 4]);
    // SAFETY: cur is a live local itimerspec.
    if unsafe { libc::timerfd_gettime(host, &mut cur) } != 0 {
        return Err(Errno::last());
    }
    drop(file);
    ctx.mem.write_val(a[1], &from_itimerspec(&cur))?;
    Ok(0)
}
