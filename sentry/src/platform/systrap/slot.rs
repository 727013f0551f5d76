//! The sentry's half of the per-thread slot protocol.
//!
//! A slot is the first [`SLOT_LEN`] bytes of a thread's chunk of the shared
//! region. The app can write it at any time, so the sentry reads each field
//! once, with volatile loads, and treats the values as it treats registers:
//! untrusted numbers, never pointers into its own memory.
//!
//! The state word moves IDLE -> REQUEST (app) -> REPLY (sentry) -> IDLE (app).
//! Either side that gives up spinning parks itself with a compare-and-swap
//! (IDLE -> SENTRY_WAIT, REQUEST -> APP_WAIT) and FUTEX_WAIT; the other side
//! swaps its new state in and wakes it if it finds the parked value. So a
//! pending request is REQUEST or APP_WAIT.
//!
//! Instead of a reply the sentry may send EXEC, a syscall for the handler
//! to run in the app's context (`Slot::exec`): REQUEST -> EXEC (sentry) ->
//! EXEC_RUNNING (app, while the call runs) -> REQUEST (app, with the call's
//! result in `ret`), and the sentry may park on EXEC_RUNNING as on IDLE.
//! REPLY_COPY is an EXEC that also answers (`Slot::reply_copy`): REQUEST ->
//! REPLY_COPY (sentry) -> EXEC_RUNNING -> IDLE (app), the sentry waiting
//! for the next request meanwhile as after a REPLY.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const OFF_STATE: usize = 0;
/// How many `pause` iterations the app's handler spins before it sleeps.
pub const OFF_SPIN: usize = 4;
pub const OFF_NR: usize = 8;
pub const OFF_ARGS: usize = 16;
pub const OFF_RIP: usize = 64;
pub const OFF_RSP: usize = 72;
pub const OFF_RET: usize = 80;
/// The CPU the handler ran on (Linux's TSC_AUX via rdtscp: node << 12 | cpu).
pub const OFF_CPU: usize = 88;
/// How far the handler moves the app's rip back on return: 0, or 2 (the
/// length of `syscall`) to make the app execute the call again.
pub const OFF_REWIND: usize = 96;
/// Where the handler's ucontext is (in the thread's chunk, unless the app
/// moved its alternate stack): the app's signal mask to restore is there.
pub const OFF_UCTX: usize = 104;
/// REPLY_COPY's expected result of its call, and the request's answer if
/// the call returned it.
pub const OFF_EXPECT: usize = 112;
pub const OFF_FINAL: usize = 120;
pub const SLOT_LEN: usize = 128;

pub const IDLE: u32 = 0;
pub const REQUEST: u32 = 1;
pub const REPLY: u32 = 2;
pub const SENTRY_WAIT: u32 = 3;
pub const APP_WAIT: u32 = 4;
/// 5-7 are the trampoline slot's (patch.rs).
pub const EXEC: u32 = 8;
pub const EXEC_RUNNING: u32 = 9;
/// An EXEC command that also answers the request: the handler runs the call
/// (taking it as EXEC_RUNNING), then returns to the app with the slot's final
/// result if the call returned the expected value, else -EFAULT.
pub const REPLY_COPY: u32 = 10;
/// How long the sentry sleeps at a time for an EXEC command's result
/// before it checks that the thread still lives.
const EXEC_WAIT: Duration = Duration::from_millis(16);

/// The app's spin budget: about 10-40 µs of `pause`, enough for any
/// emulated call that does not block, short enough that a blocking one
/// soon lets the CPU go.
pub const APP_SPIN: u32 = 1_000;

/// A trapped syscall as the handler wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub nr: u64,
    pub args: [u64; 6],
    pub rip: u64,
    pub rsp: u64,
    /// The handler's ucontext, an app address (untrusted like the rest).
    pub uctx: u64,
}

/// What a wait for the next request found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waited {
    Request(Request),
    /// Nothing before the timeout: the caller polls its other event sources.
    Timeout,
}

/// Adaptive, bounded spinning: the sentry spins up to `limit` iterations
/// before it sleeps. A request that arrives while spinning makes the next
/// spin longer (the app is busy making calls); one that needed a sleep makes
/// it shorter, down to `MIN`, so an idle sandbox soon stops spending CPU.
/// Neither side spins while both run on one CPU: there a spin only burns the
/// time slice the other side needs, and a futex hand-off is a direct switch.
#[derive(Clone, Copy, Debug)]
pub struct Spinner {
    pub limit: u32,
    /// The app thread last ran on the sentry thread's CPU.
    pub same_cpu: bool,
}

impl Spinner {
    pub const MIN: u32 = 64;
    /// About 50-100 µs of polling: past the ~50 µs a futex wake-up costs here.
    pub const MAX: u32 = 20_000;

    pub fn new() -> Spinner {
        Spinner { limit: Self::MAX / 4, same_cpu: false }
    }

    pub fn hit(&mut self) {
        self.limit = (self.limit.saturating_mul(2)).min(Self::MAX);
    }

    pub fn miss(&mut self) {
        self.limit = (self.limit / 2).max(Self::MIN);
    }

    /// The app's spin budget to match: none on the sentry thread's CPU.
    pub fn app_spin(&self) -> u32 {
        if self.same_cpu {
            1
        } else {
            APP_SPIN
        }
    }
}

impl Default for Spinner {
    fn default() -> Self {
        Spinner::new()
    }
}

/// One thread's slot in the sentry's mapping of the shared region.
pub struct Slot<'a> {
    base: *mut u8,
    _region: std::marker::PhantomData<&'a ()>,
}

impl<'a> Slot<'a> {
    /// # Safety
    /// `base` must point at `SLOT_LEN` bytes, 8-aligned, of a shared mapping
    /// that stays mapped for `'a`.
    pub unsafe fn new(base: *mut u8) -> Slot<'a> {
        Slot { base, _region: std::marker::PhantomData }
    }

    fn state(&self) -> &AtomicU32 {
        // SAFETY: offset 0 is inside the slot and 4-aligned (`new`'s
        // contract); other processes write the word only atomically or not
        // at all in a way that matters (a torn app write is app-corrupted
        // input, handled like any other state value).
        unsafe { &*(self.base.add(OFF_STATE) as *const AtomicU32) }
    }

    fn read_u64(&self, off: usize) -> u64 {
        // SAFETY: `off` + 8 is within the slot; a volatile read of shared
        // memory the app may change concurrently yields some value, which is
        // all the sentry relies on.
        unsafe { std::ptr::read_volatile(self.base.add(off) as *const u64) }
    }

    fn write_u64(&self, off: usize, v: u64) {
        // SAFETY: as in read_u64.
        unsafe { std::ptr::write_volatile(self.base.add(off) as *mut u64, v) }
    }

    /// Wakes a sentry thread parked on this slot (another sentry thread
    /// asking it to look at something other than the slot).
    pub fn wake_sentry(&self) {
        if self.state().load(Ordering::Acquire) == SENTRY_WAIT {
            futex_wake(self.state());
        }
    }

    /// The state word as it is now (for the sentry's own checks).
    pub fn state_now(&self) -> u32 {
        self.state().load(Ordering::Acquire)
    }

    /// The ucontext address the handler last recorded (an app address, for
    /// reading the app's mask of a thread inside the handler).
    pub fn uctx_now(&self) -> u64 {
        self.read_u64(OFF_UCTX)
    }

    /// The state word (for `patch::wait_either`, which waits on two slots).
    pub(crate) fn state_word(&self) -> &AtomicU32 {
        self.state()
    }

    /// Takes the pending request and sets the spinning for the next call.
    pub(crate) fn take_request(&self, spin: &mut Spinner) -> Request {
        self.place(spin);
        self.take()
    }

    /// Sets how long the app spins for a reply before it sleeps.
    pub fn set_app_spin(&self, n: u32) {
        // SAFETY: offset 4 is inside the slot and 4-aligned.
        unsafe { (*(self.base.add(OFF_SPIN) as *const AtomicU32)).store(n, Ordering::Relaxed) }
    }

    /// Resets the slot for a new thread.
    pub fn reset(&self) {
        self.state().store(IDLE, Ordering::Release);
        self.set_app_spin(APP_SPIN);
    }

    /// Notes where the app runs and sets both sides' spinning for the next call.
    fn place(&self, spin: &mut Spinner) {
        // SAFETY: offset 88 is inside the slot and 4-aligned.
        let app = unsafe { std::ptr::read_volatile(self.base.add(OFF_CPU) as *const u32) } & 0xfff;
        // SAFETY: sched_getcpu has no preconditions (vDSO).
        let me = unsafe { libc::sched_getcpu() };
        spin.same_cpu = me >= 0 && app == me as u32;
        self.set_app_spin(spin.app_spin());
    }

    fn take(&self) -> Request {
        let mut args = [0u64; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = self.read_u64(OFF_ARGS + 8 * i);
        }
        Request {
            nr: self.read_u64(OFF_NR),
            args,
            rip: self.read_u64(OFF_RIP),
            rsp: self.read_u64(OFF_RSP),
            uctx: self.read_u64(OFF_UCTX),
        }
    }

    /// Waits for the app's next request: spins, then sleeps on the state
    /// word for at most `timeout`.
    pub fn wait_request(&self, spin: &mut Spinner, timeout: Duration) -> Waited {
        self.wait_published(IDLE, spin, timeout)
    }

    /// Waits until the app publishes (a request, or an EXEC command's
    /// result); `parked` is the state the sentry may sleep on: IDLE, or
    /// EXEC_RUNNING while a command runs.
    fn wait_published(&self, parked: u32, spin: &mut Spinner, timeout: Duration) -> Waited {
        let state = self.state();
        // APP_WAIT is a request whose sender gave up spinning and sleeps.
        let pending = |s: u32| s == REQUEST || s == APP_WAIT;
        let limit = if spin.same_cpu { 0 } else { spin.limit };
        for _ in 0..limit {
            if pending(state.load(Ordering::Acquire)) {
                spin.hit();
                self.place(spin);
                return Waited::Request(self.take());
            }
            std::hint::spin_loop();
        }
        if !spin.same_cpu {
            spin.miss();
        }
        match state.compare_exchange(parked, SENTRY_WAIT, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                futex_wait(state, SENTRY_WAIT, timeout);
                // Withdraw from waiting unless the app has swapped REQUEST in.
                let _ = state.compare_exchange(SENTRY_WAIT, parked, Ordering::AcqRel, Ordering::Acquire);
            }
            // The app has not yet taken the last reply (or it scribbled on
            // the word): let it run, then look again.
            Err(s) if !pending(s) => std::thread::yield_now(),
            Err(_) => {}
        }
        if pending(state.load(Ordering::Acquire)) {
            self.place(spin);
            return Waited::Request(self.take());
        }
        Waited::Timeout
    }

    /// Answers the pending request with `ret` (the app finds it in rax).
    pub fn reply(&self, ret: i64) {
        self.write_u64(OFF_REWIND, 0);
        self.publish(ret);
    }

    /// Answers the pending request `nr` with "execute it again": the app
    /// returns to its syscall instruction with rax = nr. The sentry replies
    /// so after it has PTRACE_SEIZEd the thread, which then stops at the
    /// call's SIGSYS (a signal-delivery stop) for the ptrace machinery.
    pub fn reply_rewind(&self, nr: u64) {
        self.write_u64(OFF_REWIND, 2);
        self.publish(nr as i64);
    }

    fn publish(&self, ret: i64) {
        self.write_u64(OFF_RET, ret as u64);
        self.set_state(REPLY);
    }

    fn set_state(&self, new: u32) {
        if self.state().swap(new, Ordering::AcqRel) == APP_WAIT {
            futex_wake(self.state());
        }
    }

    /// Writes the call a command has the handler run.
    fn write_call(&self, nr: i64, args: [u64; 6]) {
        self.write_u64(OFF_NR, nr as u64);
        for (i, a) in args.iter().enumerate() {
            self.write_u64(OFF_ARGS + 8 * i, *a);
        }
    }

    /// Answers the pending request with `ret` once the handler has run
    /// syscall `nr` with `args` and it returned `expect`, else with -EFAULT:
    /// the request's last copy-out, run as it returns (a hand-off less than
    /// an EXEC command, then a reply). The same rules as for `exec` apply to
    /// the call.
    pub fn reply_copy(&self, nr: i64, args: [u64; 6], expect: u64, ret: i64) {
        self.write_call(nr, args);
        self.write_u64(OFF_EXPECT, expect);
        self.write_u64(OFF_FINAL, ret as u64);
        self.write_u64(OFF_REWIND, 0);
        self.set_state(REPLY_COPY);
    }

    /// Sends the EXEC command for syscall `nr` with `args` without waiting
    /// for its result: for a call that does not return (exit_group); `exec`
    /// sends it this way too, then waits.
    pub fn exec_final(&self, nr: i64, args: [u64; 6]) {
        self.write_call(nr, args);
        self.set_state(EXEC);
    }

    /// Has the handler of the thread waiting on this slot (with a request
    /// pending) run syscall `nr` with `args` in the app's context and
    /// returns its raw result, or None if `alive` says the thread is gone.
    /// The request stays pending: it is answered as usual afterwards. The
    /// call runs with every signal blocked, at `filter::EXEC_SITE`, so it
    /// must be one the filter passes there and one that cannot block for
    /// long. The result is the app's to write, so it is untrusted.
    pub fn exec(&self, nr: i64, args: [u64; 6], spin: &mut Spinner, alive: impl Fn() -> bool) -> Option<i64> {
        self.exec_final(nr, args);
        // A wait also ends at once while the handler has not yet taken the
        // command: the thread's death is looked for only once per EXEC_WAIT.
        let mut checked = Instant::now();
        loop {
            match self.wait_published(EXEC_RUNNING, spin, EXEC_WAIT) {
                Waited::Request(_) => return Some(self.read_u64(OFF_RET) as i64),
                Waited::Timeout if checked.elapsed() < EXEC_WAIT => {}
                Waited::Timeout if !alive() => return None,
                Waited::Timeout => checked = Instant::now(),
            }
        }
    }
}

pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as _ };
    // SAFETY: FUTEX_WAIT (shared: the word is in a MAP_SHARED mapping other
    // processes wait on) reads the word and sleeps; ts outlives the call.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, &ts as *const libc::timespec);
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}
