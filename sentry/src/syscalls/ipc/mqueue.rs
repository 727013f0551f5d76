//! POSIX message queues (basic): mq_open, mq_unlink, mq_timedsend,
//! mq_timedreceive, mq_getsetattr as sentry objects behind fds. mq_notify
//! is not supported (ENOSYS).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rvisor_syscalls::abi::Timespec;
use rvisor_syscalls::{Errno, SysResult};

use super::{get64, lock, put64, IpcObject, Perm, WaitQueue};
use crate::syscalls::SyscallCtx;
use crate::vfs::{Attr, FileOps, OpenFile, VfsResult};

/// /proc/sys/fs/mqueue defaults and the hard limits root may go up to.
const DFLT_MAXMSG: i64 = 10;
const DFLT_MSGSIZE: i64 = 8192;
const HARD_MAXMSG: i64 = 65536;
const HARD_MSGSIZE: i64 = 16 << 20;
const MQ_PRIO_MAX: u32 = 32768;
const NAME_MAX: usize = 255;
const CAP_SYS_RESOURCE: u32 = 24;

struct Msg {
    prio: u32,
    data: Vec<u8>,
}

struct State {
    perm: Perm,
    /// Sorted by priority, highest last; within a priority the oldest is last.
    msgs: Vec<Msg>,
}

/// A message queue; open descriptions of it are `MqFile`s.
pub struct Queue {
    state: Mutex<State>,
    maxmsg: i64,
    msgsize: i64,
    waiters: WaitQueue,
}

impl IpcObject for Queue {
    fn perm(&self) -> Perm {
        lock(&self.state).perm.clone()
    }
}

/// The sandbox's queue names.
fn names() -> &'static Mutex<HashMap<Vec<u8>, Arc<Queue>>> {
    static NAMES: std::sync::OnceLock<Mutex<HashMap<Vec<u8>, Arc<Queue>>>> = std::sync::OnceLock::new();
    NAMES.get_or_init(Default::default)
}

/// A queue as /dev/mqueue shows it.
pub struct QueueInfo {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The status line reading the queue's file gives.
    pub status: Vec<u8>,
}

fn status_line(st: &State) -> Vec<u8> {
    let bytes: usize = st.msgs.iter().map(|m| m.data.len()).sum();
    format!("QSIZE:{bytes:<10} NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n").into_bytes()
}

/// The names of the sandbox's queues (for /dev/mqueue).
pub fn queue_names() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = lock(names()).keys().cloned().collect();
    v.sort();
    v
}

/// Owner, mode and status of queue `name`, if it exists.
pub fn queue_info(name: &[u8]) -> Option<QueueInfo> {
    let q = lock(names()).get(name)?.clone();
    let st = lock(&q.state);
    Some(QueueInfo { mode: st.perm.mode, uid: st.perm.uid, gid: st.perm.gid, status: status_line(&st) })
}

/// Removes queue `name` (unlink in /dev/mqueue; the caller checked permission).
pub fn remove(name: &[u8]) -> Result<(), Errno> {
    lock(names()).remove(name).map(|_| ()).ok_or(Errno::ENOENT)
}

struct MqFile {
    q: Arc<Queue>,
}

impl FileOps for MqFile {
    /// Like Linux's mqueue fs: reading the fd shows the queue's status line.
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        let line = status_line(&lock(&self.q.state));
        let start = usize::try_from(off).unwrap_or(usize::MAX).min(line.len());
        let n = buf.len().min(line.len() - start);
        buf[..n].copy_from_slice(&line[start..start + n]);
        Ok(n)
    }
    fn write(&self, _buf: &[u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EINVAL)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn attr(&self) -> VfsResult<Attr> {
        let p = self.q.perm();
        Ok(Attr {
            mode: libc::S_IFREG | (p.mode & 0o777),
            nlink: 1,
            uid: p.uid,
            gid: p.gid,
            blksize: 4096,
            ..Default::default()
        })
    }
    fn wait_on(&self, _events: i16, set: &mut crate::kernel::wait::WaitSet) {
        set.queue(&self.q.waiters);
    }
    fn poll(&self, events: i16) -> i16 {
        let st = lock(&self.q.state);
        let mut r = 0;
        if !st.msgs.is_empty() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if (st.msgs.len() as i64) < self.q.maxmsg {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r & events
    }
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn read_name(ctx: &SyscallCtx<'_>, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = ctx.mem.read_path(addr)?;
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    // glibc strips the leading '/'; what reaches the kernel is one path component.
    if name.is_empty() || name.contains(&b'/') || name == b"." || name == b".." {
        return Err(Errno::EACCES);
    }
    Ok(name)
}

pub fn sys_mq_open(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (name_addr, oflag, mode, attr_addr) = (a[0], a[1] as i32, a[2] as u32, a[3]);
    let name = read_name(ctx, name_addr)?;
    let acc = oflag & libc::O_ACCMODE;
    if acc == libc::O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    let want = match acc {
        libc::O_RDONLY => 4,
        libc::O_WRONLY => 2,
        _ => 6,
    };
    let mut map = lock(names());
    let q = match map.get(&name) {
        Some(_) if oflag & libc::O_CREAT != 0 && oflag & libc::O_EXCL != 0 => return Err(Errno::EEXIST),
        Some(q) => {
            if !q.perm().allows(ctx, want) {
                return Err(Errno::EACCES);
            }
            q.clone()
        }
        None if oflag & libc::O_CREAT == 0 => return Err(Errno::ENOENT),
        None => {
            let (mut maxmsg, mut msgsize) = (DFLT_MAXMSG, DFLT_MSGSIZE);
            if attr_addr != 0 {
                let raw: [u8; 64] = ctx.mem.read_val(attr_addr)?;
                (maxmsg, msgsize) = (get64(&raw, 8) as i64, get64(&raw, 16) as i64);
                let root = ctx.task.creds().has_cap(CAP_SYS_RESOURCE);
                let (lim_n, lim_s) = if root { (HARD_MAXMSG, HARD_MSGSIZE) } else { (DFLT_MAXMSG, DFLT_MSGSIZE) };
                if maxmsg <= 0 || msgsize <= 0 || maxmsg > lim_n || msgsize > lim_s {
                    return Err(Errno::EINVAL);
                }
            }
            let c = ctx.task.creds();
            let umask = ctx.task.fs().umask();
            let perm = Perm {
                key: 0,
                uid: c.euid,
                gid: c.egid,
                cuid: c.euid,
                cgid: c.egid,
                mode: mode & 0o777 & !umask,
                seq: 0,
            };
            let q = Arc::new(Queue {
                state: Mutex::new(State { perm, msgs: Vec::new() }),
                maxmsg,
                msgsize,
                waiters: WaitQueue::default(),
            });
            map.insert(name, q.clone());
            q
        }
    };
    drop(map);
    let flags = acc | (oflag & libc::O_NONBLOCK);
    let file = OpenFile::new_anon(Arc::new(MqFile { q }), None, flags, "/".into());
    ctx.task.files().install(file, oflag & libc::O_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

pub fn sys_mq_unlink(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let name = read_name(ctx, a[0])?;
    let mut map = lock(names());
    let q = map.get(&name).ok_or(Errno::ENOENT)?;
    if !q.perm().may_change(ctx) && ctx.task.creds().euid != 0 {
        return Err(Errno::EACCES);
    }
    map.remove(&name);
    Ok(0)
}

/// Whether `file` is an open message queue.
pub fn is_queue(file: &OpenFile) -> bool {
    file.ops().as_any().is::<MqFile>()
}

fn queue_of(file: &Arc<OpenFile>) -> Result<Arc<Queue>, Errno> {
    file.ops().as_any().downcast_ref::<MqFile>().map(|m| m.q.clone()).ok_or(Errno::EBADF)
}

/// An absolute CLOCK_REALTIME timeout as milliseconds from now (-1 = none).
fn timeout_ms(ctx: &SyscallCtx<'_>, addr: u64) -> Result<i32, Errno> {
    if addr == 0 {
        return Ok(-1);
    }
    let ts: Timespec = ctx.mem.read_val(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let at = std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    Ok(at.saturating_sub(now).as_millis().min(i32::MAX as u128) as i32)
}

/// Sleeps on the queue; ETIMEDOUT past the deadline, ERESTARTSYS on a
/// signal (mq calls restart under SA_RESTART).
fn wait(
    ctx: &SyscallCtx<'_>,
    ev: &crate::kernel::wait::EventFd,
    deadline: Option<std::time::Instant>,
) -> Result<(), Errno> {
    let ms = match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Errno::ETIMEDOUT);
            }
            left.as_millis().clamp(1, i32::MAX as u128) as i32
        }
    };
    ctx.block(&[(ev.raw(), libc::POLLIN)], ms)?;
    ev.drain();
    ev.clear();
    Ok(())
}

pub fn sys_mq_timedsend(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, ptr, len, prio, tmo) = (a[0] as i32, a[1], a[2], a[3] as u32, a[4]);
    let file = ctx.file(fd)?;
    let q = queue_of(&file)?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    if prio >= MQ_PRIO_MAX {
        return Err(Errno::EINVAL);
    }
    if len > q.msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let ms = timeout_ms(ctx, tmo)?;
    let deadline = (ms >= 0).then(|| std::time::Instant::now() + std::time::Duration::from_millis(ms as u64));
    let mut data = vec![0u8; len as usize];
    ctx.mem.read(ptr, &mut data)?;
    loop {
        let ev = q.waiters.register()?;
        {
            let mut st = lock(&q.state);
            if (st.msgs.len() as i64) < q.maxmsg {
                let at = st.msgs.partition_point(|m| m.prio < prio);
                st.msgs.insert(at, Msg { prio, data });
                drop(st);
                q.waiters.wake_all();
                return Ok(0);
            }
        }
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        wait(ctx, &ev, deadline)?;
    }
}

pub fn sys_mq_timedreceive(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, ptr, len, prio_addr, tmo) = (a[0] as i32, a[1], a[2], a[3], a[4]);
    let file = ctx.file(fd)?;
    let q = queue_of(&file)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if len < q.msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let ms = timeout_ms(ctx, tmo)?;
    let deadline = (ms >= 0).then(|| std::time::Instant::now() + std::time::Duration::from_millis(ms as u64));
    loop {
        let ev = q.waiters.register()?;
        {
            let mut st = lock(&q.state);
            if let Some(m) = st.msgs.pop() {
                // A bad buffer leaves the message queued.
                let put = ctx.mem.write(ptr, &m.data).and_then(|()| {
                    if prio_addr != 0 {
                        ctx.mem.write_val(prio_addr, &m.prio)
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = put {
                    st.msgs.push(m);
                    return Err(e);
                }
                drop(st);
                q.waiters.wake_all();
                return Ok(m.data.len() as i64);
            }
        }
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        wait(ctx, &ev, deadline)?;
    }
}

pub fn sys_mq_notify(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    ctx.unsupported("mq_notify", Errno::ENOSYS)
}

pub fn sys_mq_getsetattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, new_addr, old_addr) = (a[0] as i32, a[1], a[2]);
    let new = if new_addr != 0 { Some(ctx.mem.read_val::<[u8; 64]>(new_addr)?) } else { None };
    let file = ctx.file(fd)?;
    let q = queue_of(&file)?;
    if let Some(raw) = &new {
        if get64(raw, 0) & !(libc::O_NONBLOCK as u64) != 0 {
            return Err(Errno::EINVAL);
        }
    }
    let mut old = [0u8; 64];
    put64(&mut old, 0, (file.flags() & libc::O_NONBLOCK) as u64);
    put64(&mut old, 8, q.maxmsg as u64);
    put64(&mut old, 16, q.msgsize as u64);
    put64(&mut old, 24, lock(&q.state).msgs.len() as u64);
    if let Some(raw) = new {
        let nb = get64(&raw, 0) as i32 & libc::O_NONBLOCK;
        file.set_status_flags((file.flags() & !libc::O_NONBLOCK) | nb);
    }
    if old_addr != 0 {
        ctx.mem.write(old_addr, &old)?;
    }
    Ok(0)
}
