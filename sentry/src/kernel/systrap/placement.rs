//! Where a detached thread's sentry thread runs: beside its app thread or
//! on another CPU, chosen per thread from measured call rates.
//!
//! Beside (the app's CPU, as on ptrace), each hand-off is a same-CPU futex
//! switch, ~6 µs here, and costs no other CPU. Apart, both sides spin and a
//! hand-off is two cache-line transfers, ~0.3 µs (plus the SIGSYS), but only
//! while the other CPU is free: a busy one delays every reply and the
//! spinning takes time from whatever else runs there. So a thread that makes
//! calls quickly tries the other CPU for a window of calls and stays there
//! only if its calls really come faster; a failed trial waits twice as long
//! before the next. Traced phases always run beside (a ptrace stop across
//! CPUs costs a ~50 µs wake-up), and so does an idle thread.
//!
//! `RVISOR_SYSTRAP_PLACEMENT` (in rvisor's environment) = `beside` or `apart`
//! fixes the choice, for measurements.
//!
//! What is measured is the sentry's wait for the app per hand-off (a request,
//! or an EXEC command's result): the hand-off's latency plus the app's own
//! work between calls, the part placement changes. The sentry's own time
//! serving a call (a gofer round trip, a directory listing) is left out: a
//! window with one slow call would otherwise look cold, and a trial apart
//! that happened to hold it would look like a loss.

use std::time::Duration;

/// Calls per measured window.
const WINDOW: u32 = 64;
/// A window whose hand-offs wait longer than this on average is not worth a
/// spinning CPU: the hand-off is a small part of the app's cycle. A wait
/// without a request this long makes the thread idle.
const HOT: Duration = Duration::from_micros(40);
/// Apart must beat beside by this factor (percent) to be kept.
const KEEP_PERCENT: u32 = 85;
/// Longest pause between trials, in windows.
const MAX_BACKOFF: u32 = 64;
/// How often, in windows, a thread that stays apart measures beside again:
/// beside may have become faster (a busier other CPU shows by itself, as
/// apart calls slower than the last beside measure).
const REMEASURE: u32 = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Adaptive,
    Beside,
    Apart,
}

fn policy() -> Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    *POLICY.get_or_init(|| match std::env::var("RVISOR_SYSTRAP_PLACEMENT").as_deref() {
        Ok("beside") => Policy::Beside,
        Ok("apart") => Policy::Apart,
        _ => Policy::Adaptive,
    })
}

/// The decision logic, apart from clocks and affinity (unit-tested).
#[derive(Debug)]
struct Chooser {
    apart: bool,
    /// Mean wait per hand-off of the last window measured beside.
    beside: Option<Duration>,
    /// Windows to wait before the next trial.
    wait: u32,
    /// The wait after the next failed trial.
    backoff: u32,
    /// Windows spent apart since beside was last measured.
    apart_for: u32,
}

impl Chooser {
    fn new() -> Self {
        Chooser { apart: false, beside: None, wait: 0, backoff: 1, apart_for: 0 }
    }

    /// A window ended with hand-offs waiting `cycle` on average; returns
    /// whether the next one runs apart.
    fn window(&mut self, cycle: Duration) -> bool {
        if !self.apart {
            self.beside = Some(cycle);
            if cycle > HOT {
                return false;
            }
            if self.wait > 0 {
                self.wait -= 1;
                return false;
            }
            self.apart = true;
            self.apart_for = 0;
            return true;
        }
        let better = self.beside.is_some_and(|b| cycle.as_nanos() * 100 <= b.as_nanos() * KEEP_PERCENT as u128);
        if !better || cycle > HOT {
            self.apart = false;
            self.wait = self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            return false;
        }
        self.backoff = 1;
        self.apart_for += 1;
        if self.apart_for >= REMEASURE {
            // Measure beside again; the next window decides afresh.
            self.apart = false;
            return false;
        }
        true
    }

    /// The thread went idle or traced: beside, keeping what was learned.
    fn stop(&mut self) {
        self.apart = false;
    }
}

/// The hand-offs of the window being measured.
#[derive(Debug, Default)]
struct Window {
    /// Requests so far.
    calls: u32,
    /// Time spent waiting for the app, and the hand-offs (requests and
    /// command results) that ended those waits.
    waited: Duration,
    handoffs: u32,
}

impl Window {
    fn waited(&mut self, d: Duration, handoffs: u32) {
        self.waited += d;
        self.handoffs += handoffs;
    }

    /// A request arrived: at the window's last, its mean wait per hand-off,
    /// and a new window starts.
    fn request(&mut self) -> Option<Duration> {
        self.calls += 1;
        if self.calls < WINDOW {
            return None;
        }
        let cycle = self.waited / self.handoffs.max(1);
        *self = Window::default();
        Some(cycle)
    }
}

/// One task's placement, owned by its sentry thread.
pub(super) struct Placement {
    /// The CPU the thread and its app thread are pinned to, and the one to
    /// spin on when apart; None when placement is off (one CPU, unpinned).
    cpus: Option<(usize, usize)>,
    chooser: Chooser,
    /// Where the sentry thread runs now.
    apart: bool,
    window: Window,
}

impl Placement {
    pub(super) fn new() -> Self {
        Placement { cpus: None, chooser: Chooser::new(), apart: false, window: Window::default() }
    }

    /// The sentry waited `d` for the app, and `handoffs` requests or
    /// command results ended the wait.
    pub(super) fn waited(&mut self, d: Duration, handoffs: u32) {
        self.window.waited(d, handoffs);
    }

    /// Starts a detached phase (the thread runs on its home CPU).
    pub(super) fn enter(&mut self) {
        if self.cpus.is_none() {
            self.cpus = home_and_away();
        }
        self.window = Window::default();
        if policy() == Policy::Apart {
            self.move_to(true);
        }
    }

    /// A request arrived.
    pub(super) fn request(&mut self) {
        if policy() != Policy::Adaptive || self.cpus.is_none() {
            return;
        }
        if let Some(cycle) = self.window.request() {
            let apart = self.chooser.window(cycle);
            self.move_to(apart);
        }
    }

    /// Whether the sentry thread runs on another CPU than its app thread,
    /// where a command to the waiting handler is a cache-line hand-off, not
    /// a same-CPU switch pair.
    pub(super) fn apart(&self) -> bool {
        self.apart
    }

    /// Whether the sentry thread surely runs on its app thread's CPU: both
    /// are pinned there and it has not moved apart, or the sandbox has one
    /// CPU. Spinning for the app there only keeps it from running.
    pub(super) fn surely_beside(&self) -> bool {
        match self.cpus {
            Some(_) => !self.apart,
            None => super::super::sandbox_cpus().len() == 1,
        }
    }

    /// The slot wait ended without a call, `quiet` after the last one was
    /// answered (a wait also ends at once when the app had not yet taken
    /// the last reply): past hot, the thread is idling and goes beside.
    pub(super) fn idle(&mut self, quiet: Duration) {
        if quiet < HOT {
            return;
        }
        self.chooser.stop();
        if policy() != Policy::Apart {
            self.move_to(false);
        }
        self.window = Window::default();
    }

    /// The detached phase ends (the thread is seized): back beside it.
    pub(super) fn leave(&mut self) {
        self.chooser.stop();
        self.move_to(false);
    }

    fn move_to(&mut self, apart: bool) {
        let Some((home, away)) = self.cpus else { return };
        if apart == self.apart {
            return;
        }
        if super::super::pin_thread(0, if apart { away } else { home }) {
            self.apart = apart;
        }
    }
}

/// This thread's one CPU (the run loop pinned it beside its app thread) and
/// the next of the sandbox's CPUs; None if it is not pinned to exactly one
/// or the sandbox has only one.
fn home_and_away() -> Option<(usize, usize)> {
    let cpus = super::super::sandbox_cpus();
    if cpus.len() < 2 {
        return None;
    }
    // SAFETY: zeroed cpu_set_t is valid; sched_getaffinity fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid cpu_set_t of the given size, for this thread.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return None;
    }
    // SAFETY: CPU_ISSET reads within the set.
    let mine: Vec<usize> = cpus.iter().copied().filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect();
    let [home] = mine[..] else { return None };
    let at = cpus.iter().position(|&c| c == home)?;
    Some((home, cpus[(at + 1) % cpus.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_micros(7);
    const FASTER: Duration = Duration::from_micros(2);

    #[test]
    fn a_busy_thread_tries_apart_and_keeps_it_when_calls_come_faster() {
        let mut c = Chooser::new();
        assert!(c.window(FAST), "a hot window beside starts a trial");
        assert!(c.window(FASTER), "2 µs against 7 µs is kept");
        assert!(c.window(FASTER));
    }

    #[test]
    fn a_slow_thread_stays_beside() {
        let mut c = Chooser::new();
        for _ in 0..10 {
            assert!(!c.window(HOT + Duration::from_micros(1)));
        }
    }

    #[test]
    fn a_failed_trial_backs_off_doubling_up_to_the_limit() {
        let mut c = Chooser::new();
        assert!(c.window(FAST), "first trial");
        let mut waits = Vec::new();
        for _ in 0..8 {
            assert!(!c.window(FAST), "no faster apart: back beside");
            let mut n = 0;
            while !c.window(FAST) {
                n += 1;
            }
            // That last window started the next trial.
            waits.push(n);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 64]);
    }

    #[test]
    fn apart_is_left_when_it_stops_paying_and_beside_is_remeasured() {
        let mut c = Chooser::new();
        assert!(c.window(FAST));
        for _ in 1..REMEASURE {
            assert!(c.window(FASTER));
        }
        assert!(!c.window(FASTER), "beside is measured again after REMEASURE windows");
        assert!(c.window(FAST), "and apart tried again at once");
        assert!(!c.window(FAST + FAST), "a busy other CPU: back beside");
    }

    /// A window's measure is the sentry's wait per hand-off, commands'
    /// included, whatever the sentry spent serving in between.
    #[test]
    fn a_window_measures_the_wait_per_hand_off() {
        let mut w = Window::default();
        for i in 1..WINDOW {
            // Each call: a 2 µs wait for the request and one of 4 µs for a
            // command's result; serving time is never reported.
            w.waited(Duration::from_micros(2), 1);
            w.waited(Duration::from_micros(4), 1);
            assert_eq!(w.request(), None, "call {i} of the window");
        }
        w.waited(Duration::from_micros(6), 2);
        assert_eq!(w.request(), Some(Duration::from_micros(3)));
        assert_eq!((w.calls, w.handoffs, w.waited), (0, 0, Duration::ZERO), "a new window");
    }

    #[test]
    fn only_a_thread_pinned_beside_is_surely_beside() {
        let mut p = Placement::new();
        p.cpus = Some((0, 1));
        assert!(p.surely_beside(), "pinned to its app's CPU, not moved apart");
        p.apart = true;
        assert!(!p.surely_beside(), "moved to the other CPU");
        p.cpus = None;
        p.apart = false;
        let one_cpu = crate::kernel::sandbox_cpus().len() == 1;
        assert_eq!(p.surely_beside(), one_cpu, "unpinned: beside only when the sandbox has one CPU");
    }

    #[test]
    fn idle_or_traced_goes_beside_without_forgetting() {
        let mut c = Chooser::new();
        assert!(c.window(FAST));
        c.stop();
        assert!(!c.apart);
        assert_eq!(c.beside, Some(FAST));
    }
}
