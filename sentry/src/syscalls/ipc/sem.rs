//! System V semaphores: semget, semop, semtimedop, semctl. SEM_UNDO
//! adjustments are kept per process and applied once the process has
//! exited, before any later operation on the set can observe it.

use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::abi::Timespec;
use rvisor_syscalls::{Errno, SysResult};

use super::{lock, now_secs, ns, put32, put64, Deadline, IpcObject, Perm, WaitQueue};
use super::{IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT};
use crate::kernel::task::ThreadGroup;
use crate::syscalls::SyscallCtx;

const SEMMSL: i32 = 32000;
const SEMMNI: usize = 32000;
const SEMOPM: usize = 500;
const SEMVMX: i32 = 32767;
const SEM_UNDO: i16 = 0x1000;
const GETPID: i32 = 11;
const GETVAL: i32 = 12;
const GETALL: i32 = 13;
const GETNCNT: i32 = 14;
const GETZCNT: i32 = 15;
const SETVAL: i32 = 16;
const SETALL: i32 = 17;
const SEM_STAT: i32 = 18;
const SEM_INFO: i32 = 19;
const SEM_STAT_ANY: i32 = 20;

#[derive(Clone, Copy, Default)]
struct Sem {
    val: i32,
    pid: i32,
    /// Tasks waiting for an increase / for zero.
    ncnt: u32,
    zcnt: u32,
}

/// One process's SEM_UNDO adjustments for a set.
struct Undo {
    proc: Weak<ThreadGroup>,
    adj: Vec<i32>,
}

struct State {
    perm: Perm,
    sems: Vec<Sem>,
    otime: u64,
    ctime: u64,
    undo: Vec<Undo>,
    removed: bool,
}

impl State {
    /// Applies and drops `tg`'s adjustments (it is exiting); true if it had any.
    fn undo_for(&mut self, tg: &ThreadGroup) -> bool {
        let Some(at) = self.undo.iter().position(|u| std::ptr::eq(u.proc.as_ptr(), tg)) else { return false };
        let u = self.undo.swap_remove(at);
        for (s, adj) in self.sems.iter_mut().zip(u.adj) {
            if adj != 0 {
                // Linux clamps to [0, SEMVMX] and records the exiting process.
                s.val = (s.val + adj).clamp(0, SEMVMX);
                s.pid = tg.tgid;
            }
        }
        true
    }

    /// Applies and drops the adjustments of processes that have exited
    /// (a safety net: [`exit_undo`] normally applies them at exit).
    fn reap_undo(&mut self) {
        let mut i = 0;
        while i < self.undo.len() {
            let gone = match self.undo[i].proc.upgrade() {
                None => true,
                Some(tg) => lock(&tg.state).exit.is_some(),
            };
            if gone {
                let u = self.undo.swap_remove(i);
                for (s, adj) in self.sems.iter_mut().zip(u.adj) {
                    // Linux clamps to [0, SEMVMX] rather than failing.
                    s.val = (s.val + adj).clamp(0, SEMVMX);
                }
            } else {
                i += 1;
            }
        }
    }
}

/// A semaphore set.
pub struct Set {
    state: Mutex<State>,
    waiters: WaitQueue,
}

impl IpcObject for Set {
    fn perm(&self) -> Perm {
        lock(&self.state).perm.clone()
    }
}

pub fn sys_semget(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (key, nsems, flags) = (a[0] as i32, a[1] as i32, a[2] as i32);
    if !(0..=SEMMSL).contains(&nsems) {
        return Err(Errno::EINVAL);
    }
    let mut reg = lock(&ns().sem);
    if let Some((id, set)) = reg.lookup(ctx, key, flags)? {
        if nsems as usize > lock(&set.state).sems.len() {
            return Err(Errno::EINVAL);
        }
        return Ok(id.into());
    }
    if nsems == 0 {
        return Err(Errno::EINVAL);
    }
    if reg.objects.len() >= SEMMNI {
        return Err(Errno::ENOSPC);
    }
    let id = reg.insert(ctx, key, flags, |perm| Set {
        state: Mutex::new(State {
            perm,
            sems: vec![Sem::default(); nsems as usize],
            otime: 0,
            ctime: now_secs(),
            undo: Vec::new(),
            removed: false,
        }),
        waiters: WaitQueue::default(),
    })?;
    Ok(id.into())
}

#[derive(Clone, Copy)]
struct Op {
    num: usize,
    op: i16,
    flg: i16,
}

/// Tries all of `ops` atomically. Ok(true) = done; Ok(false) = would block
/// on the op at the returned index; errors are final.
fn try_ops(st: &mut State, ops: &[Op], pid: i32) -> Result<Option<usize>, Errno> {
    let mut vals: Vec<i32> = st.sems.iter().map(|s| s.val).collect();
    for (i, o) in ops.iter().enumerate() {
        let v = &mut vals[o.num];
        match o.op {
            0 if *v != 0 => return Ok(Some(i)),
            0 => {}
            op if op > 0 => {
                if *v + i32::from(op) > SEMVMX {
                    return Err(Errno::ERANGE);
                }
                *v += i32::from(op);
            }
            op => {
                if *v < -i32::from(op) {
                    return Ok(Some(i));
                }
                *v += i32::from(op);
            }
        }
    }
    for (s, v) in st.sems.iter_mut().zip(vals) {
        s.val = v;
    }
    for o in ops {
        st.sems[o.num].pid = pid;
    }
    st.otime = now_secs();
    Ok(None)
}

fn semop_common(ctx: &mut SyscallCtx<'_>, id: i32, sops: u64, nsops: i64, timeout_ms: i32) -> SysResult {
    if nsops < 1 || id < 0 {
        return Err(Errno::EINVAL);
    }
    if nsops as usize > SEMOPM {
        return Err(Errno::E2BIG);
    }
    let mut raw = vec![0u8; nsops as usize * 6];
    ctx.mem.read(sops, &mut raw)?;
    let ops: Vec<Op> = raw
        .chunks_exact(6)
        .map(|c| Op {
            num: usize::from(u16::from_ne_bytes([c[0], c[1]])),
            op: i16::from_ne_bytes([c[2], c[3]]),
            flg: i16::from_ne_bytes([c[4], c[5]]),
        })
        .collect();
    let set = lock(&ns().sem).get(id)?;
    let deadline = Deadline::new(timeout_ms);
    let pid = ctx.task.tg.tgid;
    let alter = ops.iter().any(|o| o.op != 0);
    // The op this call waits on: counted in ncnt/zcnt from the first sleep
    // to the end of the call, so the counts never dip between re-checks.
    let mut waiting: Option<Op> = None;
    loop {
        let ev = set.waiters.register()?;
        {
            let mut st = lock(&set.state);
            unwait(&mut st, waiting.take());
            if st.removed {
                return Err(Errno::EIDRM);
            }
            if ops.iter().any(|o| o.num >= st.sems.len()) {
                return Err(Errno::EFBIG);
            }
            if !st.perm.allows(ctx, if alter { 2 } else { 4 }) {
                return Err(Errno::EACCES);
            }
            st.reap_undo();
            match try_ops(&mut st, &ops, pid)? {
                None => {
                    record_undo(&mut st, ctx, &ops);
                    drop(st);
                    set.waiters.wake_all();
                    return Ok(0);
                }
                Some(i) if ops[i].flg & IPC_NOWAIT as i16 != 0 => return Err(Errno::EAGAIN),
                Some(i) => {
                    let s = &mut st.sems[ops[i].num];
                    if ops[i].op == 0 {
                        s.zcnt += 1;
                    } else {
                        s.ncnt += 1;
                    }
                    waiting = Some(ops[i]);
                }
            }
        }
        // A holder's exit applies its SEM_UNDO adjustments and wakes us (exit_undo).
        if let Err(e) = deadline.sleep(ctx, &ev) {
            unwait(&mut lock(&set.state), waiting.take());
            return Err(e);
        }
    }
}

/// Stops counting a waiter on `op`'s semaphore.
fn unwait(st: &mut State, op: Option<Op>) {
    let Some(op) = op else { return };
    if let Some(s) = st.sems.get_mut(op.num) {
        if op.op == 0 {
            s.zcnt = s.zcnt.saturating_sub(1);
        } else {
            s.ncnt = s.ncnt.saturating_sub(1);
        }
    }
}

/// Process exit (Linux's exit_sem): its SEM_UNDO adjustments are applied
/// to every set at once, and waiters on the sets that changed wake.
pub fn exit_undo(tg: &ThreadGroup) {
    let sets = lock(&ns().sem).all();
    for set in sets {
        let changed = lock(&set.state).undo_for(tg);
        if changed {
            set.waiters.wake_all();
        }
    }
}

/// Whether `tg` has a SEM_UNDO list (Linux allocates one on the first
/// SEM_UNDO operation; before that kcmp(KCMP_SYSVSEM) sees none).
pub fn has_undo(tg: &ThreadGroup) -> bool {
    let sets = lock(&ns().sem).all();
    sets.iter().any(|set| lock(&set.state).undo.iter().any(|u| std::ptr::eq(u.proc.as_ptr(), tg)))
}

fn record_undo(st: &mut State, ctx: &SyscallCtx<'_>, ops: &[Op]) {
    let n = st.sems.len();
    for o in ops.iter().filter(|o| o.flg & SEM_UNDO != 0 && o.op != 0) {
        let me = Arc::as_ptr(&ctx.task.tg);
        let pos = match st.undo.iter().position(|u| u.proc.as_ptr() == me) {
            Some(p) => p,
            None => {
                st.undo.push(Undo { proc: Arc::downgrade(&ctx.task.tg), adj: vec![0; n] });
                st.undo.len() - 1
            }
        };
        st.undo[pos].adj[o.num] -= i32::from(o.op);
    }
}

pub fn sys_semop(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    semop_common(ctx, a[0] as i32, a[1], a[2] as i64, -1)
}

pub fn sys_semtimedop(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let timeout = if a[3] == 0 {
        -1
    } else {
        let ts: Timespec = ctx.mem.read_val(a[3])?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        ts.tv_sec.saturating_mul(1000).saturating_add((ts.tv_nsec + 999_999) / 1_000_000).min(i32::MAX as i64) as i32
    };
    semop_common(ctx, a[0] as i32, a[1], a[2] as i64, timeout)
}

/// `struct semid64_ds` (104 bytes on x86-64).
fn encode(st: &State) -> [u8; 104] {
    let mut b = [0u8; 104];
    st.perm.encode(&mut b);
    put64(&mut b, 48, st.otime);
    put64(&mut b, 64, st.ctime);
    put64(&mut b, 80, st.sems.len() as u64);
    b
}

pub fn sys_semctl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (id, num, cmd, arg) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3]);
    match cmd {
        IPC_INFO | SEM_INFO => {
            let reg = lock(&ns().sem);
            // struct seminfo: semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem.
            let (usz, aem) = if cmd == SEM_INFO {
                let total: usize = reg.objects.values().map(|s| lock(&s.state).sems.len()).sum();
                (reg.objects.len() as u32, total as u32)
            } else {
                (20, 32767)
            };
            let vals: [u32; 10] =
                [SEMMNI as u32, SEMMNI as u32, 1_024_000_000, 1_024_000_000, SEMMSL as u32, 500, 500, usz, 32767, aem];
            let mut b = [0u8; 40];
            for (i, v) in vals.iter().enumerate() {
                put32(&mut b, i * 4, *v);
            }
            ctx.mem.write(arg, &b)?;
            return Ok(reg.max_index().into());
        }
        SEM_STAT | SEM_STAT_ANY => {
            let (sid, set) = lock(&ns().sem).by_index(id).ok_or(Errno::EINVAL)?;
            let st = lock(&set.state);
            if cmd == SEM_STAT && !st.perm.allows(ctx, 4) {
                return Err(Errno::EACCES);
            }
            let b = encode(&st);
            drop(st);
            ctx.mem.write(arg, &b)?;
            return Ok(sid.into());
        }
        IPC_RMID => {
            let mut reg = lock(&ns().sem);
            let set = reg.get(id)?;
            if !set.perm().may_change(ctx) {
                return Err(Errno::EPERM);
            }
            reg.remove(id);
            lock(&set.state).removed = true;
            set.waiters.wake_all();
            return Ok(0);
        }
        _ => {}
    }
    let set = lock(&ns().sem).get(id)?;
    let mut st = lock(&set.state);
    st.reap_undo();
    let n = st.sems.len();
    let want = match cmd {
        IPC_SET => 0,
        SETVAL | SETALL => 2,
        IPC_STAT | GETPID | GETVAL | GETALL | GETNCNT | GETZCNT => 4,
        _ => return Err(Errno::EINVAL),
    };
    if cmd == IPC_SET {
        if !st.perm.may_change(ctx) {
            return Err(Errno::EPERM);
        }
    } else if !st.perm.allows(ctx, want) {
        return Err(Errno::EACCES);
    }
    let one = || usize::try_from(num).ok().filter(|i| *i < n).ok_or(Errno::EINVAL);
    let ret = match cmd {
        IPC_STAT => {
            let b = encode(&st);
            drop(st);
            ctx.mem.write(arg, &b)?;
            return Ok(0);
        }
        IPC_SET => {
            let mut raw = [0u8; 104];
            ctx.mem.read(arg, &mut raw)?;
            st.perm.set_from(&raw);
            st.ctime = now_secs();
            0
        }
        GETVAL => st.sems[one()?].val.into(),
        GETPID => st.sems[one()?].pid.into(),
        GETNCNT => st.sems[one()?].ncnt.into(),
        GETZCNT => st.sems[one()?].zcnt.into(),
        GETALL => {
            let b: Vec<u8> = st.sems.iter().flat_map(|s| (s.val as u16).to_ne_bytes()).collect();
            drop(st);
            ctx.mem.write(arg, &b)?;
            return Ok(0);
        }
        SETVAL => {
            let i = one()?;
            // The union semun's int member: the low 32 bits of the argument.
            let v = arg as u32 as i32;
            if !(0..=SEMVMX).contains(&v) {
                return Err(Errno::ERANGE);
            }
            st.sems[i].val = v;
            st.sems[i].pid = ctx.task.tg.tgid;
            for u in st.undo.iter_mut() {
                u.adj[i] = 0;
            }
            st.ctime = now_secs();
            0
        }
        SETALL => {
            let mut raw = vec![0u8; n * 2];
            ctx.mem.read(arg, &mut raw)?;
            let vals: Vec<i32> = raw.chunks_exact(2).map(|c| i32::from(u16::from_ne_bytes([c[0], c[1]]))).collect();
            if vals.iter().any(|v| *v > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            let pid = ctx.task.tg.tgid;
            for (s, v) in st.sems.iter_mut().zip(vals) {
                s.val = v;
                s.pid = pid;
            }
            for u in st.undo.iter_mut() {
                u.adj.iter_mut().for_each(|x| *x = 0);
            }
            st.ctime = now_secs();
            0
        }
        _ => return Err(Errno::EINVAL),
    };
    drop(st);
    // Only changes of values or permissions can unblock a waiter.
    if matches!(cmd, SETVAL | SETALL | IPC_SET) {
        set.waiters.wake_all();
    }
    Ok(ret)
}

/// /proc/sysvipc/sem.
pub fn proc_table() -> String {
    let mut out =
        String::from("       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n");
    for (id, set) in lock(&ns().sem).entries() {
        let st = lock(&set.state);
        let p = &st.perm;
        out.push_str(&format!(
            "{:>10} {:>10}  {:>4o} {:>10} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10}\n",
            p.key,
            id,
            p.mode & 0o7777,
            st.sems.len(),
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            st.otime,
            st.ctime
        ));
    }
    out
}
