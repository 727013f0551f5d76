//! Signals: sending (kill, tgkill, tkill, rt_[tg]sigqueueinfo), dispositions
//! (rt_sigaction, mirrored for the sentry's own decisions) and
//! rt_sigtimedwait. Delivery itself is the host's: see kernel::signal.

use rvisor_syscalls::abi::{KernelSigaction, Siginfo};
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::signal::{self as ksig, sender_info, SI_TKILL, SI_USER};
use crate::kernel::{Creds, Task, ThreadGroup};

fn check_sig(sig: u64) -> Result<i32, Errno> {
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    Ok(sig as i32)
}

/// Linux's kill permission: privilege, or a matching real/effective uid against
/// the target's real/saved uid; SIGCONT within one session is always allowed.
pub(super) fn may_signal(ctx: &SyscallCtx<'_>, me: &Creds, target: &Task, sig: i32) -> bool {
    if me.has_cap(crate::kernel::creds::CAP_KILL) {
        return true;
    }
    if sig == libc::SIGCONT && target.tg.lock().sid == ctx.task.tg.lock().sid {
        return true;
    }
    let t = target.creds();
    [me.euid, me.ruid].iter().any(|&u| u == t.ruid || u == t.suid)
}

/// Signals every live process for which `pick` is true, as kill(2): ESRCH if
/// none matched, EPERM if none could be signalled.
fn signal_groups(ctx: &SyscallCtx<'_>, info: Siginfo, pick: impl Fn(&ThreadGroup) -> bool) -> SysResult {
    let me = ctx.task.creds();
    let (mut matched, mut sent) = (false, false);
    for g in ctx.kernel.all_groups() {
        if !pick(&g) {
            continue;
        }
        let zombie = {
            let st = g.lock();
            st.exit.is_some().then_some(st.exit_uid)
        };
        if let Some(uid) = zombie {
            // A zombie can still be signalled (the signal is dropped), by
            // whoever could have signalled the live process.
            matched = true;
            if me.has_cap(crate::kernel::creds::CAP_KILL) || me.euid == uid || me.ruid == uid {
                sent = true;
            }
            continue;
        }
        let Some(target) = ctx.kernel.live_task_of(g.tgid) else { continue };
        matched = true;
        if !may_signal(ctx, &me, &target, info.si_signo) {
            continue;
        }
        sent = true;
        ksig::send_to_group(ctx.kernel, &g, info, Some(ctx.task));
    }
    match (matched, sent) {
        (false, _) => Err(Errno::ESRCH),
        (true, false) => Err(Errno::EPERM),
        (true, true) => Ok(0),
    }
}

/// A siginfo naming the calling process as the sender.
fn from_caller(ctx: &SyscallCtx<'_>, sig: i32, code: i32) -> Siginfo {
    sender_info(sig, code, ctx.task.tg.tgid, ctx.task.creds().ruid)
}

/// SIGPIPE and similar: a signal the calling thread raises against itself.
pub fn send_to_self(ctx: &SyscallCtx<'_>, sig: i32) {
    let info = from_caller(ctx, sig, SI_USER);
    ksig::send_to_task(ctx.task, info, Some(ctx.task));
}

pub(super) fn kill_with(ctx: &SyscallCtx<'_>, pid: i32, info: Siginfo) -> SysResult {
    match pid {
        p if p > 0 => {
            // Any thread's id names its process (Linux looks pids up by PIDTYPE_PID).
            let tgid = group_of(ctx, p);
            signal_groups(ctx, info, |g| g.tgid == tgid)
        }
        0 => {
            let pg = ctx.task.tg.lock().pgid;
            signal_groups(ctx, info, |g| g.lock().pgid == pg)
        }
        -1 => {
            let me = ctx.task.tg.tgid;
            signal_groups(ctx, info, |g| g.tgid != 1 && g.tgid != me)
        }
        p => {
            let pg = p.checked_neg().ok_or(Errno::ESRCH)?;
            signal_groups(ctx, info, |g| g.lock().pgid == pg)
        }
    }
}

/// The process whose thread is `tid` (itself if no live thread has that id).
fn group_of(ctx: &SyscallCtx<'_>, tid: i32) -> i32 {
    ctx.kernel.task_by_vtid(tid).map_or(tid, |t| t.tg.tgid)
}

pub fn sys_kill(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, sig) = (a[0] as i32, check_sig(a[1])?);
    kill_with(ctx, pid, from_caller(ctx, sig, SI_USER))
}

fn signal_thread(ctx: &SyscallCtx<'_>, tgid: Option<i32>, tid: i32, info: Siginfo) -> SysResult {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let t = ctx.kernel.task_by_vtid(tid).ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != t.tg.tgid) {
        return Err(Errno::ESRCH);
    }
    if !may_signal(ctx, &ctx.task.creds(), &t, info.si_signo) {
        return Err(Errno::EPERM);
    }
    if rt_queue_full(&t, &info) {
        return Err(Errno::EAGAIN);
    }
    ksig::send_to_task(&t, info, Some(ctx.task));
    Ok(0)
}

/// A real-time signal from tgkill/tkill/sigqueue (si_code < 0) is queued
/// only below the target's RLIMIT_SIGPENDING (Linux's __sigqueue_alloc
/// without override_rlimit). The host counts every sandbox process as one
/// user, so the sandbox counts the target's own pending signals.
fn rt_queue_full(t: &crate::kernel::Task, info: &Siginfo) -> bool {
    if info.si_signo < 32 || info.si_code >= 0 {
        return false;
    }
    let limit = t.tg.rlimit(libc::RLIMIT_SIGPENDING as usize).rlim_cur;
    if limit >= 1 << 16 {
        return false;
    }
    let (own, shared) = ksig::host_pending(t.tg.host_pid(), t.host_tid()).unwrap_or_default();
    u64::from(own.count_ones() + shared.count_ones()) >= limit
}

pub fn sys_tgkill(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let tgid = a[0] as i32;
    if tgid <= 0 {
        return Err(Errno::EINVAL);
    }
    let info = from_caller(ctx, check_sig(a[2])?, SI_TKILL);
    signal_thread(ctx, Some(tgid), a[1] as i32, info)
}

pub fn sys_tkill(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let info = from_caller(ctx, check_sig(a[1])?, SI_TKILL);
    signal_thread(ctx, None, a[0] as i32, info)
}

/// Reads a caller-built siginfo; only the kernel may forge SI_USER-or-above
/// codes (and SI_TKILL) for another process.
fn user_siginfo(ctx: &SyscallCtx<'_>, addr: u64, sig: i32, target_tgid: i32) -> Result<Siginfo, Errno> {
    let mut info: Siginfo = ctx.mem.read_val(addr)?;
    if (info.si_code >= 0 || info.si_code == SI_TKILL) && target_tgid != ctx.task.tg.tgid {
        return Err(Errno::EPERM);
    }
    info.si_signo = sig;
    Ok(info)
}

pub fn sys_rt_sigqueueinfo(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, sig) = (a[0] as i32, check_sig(a[1])?);
    let info = user_siginfo(ctx, a[2], sig, pid)?;
    if pid <= 0 {
        // Unlike kill, a process id is required.
        return Err(Errno::ESRCH);
    }
    let tgid = group_of(ctx, pid);
    signal_groups(ctx, info, |g| g.tgid == tgid)
}

pub fn sys_rt_tgsigqueueinfo(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (tgid, tid, sig) = (a[0] as i32, a[1] as i32, check_sig(a[2])?);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let info = user_siginfo(ctx, a[3], sig, tgid)?;
    signal_thread(ctx, Some(tgid), tid, info)
}

/// rt_sigaction: the host keeps the real disposition (it delivers the
/// signals); the sentry mirrors it to decide restarts, SIGCHLD reaping and
/// which signals interrupt its own blocking calls.
pub fn sys_rt_sigaction(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (sig, act, oact, size) = (a[0] as i32, a[1], a[2], a[3]);
    if size != 8 || !(1..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    if act != 0 && (sig == libc::SIGKILL || sig == libc::SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        let mut n: KernelSigaction = ctx.mem.read_val(act)?;
        n.flags &= ksig::KNOWN_SA_FLAGS;
        Some(n)
    } else {
        None
    };
    let old = ctx.task.tg.action(sig);
    // Setting the action already installed changes nothing on the host (which
    // got this very copy): no injection, so a detached systrap thread is
    // served without ptrace. Not for a one-shot handler (the host may have
    // reset it on a delivery the sentry did not see), nor when another
    // process shares the host's handlers (CLONE_SIGHAND: it may have changed them).
    let one_shot = old.handler > ksig::SIG_IGN && old.flags & ksig::SA_RESETHAND != 0;
    let shared = ctx.task.tg.lock().shares_sighand;
    let new = new.filter(|n| *n != old || one_shot || shared);
    if let Some(n) = new {
        // The host installs exactly the copy the sentry read (the app cannot
        // change it in between): it is written below the red zone and passed in.
        let scratch = super::stack_scratch(ctx.regs.rsp, 64);
        ctx.mem.write_val(scratch, &n)?;
        Errno::result(ctx.inject(libc::SYS_rt_sigaction, [sig as u64, scratch, 0, 8, 0, 0])?)?;
        ctx.task.tg.lock().actions[(sig - 1) as usize] = n;
    }
    if oact != 0 {
        ctx.mem.write_val(oact, &old)?;
    }
    Ok(0)
}

/// rt_sigtimedwait runs on the host (it dequeues the thread's own pending
/// signals); the sentry then swaps in the virtual siginfo of signals it raised.
///
/// The waiting thread is traced, so the host queues it even signals its
/// disposition ignores (Linux discards those at once for an untraced
/// thread), and they cut the wait short with EINTR. Such a wake-up is
/// dropped and the wait goes on for the time left, as natively.
pub fn sys_rt_sigtimedwait(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (set, info, timeout, size) = (a[0], a[1], a[2], a[3]);
    // With no info buffer of the app's, one below the red zone receives it.
    let out = if info != 0 { info } else { super::stack_scratch(ctx.regs.rsp, 256) };
    let limit: Option<rvisor_syscalls::abi::Timespec> =
        if timeout != 0 { Some(ctx.mem.read_val(timeout)?) } else { None };
    let deadline = limit.and_then(|t| {
        let d = std::time::Duration::new(u64::try_from(t.tv_sec).ok()?, u32::try_from(t.tv_nsec).ok()?);
        Some(std::time::Instant::now() + d)
    });
    let mut timeout_arg = timeout;
    let r = loop {
        let r = ctx.inject(libc::SYS_rt_sigtimedwait, [set, out, timeout_arg, size, 0, 0])?;
        let ignored_only = !ctx.deferred.is_empty()
            && ctx.deferred.iter().all(|si| ksig::is_ignored(&ctx.task.tg.action(si.si_signo), si.si_signo));
        if r != Errno::EINTR.as_return() || !ignored_only {
            break r;
        }
        ctx.deferred.clear();
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break Errno::EAGAIN.as_return();
            }
            let ts =
                rvisor_syscalls::abi::Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 };
            timeout_arg = super::stack_scratch(ctx.regs.rsp, 512);
            ctx.mem.write_val(timeout_arg, &ts)?;
        }
    };
    let r = Errno::result(r)?;
    if let Ok(host) = ctx.mem.read_val::<Siginfo>(out) {
        if let Some(v) = ksig::virtual_info(ctx.kernel, ctx.task, &host) {
            if info != 0 {
                ctx.mem.write_val(info, &v)?;
            }
        }
    }
    Ok(r)
}

/// The temporary signal mask of ppoll/pselect6/epoll_pwait: None without one;
/// EINVAL unless the size is a kernel sigset's. SIGKILL and SIGSTOP stay unblocked.
pub fn read_wait_mask(ctx: &SyscallCtx<'_>, addr: u64, size: u64) -> Result<Option<u64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = ctx.mem.read_val(addr)?;
    Ok(Some(mask & !(1 << (libc::SIGKILL - 1) | 1 << (libc::SIGSTOP - 1))))
}
