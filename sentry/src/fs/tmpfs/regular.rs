//! Regular-file contents. Small files live in sentry memory; a file moves to
//! a host memfd once it grows past [`SMALL_FILE_MAX`] or something needs a
//! host fd (mmap, execve). A memfd per file would exhaust the sentry's fd
//! limit on big trees (package installs create tens of thousands of files).

use std::any::Any;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::{host_timespec, lock, Data, Meta, TmpfsInode};
use crate::fs::host::{check, host_fstat, HostFile};
use crate::vfs::{now, Attr, Errno, FileOps, TimeSet, Timespec, VfsResult};

/// Largest file kept in sentry memory.
pub const SMALL_FILE_MAX: u64 = 64 * 1024;

/// fcntl(2)'s file seals.
pub const F_SEAL_SEAL: u32 = 0x1;
pub const F_SEAL_SHRINK: u32 = 0x2;
pub const F_SEAL_GROW: u32 = 0x4;
pub const F_SEAL_WRITE: u32 = 0x8;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
pub const F_SEAL_EXEC: u32 = 0x20;
const ALL_SEALS: u32 = 0x3f;
/// The seals the host memfd enforces (on the sentry's writes and truncates,
/// and on the app's shared mappings).
const DATA_SEALS: u32 = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

pub(super) struct RegData {
    /// Contents while small. Promotion happens under this lock.
    small: Mutex<Vec<u8>>,
    /// F_SEAL_* set on the file. A tmpfs file starts sealed against sealing
    /// (F_SEAL_SEAL) unless memfd_create allowed it. Changed under `small`.
    seals: AtomicU32,
    /// Set once and never cleared, so I/O uses it without the lock.
    memfd: OnceLock<HostFile>,
    /// The memfd's ctime right after promotion: until the data changes, the
    /// inode's own ctime is the true one.
    base_ctime: OnceLock<Timespec>,
}

impl Default for RegData {
    fn default() -> RegData {
        RegData {
            small: Mutex::new(Vec::new()),
            seals: AtomicU32::new(F_SEAL_SEAL),
            memfd: OnceLock::new(),
            base_ctime: OnceLock::new(),
        }
    }
}

fn new_memfd() -> VfsResult<OwnedFd> {
    // SAFETY: the name is a valid NUL-terminated string; flags are constants.
    // Sealable, so the file's seals can be handed to the host (see `add_seals`).
    let fd = unsafe { libc::memfd_create(c"tmpfs".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd is freshly created and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn futimens(fd: RawFd, atime: Option<TimeSet>, mtime: Option<TimeSet>) -> VfsResult<()> {
    let ts = [host_timespec(atime), host_timespec(mtime)];
    // SAFETY: ts is a valid array of two timespecs.
    check(unsafe { libc::futimens(fd, ts.as_ptr()) } as isize).map(|_| ())
}

impl TmpfsInode {
    fn reg(&self) -> VfsResult<&RegData> {
        match &self.data {
            Data::Regular(r) => Ok(r),
            Data::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Whether the contents live in a memfd (rather than sentry memory).
    pub fn uses_memfd(&self) -> bool {
        self.reg().is_ok_and(|r| r.memfd.get().is_some())
    }

    /// The memfd holding a regular file's contents, created on first use.
    pub fn host_file(&self) -> VfsResult<&HostFile> {
        let reg = self.reg()?;
        if let Some(h) = reg.memfd.get() {
            return Ok(h);
        }
        let mut small = lock(&reg.small);
        self.promote(reg, &mut small)
    }

    /// The file's seals (F_GET_SEALS); EINVAL for non-regular files.
    pub fn seals(&self) -> VfsResult<u32> {
        Ok(self.reg()?.seals.load(Ordering::Acquire))
    }

    /// memfd_create(MFD_ALLOW_SEALING or MFD_NOEXEC_SEAL): starts with
    /// `seals` instead of F_SEAL_SEAL.
    pub fn allow_sealing(&self, seals: u32) -> VfsResult<()> {
        self.reg()?.seals.store(seals & ALL_SEALS, Ordering::Release);
        Ok(())
    }

    /// F_ADD_SEALS (the caller checked that the file is open for writing).
    /// Data seals move the file to its memfd and are set there too, so the
    /// host refuses writes, truncation and writable shared mappings as Linux
    /// does (EBUSY when such a mapping exists).
    pub fn add_seals(&self, mut add: u32) -> VfsResult<()> {
        if add & !ALL_SEALS != 0 {
            return Err(Errno::EINVAL);
        }
        let reg = self.reg()?;
        let mut small = lock(&reg.small);
        let cur = reg.seals.load(Ordering::Acquire);
        if cur & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        // An executable file sealed against exec changes is also sealed
        // against writes (W^X from the start, Linux 6.3).
        if add & F_SEAL_EXEC != 0 && self.meta().mode & 0o111 != 0 {
            add |= DATA_SEALS;
        }
        if add & DATA_SEALS & !cur != 0 {
            let h = self.promote(reg, &mut small)?;
            // SAFETY: fcntl with an integer argument on the memfd we own.
            check(unsafe { libc::fcntl(h.fd(), libc::F_ADD_SEALS, (add & DATA_SEALS) as libc::c_int) } as isize)?;
        }
        reg.seals.fetch_or(add, Ordering::AcqRel);
        Ok(())
    }

    /// Moves the contents into a memfd. Called with the `small` lock held.
    fn promote<'a>(&self, reg: &'a RegData, small: &mut MutexGuard<'_, Vec<u8>>) -> VfsResult<&'a HostFile> {
        if let Some(h) = reg.memfd.get() {
            return Ok(h);
        }
        let h = HostFile::new(new_memfd()?);
        let mut done = 0;
        while done < small.len() {
            match h.write(&small[done..], done as u64)? {
                0 => return Err(Errno::EIO),
                n => done += n,
            }
        }
        let m = *self.meta();
        futimens(h.fd(), Some(TimeSet::At(m.atime)), Some(TimeSet::At(m.mtime)))?;
        let _ = reg.base_ctime.set(host_fstat(h.fd())?.ctime);
        // Cannot fail: memfd is only set here, under the lock we hold.
        let _ = reg.memfd.set(h);
        **small = Vec::new();
        reg.memfd.get().ok_or(Errno::EIO)
    }

    fn touch_data(&self) {
        let t = now();
        let mut m = self.meta();
        m.mtime = t;
        m.ctime = t;
    }

    pub(super) fn reg_read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        let reg = self.reg()?;
        if let Some(h) = reg.memfd.get() {
            return h.read(buf, off);
        }
        let small = lock(&reg.small);
        if let Some(h) = reg.memfd.get() {
            drop(small);
            return h.read(buf, off);
        }
        if i64::try_from(off).is_err() {
            return Err(Errno::EINVAL);
        }
        let off = usize::try_from(off).unwrap_or(usize::MAX);
        if off >= small.len() {
            return Ok(0);
        }
        let n = buf.len().min(small.len() - off);
        buf[..n].copy_from_slice(&small[off..off + n]);
        Ok(n)
    }

    pub(super) fn reg_write(&self, buf: &[u8], off: u64) -> VfsResult<usize> {
        let reg = self.reg()?;
        if let Some(h) = reg.memfd.get() {
            return h.write(buf, off);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut small = lock(&reg.small);
        let end = off.checked_add(buf.len() as u64).filter(|&e| i64::try_from(e).is_ok()).ok_or(Errno::EFBIG)?;
        if reg.memfd.get().is_some() || end > SMALL_FILE_MAX {
            let h = self.promote(reg, &mut small)?;
            drop(small);
            return h.write(buf, off);
        }
        // Both fit in usize: end <= SMALL_FILE_MAX.
        let (start, end) = (off as usize, end as usize);
        if small.len() < end {
            small.resize(end, 0);
        }
        small[start..end].copy_from_slice(buf);
        self.touch_data();
        Ok(buf.len())
    }

    pub(super) fn reg_truncate(&self, len: u64) -> VfsResult<()> {
        let reg = self.reg()?;
        if let Some(h) = reg.memfd.get() {
            return h.truncate(len);
        }
        let mut small = lock(&reg.small);
        if reg.memfd.get().is_some() || len > SMALL_FILE_MAX {
            let h = self.promote(reg, &mut small)?;
            drop(small);
            return h.truncate(len);
        }
        let len = len as usize;
        small.resize(len, 0);
        if small.capacity() > 2 * len.max(256) {
            small.shrink_to_fit();
        }
        // truncate(2) updates the times even when the size does not change.
        self.touch_data();
        Ok(())
    }

    pub(super) fn reg_sync(&self, data_only: bool) -> VfsResult<()> {
        match self.reg()?.memfd.get() {
            Some(h) => h.sync(data_only),
            None => Ok(()),
        }
    }

    /// Size, blocks and times of a regular file into `a`.
    pub(super) fn reg_attr(&self, a: &mut Attr, m: &Meta) -> VfsResult<()> {
        let reg = self.reg()?;
        match reg.memfd.get() {
            Some(h) => {
                let st = host_fstat(h.fd())?;
                a.size = st.size;
                a.blocks = st.blocks;
                a.atime = st.atime;
                a.mtime = st.mtime;
                // Data changes move the memfd's ctime, metadata changes ours.
                a.ctime = if reg.base_ctime.get() == Some(&st.ctime) { m.ctime } else { st.ctime.max(m.ctime) };
            }
            None => {
                let len = lock(&reg.small).len() as u64;
                a.size = len;
                // tmpfs allocates whole pages.
                a.blocks = len.div_ceil(4096) * 8;
            }
        }
        Ok(())
    }

    /// utimensat on a regular file: the memfd keeps the times once it exists.
    pub(super) fn reg_set_times(&self, atime: Option<TimeSet>, mtime: Option<TimeSet>) -> VfsResult<()> {
        let reg = self.reg()?;
        let small = lock(&reg.small);
        if let Some(h) = reg.memfd.get() {
            drop(small);
            futimens(h.fd(), atime, mtime)?;
            self.meta().ctime = now();
            return Ok(());
        }
        // Under the lock, so a concurrent promotion cannot miss the change.
        self.set_meta_times(atime, mtime);
        Ok(())
    }
}

/// An open tmpfs regular file. fstat answers from the inode.
pub struct TmpfsFile {
    pub(super) inode: Arc<TmpfsInode>,
}

impl TmpfsFile {
    pub fn inode(&self) -> &Arc<TmpfsInode> {
        &self.inode
    }
}

impl FileOps for TmpfsFile {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        self.inode.reg_read(buf, off)
    }

    fn write(&self, buf: &[u8], off: u64) -> VfsResult<usize> {
        self.inode.reg_write(buf, off)
    }

    fn attr(&self) -> VfsResult<Attr> {
        crate::vfs::Inode::attr(&*self.inode)
    }

    /// Moves a small file into a memfd: asked for by mmap and execve.
    fn host_fd(&self) -> Option<RawFd> {
        self.inode.host_file().ok().map(|h| h.fd())
    }

    fn truncate(&self, len: u64) -> VfsResult<()> {
        self.inode.reg_truncate(len)
    }

    fn allocate(&self, mode: i32, off: u64, len: u64) -> VfsResult<()> {
        self.inode.host_file()?.allocate(mode, off, len)
    }

    fn sync(&self, data_only: bool) -> VfsResult<()> {
        self.inode.reg_sync(data_only)
    }

    // Regular files are always ready; the default would create a memfd to ask the host.
    fn poll(&self, events: i16) -> i16 {
        events & (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
