//! File system implementations mounted into the VFS.

pub mod dev;
pub mod gofer;
pub mod overlay;
pub mod tmpfs;
