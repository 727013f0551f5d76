//! How a task's host thread comes to be traced: a new process forked from
//! the sentry or cloned from the zygote and loaded with its program, or a
//! clone child seized where it parks in the stub.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use rvisor_syscalls::abi::UserRegs;
use rvisor_syscalls::Errno;

use super::run::job_stopped;
use super::task::Task;
use super::{Kernel, INJECT_FD, STUB_FD};
use crate::platform::filter::{build_app_filter, install_raw, TrapAction};
use crate::platform::ptrace::{Stop, Tracee};
use crate::syscalls::SyscallCtx;

/// Starts a new process's program: `parked` says it was cloned from the
/// zygote (already parked in the stub), else it is forked here from the sentry.
pub(super) fn start_process(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    parked: bool,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<Tracee, Errno> {
    let started = if parked {
        seize_parked(task.host_tid()).map_err(|e| match e {
            NotSeized::Ended(_) => Errno::ESRCH,
            NotSeized::Failed(e) => {
                // SAFETY: kills and reaps our own (CLONE_PARENT) child, which never ran app code.
                unsafe {
                    libc::kill(task.host_tid(), libc::SIGKILL);
                    libc::waitpid(task.host_tid(), std::ptr::null_mut(), libc::__WALL);
                }
                e
            }
        })?
    } else {
        let (pid, tracee) = fork_stub_process(kernel)?;
        task.host_tid.store(pid, std::sync::atomic::Ordering::Relaxed);
        task.tg.host_pid.store(pid, std::sync::atomic::Ordering::Relaxed);
        Parked { tracee, group_stop: None, signals: Vec::new() }
    };
    let tracee = &started.tracee;
    let pid = task.host_tid();
    let regs = tracee.get_regs()?;
    let mut ctx = SyscallCtx::new(kernel, task, tracee, regs);
    // systrap's filter would turn the stub's exec into SIGSYS: it goes in by
    // injection once the stub runs (kernel::systrap). A zygote clone
    // inherits it from the zygote (kernel::zygote).
    let systrap = !parked && crate::platform::systrap::active().is_some();
    let loaded = if systrap { super::systrap::install_filter(&mut ctx) } else { Ok(()) };
    match loaded.and_then(|()| crate::loader::exec_into_stub(&mut ctx, path, argv, envp)) {
        Ok(()) => {
            tracee.set_regs(ctx.regs()?)?;
            if parked {
                // Born with every signal blocked (`Tracee::inject_clone`); a
                // new process starts with none.
                tracee.set_sigmask(0)?;
            }
            resume_started(kernel, task, &started, false)?;
            Ok(started.tracee)
        }
        Err(e) => {
            // SAFETY: killing our own child on failure.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = tracee.wait();
            Err(e)
        }
    }
}

/// Forks a host process from the sentry, execs the stub in it and returns
/// it stopped at the stub's entry trap, with the app filter installed
/// (under systrap the caller injects it: `start_process`, `zygote`).
/// Only possible before the sentry's own filter (which forbids forks): init
/// and the zygote are made this way, every other process is a clone.
pub(super) fn fork_stub_process(kernel: &Kernel) -> Result<(i32, Tracee), Errno> {
    let filter = build_app_filter(TrapAction::Trace);
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
    // systrap's filter would turn the stub's exec into SIGSYS: it is
    // installed by injection once the stub runs (kernel::systrap).
    let systrap = crate::platform::systrap::active().is_some();
    let mut sync = [0 as RawFd; 2];
    // SAFETY: sync is a valid 2-element array.
    if unsafe { libc::pipe2(sync.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Errno::last());
    }
    let stub = kernel.stub_raw_fd();
    let inject_app = kernel.inject_app.as_raw_fd();
    let argv_null: [u64; 1] = [0];
    // SAFETY: the child only makes raw async-signal-safe syscalls before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = Errno::last();
        // SAFETY: closing the two pipe fds made above.
        unsafe {
            libc::close(sync[0]);
            libc::close(sync[1]);
        }
        return Err(e);
    }
    if pid == 0 {
        // SAFETY: child side of fork: raw syscalls only, then exec or _exit.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The app starts with default dispositions and nothing blocked,
            // whatever the sentry itself ignores (SIGPIPE) or blocks.
            for sig in 1..65 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            let empty: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            // A host session of its own: the host terminal's signals go to the
            // sentry, which forwards them (kernel::forward), not to app processes.
            libc::setsid();
            // No app process may write a core file on the host.
            let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            let mut b = 0u8;
            libc::close(sync[1]);
            libc::read(sync[0], &mut b as *mut u8 as *mut libc::c_void, 1);
            libc::dup2(stub, STUB_FD);
            libc::dup2(inject_app, INJECT_FD);
            libc::syscall(libc::SYS_close_range, 0u32, (STUB_FD - 1) as u32, 0u32);
            libc::syscall(libc::SYS_close_range, (INJECT_FD + 1) as u32, u32::MAX, 0u32);
            if !systrap && install_raw(&prog) != 0 {
                libc::_exit(126);
            }
            libc::syscall(
                libc::SYS_execveat,
                STUB_FD,
                STUB_EMPTY_STRING_LOCAL.as_ptr(),
                argv_null.as_ptr(),
                argv_null.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
            libc::_exit(126);
        }
    }
    // SAFETY: closing our copy of the read end; writing one byte to release the child.
    unsafe { libc::close(sync[0]) };
    let seized = Tracee::seize(pid);
    let b = 1u8;
    // SAFETY: one byte from a valid buffer; then close our write end.
    unsafe {
        libc::write(sync[1], &b as *const u8 as *const libc::c_void, 1);
        libc::close(sync[1]);
    }
    let tracee = match seized {
        Ok(t) => t,
        Err(e) => {
            // SAFETY: killing our own child on failure.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(e);
        }
    };
    // Let the stub exec run: the execveat traps (seccomp) and then the stub's entry int3 traps.
    loop {
        match tracee.wait() {
            Stop::Syscall | Stop::EventStop(_) | Stop::SyscallTrace | Stop::Event(_) => tracee.cont(0)?,
            Stop::Signal(libc::SIGTRAP) => break,
            Stop::Signal(_) => tracee.cont(0)?,
            Stop::Exited(_) | Stop::Killed(..) => return Err(Errno::ENOEXEC),
        }
    }
    Ok((pid, tracee))
}

/// An empty C string in the sentry's own memory; the forked child (same image) can pass it.
static STUB_EMPTY_STRING_LOCAL: [u8; 1] = [0];

/// Seizes a clone child parked in the stub and gives it its starting registers.
pub(super) fn start_cloned(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    regs: &UserRegs,
    child_tid_addr: Option<u64>,
    sigmask: u64,
) -> Result<Tracee, NotSeized> {
    let parked = seize_parked(task.host_tid()).inspect_err(|_| super::systrap::forget_fork(task.host_tid()))?;
    let tracee = &parked.tracee;
    let cur = tracee.get_regs()?;
    super::systrap::finish_fork_closes(task, tracee, &cur)?;
    let mut r = *regs;
    // The kernel already set the child's TLS (CLONE_SETTLS) and stack; keep them.
    r.fs_base = cur.fs_base;
    r.gs_base = crate::platform::systrap::patch::inherited_gs(cur.gs_base);
    r.orig_rax = u64::MAX;
    // systrap: a fork child born on its parent's chunk gets a copy of it.
    if let Err(e) = super::systrap::restore_fork_stack(task, tracee, &cur) {
        tracing::warn!(tid = task.tid, error = ?e, "systrap: fork child's stack copy failed");
    }
    tracee.set_regs(&r)?;
    tracee.set_sigmask(sigmask)?;
    if let Some(addr) = child_tid_addr {
        let mem = crate::mm::Memory::new(task.host_tid());
        let _ = mem.write_val(addr, &task.tid);
    }
    resume_started(kernel, task, &parked, true)?;
    Ok(parked.tracee)
}

/// A parked child the sentry has just seized, at its interrupt stop.
struct Parked {
    tracee: Tracee,
    /// The stop signal of a group-stop the child was in, untraced, when seized.
    group_stop: Option<i32>,
    /// Signals the seize's wait took in place of the interrupt stop.
    signals: Vec<i32>,
}

/// Why a parked child could not be seized.
#[derive(Debug)]
pub(super) enum NotSeized {
    /// It died first: a fatal signal the app sent as soon as it knew the pid.
    Ended(Stop),
    Failed(Errno),
}

impl From<Errno> for NotSeized {
    fn from(e: Errno) -> Self {
        NotSeized::Failed(e)
    }
}

/// Seizes a clone child parked in the stub and stops it. The child's pid is
/// already known to the app, which may have signalled it: signals that reach
/// it meanwhile are kept for `resume_started`, not dropped.
fn seize_parked(host_tid: i32) -> Result<Parked, NotSeized> {
    let tracee = match Tracee::seize(host_tid) {
        Ok(t) => t,
        Err(e) => return Err(reap_unseized(host_tid).map_or(NotSeized::Failed(e), NotSeized::Ended)),
    };
    tracee.interrupt()?;
    let mut signals = Vec::new();
    loop {
        match tracee.wait() {
            Stop::EventStop(libc::SIGTRAP) => return Ok(Parked { tracee, group_stop: None, signals }),
            Stop::EventStop(sig) => return Ok(Parked { tracee, group_stop: Some(sig), signals }),
            Stop::Signal(sig) => {
                signals.push(sig);
                tracee.cont(0)?;
            }
            // Parked code makes no other syscalls.
            Stop::Syscall | Stop::SyscallTrace | Stop::Event(_) => tracee.cont(0)?,
            stop @ (Stop::Exited(_) | Stop::Killed(..)) => return Err(NotSeized::Ended(stop)),
        }
    }
}

/// The end of a parked child that a seize found dying or dead (the sentry is
/// its host parent). None if it is not ending.
fn reap_unseized(host_tid: i32) -> Option<Stop> {
    // An exiting thread refuses the seize before it is a zombie: give it a moment.
    for _ in 0..100 {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer; the pid is our own child's.
        let r = unsafe { libc::waitpid(host_tid, &mut status, libc::__WALL | libc::WNOHANG) };
        if r == host_tid {
            return Some(crate::platform::ptrace::decode_status(status));
        }
        if r < 0 {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    None
}

/// Lets a task just started run its first instruction, keeping what the
/// seize found. Signals it took are raised again, to be delivered as any
/// other. A group-stop it was in stays: `at_seize` (the thread is still at
/// the seize's stop) keeps it stopped and tells the parent; after
/// injections (a new program's load) its stop signal is raised again.
fn resume_started(kernel: &Arc<Kernel>, task: &Arc<Task>, parked: &Parked, at_seize: bool) -> Result<(), Errno> {
    let raise = |sig: i32| {
        // SAFETY: signals a thread of our own sandbox.
        unsafe { libc::syscall(libc::SYS_tgkill, task.tg.host_pid(), task.host_tid(), sig) };
    };
    parked.signals.iter().for_each(|&sig| raise(sig));
    match parked.group_stop {
        Some(sig) if at_seize => {
            job_stopped(kernel, task, sig);
            parked.tracee.listen()
        }
        Some(sig) => {
            raise(sig);
            parked.tracee.cont(0)
        }
        None => parked.tracee.cont(0),
    }
}
