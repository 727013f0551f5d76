//! Extended attributes, with Linux's name-space rules (fs/xattr.c,
//! xattr_permission and the capability LSM) in front of the inode's own
//! store: tmpfs (and so the overlay's upper layer) keeps every name in
//! memory; gofer-backed files store none (get: ENODATA, set: EOPNOTSUPP).

use std::sync::Arc;

use rvisor_syscalls::{Errno, SysResult};

use super::inotify::{loc_event, IN_ATTRIB};
use super::{SyscallCtx, AT_FDCWD};
use crate::kernel::creds::CAP_SYS_ADMIN;
use crate::vfs::perm::{is_owner, may_access, MAY_READ, MAY_WRITE};
use crate::vfs::{Inode, Location, S_IFDIR, S_IFMT, S_IFREG};

/// XATTR_SIZE_MAX and XATTR_LIST_MAX.
const SIZE_MAX: u64 = 65536;
/// XATTR_NAME_MAX.
const NAME_MAX: usize = 255;

/// What a call names: a path's location, or an open file's inode (and
/// location, when it has one, for inotify and read-only mounts).
struct Target {
    inode: Arc<dyn Inode>,
    loc: Option<Location>,
}

fn by_path(ctx: &mut SyscallCtx<'_>, pathp: u64, follow: bool) -> Result<Target, Errno> {
    let path = ctx.mem.read_path(pathp)?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, follow)?;
    Ok(Target { inode: loc.inode().clone(), loc: Some(loc) })
}

/// The f*xattr calls need a real open file: an O_PATH descriptor is EBADF.
fn by_fd(ctx: &SyscallCtx<'_>, fd: u64) -> Result<Target, Errno> {
    let f = ctx.file(fd as i32)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    let inode = f.inode().cloned().ok_or(Errno::EOPNOTSUPP)?;
    Ok(Target { inode, loc: f.location().cloned() })
}

fn read_name(ctx: &SyscallCtx<'_>, namep: u64) -> Result<Vec<u8>, Errno> {
    let name =
        ctx.mem.read_cstring(namep, NAME_MAX).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::ERANGE } else { e })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

fn is_admin(ctx: &SyscallCtx<'_>) -> bool {
    ctx.task.creds().has_cap(CAP_SYS_ADMIN)
}

/// Linux's xattr_permission plus the capability LSM's rule for security.*
/// writes; `write` is MAY_WRITE, else MAY_READ.
fn permission(ctx: &SyscallCtx<'_>, t: &Target, name: &[u8], write: bool) -> Result<(), Errno> {
    let attr = t.inode.attr()?;
    let denied = if write { Errno::EPERM } else { Errno::ENODATA };
    if name.starts_with(b"security.") {
        if write && name != b"security.capability" && !is_admin(ctx) {
            return Err(Errno::EPERM);
        }
        return Ok(());
    }
    if name.starts_with(b"system.") {
        return Ok(());
    }
    if name.starts_with(b"trusted.") {
        return if is_admin(ctx) { Ok(()) } else { Err(denied) };
    }
    let creds = ctx.task.creds().fs();
    if name.starts_with(b"user.") {
        let kind = attr.mode & S_IFMT;
        if kind != S_IFREG && kind != S_IFDIR {
            return Err(denied);
        }
        if kind == S_IFDIR && attr.mode & 0o1000 != 0 && write && !is_owner(&attr, &creds) {
            return Err(Errno::EPERM);
        }
    }
    if !may_access(&attr, &creds, if write { MAY_WRITE } else { MAY_READ }) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// Linux's xattr_resolve_name: a name-space the file systems know, with a
/// non-empty rest (EINVAL for a bare prefix), or EOPNOTSUPP.
fn resolve_name(name: &[u8]) -> Result<(), Errno> {
    if name == b"system.posix_acl_access" || name == b"system.posix_acl_default" {
        return Ok(());
    }
    match [&b"user."[..], b"trusted.", b"security."].iter().find(|p| name.starts_with(p)) {
        Some(p) if name.len() == p.len() => Err(Errno::EINVAL),
        Some(_) => Ok(()),
        None => Err(Errno::EOPNOTSUPP),
    }
}

fn writable(t: &Target) -> Result<(), Errno> {
    match &t.loc {
        Some(l) => super::file::check_writable_mount(l),
        None => Ok(()),
    }
}

fn changed(t: &Target) {
    if let Some(l) = &t.loc {
        loc_event(l, IN_ATTRIB);
    }
}

fn get(ctx: &mut SyscallCtx<'_>, t: Target, name: Vec<u8>, buf: u64, size: u64) -> SysResult {
    permission(ctx, &t, &name, false)?;
    resolve_name(&name)?;
    let value = t.inode.getxattr(&name)?;
    if size == 0 {
        return Ok(value.len() as i64);
    }
    if (value.len() as u64) > size.min(SIZE_MAX) {
        return Err(Errno::ERANGE);
    }
    ctx.mem.write(buf, &value)?;
    Ok(value.len() as i64)
}

/// The name, value and flags of a set call, checked as Linux does before it
/// looks at the file.
fn set_args(ctx: &SyscallCtx<'_>, a: [u64; 6]) -> Result<(Vec<u8>, Vec<u8>, i32), Errno> {
    let flags = a[4] as i32;
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 || a[4] > i32::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    let name = read_name(ctx, a[1])?;
    let size = a[3];
    if size > SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut value = vec![0u8; size as usize];
    if size > 0 {
        ctx.mem.read(a[2], &mut value)?;
    }
    Ok((name, value, flags))
}

fn set(ctx: &SyscallCtx<'_>, t: Target, (name, value, flags): (Vec<u8>, Vec<u8>, i32)) -> SysResult {
    writable(&t)?;
    permission(ctx, &t, &name, true)?;
    resolve_name(&name)?;
    if name.starts_with(b"system.") {
        // No ACLs: the sandbox's file systems are mounted without them.
        return Err(Errno::EOPNOTSUPP);
    }
    t.inode.setxattr(&name, &value, flags)?;
    changed(&t);
    Ok(0)
}

fn list(ctx: &mut SyscallCtx<'_>, t: Target, buf: u64, size: u64) -> SysResult {
    let admin = is_admin(ctx);
    let mut out = Vec::new();
    for name in t.inode.listxattr()? {
        if name.starts_with(b"trusted.") && !admin {
            continue;
        }
        out.extend_from_slice(&name);
        out.push(0);
    }
    if size == 0 {
        return Ok(out.len() as i64);
    }
    if (out.len() as u64) > size.min(SIZE_MAX) {
        return Err(Errno::ERANGE);
    }
    ctx.mem.write(buf, &out)?;
    Ok(out.len() as i64)
}

fn remove(ctx: &SyscallCtx<'_>, t: Target, name: Vec<u8>) -> SysResult {
    writable(&t)?;
    permission(ctx, &t, &name, true)?;
    resolve_name(&name)?;
    t.inode.removexattr(&name)?;
    changed(&t);
    Ok(0)
}

pub fn sys_getxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let name = read_name(ctx, a[1])?;
    let t = by_path(ctx, a[0], true)?;
    get(ctx, t, name, a[2], a[3])
}

pub fn sys_lgetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let name = read_name(ctx, a[1])?;
    let t = by_path(ctx, a[0], false)?;
    get(ctx, t, name, a[2], a[3])
}

pub fn sys_fgetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let t = by_fd(ctx, a[0])?;
    let name = read_name(ctx, a[1])?;
    get(ctx, t, name, a[2], a[3])
}

pub fn sys_listxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let t = by_path(ctx, a[0], true)?;
    list(ctx, t, a[1], a[2])
}

pub fn sys_llistxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let t = by_path(ctx, a[0], false)?;
    list(ctx, t, a[1], a[2])
}

pub fn sys_flistxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let t = by_fd(ctx, a[0])?;
    list(ctx, t, a[1], a[2])
}

pub fn sys_setxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let args = set_args(ctx, a)?;
    let t = by_path(ctx, a[0], true)?;
    set(ctx, t, args)
}

pub fn sys_lsetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let args = set_args(ctx, a)?;
    let t = by_path(ctx, a[0], false)?;
    set(ctx, t, args)
}

pub fn sys_fsetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let t = by_fd(ctx, a[0])?;
    let args = set_args(ctx, a)?;
    set(ctx, t, args)
}

pub fn sys_removexattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let name = read_name(ctx, a[1])?;
    let t = by_path(ctx, a[0], true)?;
    remove(ctx, t, name)
}

pub fn sys_lremovexattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let name = read_name(ctx, a[1])?;
    let t = by_path(ctx, a[0], false)?;
    remove(ctx, t, name)
}

pub fn sys_fremovexattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let t = by_fd(ctx, a[0])?;
    let name = read_name(ctx, a[1])?;
    remove(ctx, t, name)
}
