//! /dev: the character devices every program expects (null, zero, full,
//! random, urandom, tty), the /proc/self/fd symlinks, and /dev/shm. Names
//! apps create here (sockets, symlinks, extra nodes) live in a private tmpfs
//! behind the fixed entries.

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};

use super::tmpfs::{makedev, new_tmpfs, TMPFS_MAGIC};
use crate::vfs::{
    dtype_of_mode, next_synthetic_ino, now, Attr, CreateArgs, DirEntry, Errno, FileOps, FsCreds, Inode, SetAttr,
    StatFs, TimeSet, Timespec, UserMemory, VfsResult, S_IFCHR, S_IFLNK, S_IFMT,
};

#[cfg(test)]
mod tests;

/// Opens the controlling terminal of the calling task (/dev/tty).
pub type TtyOpener = Arc<dyn Fn() -> VfsResult<Arc<dyn FileOps>> + Send + Sync>;

/// `RNDGETENTCNT`: entropy estimate of the random devices.
const RNDGETENTCNT: u32 = 0x8004_5200;
/// Group "tty" owns /dev/tty on most distributions.
const TTY_GID: u32 = 5;
/// /dev/ptmx (TTYAUX_MAJOR 5, minor 2).
const PTMX_RDEV: u64 = makedev(5, 2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The device drivers of /dev.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
    Tty,
}

impl DevKind {
    /// The device number (`st_rdev`).
    pub fn rdev(self) -> u64 {
        match self {
            DevKind::Null => makedev(1, 3),
            DevKind::Zero => makedev(1, 5),
            DevKind::Full => makedev(1, 7),
            DevKind::Random => makedev(1, 8),
            DevKind::Urandom => makedev(1, 9),
            DevKind::Tty => makedev(5, 0),
        }
    }

    fn from_rdev(rdev: u64) -> Option<DevKind> {
        [DevKind::Null, DevKind::Zero, DevKind::Full, DevKind::Random, DevKind::Urandom, DevKind::Tty]
            .into_iter()
            .find(|k| k.rdev() == rdev)
    }
}

/// Opens the memory/random character device `rdev` (for device nodes made
/// with mknod in any file system). Unknown devices, and /dev/tty which needs
/// the task's terminal, give ENXIO.
pub fn open_char_device(rdev: u64, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
    if rdev == PTMX_RDEV {
        return Ok(super::pty::allocate()?);
    }
    match DevKind::from_rdev(rdev) {
        Some(DevKind::Tty) | None => Err(Errno::ENXIO),
        Some(kind) => Ok(Arc::new(DevFile { kind })),
    }
}

/// An open null/zero/full/random/urandom device.
pub struct DevFile {
    kind: DevKind,
}

impl DevFile {
    pub fn kind(&self) -> DevKind {
        self.kind
    }
}

fn fill_random(buf: &mut [u8]) -> VfsResult<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() writable bytes.
        let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

impl FileOps for DevFile {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        match self.kind {
            DevKind::Null => Ok(0),
            DevKind::Zero | DevKind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            DevKind::Random | DevKind::Urandom => fill_random(buf),
            // Never constructed for Tty: the tty opener supplies its own file.
            DevKind::Tty => Err(Errno::ENXIO),
        }
    }

    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        match self.kind {
            DevKind::Full => Err(Errno::ENOSPC),
            DevKind::Tty => Err(Errno::ENXIO),
            // Writes to the random devices would mix into the pool; accepting and
            // dropping them is indistinguishable to the writer.
            _ => Ok(buf.len()),
        }
    }

    // lseek on these devices succeeds (and returns 0) on Linux.
    fn seekable(&self) -> bool {
        true
    }

    fn host_seek(&self, _off: i64, _whence: i32) -> Option<VfsResult<u64>> {
        // null/zero/full reset the position to 0; random's never moves from 0.
        Some(Ok(0))
    }

    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        if matches!(self.kind, DevKind::Random | DevKind::Urandom) && cmd == RNDGETENTCNT {
            mem.write_bytes(arg, &256i32.to_ne_bytes())?;
            return Ok(0);
        }
        Err(Errno::ENOTTY)
    }

    fn poll(&self, events: i16) -> i16 {
        events & (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM)
    }

    fn mmap_anonymous(&self) -> bool {
        self.kind == DevKind::Zero
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Owner, mode and times of a device node whose contents are not a file's
/// (/dev's nodes, /dev/pts/N): what chmod, chown and utimensat change.
#[derive(Clone, Copy)]
pub(crate) struct NodeMeta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl NodeMeta {
    /// A node made now.
    pub fn new(mode: u32, uid: u32, gid: u32) -> NodeMeta {
        let t = now();
        NodeMeta { mode, uid, gid, atime: t, mtime: t, ctime: t }
    }

    /// Applies a setattr (a device has no size: EINVAL); the file type
    /// bits in `mode` are kept.
    pub fn apply(&mut self, change: &SetAttr) -> VfsResult<()> {
        if change.size.is_some() {
            return Err(Errno::EINVAL);
        }
        let t = now();
        let at = |s: TimeSet| match s {
            TimeSet::Now => t,
            TimeSet::At(ts) => ts,
        };
        if let Some(mode) = change.mode {
            self.mode = (self.mode & S_IFMT) | (mode & 0o7777);
        }
        if let Some(uid) = change.uid {
            self.uid = uid;
        }
        if let Some(gid) = change.gid {
            self.gid = gid;
        }
        if let Some(a) = change.atime {
            self.atime = at(a);
        }
        if let Some(mt) = change.mtime {
            self.mtime = at(mt);
        }
        self.ctime = t;
        Ok(())
    }
}

/// A fixed character device node of /dev.
struct DevNode {
    ino: u64,
    dev: u64,
    kind: DevKind,
    meta: Mutex<NodeMeta>,
    tty: Option<TtyOpener>,
}

impl Inode for DevNode {
    fn attr(&self) -> VfsResult<Attr> {
        let m = *lock(&self.meta);
        Ok(Attr {
            ino: self.ino,
            dev: self.dev,
            mode: m.mode,
            nlink: 1,
            uid: m.uid,
            gid: m.gid,
            rdev: self.kind.rdev(),
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        })
    }

    fn setattr(&self, change: &SetAttr) -> VfsResult<()> {
        lock(&self.meta).apply(change)
    }

    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        if self.kind == DevKind::Tty {
            // A pty controlling terminal first; else the inherited console.
            if let Some(r) = super::pty::open_ctty(flags) {
                return r;
            }
            return match &self.tty {
                Some(open) => open(),
                None => Err(Errno::ENXIO),
            };
        }
        open_char_device(self.kind.rdev(), flags)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A fixed symlink of /dev (fd, stdin, stdout, stderr).
struct DevLink {
    ino: u64,
    dev: u64,
    target: &'static [u8],
    time: Timespec,
}

impl Inode for DevLink {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr {
            ino: self.ino,
            dev: self.dev,
            mode: S_IFLNK | 0o777,
            nlink: 1,
            size: self.target.len() as u64,
            blksize: 4096,
            atime: self.time,
            mtime: self.time,
            ctime: self.time,
            ..Default::default()
        })
    }

    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Err(Errno::ELOOP)
    }

    fn readlink(&self) -> VfsResult<Vec<u8>> {
        Ok(self.target.to_vec())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The /dev directory.
pub struct DevDir {
    /// Fixed entries in listing order.
    fixed: Vec<(&'static [u8], Arc<dyn Inode>)>,
    shm: Arc<dyn Inode>,
    /// Holds whatever apps create in /dev; also supplies the directory's own attributes.
    extra: Arc<dyn Inode>,
}

const SHM: &[u8] = b"shm";
const PTS: &[u8] = b"pts";

/// Builds /dev. `tty` opens the sandbox's inherited terminal (None: /dev/tty
/// gives ENXIO unless the caller's controlling terminal is a pty; when it
/// opens now, it is also /dev/pts/0); `shm` is returned as the /dev/shm
/// directory. /dev/ptmx and /dev/pts come with it (fs::pty).
pub fn new_devfs(tty: Option<TtyOpener>, shm: Arc<dyn Inode>) -> Arc<dyn Inode> {
    let console = tty.clone().filter(|open| open().is_ok());
    let extra = new_tmpfs(0o755, 0, 0);
    let dev = extra.attr().map(|a| a.dev).unwrap_or(0);
    let t = now();
    let node = |kind: DevKind| -> Arc<dyn Inode> {
        let gid = if kind == DevKind::Tty { TTY_GID } else { 0 };
        Arc::new(DevNode {
            ino: next_synthetic_ino(),
            dev,
            kind,
            meta: Mutex::new(NodeMeta::new(S_IFCHR | 0o666, 0, gid)),
            tty: if kind == DevKind::Tty { tty.clone() } else { None },
        })
    };
    let link = |target: &'static [u8]| -> Arc<dyn Inode> {
        Arc::new(DevLink { ino: next_synthetic_ino(), dev, target, time: t })
    };
    let fixed: Vec<(&'static [u8], Arc<dyn Inode>)> = vec![
        (b"null", node(DevKind::Null)),
        (b"zero", node(DevKind::Zero)),
        (b"full", node(DevKind::Full)),
        (b"random", node(DevKind::Random)),
        (b"urandom", node(DevKind::Urandom)),
        (b"tty", node(DevKind::Tty)),
        // As runc makes it: the ptmx of whatever devpts is at /dev/pts.
        (b"ptmx", link(b"pts/ptmx")),
        (PTS, super::pty::devpts::new_devpts(console)),
        (b"fd", link(b"/proc/self/fd")),
        (b"stdin", link(b"/proc/self/fd/0")),
        (b"stdout", link(b"/proc/self/fd/1")),
        (b"stderr", link(b"/proc/self/fd/2")),
    ];
    Arc::new(DevDir { fixed, shm, extra })
}

impl DevDir {
    fn fixed(&self, name: &[u8]) -> Option<&Arc<dyn Inode>> {
        self.fixed.iter().find(|(n, _)| *n == name).map(|(_, i)| i)
    }

    fn reserved(&self, name: &[u8]) -> bool {
        name == SHM || self.fixed(name).is_some()
    }

    /// The inode to pass on for a rename target directory: /dev itself maps
    /// to the tmpfs behind it.
    fn map_dir<'a>(&'a self, dir: &'a Arc<dyn Inode>) -> &'a Arc<dyn Inode> {
        match dir.as_any().downcast_ref::<DevDir>() {
            Some(d) if std::ptr::eq(d, self) => &self.extra,
            _ => dir,
        }
    }
}

impl Inode for DevDir {
    fn attr(&self) -> VfsResult<Attr> {
        let mut a = self.extra.attr()?;
        // shm and pts are subdirectories as far as link counts go.
        a.nlink += 2;
        Ok(a)
    }

    fn setattr(&self, change: &SetAttr) -> VfsResult<()> {
        self.extra.setattr(change)
    }

    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        if let Some(i) = self.fixed(name) {
            return Ok(i.clone());
        }
        if name == SHM {
            return Ok(self.shm.clone());
        }
        self.extra.lookup(name)
    }

    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        let mut out = Vec::with_capacity(self.fixed.len() + 1);
        for (name, inode) in &self.fixed {
            let a = inode.attr()?;
            out.push(DirEntry { ino: a.ino, d_type: dtype_of_mode(a.mode), name: name.to_vec() });
        }
        let shm_ino = self.shm.attr().map(|a| a.ino).unwrap_or(0);
        out.push(DirEntry { ino: shm_ino, d_type: crate::vfs::DT_DIR, name: SHM.to_vec() });
        out.extend(self.extra.readdir()?.into_iter().filter(|e| !self.reserved(&e.name)));
        Ok(out)
    }

    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Ok(Arc::new(crate::vfs::DirHandle))
    }

    fn create(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<(Arc<dyn Inode>, Arc<dyn FileOps>)> {
        if self.reserved(name) {
            return Err(Errno::EEXIST);
        }
        self.extra.create(name, args)
    }

    fn mknod(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        if self.reserved(name) {
            return Err(Errno::EEXIST);
        }
        self.extra.mknod(name, args)
    }

    fn mkdir(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        if self.reserved(name) {
            return Err(Errno::EEXIST);
        }
        self.extra.mkdir(name, args)
    }

    fn symlink(&self, name: &[u8], target: &[u8], creds: &FsCreds) -> VfsResult<Arc<dyn Inode>> {
        if self.reserved(name) {
            return Err(Errno::EEXIST);
        }
        self.extra.symlink(name, target, creds)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> VfsResult<()> {
        if self.reserved(name) {
            return Err(Errno::EEXIST);
        }
        self.extra.link(name, target)
    }

    fn unlink(&self, name: &[u8]) -> VfsResult<()> {
        if name == SHM || name == PTS {
            return Err(Errno::EISDIR);
        }
        if self.fixed(name).is_some() {
            return Err(Errno::EPERM);
        }
        self.extra.unlink(name)
    }

    fn rmdir(&self, name: &[u8]) -> VfsResult<()> {
        if name == SHM || name == PTS {
            return Err(Errno::EBUSY);
        }
        if self.fixed(name).is_some() {
            return Err(Errno::ENOTDIR);
        }
        self.extra.rmdir(name)
    }

    fn rename(&self, old_name: &[u8], new_dir: &Arc<dyn Inode>, new_name: &[u8], flags: u32) -> VfsResult<()> {
        let into_self = matches!(new_dir.as_any().downcast_ref::<DevDir>(), Some(d) if std::ptr::eq(d, self));
        if self.reserved(old_name) || into_self && self.reserved(new_name) {
            return Err(Errno::EPERM);
        }
        self.extra.rename(old_name, self.map_dir(new_dir), new_name, flags)
    }

    fn statfs(&self) -> VfsResult<StatFs> {
        let mut s = self.extra.statfs()?;
        // devtmpfs reports itself as tmpfs.
        s.f_type = TMPFS_MAGIC;
        Ok(s)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
