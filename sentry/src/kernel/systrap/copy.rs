//! Copies of app memory through the process's copy file
//! (platform/systrap/copyfile.rs) for the calls served detached: the
//! handler waiting in the stub runs `pwrite64`/`pread64` on the file at the
//! exec site (`Slot::exec`), and the sentry reads or fills its mapping.
//!
//! A process gets its file once it has made [`INSTALL_AFTER`] copies the
//! slow way in its current image: installing takes ptrace (an injected
//! `recvmsg` and `dup3`), which short-lived processes are spared. The file
//! is close-on-exec and forgotten at exec; a new image gets a new one.
//!
//! The file must be its process's alone: another process able to write it
//! could change what the sentry reads for this one behind its back. So a
//! fork child closes the copy it inherits before it runs (`fork_site`),
//! and processes that share their fd table (CLONE_FILES without
//! CLONE_THREAD) never use one.

use std::cell::Cell;
use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::Errno;

use super::super::task::{Task, ThreadGroup};
use super::stubcalls::StubCalls;
use crate::kernel::COPY_FD;
use crate::platform::systrap::copyfile::{CopyFile, AREA};
use crate::syscalls::SyscallCtx;

/// Slow copies a thread makes before its process gets a copy file.
pub(super) const INSTALL_AFTER: u32 = 64;

const _: () = assert!(COPY_FD < 1024, "inside the app's descriptor limit");

struct Entry {
    tg: Weak<ThreadGroup>,
    /// The file installed in the process's current image.
    file: Option<Arc<Installed>>,
    /// A thread is installing one: the others must not (two installs at
    /// once could leave the fd and this record naming different files).
    installing: bool,
    /// The process shares its fd table with another: no file, ever.
    never: bool,
}

/// A copy file installed in a process.
pub(super) struct Installed {
    file: CopyFile,
    /// Set when the process may no longer use it (exec, a shared fd table).
    retired: std::sync::atomic::AtomicBool,
}

impl Entry {
    /// Whether the process should get a file now (none installed or being
    /// installed, and its fd table its own).
    fn wants_file(&self) -> bool {
        self.file.is_none() && !self.installing && !self.never
    }
}

static FILES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn with_entry<R>(tg: &Arc<ThreadGroup>, f: impl FnOnce(&mut Entry) -> R) -> R {
    let mut all = FILES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|e| e.tg.strong_count() > 0);
    let i = match all.iter().position(|e| e.tg.as_ptr() == Arc::as_ptr(tg)) {
        Some(i) => i,
        None => {
            all.push(Entry { tg: Arc::downgrade(tg), file: None, installing: false, never: false });
            all.len() - 1
        }
    };
    f(&mut all[i])
}

/// `f` of `tg`'s entry, if it has one (without making one).
fn peek<R>(tg: &Arc<ThreadGroup>, f: impl FnOnce(Option<&Entry>) -> R) -> R {
    let all = FILES.lock().unwrap_or_else(|e| e.into_inner());
    f(all.iter().find(|e| e.tg.as_ptr() == Arc::as_ptr(tg)))
}

/// The file installed in `tg`'s current image, if any.
fn installed(tg: &Arc<ThreadGroup>) -> Option<Arc<Installed>> {
    peek(tg, |e| e.and_then(|e| e.file.clone()))
}

/// Whether `tg` should get a file now (see `Entry::wants_file`).
pub(super) fn wants_file(tg: &Arc<ThreadGroup>) -> bool {
    peek(tg, |e| e.is_none_or(Entry::wants_file))
}

/// Installs a new copy file in the stopped thread's process at `COPY_FD`,
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
            e.file = Some(file.clone());
        }
    });
    tracing::debug!(tid = ctx.task.tid, ok = installed.is_ok(), "systrap: copy file installed");
    installed.map(|_| true)
}

/// `tg`'s image is gone (exec): its file with it.
pub(super) fn forget(tg: &Arc<ThreadGroup>) {
    with_entry(tg, |e| retire(e.file.take()));
}

fn retire(file: Option<Arc<Installed>>) {
    if let Some(f) = file {
        f.retired.store(true, std::sync::atomic::Ordering::Release);
    }
}

/// At a clone (`flags`) by a thread of `parent` of `child`: a new process
/// that shares the fd table turns the file off for both. (One with a table
/// of its own closes its copy of `COPY_FD` before it runs: `fork_site`.)
pub fn note_clone(parent: &Arc<ThreadGroup>, child: &Arc<ThreadGroup>, flags: u64) {
    if flags & libc::CLONE_THREAD as u64 != 0 || crate::platform::systrap::active().is_none() {
        return;
    }
    if flags & libc::CLONE_FILES as u64 != 0 {
        for tg in [parent, child] {
            with_entry(tg, |e| {
                e.never = true;
                retire(e.file.take());
            });
        }
    }
}

/// Whether a clone with `flags` runs at the stub's fork site, whose child
/// closes `COPY_FD` before it parks (platform/stub.rs): every new process
/// with an fd table of its own, under systrap.
pub fn fork_site(flags: u64) -> bool {
    flags & (libc::CLONE_THREAD | libc::CLONE_FILES) as u64 == 0 && crate::platform::systrap::active().is_some()
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
        self.file.retired.load(std::sync::atomic::Ordering::Acquire)
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
    /// Copies that went the slow way for want of a file.
    pub(super) misses: Cell<u32>,
}

impl<'a> CallRoute<'a> {
    pub(super) fn new(calls: &'a StubCalls<'a>, copy: Option<&'a ThreadCopy>, task: &Task) -> Self {
        CallRoute { calls, copy, pid: task.tg.host_pid(), tid: task.host_tid(), misses: Cell::new(0) }
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
        let c = self.usable(buf.len())?;
        let n = self.run(c, libc::SYS_pwrite64, addr, buf.len())?;
        c.file.file.read_area(c.area, &mut buf[..n]);
        Some(n)
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Option<usize> {
        let c = self.usable(buf.len())?;
        c.file.file.write_area(c.area, buf);
        self.run(c, libc::SYS_pread64, addr, buf.len())
    }
}
