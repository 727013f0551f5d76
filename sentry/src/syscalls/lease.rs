//! File leases: fcntl(F_SETLEASE, F_GETLEASE). A read lease asks to be told
//! before the file is opened for writing (or truncated), a write lease
//! before it is opened at all. The opener's open breaks the lease: the
//! holder gets its file's F_SETSIG signal (SIGIO by default) and the opener
//! waits until the holder has released (or, for a reader, downgraded) the
//! lease or closed the file, or until /proc/sys/fs/lease-break-time passes,
//! when the lease is taken away; an O_NONBLOCK opener fails with
//! EWOULDBLOCK instead of waiting. Leases are kept per file (dev, ino) for
//! the open file description that took them, as in Linux.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::wait::WaitQueue;
use crate::vfs::file::F_OWNER_PID;
use crate::vfs::writecount::open_counts;
use crate::vfs::{Attr, OpenFile};

const F_RDLCK: i32 = libc::F_RDLCK;
const F_WRLCK: i32 = libc::F_WRLCK;
const F_UNLCK: i32 = libc::F_UNLCK;
/// CAP_LEASE: leases on files one does not own.
const CAP_LEASE: u32 = 28;
/// si_code of the signal (Linux's kill_fasync(..., POLL_MSG)).
const POLL_MSG: i32 = 3;

/// /proc/sys/fs/lease-break-time: seconds a breaker waits for the holder.
static BREAK_TIME: AtomicU64 = AtomicU64::new(45);

struct Lease {
    file: Weak<OpenFile>,
    /// The descriptor F_SETLEASE came through: the signal's si_fd.
    fd: i32,
    kind: i32,
    /// Being broken: what the holder must come down to (F_RDLCK or
    /// F_UNLCK), and when it is taken away regardless.
    breaking: Option<(i32, Instant)>,
}

type Key = (u64, u64);

static LEASES: Mutex<Option<HashMap<Key, Vec<Lease>>>> = Mutex::new(None);

/// Notified whenever a lease is released, downgraded or dropped.
fn changed() -> &'static WaitQueue {
    static Q: std::sync::OnceLock<WaitQueue> = std::sync::OnceLock::new();
    Q.get_or_init(WaitQueue::new)
}

fn with_leases<T>(f: impl FnOnce(&mut HashMap<Key, Vec<Lease>>) -> T) -> T {
    let mut g = LEASES.lock().unwrap_or_else(|e| e.into_inner());
    let map = g.get_or_insert_with(HashMap::new);
    let r = f(map);
    map.retain(|_, v| {
        v.retain(|l| l.file.strong_count() > 0);
        !v.is_empty()
    });
    r
}

fn same(l: &Lease, file: &Arc<OpenFile>) -> bool {
    l.file.upgrade().is_some_and(|f| Arc::ptr_eq(&f, file))
}

/// What F_GETLEASE reports for a lease: while it is broken, the type the
/// holder is to come down to.
fn shown(l: &Lease) -> i32 {
    l.breaking.map_or(l.kind, |(target, _)| target)
}

pub fn break_time_text() -> String {
    BREAK_TIME.load(Ordering::Relaxed).to_string()
}

/// Writing /proc/sys/fs/lease-break-time (root only, as its 0644 mode says).
pub fn set_break_time(buf: &[u8]) -> Result<usize, Errno> {
    let text = std::str::from_utf8(buf).map_err(|_| Errno::EINVAL)?;
    let secs: u64 = text.trim().parse().map_err(|_| Errno::EINVAL)?;
    BREAK_TIME.store(secs, Ordering::Relaxed);
    Ok(buf.len())
}

/// fcntl(fd, F_GETLEASE).
pub fn get(file: &Arc<OpenFile>) -> SysResult {
    let attr = file.attr()?;
    let kind = with_leases(|m| {
        m.get(&(attr.dev, attr.ino)).and_then(|v| v.iter().find(|l| same(l, file)).map(shown)).unwrap_or(F_UNLCK)
    });
    Ok(kind.into())
}

/// fcntl(fd, F_SETLEASE, arg).
pub fn set(ctx: &SyscallCtx<'_>, file: &Arc<OpenFile>, fd: i32, arg: u64) -> SysResult {
    let kind = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
    if ![F_RDLCK, F_WRLCK, F_UNLCK].contains(&kind) {
        return Err(Errno::EINVAL);
    }
    let attr = file.attr()?;
    if !attr.is_regular() {
        return Err(Errno::EINVAL);
    }
    let creds = ctx.task.creds();
    if creds.fsuid != attr.uid && !creds.has_cap(CAP_LEASE) {
        return Err(Errno::EACCES);
    }
    let key = (attr.dev, attr.ino);
    if kind == F_UNLCK {
        let removed = with_leases(|m| {
            let v = m.entry(key).or_default();
            let before = v.len();
            v.retain(|l| !same(l, file));
            before != v.len()
        });
        // Linux: releasing a lease one does not hold is EAGAIN.
        if !removed {
            return Err(Errno::EAGAIN);
        }
        disown(file);
        changed().wake_all();
        return Ok(0);
    }
    check_conflicting_open(file, &attr, kind)?;
    with_leases(|m| {
        let v = m.entry(key).or_default();
        for l in v.iter().filter(|l| !same(l, file)) {
            // No write lease beside another lease; no new read lease while
            // the file is being opened for writing.
            if kind == F_WRLCK || l.breaking.is_some_and(|(target, _)| target == F_UNLCK) {
                return Err(Errno::EAGAIN);
            }
        }
        match v.iter_mut().find(|l| same(l, file)) {
            Some(l) => {
                l.kind = kind;
                l.fd = fd;
                // The holder came down far enough: the break is over.
                if l.breaking.is_some_and(|(target, _)| kind == F_RDLCK && target == F_RDLCK) {
                    l.breaking = None;
                }
            }
            None => v.push(Lease { file: Arc::downgrade(file), fd, kind, breaking: None }),
        }
        Ok(())
    })?;
    // The lease holder is the process that took it (Linux's lease_setup).
    super::sigio::set_owner(ctx, file, F_OWNER_PID, ctx.task.tg.tgid)?;
    changed().wake_all();
    Ok(0)
}

/// A lease's end (Linux's lease_modify to F_UNLCK) also ends the file's
/// owner and F_SETSIG signal: a later lease signals SIGIO unless set again.
fn disown(file: &OpenFile) {
    file.set_async_owner(|o| {
        o.kind = F_OWNER_PID;
        o.id = 0;
        o.sig = 0;
    });
}

/// Linux's check_conflicting_open: a read lease needs the file open for
/// writing nowhere; a write lease needs no open but the taker's own.
fn check_conflicting_open(file: &OpenFile, attr: &Attr, kind: i32) -> Result<(), Errno> {
    let (writers, readers) = open_counts(attr);
    if kind == F_RDLCK {
        return if writers > 0 { Err(Errno::EAGAIN) } else { Ok(()) };
    }
    let (own_w, own_r) = if file.writable() { (1, 0) } else { (0, 1) };
    if writers != own_w || readers != own_r {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// The file `file` (if it had a lease) is closed for good.
pub fn closed(file: &Arc<OpenFile>) {
    let Ok(attr) = file.attr() else { return };
    let had = with_leases(|m| {
        let Some(v) = m.get_mut(&(attr.dev, attr.ino)) else { return false };
        let before = v.len();
        v.retain(|l| !same(l, file));
        before != v.len()
    });
    if had {
        changed().wake_all();
    }
}

/// Whether any lease of `key` stands in the way of an opener (for writing
/// if `write`): a write lease always, a read lease only of a writer.
fn conflicts(v: &[Lease], write: bool) -> bool {
    v.iter().any(|l| l.file.strong_count() > 0 && (write || l.kind == F_WRLCK))
}

/// Breaks the leases that conflict with opening (or truncating, `write`)
/// the file `attr`: signals their holders, then waits for them unless
/// `nonblock` (EWOULDBLOCK, i.e. EAGAIN, then). Called with the opener's own write access
/// already held, as in Linux, so a holder cannot downgrade to a read lease
/// under a writer.
pub fn break_leases(ctx: &SyscallCtx<'_>, attr: &Attr, write: bool, nonblock: bool) -> Result<(), Errno> {
    if !attr.is_regular() {
        return Ok(());
    }
    let key = (attr.dev, attr.ino);
    let target = if write { F_UNLCK } else { F_RDLCK };
    let deadline = Instant::now() + Duration::from_secs(BREAK_TIME.load(Ordering::Relaxed));
    let notify: Vec<(Arc<OpenFile>, i32)> = with_leases(|m| {
        let Some(v) = m.get_mut(&key) else { return Vec::new() };
        let mut out = Vec::new();
        for l in v.iter_mut().filter(|l| write || l.kind == F_WRLCK) {
            let Some(f) = l.file.upgrade() else { continue };
            match l.breaking {
                // Already being broken: only a deeper target is news.
                Some((t, _)) if t == F_UNLCK || t == target => {}
                Some((_, d)) => l.breaking = Some((target, d)),
                None => {
                    l.breaking = Some((target, deadline));
                    out.push((f, l.fd));
                }
            }
        }
        out
    });
    // Consumed here: holding the holders' files while waiting would keep
    // their leases alive past their close.
    for (f, fd) in notify {
        super::sigio::raise(&f, fd, POLL_MSG);
    }
    loop {
        let ev = changed().register()?;
        let wait_until = with_leases(|m| {
            let v = m.get_mut(&key)?;
            // Holders that let the break time pass lose their leases.
            let now = Instant::now();
            v.retain(|l| {
                let expired = l.breaking.is_some_and(|(_, d)| d <= now && write);
                if let (true, Some(f)) = (expired, l.file.upgrade()) {
                    disown(&f);
                }
                !expired
            });
            for l in v.iter_mut() {
                if let Some((t, d)) = l.breaking {
                    if d <= now {
                        l.kind = t;
                        l.breaking = None;
                    }
                }
            }
            if !conflicts(v, write) {
                return None;
            }
            Some(v.iter().filter_map(|l| l.breaking.map(|(_, d)| d)).min().unwrap_or(now))
        });
        let Some(until) = wait_until else { return Ok(()) };
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        let ms = until.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32;
        ctx.block(&[(ev.raw(), libc::POLLIN)], ms.max(1))?;
        ev.drain();
    }
}
