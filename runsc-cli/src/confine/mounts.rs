//! Mount-namespace helpers shared by the sentry's and the gofer's set-up.
//! All of them act on the calling process's (private) mount namespace.

use std::ffi::{CStr, CString};

use super::{sys_err, ConfineError};

fn path_err(step: &'static str, path: &CStr) -> ConfineError {
    ConfineError::Path { step, path: path.to_string_lossy().into_owned(), source: std::io::Error::last_os_error() }
}

/// A new mount namespace whose mounts no longer propagate to or from the host.
pub fn unshare_private_mounts(extra_flags: libc::c_int) -> Result<(), ConfineError> {
    // SAFETY: unshare affects only this (single-threaded) process.
    if unsafe { libc::unshare(libc::CLONE_NEWNS | extra_flags) } != 0 {
        return Err(sys_err("unshare"));
    }
    // SAFETY: constant arguments; "/" is NUL-terminated.
    if unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(sys_err("making / private"));
    }
    Ok(())
}

/// Mounts a procfs for the caller's pid namespace at `target`: read-only and,
/// where the kernel has it (5.8+), with only the pid directories
/// (`subset=pid`: no /proc/sys, /proc/sysrq-trigger, ...).
pub fn mount_proc(target: &CStr) -> Result<(), ConfineError> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY;
    for data in [Some(c"subset=pid"), None] {
        let d = data.map(|d| d.as_ptr().cast()).unwrap_or(std::ptr::null());
        // SAFETY: all strings are NUL-terminated.
        if unsafe { libc::mount(c"proc".as_ptr(), target.as_ptr(), c"proc".as_ptr(), flags, d) } == 0 {
            return Ok(());
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            break;
        }
    }
    Err(path_err("mounting proc on", target))
}

/// Mounts an empty tmpfs at `target`.
pub fn mount_empty_tmpfs(target: &CStr) -> Result<(), ConfineError> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: all strings are NUL-terminated.
    let r = unsafe {
        libc::mount(c"tmpfs".as_ptr(), target.as_ptr(), c"tmpfs".as_ptr(), flags, c"size=4k,mode=0555".as_ptr().cast())
    };
    if r != 0 {
        return Err(path_err("mounting tmpfs on", target));
    }
    Ok(())
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Makes the mount at `dir` and every mount beneath it read-only (and
/// nosuid/nodev) with mount_setattr (5.12+), else remounts the top one.
pub fn make_readonly_recursive(dir: &CStr) -> Result<(), ConfineError> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: attr is a valid struct mount_attr of the size passed; dir is NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            dir.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        return Ok(());
    }
    if std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
        return Err(path_err("mount_setattr(read-only)", dir));
    }
    remount_readonly(dir)
}

/// Remounts one bind mount read-only.
pub fn remount_readonly(dir: &CStr) -> Result<(), ConfineError> {
    let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: dir is NUL-terminated.
    if unsafe { libc::mount(std::ptr::null(), dir.as_ptr(), std::ptr::null(), flags, std::ptr::null()) } != 0 {
        return Err(path_err("remounting read-only", dir));
    }
    Ok(())
}

/// Makes mount point `new_root` the root of this mount namespace and
/// detaches everything else: the old root is unreachable afterwards, even
/// through "..". The working directory becomes the new "/".
pub fn pivot_into(new_root: &CStr) -> Result<(), ConfineError> {
    // SAFETY: new_root is NUL-terminated.
    if unsafe { libc::chdir(new_root.as_ptr()) } != 0 {
        return Err(path_err("chdir", new_root));
    }
    // pivot_root(".", "."): the old root ends up stacked on the new one,
    // from where it is detached without needing a directory for it.
    // SAFETY: literal paths.
    if unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) } != 0 {
        return Err(path_err("pivot_root into", new_root));
    }
    // SAFETY: literal path.
    if unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(sys_err("detaching the old root"));
    }
    // SAFETY: literal path.
    if unsafe { libc::chdir(c"/".as_ptr()) } != 0 {
        return Err(sys_err("chdir /"));
    }
    Ok(())
}

/// A path as a C string.
pub fn cpath(p: &std::path::Path) -> Result<CString, ConfineError> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| ConfineError::Path {
        step: "path",
        path: p.display().to_string(),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })
}
