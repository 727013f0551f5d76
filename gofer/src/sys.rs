//! Thin wrappers over the host syscalls the server uses. Every path argument
//! is a single, already validated component relative to a directory fd, or
//! empty with AT_EMPTY_PATH: nothing here resolves a multi-component path.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rvisor_syscalls::abi::{OpenHow, StatFs, Timespec};
use rvisor_syscalls::Errno;

use crate::protocol::MAX_PATH;

pub type SysResult<T> = Result<T, Errno>;

/// An empty path, for AT_EMPTY_PATH calls.
const EMPTY: &std::ffi::CStr = c"";

pub fn cname(name: &[u8]) -> SysResult<CString> {
    CString::new(name).map_err(|_| Errno::EINVAL)
}

fn unit(r: libc::c_int) -> SysResult<()> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn owned(r: libc::c_long) -> SysResult<OwnedFd> {
    if r < 0 {
        return Err(Errno::last());
    }
    let fd = libc::c_int::try_from(r).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel just returned this new fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Set once openat2 reports ENOSYS, so later walks skip straight to openat.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens child `name` of `dir` as an O_PATH fd without following a symlink:
/// a symlink yields an fd for the link itself.
pub fn walk(dir: BorrowedFd<'_>, name: &[u8]) -> SysResult<OwnedFd> {
    let c = cname(name)?;
    let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        // Belt and braces: even if a name slipped past validation, the kernel
        // refuses to leave `dir` or to follow any link.
        let how = OpenHow {
            flags: flags as u64,
            mode: 0,
            resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS,
        };
        // SAFETY: c is NUL-terminated and `how` is a valid open_how of the size passed.
        let r = unsafe {
            libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), c.as_ptr(), &how, std::mem::size_of::<OpenHow>())
        };
        match owned(r) {
            Err(e) if e == Errno::ENOSYS => NO_OPENAT2.store(true, Ordering::Relaxed),
            other => return other,
        }
    }
    // SAFETY: c is NUL-terminated; O_PATH opens have no side effects.
    owned(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) }.into())
}

/// openat of a single component that never follows a final symlink and
/// never acquires a controlling tty.
pub fn open_child(dir: BorrowedFd<'_>, name: &[u8], flags: i32, mode: u32) -> SysResult<OwnedFd> {
    let c = cname(name)?;
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: c is NUL-terminated.
    owned(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags, mode) }.into())
}

/// Opens the directory an O_PATH fd refers to, for reading: "." relative to
/// itself names exactly that inode, so no path is re-resolved.
pub fn open_dir_itself(dir: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: literal NUL-terminated path.
    owned(unsafe { libc::openat(dir.as_raw_fd(), c".".as_ptr(), flags) }.into())
}

pub fn fstat(fd: BorrowedFd<'_>) -> SysResult<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is writable; fstat works on O_PATH fds.
    unit(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// lstat of child `name` of `dir`.
pub fn stat_child(dir: BorrowedFd<'_>, name: &[u8]) -> SysResult<libc::stat> {
    let c = cname(name)?;
    // SAFETY: a zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: c is NUL-terminated and st writable.
    unit(unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

/// getdents64 into `buf`; returns the bytes filled (0 at the end).
pub fn getdents(dir: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: buf is writable for buf.len() bytes.
    let n = unsafe { libc::syscall(libc::SYS_getdents64, dir.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return Err(Errno::last());
    }
    Ok(n as usize)
}

/// Moves a directory fd to `cookie`, a d_off getdents64 gave.
pub fn seek_dir(dir: BorrowedFd<'_>, cookie: u64) -> SysResult<()> {
    // SAFETY: lseek only moves the fd's own position.
    if unsafe { libc::lseek(dir.as_raw_fd(), cookie as libc::off_t, libc::SEEK_SET) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

pub fn fstatfs(fd: BorrowedFd<'_>) -> SysResult<StatFs> {
    let mut s = StatFs::default();
    // SAFETY: StatFs is the kernel's x86_64 `struct statfs`, writable; the raw
    // syscall (unlike libc's struct) keeps f_flags. Works on O_PATH fds.
    let r = unsafe { libc::syscall(libc::SYS_fstatfs, fd.as_raw_fd(), &mut s as *mut StatFs) };
    unit(r as libc::c_int)?;
    Ok(s)
}

/// Target of the symlink an O_PATH fd refers to.
pub fn readlink(fd: BorrowedFd<'_>) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; MAX_PATH];
    // SAFETY: buf is writable for buf.len() bytes; empty path = the fd itself.
    let n = unsafe { libc::readlinkat(fd.as_raw_fd(), EMPTY.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Errno::last());
    }
    // A full buffer may be a truncated target: refuse rather than lie.
    let n = n as usize;
    if n >= buf.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    buf.truncate(n);
    Ok(buf)
}

/// chmod of exactly the inode `fd` refers to, with fchmodat2 (Linux 6.6+).
/// ENOSYS on older kernels: callers fall back by file type.
pub fn chmod_empty_path(fd: BorrowedFd<'_>, perm: u32) -> SysResult<()> {
    // SAFETY: literal empty path; AT_EMPTY_PATH makes it name the fd itself.
    let r = unsafe { libc::syscall(libc::SYS_fchmodat2, fd.as_raw_fd(), EMPTY.as_ptr(), perm, libc::AT_EMPTY_PATH) };
    unit(r as libc::c_int)
}

/// chmod of the directory an O_PATH fd refers to, through ".".
pub fn chmod_dir_itself(dir: BorrowedFd<'_>, perm: u32) -> SysResult<()> {
    // SAFETY: literal NUL-terminated path.
    unit(unsafe { libc::fchmodat(dir.as_raw_fd(), c".".as_ptr(), perm, 0) })
}

pub fn fchmod(fd: BorrowedFd<'_>, perm: u32) -> SysResult<()> {
    // SAFETY: plain syscall on a borrowed fd.
    unit(unsafe { libc::fchmod(fd.as_raw_fd(), perm) })
}

/// chown of the inode `fd` refers to (a symlink itself, never its target).
/// `u32::MAX` leaves that id unchanged.
pub fn chown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> SysResult<()> {
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: literal empty path naming the fd itself.
    unit(unsafe { libc::fchownat(fd.as_raw_fd(), EMPTY.as_ptr(), uid, gid, flags) })
}

/// utimensat of the inode `fd` refers to; UTIME_NOW/UTIME_OMIT apply.
pub fn utimens(fd: BorrowedFd<'_>, atime: Timespec, mtime: Timespec) -> SysResult<()> {
    let ts = [
        libc::timespec { tv_sec: atime.tv_sec, tv_nsec: atime.tv_nsec },
        libc::timespec { tv_sec: mtime.tv_sec, tv_nsec: mtime.tv_nsec },
    ];
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: ts is an array of two timespecs; empty path names the fd itself.
    unit(unsafe { libc::utimensat(fd.as_raw_fd(), EMPTY.as_ptr(), ts.as_ptr(), flags) })
}

pub fn ftruncate(fd: BorrowedFd<'_>, size: u64) -> SysResult<()> {
    let size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
    // SAFETY: plain syscall on a borrowed fd.
    unit(unsafe { libc::ftruncate(fd.as_raw_fd(), size) })
}

pub fn mkdir(dir: BorrowedFd<'_>, name: &[u8], perm: u32) -> SysResult<()> {
    let c = cname(name)?;
    // SAFETY: c is NUL-terminated.
    unit(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), perm) })
}

pub fn mknod(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> SysResult<()> {
    let c = cname(name)?;
    // SAFETY: c is NUL-terminated; rdev 0 (no devices are made here).
    unit(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, 0) })
}

pub fn symlink(dir: BorrowedFd<'_>, name: &[u8], target: &[u8]) -> SysResult<()> {
    let (c, t) = (cname(name)?, cname(target)?);
    // SAFETY: both strings are NUL-terminated.
    unit(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) })
}

/// Hard-links the inode `target` refers to as `name` in `dir`. Needs
/// CAP_DAC_READ_SEARCH; callers fall back to [`link_child`] without it.
pub fn link_empty_path(target: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &[u8]) -> SysResult<()> {
    let c = cname(name)?;
    // SAFETY: literal empty old path naming the fd itself; c is NUL-terminated.
    unit(unsafe { libc::linkat(target.as_raw_fd(), EMPTY.as_ptr(), dir.as_raw_fd(), c.as_ptr(), libc::AT_EMPTY_PATH) })
}

/// Hard-links child `old` of `old_dir` as `new` in `new_dir`; linkat does not
/// follow a symlink at `old` without AT_SYMLINK_FOLLOW.
pub fn link_child(old_dir: BorrowedFd<'_>, old: &[u8], new_dir: BorrowedFd<'_>, new: &[u8]) -> SysResult<()> {
    let (o, n) = (cname(old)?, cname(new)?);
    // SAFETY: both strings are NUL-terminated.
    unit(unsafe { libc::linkat(old_dir.as_raw_fd(), o.as_ptr(), new_dir.as_raw_fd(), n.as_ptr(), 0) })
}

pub fn unlink(dir: BorrowedFd<'_>, name: &[u8], flags: i32) -> SysResult<()> {
    let c = cname(name)?;
    // SAFETY: c is NUL-terminated.
    unit(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) })
}

pub fn rename(old_dir: BorrowedFd<'_>, old: &[u8], new_dir: BorrowedFd<'_>, new: &[u8], flags: u32) -> SysResult<()> {
    let (o, n) = (cname(old)?, cname(new)?);
    // SAFETY: both strings are NUL-terminated; renameat2 via syscall avoids
    // depending on a libc wrapper.
    let r = unsafe {
        libc::syscall(libc::SYS_renameat2, old_dir.as_raw_fd(), o.as_ptr(), new_dir.as_raw_fd(), n.as_ptr(), flags)
    };
    unit(r as libc::c_int)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn walk_never_follows_with_either_syscall() {
        let base = std::env::temp_dir().join(format!("rvisor-gofer-sys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("d")).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("l")).unwrap();
        let c = CString::new(base.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is NUL-terminated.
        let dir = owned(unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY) }.into()).unwrap();
        for fallback in [false, true] {
            NO_OPENAT2.store(fallback, Ordering::Relaxed);
            let l = walk(dir.as_fd(), b"l").unwrap();
            assert_eq!(fstat(l.as_fd()).unwrap().st_mode & libc::S_IFMT, libc::S_IFLNK);
            assert_eq!(walk(l.as_fd(), b"passwd").unwrap_err(), Errno::ENOTDIR);
            let d = walk(dir.as_fd(), b"d").unwrap();
            assert_eq!(fstat(d.as_fd()).unwrap().st_mode & libc::S_IFMT, libc::S_IFDIR);
            assert_eq!(open_child(dir.as_fd(), b"l", libc::O_RDONLY, 0).unwrap_err(), Errno::ELOOP);
        }
        NO_OPENAT2.store(false, Ordering::Relaxed);
        let _ = std::fs::remove_dir_all(&base);
    }
}
