//! Host fds an app process holds for the sentry alone under systrap: its
//! copy file (`kernel::COPY_FD`, copy.rs) and its install socket
//! (`kernel::INSTALL_FD`, fdpass.rs). Both belong to one image of one
//! process: they are close-on-exec and forgotten at exec, a fork child
//! closes its copies before it runs (`fork_site`), and a process that shares
//! its fd table with another (CLONE_FILES without CLONE_THREAD) never uses
//! either, since the other could then use them too.

use std::sync::{Arc, Mutex, Weak};

use super::super::task::ThreadGroup;
use super::copy;
use super::fdpass::InstallSocket;

pub(super) struct Entry {
    tg: Weak<ThreadGroup>,
    /// The copy file installed in the process's current image.
    pub(super) copy: Option<Arc<copy::Installed>>,
    /// A thread is installing a copy file: the others must not (two installs
    /// at once could leave the fd and this record naming different files).
    pub(super) installing: bool,
    /// The install socket of the process's current image.
    pub(super) socket: Option<Arc<InstallSocket>>,
    /// The process shares its fd table with another: neither, ever.
    pub(super) never: bool,
    /// The process's fd table is shared with another process now (until
    /// an exec, which gives it one of its own): that process would see
    /// every fd passed to this one, a new thread's chunk too.
    table_shared: bool,
}

static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// `f` of `tg`'s entry, made if it has none.
pub(super) fn with_entry<R>(tg: &Arc<ThreadGroup>, f: impl FnOnce(&mut Entry) -> R) -> R {
    let mut all = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|e| e.tg.strong_count() > 0);
    let i = match all.iter().position(|e| e.tg.as_ptr() == Arc::as_ptr(tg)) {
        Some(i) => i,
        None => {
            let fresh = Entry {
                tg: Arc::downgrade(tg),
                copy: None,
                installing: false,
                socket: None,
                never: false,
                table_shared: false,
            };
            all.push(fresh);
            all.len() - 1
        }
    };
    f(&mut all[i])
}

/// `f` of `tg`'s entry, if it has one (without making one).
pub(super) fn peek<R>(tg: &Arc<ThreadGroup>, f: impl FnOnce(Option<&Entry>) -> R) -> R {
    let all = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    f(all.iter().find(|e| e.tg.as_ptr() == Arc::as_ptr(tg)))
}

impl Entry {
    /// Drops both fds' records and marks them retired for their holders.
    fn retire_all(&mut self) {
        if let Some(f) = self.copy.take() {
            f.retire();
        }
        self.socket = None;
    }
}

/// `tg`'s image is gone (exec): its fds with it, and its fd table is its
/// own (exec unshares it).
pub(super) fn forget(tg: &Arc<ThreadGroup>) {
    with_entry(tg, |e| {
        e.retire_all();
        e.table_shared = false;
    });
}

/// Whether `tg` shares its fd table with another process.
pub(super) fn table_shared(tg: &Arc<ThreadGroup>) -> bool {
    peek(tg, |e| e.is_some_and(|e| e.table_shared))
}

/// At a clone (`flags`) by a thread of `parent` of `child`: a new process
/// that shares the fd table turns both fds off for both. (One with a table
/// of its own closes its copies before it runs: `fork_site`.)
pub fn note_clone(parent: &Arc<ThreadGroup>, child: &Arc<ThreadGroup>, flags: u64) {
    if flags & libc::CLONE_THREAD as u64 != 0 || crate::platform::systrap::active().is_none() {
        return;
    }
    if flags & libc::CLONE_FILES as u64 != 0 {
        for tg in [parent, child] {
            with_entry(tg, |e| {
                e.never = true;
                e.table_shared = true;
                e.retire_all();
            });
        }
    }
}

/// Whether a clone with `flags` runs at the stub's fork site, whose child
/// closes `COPY_FD` and `INSTALL_FD` before it parks (platform/stub.rs):
/// every new process with an fd table of its own, under systrap.
pub fn fork_site(flags: u64) -> bool {
    flags & (libc::CLONE_THREAD | libc::CLONE_FILES) as u64 == 0 && crate::platform::systrap::active().is_some()
}
