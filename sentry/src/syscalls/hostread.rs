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
//!
//! On ptrace, a read-only open goes further after its first large read: its
//! position moves into a private host description of the file
//! (`OpenFile::position`), which is installed in the app at the sandbox
//! fd's own number. Every later read on that fd (read, pread64, readv,
//! preadv, preadv2, any size) is then let through as the app made it, at
//! its seccomp stop: one stop and a kcmp, with no register changed, so no
//! second stop to put registers back; the host kernel moves the position.

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
    if let Some(r) = through_mirror(ctx, file) {
        return Some(r);
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
        None => Some(file.position()),
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
    if attr.size - pos >= INSTALL_MIN {
        if let Some(fd) = mirror_fd(ctx, file) {
            drop(pos_guard);
            return install_mirror(ctx, file, fd, host_fd);
        }
    }
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

/// Trapped calls that read at the fd in their first argument into app
/// memory, and so can run on the host as they are.
const MIRRORED_CALLS: [i64; 5] =
    [libc::SYS_read, libc::SYS_pread64, libc::SYS_readv, libc::SYS_preadv, libc::SYS_preadv2];

/// The sandbox fd of the trapped call, if the call may run on `file`'s
/// mirror: the ptrace platform (the untouched stop is `let_through`'s check), a
/// call of [`MIRRORED_CALLS`] on this very description, a read-only open,
/// a number below the stub's fds, no result the sentry must see (strace,
/// inotify and dnotify watches).
fn mirror_fd(ctx: &SyscallCtx<'_>, file: &Arc<OpenFile>) -> Option<i32> {
    // systrap's trapped calls cannot be let through (RET_TRAP has consumed
    // them), and its detached threads run reads through appfds' slots.
    if crate::platform::systrap::active().is_some()
        || ctx.kernel.options.strace
        || file.writable()
        || super::inotify::any_watches()
    {
        return None;
    }
    let (nr, args) = ctx.trapped_call();
    if !MIRRORED_CALLS.contains(&i64::try_from(nr).ok()?) {
        return None;
    }
    let fd = i32::try_from(args[0]).ok()?;
    if !(0..crate::kernel::STUB_FD).contains(&fd) {
        return None;
    }
    ctx.file(fd).ok().filter(|f| Arc::ptr_eq(f, file)).map(|_| fd)
}

/// Lets the trapped call through when the app's fd of its number is this
/// description's mirror (kcmp). The host answers the app; nothing here
/// knows the result.
fn through_mirror(ctx: &mut SyscallCtx<'_>, file: &Arc<OpenFile>) -> Option<SysResult> {
    let private = file.host_position_fd()?;
    let fd = mirror_fd(ctx, file)?;
    if !appfds::same_file(ctx.task.host_tid(), fd, private) || !ctx.let_through() {
        return None;
    }
    Some(Ok(0))
}

/// First large read of a mirrored open in this process: moves the position
/// into a private host description, installs it at the sandbox fd's own
/// number (replacing whatever stale fd the app held there) and runs this
/// call as an injected one (an injection leaves the syscall stop behind).
fn install_mirror(ctx: &mut SyscallCtx<'_>, file: &Arc<OpenFile>, fd: i32, host_fd: RawFd) -> Option<SysResult> {
    let private =
        file.host_position(|| crate::confine::open_host_proc(&format!("self/fd/{host_fd}"), libc::O_RDONLY)).ok()?;
    match ctx.inject_fd_at(private, fd) {
        Ok(()) => {
            tracing::debug!(tid = ctx.task.tid, fd, "hostread: the open's host description is at its fd in the app")
        }
        Err(Errno::ESRCH) => return Some(Err(Errno::ESRCH)),
        // No room in the app's host fd table, or the like: copy instead.
        Err(e) => {
            tracing::debug!(tid = ctx.task.tid, fd, error = ?e, "hostread: cannot install the open's host description");
            return None;
        }
    }
    let (nr, args) = ctx.trapped_call();
    match ctx.inject(nr as i64, args) {
        // An injected call cannot be restarted as the app's own: read by copying.
        Ok(r) if (-516..=-512).contains(&r) => None,
        r => Some(r.and_then(Errno::result)),
    }
}
