//! When the host will next raise a timer signal for a process.
//!
//! A process's real-time timer (alarm, setitimer's ITIMER_REAL) runs on the
//! host, which tells the sentry nothing when it fires: the SIGALRM waits in
//! the host pending set of a thread the sentry holds in an emulated call.
//! The sentry arms the timer for the app (so it sees every change) and
//! notes here when it will fire; a call it keeps waiting looks at the
//! pending set then (`SyscallCtx::block`), not only at its regular 10-50 ms
//! polls. A wrong note costs a spurious look or a late one, never a signal.

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

/// The armed real-time timer of one process. Kept across execve, as the
/// timer is; a forked child starts without one.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimerWakes {
    real: Option<Wake>,
}

impl TimerWakes {
    /// The real-time timer was set, at `now`, to fire after `value` and
    /// then every `interval` (a zero value disarms it, as in setitimer).
    pub fn set_real(&mut self, now: Instant, value: Duration, interval: Duration) {
        self.real = (!value.is_zero()).then(|| Wake {
            next: now + value,
            interval: if interval.is_zero() { interval } else { interval.max(MIN_INTERVAL) },
        });
    }

    /// When the next armed timer fires at or after `now`, if one is armed.
    /// A one-shot timer that has fired is forgotten.
    pub fn next_after(&mut self, now: Instant) -> Option<Instant> {
        let w = self.real.as_mut()?;
        if w.next >= now {
            return Some(w.next);
        }
        if w.interval.is_zero() {
            self.real = None;
            return None;
        }
        let periods = (now - w.next).as_nanos() / w.interval.as_nanos() + 1;
        w.next += w.interval * u32::try_from(periods).unwrap_or(u32::MAX);
        Some(w.next)
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
    fn a_zero_value_disarms_and_tiny_periods_are_bounded() {
        let t0 = Instant::now();
        let mut w = TimerWakes::default();
        w.set_real(t0, 10 * MS, Duration::from_micros(10));
        assert_eq!(w.next_after(t0 + 10 * MS + Duration::from_micros(1)), Some(t0 + 11 * MS));
        w.set_real(t0, Duration::ZERO, 20 * MS);
        assert_eq!(w.next_after(t0), None);
    }
}
