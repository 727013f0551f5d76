//! Signals: the sentry decides who receives a signal and with what siginfo;
//! the host kernel delivers it. Dispositions, masks and handler frames are the
//! app process's own (rt_sigaction and friends are passthrough), so the host's
//! delivery *is* the Linux semantics.
//!
//! What the host cannot know is the sender: every signal the sentry raises
//! carries the sentry's host pid. So the sentry records the virtual siginfo
//! here before raising the host signal, and the task's tracer swaps it in at
//! the signal-delivery stop ([`fix_delivered`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rvisor_syscalls::abi::{KernelSigaction, Siginfo, UserRegs};
use rvisor_syscalls::Errno;

use super::task::{ExitStatus, Task, ThreadGroup};
use super::Kernel;
use crate::platform::ptrace::Tracee;

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TKILL: i32 = -6;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
/// The sa_flags bits Linux keeps (UAPI_SA_FLAGS); others are silently dropped.
pub const KNOWN_SA_FLAGS: u64 =
    0x1 | 0x2 | 0x4 | 0x400 | 0x800 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x4000_0000 | 0x8000_0000;

/// Most recorded siginfos kept per queue; beyond this the oldest are dropped
/// (Linux's own limit, RLIMIT_SIGPENDING, is far larger but only for rt signals).
const MAX_QUEUED: usize = 1024;

/// Signals whose default action is to ignore: they do not interrupt blocking calls.
pub fn ignored_by_default(sig: i32) -> bool {
    matches!(sig, libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT)
}

/// Whether delivering `sig` under `act` does nothing at all.
pub fn is_ignored(act: &KernelSigaction, sig: i32) -> bool {
    act.handler == SIG_IGN || act.handler == SIG_DFL && ignored_by_default(sig)
}

/// Signals whose default action dumps core.
pub fn dumps_core(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGQUIT
            | libc::SIGILL
            | libc::SIGTRAP
            | libc::SIGABRT
            | libc::SIGBUS
            | libc::SIGFPE
            | libc::SIGSEGV
            | libc::SIGXCPU
            | libc::SIGXFSZ
            | libc::SIGSYS
    )
}

/// Whether delivering `sig` (at its signal-delivery stop) ends the process:
/// the default action of a signal that terminates.
pub fn kills_process(task: &Task, sig: i32) -> bool {
    let stops = matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU | libc::SIGCONT);
    (1..=64).contains(&sig) && !stops && !ignored_by_default(sig) && task.tg.action(sig).handler == SIG_DFL
}

/// Virtual siginfos of signals the sentry raised and the host has not yet
/// delivered, and of the standard signals it delivered last.
#[derive(Default)]
pub struct SigInfoQueue(Mutex<Records>);

#[derive(Default)]
struct Records {
    queue: VecDeque<Siginfo>,
    /// Per standard signal, the record its last delivery took, and when
    /// (a [`TAKEN`] count). A raise whose record an earlier delivery took
    /// (the record replaced between that delivery's dequeue and its take)
    /// is then delivered with it: its sender raised it last.
    taken: [Option<(u64, Siginfo)>; 32],
}

/// Orders the takes of every queue, so the newer of two `last` records wins.
static TAKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl SigInfoQueue {
    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `info`. A standard signal is pending at most once on Linux, so
    /// its record replaces an older one (which the host merged or dropped).
    pub fn push(&self, info: Siginfo) {
        let q = &mut self.records().queue;
        if info.si_signo < 32 {
            q.retain(|i| i.si_signo != info.si_signo);
        }
        if q.len() >= MAX_QUEUED {
            q.pop_front();
        }
        q.push_back(info);
    }

    /// Takes the oldest record for `sig`.
    pub fn take(&self, sig: i32) -> Option<Siginfo> {
        let mut r = self.records();
        let at = r.queue.iter().position(|i| i.si_signo == sig)?;
        let info = r.queue.remove(at)?;
        if let Some(slot) = usize::try_from(sig).ok().and_then(|s| r.taken.get_mut(s)) {
            *slot = Some((TAKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed), info));
        }
        Some(info)
    }

    /// The record the last delivery of standard signal `sig` took, with its
    /// take count.
    fn last_taken(&self, sig: i32) -> Option<(u64, Siginfo)> {
        usize::try_from(sig).ok().and_then(|s| self.records().taken.get(s).copied().flatten())
    }

    /// Whether a raised signal's record awaits its delivery.
    pub fn is_empty(&self) -> bool {
        self.records().queue.is_empty()
    }
}

/// A siginfo with the sender fields (`si_pid`, `si_uid`) set.
pub fn sender_info(sig: i32, code: i32, pid: i32, uid: u32) -> Siginfo {
    let mut si = Siginfo { si_signo: sig, si_code: code, ..Default::default() };
    si.fields[0] = pid as u32 as u64 | (uid as u64) << 32;
    si
}

/// The SIGCHLD siginfo describing `child`'s state change.
pub fn child_info(child: &ThreadGroup, uid: u32, code: i32, status: i32) -> Siginfo {
    let mut si = sender_info(libc::SIGCHLD, code, child.tgid, uid);
    si.fields[1] = status as u32 as u64;
    si
}

/// The SIGCHLD code and status for a process that ended with `st`.
pub fn exit_code_and_status(st: ExitStatus) -> (i32, i32) {
    match st {
        ExitStatus::Exited(c) => (CLD_EXITED, c),
        ExitStatus::Signaled(s, true) => (CLD_DUMPED, s),
        ExitStatus::Signaled(s, false) => (CLD_KILLED, s),
    }
}

/// Raises `info` for process `tg` and wakes its blocked syscalls, as a
/// process-directed signal. `skip` is the calling task, whose own syscall is
/// the one sending (it must not be interrupted by it).
pub fn send_to_group(kernel: &Kernel, tg: &ThreadGroup, info: Siginfo, skip: Option<&Arc<Task>>) {
    send_all_to_group(kernel, tg, &[info], skip);
}

/// Raises every signal of `infos` for process `tg` before any of its
/// threads is woken, so none can take one before the others are pending:
/// Linux's terminal hang-up queues SIGHUP and SIGCONT together, and a
/// handler of the first runs with the second already pending.
pub fn send_all_to_group(kernel: &Kernel, tg: &ThreadGroup, infos: &[Siginfo], skip: Option<&Arc<Task>>) {
    let pid = tg.host_pid();
    let infos: Vec<&Siginfo> = infos.iter().filter(|i| i.si_signo != 0).collect();
    if infos.is_empty() || pid <= 0 {
        return;
    }
    for info in &infos {
        tg.sig_info.push(**info);
    }
    if infos.iter().any(|i| i.si_signo == libc::SIGCONT) {
        super::run::group_continued(kernel, tg);
    }
    let _raising = super::systrap::before_signal(pid, None);
    if infos.iter().any(|i| i.si_signo == libc::SIGKILL) {
        tg.killed.store(true, std::sync::atomic::Ordering::SeqCst);
        super::robust::hand_over_process(kernel, tg, None);
    }
    for info in &infos {
        // SAFETY: signals a process inside our own sandbox.
        unsafe { libc::kill(pid, info.si_signo) };
    }
    super::wait::SIGNALS.notify();
    // A handled signal whose default is to ignore (SIGWINCH, SIGCHLD) still
    // interrupts: the disposition decides, not the default.
    if infos.iter().any(|i| !is_ignored(&tg.action(i.si_signo), i.si_signo)) {
        for t in kernel.threads_of(tg.tgid) {
            if !skip.is_some_and(|s| Arc::ptr_eq(s, &t)) {
                t.interrupt.notify();
            }
        }
    }
}

/// Raises `info` for one thread and wakes its blocked syscall unless it is `skip`.
pub fn send_to_task(task: &Task, info: Siginfo, skip: Option<&Arc<Task>>) {
    let sig = info.si_signo;
    if sig == 0 {
        return;
    }
    task.sig_info.push(info);
    let _raising = super::systrap::before_signal(task.tg.host_pid(), Some(task.host_tid()));
    if sig == libc::SIGKILL {
        task.tg.killed.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(kernel) = super::current_kernel() {
            super::robust::hand_over_process(&kernel, &task.tg, None);
        }
    }
    // SAFETY: signals a thread inside our own sandbox.
    unsafe { libc::syscall(libc::SYS_tgkill, task.tg.host_pid(), task.host_tid(), sig) };
    super::wait::SIGNALS.notify();
    if !is_ignored(&task.tg.action(sig), sig) && !skip.is_some_and(|s| std::ptr::eq(Arc::as_ptr(s), task)) {
        task.interrupt.notify();
    }
}

/// Whether a host siginfo is one the sentry raised (kill/tgkill/sigqueue from its own pid).
fn raised_by_sentry(kernel: &Kernel, si: &Siginfo) -> bool {
    matches!(si.si_code, SI_USER | SI_TKILL | SI_QUEUE) && si.fields[0] as u32 as i32 == kernel.sentry_pid
}

/// The virtual siginfo for a host-delivered signal the sentry raised, if recorded.
pub fn virtual_info(kernel: &Kernel, task: &Task, si: &Siginfo) -> Option<Siginfo> {
    if !raised_by_sentry(kernel, si) {
        return None;
    }
    let sig = si.si_signo;
    task.sig_info.take(sig).or_else(|| task.tg.sig_info.take(sig)).or_else(|| {
        // A standard signal raised again while its last delivery was under
        // way: the host queued a second one, whose record that delivery took.
        let (own, group) = (task.sig_info.last_taken(sig), task.tg.sig_info.last_taken(sig));
        let found = own.into_iter().chain(group).max_by_key(|(n, _)| *n).map(|(_, info)| info);
        if found.is_none() {
            tracing::debug!(tid = task.tid, sig, "a signal the sentry raised arrived without its record");
        }
        found
    })
}

/// At a signal-delivery stop: replaces the host siginfo of a sentry-raised
/// signal with the virtual one it was raised for.
pub fn fix_delivered(kernel: &Kernel, task: &Task, tracee: &Tracee) {
    let Ok(si) = tracee.get_siginfo() else { return };
    if let Some(v) = virtual_info(kernel, task, &si) {
        let _ = tracee.set_siginfo(&v);
    }
}

/// Re-raises signals that arrived while the sentry ran a syscall in the
/// task's context (and so were held back); their siginfo is kept.
/// The host's pending sets of thread `tid` of process `pid` from its /proc
/// status: (SigPnd, the thread's own; ShdPnd, its process's). None when the
/// thread cannot be read (it is gone or going).
pub fn host_pending(pid: i32, tid: i32) -> Option<(u64, u64)> {
    let status = crate::confine::read_host_proc(&format!("{pid}/task/{tid}/status")).ok()?;
    let text = String::from_utf8_lossy(&status);
    let set = |key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| u64::from_str_radix(v.trim(), 16).ok()).unwrap_or(0)
    };
    Some((set("SigPnd:"), set("ShdPnd:")))
}

pub fn reraise(task: &Task, held: Vec<Siginfo>) {
    for si in held {
        send_to_task(task, si, None);
    }
}

/// The signal the host will act on when the task next returns to user mode:
/// the lowest pending signal that is neither blocked (by the thread's mask, or
/// `mask` if given) nor ignored.
///
/// A thread that can no longer be queried has been killed (its process
/// exited or got SIGKILL while the sentry held it): that counts as SIGKILL,
/// so whatever the sentry was blocked in for it unwinds.
pub fn deliverable(task: &Task, tracee: &Tracee, mask: Option<u64>) -> Option<i32> {
    match HostSignals::read(tracee) {
        Some(host) => host.deliverable(task, mask),
        None => Some(libc::SIGKILL),
    }
}

/// A stopped thread's signal mask and host pending sets (its own and its
/// process's), read once for every question asked of them.
pub struct HostSignals {
    mask: u64,
    pending: Vec<Siginfo>,
}

impl HostSignals {
    /// None for a thread that can no longer be queried, or that was killed
    /// while the sentry held it and runs on to its exit stop.
    pub fn read(tracee: &Tracee) -> Option<HostSignals> {
        match tracee.get_siginfo() {
            Ok(si) if si.si_code >> 8 == crate::platform::ptrace::PTRACE_EVENT_EXIT => return None,
            Err(_) => return None,
            Ok(_) => {}
        }
        let mask = tracee.get_sigmask().ok()?;
        let (Ok(mut pending), Ok(shared)) = (tracee.peek_siginfo(false), tracee.peek_siginfo(true)) else {
            return None;
        };
        pending.extend(shared);
        Some(HostSignals { mask, pending })
    }

    /// See [`deliverable`].
    pub fn deliverable(&self, task: &Task, mask: Option<u64>) -> Option<i32> {
        let mask = mask.unwrap_or(self.mask);
        let actions = task.tg.lock().actions;
        self.pending
            .iter()
            .map(|si| si.si_signo)
            .filter(|&sig| (1..=64).contains(&sig))
            .filter(|&sig| sig == libc::SIGKILL || mask & (1u64 << (sig - 1)) == 0)
            .filter(|&sig| !is_ignored(&actions[(sig - 1) as usize], sig))
            .min()
    }

    /// Whether a signal the sentry raised waits here, blocked or not: the
    /// host would deliver it with its own siginfo to a thread no longer
    /// traced (once a handler's return or a mask change unblocks it), whose
    /// record an earlier delivery may have taken.
    pub fn raised(&self, kernel: &Kernel) -> bool {
        self.pending.iter().any(|si| raised_by_sentry(kernel, si))
    }
}

/// How an emulated syscall that was cut short by a signal ends, decided as
/// Linux's signal code decides it for `code` (ERESTARTSYS, ERESTARTNOHAND or
/// ERESTARTNOINTR): `Ok(())` to restart it (the app re-executes the syscall
/// instruction after any handler returns), `Err(EINTR)` to fail it.
pub fn restart_or_eintr(task: &Task, tracee: &Tracee, code: Errno) -> Result<(), Errno> {
    let Some(sig) = deliverable(task, tracee, None) else { return Ok(()) };
    let act = task.tg.action(sig);
    if act.handler == SIG_DFL {
        // Default action: the process stops (and the call restarts on SIGCONT) or dies.
        return Ok(());
    }
    let restart = code == Errno::ERESTARTNOINTR || code == Errno::ERESTARTSYS && act.flags & SA_RESTART != 0;
    if restart {
        Ok(())
    } else {
        Err(Errno::EINTR)
    }
}

/// Rewinds a trapped syscall so the app executes it again (`syscall` is 2 bytes).
pub fn rewind_syscall(regs: &mut UserRegs, nr: u64) {
    regs.rip = regs.rip.wrapping_sub(2);
    regs.rax = nr;
    regs.orig_rax = u64::MAX;
}

/// Whether `e` is one of the kernel-internal restart codes.
pub fn is_restart(e: Errno) -> bool {
    e == Errno::ERESTARTSYS || e == Errno::ERESTARTNOHAND || e == Errno::ERESTARTNOINTR
}

/// Bookkeeping at a signal-delivery stop: the virtual siginfo goes in, and a
/// one-shot (SA_RESETHAND) handler is reset in the mirror as the host resets it.
pub fn on_delivery(kernel: &Kernel, task: &Task, tracee: &Tracee, sig: i32) {
    fix_delivered(kernel, task, tracee);
    if (1..=64).contains(&sig) {
        let mut st = task.tg.lock();
        let act = &mut st.actions[(sig - 1) as usize];
        // Only the handler goes back to SIG_DFL: flags and mask stay (Linux's SA_ONESHOT).
        if act.handler > SIG_IGN && act.flags & SA_RESETHAND != 0 {
            act.handler = SIG_DFL;
        }
    }
}

/// execve: handlers reset to SIG_DFL (ignored signals stay ignored), flags and masks cleared.
pub fn reset_on_exec(tg: &ThreadGroup) {
    let mut st = tg.lock();
    for act in st.actions.iter_mut() {
        let ignored = act.handler == SIG_IGN;
        *act = KernelSigaction { handler: if ignored { SIG_IGN } else { SIG_DFL }, ..Default::default() };
    }
}

/// Ends a ppoll/pselect6/epoll_pwait that a signal interrupted under its
/// temporary mask `mask`: the trapped call becomes a host ppoll with no fds, a
/// 1 ns timeout and that mask, so the host delivers the signal under the
/// temporary mask and restores the original one after the handler, as Linux
/// does. Scratch space below the red zone holds the mask and the timeout.
pub fn finish_with_host_mask(mem: &crate::mm::Memory, regs: &mut UserRegs, mask: u64) -> Result<(), Errno> {
    let scratch = crate::syscalls::stack_scratch(regs.rsp, 64);
    let mut block = [0u8; 24];
    block[0..8].copy_from_slice(&0i64.to_ne_bytes());
    block[8..16].copy_from_slice(&1i64.to_ne_bytes());
    block[16..24].copy_from_slice(&mask.to_ne_bytes());
    mem.write(scratch, &block)?;
    regs.orig_rax = libc::SYS_ppoll as u64;
    regs.set_syscall_args([0, 0, scratch, scratch + 16, 8, 0]);
    Ok(())
}
