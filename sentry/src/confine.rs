//! What the sentry needs from its launcher to run confined.
//!
//! The sentry opens no host path once the app runs: the launcher (rvisor do,
//! or the OCI runtime) pivots it into an empty root and installs a seccomp
//! filter that allows `openat` only relative to one pre-opened procfs
//! directory. The few host files the sentry still needs are reached through
//! [`open_host_proc`]: `self/fd/N` (a new open file description of one of its
//! own fds: read-only shared mmaps, FIFO ends) and `PID/maps` of its tracees.
//!
//! [`set_after_start`] registers the last confinement step (seccomp), which
//! boot runs once the init process exists: app processes are forked from the
//! sentry and must not inherit the sentry's filter.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock};

use rvisor_syscalls::Errno;

static HOST_PROC: OnceLock<OwnedFd> = OnceLock::new();

/// The host's /proc/cpuinfo, read before confinement: the sentry's own
/// procfs shows only pid directories (`subset=pid`).
static HOST_CPUINFO: OnceLock<Vec<u8>> = OnceLock::new();

/// A late confinement step, run by boot after the init process started.
pub type AfterStart = Box<dyn FnOnce() -> Result<(), String> + Send>;

static AFTER_START: Mutex<Option<AfterStart>> = Mutex::new(None);

/// Hands the sentry a directory fd of a procfs mounted for the sentry's pid
/// namespace. Must be called before boot; a second call is refused.
pub fn set_host_proc(dir: OwnedFd) -> Result<(), OwnedFd> {
    HOST_PROC.set(dir)
}

/// The procfs directory fd (opening the host's /proc on first use when the
/// launcher gave none: unconfined runs and unit tests).
pub fn host_proc_fd() -> Result<RawFd, Errno> {
    if let Some(fd) = HOST_PROC.get() {
        return Ok(fd.as_raw_fd());
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: literal NUL-terminated path; the result is checked.
    let r = unsafe { libc::open(c"/proc".as_ptr(), flags) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: r is a fresh fd we own. If another thread won the race, ours is dropped.
    let _ = HOST_PROC.set(unsafe { OwnedFd::from_raw_fd(r) });
    HOST_PROC.get().map(|f| f.as_raw_fd()).ok_or(Errno::EBADF)
}

/// Opens `rel` (e.g. `self/fd/7`, `1234/maps`) beneath the procfs directory.
/// Never creates or truncates: the sentry's seccomp filter refuses both.
pub fn open_host_proc(rel: &str, flags: i32) -> Result<OwnedFd, Errno> {
    let dir = host_proc_fd()?;
    let path = CString::new(rel).map_err(|_| Errno::EINVAL)?;
    let flags = (flags & !(libc::O_CREAT | libc::O_TRUNC)) | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: path is NUL-terminated; dir is a valid directory fd we keep open.
    let r = unsafe { libc::openat(dir, path.as_ptr(), flags) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: r is a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Reads a whole file beneath the procfs directory.
pub fn read_host_proc(rel: &str) -> Result<Vec<u8>, Errno> {
    let fd = open_host_proc(rel, libc::O_RDONLY)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        // SAFETY: buf is writable for its length; fd is open.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Ok(out),
            n if n > 0 => out.extend_from_slice(&buf[..n as usize]),
            _ if Errno::last() == Errno::EINTR => {}
            _ => return Err(Errno::last()),
        }
    }
}

/// Reads the global host /proc files the sandbox's /proc shows (cpuinfo)
/// while the host's /proc is still reachable. Call before confinement.
pub fn preload_host_files() {
    if let Ok(c) = std::fs::read("/proc/cpuinfo") {
        let _ = HOST_CPUINFO.set(c);
    }
}

/// The host's /proc/cpuinfo: preloaded, else read now (unconfined runs).
pub fn host_cpuinfo() -> Result<Vec<u8>, Errno> {
    match HOST_CPUINFO.get() {
        Some(c) => Ok(c.clone()),
        None => read_host_proc("cpuinfo"),
    }
}

/// Registers the step boot runs once the sandbox's init process exists
/// (replacing any earlier one).
pub fn set_after_start(step: AfterStart) {
    *AFTER_START.lock().unwrap_or_else(|e| e.into_inner()) = Some(step);
}

/// Runs the registered step, if any (called once by boot).
pub fn run_after_start() -> Result<(), String> {
    let step = AFTER_START.lock().unwrap_or_else(|e| e.into_inner()).take();
    match step {
        Some(f) => f(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopens_own_fd_read_only_through_proc() {
        let mut p = [0; 2];
        // SAFETY: p is a valid 2-element array.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds are fresh and ours.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        // Reopening the write end read-only through /proc gives a read end of the same pipe.
        let r2 = open_host_proc(&format!("self/fd/{}", w.as_raw_fd()), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
        // SAFETY: writes one byte from a valid buffer.
        assert_eq!(unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) }, 1);
        let mut b = [0u8; 1];
        // SAFETY: reads one byte into a valid buffer.
        assert_eq!(unsafe { libc::read(r2.as_raw_fd(), b.as_mut_ptr().cast(), 1) }, 1);
        assert_eq!(&b, b"x");
        drop(r);
        assert!(read_host_proc("self/maps").unwrap().len() > 100);
        assert_eq!(open_host_proc("no/such", libc::O_RDONLY).unwrap_err(), Errno::ENOENT);
    }
}
