//! Terminal ioctls on host ttys the sandbox inherited. Termios and window
//! size go to the host tty; process-group ioctls are answered from the
//! sandbox's own (virtual) process groups.

use std::os::fd::RawFd;

use rvisor_syscalls::abi::{KernelTermios, Pod, Winsize};

use crate::vfs::{Errno, UserMemory, VfsResult};

const TCGETS: u32 = 0x5401;
const TCSETS: u32 = 0x5402;
const TCSETSW: u32 = 0x5403;
const TCSETSF: u32 = 0x5404;
const TCXONC: u32 = 0x540a;
const TCFLSH: u32 = 0x540b;
const TIOCGPGRP: u32 = 0x540f;
const TIOCSPGRP: u32 = 0x5410;
const TIOCGWINSZ: u32 = 0x5413;
const TIOCSWINSZ: u32 = 0x5414;
const FIONREAD: u32 = 0x541b;
const TIOCGSID: u32 = 0x5429;

fn host_ioctl<T: Pod>(fd: RawFd, cmd: u32, val: &mut T) -> VfsResult<()> {
    // SAFETY: the ioctl reads or writes exactly one T at a valid pointer.
    if unsafe { libc::ioctl(fd, cmd as libc::c_ulong, val as *mut T) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Forwards the terminal ioctls a shell needs to host tty `fd`.
pub fn host_tty_ioctl(fd: RawFd, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
    // SAFETY: isatty only inspects the fd.
    let is_tty = unsafe { libc::isatty(fd) } == 1;
    if cmd == FIONREAD {
        let mut n: i32 = 0;
        host_ioctl(fd, cmd, &mut n)?;
        mem.write_bytes(arg, n.as_bytes())?;
        return Ok(0);
    }
    if !is_tty {
        return Err(Errno::ENOTTY);
    }
    match cmd {
        TCGETS => {
            let mut t = KernelTermios::default();
            host_ioctl(fd, cmd, &mut t)?;
            mem.write_bytes(arg, t.as_bytes())?;
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF => {
            let mut buf = [0u8; 36];
            mem.read_bytes(arg, &mut buf)?;
            let mut t = KernelTermios::from_bytes(&buf).ok_or(Errno::EFAULT)?;
            host_ioctl(fd, cmd, &mut t)?;
            Ok(0)
        }
        TIOCGWINSZ => {
            let mut w = Winsize::default();
            host_ioctl(fd, cmd, &mut w)?;
            mem.write_bytes(arg, w.as_bytes())?;
            Ok(0)
        }
        TIOCSWINSZ => {
            let mut buf = [0u8; 8];
            mem.read_bytes(arg, &mut buf)?;
            let mut w = Winsize::from_bytes(&buf).ok_or(Errno::EFAULT)?;
            host_ioctl(fd, cmd, &mut w)?;
            Ok(0)
        }
        TIOCGPGRP | TIOCGSID => {
            // The sandbox's terminal belongs to the caller's session; its foreground
            // group is the one last set with TIOCSPGRP, else the caller's own.
            let t = crate::kernel::current_task().ok_or(Errno::ENOTTY)?;
            let (pgid, sid) = {
                let st = t.tg.lock();
                (st.pgid, st.sid)
            };
            let fg = crate::kernel::current_kernel()
                .and_then(|k| *k.tty_foreground.lock().unwrap_or_else(|e| e.into_inner()));
            let v: i32 = if cmd == TIOCGPGRP { fg.unwrap_or(pgid) } else { sid };
            mem.write_bytes(arg, v.as_bytes())?;
            Ok(0)
        }
        TIOCSPGRP => {
            let mut buf = [0u8; 4];
            mem.read_bytes(arg, &mut buf)?;
            let pg = i32::from_ne_bytes(buf);
            if pg < 0 {
                return Err(Errno::EINVAL);
            }
            let t = crate::kernel::current_task().ok_or(Errno::ENOTTY)?;
            let k = crate::kernel::current_kernel().ok_or(Errno::ENOTTY)?;
            let sid = t.tg.lock().sid;
            // The group must exist in the caller's session.
            let exists = k.all_groups().iter().any(|g| {
                let st = g.lock();
                st.pgid == pg && st.exit.is_none()
            });
            if !exists {
                return Err(Errno::ESRCH);
            }
            if !k.all_groups().iter().any(|g| {
                let st = g.lock();
                st.pgid == pg && st.sid == sid
            }) {
                return Err(Errno::EPERM);
            }
            *k.tty_foreground.lock().unwrap_or_else(|e| e.into_inner()) = Some(pg);
            Ok(0)
        }
        TCXONC | TCFLSH => {
            // SAFETY: integer-argument ioctls on a host tty.
            if unsafe { libc::ioctl(fd, cmd as libc::c_ulong, arg as libc::c_int) } < 0 {
                return Err(Errno::last());
            }
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// O_ASYNC on an inherited stream: ttys and pipes have fasync (input raises
/// SIGIO); regular files do not.
pub fn async_sources(fd: RawFd) -> Option<Vec<(RawFd, i16)>> {
    // SAFETY: zeroed stat is a valid out-buffer; fstat only inspects the fd.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid stat buffer.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return None;
    }
    let kind = st.st_mode & libc::S_IFMT;
    (kind == libc::S_IFCHR || kind == libc::S_IFIFO || kind == libc::S_IFSOCK)
        .then(|| vec![(fd, libc::POLLIN | libc::POLLOUT)])
}
