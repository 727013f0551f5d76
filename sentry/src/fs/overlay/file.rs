//! Open overlay files.

use std::any::Any;
use std::os::fd::RawFd;
use std::sync::Arc;

use super::OvlInode;
use crate::vfs::{Attr, Errno, FileOps, Inode, UserMemory, VfsResult};

/// An open overlay file: the layer's file, with fstat reporting the overlay's
/// device and inode number (so fstat agrees with stat across copy-up).
pub struct OvlFile {
    pub(super) inner: Arc<dyn FileOps>,
    pub(super) inode: Arc<OvlInode>,
}

impl OvlFile {
    /// The layer file doing the work.
    pub fn inner(&self) -> &Arc<dyn FileOps> {
        &self.inner
    }
}

impl FileOps for OvlFile {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        self.inner.read(buf, off)
    }

    fn write(&self, buf: &[u8], off: u64) -> VfsResult<usize> {
        self.inner.write(buf, off)
    }

    fn seekable(&self) -> bool {
        self.inner.seekable()
    }

    fn attr(&self) -> VfsResult<Attr> {
        match self.inner.attr() {
            Ok(mut a) => {
                a.dev = self.inode.fs.dev;
                a.ino = self.inode.ino;
                Ok(a)
            }
            Err(e) if e == Errno::ENOSYS => self.inode.attr(),
            Err(e) => Err(e),
        }
    }

    fn host_fd(&self) -> Option<RawFd> {
        self.inner.host_fd()
    }

    fn truncate(&self, len: u64) -> VfsResult<()> {
        self.inner.truncate(len)
    }

    fn allocate(&self, mode: i32, off: u64, len: u64) -> VfsResult<()> {
        self.inner.allocate(mode, off, len)
    }

    fn sync(&self, data_only: bool) -> VfsResult<()> {
        self.inner.sync(data_only)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        self.inner.ioctl(cmd, arg, mem)
    }

    fn poll(&self, events: i16) -> i16 {
        self.inner.poll(events)
    }

    fn mmap_anonymous(&self) -> bool {
        self.inner.mmap_anonymous()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
