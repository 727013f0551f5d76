//! The gofer-backed file system: every inode is a fid on the gofer, and
//! opening a file gets a host fd donated by the gofer that the sentry then
//! reads and writes directly (no round trip per I/O).
//!
//! Attributes from Walk/Stat are cached per inode and validated by a
//! per-mount generation counter that every change made through the mount
//! bumps: after a change, each inode refetches once. Files open for writing
//! change size and times without the gofer hearing of it, so while an inode
//! has writers its attributes are always refetched, and closing a writer
//! bumps the generation.
//!
//! On a read-only mount (the host root under `rvisor do`'s overlay, read-only
//! binds) nothing changes through the mount, so failed lookups are cached
//! too: a program probing search paths (the dynamic linker, Python's import
//! system, a shell's PATH) asks the gofer once per missing name. Changes the
//! host makes behind the sandbox's back are not seen, as for attributes.
//!
//! A directory listing comes with every entry's attributes ([`listing`]):
//! until the mount's generation moves, a lookup of a listed name needs no
//! walk (the inode gets its fid when something first needs one) and an
//! unlisted name is missing.

use std::any::Any;
use std::collections::HashSet;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rvisor_gofer::protocol::{self, Fid, SetAttrReq, AT_REMOVEDIR, UTIME_NOW, UTIME_OMIT};
use rvisor_gofer::GoferClient;

use crate::fs::host::HostFile;
use crate::vfs::{
    Attr, CreateArgs, DirEntry, Errno, FileOps, FsCreds, Inode, SetAttr, StatFs, TimeSet, Timespec, VfsResult, S_IFBLK,
    S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
};

mod listing;

use listing::{Listed, Listing};

const S_ISGID: u32 = 0o2000;

/// State shared by the inodes of one gofer mount.
pub struct GoferFs {
    client: Arc<GoferClient>,
    /// Bumped after every change made through this mount.
    generation: AtomicU64,
    /// The gofer serves this tree read-only: failed lookups may be cached.
    readonly: bool,
}

impl GoferFs {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Records a change that started when the generation was `before`.
    /// Returns the new generation if no other change overlapped it, i.e. if
    /// attributes the change returned may be cached as current.
    fn changed(&self, before: u64) -> Option<u64> {
        let prev = self.generation.fetch_add(1, Ordering::AcqRel);
        (prev == before).then_some(prev + 1)
    }
}

/// Attaches to the gofer's root and returns it as the root inode of a mount;
/// `readonly` says the gofer serves it read-only.
pub fn new_root(client: Arc<GoferClient>, readonly: bool) -> VfsResult<Arc<dyn Inode>> {
    let fs = Arc::new(GoferFs { client, generation: AtomicU64::new(0), readonly });
    let (fid, attr) = fs.client.attach()?;
    Ok(GoferInode::new(fs, fid, attr, Some(0)))
}

/// A file or directory on the gofer.
pub struct GoferInode {
    fs: Arc<GoferFs>,
    /// The node on the gofer: set at creation, or at the first need of an
    /// inode made from a listing.
    fid: OnceLock<Fid>,
    /// Where an inode made from a listing was listed (its directory and
    /// name), to walk when it first needs a fid; None for walked inodes.
    origin: Option<(Arc<GoferInode>, Vec<u8>)>,
    /// This inode, for the children made from its listing.
    me: Weak<GoferInode>,
    /// File type bits; fixed for the life of the fid.
    kind: u32,
    /// Cached attributes and the generation they are valid for.
    cache: Mutex<(Attr, Option<u64>)>,
    /// Open writable files of this inode.
    writers: Arc<AtomicUsize>,
    /// Symlink target, read once (a symlink's text never changes).
    target: OnceLock<Vec<u8>>,
    /// A read-only host fd kept by the recent-fd cache, so repeated read-only
    /// opens skip the gofer round trip.
    ro_fd: Mutex<std::sync::Weak<OwnedFd>>,
    /// Names known to be missing from this directory (read-only mounts).
    missing: Mutex<HashSet<Vec<u8>>>,
    /// The directory's last complete listing, with attributes.
    listing: Mutex<Option<Listing>>,
    /// Live inodes made from that listing that may not have walked yet, by
    /// name: a change through the mount to one of these names walks them
    /// first, so that they keep naming the node they were listed as.
    listed_children: Mutex<std::collections::HashMap<Vec<u8>, Weak<GoferInode>>>,
}

/// Most missing names remembered per directory; past it the set starts over.
const MAX_MISSING: usize = 512;

/// Most recently opened read-only host fds, kept open (bounded so the
/// sentry never hoards descriptors).
const RO_FD_CACHE: usize = 256;
static RO_FDS: Mutex<std::collections::VecDeque<Arc<OwnedFd>>> = Mutex::new(std::collections::VecDeque::new());

fn remember_ro_fd(fd: &Arc<OwnedFd>) {
    let mut q = RO_FDS.lock().unwrap_or_else(|e| e.into_inner());
    if q.len() >= RO_FD_CACHE {
        q.pop_front();
    }
    q.push_back(fd.clone());
}

impl GoferInode {
    /// An inode for a walked (or created) node.
    fn new(fs: Arc<GoferFs>, fid: Fid, attr: protocol::Attr, valid_for: Option<u64>) -> Arc<GoferInode> {
        Self::build(fs, OnceLock::from(fid), None, attr, valid_for)
    }

    /// An inode for entry `name` of directory `dir`'s listing: no fid yet.
    fn from_listing(dir: Arc<GoferInode>, name: &[u8], attr: protocol::Attr, gen: u64) -> Arc<GoferInode> {
        let children = &dir.listed_children;
        let child = Self::build(dir.fs.clone(), OnceLock::new(), Some((dir.clone(), name.to_vec())), attr, Some(gen));
        children.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_vec(), Arc::downgrade(&child));
        child
    }

    /// Walks the live inode listed as `name` here, if it has not walked
    /// yet: called before `name` is renamed, replaced or removed through
    /// the mount, after which a walk by that name would find another node
    /// or none.
    fn bind_listed(&self, name: &[u8]) {
        let child = self.listed_children.lock().unwrap_or_else(|e| e.into_inner()).get(name).and_then(Weak::upgrade);
        if let Some(c) = child {
            // A node already gone fails the change itself.
            let _ = c.fid();
        }
    }

    fn build(
        fs: Arc<GoferFs>,
        fid: OnceLock<Fid>,
        origin: Option<(Arc<GoferInode>, Vec<u8>)>,
        attr: protocol::Attr,
        valid_for: Option<u64>,
    ) -> Arc<GoferInode> {
        let attr = to_vfs_attr(&attr);
        Arc::new_cyclic(|me| GoferInode {
            fs,
            fid,
            origin,
            me: me.clone(),
            kind: attr.mode & S_IFMT,
            cache: Mutex::new((attr, valid_for)),
            writers: Arc::new(AtomicUsize::new(0)),
            target: OnceLock::new(),
            ro_fd: Mutex::new(Weak::new()),
            missing: Mutex::new(HashSet::new()),
            listing: Mutex::new(None),
            listed_children: Mutex::new(Default::default()),
        })
    }

    /// The node's fid, walking to it first if this inode came from a
    /// listing. A node replaced by one of another type since it was listed
    /// (by the host) is ESTALE.
    fn fid(&self) -> VfsResult<Fid> {
        if let Some(fid) = self.fid.get() {
            return Ok(*fid);
        }
        let (dir, name) = self.origin.as_ref().ok_or(Errno::EIO)?;
        let gen = self.fs.generation();
        let (fid, attr) = dir.walk(name)?;
        if attr.mode & S_IFMT != self.kind {
            let _ = self.client().release(fid);
            return Err(Errno::ESTALE);
        }
        if self.fid.set(fid).is_err() {
            // Another task walked it first: keep theirs.
            let _ = self.client().release(fid);
        } else {
            self.store(to_vfs_attr(&attr), Some(gen));
        }
        self.fid.get().copied().ok_or(Errno::EIO)
    }

    /// Walks to child `name`: a new fid and its attributes.
    fn walk(&self, name: &[u8]) -> VfsResult<(Fid, protocol::Attr)> {
        let fid = self.fid()?;
        match self.client().walk(fid, name) {
            // Every cached file holds a gofer fd: give some back and retry.
            Err(e) if e == Errno::EMFILE || e == Errno::ENFILE => {
                crate::vfs::dentry::reclaim::shrink();
                let _ = self.client().flush_releases();
                self.client().walk(fid, name)
            }
            other => other,
        }
    }

    fn client(&self) -> &GoferClient {
        &self.fs.client
    }

    fn store(&self, attr: Attr, valid_for: Option<u64>) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = (attr, valid_for);
    }

    /// Runs a change on the gofer that yields a new child, and wraps it.
    fn make_child(
        &self,
        f: impl FnOnce(&GoferClient) -> VfsResult<(Fid, protocol::Attr)>,
    ) -> VfsResult<Arc<dyn Inode>> {
        let before = self.fs.generation();
        let res = f(self.client());
        let valid = self.fs.changed(before);
        let (fid, attr) = res?;
        Ok(GoferInode::new(self.fs.clone(), fid, attr, valid))
    }

    /// Runs a change on the gofer that returns nothing.
    fn change(&self, f: impl FnOnce(&GoferClient) -> VfsResult<()>) -> VfsResult<()> {
        let before = self.fs.generation();
        let res = f(self.client());
        self.fs.changed(before);
        res
    }

    /// Owner and mode of a new child made by `creds`, with set-group-ID
    /// directory inheritance (the gofer sets ownership explicitly, so the
    /// host kernel's own inheritance would be overridden).
    fn new_owner(&self, creds: &FsCreds, mode: u32) -> VfsResult<(u32, u32, u32)> {
        let dir = self.attr()?;
        let (mut gid, mut mode) = (creds.gid, mode);
        if dir.mode & S_ISGID != 0 {
            gid = dir.gid;
            if mode & S_IFMT == S_IFDIR {
                mode |= S_ISGID;
            }
        }
        if mode & S_IFMT != S_IFDIR && mode & S_ISGID != 0 && creds.uid != 0 && !creds.in_group(gid) {
            mode &= !S_ISGID;
        }
        Ok((creds.uid, gid, mode))
    }

    /// Wraps a host fd the gofer opened for this inode with `acc` access.
    fn file_for(&self, fd: OwnedFd, acc: i32) -> Arc<dyn FileOps> {
        if acc == libc::O_RDONLY {
            return Arc::new(HostFile::new(fd));
        }
        self.writers.fetch_add(1, Ordering::AcqRel);
        Arc::new(GoferWriteFile { file: HostFile::new(fd), writers: self.writers.clone(), fs: self.fs.clone() })
    }

    /// The other inode of a link or rename, if it is on the same gofer.
    fn same_gofer<'a>(&self, other: &'a Arc<dyn Inode>) -> VfsResult<&'a GoferInode> {
        match other.as_any().downcast_ref::<GoferInode>() {
            Some(o) if Arc::ptr_eq(&o.fs.client, &self.fs.client) => Ok(o),
            _ => Err(Errno::EXDEV),
        }
    }
}

impl Drop for GoferInode {
    fn drop(&mut self) {
        // Best effort: a dead gofer has forgotten the fid anyway.
        if let Some(fid) = self.fid.get() {
            let _ = self.fs.client.release(*fid);
        }
        if let Some((dir, name)) = &self.origin {
            let mut children = dir.listed_children.lock().unwrap_or_else(|e| e.into_inner());
            if children.get(name).is_some_and(|w| w.ptr_eq(&self.me)) {
                children.remove(name);
            }
        }
    }
}

impl Inode for GoferInode {
    fn attr(&self) -> VfsResult<Attr> {
        let gen = self.fs.generation();
        if self.writers.load(Ordering::Acquire) == 0 {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.1 == Some(gen) {
                return Ok(cache.0);
            }
        }
        let attr = to_vfs_attr(&self.client().stat(self.fid()?)?);
        self.store(attr, Some(gen));
        Ok(attr)
    }

    fn setattr(&self, change: &SetAttr) -> VfsResult<()> {
        let req = SetAttrReq {
            mode: change.mode,
            uid: change.uid,
            gid: change.gid,
            size: change.size,
            atime: to_wire_time(change.atime),
            mtime: to_wire_time(change.mtime),
        };
        let before = self.fs.generation();
        let res = self.client().setattr(self.fid()?, &req);
        let valid = self.fs.changed(before);
        self.store(to_vfs_attr(&res?), valid);
        Ok(())
    }

    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        let gen = self.fs.generation();
        let listed = self.listing.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|l| l.find(name, gen));
        match (listed, self.me.upgrade()) {
            (Some(Listed::Present(attr)), Some(me)) => return Ok(GoferInode::from_listing(me, name, attr, gen)),
            // Only where nothing changes: on a read-write mount, a name the
            // host adds after the listing must still be found.
            (Some(Listed::Absent), _) if self.fs.readonly => return Err(Errno::ENOENT),
            _ => {}
        }
        if self.fs.readonly && self.missing.lock().unwrap_or_else(|e| e.into_inner()).contains(name) {
            return Err(Errno::ENOENT);
        }
        match self.walk(name) {
            Ok((fid, attr)) => Ok(GoferInode::new(self.fs.clone(), fid, attr, Some(gen))),
            Err(e) => {
                if e == Errno::ENOENT && self.fs.readonly {
                    let mut missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
                    if missing.len() >= MAX_MISSING {
                        missing.clear();
                    }
                    missing.insert(name.to_vec());
                }
                Err(e)
            }
        }
    }

    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        if self.kind != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let gen = self.fs.generation();
        let (entries, listing) = listing::read(self.client(), self.fid()?, gen)?;
        // Kept only if nothing changed through the mount meanwhile.
        if self.fs.generation() == gen {
            if let Some(me) = self.me.upgrade() {
                listing::keep(&me, listing);
            }
        }
        Ok(entries)
    }

    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        let acc = flags & libc::O_ACCMODE;
        match self.kind {
            S_IFDIR if acc != libc::O_RDONLY => Err(Errno::EISDIR),
            S_IFDIR => Ok(Arc::new(crate::vfs::DirHandle)),
            _ if flags & libc::O_DIRECTORY != 0 => Err(Errno::ENOTDIR),
            // Only the access mode goes to the host: the VFS owns the offset
            // (O_APPEND included) and applies O_TRUNC through setattr.
            S_IFREG if acc == libc::O_RDONLY => {
                let mut slot = self.ro_fd.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(fd) = slot.upgrade() {
                    return Ok(Arc::new(HostFile::shared(fd)));
                }
                let fd = Arc::new(self.client().open(self.fid()?, acc)?);
                *slot = Arc::downgrade(&fd);
                remember_ro_fd(&fd);
                Ok(Arc::new(HostFile::shared(fd)))
            }
            S_IFREG => Ok(self.file_for(self.client().open(self.fid()?, acc)?, acc)),
            S_IFLNK => Err(Errno::ELOOP),
            // No host devices through the gofer, as on a nodev mount.
            S_IFCHR | S_IFBLK => Err(Errno::EACCES),
            // Named pipes and sockets on gofer mounts are not served (yet).
            _ => Err(Errno::ENXIO),
        }
    }

    fn readlink(&self) -> VfsResult<Vec<u8>> {
        if self.kind != S_IFLNK {
            return Err(Errno::EINVAL);
        }
        if let Some(t) = self.target.get() {
            return Ok(t.clone());
        }
        let t = self.client().readlink(self.fid()?)?;
        Ok(self.target.get_or_init(|| t).clone())
    }

    fn create(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<(Arc<dyn Inode>, Arc<dyn FileOps>)> {
        let (uid, gid, mode) = self.new_owner(args.creds, S_IFREG | (args.mode & 0o7777))?;
        let acc = args.flags & libc::O_ACCMODE;
        let before = self.fs.generation();
        let res = self.client().create(self.fid()?, name, acc, mode & 0o7777, uid, gid);
        let valid = self.fs.changed(before);
        let (fid, attr, fd) = res?;
        let inode = GoferInode::new(self.fs.clone(), fid, attr, valid);
        let file = inode.file_for(fd, acc);
        Ok((inode, file))
    }

    fn mknod(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        let kind = match args.mode & S_IFMT {
            0 | S_IFREG => S_IFREG,
            k @ (S_IFIFO | S_IFSOCK) => k,
            _ => return Err(Errno::EPERM),
        };
        let (uid, gid, mode) = self.new_owner(args.creds, kind | (args.mode & 0o7777))?;
        let dir = self.fid()?;
        self.make_child(|c| c.mknod(dir, name, mode, uid, gid))
    }

    fn mkdir(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        let (uid, gid, mode) = self.new_owner(args.creds, S_IFDIR | (args.mode & 0o7777))?;
        let dir = self.fid()?;
        self.make_child(|c| c.mkdir(dir, name, mode & 0o7777, uid, gid))
    }

    fn symlink(&self, name: &[u8], target: &[u8], creds: &FsCreds) -> VfsResult<Arc<dyn Inode>> {
        let (uid, gid, _) = self.new_owner(creds, S_IFLNK | 0o777)?;
        let dir = self.fid()?;
        self.make_child(|c| c.symlink(dir, name, target, uid, gid))
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> VfsResult<()> {
        let t = self.same_gofer(target)?;
        let (dir, target) = (self.fid()?, t.fid()?);
        self.change(|c| c.link(dir, name, target).map(|_| ()))
    }

    fn unlink(&self, name: &[u8]) -> VfsResult<()> {
        let dir = self.fid()?;
        self.bind_listed(name);
        self.change(|c| c.unlink(dir, name, 0))
    }

    fn rmdir(&self, name: &[u8]) -> VfsResult<()> {
        let dir = self.fid()?;
        self.bind_listed(name);
        self.change(|c| c.unlink(dir, name, AT_REMOVEDIR))
    }

    fn rename(&self, old_name: &[u8], new_dir: &Arc<dyn Inode>, new_name: &[u8], flags: u32) -> VfsResult<()> {
        let nd = self.same_gofer(new_dir)?;
        let (old_dir, new_dir) = (self.fid()?, nd.fid()?);
        self.bind_listed(old_name);
        nd.bind_listed(new_name);
        self.change(|c| c.rename(old_dir, old_name, new_dir, new_name, flags))
    }

    fn statfs(&self) -> VfsResult<StatFs> {
        self.client().statfs(self.fid()?)
    }

    /// Everything about a gofer file lives on the host: its fid is walked again.
    fn reclaimable(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A regular file open for writing: counts as a writer of its inode until
/// closed, and closing it invalidates cached attributes.
struct GoferWriteFile {
    file: HostFile,
    writers: Arc<AtomicUsize>,
    fs: Arc<GoferFs>,
}

impl Drop for GoferWriteFile {
    fn drop(&mut self) {
        self.writers.fetch_sub(1, Ordering::AcqRel);
        self.fs.changed(self.fs.generation());
    }
}

impl FileOps for GoferWriteFile {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        self.file.read(buf, off)
    }
    fn write(&self, buf: &[u8], off: u64) -> VfsResult<usize> {
        self.file.write(buf, off)
    }
    fn attr(&self) -> VfsResult<Attr> {
        self.file.attr()
    }
    fn host_fd(&self) -> Option<RawFd> {
        self.file.host_fd()
    }
    fn truncate(&self, len: u64) -> VfsResult<()> {
        self.file.truncate(len)
    }
    fn allocate(&self, mode: i32, off: u64, len: u64) -> VfsResult<()> {
        self.file.allocate(mode, off, len)
    }
    fn sync(&self, data_only: bool) -> VfsResult<()> {
        self.file.sync(data_only)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn to_vfs_attr(a: &protocol::Attr) -> Attr {
    Attr {
        ino: a.ino,
        dev: a.dev,
        mode: a.mode,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        size: a.size,
        blksize: a.blksize,
        blocks: a.blocks,
        atime: a.atime,
        mtime: a.mtime,
        ctime: a.ctime,
    }
}

fn to_wire_time(t: Option<TimeSet>) -> Timespec {
    match t {
        None => Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT },
        Some(TimeSet::Now) => Timespec { tv_sec: 0, tv_nsec: UTIME_NOW },
        Some(TimeSet::At(ts)) => ts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvisor_gofer::{open_root, serve, transport};
    use std::path::PathBuf;

    struct Tree(PathBuf);
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mount(tag: &str) -> (Tree, Arc<dyn Inode>) {
        mount_with(tag, false)
    }

    fn mount_with(tag: &str, readonly: bool) -> (Tree, Arc<dyn Inode>) {
        let dir = std::env::temp_dir().join(format!("rvisor-sentry-gofer-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/file"), b"data").unwrap();
        let (a, b) = transport::socketpair().unwrap();
        let root = open_root(&dir).unwrap();
        std::thread::spawn(move || serve(b, root, readonly));
        let inode = new_root(Arc::new(GoferClient::new(a)), readonly).unwrap();
        (Tree(dir), inode)
    }

    fn args(mode: u32, flags: i32, creds: &FsCreds) -> CreateArgs<'_> {
        CreateArgs { mode, rdev: 0, flags, creds }
    }

    fn creds() -> FsCreds {
        // SAFETY: getuid/getgid cannot fail.
        unsafe { FsCreds { uid: libc::getuid(), gid: libc::getgid(), groups: vec![] } }
    }

    #[test]
    fn lookup_readdir_open() {
        let (_t, root) = mount("basic");
        let sub = root.lookup(b"sub").unwrap();
        assert!(sub.attr().unwrap().is_dir());
        let names: Vec<_> = sub.readdir().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, vec![b"file".to_vec()]);
        let file = sub.lookup(b"file").unwrap();
        let f = file.open(libc::O_RDONLY).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(f.read(&mut buf, 0).unwrap(), 4);
        assert_eq!(&buf[..4], b"data");
        let d = sub.open(libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        assert_eq!(d.read(&mut buf, 0).err(), Some(Errno::EISDIR));
        // fstat of the open directory (answered through its inode).
        let open = crate::vfs::OpenFile::new_anon(d, Some(sub.clone()), libc::O_RDONLY, "sub".into());
        assert!(open.attr().unwrap().is_dir());
        assert_eq!(sub.open(libc::O_RDWR).err(), Some(Errno::EISDIR));
        assert_eq!(root.lookup(b"missing").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn attributes_follow_changes_made_through_the_mount() {
        let (t, root) = mount("attrs");
        let c = creds();
        let sub = root.lookup(b"sub").unwrap();
        let file = sub.lookup(b"file").unwrap();
        assert_eq!(file.attr().unwrap().size, 4);
        // Writes through an open fd show up in stat of the inode, during and after.
        let w = file.open(libc::O_WRONLY).unwrap();
        w.write(b"longer data", 0).unwrap();
        assert_eq!(file.attr().unwrap().size, 11);
        w.write(b"!", 11).unwrap();
        drop(w);
        assert_eq!(file.attr().unwrap().size, 12);
        file.setattr(&SetAttr { size: Some(2), mode: Some(0o600), ..Default::default() }).unwrap();
        let a = file.attr().unwrap();
        assert_eq!((a.size, a.mode & 0o7777), (2, 0o600));
        // Directory link count and the hard-linked inode's nlink.
        let nlink = sub.attr().unwrap().nlink;
        sub.mkdir(b"d", &args(0o755, 0, &c)).unwrap();
        assert_eq!(sub.attr().unwrap().nlink, nlink + 1);
        root.link(b"hard", &file).unwrap();
        assert_eq!(file.attr().unwrap().nlink, 2);
        sub.unlink(b"file").unwrap();
        assert_eq!(file.attr().unwrap().nlink, 1);
        // Create-and-open, rename across directories, symlink.
        let (n, f) = sub.create(b"new", &args(S_IFREG | 0o640, libc::O_RDWR, &c)).unwrap();
        assert_eq!(n.attr().unwrap().mode, S_IFREG | 0o640);
        f.write(b"abc", 0).unwrap();
        assert_eq!(n.attr().unwrap().size, 3);
        sub.rename(b"new", &root, b"moved", 0).unwrap();
        assert_eq!(std::fs::read(t.0.join("moved")).unwrap(), b"abc");
        let l = root.symlink(b"ln", b"/etc/passwd", &c).unwrap();
        assert_eq!(l.readlink().unwrap(), b"/etc/passwd");
        assert_eq!(l.open(libc::O_RDONLY).err(), Some(Errno::ELOOP));
        let fifo = root.mknod(b"fifo", &args(S_IFIFO | 0o600, 0, &c)).unwrap();
        assert_eq!(fifo.attr().unwrap().mode & S_IFMT, S_IFIFO);
        assert_eq!(root.mknod(b"dev", &args(S_IFCHR | 0o600, 0, &c)).err(), Some(Errno::EPERM));
        sub.rmdir(b"d").unwrap();
        assert!(!t.0.join("sub/d").exists());
        assert!(root.statfs().unwrap().f_bsize > 0);
    }

    #[test]
    fn missing_names_are_remembered_on_read_only_mounts_only() {
        // Read-write: a name the host adds after a failed lookup is found.
        let (t, root) = mount("missing-rw");
        assert_eq!(root.lookup(b"later").err(), Some(Errno::ENOENT));
        std::fs::write(t.0.join("later"), b"x").unwrap();
        assert!(root.lookup(b"later").is_ok());
        // Read-only: the failure is answered from the cache (nothing changes
        // through the mount), so the gofer is not asked again.
        let (t, root) = mount_with("missing-ro", true);
        assert_eq!(root.lookup(b"later").err(), Some(Errno::ENOENT));
        std::fs::write(t.0.join("later"), b"x").unwrap();
        assert_eq!(root.lookup(b"later").err(), Some(Errno::ENOENT));
        assert!(root.lookup(b"sub").unwrap().attr().unwrap().is_dir());
        // Other errors are not remembered.
        let sub = root.lookup(b"sub").unwrap();
        let file = sub.lookup(b"file").unwrap();
        assert_eq!(file.lookup(b"x").err(), Some(Errno::ENOTDIR));
    }

    #[test]
    fn a_listing_answers_lookups_until_the_mount_changes() {
        let (t, root) = mount("listing");
        let sub = root.lookup(b"sub").unwrap();
        std::fs::write(t.0.join("sub/gone"), b"12345").unwrap();
        std::fs::create_dir(t.0.join("sub/dir")).unwrap();
        std::fs::write(t.0.join("sub/dir/inner"), b"in").unwrap();
        std::os::unix::fs::symlink("file", t.0.join("sub/link")).unwrap();
        let mut names: Vec<_> = sub.readdir().unwrap().into_iter().map(|e| e.name).collect();
        names.sort();
        assert_eq!(names, [&b"dir"[..], b"file", b"gone", b"link"]);
        // Removed behind the gofer's back after the listing: the lookup and
        // stat are answered from the listing, and the walk that opening
        // needs finds the file gone.
        std::fs::remove_file(t.0.join("sub/gone")).unwrap();
        let gone = sub.lookup(b"gone").unwrap();
        assert_eq!(gone.attr().unwrap().size, 5);
        assert_eq!(gone.open(libc::O_RDONLY).err(), Some(Errno::ENOENT));
        // Listed inodes walk when first used: a directory and a file in it,
        // a symlink.
        let inner = sub.lookup(b"dir").unwrap().lookup(b"inner").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(inner.open(libc::O_RDONLY).unwrap().read(&mut buf, 0).unwrap(), 2);
        assert_eq!(sub.lookup(b"link").unwrap().readlink().unwrap(), b"file");
        // Replaced by a node of another type since the listing.
        std::fs::remove_file(t.0.join("sub/file")).unwrap();
        std::fs::create_dir(t.0.join("sub/file")).unwrap();
        assert_eq!(sub.lookup(b"file").unwrap().open(libc::O_RDONLY).err(), Some(Errno::ESTALE));
        // Read-write mount: a name the host adds after the listing is found.
        std::fs::write(t.0.join("sub/new"), b"x").unwrap();
        assert!(sub.lookup(b"new").is_ok());
        // A change through the mount retires the listing: lookups walk again.
        sub.mkdir(b"made", &args(0o755, 0, &creds())).unwrap();
        assert_eq!(sub.lookup(b"gone").err(), Some(Errno::ENOENT));
        assert!(sub.lookup(b"file").unwrap().attr().unwrap().is_dir());
    }

    #[test]
    fn unlisted_names_are_missing_from_a_listed_read_only_directory() {
        let (t, root) = mount_with("listing-ro", true);
        let sub = root.lookup(b"sub").unwrap();
        sub.readdir().unwrap();
        std::fs::write(t.0.join("sub/later"), b"x").unwrap();
        assert_eq!(sub.lookup(b"later").err(), Some(Errno::ENOENT));
        assert_eq!(sub.lookup(b"file").unwrap().attr().unwrap().size, 4);
    }

    #[test]
    fn listed_inodes_keep_their_node_across_changes_through_the_mount() {
        let (t, root) = mount("listing-changes");
        std::fs::write(t.0.join("sub/other"), b"other data").unwrap();
        let sub = root.lookup(b"sub").unwrap();
        sub.readdir().unwrap();
        let file = sub.lookup(b"file").unwrap();
        let other = sub.lookup(b"other").unwrap();
        // Renamed before it ever walked: still the same file.
        sub.rename(b"file", &root, b"moved", 0).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(file.open(libc::O_RDONLY).unwrap().read(&mut buf, 0).unwrap(), 4);
        assert_eq!(&buf[..4], b"data");
        // Renamed over by another: the replaced one is not the newcomer.
        sub.readdir().unwrap();
        let victim = sub.lookup(b"other").unwrap();
        drop(other);
        std::fs::write(t.0.join("sub/new"), b"newcomer").unwrap();
        sub.readdir().unwrap();
        sub.rename(b"new", &sub, b"other", 0).unwrap();
        assert_eq!(victim.attr().unwrap().size, 10);
        match victim.open(libc::O_RDONLY) {
            Ok(f) => {
                let n = f.read(&mut buf, 0).unwrap();
                assert_eq!(&buf[..n], b"other data", "the replaced inode opened the newcomer");
            }
            Err(e) => assert_eq!(e, Errno::ENOENT),
        }
    }

    #[test]
    fn a_name_renamed_onto_after_a_listing_is_found() {
        let (_t, root) = mount("listing-rename-onto");
        let sub = root.lookup(b"sub").unwrap();
        sub.readdir().unwrap();
        assert_eq!(sub.lookup(b"renamed").err(), Some(Errno::ENOENT));
        sub.rename(b"file", &sub, b"renamed", 0).unwrap();
        assert_eq!(sub.lookup(b"renamed").unwrap().attr().unwrap().size, 4);
        assert_eq!(sub.lookup(b"file").err(), Some(Errno::ENOENT));
    }
}
