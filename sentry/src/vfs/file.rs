//! Open file descriptions: what an fd refers to, shared across dup and fork.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use super::{Attr, DirEntry, Errno, FileOps, Inode, Location, VfsResult};

/// O_LARGEFILE as the kernel reports it on x86_64 (the libc crate defines 0).
pub const O_LARGEFILE: i32 = 0o100000;

/// Status flags that F_SETFL may change. O_ASYNC is not among them: it
/// is set only on files with fasync ([`OpenFile::set_async_flag`]).
pub const SETFL_MASK: i32 = libc::O_APPEND | libc::O_NONBLOCK | libc::O_DIRECT | libc::O_NOATIME;

/// What opening a directory returns in every file system: listing goes
/// through the inode's readdir (getdents), fstat through the inode, so the
/// handle itself only refuses data I/O.
pub struct DirHandle;

impl FileOps for DirHandle {
    fn read(&self, _buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EISDIR)
    }

    fn write(&self, _buf: &[u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EISDIR)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// F_OWNER_TID, F_OWNER_PID and F_OWNER_PGRP (`struct f_owner_ex` types).
pub const F_OWNER_TID: i32 = 0;
pub const F_OWNER_PID: i32 = 1;
pub const F_OWNER_PGRP: i32 = 2;

/// Who gets SIGIO for an open file description (F_SETOWN[_EX]), and which
/// signal (F_SETSIG; 0 means SIGIO without details). Ids are sandbox ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsyncOwner {
    pub kind: i32,
    /// 0: no owner.
    pub id: i32,
    pub sig: i32,
}

impl Default for AsyncOwner {
    fn default() -> Self {
        AsyncOwner { kind: F_OWNER_PID, id: 0, sig: 0 }
    }
}

/// An open file description (Linux `struct file`).
pub struct OpenFile {
    ops: Arc<dyn FileOps>,
    /// Where it was opened; None for anonymous files (pipes, sockets).
    location: Option<Location>,
    /// Inode for anonymous files that still have one (memfd).
    anon_inode: Option<Arc<dyn Inode>>,
    /// open(2) flags: access mode and status flags.
    flags: AtomicI32,
    /// The file position; see [`OpenFile::position`].
    offset: Mutex<u64>,
    /// A private host description of the file, once the app reads it on the
    /// host (syscalls/hostread.rs): the position then lives in it, where the
    /// host kernel moves it.
    host_position: std::sync::OnceLock<std::os::fd::OwnedFd>,
    /// Directory listing snapshot taken by the first getdents; offsets index it.
    pub dir_snapshot: Mutex<Option<Vec<DirEntry>>>,
    /// Name shown by /proc/[pid]/fd for anonymous files, e.g. "pipe:[1234]".
    anon_name: Option<String>,
    /// F_SETOWN/F_SETSIG state.
    owner: Mutex<AsyncOwner>,
    /// The open created the file (F_CREATED_QUERY).
    created: std::sync::atomic::AtomicBool,
    /// Held while a regular file is open for writing (ETXTBSY for exec).
    write_access: std::sync::OnceLock<super::writecount::WriteAccess>,
    /// Held while a regular file is open for reading only (leases count them).
    read_access: std::sync::OnceLock<super::writecount::ReadAccess>,
}

impl OpenFile {
    /// A file opened through a path.
    pub fn new(ops: Arc<dyn FileOps>, location: Location, flags: i32) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            ops,
            location: Some(location),
            anon_inode: None,
            flags: AtomicI32::new(flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC)),
            offset: Mutex::new(0),
            host_position: Default::default(),
            dir_snapshot: Mutex::new(None),
            anon_name: None,
            owner: Mutex::new(AsyncOwner::default()),
            created: Default::default(),
            write_access: Default::default(),
            read_access: Default::default(),
        })
    }

    /// Keeps the file's write access for as long as this description lives.
    pub fn hold_write_access(&self, access: super::writecount::WriteAccess) {
        let _ = self.write_access.set(access);
    }

    /// Counts this description among the file's readers while it lives.
    pub fn hold_read_access(&self, access: super::writecount::ReadAccess) {
        let _ = self.read_access.set(access);
    }

    /// A file with no path (pipe end, memfd, host stdio).
    pub fn new_anon(ops: Arc<dyn FileOps>, inode: Option<Arc<dyn Inode>>, flags: i32, name: String) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            ops,
            location: None,
            anon_inode: inode,
            flags: AtomicI32::new(flags),
            offset: Mutex::new(0),
            host_position: Default::default(),
            dir_snapshot: Mutex::new(None),
            anon_name: Some(name),
            owner: Mutex::new(AsyncOwner::default()),
            created: Default::default(),
            write_access: Default::default(),
            read_access: Default::default(),
        })
    }

    /// Records that the open creating this file made it (O_CREAT).
    pub fn mark_created(&self) {
        self.created.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// F_CREATED_QUERY: whether the open that made this description created the file.
    pub fn was_created(&self) -> bool {
        self.created.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn ops(&self) -> &Arc<dyn FileOps> {
        &self.ops
    }

    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    pub fn inode(&self) -> Option<&Arc<dyn Inode>> {
        self.location.as_ref().map(|l| l.inode()).or(self.anon_inode.as_ref())
    }

    pub fn anon_name(&self) -> Option<&str> {
        self.anon_name.as_deref()
    }

    pub fn flags(&self) -> i32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// F_SETFL: replaces the changeable status flags.
    pub fn set_status_flags(&self, flags: i32) {
        let old = self.flags();
        self.flags.store((old & !SETFL_MASK) | (flags & SETFL_MASK), Ordering::Relaxed);
    }

    /// Sets or clears O_ASYNC (for files whose fasync took the change).
    pub fn set_async_flag(&self, on: bool) {
        if on {
            self.flags.fetch_or(libc::O_ASYNC, Ordering::Relaxed);
        } else {
            self.flags.fetch_and(!libc::O_ASYNC, Ordering::Relaxed);
        }
    }

    pub fn async_owner(&self) -> AsyncOwner {
        *self.owner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Updates the F_SETOWN/F_SETSIG state.
    pub fn set_async_owner(&self, f: impl FnOnce(&mut AsyncOwner)) {
        f(&mut self.owner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn nonblocking(&self) -> bool {
        self.flags() & libc::O_NONBLOCK != 0
    }

    pub fn readable(&self) -> bool {
        let acc = self.flags() & libc::O_ACCMODE;
        (acc == libc::O_RDONLY || acc == libc::O_RDWR) && self.flags() & libc::O_PATH == 0
    }

    pub fn writable(&self) -> bool {
        let acc = self.flags() & libc::O_ACCMODE;
        (acc == libc::O_WRONLY || acc == libc::O_RDWR) && self.flags() & libc::O_PATH == 0
    }

    pub fn is_path_only(&self) -> bool {
        self.flags() & libc::O_PATH != 0
    }

    /// The file position, locked (reads and writes at the position hold it
    /// across the call, as Linux holds f_pos_lock). Where the position lives
    /// in a host description, it is read from there now and written back
    /// when the guard goes, if it changed.
    pub fn position(&self) -> Position<'_> {
        let mut pos = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let host = self.host_position.get().map(|fd| fd.as_raw_fd());
        if let Some(at) = host.and_then(host_offset) {
            *pos = at;
        }
        let read = *pos;
        Position { pos, host, read }
    }

    /// The position without waiting for a call that holds it (None then).
    pub fn try_position(&self) -> Option<u64> {
        let pos = self.offset.try_lock().ok()?;
        match self.host_position.get() {
            Some(fd) => host_offset(fd.as_raw_fd()),
            None => Some(*pos),
        }
    }

    /// The private host description holding this file's position: made by
    /// `open` (a new description of the same file) and moved to the
    /// position the first time.
    pub fn host_position(&self, open: impl FnOnce() -> VfsResult<std::os::fd::OwnedFd>) -> VfsResult<RawFd> {
        if let Some(fd) = self.host_position.get() {
            return Ok(fd.as_raw_fd());
        }
        let pos = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fd) = self.host_position.get() {
            return Ok(fd.as_raw_fd());
        }
        let fd = open()?;
        let at = i64::try_from(*pos).map_err(|_| Errno::EOVERFLOW)?;
        // SAFETY: lseek on the fd just opened.
        if unsafe { libc::lseek(fd.as_raw_fd(), at, libc::SEEK_SET) } < 0 {
            return Err(Errno::last());
        }
        let raw = fd.as_raw_fd();
        let _ = self.host_position.set(fd);
        Ok(raw)
    }

    /// The private host description, if the position lives in one.
    pub fn host_position_fd(&self) -> Option<RawFd> {
        self.host_position.get().map(|fd| fd.as_raw_fd())
    }

    /// fstat: the file's own answer first, then its inode's.
    pub fn attr(&self) -> VfsResult<Attr> {
        match self.ops.attr() {
            Err(e) if e == Errno::ENOSYS => match self.inode() {
                Some(i) => i.attr(),
                None => Err(Errno::EBADF),
            },
            r => r,
        }
    }
}

/// The position of host fd `fd`'s description.
fn host_offset(fd: RawFd) -> Option<u64> {
    // SAFETY: lseek(SEEK_CUR) only reads the position of an fd the caller holds.
    u64::try_from(unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }).ok()
}

/// A locked file position ([`OpenFile::position`]).
pub struct Position<'a> {
    pos: std::sync::MutexGuard<'a, u64>,
    /// The host description it lives in, if any.
    host: Option<RawFd>,
    /// The value when locked.
    read: u64,
}

impl std::ops::Deref for Position<'_> {
    type Target = u64;
    fn deref(&self) -> &u64 {
        &self.pos
    }
}

impl std::ops::DerefMut for Position<'_> {
    fn deref_mut(&mut self) -> &mut u64 {
        &mut self.pos
    }
}

impl Drop for Position<'_> {
    fn drop(&mut self) {
        if let (Some(fd), true) = (self.host, *self.pos != self.read) {
            if let Ok(at) = i64::try_from(*self.pos) {
                // SAFETY: lseek on a host fd the description owns.
                unsafe { libc::lseek(fd, at, libc::SEEK_SET) };
            }
        }
    }
}
