//! Large reads of host-backed regular files, run by the host in the app's
//! own context, so the data goes from the page cache straight into the
//! app's buffer: one copy, as in a native read. The ordinary path (pread into
//! the sentry, then process_vm_writev) copies twice and pins every page of
//! the app's buffer; on a 1 MiB read that costs more than the stop itself.
//!
//! The app process holds its own copy of the file's host fd for this,
//! installed once by `SyscallCtx::inject_fd` (close-on-exec). The app cannot
//! use it: every fd-taking syscall traps to the sentry, and no passthrough
//! entry takes an fd. A trapped read is then turned into a pread64 on that
//! fd at the sandbox file offset and let through (`Tracee::run_in_place`),
//! so EOF, short reads, EFAULT and partial copies into a partly unmapped
//! buffer are the host kernel's own answers.
//!
//! Installed fds are cached per process, at most [`PER_PROCESS`] of them;
//! each use is checked with kcmp(2) (the app's fd must still be the very
//! open file the sentry holds), so exec, fork, fd reuse and dead processes
//! can never make a read hit the wrong file.
//!
//! docs/performance.md has the measurements behind this choice (a mapped
//! window of the file copied out with process_vm_writev was slower than the
//! two-copy path on these VMs).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::task::ThreadGroup;
use crate::vfs::{OpenFile, S_IFMT, S_IFREG};

/// Smallest read that takes this path. It costs one more stop than the
/// copying path (~7 µs), which the saved copy repays from about 128 KiB on
/// (measured: equal at 128 KiB, 12% faster at 256 KiB, 28% at 1 MiB).
pub const DIRECT_MIN: u64 = 192 << 10;
/// Installing a file's fd costs about six stops (plus three to evict
/// another), so it is done only for files with at least this much left to
/// read: one or two large reads of a small file stay on the copying path.
const INSTALL_MIN: u64 = 1 << 20;
/// Most host fds installed in one app process; the least recently used one
/// is closed (in the app) to make room.
const PER_PROCESS: usize = 8;

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

/// A host fd installed in an app process.
struct Installed {
    /// The sentry's fd number it was made from.
    sentry_fd: RawFd,
    /// A duplicate of that fd, so the open file outlives the sandbox's own
    /// handles and `app_fd` can still be verified before it is closed.
    keep: OwnedFd,
    app_fd: i32,
    last_use: u64,
    /// Held by every read using `app_fd`: an entry taken out of the cache
    /// while another thread of the process still reads through it is
    /// left open rather than closed under that read.
    lease: Arc<()>,
}

struct Process {
    tg: Weak<ThreadGroup>,
    files: Vec<Installed>,
}

static INSTALLED: Mutex<Vec<Process>> = Mutex::new(Vec::new());
static USES: AtomicU64 = AtomicU64::new(0);

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
    let ret = match installed_fd(ctx, host_fd) {
        Some((app_fd, _lease)) => run_in_place(ctx, app_fd, dest, pos_arg, off.is_none()),
        None if attr.size - pos >= INSTALL_MIN => install_and_read(ctx, host_fd, dest, len, pos_arg)?,
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
    dest: Dest,
    len: u64,
    pos: u64,
) -> Option<Result<i64, Errno>> {
    // SAFETY: dup of a live fd the open file owns; the result is checked.
    let keep = unsafe { libc::fcntl(host_fd, libc::F_DUPFD_CLOEXEC, 0) };
    if keep < 0 {
        return None;
    }
    // SAFETY: a fresh fd nobody else owns.
    let keep = unsafe { OwnedFd::from_raw_fd(keep) };
    let app_fd = match ctx.inject_fd(host_fd) {
        Ok(fd) => fd,
        // No room in the app's host fd table, or the like: copy instead.
        Err(e) if e != Errno::ESRCH => return None,
        Err(e) => return Some(Err(e)),
    };
    let lease = Arc::new(());
    let entry = Installed { sentry_fd: host_fd, keep, app_fd, last_use: tick(), lease: lease.clone() };
    let evicted = remember(ctx.task.tg.clone(), entry);
    for old in evicted {
        retire(ctx, old);
    }
    let args = match dest {
        Dest::Buf(buf) => [app_fd as u64, buf, len, pos, 0, 0],
        Dest::Iov(iov, cnt) => [app_fd as u64, iov, cnt, pos, 0, 0],
        Dest::Iov2(iov, cnt, flags) => [app_fd as u64, iov, cnt, pos, 0, flags],
    };
    let nr = in_place_call(app_fd, dest, pos, false).0;
    match ctx.inject(nr, args) {
        // An injected call cannot be restarted as the app's own: read by copying.
        Ok(r) if (-516..=-512).contains(&r) => None,
        r => Some(r),
    }
}

fn tick() -> u64 {
    USES.fetch_add(1, Ordering::Relaxed)
}

/// The app-side fd installed for `host_fd` in the calling process, if it is
/// still that same open file there, with its lease.
fn installed_fd(ctx: &mut SyscallCtx<'_>, host_fd: RawFd) -> Option<(i32, Arc<()>)> {
    let (app_fd, lease) = {
        let mut all = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        let proc = all.iter_mut().find(|p| p.tg.as_ptr() == Arc::as_ptr(&ctx.task.tg))?;
        let f = proc.files.iter_mut().find(|f| f.sentry_fd == host_fd)?;
        f.last_use = tick();
        (f.app_fd, f.lease.clone())
    };
    if same_file(ctx.task.host_tid(), app_fd, host_fd) {
        return Some((app_fd, lease));
    }
    drop(lease);
    // Stale (exec closed it, or the sentry's fd number now names another
    // file): forget it; a fresh one is installed by the caller.
    let stale = {
        let mut all = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        let proc = all.iter_mut().find(|p| p.tg.as_ptr() == Arc::as_ptr(&ctx.task.tg))?;
        let i = proc.files.iter().position(|f| f.sentry_fd == host_fd && f.app_fd == app_fd)?;
        proc.files.swap_remove(i)
    };
    retire(ctx, stale);
    None
}

/// Records an installed fd; returns the entries it pushed out.
fn remember(tg: Arc<ThreadGroup>, entry: Installed) -> Vec<Installed> {
    let mut all = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    // Processes that are gone took their fds with them.
    all.retain(|p| p.tg.strong_count() > 0);
    let i = match all.iter().position(|p| p.tg.as_ptr() == Arc::as_ptr(&tg)) {
        Some(i) => i,
        None => {
            all.push(Process { tg: Arc::downgrade(&tg), files: Vec::new() });
            all.len() - 1
        }
    };
    let files = &mut all[i].files;
    let mut evicted = Vec::new();
    while files.len() >= PER_PROCESS {
        let Some(lru) = files.iter().enumerate().min_by_key(|(_, f)| f.last_use).map(|(i, _)| i) else { break };
        evicted.push(files.swap_remove(lru));
    }
    files.push(entry);
    evicted
}

/// Closes an installed fd (already out of the cache) in the app, if it is
/// still ours there and no other thread is reading through it.
fn retire(ctx: &mut SyscallCtx<'_>, old: Installed) {
    if Arc::strong_count(&old.lease) == 1 && same_file(ctx.task.host_tid(), old.app_fd, old.keep.as_raw_fd()) {
        ctx.close_injected(old.app_fd);
    }
}

/// The sentry's own pid (it never forks itself), without a syscall per read.
fn sentry_pid() -> libc::pid_t {
    static PID: std::sync::OnceLock<libc::pid_t> = std::sync::OnceLock::new();
    // SAFETY: getpid cannot fail.
    *PID.get_or_init(|| unsafe { libc::getpid() })
}

/// Whether fd `app_fd` of host thread `tid` and our `fd` are the same open file.
fn same_file(tid: i32, app_fd: i32, fd: RawFd) -> bool {
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: kcmp only compares kernel objects; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, tid, sentry_pid(), KCMP_FILE, app_fd, fd) };
    r == 0
}
