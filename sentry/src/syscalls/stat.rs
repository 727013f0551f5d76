//! stat family, statx and statfs.

use rvisor_syscalls::abi::{Stat, Statx, StatxTimestamp};
use rvisor_syscalls::{Errno, SysResult};

use super::{SyscallCtx, AT_FDCWD};
use crate::vfs::{Attr, Location};

fn to_stat(a: &Attr) -> Stat {
    Stat {
        st_dev: a.dev,
        st_ino: a.ino,
        st_nlink: a.nlink,
        st_mode: a.mode,
        st_uid: a.uid,
        st_gid: a.gid,
        pad0: 0,
        st_rdev: a.rdev,
        st_size: a.size as i64,
        st_blksize: a.blksize as i64,
        st_blocks: a.blocks as i64,
        st_atime: a.atime.tv_sec,
        st_atime_nsec: a.atime.tv_nsec,
        st_mtime: a.mtime.tv_sec,
        st_mtime_nsec: a.mtime.tv_nsec,
        st_ctime: a.ctime.tv_sec,
        st_ctime_nsec: a.ctime.tv_nsec,
        reserved: [0; 3],
    }
}

fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

fn ts(t: rvisor_syscalls::abi::Timespec) -> StatxTimestamp {
    StatxTimestamp { tv_sec: t.tv_sec, tv_nsec: t.tv_nsec as u32, reserved: 0 }
}

const STATX_BASIC_STATS: u32 = 0x7ff;
const STATX_MNT_ID: u32 = 0x1000;

fn to_statx(a: &Attr, mnt_id: u64) -> Statx {
    Statx {
        stx_mask: STATX_BASIC_STATS | STATX_MNT_ID,
        stx_blksize: a.blksize as u32,
        stx_nlink: a.nlink as u32,
        stx_uid: a.uid,
        stx_gid: a.gid,
        stx_mode: a.mode as u16,
        stx_ino: a.ino,
        stx_size: a.size,
        stx_blocks: a.blocks,
        stx_atime: ts(a.atime),
        stx_ctime: ts(a.ctime),
        stx_mtime: ts(a.mtime),
        stx_rdev_major: major(a.rdev),
        stx_rdev_minor: minor(a.rdev),
        stx_dev_major: major(a.dev),
        stx_dev_minor: minor(a.dev),
        stx_mnt_id: mnt_id,
        ..Default::default()
    }
}

fn stat_path(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64, follow: bool, empty_ok: bool, out: u64) -> SysResult {
    let (attr, _) = lookup_attr(ctx, dirfd, pathp, follow, empty_ok)?;
    ctx.mem.write_val(out, &to_stat(&attr))?;
    Ok(0)
}

/// Attributes of a path argument; with AT_EMPTY_PATH and an fd, the open
/// file's own view (which also covers pipes and other pathless files).
/// Returns the mount id alongside (0 for pathless files).
fn lookup_attr(
    ctx: &SyscallCtx<'_>,
    dirfd: i32,
    pathp: u64,
    follow: bool,
    empty_ok: bool,
) -> Result<(Attr, u64), Errno> {
    let path = ctx.mem.read_path(pathp)?;
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        if dirfd != AT_FDCWD {
            let f = ctx.file(dirfd)?;
            return Ok((f.attr()?, f.location().map(|l| l.mount.id).unwrap_or(0)));
        }
    }
    let loc: Location = if path.is_empty() { ctx.task.fs().get().cwd } else { ctx.resolve_at(dirfd, &path, follow)? };
    Ok((loc.attr()?, loc.mount.id))
}

pub fn sys_stat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    stat_path(ctx, AT_FDCWD, a[0], true, false, a[1])
}

pub fn sys_lstat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    stat_path(ctx, AT_FDCWD, a[0], false, false, a[1])
}

pub fn sys_fstat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let attr = f.attr()?;
    ctx.mem.write_val(a[1], &to_stat(&attr))?;
    Ok(0)
}

pub fn sys_newfstatat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (dirfd, pathp, out, flags) = (a[0] as i32, a[1], a[2], a[3] as i32);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    stat_path(ctx, dirfd, pathp, flags & libc::AT_SYMLINK_NOFOLLOW == 0, flags & libc::AT_EMPTY_PATH != 0, out)
}

pub fn sys_statx(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (dirfd, pathp, flags, mask, out) = (a[0] as i32, a[1], a[2] as i32, a[3] as u32, a[4]);
    const AT_STATX_SYNC_TYPE: i32 = 0x6000;
    let known = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
    if flags & !known != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    if mask & 0x8000_0000 != 0 {
        return Err(Errno::EINVAL);
    }
    let (attr, mnt) =
        lookup_attr(ctx, dirfd, pathp, flags & libc::AT_SYMLINK_NOFOLLOW == 0, flags & libc::AT_EMPTY_PATH != 0)?;
    let mut sx = to_statx(&attr, mnt);
    // Fine-grained timestamps: Linux reports mtime/ctime only when asked for.
    const STATX_MTIME: u32 = 0x40;
    const STATX_CTIME: u32 = 0x80;
    if mask & (STATX_MTIME | STATX_CTIME) == 0 {
        sx.stx_mask &= !(STATX_MTIME | STATX_CTIME);
    }
    ctx.mem.write_val(out, &sx)?;
    Ok(0)
}

pub fn sys_statfs(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let path = ctx.mem.read_path(a[0])?;
    let loc = ctx.resolve_at(AT_FDCWD, &path, true)?;
    let mut st = loc.inode().statfs()?;
    if loc.mount.flags.readonly {
        st.f_flags |= libc::ST_RDONLY as i64;
    }
    ctx.mem.write_val(a[1], &st)?;
    Ok(0)
}

pub fn sys_fstatfs(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let mut st = match f.inode() {
        Some(i) => i.statfs()?,
        None => rvisor_syscalls::abi::StatFs {
            f_type: 0x5049_5045,
            f_bsize: 4096,
            f_namelen: 255,
            f_frsize: 4096,
            ..Default::default()
        },
    };
    if f.location().is_some_and(|l| l.mount.flags.readonly) {
        st.f_flags |= libc::ST_RDONLY as i64;
    }
    ctx.mem.write_val(a[1], &st)?;
    Ok(0)
}
