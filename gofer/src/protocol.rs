//! The gofer wire protocol: one request or response per SOCK_SEQPACKET
//! message, in a compact little-endian binary encoding.
//!
//! Every message starts with a `u32` tag that the response echoes, so a client
//! can detect a desynchronised stream. Requests then carry an opcode byte and
//! their fields; responses carry a kind byte and a payload. Byte strings are
//! `u16` length + bytes. Host fds (Open, Create) travel beside the message as
//! SCM_RIGHTS ancillary data.
//!
//! Decoding never panics: anything short, oversized, trailing or out of range
//! is a [`ProtocolError`], which maps to the errno the peer is told.

use rvisor_syscalls::abi::{StatFs, Timespec};
use rvisor_syscalls::Errno;
use thiserror::Error;

/// Longest single path component.
pub const MAX_NAME: usize = 255;
/// Longest symlink target, including the terminating NUL Linux counts.
pub const MAX_PATH: usize = 4096;
/// Upper bound on any encoded message; the largest real one is an
/// `Entries` batch, which the server fills up to this size.
pub const MAX_MESSAGE: usize = 32 * 1024;
/// Most fids one Release names.
pub const MAX_RELEASE: usize = 256;

/// `unlinkat` flag: remove a directory.
pub const AT_REMOVEDIR: u32 = libc::AT_REMOVEDIR as u32;
/// `renameat2` flags the gofer accepts.
pub const RENAME_NOREPLACE: u32 = libc::RENAME_NOREPLACE;
pub const RENAME_EXCHANGE: u32 = libc::RENAME_EXCHANGE;
/// Special `tv_nsec` values in [`SetAttrReq`] times, as for utimensat(2).
pub const UTIME_NOW: i64 = libc::UTIME_NOW;
pub const UTIME_OMIT: i64 = libc::UTIME_OMIT;

/// A node handle the server hands out; valid until released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fid(pub u64);

/// File attributes as stat(2) reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub dev: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Attr {
    /// Builds attributes from a host `struct stat`.
    pub fn from_stat(st: &libc::stat) -> Attr {
        Attr {
            ino: st.st_ino,
            dev: st.st_dev,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: st.st_size as u64,
            blksize: st.st_blksize as u64,
            blocks: st.st_blocks as u64,
            atime: Timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec },
            mtime: Timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec },
            ctime: Timespec { tv_sec: st.st_ctime, tv_nsec: st.st_ctime_nsec },
        }
    }

    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
}

/// Attribute changes: `None` leaves a field alone; a time whose `tv_nsec` is
/// [`UTIME_OMIT`] is left alone and [`UTIME_NOW`] means the current time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetAttrReq {
    /// Permission bits only (07777).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Timespec,
    pub mtime: Timespec,
}

impl Default for SetAttrReq {
    fn default() -> Self {
        let omit = Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT };
        SetAttrReq { mode: None, uid: None, gid: None, size: None, atime: omit, mtime: omit }
    }
}

/// A client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Returns a new fid for the server's root.
    Attach,
    /// Looks up one component of directory `fid`.
    Walk {
        fid: Fid,
        name: Vec<u8>,
    },
    /// Opens `fid`; the response carries the host fd.
    Open {
        fid: Fid,
        flags: u32,
    },
    /// Creates and opens regular file `name` (exclusively).
    Create {
        dir: Fid,
        name: Vec<u8>,
        flags: u32,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Mkdir {
        dir: Fid,
        name: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// Regular files, fifos and sockets only: `mode` carries the type bits.
    Mknod {
        dir: Fid,
        name: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Symlink {
        dir: Fid,
        name: Vec<u8>,
        target: Vec<u8>,
        uid: u32,
        gid: u32,
    },
    /// Makes `name` in `dir` a hard link to `target`.
    Link {
        dir: Fid,
        name: Vec<u8>,
        target: Fid,
    },
    /// `flags` may hold [`AT_REMOVEDIR`].
    Unlink {
        dir: Fid,
        name: Vec<u8>,
        flags: u32,
    },
    /// `flags` may hold [`RENAME_NOREPLACE`] or [`RENAME_EXCHANGE`].
    Rename {
        old_dir: Fid,
        old_name: Vec<u8>,
        new_dir: Fid,
        new_name: Vec<u8>,
        flags: u32,
    },
    Readlink {
        fid: Fid,
    },
    Stat {
        fid: Fid,
    },
    SetAttr {
        fid: Fid,
        change: SetAttrReq,
    },
    StatFs {
        fid: Fid,
    },
    /// Forgets fids (1 to [`MAX_RELEASE`]); the sentry batches them.
    Release {
        fids: Vec<Fid>,
    },
    /// Lists directory `fid` from `cookie` (0: the start; else a `next`
    /// of an earlier `Entries`), with each entry's attributes.
    ReadDir {
        fid: Fid,
        cookie: u64,
    },
}

/// One directory entry of an `Entries` batch ("." and ".." are left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntryPlus {
    pub ino: u64,
    /// `d_type` as getdents64 gives it.
    pub d_type: u8,
    pub name: Vec<u8>,
    /// lstat of the entry when it was listed; None if that failed (the
    /// entry went away between the listing and the stat).
    pub attr: Option<Attr>,
}

/// A server response. Which kind answers which request: Attach, Walk, Create,
/// Mkdir, Mknod, Symlink -> `Node`; Link, Stat, SetAttr -> `Attr`; Readlink ->
/// `Target`; StatFs -> `StatFs`; ReadDir -> `Entries`; Open, Unlink, Rename,
/// Release -> `Ok`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Error(Errno),
    Ok,
    Node {
        fid: Fid,
        attr: Attr,
    },
    Attr(Attr),
    Target(Vec<u8>),
    StatFs(StatFs),
    /// A batch of a directory listing; `next` is the cookie to ask for the
    /// rest with, None once the listing is complete.
    Entries {
        entries: Vec<DirEntryPlus>,
        next: Option<u64>,
    },
}

/// Why a message could not be encoded or decoded.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("message truncated")]
    Truncated,
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
    #[error("message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("unknown request opcode {0}")]
    UnknownOp(u8),
    #[error("unknown response kind {0}")]
    UnknownKind(u8),
    #[error("name longer than {MAX_NAME} bytes")]
    NameTooLong,
    #[error("path of {MAX_PATH} bytes or more")]
    PathTooLong,
    #[error("empty name or path")]
    Empty,
    #[error("name is \".\" or \"..\" or contains '/' or NUL")]
    BadName,
    #[error("invalid value in field {0}")]
    BadValue(&'static str),
}

impl ProtocolError {
    /// The errno a peer is told when its message fails this way.
    pub fn errno(&self) -> Errno {
        match self {
            ProtocolError::NameTooLong | ProtocolError::PathTooLong => Errno::ENAMETOOLONG,
            ProtocolError::Empty => Errno::ENOENT,
            ProtocolError::TooLarge => Errno::EMSGSIZE,
            ProtocolError::UnknownOp(_) => Errno::ENOSYS,
            _ => Errno::EINVAL,
        }
    }
}

/// Checks a single path component: 1..=255 bytes, not "." or "..", no '/' or NUL.
pub fn check_name(name: &[u8]) -> Result<(), ProtocolError> {
    if name.is_empty() {
        return Err(ProtocolError::Empty);
    }
    if name.len() > MAX_NAME {
        return Err(ProtocolError::NameTooLong);
    }
    if name == b"." || name == b".." || name.iter().any(|&b| b == b'/' || b == 0) {
        return Err(ProtocolError::BadName);
    }
    Ok(())
}

/// Checks a symlink target: non-empty, shorter than [`MAX_PATH`], no NUL.
pub fn check_target(target: &[u8]) -> Result<(), ProtocolError> {
    if target.is_empty() {
        return Err(ProtocolError::Empty);
    }
    if target.len() >= MAX_PATH {
        return Err(ProtocolError::PathTooLong);
    }
    if target.contains(&0) {
        return Err(ProtocolError::BadValue("target"));
    }
    Ok(())
}

fn check_time(t: &Timespec) -> Result<(), ProtocolError> {
    let ok = (0..1_000_000_000).contains(&t.tv_nsec) || t.tv_nsec == UTIME_NOW || t.tv_nsec == UTIME_OMIT;
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::BadValue("time"))
    }
}

mod wire;
pub(crate) use wire::{entry_size, ENTRIES_HEADER};

#[cfg(test)]
mod tests;
