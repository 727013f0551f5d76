//! wait4 and waitid: a process's wait for its children's state changes
//! (exits, stops, continues), as the sentry's process tree records them.

use rvisor_syscalls::abi::Siginfo;
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::task::{ExitStatus, JobEvent, Usage};
use crate::kernel::ThreadGroup;

/// Which children a wait call selects.
enum Selector {
    Any,
    Pid(i32),
    Pgid(i32),
}

fn matches(child: &ThreadGroup, sel: &Selector) -> bool {
    match sel {
        Selector::Any => true,
        Selector::Pid(p) => child.tgid == *p,
        Selector::Pgid(g) => child.lock().pgid == *g,
    }
}

/// What a wait call reports about a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitEvent {
    Exited(ExitStatus),
    Job(JobEvent),
}

impl WaitEvent {
    fn wait_status(self) -> i32 {
        match self {
            WaitEvent::Exited(e) => e.wait_status(),
            WaitEvent::Job(JobEvent::Stopped(sig)) => (sig << 8) | 0x7f,
            WaitEvent::Job(JobEvent::Continued) => 0xffff,
        }
    }
}

/// Which state changes a wait call collects.
#[derive(Clone, Copy)]
struct WaitFor {
    exited: bool,
    stopped: bool,
    continued: bool,
    /// __WALL / __WCLONE: which children by exit signal (clone children are
    /// those that do not send SIGCHLD).
    options: i32,
}

impl WaitFor {
    fn selects(&self, exit_signal: i32) -> bool {
        self.options & libc::__WALL != 0 || (self.options & libc::__WCLONE != 0) == (exit_signal != libc::SIGCHLD)
    }
}

/// Finds (and unless `peek`, consumes) a matching child event; Ok(None) if
/// some children match but none has anything to report.
fn find_event(
    ctx: &SyscallCtx<'_>,
    sel: &Selector,
    want: WaitFor,
    peek: bool,
    accept_unreported: bool,
    saw_unreported: &mut bool,
) -> Result<Option<(i32, WaitEvent, Usage)>, Errno> {
    let tg = &ctx.task.tg;
    let mut st = tg.lock();
    let mut any = false;
    let mut found = None;
    for (i, c) in st.children.iter().enumerate() {
        if !matches(c, sel) || !want.selects(c.lock().exit_signal) {
            continue;
        }
        any = true;
        let mut cs = c.lock();
        if let Some(e) = cs.exit {
            if !cs.exit_reported && !accept_unreported {
                // Its SIGCHLD is being raised: the caller waits for that.
                *saw_unreported = true;
                continue;
            }
            if !cs.reaped && want.exited {
                found = Some((i, c.tgid, e));
                break;
            }
            continue;
        }
        let job = match cs.job {
            Some(JobEvent::Stopped(s)) if want.stopped => Some(JobEvent::Stopped(s)),
            Some(JobEvent::Continued) if want.continued => Some(JobEvent::Continued),
            _ => None,
        };
        if let Some(j) = job {
            if !peek {
                cs.job = None;
            }
            return Ok(Some((c.tgid, WaitEvent::Job(j), Usage::default())));
        }
    }
    if let Some((i, pid, e)) = found {
        if !peek {
            let c = st.children.remove(i);
            let mut used = {
                let cs = c.lock();
                let mut u = cs.usage;
                u.add(&cs.children_usage);
                u
            };
            st.children_usage.add(&used);
            used.maxrss_kb = c.lock().usage.maxrss_kb;
            drop(st);
            c.lock().reaped = true;
            ctx.kernel.pids.lock().unwrap_or_else(|e| e.into_inner()).groups.remove(&pid);
            super::pidfd::EXITS.notify();
            return Ok(Some((pid, WaitEvent::Exited(e), used)));
        }
        return Ok(Some((pid, WaitEvent::Exited(e), Usage::default())));
    }
    if !any {
        return Err(Errno::ECHILD);
    }
    Ok(None)
}

fn wait_common(
    ctx: &mut SyscallCtx<'_>,
    sel: Selector,
    want: WaitFor,
    nohang: bool,
    peek: bool,
) -> Result<Option<(i32, WaitEvent, Usage)>, Errno> {
    // An exit whose report is under way is waited for (briefly, even with
    // WNOHANG: the reporting thread is between setting it and the SIGCHLD);
    // past the deadline it is taken as reported, whatever held it up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    loop {
        // Registered before the check, so a change right after it still wakes us.
        let ev = ctx.task.tg.child_event.register()?;
        let accept_all = std::time::Instant::now() >= deadline;
        let mut unreported = false;
        if let Some(r) = find_event(ctx, &sel, want, peek, accept_all, &mut unreported)? {
            return Ok(Some(r));
        }
        if unreported {
            ctx.block(&[(ev.raw(), libc::POLLIN)], 10)?;
            continue;
        }
        if nohang {
            return Ok(None);
        }
        ctx.block(&[(ev.raw(), libc::POLLIN)], -1)?;
    }
}

pub fn sys_wait4(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, statusp, options, rusage) = (a[0] as i32, a[1], a[2] as i32, a[3]);
    let known = libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED | libc::__WALL | libc::__WCLONE | libc::__WNOTHREAD;
    if options & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let sel = match pid {
        -1 => Selector::Any,
        0 => Selector::Pgid(ctx.task.tg.lock().pgid),
        // -INT_MIN does not exist (Linux checks this before anything else).
        i32::MIN => return Err(Errno::ESRCH),
        p if p < -1 => Selector::Pgid(-p),
        p => Selector::Pid(p),
    };
    let want = WaitFor {
        exited: true,
        stopped: options & libc::WUNTRACED != 0,
        continued: options & libc::WCONTINUED != 0,
        options,
    };
    match wait_common(ctx, sel, want, options & libc::WNOHANG != 0, false)? {
        None => Ok(0),
        Some((pid, status, used)) => {
            if statusp != 0 {
                ctx.mem.write_val(statusp, &status.wait_status())?;
            }
            if rusage != 0 {
                ctx.mem.write(rusage, &used.to_bytes())?;
            }
            Ok(pid as i64)
        }
    }
}

pub fn sys_waitid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (idtype, id, infop, options) = (a[0] as u32, a[1] as i32, a[2], a[3] as i32);
    let known = libc::WNOHANG
        | libc::WEXITED
        | libc::WSTOPPED
        | libc::WCONTINUED
        | libc::WNOWAIT
        | libc::__WALL
        | libc::__WCLONE
        | libc::__WNOTHREAD;
    if options & !known != 0 || options & (libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    const P_PIDFD: u32 = 3;
    let mut pidfd_nonblock = false;
    let sel = match idtype {
        libc::P_ALL => Selector::Any,
        libc::P_PID => Selector::Pid(id),
        libc::P_PGID => Selector::Pgid(if id == 0 { ctx.task.tg.lock().pgid } else { id }),
        P_PIDFD => {
            let (file, tg) = super::pidfd::pidfd_of(ctx, id)?;
            // A non-blocking pidfd makes the wait non-blocking: EAGAIN, not 0.
            if file.flags() & libc::O_NONBLOCK != 0 && options & libc::WNOHANG == 0 {
                pidfd_nonblock = true;
            }
            Selector::Pid(tg.tgid)
        }
        _ => return Err(Errno::EINVAL),
    };
    let want = WaitFor {
        exited: options & libc::WEXITED != 0,
        stopped: options & libc::WSTOPPED != 0,
        continued: options & libc::WCONTINUED != 0,
        options,
    };
    let nohang = options & libc::WNOHANG != 0 || pidfd_nonblock;
    let r = wait_common(ctx, sel, want, nohang, options & libc::WNOWAIT != 0)?;
    if r.is_none() && pidfd_nonblock {
        return Err(Errno::EAGAIN);
    }
    if infop != 0 {
        let mut si = Siginfo::default();
        if let Some((pid, event, _)) = r {
            si.si_signo = libc::SIGCHLD;
            let (code, st) = match event {
                WaitEvent::Exited(ExitStatus::Exited(c)) => (libc::CLD_EXITED, c),
                WaitEvent::Exited(ExitStatus::Signaled(s, true)) => (libc::CLD_DUMPED, s),
                WaitEvent::Exited(ExitStatus::Signaled(s, false)) => (libc::CLD_KILLED, s),
                WaitEvent::Job(JobEvent::Stopped(s)) => (libc::CLD_STOPPED, s),
                WaitEvent::Job(JobEvent::Continued) => (libc::CLD_CONTINUED, libc::SIGCONT),
            };
            si.si_code = code;
            // si_pid, si_uid, si_status at the start of the union.
            si.fields[0] = (pid as u32 as u64) | ((ctx.task.creds().ruid as u64) << 32);
            si.fields[1] = st as u32 as u64;
        }
        ctx.mem.write_val(infop, &si)?;
    }
    Ok(0)
}
