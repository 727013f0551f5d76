//! The CLI's side of the control socket.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::proto::{Request, Response};
use super::wire;

/// Why a control request failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot reach the sandbox at {path}: {source}")]
    Connect { path: String, source: std::io::Error },
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("the sandbox closed the connection")]
    Closed,
    #[error("{0}")]
    Sandbox(String),
}

/// A connection to one sandbox.
pub struct Client {
    sock: OwnedFd,
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, ControlError> {
        let sock =
            wire::connect(path).map_err(|source| ControlError::Connect { path: path.display().to_string(), source })?;
        Ok(Client { sock })
    }

    /// Sends `req` (with `fds`) and returns the first answer; `Error` answers become errors.
    pub fn call(&self, req: &Request, fds: &[BorrowedFd<'_>]) -> Result<Response, ControlError> {
        wire::send(self.sock.as_fd(), req, fds)?;
        self.next()
    }

    /// The connection's fd, to poll for an answer.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.sock)
    }

    /// The next answer on this connection.
    pub fn next(&self) -> Result<Response, ControlError> {
        match wire::recv::<Response>(self.sock.as_fd())? {
            None => Err(ControlError::Closed),
            Some((Response::Error { msg }, _)) => Err(ControlError::Sandbox(msg)),
            Some((r, _)) => Ok(r),
        }
    }
}
