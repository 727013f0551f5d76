//! File descriptor syscalls: close, dup*, fcntl, ioctl, pipe.

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::fs::pipe::new_pipe;
use crate::vfs::file::{F_OWNER_PGRP, F_OWNER_PID};
use crate::vfs::OpenFile;

const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;
const F_SETOWN_EX: i32 = 15;
const F_GETOWN_EX: i32 = 16;
/// F_LINUX_SPECIFIC_BASE + 2.
const F_NOTIFY: i32 = 1026;
/// /proc/sys/fs/pipe-max-size (the sandbox's, also the host's default).
const PIPE_MAX_SIZE: u64 = 1 << 20;
const CAP_SYS_RESOURCE: u32 = 24;
/// F_LINUX_SPECIFIC_BASE + 0 and + 1.
const F_SETLEASE: i32 = 1024;
const F_GETLEASE: i32 = 1025;

pub fn sys_close(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let file = ctx.task.files().remove(a[0] as i32)?;
    release_locks(ctx.task.tg.tgid, std::slice::from_ref(&file));
    Ok(0)
}

/// After process `tgid` closed `files` (close, dup2 over, close_range, exec,
/// exit): POSIX locks of the process on those files go (any close drops
/// them all), and so do flock/OFD locks of descriptions closed for good,
/// which also report their close to inotify.
/// fcntl(F_CREATED_QUERY), Linux 6.12: F_LINUX_SPECIFIC_BASE + 4.
const F_CREATED_QUERY: i32 = 1028;

pub fn release_locks(tgid: i32, files: &[std::sync::Arc<OpenFile>]) {
    for file in files {
        locks::release_owner(file, tgid);
        locks::release_flock(file);
        if std::sync::Arc::strong_count(file) == 1 {
            super::inotify::closed(file);
            super::lease::closed(file);
        }
    }
}

pub fn sys_close_range(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (first, last, flags) = (a[0] as u32, a[1] as u32, a[2] as u32);
    const CLOSE_RANGE_UNSHARE: u32 = 2;
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    // CLOSE_RANGE_UNSHARE: the caller's table is first its own copy, so a
    // table shared with CLONE_FILES keeps its descriptors for the others.
    if flags & CLOSE_RANGE_UNSHARE != 0 {
        let copy = std::sync::Arc::new(ctx.task.files().fork());
        *ctx.task.files.lock().unwrap_or_else(|e| e.into_inner()) = copy;
    }
    let closed = ctx.task.files().close_range(first, last, flags & CLOSE_RANGE_CLOEXEC != 0);
    release_locks(ctx.task.tg.tgid, &closed);
    Ok(0)
}

pub fn sys_dup(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let files = ctx.task.files();
    let f = files.get(a[0] as i32)?;
    files.install(f, false, 0, ctx.task.nofile_limit()).map(i64::from)
}

pub fn sys_dup2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (old, new) = (a[0] as i32, a[1] as i32);
    let files = ctx.task.files();
    let f = files.get(old)?;
    if old == new {
        return Ok(new as i64);
    }
    let prev = files.install_at(new, f, false, ctx.task.nofile_limit())?;
    if let Some(p) = prev {
        release_locks(ctx.task.tg.tgid, &[p]);
    }
    Ok(new as i64)
}

pub fn sys_dup3(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (old, new, flags) = (a[0] as i32, a[1] as i32, a[2] as i32);
    if flags & !libc::O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    let files = ctx.task.files();
    let f = files.get(old)?;
    let prev = files.install_at(new, f, flags & libc::O_CLOEXEC != 0, ctx.task.nofile_limit())?;
    if let Some(p) = prev {
        release_locks(ctx.task.tg.tgid, &[p]);
    }
    Ok(new as i64)
}

pub fn sys_fcntl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, cmd, arg) = (a[0] as i32, a[1] as i32, a[2]);
    let files = ctx.task.files();
    let file = files.get(fd)?;
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
            if min < 0 || min as u64 >= ctx.task.nofile_limit() {
                return Err(Errno::EINVAL);
            }
            files.install(file, cmd == libc::F_DUPFD_CLOEXEC, min, ctx.task.nofile_limit()).map(i64::from)
        }
        libc::F_GETFD => Ok(if files.get_cloexec(fd)? { libc::FD_CLOEXEC as i64 } else { 0 }),
        libc::F_SETFD => {
            files.set_cloexec(fd, arg as i32 & libc::FD_CLOEXEC != 0)?;
            Ok(0)
        }
        libc::F_GETFL => Ok(file.flags() as i64 & !(libc::O_CLOEXEC as i64)),
        libc::F_SETFL => {
            if file.is_path_only() {
                return Err(Errno::EBADF);
            }
            let flags = arg as i32;
            // O_ASYNC toggled: files with fasync start or stop raising SIGIO.
            if (flags ^ file.flags()) & libc::O_ASYNC != 0 {
                let on = flags & libc::O_ASYNC != 0;
                match super::sigio::set_async(&file, fd, on) {
                    Ok(()) => file.set_async_flag(on),
                    // Without fasync the flag is silently not kept, as in Linux.
                    Err(e) if e == Errno::ENOTTY => {}
                    Err(e) => return Err(e),
                }
            }
            file.set_status_flags(flags);
            Ok(0)
        }
        libc::F_GETLK | libc::F_SETLK | libc::F_SETLKW | libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW => {
            locks::fcntl_lock(ctx, &file, cmd, arg)
        }
        // Pipe sizes are the host pipe's own state.
        libc::F_GETPIPE_SZ | libc::F_SETPIPE_SZ => match file.ops().host_fd() {
            Some(h) if file.ops().as_any().is::<crate::fs::pipe::PipeEnd>() => {
                // The argument is an unsigned int; Linux refuses sizes past
                // 2^31, and past pipe-max-size without CAP_SYS_RESOURCE.
                let want = u64::from(arg as u32);
                if cmd == libc::F_SETPIPE_SZ {
                    if want > 1 << 31 {
                        return Err(Errno::EINVAL);
                    }
                    if want > PIPE_MAX_SIZE && !ctx.task.creds().has_cap(CAP_SYS_RESOURCE) {
                        return Err(Errno::EPERM);
                    }
                }
                // The host's own limit (the sandbox's pipe-max-size) caps the rest.
                host_fcntl(h, cmd, want.clamp(4096, PIPE_MAX_SIZE) as i32)
            }
            _ => Err(Errno::EBADF),
        },
        F_CREATED_QUERY => Ok(i64::from(file.was_created())),
        F_NOTIFY => super::dnotify::set(ctx, &file, fd, arg),
        F_SETLEASE => super::lease::set(ctx, &file, fd, arg),
        F_GETLEASE => super::lease::get(&file),
        // Seals exist on tmpfs (and so memfd) files only.
        libc::F_ADD_SEALS | libc::F_GET_SEALS => {
            let tmp = file.ops().as_any().downcast_ref::<crate::fs::tmpfs::TmpfsFile>().ok_or(Errno::EINVAL)?;
            if cmd == libc::F_GET_SEALS {
                return tmp.inode().seals().map(i64::from);
            }
            if !file.writable() {
                return Err(Errno::EPERM);
            }
            tmp.inode().add_seals(arg as u32).map(|()| 0)
        }
        libc::F_SETOWN => {
            let who = arg as i32;
            match who {
                i32::MIN => Err(Errno::EINVAL),
                w if w < 0 => super::sigio::set_owner(ctx, &file, F_OWNER_PGRP, -w).map(|()| 0),
                w => super::sigio::set_owner(ctx, &file, F_OWNER_PID, w).map(|()| 0),
            }
        }
        libc::F_GETOWN => Ok(super::sigio::get_owner(&file)),
        F_SETOWN_EX => {
            let raw: [i32; 2] = ctx.mem.read_val(arg)?;
            super::sigio::set_owner(ctx, &file, raw[0], raw[1]).map(|()| 0)
        }
        F_GETOWN_EX => {
            let o = file.async_owner();
            ctx.mem.write_val(arg, &[o.kind, o.id])?;
            Ok(0)
        }
        F_SETSIG => {
            let sig = arg as i32;
            if !(0..=64).contains(&sig) {
                return Err(Errno::EINVAL);
            }
            file.set_async_owner(|o| o.sig = sig);
            Ok(0)
        }
        F_GETSIG => Ok(file.async_owner().sig.into()),
        _ => ctx.unsupported(&format!("fcntl({cmd})"), Errno::EINVAL),
    }
}

/// fcntl on a sentry-owned host fd (F_GETPIPE_SZ ignores `arg`).
fn host_fcntl(fd: std::os::fd::RawFd, cmd: i32, arg: i32) -> SysResult {
    // SAFETY: fcntl with an integer argument on a host fd the sentry owns.
    let r = unsafe { libc::fcntl(fd, cmd, arg) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as i64)
    }
}

pub fn sys_ioctl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, cmd, arg) = (a[0] as i32, a[1] as u32, a[2]);
    let file = ctx.file(fd)?;
    if file.is_path_only() {
        return Err(Errno::EBADF);
    }
    match cmd as u64 {
        c if c == libc::FIOCLEX => {
            ctx.task.files().set_cloexec(fd, true)?;
            return Ok(0);
        }
        c if c == libc::FIONCLEX => {
            ctx.task.files().set_cloexec(fd, false)?;
            return Ok(0);
        }
        c if c == libc::FIONBIO => {
            let v: i32 = ctx.mem.read_val(arg)?;
            let fl = file.flags();
            file.set_status_flags(if v != 0 { fl | libc::O_NONBLOCK } else { fl & !libc::O_NONBLOCK });
            return Ok(0);
        }
        c if c == libc::FIOASYNC => {
            // Unlike F_SETFL, FIOASYNC fails (ENOTTY) on files without fasync.
            let on = ctx.mem.read_val::<i32>(arg)? != 0;
            let fl = file.flags();
            if on != (fl & libc::O_ASYNC != 0) {
                super::sigio::set_async(&file, fd, on)?;
                file.set_async_flag(on);
            }
            return Ok(0);
        }
        _ => {}
    }
    if cmd == crate::fs::pty::TIOCGPTPEER {
        // The new slave file needs a descriptor, which file ops cannot install.
        if let Some(r) = crate::fs::pty::open_peer(&file, arg) {
            let (peer, cloexec) = r?;
            return ctx.task.files().install(peer, cloexec, 0, ctx.task.nofile_limit()).map(|fd| fd as i64);
        }
    }
    let mem = ctx.mem;
    match file.ops().ioctl(cmd, arg, &mem) {
        Err(e) if e == Errno::ENOTTY && cmd as u64 == libc::FIONREAD => {
            // Regular files: bytes from the offset to EOF.
            let attr = file.attr()?;
            if !attr.is_regular() {
                return Err(Errno::ENOTTY);
            }
            let off = *file.position();
            let n = attr.size.saturating_sub(off).min(i32::MAX as u64) as i32;
            ctx.mem.write_val(arg, &n)?;
            Ok(0)
        }
        r => r,
    }
}

pub fn sys_pipe(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    do_pipe(ctx, a[0], 0)
}

pub fn sys_pipe2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    do_pipe(ctx, a[0], a[1] as i32)
}

fn do_pipe(ctx: &mut SyscallCtx<'_>, addr: u64, flags: i32) -> SysResult {
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    // Probe the destination before creating anything.
    ctx.mem.read_val::<[i32; 2]>(addr)?;
    let (r, w) = new_pipe()?;
    let ino = r.ino();
    let status = flags & libc::O_NONBLOCK;
    let rf = OpenFile::new_anon(r, None, libc::O_RDONLY | status, format!("pipe:[{ino}]"));
    let wf = OpenFile::new_anon(w, None, libc::O_WRONLY | status, format!("pipe:[{ino}]"));
    let files = ctx.task.files();
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let limit = ctx.task.nofile_limit();
    let rfd = files.install(rf, cloexec, 0, limit)?;
    let wfd = match files.install(wf, cloexec, 0, limit) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.remove(rfd);
            return Err(e);
        }
    };
    if let Err(e) = ctx.mem.write_val(addr, &[rfd, wfd]) {
        let _ = files.remove(rfd);
        let _ = files.remove(wfd);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_flock(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, op) = (a[0] as i32, a[1] as i32);
    let file = ctx.file(fd)?;
    if file.is_path_only() {
        return Err(Errno::EBADF);
    }
    locks::flock(ctx, &file, op)
}

pub fn sys_memfd_create(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (namep, flags) = (a[0], a[1] as u32);
    const MFD_CLOEXEC: u32 = 1;
    const MFD_ALLOW_SEALING: u32 = 2;
    const MFD_HUGETLB: u32 = 4;
    const MFD_NOEXEC_SEAL: u32 = 8;
    const MFD_EXEC: u32 = 0x10;
    let known = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
    // A huge page size (bits 26..31) only goes with MFD_HUGETLB.
    let allowed = if flags & MFD_HUGETLB != 0 { known | (0x3f << 26) } else { known };
    if flags & !allowed != 0 || (flags & MFD_EXEC != 0 && flags & MFD_NOEXEC_SEAL != 0) {
        return Err(Errno::EINVAL);
    }
    if flags & MFD_HUGETLB != 0 {
        return ctx.unsupported("memfd_create(MFD_HUGETLB)", Errno::EINVAL);
    }
    let name =
        ctx.mem.read_cstring(namep, 249).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::EINVAL } else { e })?;
    let creds = ctx.task.creds().fs();
    // Each memfd is an unlinked file of a private tmpfs, so it can be mmapped and sized like any file.
    let dir = crate::fs::tmpfs::new_tmpfs(0o700, 0, 0);
    let perm = if flags & MFD_NOEXEC_SEAL != 0 { 0o666 } else { 0o777 };
    let args = crate::vfs::CreateArgs { mode: crate::vfs::S_IFREG | perm, rdev: 0, flags: libc::O_RDWR, creds: &creds };
    let (inode, ops) = dir.create(b"memfd", &args)?;
    dir.unlink(b"memfd")?;
    if let Some(tmp) = ops.as_any().downcast_ref::<crate::fs::tmpfs::TmpfsFile>() {
        if flags & MFD_NOEXEC_SEAL != 0 {
            tmp.inode().allow_sealing(crate::fs::tmpfs::F_SEAL_EXEC)?;
        } else if flags & MFD_ALLOW_SEALING != 0 {
            tmp.inode().allow_sealing(0)?;
        }
    }
    let shown = format!("/memfd:{} (deleted)", String::from_utf8_lossy(&name));
    let file = OpenFile::new_anon(ops, Some(inode), libc::O_RDWR | crate::vfs::file::O_LARGEFILE, shown);
    ctx.task.files().install(file, flags & MFD_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

pub mod locks {
    //! POSIX (per-process) and OFD (per open file) byte-range record locks,
    //! kept in the sentry so locks between sandboxed processes conflict as on Linux.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use rvisor_syscalls::abi::Flock;
    use rvisor_syscalls::{Errno, SysResult};

    use crate::kernel::wait::WaitQueue;
    use crate::syscalls::SyscallCtx;
    use crate::vfs::OpenFile;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    enum Owner {
        Process(i32),
        Ofd(usize),
    }

    #[derive(Clone, Copy, Debug)]
    struct Lock {
        owner: Owner,
        write: bool,
        start: u64,
        /// Inclusive end; u64::MAX = to EOF and beyond.
        end: u64,
        pid: i32,
    }

    #[derive(Default)]
    struct Table {
        /// Keyed by inode identity (dev, ino).
        by_file: HashMap<(u64, u64), Vec<Lock>>,
    }

    static TABLE: Mutex<Option<Table>> = Mutex::new(None);
    static CHANGED: WaitQueue = WaitQueue::new();

    fn key(file: &OpenFile) -> Option<(u64, u64)> {
        file.attr().ok().map(|a| (a.dev, a.ino))
    }

    fn with<R>(f: impl FnOnce(&mut Table) -> R) -> R {
        let mut g = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        f(g.get_or_insert_with(Table::default))
    }

    fn conflicts(a: &Lock, b: &Lock) -> bool {
        a.owner != b.owner && (a.write || b.write) && a.start <= b.end && b.start <= a.end
    }

    /// Removes `owner`'s locks in [start, end], splitting partial overlaps.
    fn unlock_range(list: &mut Vec<Lock>, owner: Owner, start: u64, end: u64) {
        let mut out = Vec::with_capacity(list.len());
        for l in list.drain(..) {
            if l.owner != owner || l.end < start || l.start > end {
                out.push(l);
                continue;
            }
            if l.start < start {
                out.push(Lock { end: start - 1, ..l });
            }
            if l.end > end {
                out.push(Lock { start: end + 1, ..l });
            }
        }
        *list = out;
    }

    /// Drops every lock `tgid` holds on `file`'s inode (POSIX: any close does this).
    pub fn release_owner(file: &Arc<OpenFile>, tgid: i32) {
        // Most programs never lock: then every close skips the fstat and the wake-up.
        if TABLE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_none_or(|t| t.by_file.values().all(Vec::is_empty))
        {
            return;
        }
        let Some(k) = key(file) else { return };
        let ofd = Owner::Ofd(Arc::as_ptr(file) as usize);
        with(|t| {
            if let Some(list) = t.by_file.get_mut(&k) {
                list.retain(|l| l.owner != Owner::Process(tgid));
                // OFD locks go when the last reference to the description goes.
                if Arc::strong_count(file) == 1 {
                    list.retain(|l| l.owner != ofd);
                }
            }
        });
        CHANGED.notify();
    }

    #[derive(Default)]
    struct FlockTable {
        /// (dev, ino) -> holders: (open file description, exclusive).
        by_file: HashMap<(u64, u64), Vec<(usize, bool)>>,
    }

    static FLOCKS: Mutex<Option<FlockTable>> = Mutex::new(None);
    static FLOCK_CHANGED: WaitQueue = WaitQueue::new();

    /// flock(2): whole-file locks owned by the open file description.
    pub fn flock(ctx: &mut SyscallCtx<'_>, file: &Arc<OpenFile>, op: i32) -> SysResult {
        let nb = op & libc::LOCK_NB != 0;
        let kind = op & !libc::LOCK_NB;
        if kind != libc::LOCK_SH && kind != libc::LOCK_EX && kind != libc::LOCK_UN {
            return Err(Errno::EINVAL);
        }
        let k = key(file).ok_or(Errno::EBADF)?;
        let me = Arc::as_ptr(file) as usize;
        let exclusive = kind == libc::LOCK_EX;
        loop {
            // Registered before the check: a release after it wakes us.
            let ev = FLOCK_CHANGED.register()?;
            let mut g = FLOCKS.lock().unwrap_or_else(|e| e.into_inner());
            let t = g.get_or_insert_with(FlockTable::default);
            let holders = t.by_file.entry(k).or_default();
            // Converting a lock first drops the old one, as Linux does.
            holders.retain(|&(o, _)| o != me);
            if kind == libc::LOCK_UN {
                drop(g);
                FLOCK_CHANGED.notify();
                return Ok(0);
            }
            let conflict = holders.iter().any(|&(_, ex)| ex || exclusive);
            if !conflict {
                holders.push((me, exclusive));
                return Ok(0);
            }
            if nb {
                drop(g);
                FLOCK_CHANGED.notify();
                return Err(Errno::EAGAIN);
            }
            drop(g);
            ctx.block(&[(ev.raw(), libc::POLLIN)], -1)?;
        }
    }

    /// Drops the flock held through `file` when its last reference goes.
    pub fn release_flock(file: &Arc<OpenFile>) {
        if Arc::strong_count(file) > 1 {
            return;
        }
        // Likewise when nothing is flocked.
        if FLOCKS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_none_or(|t| t.by_file.values().all(Vec::is_empty))
        {
            return;
        }
        let Some(k) = key(file) else { return };
        let me = Arc::as_ptr(file) as usize;
        let mut g = FLOCKS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = g.as_mut().and_then(|t| t.by_file.get_mut(&k)) {
            h.retain(|&(o, _)| o != me);
        }
        drop(g);
        FLOCK_CHANGED.notify();
    }

    pub fn fcntl_lock(ctx: &mut SyscallCtx<'_>, file: &Arc<OpenFile>, cmd: i32, arg: u64) -> SysResult {
        let fl: Flock = ctx.mem.read_val(arg)?;
        let ofd = matches!(cmd, libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW);
        if ofd && fl.l_pid != 0 {
            return Err(Errno::EINVAL);
        }
        let owner = if ofd { Owner::Ofd(Arc::as_ptr(file) as usize) } else { Owner::Process(ctx.task.tg.tgid) };
        let base: i64 = match fl.l_whence as i32 {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => *file.position() as i64,
            libc::SEEK_END => file.attr()?.size as i64,
            _ => return Err(Errno::EINVAL),
        };
        let mut start = base.checked_add(fl.l_start).ok_or(Errno::EOVERFLOW)?;
        let mut end: i64 = if fl.l_len == 0 {
            i64::MAX
        } else if fl.l_len > 0 {
            start.checked_add(fl.l_len - 1).ok_or(Errno::EOVERFLOW)?
        } else {
            let e = start - 1;
            start += fl.l_len;
            e
        };
        if start < 0 {
            return Err(Errno::EINVAL);
        }
        if end < start {
            end = start;
        }
        let (start, end) = (start as u64, if end == i64::MAX { u64::MAX } else { end as u64 });
        let ltype = fl.l_type as i32;
        if ltype != libc::F_RDLCK && ltype != libc::F_WRLCK && ltype != libc::F_UNLCK {
            return Err(Errno::EINVAL);
        }
        let k = key(file).ok_or(Errno::EBADF)?;
        let want = Lock { owner, write: ltype == libc::F_WRLCK, start, end, pid: ctx.task.tg.tgid };
        if cmd == libc::F_GETLK || cmd == libc::F_OFD_GETLK {
            if ltype == libc::F_UNLCK {
                return Err(Errno::EINVAL);
            }
            // Linux keeps each owner's locks sorted by start and reports the
            // first conflict it meets: the lowest-starting one.
            let found = with(|t| {
                t.by_file
                    .get(&k)
                    .and_then(|l| l.iter().filter(|l| conflicts(l, &want)).min_by_key(|l| l.start).copied())
            });
            let mut out = fl;
            match found {
                Some(l) => {
                    out.l_type = if l.write { libc::F_WRLCK as i16 } else { libc::F_RDLCK as i16 };
                    out.l_whence = libc::SEEK_SET as i16;
                    out.l_start = l.start as i64;
                    out.l_len = if l.end == u64::MAX { 0 } else { (l.end - l.start + 1) as i64 };
                    out.l_pid = if matches!(l.owner, Owner::Ofd(_)) { -1 } else { l.pid };
                }
                None => out.l_type = libc::F_UNLCK as i16,
            }
            ctx.mem.write_val(arg, &out)?;
            return Ok(0);
        }
        if ltype == libc::F_RDLCK && !file.readable() || ltype == libc::F_WRLCK && !file.writable() {
            return Err(Errno::EBADF);
        }
        let wait = cmd == libc::F_SETLKW || cmd == libc::F_OFD_SETLKW;
        loop {
            let ev = CHANGED.register()?;
            let mut g = TABLE.lock().unwrap_or_else(|e| e.into_inner());
            let t = g.get_or_insert_with(Table::default);
            let list = t.by_file.entry(k).or_default();
            if ltype == libc::F_UNLCK {
                unlock_range(list, owner, start, end);
                drop(g);
                CHANGED.notify();
                return Ok(0);
            }
            if !list.iter().any(|l| conflicts(l, &want)) {
                unlock_range(list, owner, start, end);
                list.push(want);
                return Ok(0);
            }
            if !wait {
                return Err(Errno::EAGAIN);
            }
            drop(g);
            ctx.block(&[(ev.raw(), libc::POLLIN)], -1)?;
        }
    }
}
