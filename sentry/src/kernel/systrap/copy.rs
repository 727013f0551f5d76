//! Copies of app memory through the process's copy file
//! (platform/systrap/copyfile.rs) for the calls served detached: the
//! handler waiting in the stub runs `pwrite64`/`pread64` on the file at the
//! exec site (`Slot::exec`), and the sentry reads or fills its mapping.
//!
//! A process gets its file once it has made [`INSTALL_AFTER`] copies the
//! slow way in its current image, which short-lived processes are spared.
//! The file must be its process's alone: another process able to write it
//! could change what the sentry reads for this one behind its back
//! (owned.rs keeps it so).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rvisor_syscalls::Errno;

use super::super::task::{Task, ThreadGroup};
use super::owned::{peek, with_entry, Entry};
use super::stubcalls::{Deferred, StubCalls};
use crate::kernel::COPY_FD;
use crate::platform::systrap::copyfile::{CopyFile, AREA};
use crate::syscalls::SyscallCtx;

/// Slow copies a thread makes before its process gets a copy file.
pub(super) const INSTALL_AFTER: u32 = 64;

const _: () = assert!(COPY_FD < 1024, "inside the app's descriptor limit");

/// A copy file installed in a process.
pub(super) struct Installed {
    file: CopyFile,
    /// Set when the process may no longer use it (exec, a shared fd table).
    retired: AtomicBool,
}

impl Installed {
    pub(super) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }
}

impl Entry {
    /// Whether the process should get a file now (none installed or being
    /// installed, and its fd table its own).
    fn wants_file(&self) -> bool {
        self.copy.is_none() && !self.installing && !self.never
    }
}

/// The file installed in `tg`'s current image, if any.
fn installed(tg: &Arc<ThreadGroup>) -> Option<Arc<Installed>> {
    peek(tg, |e| e.and_then(|e| e.copy.clone()))
}

/// Whether `tg` should get a file now (see `Entry::wants_file`).
pub(super) fn wants_file(tg: &Arc<ThreadGroup>) -> bool {
    peek(tg, |e| e.is_none_or(Entry::wants_file))
}

/// Installs a new copy file in the thread's process at `COPY_FD` (through
/// ptrace, or through the install socket for a thread served detached),
/// unless another thread of it is installing one or has: Ok(false) then.
pub(super) fn install(ctx: &mut SyscallCtx<'_>) -> Result<bool, Errno> {
    let tg = ctx.task.tg.clone();
    let claimed = with_entry(&tg, |e| {
        let free = e.wants_file();
        e.installing |= free;
        free
    });
    if !claimed {
        return Ok(false);
    }
    let installed = CopyFile::new().and_then(|file| ctx.inject_fd_at(file.fd(), COPY_FD).map(|()| file));
    let installed = installed.map(|file| Arc::new(Installed { file, retired: Default::default() }));
    // Recorded as the claim ends, so no other thread installs in between.
    with_entry(&tg, |e| {
        e.installing = false;
        if let (Ok(file), false) = (&installed, e.never) {
            e.copy = Some(file.clone());
        }
    });
    tracing::debug!(tid = ctx.task.tid, ok = installed.is_ok(), "systrap: copy file installed");
    installed.map(|_| true)
}

/// A thread's area of its process's copy file.
pub(super) struct ThreadCopy {
    file: Arc<Installed>,
    area: usize,
}

impl ThreadCopy {
    /// An area of `tg`'s installed file, if it has one with an area free.
    pub(super) fn take(tg: &Arc<ThreadGroup>) -> Option<ThreadCopy> {
        let file = installed(tg)?;
        let area = file.file.take_area()?;
        Some(ThreadCopy { file, area })
    }

    pub(super) fn retired(&self) -> bool {
        self.file.retired.load(Ordering::Acquire)
    }
}

impl Drop for ThreadCopy {
    fn drop(&mut self) {
        self.file.file.give_back(self.area);
    }
}

/// The copy route of one call served detached (mm/route.rs).
pub(super) struct CallRoute<'a> {
    calls: &'a StubCalls<'a>,
    copy: Option<&'a ThreadCopy>,
    pid: i32,
    tid: i32,
    /// The sentry thread runs apart: a command is cheaper than
    /// `process_vm_readv`/`writev` (~0.7 against ~2 µs). Beside, a command
    /// is a same-CPU switch pair (~6 µs), so only copy-outs that go with
    /// the reply take the file.
    apart: bool,
    /// Copies that went the slow way for want of a file.
    pub(super) misses: Cell<u32>,
}

impl<'a> CallRoute<'a> {
    pub(super) fn new(calls: &'a StubCalls<'a>, copy: Option<&'a ThreadCopy>, task: &Task, apart: bool) -> Self {
        CallRoute { calls, copy, pid: task.tg.host_pid(), tid: task.host_tid(), apart, misses: Cell::new(0) }
    }

    /// Runs `nr` on the copy file for `len` bytes at `addr`: the count the
    /// kernel moved (0 for a fault at the first byte), or None to copy
    /// another way.
    fn run(&self, c: &ThreadCopy, nr: i64, addr: u64, len: usize) -> Option<usize> {
        let off = CopyFile::offset(c.area);
        let r = self.calls.exec_unchecked(nr, [COPY_FD as u64, addr, len as u64, off, 0, 0])?;
        match r {
            // The app writes the result field: a count past the request is
            // not the kernel's, and is not believed.
            n if n >= 0 && n as usize <= len => Some(n as usize),
            n if n == -(libc::EFAULT as i64) => Some(0),
            _ => None,
        }
    }

    fn usable(&self, len: usize) -> Option<&ThreadCopy> {
        if len > AREA {
            return None;
        }
        match self.copy {
            Some(c) if !c.retired() => Some(c),
            Some(_) => None,
            None => {
                self.misses.set(self.misses.get() + 1);
                None
            }
        }
    }
}

impl crate::mm::route::Route for CallRoute<'_> {
    fn serves(&self, pid: i32) -> bool {
        pid == self.pid || pid == self.tid
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Option<usize> {
        // A held-back copy-out lands first; had it faulted, the call would
        // have failed there.
        if !self.calls.flush() {
            return Some(0);
        }
        let c = self.usable(buf.len())?;
        if !self.apart {
            return None;
        }
        let n = self.run(c, libc::SYS_pwrite64, addr, buf.len())?;
        c.file.file.read_area(c.area, &mut buf[..n]);
        Some(n)
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Option<usize> {
        if !self.calls.flush() {
            return Some(0);
        }
        let c = self.usable(buf.len())?;
        c.file.file.write_area(c.area, buf);
        let args = [COPY_FD as u64, addr, buf.len() as u64, CopyFile::offset(c.area), 0, 0];
        if self.calls.defer(Deferred { nr: libc::SYS_pread64, args, len: buf.len() as u64 }) {
            return Some(buf.len());
        }
        if !self.apart {
            return None;
        }
        self.run(c, libc::SYS_pread64, addr, buf.len())
    }
}

/// Whether call `nr`'s last copy-out may go with its reply
/// (`Slot::reply_copy`): calls that only report, end with that copy-out,
/// and fail with EFAULT and nothing else changed when it faults, as the
/// copy-out run at the reply then makes them fail.
pub(super) fn defers_copy_out(nr: u64) -> bool {
    const CALLS: [i64; 10] = [
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_statfs,
        libc::SYS_fstatfs,
        libc::SYS_uname,
        libc::SYS_sysinfo,
        libc::SYS_getcwd,
    ];
    CALLS.contains(&(nr as i64))
}
