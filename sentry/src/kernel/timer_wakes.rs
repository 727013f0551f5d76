//! When the host will next raise a timer signal for a process.
//!
//! A process's real-time timer (alarm, setitimer's ITIMER_REAL) and its
//! POSIX timers run on the host, which tells the sentry nothing when one
//! fires: the signal waits in the host pending set of a thread the sentry
//! holds in an emulated call. The sentry arms the timers for the app (so it
//! sees every change) and notes here when they will fire; a call it keeps
//! waiting looks at the pending set then (`SyscallCtx::block`), not only at
//! its regular 10-50 ms polls. A wrong note costs a spurious look or a late
//! one, never a signal.

use std::time::{Duration, Instant};

/// One armed timer: its next expiry and its period (zero: one-shot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wake {
    next: Instant,
    interval: Duration,
}

/// Shortest period followed: a faster timer is looked at this often (the
/// signal merges anyway while it waits in the pending set).
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// A POSIX timer the process created: its clock, whether it signals at
/// all (not SIGEV_NONE), and when it fires next if armed.
#[derive(Clone, Copy, Debug)]
struct PosixTimer {
    id: i32,
    clock: i32,
    signals: bool,
    wake: Option<Wake>,
}

/// The armed timers of one process. The real-time timer is kept across
/// execve, as the timer is, and POSIX timers are not; a forked child starts
/// without either.
#[derive(Clone, Debug, Default)]
pub struct TimerWakes {
    real: Option<Wake>,
    posix: Vec<PosixTimer>,
}

fn wake(now: Instant, value: Duration, interval: Duration) -> Option<Wake> {
    (!value.is_zero()).then(|| Wake {
        next: now + value,
        interval: if interval.is_zero() { interval } else { interval.max(MIN_INTERVAL) },
    })
}

/// `w`'s expiry at or after `now`, moved on by whole periods; None (and
/// `w` cleared) for a one-shot timer that has fired.
fn next_of(w: &mut Option<Wake>, now: Instant) -> Option<Instant> {
    let v = w.as_mut()?;
    if v.next >= now {
        return Some(v.next);
    }
    if v.interval.is_zero() {
        *w = None;
        return None;
    }
    let periods = (now - v.next).as_nanos() / v.interval.as_nanos() + 1;
    v.next += v.interval * u32::try_from(periods).unwrap_or(u32::MAX);
    Some(v.next)
}

impl TimerWakes {
    /// The real-time timer was set, at `now`, to fire after `value` and
    /// then every `interval` (a zero value disarms it, as in setitimer).
    pub fn set_real(&mut self, now: Instant, value: Duration, interval: Duration) {
        self.real = wake(now, value, interval);
    }

    /// timer_create made timer `id` on `clock`; `signals`: its expiry
    /// raises a signal (not SIGEV_NONE).
    pub fn created(&mut self, id: i32, clock: i32, signals: bool) {
        self.posix.retain(|t| t.id != id);
        self.posix.push(PosixTimer { id, clock, signals, wake: None });
    }

    /// The clock of POSIX timer `id`, if the process created it.
    pub fn clock_of(&self, id: i32) -> Option<i32> {
        self.posix.iter().find(|t| t.id == id).map(|t| t.clock)
    }

    /// POSIX timer `id` was set, at `now`, to fire after `value` (relative
    /// to `now`) and then every `interval`; zero disarms it.
    pub fn set_posix(&mut self, id: i32, now: Instant, value: Duration, interval: Duration) {
        if let Some(t) = self.posix.iter_mut().find(|t| t.id == id) {
            t.wake = if t.signals { wake(now, value, interval) } else { None };
        }
    }

    /// timer_delete.
    pub fn deleted(&mut self, id: i32) {
        self.posix.retain(|t| t.id != id);
    }

    /// execve: the POSIX timers are gone, the real-time timer stays.
    pub fn exec(&mut self) {
        self.posix.clear();
    }

    /// When the next armed timer fires at or after `now`, if one is armed.
    /// One-shot timers that have fired are forgotten.
    pub fn next_after(&mut self, now: Instant) -> Option<Instant> {
        let real = next_of(&mut self.real, now);
        self.posix.iter_mut().filter_map(|t| next_of(&mut t.wake, now)).chain(real).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_one_shot_timer_is_forgotten_once_it_fired() {
        let t0 = Instant::now();
        let mut w = TimerWakes::default();
        assert_eq!(w.next_after(t0), None);
        w.set_real(t0, 300 * MS, Duration::ZERO);
        assert_eq!(w.next_after(t0 + 100 * MS), Some(t0 + 300 * MS));
        assert_eq!(w.next_after(t0 + 301 * MS), None);
        assert_eq!(w.next_after(t0), None, "gone for good");
    }

    #[test]
    fn a_periodic_timer_moves_on_by_whole_periods() {
        let t0 = Instant::now();
        let mut w = TimerWakes::default();
        w.set_real(t0, 50 * MS, 20 * MS);
        assert_eq!(w.next_after(t0 + 50 * MS), Some(t0 + 50 * MS));
        assert_eq!(w.next_after(t0 + 51 * MS), Some(t0 + 70 * MS));
        assert_eq!(w.next_after(t0 + 135 * MS), Some(t0 + 150 * MS));
    }

    #[test]
    fn posix_timers_count_while_they_signal_and_go_at_delete_and_exec() {
        let t0 = Instant::now();
        let mut w = TimerWakes::default();
        w.created(0, libc::CLOCK_MONOTONIC, true);
        w.created(1, libc::CLOCK_MONOTONIC, false);
        w.set_posix(1, t0, 5 * MS, Duration::ZERO);
        assert_eq!(w.next_after(t0), None, "a SIGEV_NONE timer raises nothing");
        w.set_posix(0, t0, 40 * MS, Duration::ZERO);
        w.set_real(t0, 60 * MS, Duration::ZERO);
        assert_eq!(w.next_after(t0), Some(t0 + 40 * MS), "the earliest of all");
        assert_eq!(w.clock_of(0), Some(libc::CLOCK_MONOTONIC));
        w.deleted(0);
        assert_eq!(w.next_after(t0), Some(t0 + 60 * MS));
        w.created(2, libc::CLOCK_REALTIME, true);
        w.set_posix(2, t0, 10 * MS, 10 * MS);
        w.exec();
        assert_eq!(w.clock_of(2), None);
        assert_eq!(w.next_after(t0), Some(t0 + 60 * MS), "the real-time timer outlives exec");
    }

    #[test]
    fn a_zero_value_disarms_and_tiny_periods_are_bounded() {
        let t0 = Instant::now();
        let mut w = TimerWakes::default();
        w.set_real(t0, 10 * MS, Duration::from_micros(10));
        assert_eq!(w.next_after(t0 + 10 * MS + Duration::from_micros(1)), Some(t0 + 11 * MS));
        w.set_real(t0, Duration::ZERO, 20 * MS);
        assert_eq!(w.next_after(t0), None);
    }
}
