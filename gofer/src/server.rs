//! The file server: answers requests over a SOCK_SEQPACKET socket, one at a
//! time, for the tree beneath one root directory.
//!
//! Every fid holds an O_PATH fd obtained by walking one component at a time
//! with O_NOFOLLOW (and openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
//! RESOLVE_NO_MAGICLINKS where available). So a fid always names an inode
//! beneath the root: symlinks come back as symlink nodes and are never
//! followed here; ".." and names with '/' never reach the kernel.
//!
//! Opening a fid never goes through a path that could be swapped: directories
//! reopen themselves through "." of their own O_PATH fd; other files reopen as
//! `openat(parent O_PATH fd, name, O_NOFOLLOW)` and the result must be the
//! same inode (dev, ino) as the fid, else ESTALE. Each fid therefore also
//! records where it was found, and renames and unlinks made through the server
//! keep that record current.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use rvisor_syscalls::Errno;
use tracing::{debug, warn};

use crate::protocol::{
    Attr, Fid, Request, Response, SetAttrReq, AT_REMOVEDIR, MAX_MESSAGE, RENAME_EXCHANGE, RENAME_NOREPLACE, UTIME_OMIT,
};
use crate::sys::{self, SysResult};
use crate::{transport, GoferError};

const S_IFMT: u32 = libc::S_IFMT;
const S_IFDIR: u32 = libc::S_IFDIR;
const S_IFREG: u32 = libc::S_IFREG;
const S_IFLNK: u32 = libc::S_IFLNK;

/// Opens `root_path` as the root and serves the sentry on inherited socket `sock_fd`.
pub fn run_gofer_main(root_path: &Path, readonly: bool, sock_fd: RawFd) -> Result<(), GoferError> {
    let root = open_root(root_path)?;
    // SAFETY: fcntl(F_GETFD) only checks that the fd number is open.
    if sock_fd < 0 || unsafe { libc::fcntl(sock_fd, libc::F_GETFD) } < 0 {
        return Err(GoferError::BadSocketFd(sock_fd));
    }
    // SAFETY: the launcher handed this fd to us for our exclusive use; it was
    // just checked to be open, and nothing else in this process owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(sock_fd) };
    serve(sock, root, readonly)
}

/// Opens a directory as an O_PATH root for [`serve`].
pub fn open_root(root_path: &Path) -> Result<OwnedFd, GoferError> {
    let open_err = |source| GoferError::OpenRoot { path: root_path.to_path_buf(), source };
    let c = std::ffi::CString::new(root_path.as_os_str().as_encoded_bytes())
        .map_err(|_| open_err(std::io::Error::from_raw_os_error(libc::EINVAL)))?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: c is NUL-terminated; the path is the launcher's choice of root.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(open_err(std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Serves requests on `sock` for the tree under `root` (an O_PATH|O_DIRECTORY
/// fd) until the peer closes the socket. With `readonly`, every mutation and
/// every open for writing fails with EROFS.
pub fn serve(sock: OwnedFd, root: OwnedFd, readonly: bool) -> Result<(), GoferError> {
    let st = sys::fstat(root.as_fd()).map_err(GoferError::StatRoot)?;
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(GoferError::RootNotDirectory);
    }
    let mut server = Server { root: Rc::new(root), readonly, nodes: HashMap::new(), next_fid: 1 };
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    loop {
        let msg = match transport::recv_polling(sock.as_fd(), &mut buf, REQUEST_POLL) {
            Ok(msg) => msg,
            Err(e) if peer_gone(&e) => return Ok(()),
            Err(e) => return Err(GoferError::Socket(e)),
        };
        if msg.len == 0 {
            debug!("gofer: peer closed the socket");
            return Ok(());
        }
        if !msg.fds.is_empty() {
            warn!(count = msg.fds.len(), "gofer: request carried fds; closed them");
        }
        drop(msg.fds);
        // The buffer is one byte larger than any valid message, so an
        // oversized one arrives at MAX_MESSAGE + 1 bytes and fails to decode.
        let (tag, req) = Request::decode(&buf[..msg.len]);
        let (resp, fd) = match req {
            Ok(req) => match server.handle(req) {
                Ok(ok) => ok,
                Err(e) => (Response::Error(e), None),
            },
            Err(e) => {
                warn!(error = %e, "gofer: malformed request");
                (Response::Error(e.errno()), None)
            }
        };
        let bytes = match resp.encode(tag) {
            Ok(b) => b,
            Err(e) => Response::Error(e.errno()).encode(tag).unwrap_or_default(),
        };
        let fds: Vec<_> = fd.iter().map(|f| f.as_fd()).collect();
        match transport::send(sock.as_fd(), &bytes, &fds) {
            Ok(()) => {}
            Err(e) if peer_gone(&e) => return Ok(()),
            Err(e) => return Err(GoferError::Socket(e)),
        }
    }
}

/// How long the gofer polls for the next request before it sleeps: file
/// operations come in bursts (a path walk, an import, a directory scan), and
/// a sentry that finds the gofer awake saves a cross-CPU wake-up per call.
const REQUEST_POLL: Duration = Duration::from_micros(50);

fn peer_gone(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPIPE) | Some(libc::ECONNRESET) | Some(libc::ENOTCONN))
}

/// Where a node was found: a name in a directory.
#[derive(Clone)]
struct Place {
    dir: Rc<OwnedFd>,
    /// (dev, ino) of `dir`, to match places named through other fids.
    dir_id: (u64, u64),
    name: Vec<u8>,
}

struct Node {
    /// O_PATH fd of this inode (shared with children's `Place::dir`).
    fd: Rc<OwnedFd>,
    dev: u64,
    ino: u64,
    /// File type bits; they cannot change for a pinned inode.
    kind: u32,
    /// None for the root and for nodes whose name is gone.
    place: Option<Place>,
}

impl Node {
    fn new(fd: OwnedFd, st: &libc::stat, place: Option<Place>) -> Node {
        Node { fd: Rc::new(fd), dev: st.st_dev, ino: st.st_ino, kind: st.st_mode & S_IFMT, place }
    }

    fn id(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }

    fn is(&self, st: &libc::stat) -> bool {
        self.id() == (st.st_dev, st.st_ino)
    }
}

type Reply = (Response, Option<OwnedFd>);

struct Server {
    root: Rc<OwnedFd>,
    readonly: bool,
    nodes: HashMap<u64, Node>,
    next_fid: u64,
}

impl Server {
    fn handle(&mut self, req: Request) -> SysResult<Reply> {
        if self.readonly && mutates(&req) {
            return Err(Errno::EROFS);
        }
        let node = |(fid, attr)| (Response::Node { fid, attr }, None);
        match req {
            Request::Attach => {
                let st = sys::fstat(self.root.as_fd())?;
                let n = Node { fd: self.root.clone(), dev: st.st_dev, ino: st.st_ino, kind: S_IFDIR, place: None };
                Ok(node((self.insert(n), Attr::from_stat(&st))))
            }
            Request::Walk { fid, name } => self.walk(fid, &name).map(node),
            Request::Open { fid, flags } => Ok((Response::Ok, Some(self.open(fid, flags)?))),
            Request::Create { dir, name, flags, mode, uid, gid } => {
                let (fid, attr, fd) = self.create(dir, &name, flags, mode, uid, gid)?;
                Ok((Response::Node { fid, attr }, Some(fd)))
            }
            Request::Mkdir { dir, name, mode, uid, gid } => {
                self.make(dir, &name, S_IFDIR, mode, uid, gid, |d| sys::mkdir(d, &name, mode & 0o7777)).map(node)
            }
            Request::Mknod { dir, name, mode, uid, gid } => {
                let kind = match mode & S_IFMT {
                    0 | S_IFREG => S_IFREG,
                    k @ (libc::S_IFIFO | libc::S_IFSOCK) => k,
                    _ => return Err(Errno::EPERM),
                };
                let create = |d: BorrowedFd<'_>| sys::mknod(d, &name, kind | (mode & 0o7777));
                self.make(dir, &name, kind, mode, uid, gid, create).map(node)
            }
            Request::Symlink { dir, name, target, uid, gid } => {
                self.make(dir, &name, S_IFLNK, 0, uid, gid, |d| sys::symlink(d, &name, &target)).map(node)
            }
            Request::Link { dir, name, target } => self.link(dir, &name, target).map(|a| (Response::Attr(a), None)),
            Request::Unlink { dir, name, flags } => {
                if flags & !AT_REMOVEDIR != 0 {
                    return Err(Errno::EINVAL);
                }
                let at = self.place_in(dir, &name)?;
                sys::unlink(at.dir.as_fd(), &name, flags as i32)?;
                self.relocate(&[at]);
                Ok((Response::Ok, None))
            }
            Request::Rename { old_dir, old_name, new_dir, new_name, flags } => {
                if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0 {
                    return Err(Errno::EINVAL);
                }
                let (from, to) = (self.place_in(old_dir, &old_name)?, self.place_in(new_dir, &new_name)?);
                sys::rename(from.dir.as_fd(), &old_name, to.dir.as_fd(), &new_name, flags)?;
                self.relocate(&[to, from]);
                Ok((Response::Ok, None))
            }
            Request::Readlink { fid } => {
                let n = self.node(fid)?;
                if n.kind != S_IFLNK {
                    return Err(Errno::EINVAL);
                }
                Ok((Response::Target(sys::readlink(n.fd.as_fd())?), None))
            }
            Request::Stat { fid } => Ok((Response::Attr(self.stat(fid)?), None)),
            Request::SetAttr { fid, change } => {
                self.setattr(fid, &change)?;
                Ok((Response::Attr(self.stat(fid)?), None))
            }
            Request::StatFs { fid } => Ok((Response::StatFs(sys::fstatfs(self.node(fid)?.fd.as_fd())?), None)),
            Request::ReadDir { fid, cookie } => {
                let (entries, next) = crate::listing::list(self.dir(fid)?.fd.as_fd(), cookie)?;
                Ok((Response::Entries { entries, next }, None))
            }
            Request::Release { fids } => {
                // Every known fid goes, even if another in the batch is unknown.
                let unknown = fids.iter().filter(|f| self.nodes.remove(&f.0).is_none()).count();
                if unknown > 0 {
                    return Err(Errno::EBADF);
                }
                Ok((Response::Ok, None))
            }
        }
    }

    fn insert(&mut self, node: Node) -> Fid {
        let fid = self.next_fid;
        self.next_fid += 1;
        self.nodes.insert(fid, node);
        Fid(fid)
    }

    fn node(&self, fid: Fid) -> SysResult<&Node> {
        self.nodes.get(&fid.0).ok_or(Errno::EBADF)
    }

    fn dir(&self, fid: Fid) -> SysResult<&Node> {
        let n = self.node(fid)?;
        if n.kind != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok(n)
    }

    fn stat(&self, fid: Fid) -> SysResult<Attr> {
        Ok(Attr::from_stat(&sys::fstat(self.node(fid)?.fd.as_fd())?))
    }

    /// Looks up `name` in `dir` without following it, as a new fid.
    fn walk(&mut self, dir: Fid, name: &[u8]) -> SysResult<(Fid, Attr)> {
        let d = self.dir(dir)?;
        let fd = sys::walk(d.fd.as_fd(), name)?;
        let st = sys::fstat(fd.as_fd())?;
        let place = Place { dir: d.fd.clone(), dir_id: d.id(), name: name.to_vec() };
        Ok((self.insert(Node::new(fd, &st, Some(place))), Attr::from_stat(&st)))
    }

    fn open(&self, fid: Fid, flags: u32) -> SysResult<OwnedFd> {
        let flags = i32::try_from(flags).map_err(|_| Errno::EINVAL)?;
        let acc = flags & libc::O_ACCMODE;
        // O_TMPFILE includes O_DIRECTORY's bit: test its own bit.
        let tmpfile = libc::O_TMPFILE & !libc::O_DIRECTORY;
        if acc == libc::O_ACCMODE || flags & (libc::O_CREAT | libc::O_EXCL | libc::O_PATH | tmpfile) != 0 {
            return Err(Errno::EINVAL);
        }
        let trunc = flags & libc::O_TRUNC != 0;
        if self.readonly && (acc != libc::O_RDONLY || trunc) {
            return Err(Errno::EROFS);
        }
        let node = self.node(fid)?;
        match node.kind {
            S_IFDIR if acc != libc::O_RDONLY || trunc => Err(Errno::EISDIR),
            S_IFDIR => sys::open_dir_itself(node.fd.as_fd()),
            _ if flags & libc::O_DIRECTORY != 0 => Err(Errno::ENOTDIR),
            S_IFLNK => Err(Errno::ELOOP),
            // No host devices through the gofer: the sandbox's /dev is synthetic.
            libc::S_IFCHR | libc::S_IFBLK => Err(Errno::EACCES),
            libc::S_IFSOCK => Err(Errno::ENXIO),
            // A fifo must not block the single-threaded server.
            libc::S_IFIFO => reopen(node, acc | libc::O_NONBLOCK),
            _ => {
                let fd = reopen(node, acc | (flags & libc::O_APPEND))?;
                // Truncate only after the identity check, never by open flag.
                if trunc {
                    sys::ftruncate(fd.as_fd(), 0)?;
                }
                Ok(fd)
            }
        }
    }

    fn create(
        &mut self,
        dir: Fid,
        name: &[u8],
        flags: u32,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<(Fid, Attr, OwnedFd)> {
        let flags = i32::try_from(flags).map_err(|_| Errno::EINVAL)?;
        let acc = flags & libc::O_ACCMODE;
        if acc == libc::O_ACCMODE || !matches!(mode & S_IFMT, 0 | S_IFREG) {
            return Err(Errno::EINVAL);
        }
        let perm = mode & 0o7777;
        let place = self.place_in(dir, name)?;
        // O_EXCL: never opens an existing file or a symlink's target.
        let open_flags = acc | (flags & libc::O_APPEND) | libc::O_CREAT | libc::O_EXCL;
        let fd = sys::open_child(place.dir.as_fd(), name, open_flags, perm)?;
        let st = sys::fstat(fd.as_fd())?;
        let node = self.finish_make(place, S_IFREG, &st, uid, gid, perm)?;
        let attr = Attr::from_stat(&sys::fstat(fd.as_fd())?);
        Ok((self.insert(node), attr, fd))
    }

    /// Shared part of mkdir, mknod and symlink: `make` creates the entry.
    #[allow(clippy::too_many_arguments)]
    fn make(
        &mut self,
        dir: Fid,
        name: &[u8],
        kind: u32,
        perm: u32,
        uid: u32,
        gid: u32,
        make: impl FnOnce(BorrowedFd<'_>) -> SysResult<()>,
    ) -> SysResult<(Fid, Attr)> {
        let place = self.place_in(dir, name)?;
        make(place.dir.as_fd())?;
        let st = sys::stat_child(place.dir.as_fd(), name)?;
        let node = self.finish_make(place, kind, &st, uid, gid, perm & 0o7777)?;
        let attr = Attr::from_stat(&sys::fstat(node.fd.as_fd())?);
        Ok((self.insert(node), attr))
    }

    fn place_in(&self, dir: Fid, name: &[u8]) -> SysResult<Place> {
        let d = self.dir(dir)?;
        Ok(Place { dir: d.fd.clone(), dir_id: d.id(), name: name.to_vec() })
    }

    /// Walks to an entry this request just created (`created`: its stat),
    /// checks it is still that inode of type `kind`, and gives it the
    /// caller's owner and mode; on failure removes it again.
    fn finish_make(
        &self,
        place: Place,
        kind: u32,
        created: &libc::stat,
        uid: u32,
        gid: u32,
        perm: u32,
    ) -> SysResult<Node> {
        let fd = sys::walk(place.dir.as_fd(), &place.name)?;
        let st = sys::fstat(fd.as_fd())?;
        let node = Node::new(fd, &st, Some(place));
        if node.kind != kind || !node.is(created) {
            // Replaced from outside the sandbox in between: not ours to remove.
            return Err(Errno::ESTALE);
        }
        if let Err(e) = set_owner_and_mode(&node, &st, uid, gid, perm) {
            if let Some(place) = &node.place {
                let flags = if kind == S_IFDIR { libc::AT_REMOVEDIR } else { 0 };
                if sys::stat_child(place.dir.as_fd(), &place.name).is_ok_and(|now| node.is(&now)) {
                    let _ = sys::unlink(place.dir.as_fd(), &place.name, flags);
                }
            }
            return Err(e);
        }
        Ok(node)
    }

    fn link(&self, dir: Fid, name: &[u8], target: Fid) -> SysResult<Attr> {
        let t = self.node(target)?;
        if t.kind == S_IFDIR {
            return Err(Errno::EPERM);
        }
        let d = self.dir(dir)?;
        match sys::link_empty_path(t.fd.as_fd(), d.fd.as_fd(), name) {
            Ok(()) => {}
            // Without CAP_DAC_READ_SEARCH: link by name, then check we linked the right inode.
            Err(e) if e == Errno::ENOENT || e == Errno::EPERM => {
                let place = t.place.as_ref().ok_or(e)?;
                sys::link_child(place.dir.as_fd(), &place.name, d.fd.as_fd(), name)?;
                let st = sys::stat_child(d.fd.as_fd(), name)?;
                if !t.is(&st) {
                    let _ = sys::unlink(d.fd.as_fd(), name, 0);
                    return Err(Errno::ESTALE);
                }
            }
            Err(e) => return Err(e),
        }
        Ok(Attr::from_stat(&sys::fstat(t.fd.as_fd())?))
    }

    fn setattr(&self, fid: Fid, change: &SetAttrReq) -> SysResult<()> {
        let node = self.node(fid)?;
        if change.mode.is_some_and(|m| m & !0o7777 != 0) {
            return Err(Errno::EINVAL);
        }
        // Size first, then owner (which may clear set-id bits), then an
        // explicit mode, then times last so nothing bumps them afterwards.
        if let Some(size) = change.size {
            match node.kind {
                S_IFDIR => return Err(Errno::EISDIR),
                S_IFREG => sys::ftruncate(reopen(node, libc::O_WRONLY)?.as_fd(), size)?,
                _ => return Err(Errno::EINVAL),
            }
        }
        if change.uid.is_some() || change.gid.is_some() {
            sys::chown(node.fd.as_fd(), change.uid.unwrap_or(u32::MAX), change.gid.unwrap_or(u32::MAX))?;
        }
        if let Some(perm) = change.mode {
            chmod_node(node, perm)?;
        }
        if change.atime.tv_nsec != UTIME_OMIT || change.mtime.tv_nsec != UTIME_OMIT {
            sys::utimens(node.fd.as_fd(), change.atime, change.mtime)?;
        }
        Ok(())
    }

    /// After an unlink or rename touching `places`, points every node that
    /// was at one of them at wherever its inode now is among them, or nowhere.
    fn relocate(&mut self, places: &[Place]) {
        let same = |a: &Place, b: &Place| a.dir_id == b.dir_id && a.name == b.name;
        for node in self.nodes.values_mut() {
            let Some(at) = &node.place else { continue };
            if !places.iter().any(|p| same(p, at)) {
                continue;
            }
            let id = node.id();
            node.place = places
                .iter()
                .find(|p| sys::stat_child(p.dir.as_fd(), &p.name).is_ok_and(|st| (st.st_dev, st.st_ino) == id))
                .cloned();
        }
    }
}

/// Whether a request changes the tree (refused on a read-only server).
fn mutates(req: &Request) -> bool {
    matches!(
        req,
        Request::Create { .. }
            | Request::Mkdir { .. }
            | Request::Mknod { .. }
            | Request::Symlink { .. }
            | Request::Link { .. }
            | Request::Unlink { .. }
            | Request::Rename { .. }
            | Request::SetAttr { .. }
    )
}

/// Opens a non-directory node through its parent without following links,
/// and checks the result is the node's own inode.
fn reopen(node: &Node, flags: i32) -> SysResult<OwnedFd> {
    let place = node.place.as_ref().ok_or(Errno::ENOENT)?;
    let fd = sys::open_child(place.dir.as_fd(), &place.name, flags, 0)?;
    if !node.is(&sys::fstat(fd.as_fd())?) {
        return Err(Errno::ESTALE);
    }
    Ok(fd)
}

/// chmod of exactly a node's inode: fchmodat2 on its O_PATH fd where the
/// kernel has it, else through "." for directories or an opened fd for
/// regular files; other types have no race-free fallback.
fn chmod_node(node: &Node, perm: u32) -> SysResult<()> {
    match sys::chmod_empty_path(node.fd.as_fd(), perm) {
        Err(e) if e == Errno::ENOSYS => {}
        other => return other,
    }
    match node.kind {
        S_IFDIR => sys::chmod_dir_itself(node.fd.as_fd(), perm),
        S_IFREG => sys::fchmod(reopen(node, libc::O_RDONLY | libc::O_NONBLOCK)?.as_fd(), perm),
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// Gives a freshly created node the requested owner, then restores the
/// requested permission bits (umask and chown may have changed them).
fn set_owner_and_mode(node: &Node, st: &libc::stat, uid: u32, gid: u32, perm: u32) -> SysResult<()> {
    if (st.st_uid, st.st_gid) != (uid, gid) {
        sys::chown(node.fd.as_fd(), uid, gid)?;
    }
    if node.kind == S_IFLNK {
        return Ok(());
    }
    if sys::fstat(node.fd.as_fd())?.st_mode & 0o7777 != perm {
        chmod_node(node, perm)?;
    }
    Ok(())
}
