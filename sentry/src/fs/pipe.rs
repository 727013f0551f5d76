//! Pipes: a host pipe owned by the sentry, both ends non-blocking on the host;
//! blocking is emulated (interruptibly) by the syscall layer.

use std::any::Any;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use super::host::check;
use crate::vfs::{next_synthetic_ino, now, Attr, Errno, FileOps, UserMemory, VfsResult, S_IFIFO};

/// One end of a pipe.
pub struct PipeEnd {
    fd: OwnedFd,
    ino: u64,
}

/// Creates a pipe: (read end, write end).
pub fn new_pipe() -> VfsResult<(Arc<PipeEnd>, Arc<PipeEnd>)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid 2-element out-array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(Errno::last());
    }
    let ino = next_synthetic_ino();
    // SAFETY: both fds are fresh and owned from here on.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Arc::new(PipeEnd { fd: r, ino }), Arc::new(PipeEnd { fd: w, ino })))
}

impl PipeEnd {
    pub fn ino(&self) -> u64 {
        self.ino
    }
}

impl FileOps for PipeEnd {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        // SAFETY: buf is valid for buf.len() bytes.
        check(unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
    }

    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        // SAFETY: buf is valid for buf.len() bytes.
        check(unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })
    }

    fn seekable(&self) -> bool {
        false
    }

    fn attr(&self) -> VfsResult<Attr> {
        let t = now();
        Ok(Attr {
            ino: self.ino,
            dev: 0xc,
            mode: S_IFIFO | 0o600,
            nlink: 1,
            blksize: 4096,
            atime: t,
            mtime: t,
            ctime: t,
            ..Default::default()
        })
    }

    fn host_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }

    fn allocate(&self, _mode: i32, _off: u64, _len: u64) -> VfsResult<()> {
        Err(Errno::ESPIPE)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        if cmd == libc::FIONREAD as u32 {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int to a valid pointer.
            if unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::FIONREAD, &mut n) } < 0 {
                return Err(Errno::last());
            }
            mem.write_bytes(arg, &n.to_ne_bytes())?;
            return Ok(0);
        }
        Err(Errno::ENOTTY)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
