//! Running from a sealed memfd: the runc CVE-2019-5736 mitigation.
//!
//! A process inside a container that can open its runtime's
//! /proc/PID/exe could overwrite the runtime binary on the host. rvisor
//! copies itself into a memfd, seals it against every change, and
//! re-executes from it before it starts any sandbox: /proc/PID/exe of every
//! rvisor process then names an immutable, anonymous copy.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use super::{sys_err, ConfineError};

const SEALS: libc::c_int = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

fn owned(fd: libc::c_int, step: &'static str) -> Result<OwnedFd, ConfineError> {
    if fd < 0 {
        return Err(sys_err(step));
    }
    // SAFETY: fd is fresh and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_self_exe() -> Result<OwnedFd, ConfineError> {
    // SAFETY: literal path.
    owned(unsafe { libc::open(c"/proc/self/exe".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "open /proc/self/exe")
}

/// True when the running binary is a memfd carrying all of [`SEALS`].
pub fn is_sealed() -> Result<bool, ConfineError> {
    let exe = open_self_exe()?;
    // SAFETY: fcntl on our own fd; EINVAL for files that cannot be sealed.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    Ok(seals >= 0 && seals & SEALS == SEALS)
}

/// A sealed memfd holding a copy of the running binary.
pub fn sealed_copy() -> Result<OwnedFd, ConfineError> {
    let exe = open_self_exe()?;
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: literal name; flags are constants.
    let mem = owned(unsafe { libc::memfd_create(c"rvisor".as_ptr(), flags) }, "memfd_create")?;
    loop {
        // SAFETY: both fds are ours; a NULL offset uses and advances the file offset.
        let n = unsafe { libc::sendfile(mem.as_raw_fd(), exe.as_raw_fd(), std::ptr::null_mut(), 1 << 30) };
        match n {
            0 => break,
            n if n > 0 => {}
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => return Err(sys_err("copying the binary into a memfd")),
        }
    }
    // SAFETY: fcntl on our own memfd.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(sys_err("sealing the memfd"));
    }
    Ok(mem)
}

/// Returns at once when already running from a sealed memfd; otherwise
/// re-executes the same command line from a sealed copy (and returns only
/// on failure). Call it first thing, while single-threaded.
pub fn ensure() -> Result<(), ConfineError> {
    if is_sealed()? {
        return Ok(());
    }
    let mem = sealed_copy()?;
    let to_c = |s: OsString| CString::new(s.into_vec()).map_err(|_| ConfineError::Other("NUL in an argument".into()));
    let args = std::env::args_os().map(to_c).collect::<Result<Vec<_>, _>>()?;
    let env = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            to_c(kv)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of C strings that
    // outlive the call; the empty path with AT_EMPTY_PATH names the memfd.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            mem.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(sys_err("re-executing from the sealed memfd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_sealed_and_identical() {
        let mem = sealed_copy().unwrap();
        let orig = std::fs::read("/proc/self/exe").unwrap();
        let copy = std::fs::read(format!("/proc/self/fd/{}", mem.as_raw_fd())).unwrap();
        assert!(orig == copy, "the memfd differs from the binary");
        // SAFETY: fcntl and write on our own memfd.
        unsafe {
            assert_eq!(libc::fcntl(mem.as_raw_fd(), libc::F_GET_SEALS) & SEALS, SEALS);
            assert_eq!(libc::write(mem.as_raw_fd(), b"x".as_ptr().cast(), 1), -1);
            assert_eq!(libc::ftruncate(mem.as_raw_fd(), 0), -1);
        }
        assert!(!is_sealed().unwrap(), "the test binary itself is a plain file");
    }
}
