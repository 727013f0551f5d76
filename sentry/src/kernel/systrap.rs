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
pub const MAX_IDLE: Duration = Duration::from_millis(100);
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
    let mut st = State { chunk: None, altstack: (0, SS_DISABLE, 0), spin: Spinner::new(), sigsys_blocked: false, traced_only: false };
    let mut tracee = tracee;
    let out = loop {
        match traced(kernel, task, &tracee, platform, &mut st) {
            Traced::Ended(s, u) => break (s, u),
            Traced::Detached => {}
        }
        match detached(kernel, task, &tracee, platform, &mut st) {
            Detached::Ended(s, u) => break (s, u),
            Detached::Seized(t) => tracee = t,
        }
    };
    if let Some(c) = st.chunk {
        platform.region.release(c);
    }
    out
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
            Stop::Syscall => {
                // A call at a stub site: the exit this loop redirected there
                // (see on_sigsys), or the app itself jumping there while traced.
                if let Ok(info) = tracee.syscall_info() {
                    if is_exit(info.nr) {
                        let _ = tracee.cont(0);
                        continue;
                    }
                }
            }
            _ => {}
        }
        if let Some(status) = handle_stop(kernel, task, tracee, stop) {
            return Traced::Ended(status, tracee.exit_usage());
        }
    }
}

fn is_exit(nr: u64) -> bool {
    nr == libc::SYS_exit as u64 || nr == libc::SYS_exit_group as u64
}

fn is_exec(nr: u64) -> bool {
    nr == libc::SYS_execve as u64 || nr == libc::SYS_execveat as u64
}

/// A trapped call at its SIGSYS stop. Returns whether to detach after it.
fn on_sigsys(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: &Tracee, p: &Platform, st: &mut State) -> Result<bool, Errno> {
    let mut regs = tracee.get_regs()?;
    // RET_TRAP rolled rax back to the number; orig_rax holds it too.
    let nr = regs.orig_rax;
    let args = regs.syscall_args();
    if is_exit(nr) {
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
        match set_up(&mut ctx, p, st) {
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
            ctx.finish(ret.unwrap_or_else(|e| e.as_return()))?;
            ret
        }
        None => handle_call(kernel, task, tracee, ctx, nr, args)?,
    };
    if is_exec(nr) && ret.is_ok() {
        // A new image: the old chunk is gone from it.
        if let Some(c) = st.chunk.take() {
            p.region.release(c);
        }
        st.altstack = (0, SS_DISABLE, 0);
        return Ok(false);
    }
    Ok(st.chunk.is_some())
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
fn detached(kernel: &Arc<Kernel>, task: &Arc<Task>, stale: &Tracee, p: &Platform, st: &mut State) -> Detached {
    let Some(slot) = st.chunk.and_then(|c| p.region.slot(c)) else {
        return reseize(task);
    };
    let mut idle = MIN_IDLE;
    loop {
        match slot.wait_request(&mut st.spin, idle) {
            Waited::Request(req) => {
                idle = MIN_IDLE;
                let info = SyscallInfo { nr: req.nr, args: req.args, rip: req.rip, rsp: req.rsp };
                if let Some(ret) = serve(kernel, task, stale, st, &info, req.uctx) {
                    slot.reply(ret);
                    continue;
                }
                match Tracee::seize(task.host_tid()) {
                    Ok(t) => {
                        slot.reply_rewind(req.nr);
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
                idle = (idle * 2).min(MAX_IDLE);
            }
        }
    }
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

/// Runs a call for the detached thread; None when it must be handed to
/// traced mode (not a fast call, or its handler needed ptrace).
fn serve(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    stale: &Tracee,
    st: &mut State,
    info: &SyscallInfo,
    uctx: u64,
) -> Option<i64> {
    if !fast(info.nr, info.args) {
        return None;
    }
    // Wake-ups for signals are stale: the host delivers signals itself.
    task.interrupt.drain();
    let mut ctx = SyscallCtx::at_syscall(kernel, task, stale, info);
    let (nr, args) = (info.nr, info.args);
    let ret = match virtual_call(&mut ctx, st, MaskAt::Frame(uctx), nr, args) {
        Some(r) => r,
        None => syscalls::dispatch(&mut ctx, nr, args),
    };
    if let Err(e) = ret {
        // ESRCH: a ptrace request on the untraced thread failed (or the
        // call's own ESRCH, which traced mode gives again). Restart codes
        // and EINTR: a signal check, which needs ptrace, cut a wait short.
        if e == Errno::ESRCH || e == Errno::EINTR || super::signal::is_restart(e) {
            return None;
        }
    }
    if ctx.outcome != Outcome::Return || !ctx.deferred.is_empty() {
        tracing::warn!(tid = task.tid, nr, "systrap: a fast call changed registers; answered with its result only");
    }
    if kernel.options.strace {
        syscalls::strace_exit(&ctx, nr, args, &ret, None);
    }
    Some(ret.unwrap_or_else(|e| e.as_return()))
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
        return match r {
            0 => None,
            r if r == tid => Some((status_of(task, decode_status(status)), Some(usage))),
            _ => Some((ExitStatus::Signaled(libc::SIGKILL, false), None)),
        };
    }
    // SAFETY: signal 0 only checks that the thread exists.
    if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) } == 0 {
        return None;
    }
    // A detached thread other than the leader dies only with its process:
    // the leader's status, without reaping it (its own sentry thread does).
    // SAFETY: zeroed siginfo is a valid out-buffer.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOWAIT | libc::WNOHANG | libc::__WALL;
    // SAFETY: out-pointer to our local; the leader is the sentry's child.
    let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut si, flags) };
    // SAFETY: the union fields are read only after waitid filled them.
    let status = if r == 0 && unsafe { si.si_pid() } == pid {
        // SAFETY: as above.
        let code = unsafe { si.si_status() };
        if si.si_code == libc::CLD_EXITED {
            ExitStatus::Exited(code)
        } else {
            killed_status(task, code)
        }
    } else {
        ExitStatus::Signaled(libc::SIGKILL, false)
    };
    Some((status, None))
}

fn status_of(task: &Task, stop: Stop) -> ExitStatus {
    match stop {
        Stop::Exited(c) => ExitStatus::Exited(c),
        Stop::Killed(sig, _) => killed_status(task, sig),
        _ => ExitStatus::Signaled(libc::SIGKILL, false),
    }
}
