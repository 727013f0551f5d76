//! Large reads of host-backed regular files, run by the host in the app's
//! own context, so the data goes from the page cache straight into the
//! app's buffer: one copy, as in a native read. The ordinary path (pread into
//! the sentry, then process_vm_writev) copies twice and pins every page of
//! the app's buffer; on a 1 MiB read that costs more than the stop itself.
//!
//! The app process holds its own copy of the file's host fd for this,
//! installed once (syscalls/appfds.rs, checked with kcmp(2) at each use). A
//! trapped read is then turned into a pread64 on that fd at the sandbox
//! file offset and let through (`Tracee::run_in_place`; on a detached
//! systrap thread the stub's handler runs it), so EOF, short reads, EFAULT
//! and partial copies into a partly unmapped buffer are the host kernel's
//! own answers.
//!
//! docs/performance.md has the measurements behind this choice (a mapped
//! window of the file copied out with process_vm_writev was slower than the
//! two-copy path on these VMs).

use std::os::fd::RawFd;
use std::sync::Arc;

use rvisor_syscalls::{Errno, SysResult};

use super::{appfds, SyscallCtx};
use crate::vfs::{OpenFile, S_IFMT, S_IFREG};

/// Smallest read that takes this path. It costs one more stop than the
/// copying path (~7 µs), which the saved copy repays from about 128 KiB on
/// (measured: equal at 128 KiB, 12% faster at 256 KiB, 28% at 1 MiB).
pub const DIRECT_MIN: u64 = 192 << 10;
/// Installing a file's fd costs about six stops, so it is done only for
/// files with at least this much left to read: one or two large reads of a
/// small file stay on the copying path.
const INSTALL_MIN: u64 = 1 << 20;

/// Where the app wants the data.
#[derive(Clone, Copy, Debug)]
pub enum Dest {
    /// read/pread64: one buffer.
    Buf(u64),
    /// readv/preadv: an iovec array and its length.
    Iov(u64, u64),
    /// preadv2: iovecs and RWF_* flags.
    Iov2(u64, u64, u64),
}

/// Reads up to `len` bytes into `dest` at `off` (None: the file offset,
/// which is advanced) the direct way. `None` if the file does not qualify:
/// the caller then takes the ordinary path.
pub fn read(
    ctx: &mut SyscallCtx<'_>,
    file: &Arc<OpenFile>,
    dest: Dest,
    len: u64,
    off: Option<u64>,
) -> Option<SysResult> {
    // The changed call is checked again by every filter, an app's own too:
    // one might refuse the pread this runs.
    if ctx.task.seccomp_mode.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        return None;
    }
    if len < DIRECT_MIN || !file.readable() || !file.ops().seekable() {
        return None;
    }
    let attr = file.attr().ok()?;
    if attr.mode & S_IFMT != S_IFREG {
        return None;
    }
    // Held across the host call: read(2) on a regular file is atomic with
    // respect to the offset, as in Linux.
    let mut pos_guard = match off {
        None => Some(file.offset.lock().unwrap_or_else(|e| e.into_inner())),
        Some(_) => None,
    };
    let pos = off.unwrap_or_else(|| pos_guard.as_deref().copied().unwrap_or(0));
    // Small files (and tmpfs files still held in sentry memory) stay on the
    // ordinary path; asking for host_fd() only now never promotes those.
    if attr.size.saturating_sub(pos) < DIRECT_MIN {
        return None;
    }
    let host_fd = file.ops().host_fd()?;
    let pos_arg = i64::try_from(pos).ok()? as u64;
    let writable = file.writable();
    let ret = match appfds::get(ctx, host_fd, writable) {
        Some(fd) => run_in_place(ctx, fd.fd, dest, pos_arg, off.is_none()),
        None if attr.size - pos >= INSTALL_MIN => install_and_read(ctx, host_fd, writable, dest, len, pos_arg)?,
        None => return None,
    };
    // The result comes from the app's context (on systrap from a slot the
    // app can write): never move the offset past what was asked for.
    let ret = match ret {
        Ok(r) => r.min(i64::try_from(len).unwrap_or(i64::MAX)),
        Err(e) => return Some(Err(e)),
    };
    if ret > 0 {
        if let Some(g) = pos_guard.as_deref_mut() {
            *g = pos + ret as u64;
        }
    }
    Some(Errno::result(ret))
}

/// The positional syscall for `dest` and its argument-register changes:
/// the app's fd becomes `app_fd`; a call on the file offset gets `pos`.
fn in_place_call(app_fd: i32, dest: Dest, pos: u64, uses_offset: bool) -> (i64, Vec<(usize, u64)>) {
    let mut args = vec![(0, app_fd as u64)];
    if uses_offset {
        args.push((3, pos));
    }
    let nr = match dest {
        Dest::Buf(_) => libc::SYS_pread64,
        Dest::Iov(..) => libc::SYS_preadv,
        Dest::Iov2(..) => libc::SYS_preadv2,
    };
    (nr, args)
}

fn run_in_place(ctx: &mut SyscallCtx<'_>, app_fd: i32, dest: Dest, pos: u64, uses_offset: bool) -> Result<i64, Errno> {
    let (nr, args) = in_place_call(app_fd, dest, pos, uses_offset);
    ctx.run_in_place(nr as u64, &args)
}

/// First large read of this file in this process: install the fd, then run
/// the read as an injected call (the stop is no longer a syscall stop after
/// an injection, so it cannot simply be let through).
fn install_and_read(
    ctx: &mut SyscallCtx<'_>,
    host_fd: RawFd,
    writable: bool,
    dest: Dest,
    len: u64,
    pos: u64,
) -> Option<Result<i64, Errno>> {
    let fd = match appfds::install(ctx, host_fd, writable) {
        Ok(fd) => fd,
        // No room in the app's host fd table, or the like: copy instead.
        Err(e) if e != Errno::ESRCH => return None,
        Err(e) => return Some(Err(e)),
    };
    let app_fd = fd.fd as u64;
    let args = match dest {
        Dest::Buf(buf) => [app_fd, buf, len, pos, 0, 0],
        Dest::Iov(iov, cnt) => [app_fd, iov, cnt, pos, 0, 0],
        Dest::Iov2(iov, cnt, flags) => [app_fd, iov, cnt, pos, 0, flags],
    };
    let nr = in_place_call(fd.fd, dest, pos, false).0;
    match ctx.inject(nr, args) {
        // An injected call cannot be restarted as the app's own: read by copying.
        Ok(r) if (-516..=-512).contains(&r) => None,
        r => Some(r),
    }
}
