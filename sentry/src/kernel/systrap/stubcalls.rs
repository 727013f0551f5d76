//! Host calls run by the stub's handler for a detached thread: the sentry
//! sends the waiting handler an EXEC command (`Slot::exec`) instead of
//! seizing the thread, rewinding its call and injecting through ptrace,
//! which costs a hand-back (a seize, a SIGSYS stop, a detach later: tens
//! of µs against a few for the command).
//!
//! Only calls that are quick and cannot wait for a signal go this way: the
//! handler runs with every signal blocked. And only calls the app filter
//! passes at the handler's exec site: anything else would trap there with
//! SIGSYS blocked, which kills the process.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvisor_syscalls::Errno;

use super::super::task::Task;
use crate::platform::filter;
use crate::platform::systrap::slot::{Slot, Spinner};
use crate::syscalls::AppCalls;

/// The calls sent to the handler: brk's anonymous maps and unmaps, the
/// positional reads and file maps through installed fds (syscalls/appfds.rs),
/// the move of a passed fd to its number and the close of where it arrived
/// (fdpass.rs), rt_sigaction's host action, set_tid_address, and the
/// timer calls the sentry notes (alarm, setitimer, timer_settime,
/// timer_delete). All are quick: none waits for another process or a signal.
const QUICK: [i64; 14] = [
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_madvise,
    libc::SYS_pread64,
    libc::SYS_preadv,
    libc::SYS_preadv2,
    libc::SYS_dup3,
    libc::SYS_close,
    libc::SYS_rt_sigaction,
    libc::SYS_set_tid_address,
    libc::SYS_alarm,
    libc::SYS_setitimer,
    libc::SYS_timer_settime,
    libc::SYS_timer_delete,
];

/// The handler slot of a thread waiting in the stub's SIGSYS handler.
pub(super) struct StubCalls<'s> {
    slot: &'s Slot<'s>,
    /// The chunk the slot is in.
    chunk: usize,
    task: &'s Arc<Task>,
    spin: Cell<Spinner>,
    /// Time spent waiting for the commands' results, and how many
    /// (for placement: each is a hand-off).
    waited: Cell<(Duration, u32)>,
    /// Whether the call's copy-out may be held back for its reply.
    may_defer: bool,
    /// The copy-out held back, if any.
    deferred: Cell<Option<Deferred>>,
    /// A held-back copy-out faulted when it ran: the call fails with EFAULT.
    faulted: Cell<bool>,
}

/// A copy-out run by the handler as it answers the request
/// (`Slot::reply_copy`): the call and the count it must return.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deferred {
    pub(super) nr: i64,
    pub(super) args: [u64; 6],
    pub(super) len: u64,
}

impl<'s> StubCalls<'s> {
    /// `may_defer`: the call is one whose last copy-out may go with its
    /// reply (`copy::defers_copy_out`).
    pub(super) fn new(slot: &'s Slot<'s>, chunk: usize, task: &'s Arc<Task>, spin: Spinner, may_defer: bool) -> Self {
        StubCalls {
            slot,
            chunk,
            task,
            spin: Cell::new(spin),
            waited: Cell::new((Duration::ZERO, 0)),
            may_defer,
            deferred: Cell::new(None),
            faulted: Cell::new(false),
        }
    }

    /// The spinner as the commands left it, and their waits.
    pub(super) fn finish(&self) -> (Spinner, (Duration, u32)) {
        (self.spin.get(), self.waited.get())
    }

    /// Holds back copy-out `d` for the reply, if the call allows it and
    /// none is held yet.
    pub(super) fn defer(&self, d: Deferred) -> bool {
        if !self.may_defer || self.deferred.get().is_some() {
            return false;
        }
        self.deferred.set(Some(d));
        true
    }

    /// Runs the held-back copy-out now (another access to the app's memory
    /// or another command follows it); false if it faulted.
    pub(super) fn flush(&self) -> bool {
        self.deferred.take().is_none_or(|d| self.run_now(d))
    }

    /// Runs copy-out `d` now; false if it faulted.
    pub(super) fn run_now(&self, d: Deferred) -> bool {
        let moved = self.exec_raw(d.nr, d.args) == Some(d.len as i64);
        if !moved {
            self.faulted.set(true);
        }
        moved
    }

    /// The copy-out still held back, to go with the reply.
    pub(super) fn take_deferred(&self) -> Option<Deferred> {
        self.deferred.take()
    }

    /// Whether a held-back copy-out faulted.
    pub(super) fn faulted(&self) -> bool {
        self.faulted.get()
    }
}

impl StubCalls<'_> {
    /// Has the handler run `nr`, which the caller knows passes the filter
    /// at the exec site and is quick: its raw result, None if the thread is gone.
    /// A held-back copy-out runs first.
    pub(super) fn exec_unchecked(&self, nr: i64, args: [u64; 6]) -> Option<i64> {
        self.flush();
        self.exec_raw(nr, args)
    }

    fn exec_raw(&self, nr: i64, args: [u64; 6]) -> Option<i64> {
        let mut spin = self.spin.get();
        let began = Instant::now();
        let r = self.slot.exec(nr, args, &mut spin, || alive(self.task));
        let (d, n) = self.waited.get();
        self.waited.set((d + began.elapsed(), n + 1));
        self.spin.set(spin);
        r
    }
}

impl AppCalls for StubCalls<'_> {
    fn run(&self, nr: i64, args: [u64; 6]) -> Option<Result<i64, Errno>> {
        if !QUICK.contains(&nr) || !filter::passes_at_exec_site(nr, args) {
            return None;
        }
        Some(match self.exec_unchecked(nr, args) {
            // Restart codes never leave the kernel for a call no signal can
            // interrupt; one here was written by the app: not a result.
            Some(r) if (-516..=-512).contains(&r) => Err(Errno::EINTR),
            Some(r) => Ok(r),
            None => Err(Errno::ESRCH),
        })
    }

    fn pass_fd(&self, fd: std::os::fd::RawFd) -> Option<Result<i32, Errno>> {
        super::fdpass::pass(self, &self.task.tg, self.chunk, fd)
    }
}

/// Whether the thread still runs: it exists and, if it leads its process,
/// is not a zombie (looked at without reaping it: its sentry thread does).
fn alive(task: &Task) -> bool {
    let (tid, pid) = (task.host_tid(), task.tg.host_pid());
    // SAFETY: signal 0 only checks that the thread exists.
    if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) } != 0 {
        return false;
    }
    if tid != pid {
        return true;
    }
    // SAFETY: zeroed siginfo is a valid out-buffer; WNOWAIT leaves the child unreaped.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the leader is the sentry's child.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            tid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        )
    };
    // SAFETY: si_pid is valid to read after waitid filled (or zeroed) the struct.
    r != 0 || unsafe { info.si_pid() } == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every call sent to the handler passes the filter there with the
    /// arguments the sentry uses: fds only at the installed files' numbers.
    #[test]
    fn quick_calls_pass_at_the_exec_site() {
        let anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
        assert!(filter::passes_at_exec_site(libc::SYS_mmap, [0x10_0000, 4096, 3, anon, u64::MAX, 0]));
        let slot = crate::kernel::APP_FD_BASE as u64;
        assert!(filter::passes_at_exec_site(libc::SYS_mmap, [0, 4096, 1, libc::MAP_PRIVATE as u64, slot, 0]));
        assert!(!filter::passes_at_exec_site(libc::SYS_mmap, [0, 4096, 1, libc::MAP_PRIVATE as u64, 5, 0]));
        assert!(filter::passes_at_exec_site(libc::SYS_munmap, [0x10_0000, 4096, 0, 0, 0, 0]));
        for nr in [libc::SYS_pread64, libc::SYS_preadv, libc::SYS_preadv2] {
            assert!(filter::passes_at_exec_site(nr, [slot, 0x1000, 1 << 20, 0, 0, 0]));
            assert!(!filter::passes_at_exec_site(nr, [3, 0x1000, 1 << 20, 0, 0, 0]));
        }
        assert!(filter::passes_at_exec_site(libc::SYS_rt_sigaction, [10, 0x7000, 0, 8, 0, 0]));
        assert!(filter::passes_at_exec_site(libc::SYS_set_tid_address, [0x7000, 0, 0, 0, 0, 0]));
        // A passed fd moves from where it arrived to a slot or the copy file's
        // number, and where it arrived is closed; nothing else.
        let copy = crate::kernel::COPY_FD as u64;
        for to in [slot, copy] {
            assert!(filter::passes_at_exec_site(libc::SYS_dup3, [0, to, libc::O_CLOEXEC as u64, 0, 0, 0]));
        }
        assert!(!filter::passes_at_exec_site(libc::SYS_dup3, [0, crate::kernel::INSTALL_FD as u64, 0, 0, 0, 0]));
        assert!(filter::passes_at_exec_site(libc::SYS_close, [0, 0, 0, 0, 0, 0]));
        assert!(!filter::passes_at_exec_site(libc::SYS_close, [slot, 0, 0, 0, 0, 0]));
        // Every quick call can pass there.
        for nr in QUICK {
            let anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
            let args = match nr {
                libc::SYS_dup3 => [3, slot, 0, 0, 0, 0],
                libc::SYS_close => [3, 0, 0, 0, 0, 0],
                _ => [slot, 4096, 3, anon, slot, 0],
            };
            assert!(filter::passes_at_exec_site(nr, args), "{nr}");
        }
    }
}
