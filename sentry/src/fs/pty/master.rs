//! The master end (/dev/ptmx): what it writes is the slave's input, what it
//! reads is the slave's processed output and the echoes.

use std::any::Any;
use std::sync::Arc;

use super::{ldisc::Effects, Pty, TIOCGPTLCK, TIOCGPTN, TIOCPKT, TIOCSPTLCK};
use crate::kernel::wait::WaitSet;
use crate::vfs::{Attr, Errno, FileOps, UserMemory, VfsResult};

pub struct PtyMaster {
    pty: Arc<Pty>,
}

impl PtyMaster {
    pub(super) fn new(pty: Arc<Pty>) -> PtyMaster {
        PtyMaster { pty }
    }

    pub fn pty(&self) -> &Arc<Pty> {
        &self.pty
    }
}

impl Drop for PtyMaster {
    fn drop(&mut self) {
        self.pty.hang_up();
    }
}

const IN: i16 = libc::POLLIN | libc::POLLRDNORM;
const OUT: i16 = libc::POLLOUT | libc::POLLWRNORM;

impl FileOps for PtyMaster {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        let data = {
            let mut st = self.pty.lock();
            if st.ld.master_len() == 0 {
                // Linux: EIO once every slave file is closed and the data is drained.
                return Err(if st.other_closed { Errno::EIO } else { Errno::EAGAIN });
            }
            st.ld.master_read(buf.len())
        };
        buf[..data.len()].copy_from_slice(&data);
        self.pty.queue.notify();
        Ok(data.len())
    }

    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut fx = Effects::default();
        let n = self.pty.lock().ld.receive(buf, &mut fx);
        self.pty.queue.notify();
        self.pty.deliver(fx);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        Ok(n)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn attr(&self) -> VfsResult<Attr> {
        // The node it was opened through (/dev/ptmx or /dev/pts/ptmx) answers.
        Err(Errno::ENOSYS)
    }

    fn poll(&self, events: i16) -> i16 {
        let st = self.pty.lock();
        let mut r = 0;
        if st.ld.master_len() > 0 {
            r |= IN;
        }
        if st.other_closed {
            r |= libc::POLLHUP;
        }
        if st.ld.input_room() > 0 {
            r |= OUT;
        }
        r & (events | libc::POLLHUP | libc::POLLERR)
    }

    fn wait_on(&self, _events: i16, set: &mut WaitSet) {
        set.queue(&self.pty.queue);
    }

    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        match cmd {
            TIOCGPTN => {
                mem.write_bytes(arg, &self.pty.index.to_ne_bytes())?;
                Ok(0)
            }
            TIOCSPTLCK => {
                let mut b = [0u8; 4];
                mem.read_bytes(arg, &mut b)?;
                self.pty.lock().locked = i32::from_ne_bytes(b) != 0;
                Ok(0)
            }
            TIOCGPTLCK => {
                let v = self.pty.lock().locked as i32;
                mem.write_bytes(arg, &v.to_ne_bytes())?;
                Ok(0)
            }
            TIOCPKT => {
                // Packet mode is not emulated: turning it off (the default) is all that works.
                let mut b = [0u8; 4];
                mem.read_bytes(arg, &mut b)?;
                if i32::from_ne_bytes(b) != 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(0)
            }
            _ => self.pty.common_ioctl(true, cmd, arg, mem),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
