//! The sentry's side of the gofer protocol: typed calls, one request in
//! flight at a time.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use std::time::Duration;

use rvisor_syscalls::abi::StatFs;
use rvisor_syscalls::Errno;
use tracing::error;

use crate::protocol::{Attr, DirEntryPlus, Fid, Request, Response, SetAttrReq, MAX_MESSAGE};
use crate::transport;

/// A connection to a gofer. Cheap to share: calls serialise on an internal lock.
pub struct GoferClient {
    conn: Mutex<Conn>,
    /// Fids dropped by the sentry, not yet released on the gofer.
    pending_release: Mutex<Vec<Fid>>,
}

/// Released fids sent per Release request.
pub const RELEASE_BATCH: usize = 64;

struct Conn {
    sock: OwnedFd,
    next_tag: u32,
    buf: Vec<u8>,
}

/// How long the sentry polls for a reply before it sleeps: a walk or an open
/// takes the gofer a few µs; a slow disk answers after the sleep.
const REPLY_POLL: Duration = Duration::from_micros(40);

impl GoferClient {
    /// Wraps a connected SOCK_SEQPACKET socket whose peer runs [`crate::serve`].
    pub fn new(sock: OwnedFd) -> GoferClient {
        GoferClient {
            conn: Mutex::new(Conn { sock, next_tag: 1, buf: vec![0; MAX_MESSAGE + 1] }),
            pending_release: Mutex::new(Vec::new()),
        }
    }

    /// Sends `req` and returns the response with the fd that came with it.
    /// Transport failures (gofer gone, garbled reply) are EIO.
    fn call(&self, req: &Request) -> Result<(Response, Option<OwnedFd>), Errno> {
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let conn = &mut *conn;
        let tag = conn.next_tag;
        conn.next_tag = conn.next_tag.wrapping_add(1);
        let bytes = req.encode(tag).map_err(|e| e.errno())?;
        transport::send(conn.sock.as_fd(), &bytes, &[]).map_err(|e| transport_error("send", &e))?;
        let msg = transport::recv_polling(conn.sock.as_fd(), &mut conn.buf, REPLY_POLL)
            .map_err(|e| transport_error("recv", &e))?;
        if msg.len == 0 {
            error!("gofer closed the connection");
            return Err(Errno::EIO);
        }
        let (got, resp) = Response::decode(&conn.buf[..msg.len]).map_err(|e| {
            error!(error = %e, "malformed gofer response");
            Errno::EIO
        })?;
        if got != tag {
            error!(sent = tag, got, "gofer response tag mismatch");
            return Err(Errno::EIO);
        }
        let mut fds = msg.fds.into_iter();
        let fd = fds.next();
        if fds.next().is_some() {
            error!("gofer sent more than one fd");
            return Err(Errno::EIO);
        }
        match resp {
            Response::Error(e) => Err(e),
            resp => Ok((resp, fd)),
        }
    }

    /// A call that must answer with a fid and attributes.
    fn node(&self, req: &Request) -> Result<(Fid, Attr), Errno> {
        match self.call(req)? {
            (Response::Node { fid, attr }, None) => Ok((fid, attr)),
            other => unexpected(other),
        }
    }

    fn ok(&self, req: &Request) -> Result<(), Errno> {
        match self.call(req)? {
            (Response::Ok, None) => Ok(()),
            other => unexpected(other),
        }
    }

    fn attr(&self, req: &Request) -> Result<Attr, Errno> {
        match self.call(req)? {
            (Response::Attr(attr), None) => Ok(attr),
            other => unexpected(other),
        }
    }

    /// A new fid for the root of the served tree.
    pub fn attach(&self) -> Result<(Fid, Attr), Errno> {
        self.node(&Request::Attach)
    }

    /// Looks up one component of directory `dir`; symlinks are not followed.
    pub fn walk(&self, dir: Fid, name: &[u8]) -> Result<(Fid, Attr), Errno> {
        self.node(&Request::Walk { fid: dir, name: name.to_vec() })
    }

    /// Opens `fid` with open(2) `flags` (access mode, O_TRUNC, O_APPEND,
    /// O_DIRECTORY) and returns the host fd.
    pub fn open(&self, fid: Fid, flags: i32) -> Result<OwnedFd, Errno> {
        match self.call(&Request::Open { fid, flags: flags as u32 })? {
            (Response::Ok, Some(fd)) => Ok(fd),
            other => unexpected(other),
        }
    }

    /// Creates and opens regular file `name` in `dir`, owned by `uid`:`gid`.
    pub fn create(
        &self,
        dir: Fid,
        name: &[u8],
        flags: i32,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<(Fid, Attr, OwnedFd), Errno> {
        let req = Request::Create { dir, name: name.to_vec(), flags: flags as u32, mode, uid, gid };
        match self.call(&req)? {
            (Response::Node { fid, attr }, Some(fd)) => Ok((fid, attr, fd)),
            other => unexpected(other),
        }
    }

    pub fn mkdir(&self, dir: Fid, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<(Fid, Attr), Errno> {
        self.node(&Request::Mkdir { dir, name: name.to_vec(), mode, uid, gid })
    }

    /// Makes a regular file, fifo or socket (type bits in `mode`).
    pub fn mknod(&self, dir: Fid, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<(Fid, Attr), Errno> {
        self.node(&Request::Mknod { dir, name: name.to_vec(), mode, uid, gid })
    }

    pub fn symlink(&self, dir: Fid, name: &[u8], target: &[u8], uid: u32, gid: u32) -> Result<(Fid, Attr), Errno> {
        self.node(&Request::Symlink { dir, name: name.to_vec(), target: target.to_vec(), uid, gid })
    }

    /// Hard-links `target` as `name` in `dir`; returns the target's new attributes.
    pub fn link(&self, dir: Fid, name: &[u8], target: Fid) -> Result<Attr, Errno> {
        self.attr(&Request::Link { dir, name: name.to_vec(), target })
    }

    /// Removes `name` from `dir`; `flags` may be [`crate::protocol::AT_REMOVEDIR`].
    pub fn unlink(&self, dir: Fid, name: &[u8], flags: u32) -> Result<(), Errno> {
        self.ok(&Request::Unlink { dir, name: name.to_vec(), flags })
    }

    /// renameat2 with RENAME_NOREPLACE / RENAME_EXCHANGE `flags`.
    pub fn rename(
        &self,
        old_dir: Fid,
        old_name: &[u8],
        new_dir: Fid,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.ok(&Request::Rename { old_dir, old_name: old_name.to_vec(), new_dir, new_name: new_name.to_vec(), flags })
    }

    pub fn readlink(&self, fid: Fid) -> Result<Vec<u8>, Errno> {
        match self.call(&Request::Readlink { fid })? {
            (Response::Target(t), None) => Ok(t),
            other => unexpected(other),
        }
    }

    pub fn stat(&self, fid: Fid) -> Result<Attr, Errno> {
        self.attr(&Request::Stat { fid })
    }

    /// Applies `change` and returns the attributes afterwards.
    pub fn setattr(&self, fid: Fid, change: &SetAttrReq) -> Result<Attr, Errno> {
        self.attr(&Request::SetAttr { fid, change: *change })
    }

    pub fn statfs(&self, fid: Fid) -> Result<StatFs, Errno> {
        match self.call(&Request::StatFs { fid })? {
            (Response::StatFs(s), None) => Ok(s),
            other => unexpected(other),
        }
    }

    /// One batch of directory `fid`'s listing from `cookie` (0: the start),
    /// with each entry's attributes; the cookie for the next batch, None at
    /// the end.
    pub fn read_dir(&self, fid: Fid, cookie: u64) -> Result<(Vec<DirEntryPlus>, Option<u64>), Errno> {
        match self.call(&Request::ReadDir { fid, cookie })? {
            (Response::Entries { entries, next }, None) => Ok((entries, next)),
            other => unexpected(other),
        }
    }

    /// Forgets `fid`. Releases are batched: the gofer hears of them
    /// [`RELEASE_BATCH`] at a time (or at [`GoferClient::flush_releases`]),
    /// so dropping a cached file costs no round trip of its own.
    pub fn release(&self, fid: Fid) -> Result<(), Errno> {
        let batch = {
            let mut pending = self.pending_release.lock().unwrap_or_else(|e| e.into_inner());
            pending.push(fid);
            if pending.len() < RELEASE_BATCH {
                return Ok(());
            }
            std::mem::take(&mut *pending)
        };
        self.ok(&Request::Release { fids: batch })
    }

    /// Sends the releases still waiting for a batch (the gofer then closes
    /// what it held for them: a deleted file's space is freed).
    pub fn flush_releases(&self) -> Result<(), Errno> {
        let batch = std::mem::take(&mut *self.pending_release.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return Ok(());
        }
        self.ok(&Request::Release { fids: batch })
    }
}

fn transport_error(what: &str, e: &std::io::Error) -> Errno {
    error!(error = %e, "gofer {what} failed");
    Errno::EIO
}

/// A well-formed response of the wrong kind for the request (any fd it
/// carried is closed when dropped here).
fn unexpected<T>(got: (Response, Option<OwnedFd>)) -> Result<T, Errno> {
    error!(response = ?got.0, with_fd = got.1.is_some(), "unexpected gofer response");
    Err(Errno::EIO)
}
