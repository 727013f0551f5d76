//! Credentials: user and group ids (real, effective, saved, file-system),
//! supplementary groups. Capability effects of id changes are in
//! kernel::creds.

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::creds::{IdKind, IdSet};

pub fn sys_getuid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.creds().ruid as i64)
}

pub fn sys_geteuid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.creds().euid as i64)
}

pub fn sys_getgid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.creds().rgid as i64)
}

pub fn sys_getegid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.creds().egid as i64)
}

pub fn sys_getresuid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let c = ctx.task.creds();
    ctx.mem.write_val(a[0], &c.ruid)?;
    ctx.mem.write_val(a[1], &c.euid)?;
    ctx.mem.write_val(a[2], &c.suid)?;
    Ok(0)
}

pub fn sys_getresgid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let c = ctx.task.creds();
    ctx.mem.write_val(a[0], &c.rgid)?;
    ctx.mem.write_val(a[1], &c.egid)?;
    ctx.mem.write_val(a[2], &c.sgid)?;
    Ok(0)
}

pub fn sys_getgroups(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (size, list) = (a[0] as i32, a[1]);
    let groups = ctx.task.creds().groups;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(groups.len() as i64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
    ctx.mem.write(list, &bytes)?;
    Ok(groups.len() as i64)
}

pub fn sys_setgroups(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (size, list) = (a[0] as usize, a[1]);
    if size > 65536 {
        return Err(Errno::EINVAL);
    }
    if !ctx.task.creds().has_cap(crate::kernel::creds::CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    let mut bytes = vec![0u8; size * 4];
    ctx.mem.read(list, &mut bytes)?;
    let groups = bytes.chunks(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect();
    ctx.task.creds.lock().unwrap_or_else(|e| e.into_inner()).groups = groups;
    Ok(0)
}

/// A credential id argument: -1 means "unchanged".
fn id_arg(v: u64) -> Option<u32> {
    let v = v as u32;
    (v != u32::MAX).then_some(v)
}

/// The capability that lifts the set*id restrictions for `kind`.
fn id_cap(kind: IdKind) -> u32 {
    match kind {
        IdKind::User => crate::kernel::creds::CAP_SETUID,
        IdKind::Group => crate::kernel::creds::CAP_SETGID,
    }
}

/// Applies a set*id rule to the task's user or group ids.
fn change_ids(ctx: &SyscallCtx<'_>, kind: IdKind, rule: impl FnOnce(IdSet, bool) -> Result<IdSet, Errno>) -> SysResult {
    let mut c = ctx.task.creds.lock().unwrap_or_else(|e| e.into_inner());
    let old = c.ids(kind);
    let ids = rule(old, c.has_cap(id_cap(kind)))?;
    c.set_ids(kind, ids);
    if kind == IdKind::User {
        c.fix_caps_after_setuid(old);
    }
    Ok(0)
}

pub fn sys_setuid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_ids(ctx, IdKind::User, |ids, p| ids.set(a[0] as u32, p))
}

pub fn sys_setgid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_ids(ctx, IdKind::Group, |ids, p| ids.set(a[0] as u32, p))
}

pub fn sys_setresuid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_ids(ctx, IdKind::User, |ids, p| ids.set_res(id_arg(a[0]), id_arg(a[1]), id_arg(a[2]), p))
}

pub fn sys_setresgid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_ids(ctx, IdKind::Group, |ids, p| ids.set_res(id_arg(a[0]), id_arg(a[1]), id_arg(a[2]), p))
}

pub fn sys_setreuid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_ids(ctx, IdKind::User, |ids, p| ids.set_re(id_arg(a[0]), id_arg(a[1]), p))
}

pub fn sys_setregid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_ids(ctx, IdKind::Group, |ids, p| ids.set_re(id_arg(a[0]), id_arg(a[1]), p))
}

/// setfsuid/setfsgid return the previous fs id, whether or not it changed.
fn change_fs_id(ctx: &SyscallCtx<'_>, kind: IdKind, v: u32) -> SysResult {
    let mut c = ctx.task.creds.lock().unwrap_or_else(|e| e.into_inner());
    let old = c.ids(kind);
    // (uid_t)-1 is not an id: nothing changes, the old id is the answer.
    if v == u32::MAX {
        return Ok(old.fs as i64);
    }
    let privileged = c.has_cap(id_cap(kind));
    c.set_ids(kind, old.set_fs(v, privileged));
    if kind == IdKind::User {
        c.fix_caps_after_setuid(old);
    }
    Ok(old.fs as i64)
}

pub fn sys_setfsuid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_fs_id(ctx, IdKind::User, a[0] as u32)
}

pub fn sys_setfsgid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    change_fs_id(ctx, IdKind::Group, a[0] as u32)
}
