//! The slave end (/dev/pts/N): the terminal programs talk to. Reads follow
//! the line discipline (canonical lines, VMIN/VTIME); once the master is
//! closed the file is hung up: reads see end of file, writes and ioctls EIO.

use std::any::Any;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use super::ldisc::{VMIN, VTIME};
use super::{Pty, TIOCSPGRP};
use crate::kernel::wait::{wait_fds, WaitSet, Woken};
use crate::vfs::{Attr, Errno, FileOps, UserMemory, VfsResult};

pub struct PtySlave {
    pty: Arc<Pty>,
    /// Opened as /dev/tty: fstat shows that node, not /dev/pts/N.
    via_tty: bool,
    /// The process whose last read found nothing (0: none), likely blocked
    /// in it: on Linux a read waiting when the master goes away fails
    /// with EIO, while later reads of the hung-up file see end of file.
    waiting: AtomicI32,
}

/// Opens a new slave file of `pty` with open(2) `flags`.
pub fn open(pty: &Arc<Pty>, flags: i32, via_tty: bool) -> VfsResult<Arc<PtySlave>> {
    {
        let mut st = pty.lock();
        if !st.master_open || st.locked {
            return Err(Errno::EIO);
        }
        st.slaves += 1;
        st.other_closed = false;
    }
    let file = Arc::new(PtySlave { pty: pty.clone(), via_tty, waiting: AtomicI32::new(0) });
    if flags & libc::O_NOCTTY == 0 {
        pty.maybe_acquire();
    }
    pty.queue.notify();
    Ok(file)
}

impl Drop for PtySlave {
    fn drop(&mut self) {
        {
            let mut st = self.pty.lock();
            st.slaves = st.slaves.saturating_sub(1);
            if st.slaves == 0 {
                st.other_closed = true;
            }
        }
        self.pty.queue.notify();
    }
}

const HUNG_UP: i16 = libc::POLLIN | libc::POLLOUT | libc::POLLERR | libc::POLLHUP | libc::POLLRDNORM | libc::POLLWRNORM;

impl PtySlave {
    /// One read attempt; EAGAIN when the caller should wait.
    fn read_now(&self, buf: &mut [u8]) -> VfsResult<usize> {
        let data = {
            let mut st = self.pty.lock();
            if !st.master_open {
                // A reader the hang-up's SIGHUP interrupts sees EINTR instead,
                // and its next read is a new one.
                let w = self.waiting.swap(0, Ordering::Relaxed);
                return if w != 0 && st.hup_pid != Some(w) { Err(Errno::EIO) } else { Ok(0) };
            }
            if !st.ld.canonical() {
                let (min, time) = (st.ld.termios.c_cc[VMIN] as usize, st.ld.termios.c_cc[VTIME]);
                if min == 0 && time > 0 {
                    drop(st);
                    return self.timed_read(buf, time);
                }
                // VMIN > 0: wait until that many bytes (or a full buffer) are there.
                let want = min.min(buf.len()).min(super::ldisc::BUF_CAP);
                if st.ld.readable() < want.max(1) {
                    return if min == 0 { Ok(0) } else { Err(Errno::EAGAIN) };
                }
            }
            st.ld.slave_read(buf.len()).ok_or(Errno::EAGAIN)?
        };
        buf[..data.len()].copy_from_slice(&data);
        self.pty.queue.notify();
        Ok(data.len())
    }

    /// A non-canonical read with VMIN 0 and VTIME > 0: waits up to VTIME
    /// tenths of a second for any byte, then reads what there is (maybe 0).
    fn timed_read(&self, buf: &mut [u8], tenths: u8) -> VfsResult<usize> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(tenths as u64 * 100);
        let task = crate::kernel::current_task();
        loop {
            let ev = self.pty.queue.register()?;
            {
                let mut st = self.pty.lock();
                if !st.master_open {
                    return Ok(0);
                }
                if let Some(d) = st.ld.slave_read(buf.len()) {
                    drop(st);
                    buf[..d.len()].copy_from_slice(&d);
                    self.pty.queue.notify();
                    return Ok(d.len());
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(0);
            }
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            let intr = task.as_ref().map_or(ev.raw(), |t| t.interrupt.raw());
            if wait_fds(&[(ev.raw(), libc::POLLIN)], intr, ms) == Woken::Interrupted {
                return Err(Errno::ERESTARTSYS);
            }
        }
    }
}

impl FileOps for PtySlave {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        if self.pty.lock().master_open {
            self.pty.check_background_read()?;
        }
        let r = self.read_now(buf);
        let me = if r == Err(Errno::EAGAIN) { crate::kernel::current_task().map_or(0, |t| t.tg.tgid) } else { 0 };
        self.waiting.store(me, Ordering::Relaxed);
        r
    }

    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        if !self.pty.lock().master_open {
            return Err(Errno::EIO);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.pty.lock().ld.slave_write(buf);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        self.pty.queue.notify();
        Ok(n)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn attr(&self) -> VfsResult<Attr> {
        if self.via_tty {
            return Err(Errno::ENOSYS);
        }
        Ok(self.pty.node_attr())
    }

    fn poll(&self, events: i16) -> i16 {
        let st = self.pty.lock();
        if !st.master_open {
            return HUNG_UP & (events | libc::POLLHUP | libc::POLLERR);
        }
        let mut r = 0;
        if st.ld.slave_can_read(true) {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if st.ld.output_room() > 0 {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r & events
    }

    fn wait_on(&self, _events: i16, set: &mut WaitSet) {
        set.queue(&self.pty.queue);
    }

    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        if !self.pty.lock().master_open {
            return Err(if cmd == TIOCSPGRP { Errno::ENOTTY } else { Errno::EIO });
        }
        self.pty.common_ioctl(false, cmd, arg, mem)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
