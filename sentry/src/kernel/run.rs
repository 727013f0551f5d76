//! The per-task run loop: one sentry thread traces one app thread, decides its
//! syscalls, and records its exit.

use std::sync::Arc;

use rvisor_syscalls::abi::UserRegs;
use rvisor_syscalls::Errno;

use super::start::{start_cloned, start_process, NotSeized};
use super::task::{ExitStatus, FsContext, Task, ThreadGroup};
use super::{signal, InitExit, Kernel};
use crate::platform::ptrace::{Stop, Tracee};
use crate::syscalls::{self, Outcome, SyscallCtx};
use crate::vfs::FdTable;

/// How a task's thread begins.
pub enum Start {
    /// The sandbox's first process: fork it, exec the stub, load `exe`.
    Initial { path: Vec<u8>, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>> },
    /// A clone child parked in the stub: seize it and give it `regs`.
    /// `sigmask`: the parent's, which the child (born with all blocked) gets once seized.
    Cloned { regs: Box<UserRegs>, child_tid_addr: Option<u64>, sigmask: u64 },
    /// A process cloned from the zygote, parked in the stub (`task.host_tid`):
    /// seize it and load `path` into it (processes started from outside).
    Parked { path: Vec<u8>, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>> },
}

/// Result of starting the initial process, sent back to the booting thread.
pub type StartReply = Result<(), Errno>;

/// Spawns the sentry thread for `task`.
pub fn spawn(kernel: Arc<Kernel>, task: Arc<Task>, start: Start, reply: Option<crossbeam_channel::Sender<StartReply>>) {
    let name = format!("task-{}", task.tid);
    let (k2, t2) = (kernel.clone(), task.clone());
    let res = super::task_threads::run(
        name,
        Box::new(move || {
            let _guard = InitGuard { kernel: kernel.clone(), task: (task.tg.tgid == 1).then(|| task.clone()) };
            let (k, t) = (kernel.clone(), task.clone());
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task_main(kernel, task, start, reply)));
            if outcome.is_err() {
                // A sentry bug must not leave the app running unsupervised: kill it.
                tracing::error!(tid = t.tid, "task thread panicked; killing the task");
                let host = t.host_tid();
                if host > 0 {
                    // SAFETY: kills one of our own tracees.
                    unsafe { libc::kill(host, libc::SIGKILL) };
                }
                task_exited(&k, &t, ExitStatus::Signaled(libc::SIGKILL, false));
            }
            // The thread may serve another task next (task_threads): it must
            // not keep this one alive.
            super::clear_current_task();
        }),
    );
    if let Err(e) = res {
        // Out of threads (e.g. the sandbox's pids limit): the new task cannot
        // be traced, so it must not run. A parked clone child dies at once (a
        // thread takes its process with it), as under a limit on Linux.
        tracing::warn!(tid = t2.tid, error = %e, "cannot spawn task thread; killing the new task");
        let host = t2.host_tid();
        if host > 0 {
            // SAFETY: kills and reaps one of our own untraced children (or kills a parked thread).
            unsafe {
                libc::kill(host, libc::SIGKILL);
                libc::waitpid(host, std::ptr::null_mut(), libc::__WALL);
            }
        }
        task_exited(&k2, &t2, ExitStatus::Signaled(libc::SIGKILL, false));
    }
}

/// Ends a task whose process was never created.
pub fn abandon(kernel: &Arc<Kernel>, task: &Arc<Task>) {
    task_exited(kernel, task, ExitStatus::Signaled(libc::SIGKILL, false));
}

/// Creates the task and thread group for the sandbox's init.
pub fn new_init_task(
    kernel: &Arc<Kernel>,
    fs: Arc<FsContext>,
    files: Arc<FdTable>,
    creds: super::Creds,
) -> Result<Arc<Task>, Errno> {
    let mut pids = kernel.pids.lock().unwrap_or_else(|e| e.into_inner());
    let pid = pids.alloc();
    let tg = ThreadGroup::new(pid, 0, None)?;
    let task = Task::new(pid, 0, tg.clone(), fs, files, creds, Vec::new())?;
    pids.tasks.insert(pid, Arc::downgrade(&task));
    pids.groups.insert(pid, Arc::downgrade(&tg));
    tg.lock().live_threads = 1;
    Ok(task)
}

fn task_main(kernel: Arc<Kernel>, task: Arc<Task>, start: Start, reply: Option<crossbeam_channel::Sender<StartReply>>) {
    super::set_current_task(&task);
    // Pinned before the start: a process forked here inherits the CPU, and
    // the start-up's stops (seize, exec, set-up injections) are same-CPU
    // switches rather than cross-CPU wake-ups.
    let cpu = tracee_cpu();
    if let Some(cpu) = cpu {
        super::pin_thread(0, cpu);
        if task.host_tid() > 0 {
            super::pin_thread(task.host_tid(), cpu);
        }
    }
    let parked = matches!(start, Start::Parked { .. });
    let tracee = match start {
        Start::Initial { path, argv, envp } | Start::Parked { path, argv, envp } => {
            match start_process(&kernel, &task, parked, &path, argv, envp) {
                Ok(t) => {
                    if let Some(r) = reply {
                        let _ = r.send(Ok(()));
                    }
                    t
                }
                Err(e) => {
                    if let Some(r) = reply {
                        let _ = r.send(Err(e));
                    }
                    task_exited(&kernel, &task, ExitStatus::Exited(127));
                    return;
                }
            }
        }
        Start::Cloned { regs, child_tid_addr, sigmask } => {
            match start_cloned(&kernel, &task, &regs, child_tid_addr, sigmask) {
                Ok(t) => t,
                Err(NotSeized::Ended(stop)) => {
                    task_exited(&kernel, &task, status_of(&task, stop));
                    return;
                }
                Err(NotSeized::Failed(e)) => {
                    tracing::warn!(tid = task.tid, error = ?e, "cannot seize new task");
                    task_exited(&kernel, &task, ExitStatus::Signaled(libc::SIGKILL, false));
                    return;
                }
            }
        }
    };
    if let Some(cpu) = cpu {
        super::pin_thread(task.host_tid(), cpu);
    }
    let (status, usage) = if crate::platform::systrap::active().is_some() {
        super::systrap::run(&kernel, &task, tracee)
    } else {
        (run_loop(&kernel, &task, &tracee), tracee.exit_usage())
    };
    // The leader is reaped last, with the whole process's usage.
    if let (true, Some(u)) = (task.tid == task.tg.tgid, usage) {
        task.tg.lock().usage = super::task::Usage::from_host(&u);
    }
    task_exited(&kernel, &task, status);
}

/// Handles stops until the task ends; returns how it ended.
fn run_loop(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: &Tracee) -> ExitStatus {
    loop {
        if let Some(status) = handle_stop(kernel, task, tracee, tracee.wait()) {
            return status;
        }
    }
}

/// Handles one stop; returns how the task ended if it did.
pub(super) fn handle_stop(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: &Tracee, stop: Stop) -> Option<ExitStatus> {
    match stop {
        Stop::Syscall => {
            if let Err(e) = handle_syscall(kernel, task, tracee) {
                if e == Errno::ESRCH {
                    return None; // killed mid-syscall; the next wait reports the exit
                }
                tracing::warn!(tid = task.tid, error = ?e, "syscall stop handling failed");
            }
        }
        Stop::Signal(libc::SIGCONT) => {
            signal::on_delivery(kernel, task, tracee, libc::SIGCONT);
            job_continued(kernel, task);
            let _ = tracee.cont(libc::SIGCONT);
        }
        Stop::Signal(sig) => {
            // The stub's int3 (every injection) makes the host un-ignore
            // SIGTRAP: a sent signal the app ignores is dropped here.
            let sent = tracee.get_siginfo().is_ok_and(|si| si.si_code <= 0);
            if sent && signal::is_ignored(&task.tg.action(sig), sig) {
                signal::on_delivery(kernel, task, tracee, sig);
                let _ = tracee.cont(0);
                return None;
            }
            signal::on_delivery(kernel, task, tracee, sig);
            if let Some(stop) = job_stop_signal(kernel, task, sig) {
                let _ = tracee.cont(stop);
                return None;
            }
            if matches!(sig, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE) {
                if let (Ok(si), Ok(r)) = (tracee.get_siginfo(), tracee.get_regs()) {
                    tracing::debug!(
                        tid = task.tid,
                        sig,
                        code = si.si_code,
                        addr = format_args!("{:#x}", si.fields[0]),
                        rip = format_args!("{:#x}", r.rip),
                        "fault"
                    );
                }
            }
            if signal::kills_process(task, sig) {
                // The other threads die with this one, each at a moment
                // its own sentry thread does not choose.
                super::robust::hand_over_process(kernel, &task.tg, Some(task.host_tid()));
            }
            let _ = tracee.cont(sig);
        }
        Stop::EventStop(sig) => {
            let stop_sig = matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU);
            if stop_sig {
                job_stopped(kernel, task, sig);
                let _ = tracee.listen();
            } else {
                job_continued(kernel, task);
                let _ = tracee.cont(0);
            }
        }
        Stop::Event(crate::platform::ptrace::PTRACE_EVENT_EXIT) => {
            super::robust::hand_over_robust_list(task.host_tid(), task.tid);
            // Other threads live on: this one leaves the process now. The
            // last one leaves at its exit, when the status is known.
            if task.tg.lock().live_threads > 1 {
                detach_thread(kernel, task);
            }
            let _ = tracee.cont(0);
        }
        Stop::SyscallTrace | Stop::Event(_) => {
            let _ = tracee.cont(0);
        }
        Stop::Exited(code) => return Some(ExitStatus::Exited(code)),
        Stop::Killed(sig, _) => return Some(killed_status(task, sig)),
    }
    None
}

/// How a thread that ended with host stop `stop` (Exited or Killed) ended.
pub(super) fn status_of(task: &Task, stop: Stop) -> ExitStatus {
    match stop {
        Stop::Exited(c) => ExitStatus::Exited(c),
        Stop::Killed(sig, _) => killed_status(task, sig),
        _ => ExitStatus::Signaled(libc::SIGKILL, false),
    }
}

/// How a process killed by `sig` ended. The host never writes a core file
/// (its RLIMIT_CORE is 0 for app processes); the status says "dumped" when
/// Linux would have dumped.
pub(super) fn killed_status(task: &Task, sig: i32) -> ExitStatus {
    // Strict mode (emulated by a filter) kills with SIGKILL, not SIGSYS.
    let strict = task.seccomp_mode.load(std::sync::atomic::Ordering::Relaxed) == crate::syscalls::seccomp::MODE_STRICT;
    if sig == libc::SIGSYS && strict {
        return ExitStatus::Signaled(libc::SIGKILL, false);
    }
    let st = task.tg.lock();
    let core = signal::dumps_core(sig) && st.dumpable && st.rlimits[libc::RLIMIT_CORE as usize].rlim_cur >= 4096;
    ExitStatus::Signaled(sig, core)
}

fn handle_syscall(kernel: &Arc<Kernel>, task: &Arc<Task>, tracee: &Tracee) -> Result<(), Errno> {
    let info = tracee.syscall_info()?;
    let ctx = SyscallCtx::at_syscall(kernel, task, tracee, &info);
    let _result = handle_call(kernel, task, tracee, ctx, info.nr, info.args)?;
    tracee.cont(0)
}

/// Runs trapped call `nr` for a stopped tracee and writes its outcome back
/// (the caller resumes the tracee); returns the call's result.
pub(super) fn handle_call(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    tracee: &Tracee,
    mut ctx: SyscallCtx<'_>,
    nr: u64,
    args: [u64; 6],
) -> Result<rvisor_syscalls::SysResult, Errno> {
    // A wake-up for a signal sent while the task was running is stale (the
    // host delivered it); one sent since the stop began must stay armed.
    if task.interrupt.drain() && signal::deliverable(task, tracee, None).is_some() {
        task.interrupt.notify();
    }
    let entered = if kernel.options.strace { crate::syscalls::strace_enter(&ctx, nr, args) } else { None };
    let mut ret = syscalls::dispatch(&mut ctx, nr, args);
    let mut restart = false;
    if let (Err(e), Some(mask)) = (ret, ctx.wait_mask) {
        if (signal::is_restart(e) || e == Errno::EINTR) && signal::deliverable(task, tracee, Some(mask)).is_some() {
            // The host finishes the call, so the temporary mask applies to the delivery.
            if kernel.options.strace {
                crate::syscalls::strace_exit(&ctx, nr, args, &Err(Errno::ERESTARTNOHAND), entered);
            }
            signal::reraise(task, held_signals(kernel, task, &mut ctx));
            let mut regs = *ctx.regs()?;
            signal::finish_with_host_mask(&ctx.mem, &mut regs, mask)?;
            ctx.set_regs(regs);
            ctx.outcome = Outcome::RegsSet;
            ctx.finish(0)?;
            return Ok(Err(Errno::ERESTARTNOHAND));
        }
    }
    if let Err(e) = ret {
        if signal::is_restart(e) {
            match signal::restart_or_eintr(task, tracee, e) {
                Ok(()) => restart = true,
                Err(eintr) => ret = Err(eintr),
            }
        }
    }
    if kernel.options.strace {
        crate::syscalls::strace_exit(&ctx, nr, args, &ret, entered);
    }
    // Signals held back while the sentry ran syscalls in the task's context.
    signal::reraise(task, held_signals(kernel, task, &mut ctx));
    if restart {
        let mut regs = *ctx.regs()?;
        signal::rewind_syscall(&mut regs, nr);
        ctx.set_regs(regs);
        ctx.outcome = Outcome::RegsSet;
    }
    ctx.finish(ret.unwrap_or_else(|e| e.as_return()))?;
    Ok(ret)
}

/// Signals held back during injected syscalls, with their virtual siginfo.
fn held_signals(kernel: &Kernel, task: &Task, ctx: &mut SyscallCtx<'_>) -> Vec<rvisor_syscalls::abi::Siginfo> {
    std::mem::take(&mut ctx.deferred)
        .into_iter()
        .map(|si| signal::virtual_info(kernel, task, &si).unwrap_or(si))
        .collect()
}

/// Bookkeeping when a task's host thread is gone.
fn task_exited(kernel: &Arc<Kernel>, task: &Arc<Task>, status: ExitStatus) {
    task.vfork_release();
    let last = detach_thread(kernel, task);
    if !last {
        return;
    }
    let tg = &task.tg;
    // The whole process is gone: close its files (unless another process
    // shares the table: CLONE_FILES) and tell the parent.
    let files = task.files();
    let closed = if kernel.files_shared_outside(tg, &files) {
        files.list().into_iter().map(|(_, f)| f).collect()
    } else {
        files.clear()
    };
    crate::syscalls::fd::release_locks(tg.tgid, &closed);
    // Closed now, before the parent can see the exit (a peer's socket
    // reports the hang-up as soon as wait returns, as on Linux).
    drop(closed);
    crate::syscalls::ipc::sem::exit_undo(tg);
    // Its executable may be written again (the image goes with the mm).
    tg.lock().image.exe_access = None;
    let parent = tg.parent();
    let orphans = {
        let mut st = tg.lock();
        st.exit = Some(status);
        st.exit_uid = task.creds().ruid;
        std::mem::take(&mut st.children)
    };
    crate::syscalls::pidfd::EXITS.notify();
    reparent_orphans(kernel, tg, orphans);
    if tg.tgid == 1 {
        kernel.set_init_exit(match status {
            ExitStatus::Exited(c) => InitExit::Code(c),
            ExitStatus::Signaled(s, _) => InitExit::Signal(s),
        });
        return;
    }
    match parent {
        Some(p) => child_ended(kernel, tg, &p),
        None => {
            tg.lock().reaped = true;
            kernel.pids.lock().unwrap_or_else(|e| e.into_inner()).groups.remove(&tg.tgid);
            crate::syscalls::pidfd::EXITS.notify();
        }
    }
}

/// Takes an exiting thread out of its process (once: at its exit stop, or
/// at its exit if it never stopped there); returns whether it was the last.
fn detach_thread(kernel: &Arc<Kernel>, task: &Arc<Task>) -> bool {
    *task.detached.get_or_init(|| {
        task.record_exit();
        let tg = &task.tg;
        let last = {
            let mut st = tg.lock();
            st.live_threads = st.live_threads.saturating_sub(1);
            st.live_threads == 0
        };
        let siblings: Vec<_> = {
            let mut pids = kernel.pids.lock().unwrap_or_else(|e| e.into_inner());
            pids.tasks.remove(&task.tid);
            pids.tasks.values().filter_map(|w| w.upgrade()).filter(|t| t.tg.tgid == tg.tgid).collect()
        };
        if !last {
            // If the whole process is going (exit_group, a fatal signal), the
            // other threads' tracers may be blocked in emulated calls for
            // threads that no longer run: wake them to find out.
            for t in siblings {
                t.interrupt.notify();
            }
        }
        last
    })
}

/// Tells `parent` that its child `child` ended, as Linux's do_notify_parent
/// does: the child's exit signal (unless SIGCHLD is ignored), and no zombie
/// at all if the parent ignores SIGCHLD or set SA_NOCLDWAIT.
fn child_ended(kernel: &Arc<Kernel>, child: &Arc<ThreadGroup>, parent: &Arc<ThreadGroup>) {
    let (status, exit_signal, uid) = {
        let st = child.lock();
        (st.exit.unwrap_or(ExitStatus::Exited(0)), st.exit_signal, st.exit_uid)
    };
    let pact = parent.action(libc::SIGCHLD);
    let mut sig = exit_signal;
    if sig == libc::SIGCHLD && (pact.handler == signal::SIG_IGN || pact.flags & signal::SA_NOCLDWAIT != 0) {
        if pact.handler == signal::SIG_IGN {
            sig = 0;
        }
        child.lock().reaped = true;
        parent.lock().children.retain(|c| !Arc::ptr_eq(c, child));
        kernel.pids.lock().unwrap_or_else(|e| e.into_inner()).groups.remove(&child.tgid);
        crate::syscalls::pidfd::EXITS.notify();
    }
    let info = (sig != 0).then(|| {
        let (code, st) = signal::exit_code_and_status(status);
        let mut si = signal::child_info(child, uid, code, st);
        si.si_signo = sig;
        si
    });
    if let Some(info) = info {
        signal::send_to_group(kernel, parent, info, None);
    }
    // Only now may wait report the exit: a wait that returned before the
    // SIGCHLD was raised would let a handler installed next catch it.
    child.lock().exit_reported = true;
    parent.child_event.notify();
}

/// Gives a dying process's children a new parent: the nearest living
/// ancestor that is a child subreaper, else init. Children that asked for a
/// parent-death signal get it; already-dead ones are reported to the new parent.
fn reparent_orphans(kernel: &Arc<Kernel>, dying: &Arc<ThreadGroup>, orphans: Vec<Arc<ThreadGroup>>) {
    if orphans.is_empty() {
        return;
    }
    let mut reaper = None;
    let mut up = dying.parent();
    while let Some(a) = up {
        if a.lock().subreaper && a.lock().exit.is_none() {
            reaper = Some(a);
            break;
        }
        up = a.parent();
    }
    let reaper = reaper.or_else(|| kernel.group_by_vpid(1)).filter(|r| !Arc::ptr_eq(r, dying));
    for child in orphans {
        let (pdeath, dead) = {
            let st = child.lock();
            (st.pdeath_signal, st.exit.is_some())
        };
        if pdeath != 0 && !dead {
            let uid = dying.lock().exit_uid;
            signal::send_to_group(kernel, &child, signal::sender_info(pdeath, signal::SI_USER, dying.tgid, uid), None);
        }
        match &reaper {
            Some(r) => {
                child.lock().parent = Some(Arc::downgrade(r));
                r.lock().children.push(child.clone());
                if dead {
                    child_ended(kernel, &child, r);
                }
            }
            None => child.lock().parent = None,
        }
    }
}

/// Creates the task for a clone child whose host thread `host_tid` is parked.
pub fn new_child_task(kernel: &Arc<Kernel>, parent: &Arc<Task>, host_tid: i32, flags: u64) -> Result<Arc<Task>, Errno> {
    let mut pids = kernel.pids.lock().unwrap_or_else(|e| e.into_inner());
    let tid = pids.alloc();
    let thread = flags & libc::CLONE_THREAD as u64 != 0;
    let tg = if thread { parent.tg.clone() } else { ThreadGroup::new(tid, host_tid, Some(&parent.tg))? };
    // CLONE_PARENT: a sibling of the caller (which inherits it all the same).
    let sibling = !thread && flags & libc::CLONE_PARENT as u64 != 0;
    let parent_tg = if sibling { parent.tg.parent() } else { Some(parent.tg.clone()) };
    if sibling {
        tg.lock().parent = parent_tg.as_ref().map(Arc::downgrade);
    }
    let fs = if flags & libc::CLONE_FS as u64 != 0 { parent.fs() } else { parent.fs().fork() };
    let files = if flags & libc::CLONE_FILES as u64 != 0 { parent.files() } else { Arc::new(parent.files().fork()) };
    let task = Task::new(tid, host_tid, tg.clone(), fs, files, parent.creds(), parent.comm())?;
    task.set_affinity(parent.cpus.lock().unwrap_or_else(|e| e.into_inner()).clone());
    let (policy, prio) = parent.sched();
    let extra = *parent.sched_extra.lock().unwrap_or_else(|e| e.into_inner());
    if extra.reset_on_fork && !thread {
        // Real-time and deadline policies fall back to the default one at
        // nice 0; a fair one only loses a negative nice.
        let rt = matches!(policy, 1 | 2 | 6);
        task.set_sched(if rt { 0 } else { policy }, 0);
        let mut st = tg.lock();
        st.nice = if rt { 0 } else { st.nice.max(0) };
    } else {
        task.set_sched(policy, prio);
        *task.sched_extra.lock().unwrap_or_else(|e| e.into_inner()) = extra;
    }
    // Seccomp filters are inherited by threads and children alike.
    task.seccomp_mode
        .store(parent.seccomp_mode.load(std::sync::atomic::Ordering::Relaxed), std::sync::atomic::Ordering::Relaxed);
    // Registered only once nothing can fail any more.
    if !thread {
        if let Some(p) = &parent_tg {
            p.lock().children.push(tg.clone());
        }
        pids.groups.insert(tid, Arc::downgrade(&tg));
    }
    tg.lock().live_threads += 1;
    pids.tasks.insert(tid, Arc::downgrade(&task));
    Ok(task)
}

/// The CPU a task's sentry thread and its app thread share: a stop
/// between threads on one CPU is a direct switch (~6 µs here); across CPUs
/// it needs a cross-CPU wake-up (~50 µs in these VMs). Tasks are spread over
/// the CPUs round-robin, so parallel workloads still use every core. None:
/// one CPU, or pinning is off (`RVISOR_NO_PIN`).
fn tracee_cpu() -> Option<usize> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if std::env::var_os("RVISOR_NO_PIN").is_some() {
        return None;
    }
    // The sandbox's CPUs, not this thread's: a tracer thread spawned by a
    // pinned one inherits a one-CPU mask.
    let cpus = super::sandbox_cpus();
    if cpus.len() < 2 {
        return None;
    }
    Some(cpus[NEXT.fetch_add(1, Ordering::Relaxed) % cpus.len()])
}

/// SIGTSTP, SIGTTIN and SIGTTOU at their default action stop the process
/// unless its process group is orphaned (Linux's is_current_pgrp_orphaned,
/// judged in the sandbox). The host judges its own groups, in which app
/// processes are always orphaned: such a stop goes in as SIGSTOP, reported
/// as the original signal. None: deliver `sig` as it is.
fn job_stop_signal(kernel: &Kernel, task: &Arc<Task>, sig: i32) -> Option<i32> {
    if !matches!(sig, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU) || task.tg.action(sig).handler != signal::SIG_DFL {
        return None;
    }
    let (pgid, sid) = {
        let st = task.tg.lock();
        (st.pgid, st.sid)
    };
    // Not orphaned: some member's parent is in another group of the same session.
    let anchored = kernel.all_groups().iter().any(|g| {
        let (gpg, live) = {
            let st = g.lock();
            (st.pgid, st.exit.is_none())
        };
        live && gpg == pgid
            && g.parent().is_some_and(|p| {
                let ps = p.lock();
                ps.exit.is_none() && ps.pgid != pgid && ps.sid == sid
            })
    });
    if !anchored {
        // Discarded, as Linux does for an orphaned group.
        return Some(0);
    }
    task.tg.lock().stop_as = Some(sig);
    Some(libc::SIGSTOP)
}

/// The process entered a group-stop: let the parent's wait(WUNTRACED) see it.
pub(super) fn job_stopped(kernel: &Arc<Kernel>, task: &Arc<Task>, sig: i32) {
    let (first, sig) = {
        let mut st = task.tg.lock();
        let sig = if sig == libc::SIGSTOP { st.stop_as.take().unwrap_or(sig) } else { sig };
        let first = !st.stopped;
        if first {
            st.stopped = true;
            st.job = Some(super::task::JobEvent::Stopped(sig));
        }
        (first, sig)
    };
    if first {
        job_notify(kernel, task, signal::CLD_STOPPED, sig);
    }
}

/// The process was continued (SIGCONT) after a stop.
fn job_continued(kernel: &Arc<Kernel>, task: &Arc<Task>) {
    let was = {
        let mut st = task.tg.lock();
        let was = st.stopped;
        if was {
            st.stopped = false;
            st.job = Some(super::task::JobEvent::Continued);
        }
        was
    };
    if was {
        job_notify(kernel, task, signal::CLD_CONTINUED, libc::SIGCONT);
    }
}

/// kill(SIGCONT) of a stopped process: it counts as continued at once, as
/// on Linux (a wait(WCONTINUED) right after the kill sees it even if the
/// process then exits before its host thread runs again).
pub(crate) fn group_continued(kernel: &Kernel, tg: &ThreadGroup) {
    let was = {
        let mut st = tg.lock();
        let was = st.stopped;
        if was {
            st.stopped = false;
            st.job = Some(super::task::JobEvent::Continued);
        }
        was
    };
    let Some(p) = tg.parent().filter(|_| was) else { return };
    let uid = kernel.live_task_of(tg.tgid).map(|t| t.creds().ruid);
    let pact = p.action(libc::SIGCHLD);
    let quiet = pact.handler == signal::SIG_IGN || pact.flags & signal::SA_NOCLDSTOP != 0;
    let info = (!quiet).then(|| signal::child_info(tg, uid.unwrap_or(0), signal::CLD_CONTINUED, libc::SIGCONT));
    crate::kernel::notify_parent(kernel, &p, info);
}

/// SIGCHLD for a stop or continue, unless the parent ignores SIGCHLD or set SA_NOCLDSTOP.
fn job_notify(kernel: &Arc<Kernel>, task: &Arc<Task>, code: i32, status: i32) {
    let Some(p) = task.tg.parent() else { return };
    let pact = p.action(libc::SIGCHLD);
    let quiet = pact.handler == signal::SIG_IGN || pact.flags & signal::SA_NOCLDSTOP != 0;
    let info = (!quiet).then(|| signal::child_info(&task.tg, task.creds().ruid, code, status));
    crate::kernel::notify_parent(kernel, &p, info);
}

/// Ends the sandbox if the last of init's task threads goes away without
/// recording an exit (a sentry bug): the boot thread must never wait
/// forever. Another of init's threads outliving this one (init's main
/// thread called exit, not exit_group) is normal: the last one records it.
struct InitGuard {
    kernel: Arc<Kernel>,
    /// This thread's task, if it is one of init's threads.
    task: Option<Arc<Task>>,
}

impl Drop for InitGuard {
    fn drop(&mut self) {
        let Some(task) = &self.task else { return };
        if task.tg.lock().live_threads > 0 {
            return;
        }
        // The last thread's tracer may be recording init's exit right now.
        for _ in 0..50 {
            if self.kernel.shutting_down() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        tracing::error!(tid = task.tid, "init's last task thread ended without an exit status");
        self.kernel.set_init_exit(InitExit::Signal(libc::SIGKILL));
    }
}
