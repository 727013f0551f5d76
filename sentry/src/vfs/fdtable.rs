//! Per-process file descriptor tables.

use std::sync::{Arc, Mutex};

use super::{Errno, OpenFile, VfsResult};

/// Hard upper bound on fds a sandboxed process may hold, whatever its rlimit.
pub const MAX_FDS: usize = 1 << 20;

#[derive(Clone)]
struct FdEntry {
    file: Arc<OpenFile>,
    cloexec: bool,
}

/// A table of fds -> open file descriptions. Shared between threads (and
/// CLONE_FILES children) through an `Arc<FdTable>`; copied by fork.
#[derive(Default)]
pub struct FdTable {
    entries: Mutex<Vec<Option<FdEntry>>>,
}

impl FdTable {
    pub fn new() -> FdTable {
        FdTable::default()
    }

    /// A copy for fork: same open file descriptions, independent table.
    pub fn fork(&self) -> FdTable {
        FdTable { entries: Mutex::new(self.lock().clone()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<FdEntry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, fd: i32) -> VfsResult<Arc<OpenFile>> {
        let entries = self.lock();
        usize::try_from(fd)
            .ok()
            .and_then(|i| entries.get(i))
            .and_then(|e| e.as_ref())
            .map(|e| e.file.clone())
            .ok_or(Errno::EBADF)
    }

    pub fn get_cloexec(&self, fd: i32) -> VfsResult<bool> {
        let entries = self.lock();
        usize::try_from(fd)
            .ok()
            .and_then(|i| entries.get(i))
            .and_then(|e| e.as_ref())
            .map(|e| e.cloexec)
            .ok_or(Errno::EBADF)
    }

    pub fn set_cloexec(&self, fd: i32, cloexec: bool) -> VfsResult<()> {
        let mut entries = self.lock();
        match usize::try_from(fd).ok().and_then(|i| entries.get_mut(i)).and_then(|e| e.as_mut()) {
            Some(e) => {
                e.cloexec = cloexec;
                Ok(())
            }
            None => Err(Errno::EBADF),
        }
    }

    /// Installs `file` at the lowest free fd >= `min_fd`, below `limit` (RLIMIT_NOFILE).
    pub fn install(&self, file: Arc<OpenFile>, cloexec: bool, min_fd: i32, limit: u64) -> VfsResult<i32> {
        let limit = (limit as usize).min(MAX_FDS);
        let min = usize::try_from(min_fd).map_err(|_| Errno::EINVAL)?;
        if min >= limit {
            return Err(Errno::EMFILE);
        }
        let mut entries = self.lock();
        let slot = (min..limit).find(|&i| entries.get(i).is_none_or(|e| e.is_none())).ok_or(Errno::EMFILE)?;
        if slot >= entries.len() {
            entries.resize(slot + 1, None);
        }
        entries[slot] = Some(FdEntry { file, cloexec });
        Ok(slot as i32)
    }

    /// dup2/dup3: puts `file` at exactly `fd`, returning what was there.
    pub fn install_at(
        &self,
        fd: i32,
        file: Arc<OpenFile>,
        cloexec: bool,
        limit: u64,
    ) -> VfsResult<Option<Arc<OpenFile>>> {
        let idx = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        if idx >= (limit as usize).min(MAX_FDS) {
            return Err(Errno::EBADF);
        }
        let mut entries = self.lock();
        if idx >= entries.len() {
            entries.resize(idx + 1, None);
        }
        let old = entries[idx].replace(FdEntry { file, cloexec });
        Ok(old.map(|e| e.file))
    }

    /// Removes `fd`, returning its file (the caller drops it outside the lock).
    pub fn remove(&self, fd: i32) -> VfsResult<Arc<OpenFile>> {
        let mut entries = self.lock();
        let idx = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        entries.get_mut(idx).and_then(|e| e.take()).map(|e| e.file).ok_or(Errno::EBADF)
    }

    /// Closes every close-on-exec fd (execve).
    pub fn close_on_exec(&self) -> Vec<Arc<OpenFile>> {
        let mut entries = self.lock();
        let mut closed = Vec::new();
        for e in entries.iter_mut() {
            if e.as_ref().is_some_and(|x| x.cloexec) {
                if let Some(x) = e.take() {
                    closed.push(x.file);
                }
            }
        }
        closed
    }

    /// close_range(2) over [first, last].
    pub fn close_range(&self, first: u32, last: u32, cloexec_only: bool) -> Vec<Arc<OpenFile>> {
        let mut entries = self.lock();
        let mut closed = Vec::new();
        let end = (last as usize).min(entries.len().saturating_sub(1));
        for i in (first as usize)..=end {
            if i >= entries.len() {
                break;
            }
            if cloexec_only {
                if let Some(e) = entries[i].as_mut() {
                    e.cloexec = true;
                }
            } else if let Some(e) = entries[i].take() {
                closed.push(e.file);
            }
        }
        closed
    }

    /// All open fds with their files, in fd order (for /proc/[pid]/fd).
    pub fn list(&self) -> Vec<(i32, Arc<OpenFile>)> {
        self.lock().iter().enumerate().filter_map(|(i, e)| e.as_ref().map(|e| (i as i32, e.file.clone()))).collect()
    }

    /// Closes everything (process exit).
    pub fn clear(&self) -> Vec<Arc<OpenFile>> {
        let mut entries = self.lock();
        entries.drain(..).flatten().map(|e| e.file).collect()
    }
}
