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
const SCHED_DEADLINE: i32 = 6;
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

/// Linux's check_same_owner or CAP_SYS_NICE: may the caller change `t`'s
/// scheduling (affinity, nice)?
fn may_reschedule(ctx: &SyscallCtx<'_>, t: &Task) -> bool {
    let (me, them) = (ctx.task.creds(), t.creds());
    me.has_cap(CAP_SYS_NICE) || me.euid == them.ruid || me.euid == them.euid
}

pub fn sys_sched_setaffinity(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, len, mask) = (a[0] as i32, a[1] as usize, a[2]);
    let t = target(ctx, pid)?;
    if !may_reschedule(ctx, &t) {
        return Err(Errno::EPERM);
    }
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
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok((0, 0)),
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
    let t = target(ctx, a[0] as i32)?;
    let reset = t.sched_extra.lock().unwrap_or_else(|e| e.into_inner()).reset_on_fork;
    Ok((t.sched().0 | if reset { SCHED_RESET_ON_FORK } else { 0 }) as i64)
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
    // sched_setparam keeps the flag; sched_setscheduler sets or clears it.
    let reset = match policy {
        Some(p) => p & SCHED_RESET_ON_FORK != 0,
        None => t.sched_extra.lock().unwrap_or_else(|e| e.into_inner()).reset_on_fork,
    };
    let policy = policy.unwrap_or(t.sched().0) & !SCHED_RESET_ON_FORK;
    let (lo, hi) = priority_range(policy)?;
    // SCHED_DEADLINE needs its parameters: sched_setattr only.
    if prio < lo || prio > hi || policy == SCHED_DEADLINE {
        return Err(Errno::EINVAL);
    }
    let me = ctx.task.creds();
    if !me.has_cap(CAP_SYS_NICE) {
        let tc = t.creds();
        if policy == SCHED_FIFO || policy == SCHED_RR || (me.euid != tc.euid && me.euid != tc.ruid) {
            return Err(Errno::EPERM);
        }
    }
    t.set_sched(policy, prio);
    let mut extra = t.sched_extra.lock().unwrap_or_else(|e| e.into_inner());
    extra.dl = (0, 0, 0);
    extra.reset_on_fork = reset;
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
    let privileged = ctx.task.creds().has_cap(CAP_SYS_NICE);
    let mut result = Ok(0);
    for t in ts {
        // Linux's set_one_prio: the caller must own the target (EPERM), and
        // lowering nice needs RLIMIT_NICE room or CAP_SYS_NICE (EACCES);
        // the last target's error is the answer.
        if !may_reschedule(ctx, &t) {
            result = Err(Errno::EPERM);
            continue;
        }
        let nice_limit = t.tg.rlimit(libc::RLIMIT_NICE as usize).rlim_cur;
        let mut st = t.tg.lock();
        if nice < st.nice && !privileged && (20 - nice) as u64 > nice_limit {
            result = Err(Errno::EACCES);
            continue;
        }
        st.nice = nice;
    }
    result
}

/// struct sched_attr as of Linux 5.3 (SCHED_ATTR_SIZE_VER1).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

const ATTR_SIZE_VER0: u32 = 48;
const ATTR_SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;
const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
const SCHED_FLAG_UTIL_CLAMP: u64 = 0x60;
/// Every SCHED_FLAG_* Linux knows (SCHED_FLAG_ALL | SCHED_FLAG_SUGOV).
const SCHED_FLAGS_KNOWN: u64 = 0x7f | 0x1000_0000;
const PAGE: u32 = 4096;

impl SchedAttr {
    fn from_bytes(b: &[u8]) -> SchedAttr {
        let u32_at = |o: usize| b.get(o..o + 4).map_or(0, |s| u32::from_ne_bytes(s.try_into().unwrap_or_default()));
        let u64_at = |o: usize| b.get(o..o + 8).map_or(0, |s| u64::from_ne_bytes(s.try_into().unwrap_or_default()));
        SchedAttr {
            size: u32_at(0),
            policy: u32_at(4),
            flags: u64_at(8),
            nice: u32_at(16) as i32,
            priority: u32_at(20),
            runtime: u64_at(24),
            deadline: u64_at(32),
            period: u64_at(40),
            util_min: u32_at(48),
            util_max: u32_at(52),
        }
    }

    fn to_bytes(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(ATTR_SIZE as usize);
        v.extend_from_slice(&self.size.to_ne_bytes());
        v.extend_from_slice(&self.policy.to_ne_bytes());
        v.extend_from_slice(&self.flags.to_ne_bytes());
        v.extend_from_slice(&self.nice.to_ne_bytes());
        v.extend_from_slice(&self.priority.to_ne_bytes());
        v.extend_from_slice(&self.runtime.to_ne_bytes());
        v.extend_from_slice(&self.deadline.to_ne_bytes());
        v.extend_from_slice(&self.period.to_ne_bytes());
        v.extend_from_slice(&self.util_min.to_ne_bytes());
        v.extend_from_slice(&self.util_max.to_ne_bytes());
        v
    }
}

/// Linux's sched_copy_attr: a size of 0 means the first version; a larger
/// struct than ours must be zero past our end (else E2BIG, and the size we
/// know is written back).
fn copy_attr_in(ctx: &SyscallCtx<'_>, addr: u64) -> Result<SchedAttr, Errno> {
    let mut size: u32 = ctx.mem.read_val(addr)?;
    if size == 0 {
        size = ATTR_SIZE_VER0;
    }
    if !(ATTR_SIZE_VER0..=PAGE).contains(&size) {
        ctx.mem.write_val(addr, &ATTR_SIZE)?;
        return Err(Errno::E2BIG);
    }
    let mut raw = vec![0u8; size as usize];
    ctx.mem.read(addr, &mut raw)?;
    if raw.iter().skip(ATTR_SIZE as usize).any(|&b| b != 0) {
        ctx.mem.write_val(addr, &ATTR_SIZE)?;
        return Err(Errno::E2BIG);
    }
    let mut attr = SchedAttr::from_bytes(&raw);
    attr.size = size;
    if attr.flags & SCHED_FLAG_UTIL_CLAMP != 0 && size < ATTR_SIZE {
        return Err(Errno::EINVAL);
    }
    attr.nice = attr.nice.clamp(-20, 19);
    Ok(attr)
}

/// The fair class's default time slice, which sched_getattr reports as the
/// runtime (Linux 6.12+): 0.7 ms scaled by 1 + log2 of the CPUs (at most 8).
fn base_slice(ctx: &SyscallCtx<'_>) -> u64 {
    let cpus = ctx.kernel.cpus.len().clamp(1, 8) as u64;
    700_000 * (1 + u64::from(cpus.ilog2()))
}

/// Linux's __checkparam_dl with the default period bounds (100 µs .. 4 s).
fn deadline_ok(a: &SchedAttr) -> bool {
    let period = if a.period == 0 { a.deadline } else { a.period };
    a.deadline != 0
        && a.runtime >= 1 << 10
        && a.deadline & (1 << 63) == 0
        && a.period & (1 << 63) == 0
        && (a.period == 0 || a.period >= a.deadline)
        && a.runtime <= a.deadline
        && (100_000..=4_000_000_000).contains(&period)
}

pub fn sys_sched_setattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, uattr, flags) = (a[0] as i32, a[1], a[2]);
    if uattr == 0 || pid < 0 || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let mut attr = copy_attr_in(ctx, uattr)?;
    if (attr.policy as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let t = target(ctx, pid)?;
    let (cur_policy, cur_prio) = t.sched();
    if attr.flags & SCHED_FLAG_KEEP_POLICY != 0 {
        attr.policy = cur_policy as u32;
    }
    if attr.flags & SCHED_FLAG_KEEP_PARAMS != 0 {
        attr.priority = cur_prio as u32;
        attr.nice = t.tg.lock().nice;
        (attr.runtime, attr.deadline, attr.period) = t.sched_extra.lock().unwrap_or_else(|e| e.into_inner()).dl;
    }
    let policy = attr.policy as i32;
    let (lo, hi) = priority_range(policy)?;
    if attr.flags & !SCHED_FLAGS_KNOWN != 0 {
        return Err(Errno::EINVAL);
    }
    let prio = attr.priority as i32;
    if attr.priority > 99 || prio < lo || prio > hi || (policy == SCHED_DEADLINE && !deadline_ok(&attr)) {
        return Err(Errno::EINVAL);
    }
    let me = ctx.task.creds();
    let privileged = me.has_cap(CAP_SYS_NICE);
    if !privileged {
        let fair = matches!(policy, SCHED_OTHER | SCHED_BATCH | SCHED_IDLE);
        if !fair || attr.nice < t.tg.lock().nice {
            return Err(Errno::EPERM);
        }
        let tc = t.creds();
        if me.euid != tc.euid && me.euid != tc.ruid {
            return Err(Errno::EPERM);
        }
    }
    t.set_sched(policy, prio);
    if matches!(policy, SCHED_OTHER | SCHED_BATCH | SCHED_IDLE) {
        t.tg.lock().nice = attr.nice;
    }
    let mut extra = t.sched_extra.lock().unwrap_or_else(|e| e.into_inner());
    extra.dl = match policy {
        SCHED_DEADLINE => (attr.runtime, attr.deadline, attr.period),
        // A fair task may ask for its own time slice (Linux 6.12).
        SCHED_OTHER | SCHED_BATCH if attr.runtime != 0 => (attr.runtime.clamp(100_000, 100_000_000), 0, 0),
        _ => (0, 0, 0),
    };
    extra.reset_on_fork = attr.flags & SCHED_FLAG_RESET_ON_FORK != 0;
    Ok(0)
}

pub fn sys_sched_getattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, uattr, usize_, flags) = (a[0] as i32, a[1], a[2], a[3]);
    if uattr == 0 || pid < 0 || usize_ > PAGE as u64 || usize_ < ATTR_SIZE_VER0 as u64 || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let t = target(ctx, pid)?;
    let (policy, prio) = t.sched();
    let extra = *t.sched_extra.lock().unwrap_or_else(|e| e.into_inner());
    let fair = matches!(policy, SCHED_OTHER | SCHED_BATCH | SCHED_IDLE);
    let (mut runtime, deadline, period) = extra.dl;
    if fair && runtime == 0 {
        runtime = base_slice(ctx);
    }
    let n = (usize_ as u32).min(ATTR_SIZE);
    let attr = SchedAttr {
        size: n,
        policy: policy as u32,
        flags: if extra.reset_on_fork { SCHED_FLAG_RESET_ON_FORK } else { 0 },
        nice: if fair { t.tg.lock().nice } else { 0 },
        priority: prio as u32,
        runtime,
        deadline,
        period,
        util_min: 0,
        util_max: 1024,
    };
    ctx.mem.write(uattr, &attr.to_bytes()[..n as usize])?;
    Ok(0)
}
