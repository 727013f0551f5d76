//! System V IPC: message queues, semaphore sets and shared memory, as
//! sentry objects. The sentry serves exactly one sandbox, so the IPC
//! namespace is process-wide state here: nothing is shared with the host's.

pub mod mqueue;
pub mod msg;
pub mod sem;
pub mod shm;

use std::collections::{BTreeMap, HashMap};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rvisor_syscalls::Errno;

use super::SyscallCtx;
use crate::kernel::wait::EventFd;
/// Tasks blocked on an IPC object (the VFS's readiness queues).
pub use crate::kernel::wait::WaitQueue;

pub const IPC_PRIVATE: i32 = 0;
pub const IPC_CREAT: i32 = 0o1000;
pub const IPC_EXCL: i32 = 0o2000;
pub const IPC_NOWAIT: i32 = 0o4000;
pub const IPC_RMID: i32 = 0;
pub const IPC_SET: i32 = 1;
pub const IPC_STAT: i32 = 2;
pub const IPC_INFO: i32 = 3;
/// Linux's IPCMNI: ids are `seq * IPCMNI + index`.
const IPCMNI: i32 = 32768;
const CAP_IPC_OWNER: u32 = 15;
const CAP_SYS_ADMIN: u32 = 21;

/// Ownership and mode of an IPC object (`struct ipc64_perm`).
#[derive(Clone, Debug, Default)]
pub struct Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u16,
}

impl Perm {
    /// The 48-byte `struct ipc64_perm` of x86-64.
    pub fn encode(&self, out: &mut [u8]) {
        put32(out, 0, self.key as u32);
        put32(out, 4, self.uid);
        put32(out, 8, self.gid);
        put32(out, 12, self.cuid);
        put32(out, 16, self.cgid);
        put32(out, 20, self.mode);
        out[24..26].copy_from_slice(&self.seq.to_ne_bytes());
    }

    /// Whether the caller may access the object with `want` (octal rwx bits
    /// in the owner position, as Linux's ipcperms: 4 read, 2 write).
    pub fn allows(&self, ctx: &SyscallCtx<'_>, want: u32) -> bool {
        let c = ctx.task.creds();
        let granted = if c.euid == self.cuid || c.euid == self.uid {
            self.mode >> 6
        } else if c.egid == self.cgid || c.egid == self.gid || c.groups.contains(&self.gid) {
            self.mode >> 3
        } else {
            self.mode
        } & 7;
        want & !granted == 0 || c.has_cap(CAP_IPC_OWNER)
    }

    /// IPC_SET and IPC_RMID: owner, creator or CAP_SYS_ADMIN.
    pub fn may_change(&self, ctx: &SyscallCtx<'_>) -> bool {
        let c = ctx.task.creds();
        c.euid == self.uid || c.euid == self.cuid || c.has_cap(CAP_SYS_ADMIN)
    }

    /// IPC_SET: new uid, gid and the low 9 mode bits from a user ipc64_perm.
    pub fn set_from(&mut self, raw: &[u8]) {
        self.uid = get32(raw, 4);
        self.gid = get32(raw, 8);
        self.mode = (self.mode & !0o777) | (get32(raw, 20) & 0o777);
    }
}

pub fn put32(out: &mut [u8], off: usize, v: u32) {
    out[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

pub fn put64(out: &mut [u8], off: usize, v: u64) {
    out[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

pub fn get32(raw: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([raw[off], raw[off + 1], raw[off + 2], raw[off + 3]])
}

pub fn get64(raw: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&raw[off..off + 8]);
    u64::from_ne_bytes(b)
}

/// Seconds since the epoch, for the *_time fields.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// An IPC object kind's registry: ids to objects, keys to ids.
pub struct Registry<T> {
    objects: BTreeMap<i32, Arc<T>>,
    keys: HashMap<i32, i32>,
    seq: u16,
    /// The index given last: indexes are handed out cyclically, and the
    /// sequence number goes up when they wrap (as Linux's idr_alloc_cyclic),
    /// so a fresh namespace's ids are 0, 1, 2...
    last_index: Option<i32>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry { objects: BTreeMap::new(), keys: HashMap::new(), seq: 0, last_index: None }
    }
}

/// Objects with a `Perm` the registry can look through.
pub trait IpcObject {
    fn perm(&self) -> Perm;
}

impl<T: IpcObject> Registry<T> {
    pub fn get(&self, id: i32) -> Result<Arc<T>, Errno> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        self.objects.get(&id).cloned().ok_or(Errno::EINVAL)
    }

    /// The `*get` lookup: the existing object for `key` (checked against
    /// `flags`), or `Err(ENOENT)`; `Ok(None)` means "create one".
    pub fn lookup(&self, ctx: &SyscallCtx<'_>, key: i32, flags: i32) -> Result<Option<(i32, Arc<T>)>, Errno> {
        if key == IPC_PRIVATE {
            return Ok(None);
        }
        match self.keys.get(&key) {
            None if flags & IPC_CREAT != 0 => Ok(None),
            None => Err(Errno::ENOENT),
            Some(_) if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 => Err(Errno::EEXIST),
            Some(&id) => {
                let obj = self.objects.get(&id).cloned().ok_or(Errno::ENOENT)?;
                let want = ((flags as u32) & 0o777) >> 6 | ((flags as u32) & 0o777) >> 3 | (flags as u32) & 0o7;
                if !obj.perm().allows(ctx, want & 7) {
                    return Err(Errno::EACCES);
                }
                Ok(Some((id, obj)))
            }
        }
    }

    /// Registers a new object made by `make(perm)`; returns its id.
    pub fn insert(
        &mut self,
        ctx: &SyscallCtx<'_>,
        key: i32,
        flags: i32,
        make: impl FnOnce(Perm) -> T,
    ) -> Result<i32, Errno> {
        let used: std::collections::HashSet<i32> = self.objects.keys().map(|id| id % IPCMNI).collect();
        let start = self.last_index.map_or(0, |l| l + 1);
        let index = (start..IPCMNI).chain(0..start).find(|i| !used.contains(i)).ok_or(Errno::ENOSPC)?;
        if self.last_index.is_some_and(|l| index <= l) {
            self.seq = self.seq.wrapping_add(1) % (i32::MAX / IPCMNI) as u16;
        }
        self.last_index = Some(index);
        let c = ctx.task.creds();
        let perm = Perm {
            key,
            uid: c.euid,
            gid: c.egid,
            cuid: c.euid,
            cgid: c.egid,
            mode: (flags as u32) & 0o777,
            seq: self.seq,
        };
        let id = i32::from(self.seq) * IPCMNI + index;
        self.objects.insert(id, Arc::new(make(perm)));
        if key != IPC_PRIVATE {
            self.keys.insert(key, id);
        }
        Ok(id)
    }

    /// Removes `id` (IPC_RMID); its key becomes free at once.
    pub fn remove(&mut self, id: i32) -> Option<Arc<T>> {
        let obj = self.objects.remove(&id)?;
        let key = obj.perm().key;
        if key != IPC_PRIVATE && self.keys.get(&key) == Some(&id) {
            self.keys.remove(&key);
        }
        Some(obj)
    }

    /// Objects in index order (for `*_STAT` by index and /proc/sysvipc).
    pub fn by_index(&self, index: i32) -> Option<(i32, Arc<T>)> {
        self.objects.iter().find(|(id, _)| **id % IPCMNI == index).map(|(id, o)| (*id, o.clone()))
    }

    /// Every object with its id, in id order (/proc/sysvipc).
    pub fn entries(&self) -> Vec<(i32, Arc<T>)> {
        self.objects.iter().map(|(id, o)| (*id, o.clone())).collect()
    }

    /// Every object.
    pub fn all(&self) -> Vec<Arc<T>> {
        self.objects.values().cloned().collect()
    }

    pub fn max_index(&self) -> i32 {
        self.objects.keys().map(|id| id % IPCMNI).max().unwrap_or(0)
    }
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A relative timeout for a blocking IPC call.
pub struct Deadline(Option<Instant>);

impl Deadline {
    pub fn new(timeout_ms: i32) -> Deadline {
        Deadline((timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64)))
    }

    /// Sleeps on `ev` until woken, the deadline (EAGAIN) or a signal (EINTR:
    /// SysV IPC waits are never restarted after a handler).
    pub fn sleep(&self, ctx: &SyscallCtx<'_>, ev: &EventFd) -> Result<(), Errno> {
        self.sleep_at_most(ctx, ev, -1)
    }

    /// Like `sleep`, but for at most `cap_ms` (-1 = no cap) before the
    /// caller re-checks: for conditions no event announces.
    pub fn sleep_at_most(&self, ctx: &SyscallCtx<'_>, ev: &EventFd, cap_ms: i32) -> Result<(), Errno> {
        let mut ms = match self.0 {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Errno::EAGAIN);
                }
                left.as_millis().max(1).min(i32::MAX as u128) as i32
            }
        };
        if cap_ms >= 0 && (ms < 0 || ms > cap_ms) {
            ms = cap_ms;
        }
        let fds: [(RawFd, i16); 1] = [(ev.raw(), libc::POLLIN)];
        ctx.block(&fds, ms).map_err(|e| if e == Errno::ERESTARTSYS { Errno::EINTR } else { e })?;
        // A killed waiter must not go on to take what it waited for (a
        // semaphore, a message): under systrap its wake-up may not show
        // the SIGKILL.
        if ctx.task.tg.killed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Errno::EINTR);
        }
        ev.drain();
        ev.clear();
        Ok(())
    }
}

/// The sandbox's IPC namespace.
#[derive(Default)]
pub struct Namespace {
    pub msg: Mutex<Registry<msg::Queue>>,
    pub sem: Mutex<Registry<sem::Set>>,
    pub shm: Mutex<Registry<shm::Segment>>,
}

pub fn ns() -> &'static Namespace {
    static NS: std::sync::OnceLock<Namespace> = std::sync::OnceLock::new();
    NS.get_or_init(Namespace::default)
}
