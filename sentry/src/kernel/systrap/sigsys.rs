//! The app's own SIGSYS under systrap, whose host disposition is the stub's
//! handler: a SIGSYS sent to the app (kill, raise, sigqueue) or raised by an
//! app seccomp filter's RET_TRAP is delivered by the sentry as the app's
//! virtual disposition says; and rt_sigsuspend, whose mask may block SIGSYS
//! (which must never be blocked on the host).

use rvisor_syscalls::abi::{KernelSigaction, Siginfo, UserRegs};
use rvisor_syscalls::Errno;

use super::super::signal::{self as sig, SA_RESETHAND, SIG_DFL, SIG_IGN};
use super::*;

const SA_NODEFER: u64 = 0x4000_0000;

/// SECCOMP_RET_DATA markers of an app filter's actions under systrap (see
/// `syscalls::seccomp`): the app's RET_ERRNO | e becomes RET_TRAP |
/// `APP_ERRNO` | e, its RET_TRAP | d becomes RET_TRAP | `APP_TRAP` | (d &
/// 0x3fff), so they outrank nothing they did not outrank before and the
/// sandbox's own RET_TRAP (data 0) is told apart.
pub const APP_ERRNO: u32 = 0x8000;
pub const APP_TRAP: u32 = 0x4000;

/// Whether the thread has seccomp filters of the app's own: it stays
/// traced, where each trapped call's siginfo says whose filter trapped it.
pub(super) fn app_filtered(task: &Task) -> bool {
    task.seccomp_mode.load(std::sync::atomic::Ordering::Relaxed) != 0
}

/// A SIGSYS signal-delivery stop that is not the sandbox's trapped call:
/// one sent to the app, delivered per its virtual disposition.
pub(super) fn own_sigsys(kernel: &Kernel, task: &Task, tracee: &Tracee, st: &mut State) -> Result<(), Errno> {
    let host = tracee.get_siginfo()?;
    let si = sig::virtual_info(kernel, task, &host).unwrap_or(host);
    deliver(kernel, task, tracee, st, si, false)
}

/// A SIGSYS stop from a seccomp RET_TRAP whose data is an app filter's
/// marker: its errno is returned, or its trap delivered. Returns false for
/// the sandbox's own trap.
pub(super) fn app_filter_action(kernel: &Kernel, task: &Task, tracee: &Tracee, st: &mut State) -> Result<bool, Errno> {
    let mut si = tracee.get_siginfo()?;
    let data = si.si_errno as u32 & 0xffff;
    if data & APP_ERRNO != 0 {
        let mut regs = tracee.get_regs()?;
        regs.rax = (-((data & 0xfff) as i64)) as u64;
        tracee.set_regs(&regs)?;
        tracee.cont(0)?;
        return Ok(true);
    }
    if data & APP_TRAP != 0 {
        si.si_errno = (data & 0x3fff) as i32;
        deliver(kernel, task, tracee, st, si, true)?;
        return Ok(true);
    }
    Ok(false)
}

/// Delivers SIGSYS with `si` at the current signal-delivery stop as the
/// app's disposition says. `forced` (a seccomp trap) kills when SIGSYS is
/// ignored or blocked, as Linux's force_sig_seccomp does.
fn deliver(
    kernel: &Kernel,
    task: &Task,
    tracee: &Tracee,
    st: &mut State,
    si: Siginfo,
    forced: bool,
) -> Result<(), Errno> {
    let act = task.tg.action(libc::SIGSYS);
    let blocked = st.shared.sigsys_blocked.load(std::sync::atomic::Ordering::Relaxed);
    let default = act.handler == SIG_DFL || forced && (blocked || act.handler == SIG_IGN);
    if !default && act.handler == SIG_IGN {
        return tracee.cont(0);
    }
    if !default && blocked {
        // Pending until the app unblocks it (virt::sigprocmask re-raises it).
        st.held_sigsys = Some(si);
        return tracee.cont(0);
    }
    let host_act = if default {
        KernelSigaction { handler: SIG_DFL, flags: 0, restorer: 0, mask: 0 }
    } else {
        if act.flags & SA_RESETHAND != 0 {
            task.tg.lock().actions[(libc::SIGSYS - 1) as usize].handler = SIG_DFL;
        }
        // Without SIGSYS in the handler's mask: a trapped call there needs it.
        KernelSigaction { flags: (act.flags | SA_NODEFER) & !SA_RESETHAND, mask: act.mask & !SIGSYS_BIT, ..act }
    };
    let regs = tracee.get_regs()?;
    let mut held = Vec::new();
    set_host_action(tracee, &regs, &host_act, &mut held)?;
    tracee.set_regs(&regs)?;
    let si = Siginfo { si_signo: libc::SIGSYS, ..si };
    tracee.set_siginfo(&si)?;
    if default {
        // The process dies of it (the host's default action for SIGSYS).
        crate::kernel::robust::hand_over_process(kernel, &task.tg, Some(task.host_tid()));
        reraise(kernel, task, held);
        return tracee.cont(libc::SIGSYS);
    }
    // Single-stepping into the handler stops right after its frame is
    // built: the stub's handler goes back before the app's code runs.
    // SAFETY: PTRACE_SINGLESTEP on our own stopped tracee.
    if unsafe { libc::ptrace(libc::PTRACE_SINGLESTEP, tracee.tid, 0, libc::SIGSYS as libc::c_long) } != 0 {
        return Err(Errno::last());
    }
    loop {
        match tracee.wait() {
            Stop::Signal(libc::SIGTRAP) => break,
            Stop::Exited(_) | Stop::Killed(..) => return Err(Errno::ESRCH),
            // A frame that could not be built (SIGSEGV) or another stop:
            // put the stub's handler back, then let it go on as it would.
            Stop::Signal(other) => {
                let si = tracee.get_siginfo()?;
                let at = tracee.get_regs()?;
                set_host_action(tracee, &at, &systrap_action(), &mut held)?;
                tracee.set_regs(&at)?;
                tracee.set_siginfo(&si)?;
                reraise(kernel, task, held);
                return tracee.cont(other);
            }
            _ => tracee.cont(0)?,
        }
    }
    let at = tracee.get_regs()?;
    set_host_action(tracee, &at, &systrap_action(), &mut held)?;
    tracee.set_regs(&at)?;
    reraise(kernel, task, held);
    tracee.cont(0)
}

fn systrap_action() -> KernelSigaction {
    let a = systrap::sigsys_action();
    KernelSigaction { handler: a.handler, flags: a.flags, restorer: a.restorer, mask: a.mask }
}

/// Sets the host's SIGSYS action by an injected rt_sigaction.
fn set_host_action(
    tracee: &Tracee,
    regs: &UserRegs,
    act: &KernelSigaction,
    held: &mut Vec<Siginfo>,
) -> Result<(), Errno> {
    let mem = crate::mm::Memory::new(tracee.tid);
    let scratch = stack_scratch(regs.rsp, 64);
    mem.write_val(scratch, act)?;
    Errno::result(tracee.inject(regs, libc::SYS_rt_sigaction, [libc::SIGSYS as u64, scratch, 0, 8, 0, 0], held)?)?;
    Ok(())
}

/// Raises again the signals held back while the sentry injected calls.
fn reraise(kernel: &Kernel, task: &Task, held: Vec<Siginfo>) {
    let held = held.into_iter().map(|si| sig::virtual_info(kernel, task, &si).unwrap_or(si)).collect();
    sig::reraise(task, held);
}

/// What a host rt_sigsuspend at the stub's site changed, put back when
/// it returns.
pub(super) struct Suspended {
    rdi: u64,
    rsi: u64,
    sigsys_was: bool,
}

impl Suspended {
    pub(super) fn restore(self, regs: &mut UserRegs, st: &State) {
        regs.rdi = self.rdi;
        regs.rsi = self.rsi;
        st.shared.sigsys_blocked.store(self.sigsys_was, std::sync::atomic::Ordering::Relaxed);
    }
}

/// rt_sigsuspend at its SIGSYS stop: run on the host at the stub's site
/// (the filter sends it to this tracer, which lets it go) with the app's
/// mask minus SIGSYS; the int3 after the site brings the thread back to
/// return EINTR at the app's rip, as for a wait's temporary mask
/// (`run_with_host_mask`). The app's SIGSYS bit is kept virtually meanwhile.
pub(super) fn sigsuspend(tracee: &Tracee, st: &mut State, mut regs: UserRegs) -> Result<(), Errno> {
    let args = regs.syscall_args();
    let fail = |regs: &mut UserRegs, e: Errno| {
        regs.rax = e.as_return() as u64;
        tracee.set_regs(regs)
    };
    if args[1] != 8 {
        return fail(&mut regs, Errno::EINVAL);
    }
    let mem = crate::mm::Memory::new(tracee.tid);
    let mask: u64 = match mem.read_val(args[0]) {
        Ok(m) => m,
        Err(e) => return fail(&mut regs, e),
    };
    let at = stack_scratch(regs.rsp, 64) + 16;
    mem.write_val(at, &(mask & !SIGSYS_BIT & !UNBLOCKABLE))?;
    use std::sync::atomic::Ordering;
    let sigsys_was = st.shared.sigsys_blocked.swap(mask & SIGSYS_BIT != 0, Ordering::Relaxed);
    st.suspended = Some(Suspended { rdi: regs.rdi, rsi: regs.rsi, sigsys_was });
    st.mask_wait_return = Some(regs.rip);
    regs.rip = STUB_SYSCALL;
    regs.rax = libc::SYS_rt_sigsuspend as u64;
    regs.orig_rax = u64::MAX;
    regs.set_syscall_args([at, 8, 0, 0, 0, 0]);
    tracee.set_regs(&regs)
}
