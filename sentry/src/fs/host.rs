//! Files backed directly by a host fd owned by the sentry: regular files the
//! gofer donated, memfds (tmpfs), and the sandbox's inherited stdio.

use std::any::Any;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::vfs::{Attr, Errno, FileOps, UserMemory, VfsResult};

/// Converts a libc return value (-1 + errno) into a VfsResult.
pub fn check(ret: isize) -> VfsResult<usize> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret as usize)
    }
}

/// fstat of a host fd.
pub fn host_fstat(fd: RawFd) -> VfsResult<Attr> {
    // SAFETY: zeroed stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable struct stat.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(Errno::last());
    }
    Ok(Attr::from_host(&st))
}

/// A seekable regular file read and written with pread/pwrite on a host fd.
/// The fd may be shared by several open files: all I/O is positional.
pub struct HostFile {
    fd: std::sync::Arc<OwnedFd>,
}

impl HostFile {
    pub fn new(fd: OwnedFd) -> HostFile {
        HostFile { fd: std::sync::Arc::new(fd) }
    }

    /// A file over an fd shared with other open files of the same inode.
    pub fn shared(fd: std::sync::Arc<OwnedFd>) -> HostFile {
        HostFile { fd }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl FileOps for HostFile {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        let off = i64::try_from(off).map_err(|_| Errno::EINVAL)?;
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        check(unsafe { libc::pread(self.fd(), buf.as_mut_ptr().cast(), buf.len(), off) })
    }

    fn write(&self, buf: &[u8], off: u64) -> VfsResult<usize> {
        let off = i64::try_from(off).map_err(|_| Errno::EFBIG)?;
        // SAFETY: buf is a valid readable buffer of buf.len() bytes.
        check(unsafe { libc::pwrite(self.fd(), buf.as_ptr().cast(), buf.len(), off) })
    }

    fn attr(&self) -> VfsResult<Attr> {
        host_fstat(self.fd())
    }

    fn host_fd(&self) -> Option<RawFd> {
        Some(self.fd())
    }

    fn truncate(&self, len: u64) -> VfsResult<()> {
        let len = i64::try_from(len).map_err(|_| Errno::EFBIG)?;
        // SAFETY: plain syscall on an owned fd.
        check(unsafe { libc::ftruncate(self.fd(), len) } as isize).map(|_| ())
    }

    fn allocate(&self, mode: i32, off: u64, len: u64) -> VfsResult<()> {
        // SAFETY: plain syscall on an owned fd.
        check(unsafe { libc::fallocate(self.fd(), mode, off as i64, len as i64) } as isize).map(|_| ())
    }

    fn sync(&self, data_only: bool) -> VfsResult<()> {
        // SAFETY: plain syscalls on an owned fd.
        let r = unsafe {
            if data_only {
                libc::fdatasync(self.fd())
            } else {
                libc::fsync(self.fd())
            }
        };
        check(r as isize).map(|_| ())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A host fd the sandbox inherited (stdin/stdout/stderr: pipes, ttys, files).
/// Its file offset is the host's, shared with whoever else holds the fd, so
/// reads and writes use the host offset and lseek goes to the host.
pub struct HostStream {
    fd: RawFd,
    /// Set when the stream owns its fd (an exec'd process's stdio, a reopened
    /// /proc/self/fd/N): it closes with the last sandbox file using it.
    _owned: Option<OwnedFd>,
}

impl HostStream {
    /// Wraps inherited fd `fd` (not owned: stdio stays open for the sentry's life).
    pub fn new(fd: RawFd) -> HostStream {
        HostStream { fd, _owned: None }
    }

    /// Wraps `fd`, closing it when the stream goes.
    pub fn owned(fd: OwnedFd) -> HostStream {
        HostStream { fd: fd.as_raw_fd(), _owned: Some(fd) }
    }

    pub fn is_tty(&self) -> bool {
        // SAFETY: isatty only inspects the fd.
        unsafe { libc::isatty(self.fd) == 1 }
    }
}

impl FileOps for HostStream {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        // Never block the sentry thread inside read: report EAGAIN when no data
        // is ready, and let the syscall layer wait interruptibly.
        if crate::vfs::host_poll(self.fd, libc::POLLIN) == 0 {
            return Err(Errno::EAGAIN);
        }
        // SAFETY: buf is valid for buf.len() bytes.
        check(unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) })
    }

    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        if crate::vfs::host_poll(self.fd, libc::POLLOUT) == 0 {
            return Err(Errno::EAGAIN);
        }
        // SAFETY: buf is valid for buf.len() bytes.
        check(unsafe { libc::write(self.fd, buf.as_ptr().cast(), buf.len()) })
    }

    fn seekable(&self) -> bool {
        false
    }

    fn sync(&self, data_only: bool) -> VfsResult<()> {
        // SAFETY: plain syscalls on an inherited fd (EINVAL for pipes and ttys).
        let r = unsafe {
            if data_only {
                libc::fdatasync(self.fd)
            } else {
                libc::fsync(self.fd)
            }
        };
        check(r as isize).map(|_| ())
    }

    fn host_seek(&self, off: i64, whence: i32) -> Option<VfsResult<u64>> {
        // SAFETY: lseek on an inherited fd; ESPIPE for pipes and ttys.
        let r = unsafe { libc::lseek(self.fd, off, whence) };
        Some(if r < 0 { Err(Errno::last()) } else { Ok(r as u64) })
    }

    fn attr(&self) -> VfsResult<Attr> {
        host_fstat(self.fd)
    }

    fn host_fd(&self) -> Option<RawFd> {
        Some(self.fd)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        crate::fs::tty::host_tty_ioctl(self.fd, cmd, arg, mem)
    }

    fn async_sources(&self) -> Option<Vec<(RawFd, i16)>> {
        crate::fs::tty::async_sources(self.fd)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
