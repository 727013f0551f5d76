//! Data transfer: read/write and their positional and vectored forms, lseek,
//! sendfile, copy_file_range, sync, truncate, fallocate and getdents.

use std::sync::Arc;

use rvisor_syscalls::abi::{push_dirent64, Iovec};
use rvisor_syscalls::{Errno, SysResult};

use super::hostread::{self, Dest};
use super::SyscallCtx;
use crate::vfs::{DirEntry, OpenFile, DT_DIR};

/// Largest single transfer the sentry buffers at once (Linux caps at MAX_RW_COUNT).
const MAX_RW: usize = 0x7fff_f000;
const CHUNK: usize = 8 << 20;

/// Reads up to `len` bytes at `off` (or the file offset), blocking unless O_NONBLOCK.
pub fn read_file(ctx: &SyscallCtx<'_>, file: &Arc<OpenFile>, len: usize, off: Option<u64>) -> Result<Vec<u8>, Errno> {
    read_file_with(ctx, file, len, off, |data| Ok(data.len())).map(|(data, _)| data)
}

/// Like [`read_file`], but hands the data to `deliver` before the file
/// offset moves, and moves it only by the count `deliver` accepted: a read
/// into a partly bad buffer returns what fit and leaves the rest unread,
/// and one into a bad buffer (EFAULT) reads nothing, as in Linux.
fn read_file_with(
    ctx: &SyscallCtx<'_>,
    file: &Arc<OpenFile>,
    len: usize,
    off: Option<u64>,
    deliver: impl FnOnce(&[u8]) -> Result<usize, Errno>,
) -> Result<(Vec<u8>, usize), Errno> {
    positional_ok(file, off)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let ops = file.ops();
    let seekable = ops.seekable();
    // Sockets block on their own terms (SO_RCVTIMEO, per-direction host fds).
    if ops.as_any().is::<crate::fs::socket::SocketFile>() {
        let data = super::socket::read(ctx, file, len.min(MAX_RW))?;
        let taken = deliver(&data)?.min(data.len());
        return Ok((data, taken));
    }
    let len = len.min(MAX_RW).min(CHUNK);
    let mut buf = vec![0u8; len];
    let mut pos_guard = if off.is_none() && seekable { Some(file.position()) } else { None };
    let pos = off.unwrap_or_else(|| pos_guard.as_deref().copied().unwrap_or(0));
    // Directories answer EISDIR from their handle (vfs::DirHandle): no stat needed here.
    let n = loop {
        match ops.read(&mut buf, pos) {
            Err(e) if e == Errno::EAGAIN && !file.nonblocking() => {
                super::sys::wait_file(ctx, ops.as_ref(), libc::POLLIN)?
            }
            r => break r?,
        }
    };
    buf.truncate(n);
    let taken = deliver(&buf)?.min(n);
    if let Some(g) = pos_guard.as_deref_mut() {
        *g = pos + taken as u64;
    }
    Ok((buf, taken))
}

/// Copies `data` to app memory at `addr` up to the first fault; EFAULT if
/// nothing could be copied.
fn copy_out(ctx: &SyscallCtx<'_>, addr: u64, data: &[u8]) -> Result<usize, Errno> {
    let mut done = 0;
    while done < data.len() {
        match ctx.mem.write_partial(addr.wrapping_add(done as u64), &data[done..]) {
            0 => break,
            n => done += n,
        }
    }
    if done == 0 && !data.is_empty() {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

static APPEND_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes all of `data` (blocking streams wait for room) at `off` or the file offset.
/// A positional read or write (pread64, pwritev2, ...) of a file without
/// offsets is ESPIPE, before anything else is checked (Linux tests
/// FMODE_PREAD/PWRITE first). O_PATH descriptors are EBADF throughout.
fn positional_ok(file: &OpenFile, off: Option<u64>) -> Result<(), Errno> {
    if off.is_some() && !file.is_path_only() && !file.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    Ok(())
}

pub fn write_file(ctx: &SyscallCtx<'_>, file: &Arc<OpenFile>, data: &[u8], off: Option<u64>) -> SysResult {
    positional_ok(file, off)?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let ops = file.ops();
    let seekable = ops.seekable();
    if ops.as_any().is::<crate::fs::socket::SocketFile>() {
        return super::socket::write(ctx, file, data);
    }
    let mut pos_guard = if off.is_none() && seekable { Some(file.position()) } else { None };
    let append = file.flags() & libc::O_APPEND != 0;
    // Every writer of a sandbox file goes through the sentry, so one lock
    // makes "find the end, write there" atomic across open descriptions.
    let _append_guard = (append && seekable).then(|| APPEND_LOCK.lock().unwrap_or_else(|e| e.into_inner()));
    let mut pos = match off {
        Some(o) if !append => o,
        _ if append && seekable => file.attr().map(|a| a.size).unwrap_or(0),
        _ => pos_guard.as_deref().copied().unwrap_or(0),
    };
    if data.is_empty() {
        return ops.write(data, pos).map(|n| n as i64);
    }
    if seekable {
        let fsize = ctx.task.tg.rlimit(libc::RLIMIT_FSIZE as usize).rlim_cur;
        if pos >= fsize {
            super::signal::send_to_self(ctx, libc::SIGXFSZ);
            return Err(Errno::EFBIG);
        }
    }
    let mut done = 0usize;
    while done < data.len() {
        match ops.write(&data[done..], pos) {
            Ok(n) => {
                done += n;
                pos += n as u64;
                if seekable {
                    break;
                }
            }
            Err(e) if e == Errno::EAGAIN => {
                if file.nonblocking() {
                    if done > 0 {
                        break;
                    }
                    return Err(e);
                }
                if let Err(e) = super::sys::wait_file(ctx, ops.as_ref(), libc::POLLOUT) {
                    if done > 0 {
                        break;
                    }
                    return Err(e);
                }
            }
            Err(e) if e == Errno::EPIPE => {
                super::signal::send_to_self(ctx, libc::SIGPIPE);
                if done > 0 {
                    break;
                }
                return Err(e);
            }
            Err(e) => {
                if done > 0 {
                    break;
                }
                return Err(e);
            }
        }
    }
    if let Some(g) = pos_guard.as_deref_mut() {
        *g = pos;
    }
    Ok(done as i64)
}

fn do_read(ctx: &mut SyscallCtx<'_>, fd: u64, buf: u64, len: u64, off: Option<u64>) -> SysResult {
    let file = ctx.file(fd as i32)?;
    if len == 0 {
        if !file.readable() {
            return Err(Errno::EBADF);
        }
        return Ok(0);
    }
    if let Some(r) = hostread::read(ctx, &file, Dest::Buf(buf), len, off) {
        return accessed(&file, r);
    }
    let (_, n) = read_file_with(ctx, &file, len as usize, off, |data| copy_out(ctx, buf, data))?;
    accessed(&file, Ok(n as i64))
}

/// A read that returned data: IN_ACCESS, and SIGIO for writers waiting for room.
fn accessed(file: &OpenFile, r: SysResult) -> SysResult {
    if r.is_ok_and(|n| n > 0) {
        super::inotify::file_event(file, super::inotify::IN_ACCESS);
        super::sigio::poke();
    }
    r
}

fn do_write(ctx: &mut SyscallCtx<'_>, fd: u64, buf: u64, len: u64, off: Option<u64>) -> SysResult {
    let file = ctx.file(fd as i32)?;
    let len = (len as usize).min(MAX_RW);
    let mut data = vec![0u8; len.min(CHUNK)];
    ctx.mem.read(buf, &mut data)?;
    let n = write_file(ctx, &file, &data, off)?;
    if n > 0 {
        super::inotify::file_event(&file, super::inotify::IN_MODIFY);
        super::sigio::poke();
    }
    Ok(n)
}

fn pos_arg(off: u64) -> Result<Option<u64>, Errno> {
    if (off as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(off))
}

pub fn sys_read(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    if let Some(r) = super::signalfd::read_hook(ctx, a[0] as i32, a[1], a[2]) {
        return r;
    }
    do_read(ctx, a[0], a[1], a[2], None)
}

pub fn sys_write(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    do_write(ctx, a[0], a[1], a[2], None)
}

pub fn sys_pread64(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let off = pos_arg(a[3])?;
    do_read(ctx, a[0], a[1], a[2], off)
}

pub fn sys_pwrite64(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let off = pos_arg(a[3])?;
    do_write(ctx, a[0], a[1], a[2], off)
}

fn readv_common(
    ctx: &mut SyscallCtx<'_>,
    fd: u64,
    iov: u64,
    cnt: u64,
    off: Option<u64>,
    flags: Option<u64>,
) -> SysResult {
    let file = ctx.file(fd as i32)?;
    positional_ok(&file, off)?;
    let iovs: Vec<Iovec> = ctx.mem.read_iovecs(iov, cnt)?;
    let total: u64 = iovs.iter().map(|v| v.iov_len).sum();
    if total == 0 {
        return if file.readable() { Ok(0) } else { Err(Errno::EBADF) };
    }
    if let Some(r) = super::signalfd::readv_hook(ctx, &file, &iovs, off) {
        return r;
    }
    if file.ops().per_segment_io(false) {
        return per_segment(&iovs, off, |v, o| do_read(ctx, fd, v.iov_base, v.iov_len, o));
    }
    let dest = match flags {
        Some(f) => Dest::Iov2(iov, cnt, f),
        None => Dest::Iov(iov, cnt),
    };
    if let Some(r) = hostread::read(ctx, &file, dest, total, off) {
        return accessed(&file, r);
    }
    let scatter = |data: &[u8]| {
        let mut done = 0usize;
        for v in &iovs {
            if done >= data.len() {
                break;
            }
            let n = (v.iov_len as usize).min(data.len() - done);
            match copy_out(ctx, v.iov_base, &data[done..done + n]) {
                Ok(w) => {
                    done += w;
                    if w < n {
                        break;
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    };
    let (_, n) = read_file_with(ctx, &file, total as usize, off, scatter)?;
    accessed(&file, Ok(n as i64))
}

/// readv/writev as Linux's do_loop_readv_writev: one transfer per
/// non-empty iovec, stopping at the first short one or error.
fn per_segment(iovs: &[Iovec], off: Option<u64>, mut one: impl FnMut(&Iovec, Option<u64>) -> SysResult) -> SysResult {
    let mut done = 0i64;
    for v in iovs.iter().filter(|v| v.iov_len > 0) {
        match one(v, off.map(|o| o + done as u64)) {
            Ok(n) => {
                done += n;
                if n as u64 != v.iov_len {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

fn writev_common(ctx: &mut SyscallCtx<'_>, fd: u64, iov: u64, cnt: u64, off: Option<u64>) -> SysResult {
    let file = ctx.file(fd as i32)?;
    positional_ok(&file, off)?;
    let iovs: Vec<Iovec> = ctx.mem.read_iovecs(iov, cnt)?;
    if file.ops().per_segment_io(true) {
        return per_segment(&iovs, off, |v, o| do_write(ctx, fd, v.iov_base, v.iov_len, o));
    }
    let mut data = Vec::new();
    for v in &iovs {
        let n = (v.iov_len as usize).min(CHUNK.saturating_sub(data.len()));
        let start = data.len();
        data.resize(start + n, 0);
        let got = ctx.mem.read_partial(v.iov_base, &mut data[start..]);
        if got < n {
            data.truncate(start + got);
            if data.is_empty() {
                return Err(Errno::EFAULT);
            }
            break;
        }
    }
    let n = write_file(ctx, &file, &data, off)?;
    if n > 0 {
        super::sigio::poke();
    }
    Ok(n)
}

pub fn sys_readv(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    readv_common(ctx, a[0], a[1], a[2], None, None)
}

pub fn sys_writev(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    writev_common(ctx, a[0], a[1], a[2], None)
}

pub fn sys_preadv(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let off = pos_arg(a[3])?;
    readv_common(ctx, a[0], a[1], a[2], off, None)
}

pub fn sys_pwritev(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let off = pos_arg(a[3])?;
    writev_common(ctx, a[0], a[1], a[2], off)
}

const RWF_SUPPORTED: u64 = 0x1f;

pub fn sys_preadv2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    if a[5] & !RWF_SUPPORTED != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let off = if a[3] as i64 == -1 { None } else { pos_arg(a[3])? };
    readv_common(ctx, a[0], a[1], a[2], off, Some(a[5]))
}

pub fn sys_pwritev2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    if a[5] & !RWF_SUPPORTED != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let off = if a[3] as i64 == -1 { None } else { pos_arg(a[3])? };
    writev_common(ctx, a[0], a[1], a[2], off)
}

pub fn sys_lseek(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, off, whence) = (a[0] as i32, a[1] as i64, a[2] as i32);
    let file = ctx.file(fd)?;
    if file.is_path_only() {
        return Err(Errno::EBADF);
    }
    if let Some(r) = file.ops().host_seek(off, whence) {
        return r.map(|v| v as i64);
    }
    if !file.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    let mut pos = file.position();
    let base: i64 = match whence {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => *pos as i64,
        libc::SEEK_END => file.attr()?.size as i64,
        libc::SEEK_DATA | libc::SEEK_HOLE => {
            let attr = file.attr()?;
            let size = attr.size as i64;
            if off < 0 || off >= size {
                return Err(Errno::ENXIO);
            }
            let new = match holes_on_host(&file, &attr, off, whence) {
                Some(r) => r?,
                None if whence == libc::SEEK_DATA => off,
                None => size,
            };
            *pos = new as u64;
            return Ok(new);
        }
        _ => return Err(Errno::EINVAL),
    };
    let new = base.checked_add(off).ok_or(Errno::EOVERFLOW)?;
    if new < 0 {
        return Err(Errno::EINVAL);
    }
    *pos = new as u64;
    Ok(new)
}

/// SEEK_DATA/SEEK_HOLE as the host file behind a regular file has its
/// holes (host files, and tmpfs files in a memfd); None where there is no
/// such file: then, as Linux's generic answer, the whole file is data.
/// Moving the sentry's host fd's position changes nothing: every read and
/// write of a regular file is positional.
fn holes_on_host(file: &OpenFile, attr: &crate::vfs::Attr, off: i64, whence: i32) -> Option<Result<i64, Errno>> {
    if attr.mode & crate::vfs::S_IFMT != crate::vfs::S_IFREG {
        return None;
    }
    let fd = file.ops().host_fd()?;
    // SAFETY: lseek on a host fd the open file holds.
    let r = unsafe { libc::lseek(fd, off, whence) };
    match r {
        // A hole reported past the sandbox's size ends at that size.
        r if r >= 0 => Some(Ok(r.min(attr.size as i64))),
        // No data from `off` to the end.
        _ if Errno::last() == Errno::ENXIO => Some(Err(Errno::ENXIO)),
        _ => None,
    }
}

pub(super) fn transfer(
    ctx: &mut SyscallCtx<'_>,
    inf: &Arc<OpenFile>,
    outf: &Arc<OpenFile>,
    in_off: Option<u64>,
    out_off: Option<u64>,
    count: usize,
) -> Result<usize, Errno> {
    let mut done = 0usize;
    let mut ioff = in_off;
    let mut ooff = out_off;
    while done < count {
        let want = (count - done).min(1 << 20);
        let data = match read_file(ctx, inf, want, ioff) {
            Ok(d) => d,
            Err(e) if done > 0 && e != Errno::EFAULT => break,
            Err(e) => return Err(e),
        };
        if data.is_empty() {
            break;
        }
        let w = match write_file(ctx, outf, &data, ooff) {
            Ok(w) => w as usize,
            Err(e) if done > 0 => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        };
        done += w;
        ioff = ioff.map(|o| o + w as u64);
        ooff = ooff.map(|o| o + w as u64);
        if w < data.len() {
            // Give back what was read but not written.
            if in_off.is_none() && inf.ops().seekable() {
                let mut p = inf.position();
                *p -= (data.len() - w) as u64;
            }
            break;
        }
        if data.len() < want {
            break;
        }
    }
    Ok(done)
}

pub fn sys_sendfile(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (out_fd, in_fd, offp, count) = (a[0] as i32, a[1] as i32, a[2], a[3] as usize);
    let outf = ctx.file(out_fd)?;
    let inf = ctx.file(in_fd)?;
    if !inf.readable() || !outf.writable() {
        return Err(Errno::EBADF);
    }
    if outf.flags() & libc::O_APPEND != 0 || !inf.ops().seekable() {
        return Err(Errno::EINVAL);
    }
    let in_off = if offp != 0 {
        let o: i64 = ctx.mem.read_val(offp)?;
        if o < 0 {
            return Err(Errno::EINVAL);
        }
        if !inf.ops().seekable() {
            return Err(Errno::ESPIPE);
        }
        Some(o as u64)
    } else {
        None
    };
    let n = transfer(ctx, &inf, &outf, in_off, None, count.min(MAX_RW))?;
    if let Some(o) = in_off {
        ctx.mem.write_val(offp, &((o + n as u64) as i64))?;
    }
    Ok(n as i64)
}

pub fn sys_copy_file_range(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (in_fd, in_p, out_fd, out_p, len, flags) = (a[0] as i32, a[1], a[2] as i32, a[3], a[4] as usize, a[5]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let inf = ctx.file(in_fd)?;
    let outf = ctx.file(out_fd)?;
    if !inf.readable() || !outf.writable() || outf.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let (ia, oa) = (inf.attr()?, outf.attr()?);
    if ia.is_dir() || oa.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !ia.is_regular() || !oa.is_regular() {
        return Err(Errno::EINVAL);
    }
    let read_off = |p: u64, ctx: &SyscallCtx<'_>| -> Result<Option<u64>, Errno> {
        if p == 0 {
            return Ok(None);
        }
        let o: i64 = ctx.mem.read_val(p)?;
        if o < 0 {
            return Err(Errno::EOVERFLOW);
        }
        Ok(Some(o as u64))
    };
    let io = read_off(in_p, ctx)?;
    let oo = read_off(out_p, ctx)?;
    let ipos = io.unwrap_or(*inf.position());
    let opos = oo.unwrap_or(*outf.position());
    if (ipos as i64).checked_add(len as i64).is_none_or(|v| v < 0)
        || (opos as i64).checked_add(len as i64).is_none_or(|v| v < 0)
    {
        return Err(Errno::EOVERFLOW);
    }
    if ia.ino == oa.ino && ia.dev == oa.dev {
        let (s, d) = (ipos, opos);
        if s < d.saturating_add(len as u64) && d < s.saturating_add(len as u64) {
            return Err(Errno::EINVAL);
        }
    }
    let n = transfer(ctx, &inf, &outf, io, oo, len.min(MAX_RW))?;
    if let Some(o) = io {
        ctx.mem.write_val(in_p, &((o + n as u64) as i64))?;
    }
    if let Some(o) = oo {
        ctx.mem.write_val(out_p, &((o + n as u64) as i64))?;
    }
    Ok(n as i64)
}

fn sync_common(ctx: &SyscallCtx<'_>, fd: i32, data_only: bool) -> SysResult {
    let f = ctx.file(fd)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    f.ops().sync(data_only).map(|_| 0)
}

pub fn sys_fsync(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    sync_common(ctx, a[0] as i32, false)
}

pub fn sys_fdatasync(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    sync_common(ctx, a[0] as i32, true)
}

pub fn sys_sync_file_range(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, off, len, flags) = (a[0] as i32, a[1] as i64, a[2] as i64, a[3] as u32);
    const VALID: u32 = 1 | 2 | 4;
    if flags & !VALID != 0 || off < 0 || len < 0 || off.checked_add(len).is_none() {
        return Err(Errno::EINVAL);
    }
    let f = ctx.file(fd)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    let attr = f.attr()?;
    if !attr.is_regular()
        && !attr.is_dir()
        && attr.file_type() != crate::vfs::S_IFBLK
        && attr.file_type() != crate::vfs::S_IFLNK
    {
        return Err(Errno::ESPIPE);
    }
    if flags & 2 != 0 {
        f.ops().sync(true)?;
    }
    Ok(0)
}

pub fn sys_sync(_ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(0)
}

pub fn sys_syncfs(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    ctx.file(a[0] as i32).map(|_| 0)
}

/// Growing a file from `size` to `len` past RLIMIT_FSIZE: SIGXFSZ and EFBIG,
/// as Linux's inode_newsize_ok (shrinking is always allowed).
pub fn check_new_size(ctx: &SyscallCtx<'_>, size: u64, len: u64) -> Result<(), Errno> {
    let limit = ctx.task.tg.rlimit(libc::RLIMIT_FSIZE as usize).rlim_cur;
    if len > size && len > limit {
        super::signal::send_to_self(ctx, libc::SIGXFSZ);
        return Err(Errno::EFBIG);
    }
    Ok(())
}

pub fn sys_ftruncate(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, len) = (a[0] as i32, a[1] as i64);
    let f = ctx.file(fd)?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    if !f.writable() {
        return Err(if f.is_path_only() { Errno::EBADF } else { Errno::EINVAL });
    }
    let attr = f.attr()?;
    if attr.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !attr.is_regular() {
        return Err(Errno::EINVAL);
    }
    if let Some(loc) = f.location() {
        if loc.mount.flags.readonly {
            return Err(Errno::EROFS);
        }
    }
    check_new_size(ctx, attr.size, len as u64)?;
    f.ops().truncate(len as u64).map(|_| 0)
}

pub fn sys_fallocate(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, mode, off, len) = (a[0] as i32, a[1] as i32, a[2] as i64, a[3] as i64);
    let f = ctx.file(fd)?;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    let attr = f.attr()?;
    if attr.file_type() == crate::vfs::S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    if attr.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !attr.is_regular() {
        return Err(Errno::ENODEV);
    }
    f.ops().allocate(mode, off as u64, len as u64).map(|_| 0)
}

/// Directory listing with "." and ".." first.
fn snapshot(file: &Arc<OpenFile>) -> Result<Vec<DirEntry>, Errno> {
    let loc = file.location().ok_or(Errno::ENOTDIR)?;
    let attr = loc.attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let parent_ino = loc.dentry.parent().and_then(|p| p.attr().ok()).map(|a| a.ino).unwrap_or(attr.ino);
    let mut v = vec![
        DirEntry { ino: attr.ino, d_type: DT_DIR, name: b".".to_vec() },
        DirEntry { ino: parent_ino, d_type: DT_DIR, name: b"..".to_vec() },
    ];
    v.extend(loc.inode().readdir()?);
    Ok(v)
}

fn getdents_common(ctx: &mut SyscallCtx<'_>, a: [u64; 6], legacy: bool) -> SysResult {
    let (fd, buf, count) = (a[0] as i32, a[1], a[2] as usize);
    let file = ctx.file(fd)?;
    if file.is_path_only() {
        return Err(Errno::EBADF);
    }
    let mut pos = file.position();
    let mut snap = file.dir_snapshot.lock().unwrap_or_else(|e| e.into_inner());
    if snap.is_none() || *pos == 0 {
        *snap = Some(snapshot(&file)?);
    }
    let entries = snap.as_ref().map(|v| v.as_slice()).unwrap_or(&[]);
    let limit = count.min(1 << 20);
    let mut out = Vec::new();
    let mut idx = *pos as usize;
    while idx < entries.len() {
        let e = &entries[idx];
        let ok = if legacy {
            rvisor_syscalls::abi::push_dirent(&mut out, limit, e.ino, (idx + 1) as i64, e.d_type, &e.name)
        } else {
            push_dirent64(&mut out, limit, e.ino, (idx + 1) as i64, e.d_type, &e.name)
        };
        if !ok {
            if out.is_empty() {
                return Err(Errno::EINVAL);
            }
            break;
        }
        idx += 1;
    }
    ctx.mem.write(buf, &out)?;
    *pos = idx as u64;
    super::inotify::file_event(&file, super::inotify::IN_ACCESS);
    Ok(out.len() as i64)
}

pub fn sys_getdents64(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    getdents_common(ctx, a, false)
}

pub fn sys_getdents(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    getdents_common(ctx, a, true)
}

pub fn sys_fadvise64(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, len, advice) = (a[0] as i32, a[2] as i64, a[3] as i32);
    let f = ctx.file(fd)?;
    if !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    if len < 0 || !(0..=5).contains(&advice) {
        return Err(Errno::EINVAL);
    }
    // Advice only: the page cache of donated host files is the host's business.
    Ok(0)
}

/// readahead(2): a hint for regular files (the host's page cache decides);
/// EBADF unless open for reading, EINVAL for anything that is not a file.
pub fn sys_readahead(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    if f.is_path_only() || !f.readable() {
        return Err(Errno::EBADF);
    }
    if f.attr()?.mode & crate::vfs::S_IFMT != crate::vfs::S_IFREG {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
