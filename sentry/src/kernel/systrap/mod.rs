//! The systrap run loop: one sentry thread per app thread, as on ptrace,
//! but the app thread runs *detached* from ptrace while the sentry serves
//! its slot (platform/systrap), and is seized again only for what needs the
//! ptrace machinery.
//!
//! A task alternates between two modes:
//!
//! * **traced**: exactly the ptrace platform's stops (`run::handle_stop`),
//!   except that a trapped call arrives as a SIGSYS signal-delivery stop
//!   (the filter returns RET_TRAP). The call is handled with full registers
//!   and injections (at the stub's sites, which the filter sends to the
//!   tracer); then, once the thread's systrap state is set up in its current
//!   image (its chunk of the region mapped, its alternate stack on it, the
//!   SIGSYS action on the stub's handler), the sentry detaches.
//! * **detached**: the sentry waits on the slot. Calls in [`fast`] run there
//!   and are answered through the slot; any other call, or one whose handler
//!   turns out to need ptrace (it fails with ESRCH, or wants to block on a
//!   signal check, which needs ptrace), is handed back: the sentry seizes
//!   the thread and replies "execute it again" (`Slot::reply_rewind`), so
//!   the call comes back as a SIGSYS stop in traced mode.
//!
//! exit and exit_group trap under systrap (filter.rs), so a thread always
//! ends traced, with its exit stop and status. A detached thread can still
//! die of a signal; the idle slot wait notices within [`MAX_IDLE`].

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use rvisor_syscalls::Errno;

use super::run::{handle_call, handle_stop};
use super::task::{ExitStatus, Task};
use super::Kernel;
use crate::kernel::INSTALL_FD;
use crate::platform::filter::{build_app_filter, TrapAction};
use crate::platform::ptrace::{decode_status, Stop, SyscallInfo, Tracee};
use crate::platform::stub::STUB_SYSCALL;
use crate::platform::systrap::slot::{Slot, Spinner, Waited};
use crate::platform::systrap::{self, Platform, CHUNK};
use crate::syscalls::{self, stack_scratch, Outcome, SyscallCtx};

mod altstack;
mod chunks;
mod copy;
mod detached;
mod exits;
mod fastcalls;
mod fdpass;
mod fork;
mod owned;
mod patch;
mod placement;
mod sigsys;
mod stubcalls;
mod virt;

pub use chunks::note_clone as note_clone_chunks;
pub use detached::frame_deliverable;
use detached::*;
pub use exits::before_signal;
use exits::*;
pub use fastcalls::{fast, FastCall, Rule, FAST};
pub use fork::{finish_fork_closes, forget_fork, note_clone, restore_fork_stack};
pub use owned::{fork_site, note_clone as note_clone_owned};
pub use sigsys::{APP_ERRNO, APP_TRAP};
pub use virt::proc_sigsets;
use virt::*;

/// si_code of a seccomp RET_TRAP SIGSYS.
const SYS_SECCOMP: i32 = 1;
/// Shortest and longest sleep on an idle slot before looking for the
/// thread's death; the wait doubles while the thread stays idle.
const MIN_IDLE: Duration = Duration::from_millis(2);
pub const MAX_IDLE: Duration = Duration::from_millis(16);
/// After this long without a call the thread is seized again: an idle
/// thread is traced, so its stops (job control), its signals' siginfo and
/// its end are seen as on ptrace, and the sentry thread sleeps in wait4.
pub const RESEIZE_AFTER: Duration = Duration::from_millis(20);
/// The shortest last wait before that re-seize.
const RESEIZE_STEP: Duration = Duration::from_millis(1);
/// How long a slot wait must have gone without a call before the sentry
/// looks for the thread's death (a `wait4` or `tgkill` each time).
const DEATH_CHECK_AFTER: Duration = Duration::from_millis(1);
const SS_ONSTACK: i32 = 1;
const SS_DISABLE: i32 = 2;
/// An app's alternate signal stack: (sp, flags, size), as stack_t has them.
type AltStack = (u64, i32, u64);
/// An alternate signal stack when there is none.
const NO_ALTSTACK: AltStack = (0, SS_DISABLE, 0);
const SS_AUTODISARM: u32 = 1 << 31;
const MINSIGSTKSZ: u64 = 2048;

/// A task's systrap state, owned by its sentry thread.
struct State {
    /// The chunk set up in the thread's current image, if any.
    chunk: Option<usize>,
    spin: Spinner,
    /// Which CPU the sentry thread serves the slot from.
    place: placement::Placement,
    /// What other sentry threads see of this task (procfs, signal senders).
    shared: Arc<Shared>,
    /// No chunk could be had: the task stays traced.
    traced_only: bool,
    /// A ppoll the sentry runs at the stub's site to deliver a signal under
    /// a wait's temporary mask (see [`run_with_host_mask`]): the app's rip
    /// to return to once the site's int3 traps.
    mask_wait_return: Option<u64>,
    /// A host rt_sigsuspend at the stub's site: what to put back after it.
    suspended: Option<sigsys::Suspended>,
    /// The app's own SIGSYS, held while the app blocks SIGSYS (virtually).
    held_sigsys: Option<rvisor_syscalls::abi::Siginfo>,
    /// An idle re-seize asked for an interrupt stop, at which the thread may
    /// be inside the stub's handler (see [`finish_hand_off`]).
    interrupted: bool,
    /// The thread's area of its process's copy file (copy.rs), if it has one.
    copy: Option<copy::ThreadCopy>,
    /// Copies made the slow way in this image for want of a copy file.
    copy_misses: u32,
}

/// How a traced phase ended.
enum Traced {
    Ended(ExitStatus, Option<libc::rusage>),
    Detached,
}

/// How a detached phase ended.
enum Detached {
    Ended(ExitStatus, Option<libc::rusage>),
    /// Boxed: a tracee carries its parked registers (platform/ptrace.rs).
    Seized(Box<Tracee>),
}

/// Runs `task` (already traced and stopped-then-continued by its start)
/// until it ends; returns its status and, for a reaped leader, its usage.
pub fn run(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: Tracee) -> (ExitStatus, Option<libc::rusage>) {
    let Some(platform) = systrap::active() else {
        return (ExitStatus::Signaled(libc::SIGKILL, false), None);
    };
    if task.host_tid() == task.tg.host_pid() {
        // A new process: a status noted for an earlier one with this pid is stale.
        forget_group_exit(task.tg.host_pid());
    }
    // What a clone child inherits of its parent's virtual state (fork.rs).
    let (sigsys_blocked, altstack, app_altstack) = fork::inherited(task.host_tid());
    let shared = Arc::new(Shared {
        pid: task.tg.host_pid(),
        owner: std::thread::current().id(),
        detached: false.into(),
        want_seize: false.into(),
        serving: false.into(),
        chunk: usize::MAX.into(),
        sigsys_blocked: sigsys_blocked.into(),
        altstack: std::sync::Mutex::new(altstack),
        app_altstack: app_altstack.into(),
        want_switch: false.into(),
    });
    let mut st = State {
        chunk: None,
        spin: Spinner::new(),
        place: placement::Placement::new(),
        shared: shared.clone(),
        traced_only: false,
        interrupted: false,
        mask_wait_return: None,
        suspended: None,
        held_sigsys: None,
        copy: None,
        copy_misses: 0,
    };
    let mut tracee = tracee;
    SHARED.lock().unwrap_or_else(|e| e.into_inner()).insert(task.host_tid(), shared.clone());
    use std::sync::atomic::Ordering;
    let out = loop {
        patch::mark_traced(platform, &st, true);
        match traced(kernel, task, &tracee, platform, &mut st) {
            Traced::Ended(s, u) => break (s, u),
            Traced::Detached => {}
        }
        shared.chunk.store(st.chunk.unwrap_or(usize::MAX), Ordering::Release);
        shared.detached.store(true, Ordering::Release);
        st.place.enter();
        let next = detached(kernel, task, &tracee, platform, &mut st, &shared);
        st.place.leave();
        shared.detached.store(false, Ordering::Release);
        match next {
            Detached::Ended(s, u) => break (s, u),
            Detached::Seized(t) => tracee = *t,
        }
    };
    let out = (as_group_ended(task.tg.host_pid(), out.0), out.1);
    SHARED.lock().unwrap_or_else(|e| e.into_inner()).remove(&task.host_tid());
    shared.chunk.store(usize::MAX, Ordering::Release);
    if let Some(c) = st.chunk {
        // Still mapped in the process, if it lives on: its next thread's.
        chunks::give_back(platform, &task.tg, c, true);
    }
    out
}

/// The systrap filter as a `struct sock_fprog` followed by its
/// instructions, laid out to be written below stack pointer `rsp`; returns
/// where it goes and the bytes.
pub fn filter_image(rsp: u64) -> (u64, Vec<u8>) {
    let filter = build_app_filter(TrapAction::Trap);
    let mut bytes = Vec::with_capacity(16 + filter.len() * 8);
    bytes.extend_from_slice(&(filter.len() as u64).to_ne_bytes());
    bytes.extend_from_slice(&0u64.to_ne_bytes()); // patched below: the program's address
    for ins in &filter {
        bytes.extend_from_slice(&ins.code.to_ne_bytes());
        bytes.push(ins.jt);
        bytes.push(ins.jf);
        bytes.extend_from_slice(&ins.k.to_ne_bytes());
    }
    let at = stack_scratch(rsp, bytes.len() as u64);
    bytes[8..16].copy_from_slice(&(at + 16).to_ne_bytes());
    (at, bytes)
}

/// The two calls that install the program written at `at`.
pub fn filter_calls(at: u64) -> [(i64, [u64; 6]); 2] {
    [
        (libc::SYS_prctl, [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0]),
        (libc::SYS_seccomp, [libc::SECCOMP_SET_MODE_FILTER as u64, 0, at, 0, 0, 0]),
    ]
}

/// Installs the systrap filter in a freshly exec'd stub (the start of the
/// sandbox's init): the filter and its program header are written below the
/// stack pointer, then no_new_privs and seccomp are injected.
pub fn install_filter(ctx: &mut SyscallCtx<'_>) -> Result<(), Errno> {
    let (at, bytes) = filter_image(ctx.regs()?.rsp);
    ctx.mem.write(at, &bytes)?;
    for (nr, args) in filter_calls(at) {
        Errno::result(ctx.inject(nr, args)?)?;
    }
    Ok(())
}

/// Traced mode: handles stops until the task ends or can be detached.
fn traced(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: &Tracee, p: &Platform, st: &mut State) -> Traced {
    loop {
        let stop = tracee.wait();
        tracing::trace!(tid = task.tid, ?stop, "systrap: traced stop");
        match stop {
            Stop::Signal(libc::SIGSYS) => {
                let si = tracee.get_siginfo().unwrap_or_default();
                if si.si_code == SYS_SECCOMP {
                    if si.si_errno != 0 {
                        // An app filter's action (sigsys::APP_ERRNO, APP_TRAP).
                        match sigsys::app_filter_action(kernel, task, tracee, st) {
                            Ok(true) | Err(Errno::ESRCH) => continue,
                            Ok(false) => {}
                            Err(e) => tracing::warn!(tid = task.tid, error = ?e, "systrap: app filter action failed"),
                        }
                    }
                    match on_sigsys(kernel, task, tracee, p, st) {
                        Ok(true) if tracee.detach(0).is_ok() => return Traced::Detached,
                        Ok(detach) => {
                            if detach {
                                st.shared.detached.store(false, std::sync::atomic::Ordering::SeqCst);
                            }
                            let _ = tracee.cont(0);
                        }
                        // ESRCH: killed meanwhile; the next wait reports it.
                        Err(e) => {
                            if e != Errno::ESRCH {
                                tracing::warn!(tid = task.tid, error = ?e, "systrap: trapped call failed");
                                let _ = tracee.cont(0);
                            }
                        }
                    }
                    continue;
                }
                // A SIGSYS of the app's own (not a trapped call): the host
                // action is the stub's handler, so the sentry delivers it.
                if let Err(e) = sigsys::own_sigsys(kernel, task, tracee, st) {
                    if e != Errno::ESRCH {
                        tracing::warn!(tid = task.tid, error = ?e, "systrap: delivering SIGSYS failed");
                        let _ = tracee.cont(0);
                    }
                }
                continue;
            }
            Stop::EventStop(libc::SIGTRAP) if st.interrupted => {
                st.interrupted = false;
                if !finish_hand_off(kernel, task, tracee, p, st) {
                    let _ = tracee.cont(0);
                }
                continue;
            }
            Stop::Syscall => {
                // A call at a stub site: the exit or ppoll this loop
                // redirected there, or the app itself jumping there while traced.
                if let Ok(info) = tracee.syscall_info() {
                    let waits = [libc::SYS_ppoll as u64, libc::SYS_rt_sigsuspend as u64];
                    let ours = st.mask_wait_return.is_some() && waits.contains(&info.nr);
                    if is_exit(info.nr) || ours {
                        let _ = tracee.cont(0);
                        continue;
                    }
                }
            }
            Stop::Signal(libc::SIGTRAP) if st.mask_wait_return.is_some() => {
                if let Ok(mut regs) = tracee.get_regs() {
                    if regs.rip == STUB_SYSCALL + 3 {
                        // Back from the ppoll or rt_sigsuspend (and any
                        // handler it let run).
                        regs.rip = st.mask_wait_return.take().unwrap_or(regs.rip);
                        regs.rax = Errno::EINTR.as_return() as u64;
                        if let Some(s) = st.suspended.take() {
                            s.restore(&mut regs, st);
                        }
                        let _ = tracee.set_regs(&regs);
                        let _ = tracee.cont(0);
                        continue;
                    }
                }
            }
            Stop::Signal(sig) if altstack::needed_for(task, st, sig) => {
                // Its handler runs on the thread's own alternate stack.
                if let Err(e) = altstack::switch_at_signal_stop(kernel, task, tracee, st) {
                    tracing::debug!(tid = task.tid, error = ?e, "systrap: alternate stack switch failed");
                }
            }
            _ => {}
        }
        if let Some(status) = handle_stop(kernel, task, tracee, stop) {
            if task.host_tid() == task.tg.host_pid() {
                note_group_exit(task.tg.host_pid(), status);
            }
            return Traced::Ended(status, tracee.exit_usage());
        }
    }
}

/// A wait with a temporary mask (ppoll, pselect6, epoll_pwait) was cut short
/// by a signal: `run::handle_call` turned the call into a host ppoll with
/// that mask and a 1 ns timeout, which a seccomp stop would run in place. At
/// a SIGSYS stop nothing runs, so the ppoll is run at the stub's site (the
/// filter sends it to this tracer, which lets it go); the signal is
/// delivered under the temporary mask and the int3 after the site brings
/// the thread back, to return EINTR at the app's rip.
fn run_with_host_mask(tracee: &Tracee, st: &mut State, mut regs: rvisor_syscalls::abi::UserRegs) -> Result<(), Errno> {
    // The host mask must not block SIGSYS (a handler that runs under it
    // could make no trapped call); it sits where finish_with_host_mask put it.
    let mem = crate::mm::Memory::new(tracee.tid);
    let at = stack_scratch(regs.rsp, 64) + 16;
    let mask: u64 = mem.read_val(at)?;
    mem.write_val(at, &(mask & !SIGSYS_BIT))?;
    st.mask_wait_return = Some(regs.rip);
    regs.rip = STUB_SYSCALL;
    regs.rax = libc::SYS_ppoll as u64;
    regs.orig_rax = u64::MAX;
    tracee.set_regs(&regs)
}

fn is_exit(nr: u64) -> bool {
    nr == libc::SYS_exit as u64 || nr == libc::SYS_exit_group as u64
}

fn is_exec(nr: u64) -> bool {
    nr == libc::SYS_execve as u64 || nr == libc::SYS_execveat as u64
}

/// A trapped call at its SIGSYS stop. Returns whether to detach after it.
fn on_sigsys(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    tracee: &Tracee,
    p: &Platform,
    st: &mut State,
) -> Result<bool, Errno> {
    let mut regs = tracee.get_regs()?;
    // RET_TRAP rolled rax back to the number; orig_rax holds it too.
    let nr = regs.orig_rax;
    let args = regs.syscall_args();
    if is_exit(nr) {
        if nr == libc::SYS_exit_group as u64 {
            note_exit_group(task.tg.host_pid(), ExitStatus::Exited((args[0] & 0xff) as i32));
            crate::kernel::robust::hand_over_process(kernel, &task.tg, Some(task.host_tid()));
        }
        // Run it at the stub's site, where the filter sends it to the
        // tracer: the thread ends traced, as on the ptrace platform.
        regs.rip = STUB_SYSCALL;
        regs.rax = nr;
        regs.orig_rax = u64::MAX;
        tracee.set_regs(&regs)?;
        return Ok(false);
    }
    tracing::debug!(tid = task.tid, call = %detached::call_name(nr), "systrap: served at a SIGSYS stop");
    // As at a seccomp stop.
    regs.rax = Errno::ENOSYS.as_return() as u64;
    // A fork child still on its parent's chunk's copy (fork.rs) cannot move
    // its alternate stack yet (EPERM while on it): it stays traced.
    // Nor one whose alternate stack is its own (virt::sigaltstack): the
    // chunk would replace it.
    let app_altstack = st.shared.app_altstack.load(std::sync::atomic::Ordering::Relaxed);
    if st.chunk.is_none() && !st.traced_only && !app_altstack && !is_exec(nr) && !fork::in_region(regs.rsp) {
        set_up_stopped(kernel, task, tracee, p, st, &mut regs)?;
    }
    // Enough slow copies: a copy file, which the next call served detached takes.
    if st.chunk.is_some() && st.copy_misses >= copy::INSTALL_AFTER && !is_exec(nr) && copy::wants_file(&task.tg) {
        let mut ctx = SyscallCtx::new(kernel, task, tracee, regs);
        let done = copy::install(&mut ctx);
        reraise_held(kernel, task, &mut ctx);
        match done {
            Err(Errno::ESRCH) => return Err(Errno::ESRCH),
            Err(e) => {
                tracing::debug!(tid = task.tid, error = ?e, "systrap: no copy file");
                st.copy_misses = 0;
            }
            Ok(_) => {}
        }
        tracee.set_regs(&rvisor_syscalls::abi::UserRegs { orig_rax: u64::MAX, ..regs })?;
    }
    if nr == libc::SYS_rt_sigsuspend as u64 {
        sigsys::sigsuspend(tracee, st, regs)?;
        return Ok(false);
    }
    if st.chunk.is_some() && systrap::patch::enabled() {
        let mut ctx = SyscallCtx::new(kernel, task, tracee, regs);
        patch::try_patch(&mut ctx, nr);
        reraise_held(kernel, task, &mut ctx);
    }
    let mut ctx = SyscallCtx::new(kernel, task, tracee, regs);
    let ret = match virtual_call(&mut ctx, st, MaskAt::Thread, regs.rsp, nr, args) {
        Some(ret) => {
            if kernel.options.strace {
                syscalls::strace_exit(&ctx, nr, args, &ret, None);
            }
            reraise_held(kernel, task, &mut ctx);
            ctx.finish(ret.unwrap_or_else(|e| e.as_return()))?;
            ret
        }
        None => handle_call(kernel, task, tracee, ctx, nr, args)?,
    };
    if ret == Err(Errno::ERESTARTNOHAND) && !is_exec(nr) {
        if let Ok(regs) = tracee.get_regs() {
            if regs.orig_rax == libc::SYS_ppoll as u64 {
                run_with_host_mask(tracee, st, regs)?;
                return Ok(false);
            }
        }
    }
    if is_exec(nr) && ret.is_ok() {
        // A new image: the old chunk is gone from it, and the copy file.
        st.shared.chunk.store(usize::MAX, std::sync::atomic::Ordering::Release);
        chunks::exec(p, &task.tg, st.chunk.take());
        st.copy = None;
        st.copy_misses = 0;
        owned::forget(&task.tg);
        *st.shared.altstack.lock().unwrap_or_else(|e| e.into_inner()) = NO_ALTSTACK;
        st.shared.app_altstack.store(false, std::sync::atomic::Ordering::Relaxed);
        // Set up now, at the new image's entry, so the thread can leave
        // detached: its first trapped call then needs no SIGSYS stop.
        if st.traced_only {
            return Ok(false);
        }
        let mut regs = tracee.get_regs()?;
        set_up_stopped(kernel, task, tracee, p, st, &mut regs)?;
        if st.chunk.is_none() {
            return Ok(false);
        }
    }
    if nr == libc::SYS_rt_sigaction as u64 && ret.is_ok() {
        altstack::after_sigaction(task);
    }
    if st.shared.want_switch.swap(false, std::sync::atomic::Ordering::Relaxed) {
        match altstack::switch(kernel, task, tracee, st) {
            Err(Errno::ESRCH) => return Err(Errno::ESRCH),
            Err(e) => tracing::debug!(tid = task.tid, error = ?e, "systrap: alternate stack switch failed"),
            Ok(()) => {}
        }
    }
    // Not while a handler runs inside a wait at the stub's site: the int3
    // after the site must come back to this tracer.
    let mask_wait = st.mask_wait_return.is_some();
    let app_altstack = st.shared.app_altstack.load(std::sync::atomic::Ordering::Relaxed);
    let stay = mask_wait || app_altstack || sigsys::app_filtered(task);
    let may_detach = st.chunk.is_some() && !stay;
    if may_detach {
        announce_detach(&st.shared);
    }
    // A signal the sentry raised for this thread is on its way: deliver it
    // traced, where its virtual siginfo goes in (signal::on_delivery).
    // Likewise any signal now pending for it.
    let host = super::signal::HostSignals::read(tracee);
    let pending = host.as_ref().map_or(Some(libc::SIGKILL), |h| h.deliverable(task, None));
    if pending == Some(libc::SIGKILL) {
        // The thread dies without running app code again, and a SIGKILL
        // taken from a signal-delivery stop brings no exit stop: hand its
        // robust futexes over now (run.rs does it at the exit stop).
        super::robust::hand_over_robust_list(task.host_tid(), task.tid);
    }
    let detach = may_detach
        && pending.is_none()
        && !exits::raising()
        && !signal_in_flight(task)
        && host.is_some_and(|h| !h.raised(kernel));
    if may_detach && !detach {
        withdraw_detach(&st.shared);
    }
    if detach {
        // Stopped until the detach: the trampoline may use its slot again.
        patch::mark_traced(p, st, false);
    }
    Ok(detach)
}

/// Marks the thread detached before its last look at signals on their way
/// to it (records, raises under way, the host's pending set). A sender
/// counts itself raising, then looks at `detached` (`before_signal`), so of
/// a sender and this thread one sees the other: the sender has the thread
/// seized before its host signal, or the thread stays traced for it.
/// (Marked after the detach, a signal raised meanwhile reached the detached
/// thread with the host's siginfo: LTP kill10's "unexpected signal from 1".)
fn announce_detach(shared: &Shared) {
    use std::sync::atomic::{fence, Ordering};
    shared.detached.store(true, Ordering::SeqCst);
    fence(Ordering::SeqCst);
}

/// The thread stays traced after all.
fn withdraw_detach(shared: &Shared) {
    use std::sync::atomic::Ordering;
    shared.detached.store(false, Ordering::SeqCst);
    // A sender that saw the mark asked for a seize the thread no longer needs.
    shared.want_seize.store(false, Ordering::SeqCst);
}

/// Raises again the signals held back while the sentry injected calls in
/// the thread's context (as `run::handle_call` does for a call's own).
fn reraise_held(kernel: &Kernel, task: &Task, ctx: &mut SyscallCtx<'_>) {
    let held: Vec<_> = std::mem::take(&mut ctx.deferred)
        .into_iter()
        .map(|si| super::signal::virtual_info(kernel, task, &si).unwrap_or(si))
        .collect();
    super::signal::reraise(task, held);
}

fn signal_in_flight(task: &Task) -> bool {
    !task.sig_info.is_empty() || !task.tg.sig_info.is_empty()
}

/// Runs `set_up` in a thread stopped with registers `regs`, then puts them
/// back (the trampoline's GS base added) with no call pending, so the
/// injection loop's parked thread need not stop once more first. A failed
/// set-up leaves the task traced for good.
fn set_up_stopped(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    tracee: &Tracee,
    p: &Platform,
    st: &mut State,
    regs: &mut rvisor_syscalls::abi::UserRegs,
) -> Result<(), Errno> {
    let mut ctx = SyscallCtx::new(kernel, task, tracee, *regs);
    let done = if owned::table_shared(&task.tg) {
        // Another process shares the fd table: it would see the chunk's fd
        // arrive, and could take it (docs/security.md).
        tracing::debug!(tid = task.tid, "systrap: the fd table is shared; the task stays traced");
        st.traced_only = true;
        Ok(())
    } else {
        set_up(&mut ctx, p, st)
    };
    reraise_held(kernel, task, &mut ctx);
    if let (Ok(()), Some(c)) = (&done, st.chunk) {
        patch::set_up_thread(p, c, regs);
    }
    match done {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Err(Errno::ESRCH),
        Err(e) => {
            tracing::warn!(tid = task.tid, error = ?e, "systrap: set-up failed; the task stays traced");
            st.traced_only = true;
        }
    }
    tracee.set_regs(&rvisor_syscalls::abi::UserRegs { orig_rax: u64::MAX, ..*regs })
}

/// Maps a fresh chunk into the stopped thread's process and points its
/// alternate stack and the process's SIGSYS action at the stub's handler.
fn set_up(ctx: &mut SyscallCtx<'_>, p: &Platform, st: &mut State) -> Result<(), Errno> {
    // No fork until the chunk is MADV_DONTFORK: the child would share it.
    // (An fd passed here that a fork copies is closed in the child: the
    // stub's fork site, `fork::finish_fork_closes`.)
    let tg = ctx.task.tg.clone();
    let _no_fork = tg.fork_guard.lock().unwrap_or_else(|e| e.into_inner());
    let (chunk, memory, replace) = chunks::alloc(p, &tg).ok_or(Errno::ENOMEM)?;
    // Whether the process maps the chunk: an ended thread's it had, or this one's once mapped.
    let mut in_process = replace;
    let done = map_chunk(ctx, chunk, memory, replace, &mut in_process).and_then(|()| point_at_handler(ctx, chunk));
    match done {
        Ok(()) => st.chunk = Some(chunk),
        Err(_) => chunks::give_back(p, &tg, chunk, in_process),
    }
    done
}

/// Maps `chunk`'s `memory` at its place in the stopped thread's process,
/// over what is there if `replace` (an ended thread's chunk), marks it
/// MADV_DONTFORK, and puts the process's SIGSYS action on the stub's
/// handler; `in_process` becomes true once it is mapped.
fn map_chunk(
    ctx: &mut SyscallCtx<'_>,
    chunk: usize,
    memory: std::os::fd::OwnedFd,
    replace: bool,
    in_process: &mut bool,
) -> Result<(), Errno> {
    let addr = Platform::chunk_addr(chunk);
    // The process's install socket (fdpass.rs) comes with the chunk's fd,
    // in the same recvmsg, if its image has none yet. Only in an image that
    // exec made: a fork child that has not exec'd maps few new files (and
    // mostly execs soon), so there a socket would cost more than it saves.
    let execed = ctx.task.tg.lock().execed;
    let socket = (execed && fdpass::wants_socket(&ctx.task.tg)).then(fdpass::InstallSocket::new).transpose()?;
    // The chunk's memory is a memfd of its own: while it sits in the app
    // below, another thread there may take it, and so reach this chunk alone.
    let mut sent = vec![memory.as_raw_fd()];
    sent.extend(socket.as_ref().map(|s| s.app_end()));
    let fds = ctx.inject_fds(&sent)?;
    let place = if replace { libc::MAP_FIXED } else { libc::MAP_FIXED_NOREPLACE };
    let flags = (libc::MAP_SHARED | place) as u64;
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let mapped = ctx.inject(libc::SYS_mmap, [addr, CHUNK as u64, prot, flags, fds[0] as u64, 0]);
    let moved = match &fds[..] {
        [_, low] => Some(ctx.inject(libc::SYS_dup3, [*low as u64, INSTALL_FD as u64, libc::O_CLOEXEC as u64, 0, 0, 0])),
        _ => None,
    };
    let mapped = matches!(mapped, Ok(a) if a as u64 == addr);
    // The rest runs as one batch (SyscallCtx::inject_batch): the closes of
    // where the fds arrived, then, with the chunk mapped, its
    // MADV_DONTFORK (a fork child must not inherit the chunk: it would
    // share the parent thread's slot; the child gets its own at its first
    // trapped call) and the SIGSYS action. The action's bytes go below
    // where the batch's table goes.
    let mut calls: Vec<(i64, [u64; 6])> = fds.iter().map(|&fd| (libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0])).collect();
    if mapped {
        calls.push((libc::SYS_madvise, [addr, CHUNK as u64, libc::MADV_DONTFORK as u64, 0, 0, 0]));
        let act = systrap::sigsys_action();
        let at = stack_scratch(ctx.regs()?.rsp, SIGSYS_ACTION_BELOW);
        let mut a = [0u8; 32];
        for (i, v) in [act.handler, act.flags, act.restorer, act.mask].iter().enumerate() {
            a[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        ctx.mem.write(at, &a)?;
        calls.push((libc::SYS_rt_sigaction, [libc::SIGSYS as u64, at, 0, 8, 0, 0]));
    }
    let done = ctx.inject_batch(&calls)?;
    if !mapped {
        return Err(Errno::ENOMEM);
    }
    *in_process = true;
    if let (Some(socket), Some(moved)) = (socket, moved) {
        Errno::result(moved?)?;
        fdpass::record(&ctx.task.tg, socket);
    }
    syscalls::batch_succeeded(&done, calls.len())
}

/// Where the SIGSYS action's bytes go below the stack pointer: past a
/// batch table of up to 14 entries (`SyscallCtx::inject_batch` puts its
/// table right below the red zone).
const SIGSYS_ACTION_BELOW: u64 = 1024;

/// Puts the stopped thread's alternate stack on `chunk`.
fn point_at_handler(ctx: &mut SyscallCtx<'_>, chunk: usize) -> Result<(), Errno> {
    let addr = Platform::chunk_addr(chunk);
    let scratch = stack_scratch(ctx.regs()?.rsp, 64);
    let mut ss = [0u8; 24];
    ss[0..8].copy_from_slice(&addr.to_ne_bytes());
    ss[16..24].copy_from_slice(&(CHUNK as u64).to_ne_bytes());
    ctx.mem.write(scratch, &ss)?;
    Errno::result(ctx.inject(libc::SYS_sigaltstack, [scratch, 0, 0, 0, 0, 0])?)?;
    Ok(())
}
