//! Scheduling: affinity, policies and priorities, nice values, getcpu.
//!
//! The sandbox's answers are virtual and consistent (what was set is read
//! back, with Linux's validation) but never applied to host threads: the
//! sentry places app threads itself (each beside its tracer thread).

use std::sync::Arc;

use rvisor_syscalls::abi::Timespec;
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::creds::CAP_SYS_NICE;
use crate::kernel::Task;

const SCHED_OTHER: i32 = 0;
const SCHED_FIFO: i32 = 1;
const SCHED_RR: i32 = 2;
const SCHED_BATCH: i32 = 3;
const SCHED_IDLE: i32 = 5;
const SCHED_RESET_ON_FORK: i32 = 0x4000_0000;

/// The task `pid` names (0 = the caller).
fn target(ctx: &SyscallCtx<'_>, pid: i32) -> Result<Arc<Task>, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(ctx.task.clone());
    }
    ctx.kernel.task_by_vtid(pid).ok_or(Errno::ESRCH)
}

/// Bytes of a CPU mask as the kernel sizes it (whole longs covering the possible CPUs).
fn mask_bytes(ctx: &SyscallCtx<'_>) -> usize {
    ctx.kernel.cpus.len().div_ceil(8).max(1) * 8
}

pub fn sys_sched_getaffinity(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, len, mask) = (a[0] as i32, a[1] as usize, a[2]);
    let t = target(ctx, pid)?;
    let size = mask_bytes(ctx);
    if len * 8 < ctx.kernel.cpus.len() || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut out = vec![0u8; size];
    for cpu in t.affinity() {
        out[cpu / 8] |= 1 << (cpu % 8);
    }
    ctx.mem.write(mask, &out)?;
    Ok(size as i64)
}

pub fn sys_sched_setaffinity(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, len, mask) = (a[0] as i32, a[1] as usize, a[2]);
    let t = target(ctx, pid)?;
    let mut raw = vec![0u8; len.min(mask_bytes(ctx))];
    ctx.mem.read(mask, &mut raw)?;
    let wanted: Vec<usize> =
        ctx.kernel.cpus.iter().copied().filter(|&c| raw.get(c / 8).is_some_and(|b| b >> (c % 8) & 1 != 0)).collect();
    if wanted.is_empty() {
        return Err(Errno::EINVAL);
    }
    t.set_affinity(wanted);
    Ok(0)
}

pub fn sys_getcpu(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    // SAFETY: sched_getcpu has no preconditions; the tracer runs on its tracee's CPU.
    let cpu = unsafe { libc::sched_getcpu() }.max(0) as u32;
    if a[0] != 0 {
        ctx.mem.write_val(a[0], &cpu)?;
    }
    if a[1] != 0 {
        ctx.mem.write_val(a[1], &0u32)?;
    }
    Ok(0)
}

fn priority_range(policy: i32) -> Result<(i32, i32), Errno> {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok((1, 99)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => Ok((0, 0)),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_sched_get_priority_max(_ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    Ok(priority_range(a[0] as i32)?.1 as i64)
}

pub fn sys_sched_get_priority_min(_ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    Ok(priority_range(a[0] as i32)?.0 as i64)
}

pub fn sys_sched_getscheduler(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    Ok(target(ctx, a[0] as i32)?.sched().0 as i64)
}

pub fn sys_sched_getparam(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    if a[1] == 0 {
        return Err(Errno::EINVAL);
    }
    let prio = target(ctx, a[0] as i32)?.sched().1;
    ctx.mem.write_val(a[1], &prio)?;
    Ok(0)
}

fn set_sched(ctx: &SyscallCtx<'_>, pid: i32, policy: Option<i32>, param: u64) -> SysResult {
    if param == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let prio: i32 = ctx.mem.read_val(param)?;
    let t = target(ctx, pid)?;
    let policy = policy.unwrap_or(t.sched().0) & !SCHED_RESET_ON_FORK;
    let (lo, hi) = priority_range(policy)?;
    if prio < lo || prio > hi {
        return Err(Errno::EINVAL);
    }
    if (policy == SCHED_FIFO || policy == SCHED_RR) && !ctx.task.creds().has_cap(CAP_SYS_NICE) {
        return Err(Errno::EPERM);
    }
    t.set_sched(policy, prio);
    Ok(0)
}

pub fn sys_sched_setscheduler(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let policy = a[1] as i32;
    if policy < 0 {
        return Err(Errno::EINVAL);
    }
    set_sched(ctx, a[0] as i32, Some(policy), a[2])
}

pub fn sys_sched_setparam(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    set_sched(ctx, a[0] as i32, None, a[1])
}

pub fn sys_sched_rr_get_interval(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let t = target(ctx, a[0] as i32)?;
    // RR_TIMESLICE is 100 ms; the fair class reports a few ms, like CFS with few tasks.
    let ns = if t.sched().0 == SCHED_RR { 100_000_000 } else { 4_000_000 };
    ctx.mem.write_val(a[1], &Timespec { tv_sec: 0, tv_nsec: ns })?;
    Ok(0)
}

const PRIO_PROCESS: i32 = 0;
const PRIO_PGRP: i32 = 1;
const PRIO_USER: i32 = 2;

/// The processes a getpriority/setpriority (which, who) pair names.
fn prio_targets(ctx: &SyscallCtx<'_>, which: i32, who: i32) -> Result<Vec<Arc<Task>>, Errno> {
    let me = ctx.task;
    let pick: Box<dyn Fn(&Task) -> bool> = match which {
        PRIO_PROCESS => {
            let pid = if who == 0 { me.tg.tgid } else { who };
            Box::new(move |t: &Task| t.tid == pid || t.tg.tgid == pid && t.tid == t.tg.tgid)
        }
        PRIO_PGRP => {
            let pg = if who == 0 { me.tg.lock().pgid } else { who };
            Box::new(move |t: &Task| t.tid == t.tg.tgid && t.tg.lock().pgid == pg)
        }
        PRIO_USER => {
            let uid = if who == 0 { me.creds().ruid } else { who as u32 };
            Box::new(move |t: &Task| t.tid == t.tg.tgid && t.creds().ruid == uid)
        }
        _ => return Err(Errno::EINVAL),
    };
    let all: Vec<_> = {
        let pids = ctx.kernel.pids.lock().unwrap_or_else(|e| e.into_inner());
        pids.tasks.values().filter_map(|w| w.upgrade()).collect()
    };
    let found: Vec<_> = all.into_iter().filter(|t| pick(t)).collect();
    if found.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(found)
}

/// getpriority: the raw syscall returns 20 - nice (1..40), so it is never negative.
pub fn sys_getpriority(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let ts = prio_targets(ctx, a[0] as i32, a[1] as i32)?;
    let best = ts.iter().map(|t| t.tg.lock().nice).min().unwrap_or(0);
    Ok((20 - best) as i64)
}

pub fn sys_setpriority(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let nice = (a[2] as i32).clamp(-20, 19);
    let ts = prio_targets(ctx, a[0] as i32, a[1] as i32)?;
    let me = ctx.task.creds();
    for t in ts {
        let mut st = t.tg.lock();
        if nice < st.nice && !me.has_cap(CAP_SYS_NICE) {
            return Err(Errno::EACCES);
        }
        st.nice = nice;
    }
    Ok(0)
}
