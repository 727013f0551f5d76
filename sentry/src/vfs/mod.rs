//! The virtual file system: the traits every file system implements, dentries,
//! the mount table, path resolution, open file descriptions and fd tables.
//!
//! File systems (`crate::fs::*`) implement [`Inode`] for the objects they hold
//! and [`FileOps`] for what an `open` returns. The VFS layers caching, mounts,
//! path walking, permission checks and read-only enforcement on top.

pub mod dentry;
pub mod fdtable;
pub mod file;
pub mod path;
pub mod perm;
pub mod writecount;

use std::any::Any;
use std::os::fd::RawFd;
use std::sync::Arc;

pub use rvisor_syscalls::abi::{StatFs, Timespec};
pub use rvisor_syscalls::Errno;

pub use dentry::{Dentry, Location, Mount, MountFlags, MountTable};
pub use fdtable::FdTable;
pub use file::{DirHandle, OpenFile};

/// Result type of VFS operations: errors are the errno the syscall returns.
pub type VfsResult<T> = Result<T, Errno>;

/// File type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;

/// `d_type` values for getdents64.
pub const DT_UNKNOWN: u8 = 0;
pub const DT_FIFO: u8 = 1;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_BLK: u8 = 6;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;
pub const DT_SOCK: u8 = 12;

/// The `d_type` matching the file type bits of `mode`.
pub fn dtype_of_mode(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFSOCK => DT_SOCK,
        S_IFLNK => DT_LNK,
        S_IFREG => DT_REG,
        S_IFBLK => DT_BLK,
        S_IFDIR => DT_DIR,
        S_IFCHR => DT_CHR,
        S_IFIFO => DT_FIFO,
        _ => DT_UNKNOWN,
    }
}

/// Attributes of a file, as stat(2) reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub dev: u64,
    /// File type and permission bits.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    /// Number of 512-byte blocks allocated.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Attr {
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type() == S_IFLNK
    }
    pub fn is_regular(&self) -> bool {
        self.file_type() == S_IFREG
    }

    /// Builds attributes from a host `struct stat`.
    pub fn from_host(st: &libc::stat) -> Attr {
        Attr {
            ino: st.st_ino,
            dev: st.st_dev,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: st.st_size as u64,
            blksize: st.st_blksize as u64,
            blocks: st.st_blocks as u64,
            atime: Timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec },
            mtime: Timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec },
            ctime: Timespec { tv_sec: st.st_ctime, tv_nsec: st.st_ctime_nsec },
        }
    }
}

/// A timestamp to set with utimensat(2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSet {
    Now,
    At(Timespec),
}

/// Attribute changes requested by chmod/chown/truncate/utimensat. `None` = unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits only (07777).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeSet>,
    pub mtime: Option<TimeSet>,
}

/// One directory entry (never "." or "..": the VFS adds those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    pub d_type: u8,
    pub name: Vec<u8>,
}

/// The identity a file operation acts with (fsuid/fsgid and groups).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsCreds {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl FsCreds {
    pub fn root() -> FsCreds {
        FsCreds::default()
    }
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// What a new file is created with.
#[derive(Clone, Debug)]
pub struct CreateArgs<'a> {
    /// File type and permission bits, umask already applied.
    pub mode: u32,
    /// Device number for mknod of character/block devices.
    pub rdev: u64,
    /// open(2) flags (for create-and-open).
    pub flags: i32,
    pub creds: &'a FsCreds,
}

/// A file system object (an inode). Lookup and readdir default to ENOTDIR;
/// mutations (only ever called on directories) to EPERM, so each file system
/// implements only what it supports.
///
/// Names passed in are single path components: never empty, never "." or "..",
/// never containing '/'. The VFS has already checked permissions and
/// read-only mounts; an implementation enforces only what the VFS cannot see
/// (e.g. the gofer refusing a write to a read-only host mount).
pub trait Inode: Send + Sync + 'static {
    /// Current attributes.
    fn attr(&self) -> VfsResult<Attr>;

    /// Changes attributes (chmod, chown, truncate, utimensat).
    fn setattr(&self, _change: &SetAttr) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    /// Finds the child `name` of this directory.
    fn lookup(&self, _name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Lists this directory's entries, without "." and "..".
    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        Err(Errno::ENOTDIR)
    }

    /// Opens this file. `flags` are open(2) flags with O_CREAT/O_EXCL/O_NOCTTY
    /// already handled; O_TRUNC is applied by the VFS through `setattr`.
    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>>;

    /// Target of a symbolic link.
    fn readlink(&self) -> VfsResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    /// For /proc magic links (fd/N, exe, cwd, root): where the link leads, as a
    /// VFS location rather than text. `None` for ordinary symlinks.
    fn magic_link(&self) -> Option<VfsResult<Location>> {
        None
    }

    /// Creates and opens regular file `name` (O_CREAT). Fails with EEXIST if present.
    fn create(&self, _name: &[u8], _args: &CreateArgs<'_>) -> VfsResult<(Arc<dyn Inode>, Arc<dyn FileOps>)> {
        Err(Errno::EPERM)
    }

    /// Creates a regular file, fifo, socket or device node.
    fn mknod(&self, _name: &[u8], _args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }

    fn mkdir(&self, _name: &[u8], _args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }

    fn symlink(&self, _name: &[u8], _target: &[u8], _creds: &FsCreds) -> VfsResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }

    /// Creates hard link `name` to `target` (an inode of the same file system).
    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    /// Removes non-directory `name`.
    fn unlink(&self, _name: &[u8]) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    /// Removes empty directory `name`.
    fn rmdir(&self, _name: &[u8]) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    /// Renames `old_name` in this directory to `new_name` in `new_dir` (same
    /// file system). `flags` are renameat2 flags (RENAME_NOREPLACE, RENAME_EXCHANGE).
    fn rename(&self, _old_name: &[u8], _new_dir: &Arc<dyn Inode>, _new_name: &[u8], _flags: u32) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    /// Extended attribute `name` (with its namespace prefix, e.g. `user.x`).
    /// File systems that store none answer ENODATA, as Linux does for a name
    /// that is not set.
    fn getxattr(&self, _name: &[u8]) -> VfsResult<Vec<u8>> {
        Err(Errno::ENODATA)
    }

    /// Sets extended attribute `name`; `flags` is XATTR_CREATE, XATTR_REPLACE
    /// or 0 (already validated).
    fn setxattr(&self, _name: &[u8], _value: &[u8], _flags: i32) -> VfsResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Names of the extended attributes set on this inode.
    fn listxattr(&self) -> VfsResult<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }

    fn removexattr(&self, _name: &[u8]) -> VfsResult<()> {
        Err(Errno::ENODATA)
    }

    fn statfs(&self) -> VfsResult<StatFs> {
        Ok(StatFs { f_type: 0x0102_1994, f_bsize: 4096, f_namelen: 255, f_frsize: 4096, ..Default::default() })
    }

    /// Whether dentries for this inode's children may be cached (false for /proc).
    fn cacheable(&self) -> bool {
        true
    }

    /// Whether the dentry cache may drop this inode's dentry once nothing
    /// else uses it: a later lookup of the name yields an equivalent inode,
    /// because the file system keeps no state in this object alone (gofer
    /// inodes, lower-only overlay objects). Dropping it frees what it holds
    /// (a gofer fid and the gofer's fd behind it).
    fn reclaimable(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any;
}

/// Operations on an open file description. Reads and writes are positional:
/// the VFS owns the file offset. Streams (pipes, ttys, devices) ignore `off`
/// and return `false` from `seekable`.
///
/// A read or write that would block returns EAGAIN; the syscall layer then
/// waits for readiness of `host_fd` (honouring O_NONBLOCK and signals) and retries.
pub trait FileOps: Send + Sync + 'static {
    fn read(&self, _buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EINVAL)
    }

    fn write(&self, _buf: &[u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EINVAL)
    }

    /// Whether lseek/pread/pwrite make sense (false gives ESPIPE).
    fn seekable(&self) -> bool {
        true
    }

    /// For files whose offset lives on the host (inherited stdio): lseek there.
    /// `None` means the VFS keeps the offset itself.
    fn host_seek(&self, _off: i64, _whence: i32) -> Option<VfsResult<u64>> {
        None
    }

    /// Attributes of the open file (fstat). Files with an inode need not
    /// implement this: the VFS asks the inode first only if this returns ENOSYS.
    fn attr(&self) -> VfsResult<Attr> {
        Err(Errno::ENOSYS)
    }

    /// The host fd backing this file, if any: used for readiness polling,
    /// mmap injection and fast fstat. Never exposed to the application.
    fn host_fd(&self) -> Option<RawFd> {
        None
    }

    /// Sets the size (ftruncate).
    fn truncate(&self, _len: u64) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }

    /// fallocate(2).
    fn allocate(&self, _mode: i32, _off: u64, _len: u64) -> VfsResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// fsync/fdatasync.
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Ok(())
    }

    /// Device-specific ioctl. `mem` reads and writes the caller's memory.
    fn ioctl(&self, _cmd: u32, _arg: u64, _mem: &dyn UserMemory) -> VfsResult<i64> {
        Err(Errno::ENOTTY)
    }

    /// Readiness as poll(2) `revents` for `events`, without blocking.
    /// The default asks the host fd; files without one are always ready.
    fn poll(&self, events: i16) -> i16 {
        match self.host_fd() {
            Some(fd) => host_poll(fd, events),
            None => events & (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM),
        }
    }

    /// Registers, in `set`, what a waiter must watch to learn that
    /// `poll(events)` may have changed. Called *before* `poll`, so a change
    /// between the two still wakes the waiter. The default watches the host
    /// fd; files whose readiness is sentry state register their wait queue
    /// (and notify it on every change). Files with neither are re-checked.
    fn wait_on(&self, events: i16, set: &mut crate::kernel::wait::WaitSet) {
        match self.host_fd() {
            Some(fd) => set.fd(fd, events),
            None => set.recheck(50),
        }
    }

    /// Whether readv (`write` false) or writev (true) call `read`/`write`
    /// once per iovec, stopping at the first short transfer, rather than
    /// once for the whole vector: Linux files with plain read/write
    /// methods and no read_iter/write_iter (inotify reads, eventfd writes).
    fn per_segment_io(&self, _write: bool) -> bool {
        false
    }

    /// For files that support O_ASYNC (pipes, sockets, ttys, inotify): the
    /// host fds whose readiness changes raise SIGIO, each with the poll
    /// events to watch. `None`: the file has no fasync (FIOASYNC is ENOTTY,
    /// and O_ASYNC set with F_SETFL does nothing).
    fn async_sources(&self) -> Option<Vec<(RawFd, i16)>> {
        None
    }

    /// For mmap of special files (/dev/zero): map anonymous memory instead of a host fd.
    fn mmap_anonymous(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any;
}

/// Access to the calling application's memory, for ioctl arguments.
pub trait UserMemory {
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> VfsResult<()>;
    fn write_bytes(&self, addr: u64, buf: &[u8]) -> VfsResult<()>;
}

/// Non-blocking poll of one host fd.
pub fn host_poll(fd: RawFd, events: i16) -> i16 {
    let mut pfd = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: pfd is a valid pollfd array of length 1; timeout 0 never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n < 0 {
        0
    } else {
        pfd.revents
    }
}

/// Allocates inode numbers for synthetic file systems (tmpfs, proc, dev, pipes).
pub fn next_synthetic_ino() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Current wall-clock time, for synthetic timestamps.
pub fn now() -> Timespec {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 }
}
