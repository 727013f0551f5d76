//! Namespace operations: mkdir, mknod, rmdir, unlink, rename, link, symlink,
//! readlink, chdir/fchdir/getcwd, chroot.

use std::sync::Arc;

use rvisor_syscalls::{Errno, SysResult};

use super::file::check_writable_mount;
use super::{SyscallCtx, AT_FDCWD};
use crate::vfs::path::{path_of, ParentAndName};
use crate::vfs::perm::{may_access, may_delete_in_sticky, MAY_EXEC, MAY_WRITE};
use crate::vfs::{CreateArgs, Location, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK};

/// Checks that the caller may add or remove names in `parent`.
fn may_modify_dir(ctx: &SyscallCtx<'_>, parent: &Location) -> Result<(), Errno> {
    let attr = parent.attr()?;
    if !may_access(&attr, &ctx.task.creds().fs(), MAY_WRITE | MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    check_writable_mount(parent)
}

fn parent_for_create(ctx: &SyscallCtx<'_>, dirfd: i32, pathp: u64) -> Result<ParentAndName, Errno> {
    let path = ctx.mem.read_path(pathp)?;
    let pn = ctx.resolve_parent_at(dirfd, &path)?;
    if pn.name == b"." || pn.name == b".." {
        return Err(Errno::EEXIST);
    }
    if pn.parent.dentry.lookup_child(&pn.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    may_modify_dir(ctx, &pn.parent)?;
    Ok(pn)
}

fn mkdir_common(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64, mode: u32) -> SysResult {
    let pn = parent_for_create(ctx, dirfd, pathp)?;
    let creds = ctx.task.creds().fs();
    let umask = ctx.task.fs().umask();
    // mkdir ignores set-user/group-ID bits (setgid comes from the parent, if at all).
    let args = CreateArgs { mode: S_IFDIR | (mode & 0o1777 & !umask), rdev: 0, flags: 0, creds: &creds };
    let inode = pn.parent.inode().mkdir(&pn.name, &args)?;
    pn.parent.dentry.insert_child(&pn.name, inode);
    super::inotify::child_event(&pn.parent, &pn.name, super::inotify::IN_CREATE | super::inotify::IN_ISDIR, 0);
    Ok(0)
}

pub fn sys_mkdir(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    mkdir_common(ctx, AT_FDCWD, a[0], a[1] as u32)
}

pub fn sys_mkdirat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    mkdir_common(ctx, a[0] as i32, a[1], a[2] as u32)
}

fn mknod_common(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64, mode: u32, dev: u64) -> SysResult {
    let kind = if mode & S_IFMT == 0 { S_IFREG } else { mode & S_IFMT };
    match kind {
        S_IFREG | S_IFIFO | S_IFSOCK => {}
        libc::S_IFCHR | libc::S_IFBLK => {
            if ctx.task.creds().euid != 0 {
                return Err(Errno::EPERM);
            }
        }
        S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    }
    let pn = parent_for_create(ctx, dirfd, pathp)?;
    if pn.trailing_slash {
        return Err(Errno::ENOENT);
    }
    let creds = ctx.task.creds().fs();
    let umask = ctx.task.fs().umask();
    let args = CreateArgs { mode: kind | (mode & 0o7777 & !umask), rdev: dev, flags: 0, creds: &creds };
    let inode = pn.parent.inode().mknod(&pn.name, &args)?;
    pn.parent.dentry.insert_child(&pn.name, inode);
    super::inotify::child_event(&pn.parent, &pn.name, super::inotify::IN_CREATE, 0);
    Ok(0)
}

pub fn sys_mknod(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    mknod_common(ctx, AT_FDCWD, a[0], a[1] as u32, a[2])
}

pub fn sys_mknodat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    mknod_common(ctx, a[0] as i32, a[1], a[2] as u32, a[3])
}

/// Resolves the victim of unlink/rmdir/rename: (parent, name, victim).
fn existing_child(pn: &ParentAndName) -> Result<Location, Errno> {
    let d = pn.parent.dentry.lookup_child(&pn.name)?;
    Ok(Location::new(pn.parent.mount.clone(), d))
}

fn is_mountpoint(ctx: &SyscallCtx<'_>, loc: &Location) -> bool {
    ctx.kernel.mounts.mounted_on(loc).is_some()
}

fn rmdir_common(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64) -> SysResult {
    let path = ctx.mem.read_path(pathp)?;
    let pn = ctx.resolve_parent_at(dirfd, &path)?;
    if pn.is_root {
        return Err(Errno::EBUSY);
    }
    if pn.name == b"." {
        return Err(Errno::EINVAL);
    }
    if pn.name == b".." {
        return Err(Errno::ENOTEMPTY);
    }
    let victim = existing_child(&pn)?;
    let vattr = victim.attr()?;
    if !vattr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_modify_dir(ctx, &pn.parent)?;
    if !may_delete_in_sticky(&pn.parent.attr()?, &vattr, &ctx.task.creds().fs()) {
        return Err(Errno::EPERM);
    }
    if is_mountpoint(ctx, &victim) || victim.same_as(&ctx.task.fs().get().root) {
        return Err(Errno::EBUSY);
    }
    pn.parent.inode().rmdir(&pn.name)?;
    pn.parent.dentry.remove_child(&pn.name);
    super::inotify::deleted(&vattr);
    super::inotify::child_event(&pn.parent, &pn.name, super::inotify::IN_DELETE | super::inotify::IN_ISDIR, 0);
    Ok(0)
}

fn unlink_common(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64) -> SysResult {
    let path = ctx.mem.read_path(pathp)?;
    let pn = ctx.resolve_parent_at(dirfd, &path)?;
    if pn.name == b"." || pn.name == b".." {
        return Err(Errno::EISDIR);
    }
    let victim = existing_child(&pn)?;
    let vattr = victim.attr()?;
    if vattr.is_dir() {
        return Err(Errno::EISDIR);
    }
    if pn.trailing_slash {
        return Err(Errno::ENOTDIR);
    }
    may_modify_dir(ctx, &pn.parent)?;
    if !may_delete_in_sticky(&pn.parent.attr()?, &vattr, &ctx.task.creds().fs()) {
        return Err(Errno::EPERM);
    }
    if is_mountpoint(ctx, &victim) {
        return Err(Errno::EBUSY);
    }
    pn.parent.inode().unlink(&pn.name)?;
    pn.parent.dentry.remove_child(&pn.name);
    super::inotify::unlinked(&vattr);
    super::inotify::child_event(&pn.parent, &pn.name, super::inotify::IN_DELETE, 0);
    Ok(0)
}

pub fn sys_rmdir(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    rmdir_common(ctx, AT_FDCWD, a[0])
}

pub fn sys_unlink(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    unlink_common(ctx, AT_FDCWD, a[0])
}

pub fn sys_unlinkat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let flags = a[2] as i32;
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_REMOVEDIR != 0 {
        rmdir_common(ctx, a[0] as i32, a[1])
    } else {
        unlink_common(ctx, a[0] as i32, a[1])
    }
}

fn rename_common(ctx: &mut SyscallCtx<'_>, olddir: i32, oldp: u64, newdir: i32, newp: u64, flags: u32) -> SysResult {
    const RENAME_NOREPLACE: u32 = 1;
    const RENAME_EXCHANGE: u32 = 2;
    const RENAME_WHITEOUT: u32 = 4;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & RENAME_WHITEOUT != 0 {
        return ctx.unsupported("renameat2(RENAME_WHITEOUT)", Errno::EINVAL);
    }
    let old_path = ctx.mem.read_path(oldp)?;
    let new_path = ctx.mem.read_path(newp)?;
    let op = ctx.resolve_parent_at(olddir, &old_path)?;
    let np = ctx.resolve_parent_at(newdir, &new_path)?;
    if op.name == b"." || op.name == b".." || np.name == b"." || np.name == b".." {
        return Err(if flags & RENAME_NOREPLACE != 0 { Errno::EEXIST } else { Errno::EBUSY });
    }
    let src = existing_child(&op)?;
    let sattr = src.attr()?;
    if (op.trailing_slash || np.trailing_slash) && !sattr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !Arc::ptr_eq(&op.parent.mount, &np.parent.mount) {
        return Err(Errno::EXDEV);
    }
    let dst = existing_child(&np).ok();
    if let Some(d) = &dst {
        if flags & RENAME_NOREPLACE != 0 {
            return Err(Errno::EEXIST);
        }
        if Arc::ptr_eq(d.dentry.inode(), src.dentry.inode()) || d.same_as(&src) {
            // Same file (or hard links to it): nothing to do.
            return Ok(0);
        }
        let dattr = d.attr()?;
        if flags & RENAME_EXCHANGE == 0 {
            if sattr.is_dir() && !dattr.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if !sattr.is_dir() && dattr.is_dir() {
                return Err(Errno::EISDIR);
            }
        }
        if is_mountpoint(ctx, d) {
            return Err(Errno::EBUSY);
        }
    } else if flags & RENAME_EXCHANGE != 0 {
        return Err(Errno::ENOENT);
    }
    // A directory may not move beneath itself.
    if sattr.is_dir() && src.dentry.is_ancestor_of(&np.parent.dentry) {
        return Err(Errno::EINVAL);
    }
    if let Some(d) = &dst {
        if flags & RENAME_EXCHANGE != 0 && d.attr()?.is_dir() && d.dentry.is_ancestor_of(&op.parent.dentry) {
            return Err(Errno::EINVAL);
        }
    }
    may_modify_dir(ctx, &op.parent)?;
    may_modify_dir(ctx, &np.parent)?;
    if is_mountpoint(ctx, &src) {
        return Err(Errno::EBUSY);
    }
    op.parent.inode().rename(&op.name, np.parent.inode(), &np.name, flags)?;
    if flags & RENAME_EXCHANGE != 0 {
        op.parent.dentry.invalidate_child(&op.name);
        np.parent.dentry.invalidate_child(&np.name);
    } else {
        op.parent.dentry.move_child(&op.name, &np.parent.dentry, &np.name);
    }
    let (isdir, cookie) = (if sattr.is_dir() { super::inotify::IN_ISDIR } else { 0 }, super::inotify::move_cookie());
    super::inotify::child_event(&op.parent, &op.name, super::inotify::IN_MOVED_FROM | isdir, cookie);
    super::inotify::child_event(&np.parent, &np.name, super::inotify::IN_MOVED_TO | isdir, cookie);
    if op.parent.same_as(&np.parent) {
        super::dnotify::renamed(&op.parent);
    }
    super::inotify::self_event(&sattr, super::inotify::IN_MOVE_SELF);
    Ok(0)
}

pub fn sys_rename(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    rename_common(ctx, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

pub fn sys_renameat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    rename_common(ctx, a[0] as i32, a[1], a[2] as i32, a[3], 0)
}

pub fn sys_renameat2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    rename_common(ctx, a[0] as i32, a[1], a[2] as i32, a[3], a[4] as u32)
}

fn link_common(ctx: &mut SyscallCtx<'_>, olddir: i32, oldp: u64, newdir: i32, newp: u64, flags: i32) -> SysResult {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let src = ctx.resolve_arg(olddir, oldp, flags & libc::AT_SYMLINK_FOLLOW != 0, flags & libc::AT_EMPTY_PATH != 0)?;
    let sattr = src.attr()?;
    if sattr.is_dir() {
        return Err(Errno::EPERM);
    }
    let new_path = ctx.mem.read_path(newp)?;
    let np = ctx.resolve_parent_at(newdir, &new_path)?;
    if np.trailing_slash {
        return Err(Errno::ENOENT);
    }
    if np.parent.dentry.lookup_child(&np.name).is_ok() || np.name == b"." || np.name == b".." {
        return Err(Errno::EEXIST);
    }
    if !Arc::ptr_eq(&src.mount, &np.parent.mount) {
        return Err(Errno::EXDEV);
    }
    may_modify_dir(ctx, &np.parent)?;
    np.parent.inode().link(&np.name, src.inode())?;
    np.parent.dentry.insert_child(&np.name, src.inode().clone());
    super::inotify::self_event(&sattr, super::inotify::IN_ATTRIB);
    super::inotify::child_event(&np.parent, &np.name, super::inotify::IN_CREATE, 0);
    Ok(0)
}

pub fn sys_link(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    link_common(ctx, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

pub fn sys_linkat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    link_common(ctx, a[0] as i32, a[1], a[2] as i32, a[3], a[4] as i32)
}

fn symlink_common(ctx: &mut SyscallCtx<'_>, targetp: u64, newdir: i32, newp: u64) -> SysResult {
    let target = ctx.mem.read_path(targetp)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let pn = parent_for_create(ctx, newdir, newp)?;
    if pn.trailing_slash {
        return Err(Errno::ENOENT);
    }
    let creds = ctx.task.creds().fs();
    let inode = pn.parent.inode().symlink(&pn.name, &target, &creds)?;
    pn.parent.dentry.insert_child(&pn.name, inode);
    super::inotify::child_event(&pn.parent, &pn.name, super::inotify::IN_CREATE, 0);
    Ok(0)
}

pub fn sys_symlink(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    symlink_common(ctx, a[0], AT_FDCWD, a[1])
}

pub fn sys_symlinkat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    symlink_common(ctx, a[0], a[1] as i32, a[2])
}

fn readlink_common(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64, buf: u64, size: i64) -> SysResult {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = ctx.mem.read_path(pathp)?;
    let loc = if path.is_empty() {
        // Only an O_PATH|O_NOFOLLOW fd of a symlink can be read with an empty path.
        let f = if dirfd == AT_FDCWD { None } else { Some(ctx.file(dirfd)?) };
        match f.and_then(|f| f.location().cloned()) {
            Some(l) if l.attr()?.is_symlink() => l,
            _ => return Err(Errno::ENOENT),
        }
    } else {
        ctx.resolve_at(dirfd, &path, false)?
    };
    let attr = loc.attr()?;
    if !attr.is_symlink() {
        return Err(Errno::EINVAL);
    }
    let target = loc.inode().readlink()?;
    let n = target.len().min(size as usize);
    ctx.mem.write(buf, &target[..n])?;
    Ok(n as i64)
}

pub fn sys_readlink(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    readlink_common(ctx, AT_FDCWD, a[0], a[1], a[2] as i64)
}

pub fn sys_readlinkat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    readlink_common(ctx, a[0] as i32, a[1], a[2], a[3] as i64)
}

fn set_cwd(ctx: &SyscallCtx<'_>, loc: Location) -> SysResult {
    let attr = loc.attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !may_access(&attr, &ctx.task.creds().fs(), MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    ctx.task.fs().set_cwd(loc);
    Ok(0)
}

pub fn sys_chdir(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    set_cwd(ctx, loc)
}

pub fn sys_fchdir(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let loc = f.location().cloned().ok_or(Errno::ENOTDIR)?;
    set_cwd(ctx, loc)
}

pub fn sys_getcwd(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (buf, size) = (a[0], a[1] as usize);
    let fs = ctx.task.fs().get();
    let (mut path, reachable) = path_of(&fs.cwd, &fs.root);
    if fs.cwd.dentry.is_deleted() {
        return Err(Errno::ENOENT);
    }
    if !reachable {
        let mut p = b"(unreachable)".to_vec();
        p.extend_from_slice(&path);
        path = p;
    }
    path.push(0);
    if path.len() > size {
        return Err(Errno::ERANGE);
    }
    ctx.mem.write(buf, &path)?;
    Ok(path.len() as i64)
}

pub fn sys_chroot(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    // As Linux: the path and search permission on it first, then the capability.
    let path = ctx.mem.read_path(a[0])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    let attr = loc.attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let creds = ctx.task.creds();
    if !may_access(&attr, &creds.fs(), MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    if !creds.has_cap(crate::kernel::creds::CAP_SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    // The new root lies inside the sandbox's own tree, so this confines further, never widens.
    ctx.task.fs().set_root(loc);
    Ok(0)
}
