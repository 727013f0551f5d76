//! Terminals: a pty pair for a container process, whose master goes to the
//! engine over its --console-socket (SCM_RIGHTS), as runc sends it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("allocating a pty: {0}")]
    Pty(nix::Error),
    #[error("console socket {path}: {source}")]
    Socket { path: String, source: std::io::Error },
}

/// A pty: the master for the engine, the slave for the container's stdio.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

pub fn open_pty() -> Result<Pty, ConsoleError> {
    let p = nix::pty::openpty(None, None).map_err(ConsoleError::Pty)?;
    for fd in [&p.master, &p.slave] {
        // SAFETY: sets FD_CLOEXEC on a descriptor we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(Pty { master: p.master, slave: p.slave })
}

/// Sends `master` over the unix socket at `path`.
pub fn send_master(path: &Path, master: &OwnedFd) -> Result<(), ConsoleError> {
    let err = |source| ConsoleError::Socket { path: path.display().to_string(), source };
    let sock = UnixStream::connect(path).map_err(err)?;
    rvisor_sentry::control::wire::send_raw(sock.as_fd(), b"/dev/ptmx", &[master.as_fd()]).map_err(err)
}
