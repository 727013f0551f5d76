//! Host fds handed to an exec'd process as its stdio: like inherited stdio
//! ([`HostStream`]), but owned, so the fd closes when the last sandbox file
//! using it goes away.

use std::any::Any;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::fs::host::HostStream;
use crate::vfs::{Attr, FileOps, UserMemory, VfsResult};

pub struct OwnedStream {
    // Field order: `inner` names `_fd`'s number and must never outlive it in use.
    inner: HostStream,
    _fd: OwnedFd,
}

impl OwnedStream {
    pub fn new(fd: OwnedFd) -> OwnedStream {
        OwnedStream { inner: HostStream::new(fd.as_raw_fd()), _fd: fd }
    }
}

impl FileOps for OwnedStream {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        self.inner.read(buf, off)
    }

    fn write(&self, buf: &[u8], off: u64) -> VfsResult<usize> {
        self.inner.write(buf, off)
    }

    fn seekable(&self) -> bool {
        self.inner.seekable()
    }

    fn sync(&self, data_only: bool) -> VfsResult<()> {
        self.inner.sync(data_only)
    }

    fn host_seek(&self, off: i64, whence: i32) -> Option<VfsResult<u64>> {
        self.inner.host_seek(off, whence)
    }

    fn attr(&self) -> VfsResult<Attr> {
        self.inner.attr()
    }

    fn host_fd(&self) -> Option<RawFd> {
        self.inner.host_fd()
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        self.inner.ioctl(cmd, arg, mem)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
