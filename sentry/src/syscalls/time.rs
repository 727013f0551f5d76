//! Clocks and timers. Most of these run on the host as passthrough (see the
//! app filter): the calling process's own timers and the system clocks need
//! no translation. What traps here names another task: POSIX timers that
//! signal a given thread (SIGEV_THREAD_ID) and CPU-time clocks of a pid;
//! and the arming of the real-time timer (alarm, setitimer's ITIMER_REAL)
//! and of POSIX timers (timer_settime, timer_delete), which still run on the
//! host but whose expiries the sentry notes for the calls it holds waiting
//! (kernel/timer_wakes.rs).

use std::time::Duration;

use rvisor_syscalls::abi::{Timespec, Timeval};
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;

const SIGEV_THREAD_ID: i32 = 4;
/// Clock ids below this are the fixed system clocks; negative ones encode a pid.
pub const FIXED_CLOCKS: u32 = 16;

/// Translates a clock id that encodes a (virtual) pid or tid into the host's
/// encoding: `~pid << 3 | kind`, bit 2 = per-thread. Fixed clocks pass through.
fn host_clock(ctx: &SyscallCtx<'_>, clock: i32) -> Result<i32, Errno> {
    if clock >= 0 {
        return if (clock as u32) < FIXED_CLOCKS { Ok(clock) } else { Err(Errno::EINVAL) };
    }
    let kind = clock & 7;
    if kind & 3 == 3 {
        return Err(Errno::EINVAL);
    }
    let vid = !(clock >> 3);
    if vid == 0 {
        return Ok(clock);
    }
    let host = if kind & 4 != 0 {
        ctx.kernel.task_by_vtid(vid).ok_or(Errno::EINVAL)?.host_tid()
    } else {
        ctx.kernel.group_by_vpid(vid).ok_or(Errno::EINVAL)?.host_pid()
    };
    Ok((!host) << 3 | kind)
}

pub fn sys_clock_gettime(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let clock = host_clock(ctx, a[0] as i32)?;
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer; the clock is one of our own tasks' or a system clock.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(Errno::last());
    }
    ctx.mem.write_val(a[1], &Timespec { tv_sec: ts.tv_sec, tv_nsec: ts.tv_nsec })?;
    Ok(0)
}

pub fn sys_clock_getres(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let clock = host_clock(ctx, a[0] as i32)?;
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: as above.
    if unsafe { libc::clock_getres(clock, &mut ts) } != 0 {
        return Err(Errno::last());
    }
    if a[1] != 0 {
        ctx.mem.write_val(a[1], &Timespec { tv_sec: ts.tv_sec, tv_nsec: ts.tv_nsec })?;
    }
    Ok(0)
}

/// clock_nanosleep on a pid's CPU clock: run on the host with the translated id.
pub fn sys_clock_nanosleep(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let clock = host_clock(ctx, a[0] as i32)?;
    let r = ctx.inject(libc::SYS_clock_nanosleep, [clock as u32 as u64, a[1], a[2], a[3], 0, 0])?;
    Errno::result(r)
}

/// timer_create runs on the host (the timer belongs to the calling process);
/// a thread-directed timer's tid is translated first.
pub fn sys_timer_create(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (clock, sevp, idp) = (host_clock(ctx, a[0] as i32)?, a[1], a[2]);
    let mut ev_addr = sevp;
    let mut signo = libc::SIGALRM;
    if sevp != 0 {
        let mut ev = [0u8; 64];
        ctx.mem.read(sevp, &mut ev)?;
        let notify = i32::from_ne_bytes([ev[12], ev[13], ev[14], ev[15]]);
        signo = if notify == libc::SIGEV_NONE { 0 } else { i32::from_ne_bytes([ev[8], ev[9], ev[10], ev[11]]) };
        if notify & SIGEV_THREAD_ID != 0 {
            let vtid = i32::from_ne_bytes([ev[16], ev[17], ev[18], ev[19]]);
            let t = ctx.kernel.task_by_vtid(vtid).filter(|t| t.tg.tgid == ctx.task.tg.tgid).ok_or(Errno::EINVAL)?;
            ev[16..20].copy_from_slice(&t.host_tid().to_ne_bytes());
            // The translated copy goes below the red zone, where the host reads it.
            ev_addr = super::stack_scratch(ctx.regs.rsp, 128);
            ctx.mem.write(ev_addr, &ev)?;
        }
    }
    let r = Errno::result(ctx.inject(libc::SYS_timer_create, [clock as u32 as u64, ev_addr, idp, 0, 0, 0])?)?;
    // The host raises this timer's signal by itself: signalfds watch for it.
    super::signalfd::note_timer_signal(signo);
    if let Ok(id) = ctx.mem.read_val::<i32>(idp) {
        // Waits follow timers on clocks the sentry can read as the host does.
        let signals = signo != 0 && wall_clock(clock);
        ctx.task.tg.lock().timer_wakes.created(id, clock, signals);
    }
    Ok(r)
}

/// A timer value as a duration: negative parts count as zero (the host
/// has refused such a value already, or the app changed it since).
fn span(secs: i64, nanos: i64) -> Duration {
    Duration::from_secs(secs.max(0) as u64) + Duration::from_nanos(nanos.clamp(0, 999_999_999) as u64)
}

fn ts_span(t: Timespec) -> Duration {
    span(t.tv_sec, t.tv_nsec)
}

fn tv_span(t: Timeval) -> Duration {
    span(t.tv_sec, t.tv_usec.clamp(0, 999_999) * 1000)
}

/// A system clock that runs with wall time (no CPU-time clock).
fn wall_clock(clock: i32) -> bool {
    [
        libc::CLOCK_REALTIME,
        libc::CLOCK_MONOTONIC,
        libc::CLOCK_BOOTTIME,
        libc::CLOCK_REALTIME_ALARM,
        libc::CLOCK_BOOTTIME_ALARM,
        libc::CLOCK_TAI,
    ]
    .contains(&clock)
}

/// timer_settime(2): run on the host; the new expiry is noted (an absolute
/// one against the timer's clock, read here).
pub fn sys_timer_settime(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let r = Errno::result(ctx.inject(libc::SYS_timer_settime, [a[0], a[1], a[2], a[3], 0, 0])?)?;
    let now = std::time::Instant::now();
    let id = a[0] as i32;
    let Some(clock) = ctx.task.tg.lock().timer_wakes.clock_of(id) else { return Ok(r) };
    // struct itimerspec: it_interval, then it_value; as for setitimer, the
    // host has read it already.
    let Ok([interval, value]) = ctx.mem.read_val::<[Timespec; 2]>(a[2]) else { return Ok(r) };
    let mut value = ts_span(value);
    if a[1] as i32 & libc::TIMER_ABSTIME != 0 && !value.is_zero() {
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes the timespec it is given.
        if unsafe { libc::clock_gettime(clock, &mut t) } != 0 {
            return Ok(r);
        }
        // Already past: the host fires at once.
        value = value.saturating_sub(span(t.tv_sec, t.tv_nsec)).max(Duration::from_nanos(1));
    }
    ctx.task.tg.lock().timer_wakes.set_posix(id, now, value, ts_span(interval));
    Ok(r)
}

/// timer_delete(2): run on the host, and the timer's note dropped.
pub fn sys_timer_delete(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let r = Errno::result(ctx.inject(libc::SYS_timer_delete, [a[0], 0, 0, 0, 0, 0])?)?;
    ctx.task.tg.lock().timer_wakes.deleted(a[0] as i32);
    Ok(r)
}

/// alarm(2): armed on the host, its expiry noted.
pub fn sys_alarm(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let secs = a[0] as u32;
    let r = Errno::result(ctx.inject(libc::SYS_alarm, [secs as u64, 0, 0, 0, 0, 0])?)?;
    let now = std::time::Instant::now();
    ctx.task.tg.lock().timer_wakes.set_real(now, Duration::from_secs(secs.into()), Duration::ZERO);
    Ok(r)
}

/// setitimer(2): run on the host; for ITIMER_REAL (the only timer that
/// traps) the new value's expiry is noted.
pub fn sys_setitimer(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let r = Errno::result(ctx.inject(libc::SYS_setitimer, [a[0], a[1], a[2], 0, 0, 0])?)?;
    let now = std::time::Instant::now();
    if a[0] as i32 == libc::ITIMER_REAL && a[1] != 0 {
        // struct itimerval: it_interval, then it_value. The host has read
        // it; if the app changed or unmapped it since, the note is only as
        // wrong as the app made it.
        if let Ok([interval, value]) = ctx.mem.read_val::<[Timeval; 2]>(a[1]) {
            ctx.task.tg.lock().timer_wakes.set_real(now, tv_span(value), tv_span(interval));
        }
    }
    Ok(r)
}
