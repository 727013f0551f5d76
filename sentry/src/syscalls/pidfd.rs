//! Process file descriptors: pidfd_open, pidfd_send_signal, pidfd_getfd,
//! clone(CLONE_PIDFD) and waitid(P_PIDFD). A pidfd names a sandbox process
//! (or, with PIDFD_THREAD, a thread); it polls readable once that process
//! has exited, and readable and hung up once it has been reaped.

use std::any::Any;
use std::sync::{Arc, Weak};

use rvisor_syscalls::abi::Siginfo;
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::signal::{self as ksig, sender_info, SI_USER};
use crate::kernel::wait::{WaitQueue, WaitSet};
use crate::kernel::{Task, ThreadGroup};
use crate::vfs::{Attr, FileOps, OpenFile, VfsResult};

/// Every process exit and reap: pidfd pollers wait here.
pub static EXITS: WaitQueue = WaitQueue::new();

const PIDFD_NONBLOCK: u64 = libc::O_NONBLOCK as u64;
/// Linux 6.9: a pidfd for a thread rather than a thread group.
const PIDFD_THREAD: u64 = libc::O_EXCL as u64;
const PIDFD_SIGNAL_THREAD: u64 = 1;
const PIDFD_SIGNAL_THREAD_GROUP: u64 = 2;
const PIDFD_SIGNAL_PROCESS_GROUP: u64 = 4;

/// The object behind a pidfd.
pub struct PidFd {
    tg: Arc<ThreadGroup>,
    /// PIDFD_THREAD: this thread only.
    thread: Option<Weak<Task>>,
}

impl PidFd {
    pub fn tgid(&self) -> i32 {
        self.tg.tgid
    }

    fn exited(&self) -> bool {
        match &self.thread {
            Some(t) => t.upgrade().is_none_or(|t| t.tg.lock().exit.is_some() || t.detached.get().is_some()),
            None => self.tg.lock().exit.is_some(),
        }
    }

    fn reaped(&self) -> bool {
        self.tg.lock().reaped
    }
}

impl FileOps for PidFd {
    fn seekable(&self) -> bool {
        false
    }
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr { mode: crate::vfs::S_IFREG | 0o600, nlink: 1, blksize: 4096, ..Default::default() })
    }
    fn poll(&self, events: i16) -> i16 {
        let mut r = 0;
        if self.exited() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if self.reaped() {
            r |= libc::POLLHUP;
        }
        r & (events | libc::POLLHUP)
    }
    fn wait_on(&self, _events: i16, set: &mut WaitSet) {
        set.queue(&EXITS);
    }
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A new pidfd open file for `tg` (or one of its threads).
pub fn new_pidfd(tg: Arc<ThreadGroup>, thread: Option<&Arc<Task>>, nonblock: bool) -> Arc<OpenFile> {
    let ops = Arc::new(PidFd { tg, thread: thread.map(Arc::downgrade) });
    let flags = libc::O_RDWR | if nonblock { libc::O_NONBLOCK } else { 0 };
    OpenFile::new_anon(ops, None, flags, "anon_inode:[pidfd]".into())
}

/// The pidfd behind fd `fd` (EBADF for anything else, as Linux).
pub fn pidfd_of(ctx: &SyscallCtx<'_>, fd: i32) -> Result<(Arc<OpenFile>, Arc<ThreadGroup>), Errno> {
    let f = ctx.file(fd).map_err(|_| Errno::EBADF)?;
    let tg = f.ops().as_any().downcast_ref::<PidFd>().ok_or(Errno::EBADF)?.tg.clone();
    Ok((f, tg))
}

/// pidfd_send_signal also takes an open /proc/PID directory (Linux's
/// process directory fds from before pidfds existed).
fn proc_dir_process(ctx: &SyscallCtx<'_>, fd: i32) -> Option<Arc<ThreadGroup>> {
    let f = ctx.file(fd).ok()?;
    let loc = f.location()?;
    let at_proc_root = loc.dentry.parent().is_some_and(|p| Arc::ptr_eq(&p, &loc.mount.root));
    if loc.mount.fstype != "proc" || !at_proc_root {
        return None;
    }
    let pid: i32 = std::str::from_utf8(&loc.dentry.name()).ok()?.parse().ok()?;
    ctx.kernel.group_by_vpid(pid)
}

pub fn sys_pidfd_open(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, flags) = (a[0] as i32, a[1]);
    if flags & !(PIDFD_NONBLOCK | PIDFD_THREAD) != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    let file = if flags & PIDFD_THREAD != 0 {
        let t = ctx.kernel.task_by_vtid(pid).ok_or(Errno::ESRCH)?;
        new_pidfd(t.tg.clone(), Some(&t), flags & PIDFD_NONBLOCK != 0)
    } else {
        let tg = match ctx.kernel.group_by_vpid(pid) {
            Some(g) => g,
            // A thread that is not its group's leader.
            None if ctx.kernel.task_by_vtid(pid).is_some() => return Err(Errno::EINVAL),
            None => return Err(Errno::ESRCH),
        };
        if tg.lock().reaped {
            return Err(Errno::ESRCH);
        }
        new_pidfd(tg, None, flags & PIDFD_NONBLOCK != 0)
    };
    ctx.task.files().install(file, true, 0, ctx.task.nofile_limit()).map(i64::from)
}

pub fn sys_pidfd_send_signal(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, sig, infop, flags) = (a[0] as i32, a[1], a[2], a[3]);
    let scope = PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP | PIDFD_SIGNAL_PROCESS_GROUP;
    if flags & !scope != 0 || (flags & scope).count_ones() > 1 {
        return Err(Errno::EINVAL);
    }
    let (tg, thread) = match pidfd_of(ctx, fd) {
        Ok((file, tg)) => (tg, file.ops().as_any().downcast_ref::<PidFd>().and_then(|p| p.thread.clone())),
        Err(e) => (proc_dir_process(ctx, fd).ok_or(e)?, None),
    };
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    let sig = sig as i32;
    let thread_target = flags & PIDFD_SIGNAL_THREAD != 0 || (flags == 0 && thread.is_some());
    let info = if infop != 0 {
        let mut info: Siginfo = ctx.mem.read_val(infop)?;
        if info.si_signo != sig {
            return Err(Errno::EINVAL);
        }
        // Only a process may forge siginfo for itself.
        let to_self = Arc::ptr_eq(&tg, &ctx.task.tg) && !thread_target && flags & PIDFD_SIGNAL_PROCESS_GROUP == 0;
        if !to_self && (info.si_code >= 0 || info.si_code == ksig::SI_TKILL) {
            return Err(Errno::EPERM);
        }
        info.si_signo = sig;
        info
    } else {
        sender_info(sig, SI_USER, ctx.task.tg.tgid, ctx.task.creds().ruid)
    };
    {
        let st = tg.lock();
        if st.reaped {
            return Err(Errno::ESRCH);
        }
        if st.exit.is_some() && !thread_target {
            // A zombie takes (and drops) signals, as kill(2) does.
            drop(st);
            return super::signal::kill_with(ctx, tg.tgid, info);
        }
    }
    if flags & PIDFD_SIGNAL_PROCESS_GROUP != 0 {
        let pgid = tg.lock().pgid;
        return super::signal::kill_with(ctx, -pgid, info);
    }
    if thread_target {
        let t =
            thread.as_ref().and_then(Weak::upgrade).or_else(|| ctx.kernel.live_task_of(tg.tgid)).ok_or(Errno::ESRCH)?;
        if !super::signal::may_signal(ctx, &ctx.task.creds(), &t, sig) {
            return Err(Errno::EPERM);
        }
        ksig::send_to_task(&t, info, Some(ctx.task));
        return Ok(0);
    }
    let t = ctx.kernel.live_task_of(tg.tgid).ok_or(Errno::ESRCH)?;
    if !super::signal::may_signal(ctx, &ctx.task.creds(), &t, sig) {
        return Err(Errno::EPERM);
    }
    ksig::send_to_group(ctx.kernel, &tg, info, Some(ctx.task));
    Ok(0)
}

pub fn sys_pidfd_getfd(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, target_fd, flags) = (a[0] as i32, a[1] as i32, a[2]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (_, tg) = pidfd_of(ctx, fd)?;
    let t = ctx.kernel.live_task_of(tg.tgid).ok_or(Errno::ESRCH)?;
    super::inspect::may_inspect(ctx, &t)?;
    let file = t.files().get(target_fd).map_err(|_| Errno::EBADF)?;
    ctx.task.files().install(file, true, 0, ctx.task.nofile_limit()).map(i64::from)
}
