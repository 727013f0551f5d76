//! splice and tee. The sentry holds every pipe's host fds, so tee is the
//! host's own tee between them; splice moves the data through the sentry
//! (as sendfile does), with Linux's checks on which side must be a pipe.

use std::sync::Arc;

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::fs::pipe::PipeEnd;
use crate::vfs::OpenFile;

const SPLICE_F_NONBLOCK: u64 = 2;
const SPLICE_FLAGS: u64 = 1 | 2 | 4 | 8;

fn is_pipe(f: &Arc<OpenFile>) -> bool {
    f.ops().as_any().is::<PipeEnd>()
}

/// An offset pointer argument: None for NULL; ESPIPE on a pipe, EINVAL if negative.
fn offset_arg(ctx: &SyscallCtx<'_>, f: &Arc<OpenFile>, ptr: u64) -> Result<Option<u64>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    if is_pipe(f) || !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    let o: i64 = ctx.mem.read_val(ptr)?;
    if o < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(o as u64))
}

pub fn sys_splice(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (in_fd, in_p, out_fd, out_p, len, flags) = (a[0] as i32, a[1], a[2] as i32, a[3], a[4] as usize, a[5]);
    let inf = ctx.file(in_fd)?;
    let outf = ctx.file(out_fd)?;
    if !inf.readable() || !outf.writable() {
        return Err(Errno::EBADF);
    }
    if flags & !SPLICE_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    if !is_pipe(&inf) && !is_pipe(&outf) {
        return Err(Errno::EINVAL);
    }
    if outf.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let in_off = offset_arg(ctx, &inf, in_p)?;
    let out_off = offset_arg(ctx, &outf, out_p)?;
    if len == 0 {
        return Ok(0);
    }
    if flags & SPLICE_F_NONBLOCK != 0 && is_pipe(&inf) {
        // Nothing to move and the caller will not wait: EAGAIN, as Linux.
        if inf.ops().poll(libc::POLLIN | libc::POLLHUP) == 0 {
            return Err(Errno::EAGAIN);
        }
    }
    let n = super::io::transfer(ctx, &inf, &outf, in_off, out_off, len.min(1 << 20))?;
    if let Some(o) = in_off {
        ctx.mem.write_val(in_p, &((o + n as u64) as i64))?;
    }
    if let Some(o) = out_off {
        ctx.mem.write_val(out_p, &((o + n as u64) as i64))?;
    }
    Ok(n as i64)
}

pub fn sys_tee(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (in_fd, out_fd, len, flags) = (a[0] as i32, a[1] as i32, a[2] as usize, a[3]);
    let inf = ctx.file(in_fd)?;
    let outf = ctx.file(out_fd)?;
    if !inf.readable() || !outf.writable() {
        return Err(Errno::EBADF);
    }
    if flags & !SPLICE_FLAGS != 0 || !is_pipe(&inf) || !is_pipe(&outf) {
        return Err(Errno::EINVAL);
    }
    let (Some(hin), Some(hout)) = (inf.ops().host_fd(), outf.ops().host_fd()) else { return Err(Errno::EINVAL) };
    if std::ptr::eq(Arc::as_ptr(&inf), Arc::as_ptr(&outf)) || inf.ops().attr()?.ino == outf.ops().attr()?.ino {
        return Err(Errno::EINVAL);
    }
    loop {
        // SAFETY: both are host pipe fds the sentry owns; the host pipes are non-blocking.
        let r = unsafe { libc::tee(hin, hout, len, libc::SPLICE_F_NONBLOCK) };
        if r >= 0 {
            return Ok(r as i64);
        }
        let e = Errno::last();
        if e != Errno::EAGAIN || flags & SPLICE_F_NONBLOCK != 0 || inf.nonblocking() || outf.nonblocking() {
            return Err(e);
        }
        // Wait for data in, or room out, whichever is missing.
        let events =
            if inf.ops().poll(libc::POLLIN | libc::POLLHUP) == 0 { (hin, libc::POLLIN) } else { (hout, libc::POLLOUT) };
        ctx.block(&[events], -1)?;
    }
}

/// vmsplice: the app's memory into a pipe (its write end) or out of it (its
/// read end). The sentry copies (SPLICE_F_GIFT gives pages to no one), which
/// is what Linux does for the read direction and what an app sees in both.
pub fn sys_vmsplice(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, iov, cnt, flags) = (a[0] as i32, a[1], a[2], a[3]);
    if flags & !SPLICE_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let f = ctx.file(fd)?;
    let to_pipe = if f.writable() {
        true
    } else if f.readable() {
        false
    } else {
        return Err(Errno::EBADF);
    };
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let iovs = ctx.mem.read_iovecs(iov, cnt)?;
    if iovs.iter().all(|v| v.iov_len == 0) {
        return Ok(0);
    }
    if !is_pipe(&f) {
        return Err(Errno::EBADF);
    }
    if flags & SPLICE_F_NONBLOCK != 0 {
        let ready = if to_pipe { f.ops().poll(libc::POLLOUT) } else { f.ops().poll(libc::POLLIN | libc::POLLHUP) };
        if ready == 0 {
            return Err(Errno::EAGAIN);
        }
    }
    if !to_pipe {
        return super::io::sys_readv(ctx, [fd as u64, iov, cnt, 0, 0, 0]);
    }
    // Unlike write(2), vmsplice returns once the pipe is full: it waits only
    // while nothing at all fits.
    let host = f.ops().host_fd().ok_or(Errno::EBADF)?;
    let mut data = Vec::new();
    for v in &iovs {
        let want = (v.iov_len as usize).min((1 << 20) - data.len());
        let start = data.len();
        data.resize(start + want, 0);
        let got = ctx.mem.read_partial(v.iov_base, &mut data[start..]);
        if got < want {
            data.truncate(start + got);
            if data.is_empty() {
                return Err(Errno::EFAULT);
            }
            break;
        }
    }
    loop {
        // SAFETY: a host pipe fd the sentry owns (non-blocking); data is a live buffer.
        let n = unsafe { libc::write(host, data.as_ptr().cast(), data.len()) };
        if n >= 0 {
            super::sigio::poke();
            return Ok(n as i64);
        }
        let e = Errno::last();
        if e == Errno::EPIPE {
            super::signal::send_to_self(ctx, libc::SIGPIPE);
        }
        if e != Errno::EAGAIN || flags & SPLICE_F_NONBLOCK != 0 || f.nonblocking() {
            return Err(e);
        }
        ctx.block(&[(host, libc::POLLOUT)], -1)?;
    }
}
