//! Opening files and changing their attributes: open*, creat, truncate,
//! access, chmod/chown families, utimensat, umask.

use std::any::Any;
use std::sync::Arc;

use rvisor_syscalls::abi::{OpenHow, Timespec, Timeval};
use rvisor_syscalls::{Errno, SysResult};

use super::{SyscallCtx, AT_FDCWD};
use crate::kernel::creds::CAP_FSETID;
use crate::vfs::path::ResolveFlags;
use crate::vfs::perm::{is_owner, may_access, MAY_EXEC, MAY_READ, MAY_WRITE};
use crate::vfs::writecount::{ReadAccess, WriteAccess};
use crate::vfs::{CreateArgs, FileOps, Inode, Location, OpenFile, SetAttr, TimeSet, VfsResult, S_IFREG};

/// What an O_PATH open returns: a handle with no I/O.
struct PathOnly;

impl FileOps for PathOnly {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

const VALID_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_SYNC
    | libc::O_PATH
    | libc::O_TMPFILE;

/// Checks that `loc`'s mount allows writing.
pub fn check_writable_mount(loc: &Location) -> VfsResult<()> {
    if loc.mount.flags.readonly {
        return Err(Errno::EROFS);
    }
    Ok(())
}

/// Opens `path` relative to `dirfd` and installs the result as an fd.
pub fn open_at(
    ctx: &mut SyscallCtx<'_>,
    dirfd: i32,
    path: &[u8],
    flags: i32,
    mode: u32,
    resolve: ResolveFlags,
) -> SysResult {
    let file = open_file(ctx, dirfd, path, flags, mode, resolve)?;
    super::inotify::opened(&file);
    ctx.task.files().install(file, flags & libc::O_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

/// Opens a file without installing it (also used by execve and /dev/fd reopen).
pub fn open_file(
    ctx: &SyscallCtx<'_>,
    dirfd: i32,
    path: &[u8],
    mut flags: i32,
    mode: u32,
    resolve: ResolveFlags,
) -> VfsResult<Arc<OpenFile>> {
    if flags & libc::O_PATH != 0 {
        // O_PATH ignores everything but these.
        flags &= libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    }
    let acc = flags & libc::O_ACCMODE;
    if flags & libc::O_TMPFILE == libc::O_TMPFILE {
        return open_tmpfile(ctx, dirfd, path, flags, mode);
    }
    if flags & libc::O_CREAT != 0 && flags & libc::O_DIRECTORY != 0 {
        return Err(Errno::EINVAL);
    }
    let creds = ctx.task.creds().fs();
    let follow = flags & libc::O_NOFOLLOW == 0;
    let loc = if flags & libc::O_CREAT != 0 {
        match create_or_find(ctx, dirfd, path, flags, mode, &creds, resolve)? {
            Created::New(f) => {
                f.mark_created();
                if f.writable() {
                    f.hold_write_access(WriteAccess::get(&f.attr()?)?);
                } else {
                    f.hold_read_access(ReadAccess::get(&f.attr()?));
                }
                return Ok(f);
            }
            // O_CREAT never opens a directory (Linux: EISDIR, even read-only).
            Created::Existing(l) if l.attr()?.is_dir() => return Err(Errno::EISDIR),
            Created::Existing(l) => l,
        }
    } else {
        ctx.resolve_at_flags(dirfd, path, follow, resolve)?
    };
    let attr = loc.attr()?;
    if attr.is_symlink() {
        if flags & libc::O_PATH != 0 && !follow {
            return Ok(OpenFile::new(Arc::new(PathOnly), loc, flags));
        }
        return Err(Errno::ELOOP);
    }
    if flags & libc::O_DIRECTORY != 0 && !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if flags & libc::O_PATH != 0 {
        return Ok(OpenFile::new(Arc::new(PathOnly), loc, flags));
    }
    // O_NOATIME only for the file's owner or with CAP_FOWNER.
    if flags & libc::O_NOATIME != 0 && !is_owner(&attr, &creds) {
        return Err(Errno::EPERM);
    }
    let want_write = acc == libc::O_WRONLY || acc == libc::O_RDWR;
    if attr.is_dir() && (want_write || flags & libc::O_TRUNC != 0) {
        return Err(Errno::EISDIR);
    }
    let mut mask = 0;
    // Access mode 3 opens for ioctl only but is checked as read+write.
    if acc == libc::O_RDONLY || acc == libc::O_RDWR || acc == libc::O_ACCMODE {
        mask |= MAY_READ;
    }
    if acc == libc::O_ACCMODE {
        mask |= MAY_WRITE;
    }
    // O_TRUNC needs write permission even with O_RDONLY, and truncates then too.
    let truncate = flags & libc::O_TRUNC != 0 && attr.is_regular();
    if want_write || truncate {
        mask |= MAY_WRITE;
    }
    if !may_access(&attr, &creds, mask) {
        return Err(Errno::EACCES);
    }
    let is_data = attr.is_regular() || attr.is_dir();
    if (want_write || truncate) && is_data {
        check_writable_mount(&loc)?;
    }
    // Writing a file a process runs is ETXTBSY (and so is truncating it).
    let write_access =
        if (want_write || truncate) && attr.is_regular() { Some(WriteAccess::get(&attr)?) } else { None };
    let read_access = (!want_write && attr.is_regular()).then(|| ReadAccess::get(&attr));
    // Leases of other holders are broken before the open goes on (Linux's
    // break_lease in do_dentry_open, after the write access is taken).
    super::lease::break_leases(ctx, &attr, want_write || truncate, flags & libc::O_NONBLOCK != 0)?;
    if truncate && attr.size != 0 {
        loc.inode().setattr(&SetAttr { size: Some(0), ..Default::default() })?;
    }
    if let Some(reopened) = crate::fs::reopen::open(&loc, flags) {
        return reopened;
    }
    if attr.file_type() == crate::vfs::S_IFIFO {
        return open_fifo(ctx, loc, &attr, flags);
    }
    let ops = loc.inode().open(flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC))?;
    let file = OpenFile::new(ops, loc, flags | crate::vfs::file::O_LARGEFILE);
    if let Some(w) = write_access.filter(|_| want_write) {
        file.hold_write_access(w);
    }
    if let Some(r) = read_access {
        file.hold_read_access(r);
    }
    Ok(file)
}

/// Opens a named pipe: the file system only names it; the pipe is the sentry's.
fn open_fifo(ctx: &SyscallCtx<'_>, loc: Location, attr: &crate::vfs::Attr, flags: i32) -> VfsResult<Arc<OpenFile>> {
    let ends = crate::fs::pipe::fifo::open((attr.dev, attr.ino), flags, &|| ctx.interrupted())?;
    let ops: Arc<dyn FileOps> = match ends.len() {
        1 => ends[0].clone(),
        _ => Arc::new(FifoRdwr { r: ends[0].clone(), w: ends[1].clone() }),
    };
    Ok(OpenFile::new(ops, loc, flags | crate::vfs::file::O_LARGEFILE))
}

/// A FIFO opened O_RDWR: reads from one end, writes to the other.
struct FifoRdwr {
    r: Arc<crate::fs::pipe::PipeEnd>,
    w: Arc<crate::fs::pipe::PipeEnd>,
}

impl FileOps for FifoRdwr {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        self.r.read(buf, off)
    }
    fn write(&self, buf: &[u8], off: u64) -> VfsResult<usize> {
        self.w.write(buf, off)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn host_fd(&self) -> Option<std::os::fd::RawFd> {
        self.r.host_fd()
    }
    fn wait_on(&self, events: i16, set: &mut crate::kernel::wait::WaitSet) {
        // Room to write is the other end's: each direction waits on its own.
        let out = events & (libc::POLLOUT | libc::POLLWRNORM);
        self.r.wait_on(events & !out, set);
        if out != 0 {
            self.w.wait_on(out, set);
        }
    }
    fn poll(&self, events: i16) -> i16 {
        (self.r.poll(events & (libc::POLLIN | libc::POLLRDNORM))
            | self.w.poll(events & (libc::POLLOUT | libc::POLLWRNORM)))
            & (events | libc::POLLERR | libc::POLLHUP)
    }
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

enum Created {
    New(Arc<OpenFile>),
    Existing(Location),
}

/// O_CREAT: finds the file (following a final symlink, even a dangling one,
/// unless O_EXCL/O_NOFOLLOW) or creates it; under openat2's RESOLVE_*
/// restrictions, see `create_or_find_restricted`.
fn create_or_find(
    ctx: &SyscallCtx<'_>,
    dirfd: i32,
    path: &[u8],
    flags: i32,
    mode: u32,
    creds: &crate::vfs::FsCreds,
    resolve: ResolveFlags,
) -> VfsResult<Created> {
    if resolve != ResolveFlags::default() {
        return create_or_find_restricted(ctx, dirfd, path, flags, mode, creds, resolve);
    }
    let mut pn = ctx.resolve_parent_at(dirfd, path)?;
    let mut links = 0;
    loop {
        if names_a_directory(&pn) {
            return Err(Errno::EISDIR);
        }
        match pn.parent.dentry.lookup_child(&pn.name) {
            Ok(d) => {
                if flags & libc::O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let existing = ctx.kernel.mounts.topmost(Location::new(pn.parent.mount.clone(), d));
                if !existing.attr()?.is_symlink() {
                    return Ok(Created::Existing(existing));
                }
                if flags & libc::O_NOFOLLOW != 0 {
                    return Err(Errno::ELOOP);
                }
                links += 1;
                if links > crate::vfs::path::MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if let Some(target) = existing.inode().magic_link() {
                    return Ok(Created::Existing(target?));
                }
                let target = existing.inode().readlink()?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                pn = ctx.resolve_parent_from(&pn.parent, &target)?;
            }
            Err(e) if e == Errno::ENOENT => return create_in(ctx, &pn, flags, mode, creds),
            Err(e) => return Err(e),
        }
    }
}

/// O_CREAT under openat2's RESOLVE_* restrictions: the path is resolved with
/// them as openat2 opens an existing file (its last symlink followed unless
/// O_NOFOLLOW or O_EXCL), and a missing last component is created in its
/// parent, resolved with them too. Creating through a dangling symlink is
/// left out (ENOENT; ELOOP under RESOLVE_NO_SYMLINKS).
fn create_or_find_restricted(
    ctx: &SyscallCtx<'_>,
    dirfd: i32,
    path: &[u8],
    flags: i32,
    mode: u32,
    creds: &crate::vfs::FsCreds,
    resolve: ResolveFlags,
) -> VfsResult<Created> {
    let excl = flags & libc::O_EXCL != 0;
    let follow = flags & libc::O_NOFOLLOW == 0 && !excl;
    match ctx.resolve_at_flags(dirfd, path, follow, resolve) {
        Ok(_) if excl => return Err(Errno::EEXIST),
        Ok(loc) => return Ok(Created::Existing(loc)),
        Err(e) if e != Errno::ENOENT => return Err(e),
        Err(_) => {}
    }
    let pn = ctx.resolve_parent_at_flags(dirfd, path, resolve)?;
    if names_a_directory(&pn) {
        return Err(Errno::EISDIR);
    }
    match pn.parent.dentry.lookup_child(&pn.name) {
        Ok(_) if resolve.no_symlinks => Err(Errno::ELOOP),
        Ok(_) => Err(Errno::ENOENT),
        Err(e) if e == Errno::ENOENT => create_in(ctx, &pn, flags, mode, creds),
        Err(e) => Err(e),
    }
}

/// A last component O_CREAT cannot create a regular file as: "/", ".",
/// "..", or one written with a trailing slash.
fn names_a_directory(pn: &crate::vfs::path::ParentAndName) -> bool {
    pn.trailing_slash || pn.is_root || pn.name == b"." || pn.name == b".."
}

/// Creates regular file `pn.name` in `pn.parent` for O_CREAT.
fn create_in(
    ctx: &SyscallCtx<'_>,
    pn: &crate::vfs::path::ParentAndName,
    flags: i32,
    mode: u32,
    creds: &crate::vfs::FsCreds,
) -> VfsResult<Created> {
    let pattr = pn.parent.attr()?;
    if !may_access(&pattr, creds, MAY_WRITE | MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    check_writable_mount(&pn.parent)?;
    let umask = ctx.task.fs().umask();
    let args = CreateArgs { mode: S_IFREG | (mode & 0o7777 & !umask), rdev: 0, flags, creds };
    let (inode, ops) = pn.parent.inode().create(&pn.name, &args)?;
    let dentry = pn.parent.dentry.insert_child(&pn.name, inode);
    super::inotify::child_event(&pn.parent, &pn.name, super::inotify::IN_CREATE, 0);
    let loc = Location::new(pn.parent.mount.clone(), dentry);
    Ok(Created::New(OpenFile::new(ops, loc, flags | crate::vfs::file::O_LARGEFILE)))
}

pub fn sys_open(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    open_at(ctx, AT_FDCWD, &path, a[1] as i32 & VALID_OPEN_FLAGS, a[2] as u32, ResolveFlags::default())
}

pub fn sys_openat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[1])?;
    open_at(ctx, a[0] as i32, &path, a[2] as i32 & VALID_OPEN_FLAGS, a[3] as u32, ResolveFlags::default())
}

pub fn sys_creat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    open_at(ctx, AT_FDCWD, &path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, a[1] as u32, ResolveFlags::default())
}

pub fn sys_openat2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (dirfd, pathp, howp, size) = (a[0] as i32, a[1], a[2], a[3] as usize);
    if size < std::mem::size_of::<OpenHow>() {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let how: OpenHow = ctx.mem.read_val(howp)?;
    if size > std::mem::size_of::<OpenHow>() {
        // Unknown trailing fields must be zero.
        let mut rest = vec![0u8; size - std::mem::size_of::<OpenHow>()];
        ctx.mem.read(howp + std::mem::size_of::<OpenHow>() as u64, &mut rest)?;
        if rest.iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
    }
    if how.flags & !(VALID_OPEN_FLAGS as u32 as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = how.flags as i32;
    if how.mode & !0o7777 != 0 || (flags & (libc::O_CREAT | libc::O_TMPFILE) == 0 && how.mode != 0) {
        return Err(Errno::EINVAL);
    }
    let resolve = ResolveFlags::from_openat2(how.resolve)?;
    let path = ctx.mem.read_path(pathp)?;
    open_at(ctx, dirfd, &path, flags, how.mode as u32, resolve)
}

fn truncate_loc(ctx: &SyscallCtx<'_>, loc: &Location, len: i64) -> SysResult {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let attr = loc.attr()?;
    if attr.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !attr.is_regular() {
        return Err(Errno::EINVAL);
    }
    if !may_access(&attr, &ctx.task.creds().fs(), MAY_WRITE) {
        return Err(Errno::EACCES);
    }
    check_writable_mount(loc)?;
    let _busy = WriteAccess::get(&attr)?;
    super::lease::break_leases(ctx, &attr, true, false)?;
    super::io::check_new_size(ctx, attr.size, len as u64)?;
    loc.inode().setattr(&SetAttr { size: Some(len as u64), ..Default::default() })?;
    Ok(0)
}

pub fn sys_truncate(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    truncate_loc(ctx, &loc, a[1] as i64)
}

fn access_common(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64, mode: i32, flags: i32) -> SysResult {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let loc =
        ctx.resolve_arg(dirfd, pathp, flags & libc::AT_SYMLINK_NOFOLLOW == 0, flags & libc::AT_EMPTY_PATH != 0)?;
    if mode == 0 {
        return Ok(0);
    }
    let attr = loc.attr()?;
    let c = ctx.task.creds();
    let creds = if flags & libc::AT_EACCESS != 0 {
        crate::vfs::FsCreds { uid: c.euid, gid: c.egid, groups: c.groups.clone() }
    } else {
        crate::vfs::FsCreds { uid: c.ruid, gid: c.rgid, groups: c.groups.clone() }
    };
    let mut mask = 0;
    if mode & libc::R_OK != 0 {
        mask |= MAY_READ;
    }
    if mode & libc::W_OK != 0 {
        mask |= MAY_WRITE;
    }
    if mode & libc::X_OK != 0 {
        mask |= MAY_EXEC;
    }
    if !may_access(&attr, &creds, mask) {
        return Err(Errno::EACCES);
    }
    if mode & libc::W_OK != 0 && (attr.is_regular() || attr.is_dir() || attr.is_symlink()) {
        check_writable_mount(&loc)?;
    }
    Ok(0)
}

pub fn sys_access(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    access_common(ctx, AT_FDCWD, a[0], a[1] as i32, 0)
}

pub fn sys_faccessat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    access_common(ctx, a[0] as i32, a[1], a[2] as i32, 0)
}

pub fn sys_faccessat2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    access_common(ctx, a[0] as i32, a[1], a[2] as i32, a[3] as i32)
}

fn chmod_loc(ctx: &SyscallCtx<'_>, loc: &Location, mode: u32) -> SysResult {
    check_writable_mount(loc)?;
    chmod_inode(ctx, loc.inode(), mode)?;
    super::inotify::loc_event(loc, super::inotify::IN_ATTRIB);
    Ok(0)
}

/// chmod of an inode (a path's, or an anonymous file's such as a memfd).
fn chmod_inode(ctx: &SyscallCtx<'_>, inode: &Arc<dyn Inode>, mode: u32) -> SysResult {
    let attr = inode.attr()?;
    if !is_owner(&attr, &ctx.task.creds().fs()) {
        return Err(Errno::EPERM);
    }
    // Linux drops S_ISGID when the caller is not in the file's group and
    // lacks CAP_FSETID (the call still succeeds).
    let creds = ctx.task.creds();
    let mut mode = mode & 0o7777;
    if mode & libc::S_ISGID != 0 && !creds.fs().in_group(attr.gid) && !creds.has_cap(CAP_FSETID) {
        mode &= !libc::S_ISGID;
    }
    inode.setattr(&SetAttr { mode: Some(mode), ..Default::default() })?;
    Ok(0)
}

pub fn sys_chmod(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    chmod_loc(ctx, &loc, a[1] as u32)
}

pub fn sys_fchmod(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    match (f.location(), f.inode()) {
        (Some(loc), _) => chmod_loc(ctx, &loc.clone(), a[1] as u32),
        (None, Some(inode)) => chmod_inode(ctx, &inode.clone(), a[1] as u32),
        (None, None) => Ok(0),
    }
}

pub fn sys_fchmodat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[1])?;
    let loc = ctx.resolve_at(a[0] as i32, &path, true)?;
    chmod_loc(ctx, &loc, a[2] as u32)
}

/// fchmodat2 (Linux 6.6): fchmodat with flags. A symlink's own mode cannot
/// change (EOPNOTSUPP), as on Linux's file systems.
pub fn sys_fchmodat2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let flags = a[3] as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let nofollow = flags & libc::AT_SYMLINK_NOFOLLOW != 0;
    let loc = ctx.resolve_arg(a[0] as i32, a[1], !nofollow, flags & libc::AT_EMPTY_PATH != 0)?;
    if nofollow && loc.attr()?.is_symlink() {
        return Err(Errno::EOPNOTSUPP);
    }
    chmod_loc(ctx, &loc, a[2] as u32)
}

fn chown_loc(ctx: &SyscallCtx<'_>, loc: &Location, uid: u32, gid: u32) -> SysResult {
    let attr = loc.attr()?;
    let creds = ctx.task.creds().fs();
    let uid = if uid == u32::MAX { None } else { Some(uid) };
    let gid = if gid == u32::MAX { None } else { Some(gid) };
    if creds.uid != 0 {
        if uid.is_some_and(|u| u != attr.uid) {
            return Err(Errno::EPERM);
        }
        if gid.is_some_and(|g| attr.uid != creds.uid || !creds.in_group(g)) {
            return Err(Errno::EPERM);
        }
    }
    check_writable_mount(loc)?;
    let mut change = SetAttr { uid, gid, ..Default::default() };
    // Changing ownership of a regular file clears set-user-ID (and set-group-ID if group-executable).
    if (uid.is_some() || gid.is_some()) && attr.is_regular() && attr.mode & 0o6000 != 0 {
        let mut m = attr.mode & 0o7777 & !0o4000;
        if m & 0o010 != 0 {
            m &= !0o2000;
        }
        change.mode = Some(m);
    }
    loc.inode().setattr(&change)?;
    super::inotify::loc_event(loc, super::inotify::IN_ATTRIB);
    Ok(0)
}

pub fn sys_chown(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    chown_loc(ctx, &loc, a[1] as u32, a[2] as u32)
}

pub fn sys_lchown(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, false)?;
    chown_loc(ctx, &loc, a[1] as u32, a[2] as u32)
}

pub fn sys_fchown(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    match f.location() {
        Some(loc) => chown_loc(ctx, &loc.clone(), a[1] as u32, a[2] as u32),
        None => Ok(0),
    }
}

pub fn sys_fchownat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let flags = a[4] as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let loc =
        ctx.resolve_arg(a[0] as i32, a[1], flags & libc::AT_SYMLINK_NOFOLLOW == 0, flags & libc::AT_EMPTY_PATH != 0)?;
    chown_loc(ctx, &loc, a[2] as u32, a[3] as u32)
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

fn time_arg(ts: Timespec) -> Result<Option<TimeSet>, Errno> {
    match ts.tv_nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(TimeSet::Now)),
        n if (0..1_000_000_000).contains(&n) => Ok(Some(TimeSet::At(ts))),
        _ => Err(Errno::EINVAL),
    }
}

fn utimes_loc(ctx: &SyscallCtx<'_>, loc: &Location, times: Option<[Timespec; 2]>) -> SysResult {
    let attr = loc.attr()?;
    let creds = ctx.task.creds().fs();
    let (atime, mtime) = match times {
        None => (Some(TimeSet::Now), Some(TimeSet::Now)),
        Some([a, m]) => (time_arg(a)?, time_arg(m)?),
    };
    if atime.is_none() && mtime.is_none() {
        return Ok(0);
    }
    let explicit = matches!(atime, Some(TimeSet::At(_))) || matches!(mtime, Some(TimeSet::At(_)));
    if !is_owner(&attr, &creds) {
        if explicit {
            return Err(Errno::EPERM);
        }
        if !may_access(&attr, &creds, MAY_WRITE) {
            return Err(Errno::EACCES);
        }
    }
    check_writable_mount(loc)?;
    loc.inode().setattr(&SetAttr { atime, mtime, ..Default::default() })?;
    super::inotify::loc_event(loc, super::inotify::IN_ATTRIB);
    Ok(0)
}

pub fn sys_utimensat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (dirfd, pathp, timesp, flags) = (a[0] as i32, a[1], a[2], a[3] as i32);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let times = if timesp == 0 { None } else { Some(ctx.mem.read_val::<[Timespec; 2]>(timesp)?) };
    if let Some(t) = times {
        time_arg(t[0])?;
        time_arg(t[1])?;
    }
    let loc = if pathp == 0 {
        // futimens: operate on dirfd itself.
        let f = ctx.file(dirfd)?;
        f.location().cloned().ok_or(Errno::EBADF)?
    } else {
        ctx.resolve_arg(dirfd, pathp, flags & libc::AT_SYMLINK_NOFOLLOW == 0, flags & libc::AT_EMPTY_PATH != 0)?
    };
    utimes_loc(ctx, &loc, times)
}

fn timeval_pair(ctx: &SyscallCtx<'_>, p: u64) -> Result<Option<[Timespec; 2]>, Errno> {
    if p == 0 {
        return Ok(None);
    }
    let tv: [Timeval; 2] = ctx.mem.read_val(p)?;
    let mut out = [Timespec::default(); 2];
    for i in 0..2 {
        if !(0..1_000_000).contains(&tv[i].tv_usec) {
            return Err(Errno::EINVAL);
        }
        out[i] = Timespec { tv_sec: tv[i].tv_sec, tv_nsec: tv[i].tv_usec * 1000 };
    }
    Ok(Some(out))
}

pub fn sys_utimes(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let times = timeval_pair(ctx, a[1])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    utimes_loc(ctx, &loc, times)
}

pub fn sys_futimesat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[1])?;
    let times = timeval_pair(ctx, a[2])?;
    let loc = ctx.resolve_at(a[0] as i32, &path, true)?;
    utimes_loc(ctx, &loc, times)
}

pub fn sys_utime(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let times = if a[1] == 0 {
        None
    } else {
        let t: [i64; 2] = ctx.mem.read_val(a[1])?;
        Some([Timespec { tv_sec: t[0], tv_nsec: 0 }, Timespec { tv_sec: t[1], tv_nsec: 0 }])
    };
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    utimes_loc(ctx, &loc, times)
}

pub fn sys_umask(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    Ok(ctx.task.fs().swap_umask(a[0] as u32) as i64)
}

/// O_TMPFILE: an unnamed regular file in directory `path`, created under a
/// hidden name and unlinked at once (linkat can give it a name later).
fn open_tmpfile(ctx: &SyscallCtx<'_>, dirfd: i32, path: &[u8], flags: i32, mode: u32) -> VfsResult<Arc<OpenFile>> {
    let acc = flags & libc::O_ACCMODE;
    if acc != libc::O_WRONLY && acc != libc::O_RDWR {
        return Err(Errno::EINVAL);
    }
    let dir = ctx.resolve_at(dirfd, path, true)?;
    let dattr = dir.attr()?;
    if !dattr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let creds = ctx.task.creds().fs();
    if !may_access(&dattr, &creds, MAY_WRITE | MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    check_writable_mount(&dir)?;
    let umask = ctx.task.fs().umask();
    let mut rnd = [0u8; 8];
    // SAFETY: fills an 8-byte local buffer.
    unsafe { libc::getrandom(rnd.as_mut_ptr().cast(), 8, 0) };
    let name = format!(".rvisor-tmpfile-{:016x}", u64::from_ne_bytes(rnd)).into_bytes();
    let args = CreateArgs {
        mode: S_IFREG | (mode & 0o7777 & !umask),
        rdev: 0,
        flags: flags & !libc::O_TMPFILE,
        creds: &creds,
    };
    let (inode, ops) =
        dir.inode().create(&name, &args).map_err(|e| if e == Errno::EPERM { Errno::EOPNOTSUPP } else { e })?;
    if flags & libc::O_EXCL == 0 {
        mark_tmpfile_linkable(&inode);
    }
    let dentry = dir.dentry.insert_child(&name, inode);
    dir.inode().unlink(&name)?;
    dir.dentry.remove_child(&name);
    let loc = Location::new(dir.mount.clone(), dentry);
    Ok(OpenFile::new(ops, loc, (flags & !libc::O_TMPFILE) | crate::vfs::file::O_LARGEFILE))
}

/// Lets linkat name an O_TMPFILE file later (tmpfs, directly or as an overlay's upper layer).
fn mark_tmpfile_linkable(inode: &Arc<dyn crate::vfs::Inode>) {
    use crate::fs::{overlay::OvlInode, tmpfs::TmpfsInode};
    if let Some(t) = inode.as_any().downcast_ref::<TmpfsInode>() {
        crate::fs::tmpfs::mark_linkable(t);
    } else if let Some(o) = inode.as_any().downcast_ref::<OvlInode>() {
        if let Some(u) = o.upper() {
            if let Some(t) = u.as_any().downcast_ref::<TmpfsInode>() {
                crate::fs::tmpfs::mark_linkable(t);
            }
        }
    }
}
