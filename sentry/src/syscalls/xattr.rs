//! Extended attributes: none are stored, as on a file system without xattr
//! support for the names apps probe (security.*, system.posix_acl_*).

use rvisor_syscalls::{Errno, SysResult};

use super::{SyscallCtx, AT_FDCWD};

fn check_path(ctx: &mut SyscallCtx<'_>, pathp: u64, follow: bool) -> Result<(), Errno> {
    let path = ctx.mem.read_path(pathp)?;
    ctx.resolve_at(AT_FDCWD, &path, follow).map(|_| ())
}

/// The f*xattr calls need a real open file: an O_PATH descriptor is EBADF.
fn check_fd(ctx: &SyscallCtx<'_>, fd: u64) -> Result<(), Errno> {
    if ctx.file(fd as i32)?.is_path_only() {
        return Err(Errno::EBADF);
    }
    Ok(())
}

fn check_name(ctx: &SyscallCtx<'_>, namep: u64) -> Result<(), Errno> {
    let name =
        ctx.mem.read_cstring(namep, 255).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::ERANGE } else { e })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(())
}

pub fn sys_getxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], true)?;
    check_name(ctx, a[1])?;
    Err(Errno::ENODATA)
}

pub fn sys_lgetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], false)?;
    check_name(ctx, a[1])?;
    Err(Errno::ENODATA)
}

pub fn sys_fgetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_fd(ctx, a[0])?;
    check_name(ctx, a[1])?;
    Err(Errno::ENODATA)
}

pub fn sys_listxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], true)?;
    Ok(0)
}

pub fn sys_llistxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], false)?;
    Ok(0)
}

pub fn sys_flistxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_fd(ctx, a[0])?;
    Ok(0)
}

pub fn sys_setxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], true)?;
    check_name(ctx, a[1])?;
    Err(Errno::EOPNOTSUPP)
}

pub fn sys_lsetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], false)?;
    check_name(ctx, a[1])?;
    Err(Errno::EOPNOTSUPP)
}

pub fn sys_fsetxattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_fd(ctx, a[0])?;
    check_name(ctx, a[1])?;
    Err(Errno::EOPNOTSUPP)
}

pub fn sys_removexattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], true)?;
    check_name(ctx, a[1])?;
    Err(Errno::ENODATA)
}

pub fn sys_lremovexattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_path(ctx, a[0], false)?;
    check_name(ctx, a[1])?;
    Err(Errno::ENODATA)
}

pub fn sys_fremovexattr(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    check_fd(ctx, a[0])?;
    check_name(ctx, a[1])?;
    Err(Errno::ENODATA)
}
