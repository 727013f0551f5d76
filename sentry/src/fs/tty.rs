//! Terminal ioctls on host ttys the sandbox inherited.

use std::os::fd::RawFd;

use crate::vfs::{Errno, UserMemory, VfsResult};

/// Forwards the terminal ioctls a shell needs to host tty `fd`.
pub fn host_tty_ioctl(_fd: RawFd, _cmd: u32, _arg: u64, _mem: &dyn UserMemory) -> VfsResult<i64> {
    Err(Errno::ENOTTY)
}
