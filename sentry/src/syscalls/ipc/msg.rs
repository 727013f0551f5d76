//! System V message queues: msgget, msgsnd, msgrcv, msgctl.

use std::collections::VecDeque;
use std::sync::Mutex;

use rvisor_syscalls::{Errno, SysResult};

use super::{get64, lock, now_secs, ns, put64, Deadline, IpcObject, Perm, WaitQueue, IPC_INFO, IPC_NOWAIT};
use super::{IPC_RMID, IPC_SET, IPC_STAT};
use crate::syscalls::SyscallCtx;

/// Linux defaults: largest message, default queue bytes, max queues.
const MSGMAX: usize = 8192;
const MSGMNB: u64 = 16384;
const MSGMNI: usize = 32000;
const MSG_NOERROR: i32 = 0o10000;
const MSG_EXCEPT: i32 = 0o20000;
const MSG_COPY: i32 = 0o40000;
const MSG_STAT: i32 = 11;
const MSG_INFO: i32 = 12;
const MSG_STAT_ANY: i32 = 13;

struct Message {
    mtype: i64,
    data: Vec<u8>,
}

#[derive(Default)]
struct State {
    perm: Perm,
    messages: VecDeque<Message>,
    cbytes: u64,
    qbytes: u64,
    stime: u64,
    rtime: u64,
    ctime: u64,
    lspid: i32,
    lrpid: i32,
    removed: bool,
}

/// A message queue.
pub struct Queue {
    state: Mutex<State>,
    /// Senders waiting for room and receivers waiting for a message.
    waiters: WaitQueue,
}

impl IpcObject for Queue {
    fn perm(&self) -> Perm {
        lock(&self.state).perm.clone()
    }
}

pub fn sys_msgget(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (key, flags) = (a[0] as i32, a[1] as i32);
    let mut reg = lock(&ns().msg);
    if let Some((id, _)) = reg.lookup(ctx, key, flags)? {
        return Ok(id.into());
    }
    if reg.objects.len() >= MSGMNI {
        return Err(Errno::ENOSPC);
    }
    let id = reg.insert(ctx, key, flags, |perm| Queue {
        state: Mutex::new(State { perm, qbytes: MSGMNB, ctime: now_secs(), ..Default::default() }),
        waiters: WaitQueue::default(),
    })?;
    Ok(id.into())
}

pub fn sys_msgsnd(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (id, addr, size, flags) = (a[0] as i32, a[1], a[2] as i64, a[3] as i32);
    if size < 0 || size as usize > MSGMAX {
        return Err(Errno::EINVAL);
    }
    let mtype: i64 = ctx.mem.read_val(addr)?;
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let mut data = vec![0u8; size as usize];
    ctx.mem.read(addr.wrapping_add(8), &mut data)?;
    let q = lock(&ns().msg).get(id)?;
    let deadline = Deadline::new(-1);
    loop {
        let ev = q.waiters.register()?;
        {
            let mut st = lock(&q.state);
            if st.removed {
                return Err(Errno::EIDRM);
            }
            if !st.perm.allows(ctx, 2) {
                return Err(Errno::EACCES);
            }
            if data.len() as u64 + st.cbytes <= st.qbytes && (st.messages.len() as u64) < st.qbytes {
                st.cbytes += data.len() as u64;
                st.messages.push_back(Message { mtype, data });
                st.lspid = ctx.task.tg.tgid;
                st.stime = now_secs();
                drop(st);
                q.waiters.wake_all();
                return Ok(0);
            }
            if flags & IPC_NOWAIT != 0 {
                return Err(Errno::EAGAIN);
            }
        }
        deadline.sleep(ctx, &ev)?;
    }
}

/// The index of the message msgrcv takes for `mtype` and `flags`.
fn pick(messages: &VecDeque<Message>, mtype: i64, flags: i32) -> Option<usize> {
    if flags & MSG_COPY != 0 {
        return usize::try_from(mtype).ok().filter(|i| *i < messages.len());
    }
    match mtype {
        0 => (!messages.is_empty()).then_some(0),
        t if t > 0 && flags & MSG_EXCEPT != 0 => messages.iter().position(|m| m.mtype != t),
        t if t > 0 => messages.iter().position(|m| m.mtype == t),
        t => {
            let limit = t.checked_neg().unwrap_or(i64::MAX);
            let mut best: Option<usize> = None;
            for (i, m) in messages.iter().enumerate() {
                if m.mtype <= limit && best.is_none_or(|b| m.mtype < messages[b].mtype) {
                    best = Some(i);
                }
            }
            best
        }
    }
}

pub fn sys_msgrcv(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (id, addr, size, mtype, flags) = (a[0] as i32, a[1], a[2] as i64, a[3] as i64, a[4] as i32);
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_COPY != 0 && (flags & IPC_NOWAIT == 0 || flags & MSG_EXCEPT != 0) {
        return Err(Errno::EINVAL);
    }
    let q = lock(&ns().msg).get(id)?;
    let deadline = Deadline::new(-1);
    loop {
        let ev = q.waiters.register()?;
        {
            let mut st = lock(&q.state);
            if st.removed {
                return Err(Errno::EIDRM);
            }
            if !st.perm.allows(ctx, 4) {
                return Err(Errno::EACCES);
            }
            if let Some(i) = pick(&st.messages, mtype, flags) {
                let len = st.messages[i].data.len();
                if len > size as usize && flags & MSG_NOERROR == 0 {
                    return Err(Errno::E2BIG);
                }
                let n = len.min(size as usize);
                let mut out = Vec::with_capacity(8 + n);
                out.extend_from_slice(&st.messages[i].mtype.to_ne_bytes());
                out.extend_from_slice(&st.messages[i].data[..n]);
                // Copy out before dequeuing: a bad buffer leaves the message queued.
                ctx.mem.write(addr, &out)?;
                if flags & MSG_COPY == 0 {
                    st.messages.remove(i);
                    st.cbytes -= len as u64;
                    st.lrpid = ctx.task.tg.tgid;
                    st.rtime = now_secs();
                    drop(st);
                    q.waiters.wake_all();
                }
                return Ok(n as i64);
            }
            if flags & IPC_NOWAIT != 0 {
                return Err(Errno::ENOMSG);
            }
        }
        deadline.sleep(ctx, &ev)?;
    }
}

/// `struct msqid64_ds` (120 bytes on x86-64).
fn encode(st: &State) -> [u8; 120] {
    let mut b = [0u8; 120];
    st.perm.encode(&mut b);
    put64(&mut b, 48, st.stime);
    put64(&mut b, 56, st.rtime);
    put64(&mut b, 64, st.ctime);
    put64(&mut b, 72, st.cbytes);
    put64(&mut b, 80, st.messages.len() as u64);
    put64(&mut b, 88, st.qbytes);
    super::put32(&mut b, 96, st.lspid as u32);
    super::put32(&mut b, 100, st.lrpid as u32);
    b
}

pub fn sys_msgctl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (id, cmd, buf) = (a[0] as i32, a[1] as i32, a[2]);
    match cmd {
        IPC_INFO | MSG_INFO => {
            // struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql (int), msgseg (ushort).
            let reg = lock(&ns().msg);
            let mut b = [0u8; 32];
            let vals: [u32; 7] = if cmd == MSG_INFO {
                let (mut queues, mut bytes) = (0u32, 0u32);
                for q in reg.objects.values() {
                    let st = lock(&q.state);
                    queues += st.messages.len() as u32;
                    bytes += st.cbytes as u32;
                }
                [reg.objects.len() as u32, queues, MSGMAX as u32, MSGMNB as u32, MSGMNI as u32, 16, bytes]
            } else {
                [MSGMNI as u32 * 8 / 1024, 16384, MSGMAX as u32, MSGMNB as u32, MSGMNI as u32, 16, 16384]
            };
            for (i, v) in vals.iter().enumerate() {
                super::put32(&mut b, i * 4, *v);
            }
            b[28..30].copy_from_slice(&0xffffu16.to_ne_bytes());
            ctx.mem.write(buf, &b)?;
            Ok(reg.max_index().into())
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            let (ret, q) = if cmd == IPC_STAT {
                (0, lock(&ns().msg).get(id)?)
            } else {
                let (qid, q) = lock(&ns().msg).by_index(id).ok_or(Errno::EINVAL)?;
                (qid, q)
            };
            let st = lock(&q.state);
            if cmd != MSG_STAT_ANY && !st.perm.allows(ctx, 4) {
                return Err(Errno::EACCES);
            }
            let b = encode(&st);
            drop(st);
            ctx.mem.write(buf, &b)?;
            Ok(ret.into())
        }
        IPC_SET => {
            let mut raw = [0u8; 120];
            ctx.mem.read(buf, &mut raw)?;
            let q = lock(&ns().msg).get(id)?;
            let mut st = lock(&q.state);
            if !st.perm.may_change(ctx) {
                return Err(Errno::EPERM);
            }
            let qbytes = get64(&raw, 88);
            if qbytes > MSGMNB && !ctx.task.creds().has_cap(24) {
                return Err(Errno::EPERM);
            }
            st.perm.set_from(&raw);
            st.qbytes = qbytes;
            st.ctime = now_secs();
            drop(st);
            q.waiters.wake_all();
            Ok(0)
        }
        IPC_RMID => {
            let mut reg = lock(&ns().msg);
            let q = reg.get(id)?;
            if !q.perm().may_change(ctx) {
                return Err(Errno::EPERM);
            }
            reg.remove(id);
            lock(&q.state).removed = true;
            q.waiters.wake_all();
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// /proc/sysvipc/msg.
pub fn proc_table() -> String {
    let mut out = String::from(
        "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
    );
    for (id, q) in lock(&ns().msg).entries() {
        let st = lock(&q.state);
        let p = &st.perm;
        out.push_str(&format!(
            "{:>10} {:>10}  {:>4o}  {:>10} {:>10} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10}\n",
            p.key,
            id,
            p.mode & 0o7777,
            st.cbytes,
            st.messages.len(),
            st.lspid,
            st.lrpid,
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            st.stime,
            st.rtime,
            st.ctime
        ));
    }
    out
}
