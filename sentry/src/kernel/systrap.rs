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

use rvisor_syscalls::abi::KernelSigaction;
use rvisor_syscalls::{Errno, SysResult};

use super::run::{handle_call, handle_stop, killed_status};
use super::task::{ExitStatus, Task};
use super::Kernel;
use crate::platform::filter::{build_app_filter, TrapAction};
use crate::platform::ptrace::{decode_status, Stop, SyscallInfo, Tracee};
use crate::platform::stub::STUB_SYSCALL;
use crate::platform::systrap::slot::{Spinner, Waited};
use crate::platform::systrap::{self, Platform, CHUNK};
use crate::syscalls::{self, stack_scratch, Outcome, SyscallCtx};

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
const SS_DISABLE: i32 = 2;
const SS_AUTODISARM: u32 = 1 << 31;
const MINSIGSTKSZ: u64 = 2048;

/// A task's systrap state, owned by its sentry thread.
struct State {
    /// The chunk set up in the thread's current image, if any.
    chunk: Option<usize>,
    /// The app's own alternate signal stack (sp, flags, size): the host one
    /// is the chunk, so the app's is kept here and reported back.
    altstack: (u64, i32, u64),
    spin: Spinner,
    /// The app blocked SIGSYS (virtually: never on the host).
    sigsys_blocked: bool,
    /// No chunk could be had: the task stays traced.
    traced_only: bool,
    /// A ppoll the sentry runs at the stub's site to deliver a signal under
    /// a wait's temporary mask (see [`run_with_host_mask`]): the app's rip
    /// to return to once the site's int3 traps.
    mask_wait_return: Option<u64>,
    /// An idle re-seize asked for an interrupt stop, at which the thread may
    /// be inside the stub's handler (see [`finish_hand_off`]).
    interrupted: bool,
}

/// How a traced phase ended.
enum Traced {
    Ended(ExitStatus, Option<libc::rusage>),
    Detached,
}

/// How a detached phase ended.
enum Detached {
    Ended(ExitStatus, Option<libc::rusage>),
    Seized(Tracee),
}

/// Runs `task` (already traced and stopped-then-continued by its start)
/// until it ends; returns its status and, for a reaped leader, its usage.
pub fn run(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: Tracee) -> (ExitStatus, Option<libc::rusage>) {
    let Some(platform) = systrap::active() else {
        return (ExitStatus::Signaled(libc::SIGKILL, false), None);
    };
    if std::env::var_os("RVISOR_SYSTRAP_SPLIT").is_some() {
        split_from_app(task.host_tid());
    }
    if task.host_tid() == task.tg.host_pid() {
        // A new process: a status noted for an earlier one with this pid is stale.
        GROUP_EXIT.lock().unwrap_or_else(|e| e.into_inner()).remove(&task.tg.host_pid());
    }
    let mut st = State {
        chunk: None,
        altstack: (0, SS_DISABLE, 0),
        spin: Spinner::new(),
        sigsys_blocked: false,
        traced_only: false,
        interrupted: false,
        mask_wait_return: None,
    };
    let mut tracee = tracee;
    let shared = Arc::new(Shared {
        pid: task.tg.host_pid(),
        owner: std::thread::current().id(),
        detached: false.into(),
        want_seize: false.into(),
        chunk: usize::MAX.into(),
    });
    SHARED.lock().unwrap_or_else(|e| e.into_inner()).insert(task.host_tid(), shared.clone());
    use std::sync::atomic::Ordering;
    let out = loop {
        match traced(kernel, task, &tracee, platform, &mut st) {
            Traced::Ended(s, u) => break (s, u),
            Traced::Detached => {}
        }
        shared.chunk.store(st.chunk.unwrap_or(usize::MAX), Ordering::Release);
        shared.detached.store(true, Ordering::Release);
        let next = detached(kernel, task, &tracee, platform, &mut st, &shared);
        shared.detached.store(false, Ordering::Release);
        match next {
            Detached::Ended(s, u) => break (s, u),
            Detached::Seized(t) => tracee = t,
        }
    };
    SHARED.lock().unwrap_or_else(|e| e.into_inner()).remove(&task.host_tid());
    if let Some(c) = st.chunk {
        platform.region.release(c);
    }
    out
}

/// Experiment (RVISOR_SYSTRAP_SPLIT=1): this sentry thread on another CPU
/// than its app thread (which the run loop pinned beside it), so hand-offs
/// cross CPUs and both sides spin instead of switching on one CPU.
fn split_from_app(host_tid: i32) {
    let cpus = super::sandbox_cpus();
    if cpus.len() < 2 {
        return;
    }
    // SAFETY: sched_getcpu has no preconditions.
    let here = unsafe { libc::sched_getcpu() };
    let Some(&other) = cpus.iter().find(|&&c| c as i32 != here) else { return };
    // SAFETY: zeroed cpu_set_t is valid; CPU_SET writes within bounds; sets
    // this thread's own affinity.
    unsafe {
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(other, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
    let _ = host_tid;
}

/// Installs the systrap filter in a freshly exec'd stub (the start of the
/// sandbox's init): the filter and its program header are written below the
/// stack pointer, then no_new_privs and seccomp are injected.
pub fn install_filter(ctx: &mut SyscallCtx<'_>) -> Result<(), Errno> {
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
    let at = stack_scratch(ctx.regs()?.rsp, bytes.len() as u64);
    bytes[8..16].copy_from_slice(&(at + 16).to_ne_bytes());
    ctx.mem.write(at, &bytes)?;
    Errno::result(ctx.inject(libc::SYS_prctl, [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0])?)?;
    Errno::result(ctx.inject(libc::SYS_seccomp, [libc::SECCOMP_SET_MODE_FILTER as u64, 0, at, 0, 0, 0])?)?;
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
                    match on_sigsys(kernel, task, tracee, p, st) {
                        Ok(true) if tracee.detach(0).is_ok() => return Traced::Detached,
                        Ok(_) => {
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
                // A SIGSYS of the app's own (not a trapped call): delivered
                // as on ptrace (known gap: it reaches the stub's handler).
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
                    let ours = st.mask_wait_return.is_some() && info.nr == libc::SYS_ppoll as u64;
                    if is_exit(info.nr) || ours {
                        let _ = tracee.cont(0);
                        continue;
                    }
                }
            }
            Stop::Signal(libc::SIGTRAP) if st.mask_wait_return.is_some() => {
                if let Ok(mut regs) = tracee.get_regs() {
                    if regs.rip == STUB_SYSCALL + 3 {
                        // Back from the ppoll (and any handler it let run).
                        regs.rip = st.mask_wait_return.take().unwrap_or(regs.rip);
                        regs.rax = Errno::EINTR.as_return() as u64;
                        let _ = tracee.set_regs(&regs);
                        let _ = tracee.cont(0);
                        continue;
                    }
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
            note_group_exit(task.tg.host_pid(), ExitStatus::Exited((args[0] & 0xff) as i32));
        }
        // Run it at the stub's site, where the filter sends it to the
        // tracer: the thread ends traced, as on the ptrace platform.
        regs.rip = STUB_SYSCALL;
        regs.rax = nr;
        regs.orig_rax = u64::MAX;
        tracee.set_regs(&regs)?;
        return Ok(false);
    }
    // As at a seccomp stop.
    regs.rax = Errno::ENOSYS.as_return() as u64;
    if st.chunk.is_none() && !st.traced_only && !is_exec(nr) {
        let mut ctx = SyscallCtx::new(kernel, task, tracee, regs);
        let done = set_up(&mut ctx, p, st);
        reraise_held(kernel, task, &mut ctx);
        match done {
            Ok(()) => {}
            Err(Errno::ESRCH) => return Err(Errno::ESRCH),
            Err(e) => {
                tracing::warn!(tid = task.tid, error = ?e, "systrap: set-up failed; the task stays traced");
                st.traced_only = true;
            }
        }
        // Back to the call's registers after the injections.
        tracee.set_regs(&regs)?;
    }
    let mut ctx = SyscallCtx::new(kernel, task, tracee, regs);
    let ret = match virtual_call(&mut ctx, st, MaskAt::Thread, nr, args) {
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
        // A new image: the old chunk is gone from it.
        if let Some(c) = st.chunk.take() {
            p.region.release(c);
        }
        st.altstack = (0, SS_DISABLE, 0);
        return Ok(false);
    }
    // A signal the sentry raised for this thread is on its way: deliver it
    // traced, where its virtual siginfo goes in (signal::on_delivery).
    // Likewise any signal now pending for it.
    let pending = super::signal::deliverable(task, tracee, None);
    if pending == Some(libc::SIGKILL) {
        // The thread dies without running app code again, and a SIGKILL
        // taken from a signal-delivery stop brings no exit stop: hand its
        // robust futexes over now (run.rs does it at the exit stop).
        super::robust::hand_over_robust_list(task.host_tid(), task.tid);
    }
    Ok(st.chunk.is_some() && !signal_in_flight(task) && pending.is_none())
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

/// Maps a fresh chunk into the stopped thread's process and points its
/// alternate stack and the process's SIGSYS action at the stub's handler.
fn set_up(ctx: &mut SyscallCtx<'_>, p: &Platform, st: &mut State) -> Result<(), Errno> {
    let chunk = p.alloc_chunk().ok_or(Errno::ENOMEM)?;
    let addr = Platform::chunk_addr(chunk);
    let fd = ctx.inject_fd(p.region.fd().as_raw_fd())?;
    let flags = (libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE) as u64;
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let mapped = ctx.inject(libc::SYS_mmap, [addr, CHUNK as u64, prot, flags, fd as u64, addr - systrap::REGION_BASE]);
    ctx.close_injected(fd);
    if mapped? as u64 != addr {
        p.region.release(chunk);
        return Err(Errno::ENOMEM);
    }
    // A fork child must not inherit the chunk: it would share the parent
    // thread's slot. (The child gets its own at its first trapped call.)
    Errno::result(ctx.inject(libc::SYS_madvise, [addr, CHUNK as u64, libc::MADV_DONTFORK as u64, 0, 0, 0])?)?;
    let scratch = stack_scratch(ctx.regs()?.rsp, 64);
    let mut ss = [0u8; 24];
    ss[0..8].copy_from_slice(&addr.to_ne_bytes());
    ss[16..24].copy_from_slice(&(CHUNK as u64).to_ne_bytes());
    ctx.mem.write(scratch, &ss)?;
    Errno::result(ctx.inject(libc::SYS_sigaltstack, [scratch, 0, 0, 0, 0, 0])?)?;
    let act = systrap::sigsys_action();
    let mut a = [0u8; 32];
    for (i, v) in [act.handler, act.flags, act.restorer, act.mask].iter().enumerate() {
        a[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    ctx.mem.write(scratch, &a)?;
    Errno::result(ctx.inject(libc::SYS_rt_sigaction, [libc::SIGSYS as u64, scratch, 0, 8, 0, 0])?)?;
    st.chunk = Some(chunk);
    Ok(())
}

/// Where the app's signal mask is while the sentry handles its call: in the
/// handler's ucontext (detached: rt_sigreturn installs it), or the thread's
/// own (traced, at the SIGSYS stop).
#[derive(Clone, Copy)]
enum MaskAt {
    Frame(u64),
    Thread,
}

/// Offset of uc_sigmask in the kernel's x86-64 `struct ucontext`.
const UC_SIGMASK: u64 = 8 + 8 + 24 + 256;
const SIGSYS_BIT: u64 = 1 << (libc::SIGSYS - 1);
const UNBLOCKABLE: u64 = 1 << (libc::SIGKILL - 1) | 1 << (libc::SIGSTOP - 1);

/// Calls systrap answers itself instead of the dispatch table: the app's
/// alternate stack, signal mask and SIGSYS disposition, whose host versions
/// belong to the platform, and rt_sigaction's sa_mask (never SIGSYS).
fn virtual_call(ctx: &mut SyscallCtx<'_>, st: &mut State, at: MaskAt, nr: u64, a: [u64; 6]) -> Option<SysResult> {
    if nr == libc::SYS_sigaltstack as u64 {
        return Some(sigaltstack(ctx, st, a[0], a[1]));
    }
    if nr == libc::SYS_rt_sigprocmask as u64 {
        return Some(sigprocmask(ctx, st, at, a));
    }
    if nr == libc::SYS_rt_sigaction as u64 && a[0] == libc::SIGSYS as u64 {
        return Some(sigaction_sigsys(ctx, a[1], a[2], a[3]));
    }
    if nr == libc::SYS_rt_sigaction as u64 && a[1] != 0 {
        return sigaction_without_sigsys(ctx, a);
    }
    None
}

/// rt_sigprocmask(2) with SIGSYS kept off the host mask: whether the app
/// "blocked" it is remembered here and reported back.
fn sigprocmask(ctx: &mut SyscallCtx<'_>, st: &mut State, at: MaskAt, a: [u64; 6]) -> SysResult {
    let (how, set, old, size) = (a[0] as i32, a[1], a[2], a[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let host = match at {
        MaskAt::Frame(uctx) => ctx.mem.read_val::<u64>(uctx.wrapping_add(UC_SIGMASK))?,
        MaskAt::Thread => ctx.tracee.get_sigmask()?,
    };
    let visible = host & !SIGSYS_BIT | if st.sigsys_blocked { SIGSYS_BIT } else { 0 };
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
        st.sigsys_blocked = n & SIGSYS_BIT != 0;
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
fn sigaction_without_sigsys(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> Option<SysResult> {
    let act: KernelSigaction = match ctx.mem.read_val(a[1]) {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    if act.mask & SIGSYS_BIT == 0 {
        return None;
    }
    let copy = KernelSigaction { mask: act.mask & !SIGSYS_BIT, ..act };
    let rsp = match ctx.regs() {
        Ok(r) => r.rsp,
        Err(e) => return Some(Err(e)),
    };
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

/// sigaltstack(2), kept in the sentry: the host alternate stack is the chunk.
fn sigaltstack(ctx: &mut SyscallCtx<'_>, st: &mut State, new: u64, old: u64) -> SysResult {
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
            (0, SS_DISABLE, 0)
        } else if size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        } else {
            (sp, flags, size)
        });
    }
    if old != 0 {
        let (sp, flags, size) = st.altstack;
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&sp.to_ne_bytes());
        b[8..12].copy_from_slice(&flags.to_ne_bytes());
        b[16..24].copy_from_slice(&size.to_ne_bytes());
        ctx.mem.write(old, &b)?;
    }
    if let Some(n) = next {
        st.altstack = n;
    }
    Ok(0)
}

/// rt_sigaction(SIGSYS): recorded in the sentry's mirror only; the host
/// action stays the stub's handler.
fn sigaction_sigsys(ctx: &mut SyscallCtx<'_>, act: u64, oact: u64, size: u64) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        let mut n: KernelSigaction = ctx.mem.read_val(act)?;
        n.flags &= super::signal::KNOWN_SA_FLAGS;
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

/// Detached mode: serves the slot until a call needs ptrace or the thread
/// is gone.
fn detached(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    stale: &Tracee,
    p: &Platform,
    st: &mut State,
    shared: &Shared,
) -> Detached {
    let Some(slot) = st.chunk.and_then(|c| p.region.slot(c)) else {
        return reseize(task);
    };
    let mut idle = MIN_IDLE;
    let mut idle_for = Duration::ZERO;
    loop {
        let waited = slot.wait_request(&mut st.spin, idle);
        if shared.want_seize.swap(false, std::sync::atomic::Ordering::AcqRel) {
            // A signal is about to be raised for this thread (before_signal).
            if let Waited::Request(req) = waited {
                return match Tracee::seize(task.host_tid()) {
                    Ok(t) => {
                        slot.reply_rewind(req.nr);
                        Detached::Seized(t)
                    }
                    Err(_) => reseize(task),
                };
            }
            return reseize_idle(task, st);
        }
        match waited {
            Waited::Request(req) => {
                idle = MIN_IDLE;
                idle_for = Duration::ZERO;
                let info = SyscallInfo { nr: req.nr, args: req.args, rip: req.rip, rsp: req.rsp };
                let answer = serve(kernel, task, stale, st, &info, req.uctx);
                let traced_ret = match answer {
                    Answer::Reply(ret) => {
                        slot.reply(ret);
                        continue;
                    }
                    Answer::Rewind if !signal_in_flight(task) => {
                        slot.reply_rewind(req.nr);
                        continue;
                    }
                    Answer::Rewind => None,
                    Answer::ReplyTraced(ret) => Some(ret),
                    Answer::Traced => None,
                };
                match Tracee::seize(task.host_tid()) {
                    Ok(t) => {
                        match traced_ret {
                            Some(ret) => slot.reply(ret),
                            None => slot.reply_rewind(req.nr),
                        }
                        return Detached::Seized(t);
                    }
                    Err(_) => {
                        slot.reply(Errno::ESRCH.as_return());
                        if let Some((s, u)) = dead(task) {
                            return Detached::Ended(s, u);
                        }
                    }
                }
            }
            Waited::Timeout => {
                if let Some((s, u)) = dead(task) {
                    return Detached::Ended(s, u);
                }
                idle_for += idle;
                if idle_for >= RESEIZE_AFTER {
                    return reseize_idle(task, st);
                }
                idle = (idle * 2).min(MAX_IDLE);
            }
        }
    }
}

/// Seizes an idle thread again and stops it: it may be inside the stub's
/// handler with a request published (or about to be) after the slot wait
/// gave up, which only the slot, not wait4, would ever report.
fn reseize_idle(task: &Task, st: &mut State) -> Detached {
    match reseize(task) {
        Detached::Seized(t) => {
            st.interrupted = t.interrupt().is_ok();
            Detached::Seized(t)
        }
        ended => ended,
    }
}

/// At the interrupt stop after an idle re-seize: if the thread is inside the
/// stub's handler before `done`, its request is pending or about to be, so
/// it is served here (the thread now traced) before wait4 takes over.
/// Returns whether it resumed the thread.
fn finish_hand_off(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: &Tracee, p: &Platform, st: &mut State) -> bool {
    use crate::platform::systrap::handler::{CODE, DONE_OFF};
    use crate::platform::systrap::slot::REPLY;
    let Ok(regs) = tracee.get_regs() else { return false };
    let start = systrap::handler_addr();
    let Some(slot) = st.chunk.and_then(|c| p.region.slot(c)) else { return false };
    let inside = (start..start + CODE.len() as u64).contains(&regs.rip);
    if !inside || regs.rip >= start + DONE_OFF || slot.state_now() == REPLY {
        return false;
    }
    if tracee.cont(0).is_err() {
        return false;
    }
    // The handler runs with every signal blocked: only SIGKILL can keep it
    // from publishing, and then wait4 reports the death.
    for _ in 0..100 {
        if let Waited::Request(req) = slot.wait_request(&mut st.spin, MIN_IDLE) {
            let info = SyscallInfo { nr: req.nr, args: req.args, rip: req.rip, rsp: req.rsp };
            match serve(kernel, task, tracee, st, &info, req.uctx) {
                Answer::Reply(ret) | Answer::ReplyTraced(ret) => slot.reply(ret),
                Answer::Rewind | Answer::Traced => slot.reply_rewind(req.nr),
            }
            break;
        }
    }
    true
}

/// Seizes the thread again without a call in hand (it stays running).
fn reseize(task: &Task) -> Detached {
    match Tracee::seize(task.host_tid()) {
        Ok(t) => Detached::Seized(t),
        Err(_) => {
            let (s, u) = dead(task).unwrap_or((ExitStatus::Signaled(libc::SIGKILL, false), None));
            Detached::Ended(s, u)
        }
    }
}

/// Calls the sentry answers while the thread stays detached: handlers that
/// use no ptrace request (a few block, and bail out as described at the top).
pub fn fast(nr: u64, a: [u64; 6]) -> bool {
    use libc::*;
    const FAST: &[i64] = &[
        SYS_getpid,
        SYS_getppid,
        SYS_gettid,
        SYS_getuid,
        SYS_geteuid,
        SYS_getgid,
        SYS_getegid,
        SYS_getresuid,
        SYS_getresgid,
        SYS_getgroups,
        SYS_getpgrp,
        SYS_getpgid,
        SYS_getsid,
        SYS_uname,
        SYS_getcwd,
        SYS_umask,
        SYS_sigaltstack,
        SYS_rt_sigprocmask,
        SYS_close,
        SYS_dup,
        SYS_dup2,
        SYS_dup3,
        SYS_lseek,
        SYS_fstat,
        SYS_stat,
        SYS_lstat,
        SYS_newfstatat,
        SYS_statx,
        SYS_access,
        SYS_faccessat,
        SYS_faccessat2,
        SYS_readlink,
        SYS_readlinkat,
        SYS_getdents64,
        SYS_open,
        SYS_openat,
        SYS_write,
        SYS_pwrite64,
        SYS_writev,
    ];
    // Large reads of host files run in the app's context (hostread.rs),
    // which needs ptrace from the start.
    let small_read = (nr == SYS_read as u64 || nr == SYS_pread64 as u64) && a[2] < syscalls::hostread::DIRECT_MIN;
    small_read || FAST.iter().any(|&n| n as u64 == nr)
}

/// What the detached loop does with a request.
enum Answer {
    /// Reply with this result.
    Reply(i64),
    /// Seize, then reply with this result: a signal the sentry raised is on
    /// its way, and is best delivered traced (its virtual siginfo).
    ReplyTraced(i64),
    /// Reply "execute it again" without seizing (a signal interrupted the
    /// call and the call restarts after the handler, as on Linux).
    Rewind,
    /// Seize, then reply "execute it again": the call needs ptrace.
    Traced,
}

/// The signal the host will deliver when the detached thread returns from
/// the stub's handler: the lowest pending one neither blocked by the mask
/// it returns to (in the handler's ucontext) nor ignored.
fn frame_deliverable(ctx: &SyscallCtx<'_>, uctx: u64) -> Option<i32> {
    let task = ctx.task;
    let rel = format!("{}/task/{}/status", task.tg.host_pid(), task.host_tid());
    let status = crate::confine::read_host_proc(&rel).ok()?;
    let text = String::from_utf8_lossy(&status);
    let set = |key: &str| -> u64 {
        text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| u64::from_str_radix(v.trim(), 16).ok()).unwrap_or(0)
    };
    let pending = set("SigPnd:") | set("ShdPnd:");
    let mask = ctx.mem.read_val::<u64>(uctx.wrapping_add(UC_SIGMASK)).unwrap_or(0);
    let actions = task.tg.lock().actions;
    (1..=64)
        .filter(|&sig: &i32| pending & (1u64 << (sig - 1)) != 0)
        .filter(|&sig| sig == libc::SIGKILL || mask & (1u64 << (sig - 1)) == 0)
        .find(|&sig| !super::signal::is_ignored(&actions[(sig - 1) as usize], sig))
}

/// Runs a call for the detached thread.
fn serve(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    stale: &Tracee,
    st: &mut State,
    info: &SyscallInfo,
    uctx: u64,
) -> Answer {
    if !fast(info.nr, info.args) {
        return Answer::Traced;
    }
    let mut ctx = SyscallCtx::at_syscall(kernel, task, stale, info);
    // A wake-up for a signal already delivered is stale; one whose signal
    // waits for the thread to leave the handler must stay armed.
    if task.interrupt.drain() && frame_deliverable(&ctx, uctx).is_some() {
        task.interrupt.notify();
    }
    let (nr, args) = (info.nr, info.args);
    let ret = match virtual_call(&mut ctx, st, MaskAt::Frame(uctx), nr, args) {
        Some(r) => r,
        None => syscalls::dispatch(&mut ctx, nr, args),
    };
    let mut ret = ret;
    if let Err(e) = ret {
        // ESRCH: a ptrace request on the untraced thread failed (or the
        // call's own ESRCH, which traced mode gives again).
        if e == Errno::ESRCH {
            return Answer::Traced;
        }
        // A signal cut a wait short (the signal check, which wants ptrace,
        // always says "pending" here): decide restart or EINTR as Linux does,
        // from the signal the host will deliver on the handler's return.
        if super::signal::is_restart(e) {
            let Some(sig) = frame_deliverable(&ctx, uctx) else { return Answer::Rewind };
            let act = task.tg.action(sig);
            let restart = act.handler == super::signal::SIG_DFL
                || e == Errno::ERESTARTNOINTR
                || e == Errno::ERESTARTSYS && act.flags & super::signal::SA_RESTART != 0;
            if restart {
                return Answer::Rewind;
            }
            ret = Err(Errno::EINTR);
        }
    }
    if ctx.outcome != Outcome::Return || !ctx.deferred.is_empty() {
        tracing::warn!(tid = task.tid, nr, "systrap: a fast call changed registers; answered with its result only");
    }
    if kernel.options.strace {
        syscalls::strace_exit(&ctx, nr, args, &ret, None);
    }
    let ret = ret.unwrap_or_else(|e| e.as_return());
    if signal_in_flight(task) {
        Answer::ReplyTraced(ret)
    } else {
        Answer::Reply(ret)
    }
}

/// What other sentry threads may see of a task's systrap mode: a signal
/// the sentry raises for a detached thread would be delivered with the
/// host's siginfo, so the sender first asks the thread's sentry thread to
/// seize it ([`before_signal`]).
struct Shared {
    pid: i32,
    owner: std::thread::ThreadId,
    detached: std::sync::atomic::AtomicBool,
    want_seize: std::sync::atomic::AtomicBool,
    chunk: std::sync::atomic::AtomicUsize,
}

static SHARED: std::sync::Mutex<std::collections::BTreeMap<i32, Arc<Shared>>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// How long a sender waits for a detached target to be seized: a target
/// inside a long emulated call (its signals blocked by the stub's handler)
/// is not seized until the call ends; the signal then goes as it is.
const SEIZE_WAIT: Duration = Duration::from_millis(10);

/// Called before the sentry raises a host signal for process `pid` (or its
/// thread `tid`): detached target threads are seized first, so the signal
/// is delivered at a ptrace stop where its virtual siginfo goes in.
pub fn before_signal(pid: i32, tid: Option<i32>) {
    let Some(p) = systrap::active() else { return };
    let me = std::thread::current().id();
    let targets: Vec<Arc<Shared>> = SHARED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(t, s)| s.pid == pid && tid.is_none_or(|x| x == **t) && s.owner != me)
        .map(|(_, s)| s.clone())
        .collect();
    use std::sync::atomic::Ordering;
    let start = std::time::Instant::now();
    for s in targets {
        if !s.detached.load(Ordering::Acquire) {
            continue;
        }
        s.want_seize.store(true, Ordering::Release);
        while s.detached.load(Ordering::Acquire) && start.elapsed() < SEIZE_WAIT {
            if let Some(slot) = p.region.slot(s.chunk.load(Ordering::Acquire)) {
                slot.wake_sentry();
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// How processes ended, by host pid, as their leaders' sentry threads (or
/// exit_group) learned it: a thread that dies detached, other than the
/// leader, takes its process's status from here (the leader's own thread
/// may reap the leader before a waitid could look).
static GROUP_EXIT: std::sync::Mutex<std::collections::BTreeMap<i32, ExitStatus>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn note_group_exit(pid: i32, status: ExitStatus) {
    GROUP_EXIT.lock().unwrap_or_else(|e| e.into_inner()).insert(pid, status);
}

fn group_exit(pid: i32) -> Option<ExitStatus> {
    GROUP_EXIT.lock().unwrap_or_else(|e| e.into_inner()).get(&pid).copied()
}

/// Whether the detached thread is gone, and how its process ended.
fn dead(task: &Task) -> Option<(ExitStatus, Option<libc::rusage>)> {
    let (tid, pid) = (task.host_tid(), task.tg.host_pid());
    if tid == pid {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid out-buffer.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: out-pointers to our locals; the leader is the sentry's child.
        let r = unsafe { libc::wait4(tid, &mut status, libc::WNOHANG | libc::__WALL, &mut usage) };
        let ended = match r {
            0 => return None,
            r if r == tid => (status_of(task, decode_status(status)), Some(usage)),
            _ => (group_exit(pid).unwrap_or(ExitStatus::Signaled(libc::SIGKILL, false)), None),
        };
        note_group_exit(pid, ended.0);
        return Some(ended);
    }
    // SAFETY: signal 0 only checks that the thread exists.
    if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) } == 0 {
        return None;
    }
    // A detached thread other than the leader dies only with its process:
    // the process's status as its leader's thread or exit_group noted it,
    // else the leader's, without reaping it (its own sentry thread does).
    for _ in 0..50 {
        if let Some(s) = group_exit(pid) {
            return Some((s, None));
        }
        // SAFETY: zeroed siginfo is a valid out-buffer.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOWAIT | libc::WNOHANG | libc::__WALL;
        // SAFETY: out-pointer to our local; the leader is the sentry's child.
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut si, flags) };
        // SAFETY: the union fields are read only after waitid filled them.
        if r == 0 && unsafe { si.si_pid() } == pid {
            // SAFETY: as above.
            let code = unsafe { si.si_status() };
            let s = if si.si_code == libc::CLD_EXITED { ExitStatus::Exited(code) } else { killed_status(task, code) };
            return Some((s, None));
        }
        std::thread::sleep(Duration::from_millis(4));
    }
    Some((ExitStatus::Signaled(libc::SIGKILL, false), None))
}

fn status_of(task: &Task, stop: Stop) -> ExitStatus {
    match stop {
        Stop::Exited(c) => ExitStatus::Exited(c),
        Stop::Killed(sig, _) => killed_status(task, sig),
        _ => ExitStatus::Signaled(libc::SIGKILL, false),
    }
}
