//! What other sentry threads see of a systrap task (the seize-before-signal
//! handshake), and how a thread that died detached ended.

use std::sync::Arc;
use std::time::Duration;

use super::super::run::{killed_status, status_of};
use super::super::task::{ExitStatus, Task};
use super::*;

/// What other sentry threads may see of a task's systrap mode: a signal
/// the sentry raises for a detached thread would be delivered with the
/// host's siginfo, so the sender first asks the thread's sentry thread to
/// seize it ([`before_signal`]).
pub(super) struct Shared {
    pub(super) pid: i32,
    pub(super) owner: std::thread::ThreadId,
    pub(super) detached: std::sync::atomic::AtomicBool,
    pub(super) want_seize: std::sync::atomic::AtomicBool,
    /// Its sentry thread is serving a detached call (`detached::serve`):
    /// the thread waits in the stub's handler with every signal blocked,
    /// and a signal raised for it now is seen in flight when the call ends,
    /// which seizes the thread before the reply lets it run.
    pub(super) serving: std::sync::atomic::AtomicBool,
    pub(super) chunk: std::sync::atomic::AtomicUsize,
    /// The app blocked SIGSYS (virtually: never on the host).
    pub(super) sigsys_blocked: std::sync::atomic::AtomicBool,
    /// The app's own alternate signal stack (sp, flags, size): the host one
    /// is the chunk, so the app's is kept here and reported back.
    pub(super) altstack: std::sync::Mutex<AltStack>,
    /// The thread set an alternate stack of its own: it is the host's too
    /// (so SA_ONSTACK handlers run on it, as Go's runtime checks), and the
    /// thread stays traced, its SIGSYS never reaching the stub's handler.
    pub(super) app_altstack: std::sync::atomic::AtomicBool,
    /// The process wants its handlers on its threads' own stacks: switch at
    /// the next ptrace stop (altstack.rs).
    pub(super) want_switch: std::sync::atomic::AtomicBool,
}

pub(super) static SHARED: std::sync::Mutex<std::collections::BTreeMap<i32, Arc<Shared>>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// How long a sender waits for a detached target to be seized. A target
/// inside a served call is not waited for (its server seizes it before the
/// reply); any other is seized once its sentry thread runs, which on a
/// loaded machine can take longer than a time slice (10 ms was too short
/// under LTP kill10's 20 busy processes on 2 CPUs). Past the wait the signal
/// goes as it is, with the host's siginfo.
pub(super) const SEIZE_WAIT: Duration = Duration::from_secs(1);

/// Host signals the sentry is raising: counted from before the sender looks
/// at its targets until its kill() is done, so a thread about to detach
/// stays traced meanwhile (`announce_detach`).
static RAISING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a sender is between its look at `detached` and its kill().
pub(super) fn raising() -> bool {
    RAISING.load(std::sync::atomic::Ordering::SeqCst) != 0
}

/// A raise under way (see [`RAISING`]): held across the host kill().
pub struct Raising(());

impl Drop for Raising {
    fn drop(&mut self) {
        RAISING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Called before the sentry raises a host signal for process `pid` (or its
/// thread `tid`): detached target threads are seized first, so the signal
/// is delivered at a ptrace stop where its virtual siginfo goes in. The
/// caller holds the returned guard until its kill() is done.
#[must_use]
pub fn before_signal(pid: i32, tid: Option<i32>) -> Raising {
    RAISING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let raising = Raising(());
    let Some(p) = systrap::active() else { return raising };
    let me = std::thread::current().id();
    let targets: Vec<Arc<Shared>> = SHARED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(t, s)| s.pid == pid && tid.is_none_or(|x| x == **t) && s.owner != me)
        .map(|(_, s)| s.clone())
        .collect();
    use std::sync::atomic::{fence, Ordering};
    let start = std::time::Instant::now();
    // Pairs with the fence after `serving` is cleared: the caller pushed
    // the signal's siginfo before calling this.
    fence(Ordering::SeqCst);
    for s in targets {
        // A thread inside a served call (a blocking read, wait4, a lock
        // wait) would not be seized before the call ends: its server sees
        // the signal in flight then, and seizes it before replying.
        if !s.detached.load(Ordering::Acquire) || s.serving.load(Ordering::SeqCst) {
            continue;
        }
        s.want_seize.store(true, Ordering::Release);
        while s.detached.load(Ordering::Acquire) && start.elapsed() < SEIZE_WAIT {
            if let Some(slot) = p.region.slot(s.chunk.load(Ordering::Acquire)) {
                slot.wake_sentry();
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        if s.detached.load(Ordering::Acquire) {
            tracing::warn!(pid, "systrap: target not seized in time; the signal goes with the host's siginfo");
        }
    }
    raising
}

/// How processes ended, by host pid, as their leaders' sentry threads (or
/// exit_group) learned it: a thread that dies detached, other than the
/// leader, takes its process's status from here (the leader's own thread
/// may reap the leader before a waitid could look).
pub(super) static GROUP_EXIT: std::sync::Mutex<std::collections::BTreeMap<i32, ExitStatus>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

pub(super) fn note_group_exit(pid: i32, status: ExitStatus) {
    GROUP_EXIT.lock().unwrap_or_else(|e| e.into_inner()).insert(pid, status);
}

pub(super) fn group_exit(pid: i32) -> Option<ExitStatus> {
    GROUP_EXIT.lock().unwrap_or_else(|e| e.into_inner()).get(&pid).copied()
}

/// Processes one of whose threads called exit_group, by host pid, with the
/// first such call's status. Linux ends every thread of the process with it
/// (the group's exit code), though on the host a thread the group exit
/// killed, even one ending in its own `exit`, reads as SIGKILL.
static EXIT_GROUP_CALLED: std::sync::Mutex<std::collections::BTreeMap<i32, ExitStatus>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// A thread of the process with host pid `pid` calls exit_group: notes its
/// status as the process's.
pub(super) fn note_exit_group(pid: i32, status: ExitStatus) {
    note_group_exit(pid, status);
    EXIT_GROUP_CALLED.lock().unwrap_or_else(|e| e.into_inner()).entry(pid).or_insert(status);
}

/// A new process has host pid `pid`: what was noted for an earlier one is stale.
pub(super) fn forget_group_exit(pid: i32) {
    GROUP_EXIT.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
    EXIT_GROUP_CALLED.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
}

/// How a thread of the process with host pid `pid` that ended as `status`
/// ended in the sandbox: a SIGKILL after an exit_group is that exit_group.
pub(super) fn as_group_ended(pid: i32, status: ExitStatus) -> ExitStatus {
    match status {
        ExitStatus::Signaled(libc::SIGKILL, _) => {
            EXIT_GROUP_CALLED.lock().unwrap_or_else(|e| e.into_inner()).get(&pid).copied().unwrap_or(status)
        }
        other => other,
    }
}

/// Waits for the leader of a single-threaded process to end (it is running
/// its exit_group) and reaps it.
pub(super) fn reap_leader(task: &Task) -> (ExitStatus, Option<libc::rusage>) {
    wait_leader(task, 0).unwrap_or((ExitStatus::Signaled(libc::SIGKILL, false), None))
}

/// wait4 of the process's leader (the sentry's child) with `flags`; notes
/// how the process ended. None only if WNOHANG found the leader running.
fn wait_leader(task: &Task, flags: i32) -> Option<(ExitStatus, Option<libc::rusage>)> {
    let (tid, pid) = (task.host_tid(), task.tg.host_pid());
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-buffer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        // SAFETY: out-pointers to our locals; the leader is the sentry's child.
        let r = unsafe { libc::wait4(tid, &mut status, flags | libc::__WALL, &mut usage) };
        // A blocking wait interrupted by a signal waits on.
        let interrupted = std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR);
        if r >= 0 || flags & libc::WNOHANG != 0 || !interrupted {
            break r;
        }
    };
    let ended = match r {
        0 => return None,
        r if r == tid => (status_of(task, decode_status(status)), Some(usage)),
        _ => (group_exit(pid).unwrap_or(ExitStatus::Signaled(libc::SIGKILL, false)), None),
    };
    note_group_exit(pid, ended.0);
    Some(ended)
}

/// Whether the detached thread is gone, and how its process ended.
pub(super) fn dead(task: &Task) -> Option<(ExitStatus, Option<libc::rusage>)> {
    let (tid, pid) = (task.host_tid(), task.tg.host_pid());
    if tid == pid {
        return wait_leader(task, libc::WNOHANG);
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
