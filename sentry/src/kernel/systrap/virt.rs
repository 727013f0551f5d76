//! The calls systrap keeps virtual: the app's alternate stack, its signal
//! mask and its SIGSYS disposition, whose host versions belong to the platform.

use std::sync::atomic::Ordering;

use rvisor_syscalls::abi::KernelSigaction;
use rvisor_syscalls::{Errno, SysResult};

use super::*;

/// Where the app's signal mask is while the sentry handles its call: in the
/// handler's ucontext (detached: rt_sigreturn installs it), or the thread's
/// own (traced, at the SIGSYS stop).
#[derive(Clone, Copy)]
pub(super) enum MaskAt {
    Frame(u64),
    Thread,
}

/// Offset of uc_sigmask in the kernel's x86-64 `struct ucontext`.
pub(super) const UC_SIGMASK: u64 = 8 + 8 + 24 + 256;
pub(super) const SIGSYS_BIT: u64 = 1 << (libc::SIGSYS - 1);
pub(super) const UNBLOCKABLE: u64 = 1 << (libc::SIGKILL - 1) | 1 << (libc::SIGSTOP - 1);

/// Calls systrap answers itself instead of the dispatch table: the app's
/// alternate stack, signal mask and SIGSYS disposition, whose host versions
/// belong to the platform, and rt_sigaction's sa_mask (never SIGSYS).
pub(super) fn virtual_call(
    ctx: &mut SyscallCtx<'_>,
    st: &mut State,
    at: MaskAt,
    rsp: u64,
    nr: u64,
    a: [u64; 6],
) -> Option<SysResult> {
    if nr == libc::SYS_sigaltstack as u64 {
        return Some(sigaltstack(ctx, st, matches!(at, MaskAt::Thread), rsp, a[0], a[1]));
    }
    if nr == libc::SYS_rt_sigprocmask as u64 {
        return Some(sigprocmask(ctx, st, at, a));
    }
    if nr == libc::SYS_rt_sigaction as u64 && a[0] == libc::SIGSYS as u64 {
        return Some(sigaction_sigsys(ctx, a[1], a[2], a[3]));
    }
    if nr == libc::SYS_rt_sigaction as u64 && a[1] != 0 {
        return sigaction_without_sigsys(ctx, rsp, a);
    }
    None
}

/// rt_sigprocmask(2) with SIGSYS kept off the host mask: whether the app
/// "blocked" it is remembered here and reported back.
pub(super) fn sigprocmask(ctx: &mut SyscallCtx<'_>, st: &mut State, at: MaskAt, a: [u64; 6]) -> SysResult {
    let (how, set, old, size) = (a[0] as i32, a[1], a[2], a[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let host = match at {
        MaskAt::Frame(uctx) => ctx.mem.read_val::<u64>(uctx.wrapping_add(UC_SIGMASK))?,
        MaskAt::Thread => ctx.tracee.get_sigmask()?,
    };
    let visible = host & !SIGSYS_BIT | if st.shared.sigsys_blocked.load(Ordering::Relaxed) { SIGSYS_BIT } else { 0 };
    let next = if set != 0 {
        let s: u64 = ctx.mem.read_val(set)?;
        Some(match how {
            libc::SIG_BLOCK => visible | s,
            libc::SIG_UNBLOCK => visible & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL),
        })
    } else {
        None
    };
    if old != 0 {
        ctx.mem.write_val(old, &visible)?;
    }
    if let Some(n) = next {
        let n = n & !UNBLOCKABLE;
        st.shared.sigsys_blocked.store(n & SIGSYS_BIT != 0, Ordering::Relaxed);
        if n & SIGSYS_BIT == 0 {
            if let Some(si) = st.held_sigsys.take() {
                // The app's own SIGSYS, pending while blocked: delivered now
                // (at a ptrace stop, sigsys::own_sigsys).
                super::super::signal::send_to_task(ctx.task, si, None);
            }
        }
        let n = n & !SIGSYS_BIT;
        match at {
            MaskAt::Frame(uctx) => ctx.mem.write_val(uctx.wrapping_add(UC_SIGMASK), &n)?,
            MaskAt::Thread => ctx.tracee.set_sigmask(n)?,
        }
    }
    Ok(0)
}

/// rt_sigaction with SIGSYS in sa_mask: installed without it (a handler
/// running with SIGSYS blocked could make no trapped call), mirrored with it.
pub(super) fn sigaction_without_sigsys(ctx: &mut SyscallCtx<'_>, rsp: u64, a: [u64; 6]) -> Option<SysResult> {
    let act: KernelSigaction = match ctx.mem.read_val(a[1]) {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    if act.mask & SIGSYS_BIT == 0 {
        return None;
    }
    let copy = KernelSigaction { mask: act.mask & !SIGSYS_BIT, ..act };
    // The app's rsp as the call left it (the request's, when detached:
    // reading the registers there would need ptrace).
    let scratch = stack_scratch(rsp, 256);
    if let Err(e) = ctx.mem.write_val(scratch, &copy) {
        return Some(Err(e));
    }
    let r = syscalls::signal::sys_rt_sigaction(ctx, [a[0], scratch, a[2], a[3], 0, 0]);
    if r.is_ok() {
        let sig = a[0] as usize;
        if (1..=64).contains(&sig) {
            ctx.task.tg.lock().actions[sig - 1].mask |= SIGSYS_BIT;
        }
    }
    Some(r)
}

/// sigaltstack(2), kept in the sentry while the host alternate stack is the
/// chunk: the app's stack pointer `rsp` is on "its" alternate stack when it
/// is on a chunk (an SA_ONSTACK handler without an app stack runs there):
/// SS_ONSTACK, and no change (EPERM). When the process wants its handlers
/// on its threads' own stacks (altstack.rs), a stack the thread sets
/// becomes the host's too and the thread stays traced
/// (`Shared::app_altstack`): its SIGSYS must not reach the stub's handler,
/// which needs the chunk. `traced`: at a SIGSYS stop (else the detached
/// thread is handed to traced mode with ESRCH).
pub(super) fn sigaltstack(
    ctx: &mut SyscallCtx<'_>,
    st: &mut State,
    traced: bool,
    rsp: u64,
    new: u64,
    old: u64,
) -> SysResult {
    let app_altstack = st.shared.app_altstack.load(Ordering::Relaxed);
    let mut current = st.shared.altstack.lock().unwrap_or_else(|e| e.into_inner());
    let enabled = current.2 != 0;
    let on = match app_altstack {
        false => enabled && fork::in_region(rsp),
        true => enabled && rsp.wrapping_sub(current.0) < current.2,
    };
    if new != 0 && on {
        return Err(Errno::EPERM);
    }
    let mut next = None;
    if new != 0 {
        let mut b = [0u8; 24];
        ctx.mem.read(new, &mut b)?;
        let sp = u64::from_ne_bytes(b[0..8].try_into().map_err(|_| Errno::EFAULT)?);
        let flags = i32::from_ne_bytes(b[8..12].try_into().map_err(|_| Errno::EFAULT)?);
        let size = u64::from_ne_bytes(b[16..24].try_into().map_err(|_| Errno::EFAULT)?);
        let mode = flags as u32 & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE as u32 {
            return Err(Errno::EINVAL);
        }
        next = Some(if mode == SS_DISABLE as u32 {
            NO_ALTSTACK
        } else if size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        } else {
            (sp, flags, size)
        });
    }
    if old != 0 {
        let (sp, flags, size) = *current;
        let flags = match (enabled, on) {
            (false, _) => SS_DISABLE,
            (true, true) => SS_ONSTACK | flags & SS_AUTODISARM as i32,
            (true, false) => flags & SS_AUTODISARM as i32,
        };
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&sp.to_ne_bytes());
        b[8..12].copy_from_slice(&flags.to_ne_bytes());
        b[16..24].copy_from_slice(&size.to_ne_bytes());
        ctx.mem.write(old, &b)?;
    }
    if let Some(n) = next {
        if app_altstack || n.2 != 0 && altstack::onstack_wanted(ctx.task) {
            if !traced {
                return Err(Errno::ESRCH);
            }
            // The host's alternate stack becomes the app's (the app's own
            // stack_t, already checked).
            Errno::result(ctx.inject(libc::SYS_sigaltstack, [new, 0, 0, 0, 0, 0])?)?;
            st.shared.app_altstack.store(true, Ordering::Relaxed);
        }
        *current = n;
    }
    Ok(0)
}

/// rt_sigaction(SIGSYS): recorded in the sentry's mirror only; the host
/// action stays the stub's handler.
pub(super) fn sigaction_sigsys(ctx: &mut SyscallCtx<'_>, act: u64, oact: u64, size: u64) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        let mut n: KernelSigaction = ctx.mem.read_val(act)?;
        n.flags &= super::super::signal::KNOWN_SA_FLAGS;
        Some(n)
    } else {
        None
    };
    let old = ctx.task.tg.action(libc::SIGSYS);
    if oact != 0 {
        ctx.mem.write_val(oact, &old)?;
    }
    if let Some(n) = new {
        ctx.task.tg.lock().actions[(libc::SIGSYS - 1) as usize] = n;
    }
    Ok(0)
}

/// The signal sets /proc shows for `task` (SigBlk, SigIgn, SigCgt), from the
/// host's values: under systrap the host's mask and SIGSYS disposition are
/// the platform's. A thread inside the stub's handler (the only place
/// SIGSYS is ever blocked on the host) has every signal blocked there; its
/// own mask is the one its handler's ucontext will restore. SIGSYS is shown
/// as the app set it (blocked, ignored, caught).
pub fn proc_sigsets(task: &Task, blk: u64, ign: u64, cgt: u64) -> (u64, u64, u64) {
    let Some(p) = systrap::active() else { return (blk, ign, cgt) };
    let shared = SHARED.lock().unwrap_or_else(|e| e.into_inner()).get(&task.host_tid()).cloned();
    let mut blk = blk;
    if blk & SIGSYS_BIT != 0 {
        let slot = shared.as_ref().and_then(|s| p.region.slot(s.chunk.load(Ordering::Acquire)));
        let mem = crate::mm::Memory::new(task.host_tid());
        // The ucontext is an app address: read through the app's memory.
        let frame = slot.and_then(|s| mem.read_val::<u64>(s.uctx_now().wrapping_add(UC_SIGMASK)).ok());
        blk = frame.unwrap_or(blk);
    }
    let sigsys_blocked = shared.is_some_and(|s| s.sigsys_blocked.load(Ordering::Relaxed));
    let blk = blk & !SIGSYS_BIT | if sigsys_blocked { SIGSYS_BIT } else { 0 };
    let act = task.tg.action(libc::SIGSYS);
    let (ign_bit, cgt_bit) = match act.handler {
        h if h == super::super::signal::SIG_DFL => (0, 0),
        h if h == super::super::signal::SIG_IGN => (SIGSYS_BIT, 0),
        _ => (0, SIGSYS_BIT),
    };
    (blk, ign & !SIGSYS_BIT | ign_bit, cgt & !SIGSYS_BIT | cgt_bit)
}
