//! Linux's i_writecount for regular files: while a file is open for writing
//! it cannot be executed, and while a process runs it (or an exec is
//! loading it) it cannot be opened for writing or truncated: both ETXTBSY.
//! Files are named by (dev, ino), so hard links share the count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Attr, Errno, VfsResult};

/// (dev, ino) -> writers (> 0) or executions (< 0).
static COUNTS: Mutex<Option<HashMap<(u64, u64), i64>>> = Mutex::new(None);

fn counts() -> MutexGuard<'static, Option<HashMap<(u64, u64), i64>>> {
    COUNTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds `delta` to the file's count unless that would cross zero from the
/// other side (the ETXTBSY case).
fn change(key: (u64, u64), delta: i64) -> VfsResult<()> {
    let mut c = counts();
    let map = c.get_or_insert_with(HashMap::new);
    let cur = map.get(&key).copied().unwrap_or(0);
    if cur != 0 && cur.signum() != delta.signum() {
        return Err(Errno::ETXTBSY);
    }
    map.insert(key, cur + delta);
    Ok(())
}

fn undo(key: (u64, u64), delta: i64) {
    let mut c = counts();
    let map = c.get_or_insert_with(HashMap::new);
    let left = map.get(&key).copied().unwrap_or(0) - delta;
    if left == 0 {
        map.remove(&key);
    } else {
        map.insert(key, left);
    }
}

/// A file held open for writing (or being truncated through a path).
pub struct WriteAccess((u64, u64));

impl WriteAccess {
    /// ETXTBSY while the file is being executed.
    pub fn get(attr: &Attr) -> VfsResult<WriteAccess> {
        let key = (attr.dev, attr.ino);
        change(key, 1)?;
        Ok(WriteAccess(key))
    }
}

impl Drop for WriteAccess {
    fn drop(&mut self) {
        undo(self.0, 1);
    }
}

/// A file being executed: held by every process whose image it is.
pub struct ExecAccess((u64, u64));

impl ExecAccess {
    /// ETXTBSY while the file is open for writing.
    pub fn deny_write(attr: &Attr) -> VfsResult<Arc<ExecAccess>> {
        let key = (attr.dev, attr.ino);
        change(key, -1)?;
        Ok(Arc::new(ExecAccess(key)))
    }
}

impl Drop for ExecAccess {
    fn drop(&mut self) {
        undo(self.0, -1);
    }
}

/// (dev, ino) -> descriptions open for reading only (Linux's i_readcount),
/// which leases look at.
static READERS: Mutex<Option<HashMap<(u64, u64), i64>>> = Mutex::new(None);

fn readers_map() -> MutexGuard<'static, Option<HashMap<(u64, u64), i64>>> {
    READERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A regular file held open for reading only.
pub struct ReadAccess((u64, u64));

impl ReadAccess {
    pub fn get(attr: &Attr) -> ReadAccess {
        let key = (attr.dev, attr.ino);
        *readers_map().get_or_insert_with(HashMap::new).entry(key).or_insert(0) += 1;
        ReadAccess(key)
    }
}

impl Drop for ReadAccess {
    fn drop(&mut self) {
        let mut r = readers_map();
        let map = r.get_or_insert_with(HashMap::new);
        let left = map.get(&self.0).copied().unwrap_or(0) - 1;
        if left <= 0 {
            map.remove(&self.0);
        } else {
            map.insert(self.0, left);
        }
    }
}

/// How many descriptions have the file open for writing, and for reading only.
pub fn open_counts(attr: &Attr) -> (i64, i64) {
    let key = (attr.dev, attr.ino);
    let writers = counts().as_ref().and_then(|m| m.get(&key).copied()).unwrap_or(0).max(0);
    let readers = readers_map().as_ref().and_then(|m| m.get(&key).copied()).unwrap_or(0);
    (writers, readers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(ino: u64) -> Attr {
        Attr { dev: 0xfeed, ino, mode: super::super::S_IFREG | 0o755, ..Default::default() }
    }

    #[test]
    fn writers_and_executions_exclude_each_other() {
        let a = file(1);
        let w1 = WriteAccess::get(&a).unwrap();
        let w2 = WriteAccess::get(&a).unwrap();
        assert_eq!(ExecAccess::deny_write(&a).err(), Some(Errno::ETXTBSY));
        drop(w1);
        assert_eq!(ExecAccess::deny_write(&a).err(), Some(Errno::ETXTBSY));
        drop(w2);
        let x1 = ExecAccess::deny_write(&a).unwrap();
        let x2 = x1.clone();
        let x3 = ExecAccess::deny_write(&a).unwrap();
        assert_eq!(WriteAccess::get(&a).err(), Some(Errno::ETXTBSY));
        // Another file (another inode number) is not affected.
        drop(WriteAccess::get(&file(2)).unwrap());
        drop((x1, x3));
        assert_eq!(WriteAccess::get(&a).err(), Some(Errno::ETXTBSY), "a clone still holds it");
        drop(x2);
        drop(WriteAccess::get(&a).unwrap());
        assert!(counts().as_ref().is_some_and(|m| !m.contains_key(&(0xfeed, 1))));
    }
}
