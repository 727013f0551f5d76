//! Detached mode: the sentry serves the thread's slot, and seizes the
//! thread again when a call needs ptrace or the thread goes idle.

use std::sync::Arc;

use rvisor_syscalls::Errno;

use super::super::task::{ExitStatus, Task};
use super::super::Kernel;
use super::*;
use crate::platform::systrap::patch as patch_layout;

/// Detached mode: serves the slot until a call needs ptrace or the thread
/// is gone.
pub(super) fn detached(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    stale: &Tracee,
    p: &Platform,
    st: &mut State,
    shared: &Shared,
) -> Detached {
    let Some(hslot) = st.chunk.and_then(|c| p.region.slot(c)) else {
        return reseize(task, p, st);
    };
    // A new thread's spinner has yet to see where its app runs: beside
    // it, both sides' first waits would spin out their budgets (~150 µs per
    // new process) while the app waits for the CPU. Its first request sets
    // both from then on (`Slot::place`).
    if st.place.surely_beside() {
        st.spin.same_cpu = true;
    }
    if st.spin.same_cpu {
        hslot.set_app_spin(st.spin.app_spin());
    }
    // The trampoline's slot, with syscall-site patching on.
    let tslot = st.chunk.filter(|_| patch_layout::enabled()).and_then(|c| patch_layout::tslot(&p.region, c));
    let mut idle = MIN_IDLE;
    // When the first wait without a call ended: a wait may end at once
    // (the app had not yet taken the last reply), so idleness is timed.
    let mut quiet_since: Option<std::time::Instant> = None;
    // When the last request was answered, from just before the reply:
    // beside, the reply's wake-up may switch to the app at once, and the
    // app's whole turn passes inside it. Placement measures from here.
    let mut replied = std::time::Instant::now();
    loop {
        let (waited, from_tramp) = patch_layout::wait_either(&hslot, tslot.as_ref(), &mut st.spin, idle);
        let slot = match (&tslot, from_tramp) {
            (Some(t), true) => patch_layout::ReplyTo::Tramp(t),
            _ => patch_layout::ReplyTo::Handler(&hslot),
        };
        if shared.want_seize.swap(false, std::sync::atomic::Ordering::AcqRel) {
            // A signal is about to be raised for this thread (before_signal).
            if let Waited::Request(req) = waited {
                return match super::patch::seize(task, p, st) {
                    Ok(t) => {
                        slot.reply_rewind(req.nr);
                        after_tramp_seize(&t, st, from_tramp);
                        Detached::Seized(Box::new(t))
                    }
                    Err(_) => reseize(task, p, st),
                };
            }
            return reseize_idle(task, p, st);
        }
        match waited {
            Waited::Request(req) => {
                idle = MIN_IDLE;
                quiet_since = None;
                st.place.waited(replied.elapsed(), 1);
                st.place.request();
                let info = SyscallInfo { nr: req.nr, args: req.args, rip: req.rip, rsp: req.rsp };
                if !from_tramp && exits_detached(kernel, task, st, &info) {
                    return exit_group_detached(kernel, task, &hslot, info.args[0]);
                }
                let answer = if super::patch::wants(task, &info, from_tramp) {
                    Answer::Traced
                } else {
                    // The stub's handler runs commands; the trampoline does not.
                    let handler = (!from_tramp).then_some(&hslot);
                    serve(kernel, task, stale, st, &info, req.uctx, handler)
                };
                let traced_ret = match answer {
                    Answer::Reply(ret) => {
                        replied = std::time::Instant::now();
                        slot.reply(ret);
                        continue;
                    }
                    Answer::ReplyCopy(ret, copy) => {
                        replied = std::time::Instant::now();
                        hslot.reply_copy(copy.nr, copy.args, copy.len, ret);
                        continue;
                    }
                    Answer::Rewind if !signal_in_flight(task) => {
                        replied = std::time::Instant::now();
                        slot.reply_rewind(req.nr);
                        continue;
                    }
                    Answer::Rewind => None,
                    Answer::ReplyTraced(ret) => Some(ret),
                    Answer::Traced => None,
                };
                match super::patch::seize(task, p, st) {
                    Ok(t) => {
                        match traced_ret {
                            Some(ret) => slot.reply(ret),
                            None => slot.reply_rewind(req.nr),
                        }
                        after_tramp_seize(&t, st, from_tramp);
                        return Detached::Seized(Box::new(t));
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
                let since_reply = replied.elapsed();
                st.place.idle(since_reply);
                // A wait that ended at once (the app had not yet taken the
                // last reply) says nothing of the thread's death: it comes
                // again soon, or a real timeout follows.
                if since_reply >= DEATH_CHECK_AFTER {
                    if let Some((s, u)) = dead(task) {
                        return Detached::Ended(s, u);
                    }
                }
                let quiet = quiet_since.get_or_insert_with(std::time::Instant::now).elapsed();
                if quiet >= RESEIZE_AFTER {
                    return reseize_idle(task, p, st);
                }
                // Doubling, but ending the quiet spell at RESEIZE_AFTER.
                idle = (idle * 2).min(MAX_IDLE).min(RESEIZE_AFTER - quiet).max(RESEIZE_STEP);
            }
        }
    }
}

/// Whether the call is an exit_group that can end the process without
/// ptrace: its only thread, with no app filter to judge the call and no
/// strace to print it.
fn exits_detached(kernel: &Kernel, task: &Task, st: &State, info: &SyscallInfo) -> bool {
    info.nr == libc::SYS_exit_group as u64
        && !kernel.options.strace
        && !sigsys::app_filtered(task)
        && !st.shared.want_switch.load(std::sync::atomic::Ordering::Relaxed)
        && task.host_tid() == task.tg.host_pid()
        && task.tg.lock().live_threads == 1
}

/// Ends a single-threaded process detached: what the traced path does
/// around the call (its status noted, its robust futexes handed over), then
/// the handler runs the exit_group at the exec site and the sentry reaps
/// the process. A seize, a rewound SIGSYS stop and two more stops saved.
fn exit_group_detached(kernel: &Arc<Kernel>, task: &Arc<Task>, slot: &Slot<'_>, code: u64) -> Detached {
    note_exit_group(task.tg.host_pid(), ExitStatus::Exited((code & 0xff) as i32));
    // Its own list too: no exit stop will hand it over.
    crate::kernel::robust::hand_over_process(kernel, &task.tg, None);
    slot.exec_final(libc::SYS_exit_group, [code, 0, 0, 0, 0, 0]);
    let (status, usage) = super::exits::reap_leader(task);
    Detached::Ended(status, usage)
}

/// Seizes an idle thread again and stops it: it may be inside the stub's
/// handler with a request published (or about to be) after the slot wait
/// gave up, which only the slot, not wait4, would ever report.
pub(super) fn reseize_idle(task: &Task, p: &Platform, st: &mut State) -> Detached {
    match reseize(task, p, st) {
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
pub(super) fn finish_hand_off(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    tracee: &Tracee,
    p: &Platform,
    st: &mut State,
) -> bool {
    use crate::platform::systrap::handler::{CODE, DONE_OFF};
    use crate::platform::systrap::slot::{REPLY, REPLY_COPY};
    let Ok(regs) = tracee.get_regs() else { return false };
    let start = systrap::handler_addr();
    let Some(slot) = st.chunk.and_then(|c| p.region.slot(c)) else { return false };
    let inside = (start..start + CODE.len() as u64).contains(&regs.rip);
    // An answer the handler has yet to take ends its request by itself.
    if !inside || regs.rip >= start + DONE_OFF || matches!(slot.state_now(), REPLY | REPLY_COPY) {
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
            match serve(kernel, task, tracee, st, &info, req.uctx, None) {
                Answer::Reply(ret) | Answer::ReplyTraced(ret) => slot.reply(ret),
                Answer::ReplyCopy(ret, copy) => slot.reply_copy(copy.nr, copy.args, copy.len, ret),
                Answer::Rewind | Answer::Traced => slot.reply_rewind(req.nr),
            }
            break;
        }
    }
    true
}

/// After a seize with a trampoline request in hand: a signal handler that
/// interrupted the trampoline may be inside the stub's SIGSYS handler with
/// a request of its own, which only an interrupt stop (`finish_hand_off`)
/// finds once the thread is traced.
fn after_tramp_seize(t: &Tracee, st: &mut State, from_tramp: bool) {
    if from_tramp {
        st.interrupted = t.interrupt().is_ok();
    }
}

/// Seizes the thread again without a call in hand (it stays running).
pub(super) fn reseize(task: &Task, p: &Platform, st: &State) -> Detached {
    match super::patch::seize(task, p, st) {
        Ok(t) => Detached::Seized(Box::new(t)),
        Err(_) => {
            let (s, u) = dead(task).unwrap_or((ExitStatus::Signaled(libc::SIGKILL, false), None));
            Detached::Ended(s, u)
        }
    }
}

/// What the detached loop does with a request.
pub(super) enum Answer {
    /// Reply with this result.
    Reply(i64),
    /// Reply with this result once the handler has run the call's last
    /// copy-out (`Slot::reply_copy`).
    ReplyCopy(i64, super::stubcalls::Deferred),
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
/// it returns to (in the handler's ucontext) nor ignored. A thread whose
/// status cannot be read is dying: SIGKILL, as `signal::deliverable` says
/// of a tracee it cannot inspect.
pub fn frame_deliverable(ctx: &SyscallCtx<'_>, uctx: u64) -> Option<i32> {
    let task = ctx.task;
    let Some((own, shared)) = super::super::signal::host_pending(task.tg.host_pid(), task.host_tid()) else {
        return Some(libc::SIGKILL);
    };
    let pending = own | shared;
    let mask = ctx.mem.read_val::<u64>(uctx.wrapping_add(UC_SIGMASK)).unwrap_or(0);
    let actions = task.tg.lock().actions;
    (1..=64)
        .filter(|&sig: &i32| pending & (1u64 << (sig - 1)) != 0)
        .filter(|&sig| sig == libc::SIGKILL || mask & (1u64 << (sig - 1)) == 0)
        .find(|&sig| !super::super::signal::is_ignored(&actions[(sig - 1) as usize], sig))
}

/// Runs a call for the detached thread; `handler` is its slot when the
/// thread waits in the stub's handler, which can run host calls for it.
pub(super) fn serve(
    kernel: &Arc<Kernel>,
    task: &Arc<Task>,
    stale: &Tracee,
    st: &mut State,
    info: &SyscallInfo,
    uctx: u64,
    handler: Option<&Slot<'_>>,
) -> Answer {
    let switch = st.shared.want_switch.load(std::sync::atomic::Ordering::Relaxed);
    if !super::fast(info.nr, info.args) || sigsys::app_filtered(task) || switch {
        tracing::debug!(tid = task.tid, fast = super::fast(info.nr, info.args), filtered = sigsys::app_filtered(task), switch, call = %call_name(info.nr), "systrap: handed back: not served detached");
        return Answer::Traced;
    }
    // Signals raised for this thread from now until the check below are
    // seen by that check: their senders need not wait for a seize.
    let serving = Serving::enter(st.shared.clone());
    // strace prints the result before the held-back copy-out could fail it.
    let may_defer = super::copy::defers_copy_out(info.nr) && !kernel.options.strace;
    let stub_calls =
        handler.zip(st.chunk).map(|(slot, c)| super::stubcalls::StubCalls::new(slot, c, task, st.spin, may_defer));
    let mut ctx = SyscallCtx::at_syscall(kernel, task, stale, info);
    ctx.frame = Some(uctx);
    ctx.app_calls = stub_calls.as_ref().map(|c| c as &dyn crate::syscalls::AppCalls);
    // A wake-up for a signal already delivered is stale; one whose signal
    // waits for the thread to leave the handler must stay armed.
    if task.interrupt.drain() && frame_deliverable(&ctx, uctx).is_some() {
        task.interrupt.notify();
    }
    let (nr, args) = (info.nr, info.args);
    // App memory through the copy file while the handler waits (copy.rs).
    if st.copy.as_ref().is_some_and(|c| c.retired()) {
        st.copy = None;
    }
    if st.copy.is_none() && st.copy_misses >= super::copy::INSTALL_AFTER {
        st.copy = super::copy::ThreadCopy::take(&task.tg);
        if st.copy.is_none() && super::copy::wants_file(&task.tg) {
            // Installed through the process's install socket, or else
            // through ptrace: this call then goes traced, and installs.
            if stub_calls.is_none() || !super::fdpass::has_socket(&task.tg) {
                return Answer::Traced;
            }
            match super::copy::install(&mut ctx) {
                Ok(_) => st.copy = super::copy::ThreadCopy::take(&task.tg),
                Err(Errno::ESRCH) => return Answer::Traced,
                Err(e) => tracing::debug!(tid = task.tid, error = ?e, "systrap: no copy file"),
            }
        }
        // Has one now, or cannot (no area free, a shared fd table): count again.
        st.copy_misses = 0;
    }
    let copy = st.copy.take();
    let apart = st.place.apart();
    let route = stub_calls.as_ref().map(|c| super::copy::CallRoute::new(c, copy.as_ref(), task, apart));
    let ret = {
        let mut run = || match virtual_call(&mut ctx, st, MaskAt::Frame(uctx), info.rsp, nr, args) {
            Some(r) => r,
            None => syscalls::dispatch(&mut ctx, nr, args),
        };
        match &route {
            Some(r) => crate::mm::route::with(r, run),
            None => run(),
        }
    };
    st.copy_misses += route.as_ref().map_or(0, |r| r.misses.get());
    st.copy = copy;
    let mut ret = ret;
    // A held-back copy-out goes with a result; a failed call's runs now.
    let mut deferred = None;
    if let Some(calls) = &stub_calls {
        if ret.is_ok() {
            deferred = calls.take_deferred();
        } else {
            calls.flush();
        }
        if calls.faulted() {
            ret = Err(Errno::EFAULT);
        }
    }
    if let Err(e) = ret {
        // ESRCH: a ptrace request on the untraced thread failed (or the
        // call's own ESRCH, which traced mode gives again).
        if e == Errno::ESRCH {
            tracing::debug!(tid = task.tid, call = %call_name(nr), "systrap: handed back: ESRCH (needs ptrace)");
            return Answer::Traced;
        }
        // A signal cut a wait short (the signal check, which wants ptrace,
        // always says "pending" here): decide restart or EINTR as Linux does,
        // from the signal the host will deliver on the handler's return.
        if super::super::signal::is_restart(e) {
            let Some(sig) = frame_deliverable(&ctx, uctx) else { return Answer::Rewind };
            let act = task.tg.action(sig);
            let restart = act.handler == super::super::signal::SIG_DFL
                || e == Errno::ERESTARTNOINTR
                || e == Errno::ERESTARTSYS && act.flags & super::super::signal::SA_RESTART != 0;
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
    let mut ret = ret.unwrap_or_else(|e| e.as_return());
    drop(serving);
    let in_flight = signal_in_flight(task);
    if let Some(calls) = &stub_calls {
        // The reply after a seize is a plain one: the copy-out runs now.
        if let Some(d) = deferred.take_if(|_| in_flight) {
            if !calls.run_now(d) {
                ret = Errno::EFAULT.as_return();
            }
        }
        let (spin, (waited, handoffs)) = calls.finish();
        st.spin = spin;
        st.place.waited(waited, handoffs);
    }
    match deferred {
        _ if in_flight => Answer::ReplyTraced(ret),
        Some(copy) => Answer::ReplyCopy(ret, copy),
        None => Answer::Reply(ret),
    }
}

/// Marks a task's sentry thread as inside [`serve`] (see `before_signal`):
/// cleared on every way out, and before the final in-flight check.
struct Serving(Arc<Shared>);

impl Serving {
    fn enter(shared: Arc<Shared>) -> Self {
        shared.serving.store(true, std::sync::atomic::Ordering::SeqCst);
        Serving(shared)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        use std::sync::atomic::{fence, Ordering};
        self.0.serving.store(false, Ordering::SeqCst);
        // Pairs with the fence in before_signal: a sender that still saw
        // `serving` pushed its siginfo before, so signal_in_flight sees it.
        fence(Ordering::SeqCst);
    }
}

pub(super) fn call_name(nr: u64) -> String {
    rvisor_syscalls::syscall_name(nr).map(str::to_string).unwrap_or_else(|| format!("syscall_{nr}"))
}
