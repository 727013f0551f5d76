//! Host fds of sandbox files installed in app processes, so the host can run
//! a call on the file in the app's own context: large reads
//! (syscalls/hostread.rs) and file maps (syscalls/mm.rs).
//!
//! Each process has [`SLOTS`] fixed fd numbers for them, from [`BASE`]:
//! nothing else the sentry installs lands there (fd injection takes the
//! lowest free number, and an app process holds only a handful of host
//! fds), so systrap's filter can let the stub's exec site use these
//! numbers, and only these, for reads and maps (platform/filter.rs). An
//! installed fd never carries more access than the sandbox open file it
//! stands for: a read-only open of a writable host fd (tmpfs memfds are
//! always read-write) is installed as a read-only reopen.
//!
//! The app cannot use these fds but through the exec site, and there only
//! for what its open file allows it anyway. Each use is checked with
//! kcmp(2) (the app's fd must still be the very open file the sentry
//! holds), so exec (close-on-exec), fork and dead processes can never make
//! a call hit the wrong file. Installing is a recvmsg, a dup3 into the slot
//! and a close in the app: injected through ptrace, or for a detached
//! systrap thread run by the stub's handler on the process's install socket
//! (kernel/systrap/fdpass.rs); a detached thread of a process without one
//! hands the call back (ESRCH).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::Errno;

use super::SyscallCtx;
use crate::kernel::task::ThreadGroup;

/// The first fixed fd number (after the stub image's and the injection
/// socket's, 1000 and 1001).
pub const BASE: i32 = crate::kernel::APP_FD_BASE;
/// Fixed fd numbers per process; the least recently used file gives up its
/// slot when all are taken.
pub const SLOTS: i32 = crate::kernel::APP_FD_SLOTS;
// A 1024 descriptor limit (the sentry checks the app's) holds every slot.
const _: () = assert!(BASE + SLOTS <= 1024);

/// A host fd installed in an app process.
struct Installed {
    /// The sentry's host fd of the open file it stands for.
    sentry_fd: RawFd,
    /// Installed read-only (a reopen) although `sentry_fd` is writable.
    read_only: bool,
    /// What was installed (a duplicate of `sentry_fd`, or its read-only
    /// reopen): keeps the open file alive for the kcmp check.
    keep: OwnedFd,
    /// The file's (st_dev, st_ino) when installed as a reopen: the sentry's
    /// fd number may name another file by now, which kcmp of the reopen
    /// cannot tell.
    inode: (u64, u64),
    app_fd: i32,
    last_use: u64,
    /// Held by every call using `app_fd`: an entry pushed out while another
    /// thread of the process still uses it is left in place, not replaced.
    lease: Arc<()>,
}

struct Process {
    tg: Weak<ThreadGroup>,
    files: Vec<Installed>,
}

static INSTALLED: Mutex<Vec<Process>> = Mutex::new(Vec::new());
static USES: AtomicU64 = AtomicU64::new(0);
/// Held from choosing a slot to recording it: two threads of a process
/// installing at once must not pick the same number.
static INSTALLING: Mutex<()> = Mutex::new(());

fn tick() -> u64 {
    USES.fetch_add(1, Ordering::Relaxed)
}

/// An installed fd in use: its number in the app, held until dropped.
pub struct AppFd {
    pub fd: i32,
    _lease: Arc<()>,
}

/// Whether `host_fd` can be written through (its open file's mode).
fn writable(host_fd: RawFd) -> bool {
    // SAFETY: F_GETFL on an fd the caller holds.
    let fl = unsafe { libc::fcntl(host_fd, libc::F_GETFL) };
    fl >= 0 && fl & libc::O_ACCMODE != libc::O_RDONLY
}

/// The calling process's fd for `host_fd`, given whether the sandbox open
/// file may be written (`writable`), if one is installed and still that
/// file there; else None (the caller may `install`).
pub fn get(ctx: &mut SyscallCtx<'_>, host_fd: RawFd, writable_open: bool) -> Option<AppFd> {
    let read_only = !writable_open && writable(host_fd);
    let (app_fd, keep_fd, inode, lease) = {
        let mut all = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        let proc = all.iter_mut().find(|p| p.tg.as_ptr() == Arc::as_ptr(&ctx.task.tg))?;
        let f = proc.files.iter_mut().find(|f| f.sentry_fd == host_fd && f.read_only == read_only)?;
        f.last_use = tick();
        (f.app_fd, f.keep.as_raw_fd(), f.inode, f.lease.clone())
    };
    // A duplicate must be the sentry's very open file; a reopen, of the
    // same inode, and the app's fd that reopen.
    let tid = ctx.task.host_tid();
    let current = if read_only {
        inode_of(host_fd) == Some(inode) && same_file(tid, app_fd, keep_fd)
    } else {
        same_file(tid, app_fd, host_fd)
    };
    if current {
        return Some(AppFd { fd: app_fd, _lease: lease });
    }
    // Stale (exec closed it, or the number now holds another file): forget it.
    let mut all = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(proc) = all.iter_mut().find(|p| p.tg.as_ptr() == Arc::as_ptr(&ctx.task.tg)) {
        proc.files.retain(|f| !(f.app_fd == app_fd && f.keep.as_raw_fd() == keep_fd));
    }
    None
}

/// Installs `host_fd` (read-only unless `writable_open`) in the calling
/// process at a free slot, or the least recently used one's. Through
/// ptrace or the install socket (ESRCH on a detached thread without one).
pub fn install(ctx: &mut SyscallCtx<'_>, host_fd: RawFd, writable_open: bool) -> Result<AppFd, Errno> {
    let read_only = !writable_open && writable(host_fd);
    let inode = if read_only { inode_of(host_fd).ok_or(Errno::EBADF)? } else { (0, 0) };
    let keep = if read_only {
        crate::confine::open_host_proc(&format!("self/fd/{host_fd}"), libc::O_RDONLY)?
    } else {
        // SAFETY: dup of a live fd the caller holds; the result is checked.
        let fd = unsafe { libc::fcntl(host_fd, libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: a fresh fd nobody else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    let _installing = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let slot = free_slot(&ctx.task.tg).ok_or(Errno::EMFILE)?;
    ctx.inject_fd_at(keep.as_raw_fd(), slot)?;
    let lease = Arc::new(());
    let entry =
        Installed { sentry_fd: host_fd, read_only, keep, inode, app_fd: slot, last_use: tick(), lease: lease.clone() };
    remember(ctx.task.tg.clone(), entry);
    Ok(AppFd { fd: slot, _lease: lease })
}

/// A slot number of `tg` no entry uses, or the least recently used entry's
/// whose fd no call is using (that entry is dropped: dup3 replaces its fd).
fn free_slot(tg: &Arc<ThreadGroup>) -> Option<i32> {
    let mut all = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    // Processes that are gone took their fds with them.
    all.retain(|p| p.tg.strong_count() > 0);
    let Some(proc) = all.iter_mut().find(|p| p.tg.as_ptr() == Arc::as_ptr(tg)) else { return Some(BASE) };
    if let Some(n) = (BASE..BASE + SLOTS).find(|n| proc.files.iter().all(|f| f.app_fd != *n)) {
        return Some(n);
    }
    let (i, _) = proc
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| Arc::strong_count(&f.lease) == 1)
        .min_by_key(|(_, f)| f.last_use)?;
    Some(proc.files.swap_remove(i).app_fd)
}

fn remember(tg: Arc<ThreadGroup>, entry: Installed) {
    let mut all = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    let i = match all.iter().position(|p| p.tg.as_ptr() == Arc::as_ptr(&tg)) {
        Some(i) => i,
        None => {
            all.push(Process { tg: Arc::downgrade(&tg), files: Vec::new() });
            all.len() - 1
        }
    };
    let files = &mut all[i].files;
    files.retain(|f| f.app_fd != entry.app_fd);
    files.push(entry);
}

/// The (st_dev, st_ino) of the file behind `fd`.
fn inode_of(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat of an fd the caller holds into a local buffer.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

/// The sentry's own pid (it never forks itself), without a syscall per use.
fn sentry_pid() -> libc::pid_t {
    static PID: std::sync::OnceLock<libc::pid_t> = std::sync::OnceLock::new();
    // SAFETY: getpid cannot fail.
    *PID.get_or_init(|| unsafe { libc::getpid() })
}

/// Whether fd `app_fd` of host thread `tid` and our `fd` are the same open file.
pub(crate) fn same_file(tid: i32, app_fd: i32, fd: RawFd) -> bool {
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: kcmp only compares kernel objects; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, tid, sentry_pid(), KCMP_FILE, app_fd, fd) };
    r == 0
}
