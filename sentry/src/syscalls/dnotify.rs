//! dnotify: fcntl(F_NOTIFY) on a directory asks for a signal when its
//! entries (or the directory itself) are accessed, modified, created,
//! deleted, renamed or change attributes. It rides on inotify's event hooks:
//! every event inotify's hub sees for a watched directory is also offered
//! here. The signal is the directory file's F_SETSIG signal (with si_fd) or
//! SIGIO, sent to its owner, which F_NOTIFY makes the caller, as Linux does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::vfs::file::F_OWNER_PID;
use crate::vfs::OpenFile;

const DN_ACCESS: u32 = 0x1;
const DN_MODIFY: u32 = 0x2;
const DN_CREATE: u32 = 0x4;
const DN_DELETE: u32 = 0x8;
const DN_RENAME: u32 = 0x10;
const DN_ATTRIB: u32 = 0x20;
const DN_MULTISHOT: u32 = 0x8000_0000;
const DN_EVENTS: u32 = DN_ACCESS | DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB;
/// si_code of the signal (Linux's send_sigio(..., POLL_MSG)).
const POLL_MSG: i32 = 3;

/// One directory file asking for notifications.
struct Registration {
    file: Weak<OpenFile>,
    /// The descriptor it was asked through: the signal's si_fd.
    fd: i32,
    mask: u32,
}

type Key = (u64, u64);

static DIRS: Mutex<Option<HashMap<Key, Vec<Registration>>>> = Mutex::new(None);

fn with_dirs<T>(f: impl FnOnce(&mut HashMap<Key, Vec<Registration>>) -> T) -> T {
    let mut g = DIRS.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(HashMap::new))
}

/// fcntl(fd, F_NOTIFY, arg).
pub fn set(ctx: &SyscallCtx<'_>, file: &Arc<OpenFile>, fd: i32, arg: u64) -> SysResult {
    let attr = file.attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let key = (attr.dev, attr.ino);
    let mask = arg as u32 & (DN_EVENTS | DN_MULTISHOT);
    let same = |r: &Registration| r.file.upgrade().is_some_and(|f| Arc::ptr_eq(&f, file));
    if mask & DN_EVENTS == 0 {
        // No events: this file's notifications end.
        with_dirs(|d| {
            if let Some(v) = d.get_mut(&key) {
                v.retain(|r| !same(r) && r.file.strong_count() > 0);
            }
        });
        return Ok(0);
    }
    super::sigio::set_owner(ctx, file, F_OWNER_PID, ctx.task.tg.tgid)?;
    let added = with_dirs(|d| {
        let v = d.entry(key).or_default();
        v.retain(|r| r.file.strong_count() > 0);
        match v.iter_mut().find(|r| same(r)) {
            // As Linux's attach_dn: a second F_NOTIFY adds its events (and
            // DN_MULTISHOT) to the file's registration.
            Some(r) => {
                r.mask |= mask;
                r.fd = fd;
                false
            }
            None => {
                v.push(Registration { file: Arc::downgrade(file), fd, mask });
                true
            }
        }
    });
    if added {
        super::inotify::watch_added();
    }
    Ok(0)
}

/// The dnotify events an inotify event mask stands for.
fn events_of(in_mask: u32) -> u32 {
    // A move out of or into the directory is a delete or a create for it;
    // DN_RENAME is a rename within one directory (`renamed`).
    const MAP: [(u32, u32); 7] = [
        (0x1, DN_ACCESS),   // IN_ACCESS
        (0x2, DN_MODIFY),   // IN_MODIFY
        (0x4, DN_ATTRIB),   // IN_ATTRIB
        (0x40, DN_DELETE),  // IN_MOVED_FROM
        (0x80, DN_CREATE),  // IN_MOVED_TO
        (0x100, DN_CREATE), // IN_CREATE
        (0x200, DN_DELETE), // IN_DELETE
    ];
    MAP.iter().filter(|(i, _)| in_mask & i != 0).fold(0, |m, (_, d)| m | d)
}

/// A rename within directory `dir`: DN_RENAME for it.
pub fn renamed(dir: &crate::vfs::Location) {
    if let Ok(attr) = dir.attr() {
        fire((attr.dev, attr.ino), DN_RENAME);
    }
}

/// An inotify event on the object `key` (a directory's own, or one of its
/// entries'): registrations on it that want the event get their signal;
/// one without DN_MULTISHOT ends with it.
pub fn event(key: Key, in_mask: u32) {
    fire(key, events_of(in_mask));
}

fn fire(key: Key, events: u32) {
    if events == 0 {
        return;
    }
    let fire: Vec<(Arc<OpenFile>, i32)> = with_dirs(|d| {
        let Some(v) = d.get_mut(&key) else { return Vec::new() };
        let mut fire = Vec::new();
        v.retain(|r| {
            let Some(f) = r.file.upgrade() else { return false };
            if r.mask & events == 0 {
                return true;
            }
            fire.push((f, r.fd));
            r.mask & DN_MULTISHOT != 0
        });
        fire
    });
    for (file, fd) in fire {
        super::sigio::raise(&file, fd, POLL_MSG);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inotify_masks_map_to_dnotify_events() {
        assert_eq!(events_of(0x4), DN_ATTRIB);
        assert_eq!(events_of(0x40), DN_DELETE);
        assert_eq!(events_of(0x80), DN_CREATE);
        assert_eq!(events_of(0x100 | 0x40000000), DN_CREATE);
        assert_eq!(events_of(0x8 | 0x10 | 0x20), 0, "close and open are not dnotify events");
    }
}
