//! rvisor's gofer: the only process that opens host paths. It serves one
//! directory tree to the sentry over a unix SOCK_SEQPACKET socket with an
//! fd-based protocol ([`protocol`]) and donates opened host fds.
//!
//! [`server`] is the gofer process's side, [`client::GoferClient`] the sentry's.

pub mod client;
mod listing;
pub mod protocol;
pub mod server;
mod sys;
pub mod transport;

use std::os::fd::RawFd;
use std::path::PathBuf;

pub use client::GoferClient;
pub use protocol::{Attr, DirEntryPlus, Fid, SetAttrReq};
pub use server::{open_root, run_gofer_main, serve};

/// Why the gofer server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum GoferError {
    #[error("cannot open gofer root {path}: {source}")]
    OpenRoot { path: PathBuf, source: std::io::Error },
    #[error("cannot stat gofer root: {0}")]
    StatRoot(rvisor_syscalls::Errno),
    #[error("gofer root is not a directory")]
    RootNotDirectory,
    #[error("gofer socket fd {0} is not open")]
    BadSocketFd(RawFd),
    #[error("gofer socket: {0}")]
    Socket(#[source] std::io::Error),
}
