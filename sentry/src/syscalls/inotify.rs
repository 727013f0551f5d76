//! inotify (basic): events come from the sentry's own operations (open,
//! read, write, attribute changes, close, mkdir, create, link, unlink,
//! rmdir, rename), never from the host. A hub maps watched inodes, by (dev, ino), to the watches on them;
//! while no watch exists the hooks cost one atomic load.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::wait::EventFd;
use crate::vfs::{Attr, FileOps, Location, OpenFile, VfsResult};

pub const IN_ACCESS: u32 = 0x1;
pub const IN_MODIFY: u32 = 0x2;
pub const IN_ATTRIB: u32 = 0x4;
pub const IN_CLOSE_WRITE: u32 = 0x8;
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
pub const IN_OPEN: u32 = 0x20;
pub const IN_DELETE_SELF: u32 = 0x400;
pub const IN_MOVE_SELF: u32 = 0x800;
pub const IN_MOVED_FROM: u32 = 0x40;
pub const IN_MOVED_TO: u32 = 0x80;
pub const IN_CREATE: u32 = 0x100;
pub const IN_DELETE: u32 = 0x200;
const IN_ALL_EVENTS: u32 = 0xfff;
const IN_IGNORED: u32 = 0x8000;
pub const IN_ISDIR: u32 = 0x4000_0000;
const IN_ONLYDIR: u32 = 0x0100_0000;
const IN_DONT_FOLLOW: u32 = 0x0200_0000;
const IN_EXCL_UNLINK: u32 = 0x0400_0000;
const IN_MASK_CREATE: u32 = 0x1000_0000;
const IN_MASK_ADD: u32 = 0x2000_0000;
const IN_ONESHOT: u32 = 0x8000_0000;
/// Queue limit (/proc/sys/fs/inotify/max_queued_events).
const MAX_QUEUED: usize = 16384;
const IN_Q_OVERFLOW: u32 = 0x4000;

type Key = (u64, u64);

/// Watches in the sandbox; zero means the hooks return at once.
static WATCHES: AtomicUsize = AtomicUsize::new(0);
static COOKIE: AtomicU32 = AtomicU32::new(1);

/// Watched inode -> (instance, wd) of each watch on it.
type Hub = Mutex<HashMap<Key, Vec<(Weak<Inotify>, i32)>>>;

fn hub() -> &'static Hub {
    static HUB: std::sync::OnceLock<Hub> = std::sync::OnceLock::new();
    HUB.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn key_of(attr: &Attr) -> Key {
    (attr.dev, attr.ino)
}

#[derive(Default)]
struct State {
    next_wd: i32,
    /// wd -> (inode key, mask)
    watches: HashMap<i32, (Key, u32)>,
    queue: VecDeque<Vec<u8>>,
}

/// An inotify instance. Its eventfd is readable while events are queued,
/// so blocking reads, poll and epoll wait on a host fd.
pub struct Inotify {
    state: Mutex<State>,
    ready: EventFd,
    /// Itself, for the hub's weak references.
    me: Weak<Inotify>,
}

fn encode(wd: i32, mask: u32, cookie: u32, name: &[u8]) -> Vec<u8> {
    // The name is NUL-terminated and padded to a multiple of 16 bytes.
    let len = if name.is_empty() { 0 } else { (name.len() + 1).div_ceil(16) * 16 };
    let mut e = Vec::with_capacity(16 + len);
    e.extend_from_slice(&wd.to_ne_bytes());
    e.extend_from_slice(&mask.to_ne_bytes());
    e.extend_from_slice(&cookie.to_ne_bytes());
    e.extend_from_slice(&(len as u32).to_ne_bytes());
    e.extend_from_slice(name);
    e.resize(16 + len, 0);
    e
}

impl Inotify {
    fn push(&self, st: &mut State, ev: Vec<u8>) {
        // Linux merges an event identical to the last one still queued.
        if st.queue.back() == Some(&ev) {
            return;
        }
        if st.queue.len() >= MAX_QUEUED {
            let overflow = encode(-1, IN_Q_OVERFLOW, 0, b"");
            if st.queue.back() != Some(&overflow) {
                st.queue.push_back(overflow);
            }
            return;
        }
        st.queue.push_back(ev);
        self.ready.notify();
    }

    fn remove_watch(&self, st: &mut State, wd: i32) -> Option<Key> {
        let (key, _) = st.watches.remove(&wd)?;
        WATCHES.fetch_sub(1, Ordering::Relaxed);
        let mut h = lock(hub());
        if let Some(v) = h.get_mut(&key) {
            v.retain(|(i, w)| !(*w == wd && std::ptr::eq(i.as_ptr(), self)));
            if v.is_empty() {
                h.remove(&key);
            }
        }
        Some(key)
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let n = st.watches.len();
        WATCHES.fetch_sub(n, Ordering::Relaxed);
        let mut h = lock(hub());
        for (key, _) in st.watches.values() {
            if let Some(v) = h.get_mut(key) {
                v.retain(|(i, _)| i.strong_count() > 0);
                if v.is_empty() {
                    h.remove(key);
                }
            }
        }
    }
}

impl FileOps for Inotify {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        let mut st = lock(&self.state);
        let first = st.queue.front().ok_or(Errno::EAGAIN)?;
        if first.len() > buf.len() {
            return Err(Errno::EINVAL);
        }
        let mut n = 0;
        while st.queue.front().is_some_and(|e| n + e.len() <= buf.len()) {
            let Some(e) = st.queue.pop_front() else { break };
            buf[n..n + e.len()].copy_from_slice(&e);
            n += e.len();
        }
        if st.queue.is_empty() {
            self.ready.drain();
            self.ready.clear();
        }
        Ok(n)
    }
    fn write(&self, _buf: &[u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EINVAL)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr { mode: 0o600, nlink: 1, blksize: 4096, ..Default::default() })
    }
    fn host_fd(&self) -> Option<std::os::fd::RawFd> {
        Some(self.ready.raw())
    }
    fn per_segment_io(&self, _write: bool) -> bool {
        true
    }
    fn async_sources(&self) -> Option<Vec<(std::os::fd::RawFd, i16)>> {
        // Each queued event writes the eventfd: one edge, one SIGIO.
        Some(vec![(self.ready.raw(), libc::POLLIN)])
    }
    fn poll(&self, events: i16) -> i16 {
        if lock(&self.state).queue.is_empty() {
            0
        } else {
            events & (libc::POLLIN | libc::POLLRDNORM)
        }
    }
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A dnotify registration was added: the hooks must run from now on.
pub fn watch_added() {
    WATCHES.fetch_add(1, Ordering::Relaxed);
}

/// Queues `mask` (with `name` for a directory's child) for every watch on
/// `key`, and offers it to dnotify registrations on `key`.
fn emit(key: Key, mask: u32, cookie: u32, name: &[u8]) {
    super::dnotify::event(key, mask);
    let targets: Vec<(Arc<Inotify>, i32)> = match lock(hub()).get(&key) {
        Some(v) => v.iter().filter_map(|(i, wd)| i.upgrade().map(|i| (i, *wd))).collect(),
        None => return,
    };
    for (inst, wd) in targets {
        let mut st = lock(&inst.state);
        let Some(&(_, wmask)) = st.watches.get(&wd) else { continue };
        if wmask & mask & IN_ALL_EVENTS == 0 {
            continue;
        }
        inst.push(&mut st, encode(wd, mask, cookie, name));
        if wmask & IN_ONESHOT != 0 {
            inst.remove_watch(&mut st, wd);
            inst.push(&mut st, encode(wd, IN_IGNORED, 0, b""));
        }
    }
}

/// A change to child `name` of directory `parent` (create, delete, move).
pub fn child_event(parent: &Location, name: &[u8], mask: u32, cookie: u32) {
    if WATCHES.load(Ordering::Relaxed) == 0 {
        return;
    }
    if let Ok(attr) = parent.attr() {
        emit(key_of(&attr), mask, cookie, name);
    }
}

/// A fresh cookie tying an IN_MOVED_FROM to its IN_MOVED_TO.
pub fn move_cookie() -> u32 {
    if WATCHES.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    COOKIE.fetch_add(1, Ordering::Relaxed)
}

/// An event on an open file: reported, with its name, to watches on its
/// directory, then to watches on the file itself.
/// Whether any inotify watch or dnotify registration exists: calls whose
/// outcome the sentry does not see (syscalls/hostread.rs) are left alone
/// only while none does.
pub fn any_watches() -> bool {
    WATCHES.load(Ordering::Relaxed) != 0
}

pub fn file_event(file: &OpenFile, mask: u32) {
    if WATCHES.load(Ordering::Relaxed) == 0 {
        return;
    }
    if let Some(loc) = file.location() {
        loc_event(loc, mask);
    }
}

/// An event on the object at `loc` (open, access, attributes, close):
/// its directory hears first, with the name, as in Linux's fsnotify_parent.
pub fn loc_event(loc: &Location, mask: u32) {
    if WATCHES.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Ok(attr) = loc.attr() else { return };
    let dir = if attr.is_dir() { IN_ISDIR } else { 0 };
    if let Some(parent) = loc.dentry.parent() {
        if let Ok(pattr) = parent.attr() {
            emit(key_of(&pattr), mask | dir, 0, &loc.dentry.name());
        }
    }
    emit(key_of(&attr), mask | dir, 0, b"");
}

/// An event only the object's own watches hear (link count changes,
/// IN_MOVE_SELF, IN_DELETE_SELF); `attr` was taken before the change.
pub fn self_event(attr: &Attr, mask: u32) {
    if WATCHES.load(Ordering::Relaxed) == 0 {
        return;
    }
    emit(key_of(attr), mask, 0, b"");
}

/// A name of a non-directory was unlinked (`attr` from before): its link
/// count changed, and with the last name the object is gone.
pub fn unlinked(attr: &Attr) {
    self_event(attr, IN_ATTRIB);
    if attr.nlink <= 1 {
        deleted(attr);
    }
}

/// The object is gone: IN_DELETE_SELF, then every watch on it ends with
/// IN_IGNORED (before the directory's IN_DELETE, as Linux orders them).
pub fn deleted(attr: &Attr) {
    if WATCHES.load(Ordering::Relaxed) == 0 {
        return;
    }
    let key = key_of(attr);
    emit(key, IN_DELETE_SELF, 0, b"");
    let targets: Vec<(Arc<Inotify>, i32)> = match lock(hub()).get(&key) {
        Some(v) => v.iter().filter_map(|(i, wd)| i.upgrade().map(|i| (i, *wd))).collect(),
        None => return,
    };
    for (inst, wd) in targets {
        let mut st = lock(&inst.state);
        if inst.remove_watch(&mut st, wd).is_some() {
            inst.push(&mut st, encode(wd, IN_IGNORED, 0, b""));
        }
    }
}

/// open(2) of `file`: IN_OPEN (O_PATH opens are silent).
pub fn opened(file: &OpenFile) {
    if !file.is_path_only() {
        file_event(file, IN_OPEN);
    }
}

/// The last reference to an open description went: IN_CLOSE_WRITE or
/// IN_CLOSE_NOWRITE.
pub fn closed(file: &OpenFile) {
    if !file.is_path_only() {
        file_event(file, if file.writable() { IN_CLOSE_WRITE } else { IN_CLOSE_NOWRITE });
    }
}

pub fn sys_inotify_init(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    init(ctx, 0)
}

pub fn sys_inotify_init1(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    init(ctx, a[0] as i32)
}

fn init(ctx: &mut SyscallCtx<'_>, flags: i32) -> SysResult {
    if flags & !(libc::IN_CLOEXEC | libc::IN_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let ready = EventFd::new()?;
    let ops = Arc::new_cyclic(|me| Inotify {
        state: Mutex::new(State { next_wd: 1, ..Default::default() }),
        ready,
        me: me.clone(),
    });
    let file = OpenFile::new_anon(ops, None, libc::O_RDONLY | (flags & libc::IN_NONBLOCK), "anon_inode:inotify".into());
    ctx.task.files().install(file, flags & libc::IN_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

fn instance(file: &Arc<OpenFile>) -> Result<Arc<Inotify>, Errno> {
    file.ops().as_any().downcast_ref::<Inotify>().and_then(|i| i.me.upgrade()).ok_or(Errno::EINVAL)
}

pub fn sys_inotify_add_watch(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, path, mask) = (a[0] as i32, a[1], a[2] as u32);
    let file = ctx.file(fd)?;
    let inst = instance(&file)?;
    if mask & IN_ALL_EVENTS == 0 || (mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0) {
        return Err(Errno::EINVAL);
    }
    let loc = ctx.resolve_arg(super::AT_FDCWD, path, mask & IN_DONT_FOLLOW == 0, false)?;
    let attr = loc.attr()?;
    if mask & IN_ONLYDIR != 0 && !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let key = key_of(&attr);
    let keep = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;
    let mut st = lock(&inst.state);
    if let Some((&wd, entry)) = st.watches.iter_mut().find(|(_, (k, _))| *k == key) {
        if mask & IN_MASK_CREATE != 0 {
            return Err(Errno::EEXIST);
        }
        entry.1 = if mask & IN_MASK_ADD != 0 { entry.1 | (mask & keep) } else { mask & keep };
        return Ok(wd.into());
    }
    let wd = st.next_wd;
    st.next_wd += 1;
    st.watches.insert(wd, (key, mask & keep));
    WATCHES.fetch_add(1, Ordering::Relaxed);
    lock(hub()).entry(key).or_default().push((Arc::downgrade(&inst), wd));
    Ok(wd.into())
}

pub fn sys_inotify_rm_watch(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, wd) = (a[0] as i32, a[1] as i32);
    let file = ctx.file(fd)?;
    let inst = instance(&file)?;
    let mut st = lock(&inst.state);
    inst.remove_watch(&mut st, wd).ok_or(Errno::EINVAL)?;
    inst.push(&mut st, encode(wd, IN_IGNORED, 0, b""));
    Ok(0)
}
