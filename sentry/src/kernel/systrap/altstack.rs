//! When a thread's own alternate signal stack becomes the host's.
//!
//! The host's alternate stack is normally the thread's chunk (the stub's
//! SIGSYS handler runs there), and the app's own is virtual (virt.rs). App
//! handlers with SA_ONSTACK then run on the chunk, which programs that check
//! where their handler runs reject (Go's runtime aborts: "signal 23
//! received but handler not on signal stack"). So a thread with a stack of
//! its own gets it on the host, and stays traced from then on
//! (`Shared::app_altstack`), when its process has an SA_ONSTACK handler for
//! a signal other than SIGSEGV/SIGBUS (eagerly: Go's runtime), or when such
//! a signal is about to be delivered to it at a ptrace stop (lazily). A
//! process whose only SA_ONSTACK handlers catch stack overflow (Rust's std)
//! keeps its threads detached: a fault's handler then runs on the chunk.

use rvisor_syscalls::Errno;

use super::super::signal::{self as sig, SIG_IGN};
use super::*;

const SA_ONSTACK: u64 = 0x0800_0000;

/// Whether `sig`'s handler runs on the alternate stack.
fn on_stack(act: &rvisor_syscalls::abi::KernelSigaction) -> bool {
    act.flags & SA_ONSTACK != 0 && act.handler > SIG_IGN
}

/// Whether the process has an SA_ONSTACK handler other than a stack
/// overflow catcher's (SIGSEGV, SIGBUS).
pub(super) fn onstack_wanted(task: &Task) -> bool {
    let actions = task.tg.lock().actions;
    actions.iter().zip(1..).any(|(a, s): (_, i32)| on_stack(a) && s != libc::SIGSEGV && s != libc::SIGBUS)
}

/// After an rt_sigaction: if the process now wants its handlers on its
/// threads' own stacks, every thread of it switches at its next ptrace stop.
pub(super) fn after_sigaction(task: &Task) {
    if !onstack_wanted(task) {
        return;
    }
    let pid = task.tg.host_pid();
    for s in SHARED.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|s| s.pid == pid) {
        s.want_switch.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether delivering `sig` (at its signal-delivery stop) needs the switch first.
pub(super) fn needed_for(task: &Task, st: &State, sig: i32) -> bool {
    use std::sync::atomic::Ordering;
    let has_stack = st.shared.altstack.lock().unwrap_or_else(|e| e.into_inner()).2 != 0;
    (1..=64).contains(&sig)
        && has_stack
        && !st.shared.app_altstack.load(Ordering::Relaxed)
        && on_stack(&task.tg.action(sig))
}

/// Makes the thread's virtual alternate stack the host's, at a ptrace stop
/// (the thread's registers are kept). Not while the thread runs on a chunk
/// (the host refuses a change while on its alternate stack): a later stop.
pub(super) fn switch(kernel: &Kernel, task: &Task, tracee: &Tracee, st: &State) -> Result<(), Errno> {
    use std::sync::atomic::Ordering;
    let (sp, flags, size) = *st.shared.altstack.lock().unwrap_or_else(|e| e.into_inner());
    if size == 0 || st.shared.app_altstack.load(Ordering::Relaxed) {
        return Ok(());
    }
    let regs = tracee.get_regs()?;
    if fork::in_region(regs.rsp) {
        st.shared.want_switch.store(true, Ordering::Relaxed);
        return Ok(());
    }
    let mut ss = [0u8; 24];
    ss[0..8].copy_from_slice(&sp.to_ne_bytes());
    ss[8..12].copy_from_slice(&flags.to_ne_bytes());
    ss[16..24].copy_from_slice(&size.to_ne_bytes());
    let scratch = stack_scratch(regs.rsp, 64);
    crate::mm::Memory::new(tracee.tid).write(scratch, &ss)?;
    let mut held = Vec::new();
    let r = tracee.inject(&regs, libc::SYS_sigaltstack, [scratch, 0, 0, 0, 0, 0], &mut held);
    tracee.set_regs(&regs)?;
    let held = held.into_iter().map(|si| sig::virtual_info(kernel, task, &si).unwrap_or(si)).collect();
    sig::reraise(task, held);
    Errno::result(r?)?;
    st.shared.app_altstack.store(true, Ordering::Relaxed);
    Ok(())
}

/// At the signal-delivery stop of `sig`, whose handler runs on the
/// alternate stack: switches first. The injection moves the thread to
/// another stop, where the signal's siginfo is put back for its delivery.
pub(super) fn switch_at_signal_stop(kernel: &Kernel, task: &Task, tracee: &Tracee, st: &State) -> Result<(), Errno> {
    let si = tracee.get_siginfo()?;
    switch(kernel, task, tracee, st)?;
    tracee.set_siginfo(&si)
}
