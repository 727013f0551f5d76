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

    fn async_sources(&self) -> Option<Vec<(RawFd, i16)>> {
        // The description's access mode picks the direction (readers hear POLL_IN).
        Some(vec![(self.fd.as_raw_fd(), libc::POLLIN | libc::POLLOUT)])
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

/// Named pipes: every FIFO inode (any file system) maps to one shared host
/// pipe while it is open. Ends are handed out as new open file descriptions
/// of that pipe, so EOF and EPIPE follow the real reader/writer counts.
pub mod fifo {
    use std::collections::HashMap;
    use std::os::fd::AsRawFd;
    use std::sync::{Arc, Mutex, Weak};

    use super::PipeEnd;
    use crate::vfs::{Errno, VfsResult};

    #[derive(Default)]
    struct State {
        readers: Weak<PipeEnd>,
        writers: Weak<PipeEnd>,
        /// Opens waiting for the other side, and how many of each side ever opened.
        opened_readers: u64,
        opened_writers: u64,
    }

    static FIFOS: Mutex<Option<HashMap<(u64, u64), State>>> = Mutex::new(None);
    static CHANGED: crate::kernel::wait::WaitQueue = crate::kernel::wait::WaitQueue::new();

    /// A new open file description of the pipe behind `end`, with `flags`.
    pub(crate) fn reopen(end: &PipeEnd, flags: i32) -> VfsResult<Arc<PipeEnd>> {
        // Opening a pipe's magic link gives a new end of the same pipe.
        let fd = crate::confine::open_host_proc(&format!("self/fd/{}", end.fd.as_raw_fd()), flags | libc::O_NONBLOCK)?;
        Ok(Arc::new(PipeEnd { fd, ino: end.ino }))
    }

    /// Opens FIFO `key` (dev, ino). `interrupted` is polled while an open waits
    /// for the other side; returning true aborts the wait with EINTR.
    pub fn open(key: (u64, u64), flags: i32, interrupted: &dyn Fn() -> bool) -> VfsResult<Vec<Arc<PipeEnd>>> {
        let acc = flags & libc::O_ACCMODE;
        let nonblock = flags & libc::O_NONBLOCK != 0;
        let mut g = FIFOS.lock().unwrap_or_else(|e| e.into_inner());
        let map = g.get_or_insert_with(HashMap::new);
        let st = map.entry(key).or_default();
        // The pipe exists while any end is open; otherwise make a fresh one.
        let existing = st.readers.upgrade().or_else(|| st.writers.upgrade());
        let (r, w) = match &existing {
            Some(e) => (
                if acc != libc::O_WRONLY { Some(reopen(e, libc::O_RDONLY)?) } else { None },
                if acc != libc::O_RDONLY { Some(reopen(e, libc::O_WRONLY)?) } else { None },
            ),
            None => {
                let (r, w) = super::new_pipe()?;
                (if acc != libc::O_WRONLY { Some(r) } else { None }, if acc != libc::O_RDONLY { Some(w) } else { None })
            }
        };
        if acc == libc::O_WRONLY && st.readers.upgrade().is_none() && nonblock {
            return Err(Errno::ENXIO);
        }
        if let Some(r) = &r {
            if st.readers.upgrade().is_none() {
                st.readers = Arc::downgrade(r);
            }
            st.opened_readers += 1;
        }
        if let Some(w) = &w {
            if st.writers.upgrade().is_none() {
                st.writers = Arc::downgrade(w);
            }
            st.opened_writers += 1;
        }
        CHANGED.notify();
        // Blocking opens wait for the other side (O_RDWR never waits).
        if !nonblock && acc != libc::O_RDWR {
            let want_readers = acc == libc::O_WRONLY;
            let seen = if want_readers { st.opened_readers } else { st.opened_writers };
            loop {
                // Registered before the check, under the table lock.
                let ev = CHANGED.register()?;
                let st = g.get_or_insert_with(HashMap::new).entry(key).or_default();
                let other_now = if want_readers { st.opened_readers } else { st.opened_writers };
                let alive = if want_readers { st.readers.upgrade().is_some() } else { st.writers.upgrade().is_some() };
                if alive || other_now > seen {
                    break;
                }
                drop(g);
                // The task's interrupt fd cuts the wait short for a signal.
                let (intr, ms) = match crate::kernel::current_task() {
                    Some(t) => (t.interrupt.raw(), -1),
                    None => (ev.raw(), 20),
                };
                crate::kernel::wait::wait_fds(&[(ev.raw(), libc::POLLIN)], intr, ms);
                if interrupted() {
                    return Err(Errno::ERESTARTSYS);
                }
                g = FIFOS.lock().unwrap_or_else(|e| e.into_inner());
            }
        }
        Ok(r.into_iter().chain(w).collect())
    }
}
