//! Sending signals. Delivery itself uses the host kernel: the sentry signals
//! the target's host thread and the tracer lets the signal through.

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::ThreadGroup;

/// Signals whose default action is to ignore: they do not interrupt blocking calls.
fn ignored_by_default(sig: i32) -> bool {
    matches!(sig, libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT)
}

fn check_sig(sig: u64) -> Result<i32, Errno> {
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    Ok(sig as i32)
}

/// Signals every live thread group for which `pick` is true; ESRCH if none.
fn signal_groups(ctx: &SyscallCtx<'_>, sig: i32, pick: impl Fn(&ThreadGroup) -> bool) -> SysResult {
    let mut hit = false;
    for g in ctx.kernel.all_groups() {
        if g.lock().exit.is_some() || !pick(&g) {
            continue;
        }
        hit = true;
        if sig != 0 {
            deliver_to_group(ctx, &g, sig);
        }
    }
    if hit {
        Ok(0)
    } else {
        Err(Errno::ESRCH)
    }
}

/// Sends `sig` to a process and wakes its blocked syscalls.
pub fn deliver_to_group(ctx: &SyscallCtx<'_>, g: &ThreadGroup, sig: i32) {
    let pid = g.host_pid();
    if pid > 0 {
        // SAFETY: signals a process inside our own sandbox.
        unsafe { libc::kill(pid, sig) };
    }
    if !ignored_by_default(sig) {
        let pids = ctx.kernel.pids.lock().unwrap_or_else(|e| e.into_inner());
        for t in pids.tasks.values().filter_map(|w| w.upgrade()) {
            if t.tg.tgid == g.tgid && !std::sync::Arc::ptr_eq(&t, ctx.task) {
                t.interrupt.notify();
            }
        }
    }
}

pub fn sys_kill(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, sig) = (a[0] as i32, check_sig(a[1])?);
    match pid {
        p if p > 0 => signal_groups(ctx, sig, |g| g.tgid == p),
        0 => {
            let pg = ctx.task.tg.lock().pgid;
            signal_groups(ctx, sig, |g| g.lock().pgid == pg)
        }
        -1 => {
            let me = ctx.task.tg.tgid;
            signal_groups(ctx, sig, |g| g.tgid != 1 && g.tgid != me)
        }
        p => {
            let pg = p.checked_neg().ok_or(Errno::ESRCH)?;
            signal_groups(ctx, sig, |g| g.lock().pgid == pg)
        }
    }
}

fn signal_thread(ctx: &SyscallCtx<'_>, tgid: Option<i32>, tid: i32, sig: i32) -> SysResult {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let t = ctx.kernel.task_by_vtid(tid).ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != t.tg.tgid) {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        // SAFETY: signals a thread inside our own sandbox.
        unsafe { libc::syscall(libc::SYS_tgkill, t.tg.host_pid(), t.host_tid(), sig) };
        if !ignored_by_default(sig) && !std::sync::Arc::ptr_eq(&t, ctx.task) {
            t.interrupt.notify();
        }
    }
    Ok(0)
}

pub fn sys_tgkill(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let tgid = a[0] as i32;
    if tgid <= 0 {
        return Err(Errno::EINVAL);
    }
    signal_thread(ctx, Some(tgid), a[1] as i32, check_sig(a[2])?)
}

pub fn sys_tkill(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    signal_thread(ctx, None, a[0] as i32, check_sig(a[1])?)
}
