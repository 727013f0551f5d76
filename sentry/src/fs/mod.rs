//! File system implementations mounted into the VFS.

pub mod dev;
pub mod gofer;
pub mod host;
pub mod overlay;
pub mod pipe;
pub mod proc;
pub mod pty;
pub mod reopen;
pub mod socket;
pub mod sys;
pub mod tmpfs;
pub mod tty;
