//! tmpfs: an in-memory file system. Directories, symlinks and device nodes
//! live in sentry memory; regular files too while small, then in host memfds
//! (see `regular`), which the sentry maps into applications exactly like
//! gofer-donated files.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::vfs::{
    dtype_of_mode, next_synthetic_ino, now, Attr, CreateArgs, DirEntry, Errno, FileOps, FsCreds, Inode, SetAttr,
    StatFs, TimeSet, Timespec, VfsResult, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
};

mod regular;
#[cfg(test)]
mod tests;

use regular::RegData;
pub use regular::{TmpfsFile, F_SEAL_EXEC, F_SEAL_SEAL, SMALL_FILE_MAX};

/// `f_type` of tmpfs in statfs(2).
pub const TMPFS_MAGIC: i64 = 0x0102_1994;

/// renameat2(2) flags.
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
pub const RENAME_WHITEOUT: u32 = 4;

/// Linux tmpfs reports directory sizes as 20 bytes per entry (plus "." and "..").
const BOGO_DIRENT_SIZE: u64 = 20;
/// Longest symlink target, including the NUL Linux counts.
const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;
/// Linux keeps symlink targets shorter than this inline (no blocks).
const SHORT_SYMLINK_LEN: usize = 128;

/// Linux `makedev`: the glibc/kernel encoding of (major, minor) in `st_rdev`/`st_dev`.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

/// A fresh anonymous device number (major 0), one per synthetic file system
/// instance, like Linux's `get_anon_bdev`.
pub fn new_anon_dev() -> u64 {
    // Start above the small minors Linux hands out at boot (proc, sysfs, ...).
    static NEXT: AtomicU32 = AtomicU32::new(64);
    makedev(0, NEXT.fetch_add(1, Ordering::Relaxed) & 0xf_ffff)
}

/// Rejects names the VFS should never pass; a defence, since names come from apps.
pub fn check_name(name: &[u8]) -> VfsResult<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn resolve_time(t: TimeSet) -> Timespec {
    match t {
        TimeSet::Now => now(),
        TimeSet::At(ts) => ts,
    }
}

fn host_timespec(t: Option<TimeSet>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(TimeSet::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(TimeSet::At(ts)) => libc::timespec { tv_sec: ts.tv_sec, tv_nsec: ts.tv_nsec },
    }
}

/// State shared by all inodes of one tmpfs instance.
struct FsShared {
    dev: u64,
    /// Serialises namespace changes. Every operation that holds more than one
    /// directory lock holds this first, so multi-directory updates (rename)
    /// are atomic and cannot deadlock.
    tree: Mutex<()>,
    /// Live inodes, for statfs.
    inodes: AtomicU64,
}

#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

struct DirData {
    entries: Mutex<BTreeMap<Vec<u8>, Arc<TmpfsInode>>>,
    /// For the "directory into its own subtree" check; empty for the root.
    parent: Mutex<Weak<TmpfsInode>>,
}

enum Data {
    /// Open files hold the inode, so data outlives unlink.
    Regular(RegData),
    Dir(DirData),
    Symlink(Vec<u8>),
    /// Fifos, sockets and device nodes: attributes only.
    Special,
}

/// An inode of a tmpfs instance.
pub struct TmpfsInode {
    me: Weak<TmpfsInode>,
    fs: Arc<FsShared>,
    ino: u64,
    /// File type bits; never change.
    ftype: u32,
    meta: Mutex<Meta>,
    /// Extended attributes (tmpfs keeps every namespace in memory).
    xattrs: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    data: Data,
}

/// Creates a tmpfs instance and returns its root directory.
pub fn new_tmpfs(mode: u32, uid: u32, gid: u32) -> Arc<dyn Inode> {
    new_tmpfs_root(mode, uid, gid)
}

/// Like [`new_tmpfs`], with the concrete type.
pub fn new_tmpfs_root(mode: u32, uid: u32, gid: u32) -> Arc<TmpfsInode> {
    let fs = Arc::new(FsShared { dev: new_anon_dev(), tree: Mutex::new(()), inodes: AtomicU64::new(0) });
    let data = Data::Dir(DirData { entries: Mutex::new(BTreeMap::new()), parent: Mutex::new(Weak::new()) });
    TmpfsInode::new_node(&fs, S_IFDIR | (mode & 0o7777), uid, gid, 0, data)
}

impl TmpfsInode {
    fn new_node(fs: &Arc<FsShared>, mode: u32, uid: u32, gid: u32, rdev: u64, data: Data) -> Arc<TmpfsInode> {
        let t = now();
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        fs.inodes.fetch_add(1, Ordering::Relaxed);
        Arc::new_cyclic(|me| TmpfsInode {
            me: me.clone(),
            fs: fs.clone(),
            ino: next_synthetic_ino(),
            ftype: mode & S_IFMT,
            meta: Mutex::new(Meta { mode, uid, gid, nlink, rdev, atime: t, mtime: t, ctime: t }),
            xattrs: Mutex::new(BTreeMap::new()),
            data,
        })
    }

    /// The inode number (also `d_ino` in its parent's listing).
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The device number of the tmpfs instance.
    pub fn dev(&self) -> u64 {
        self.fs.dev
    }

    fn is_dir(&self) -> bool {
        self.ftype == S_IFDIR
    }

    fn dir(&self) -> VfsResult<&DirData> {
        match &self.data {
            Data::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn meta(&self) -> MutexGuard<'_, Meta> {
        lock(&self.meta)
    }

    fn strong(&self) -> VfsResult<Arc<TmpfsInode>> {
        self.me.upgrade().ok_or(Errno::ENOENT)
    }

    /// Marks a directory's contents as changed (mtime and ctime).
    fn touch_dir(&self, t: Timespec) {
        let mut m = self.meta();
        m.mtime = t;
        m.ctime = t;
    }

    fn add_nlink(&self, delta: i64) {
        let mut m = self.meta();
        m.nlink = m.nlink.saturating_add_signed(delta);
    }

    fn dir_is_empty(&self) -> bool {
        match &self.data {
            Data::Dir(d) => lock(&d.entries).is_empty(),
            _ => true,
        }
    }

    /// True if `self` is `anc` or lies beneath it. Callers hold the tree lock,
    /// so parent links are stable.
    fn is_within(&self, anc: &TmpfsInode) -> bool {
        let mut cur = self.me.upgrade();
        // Depth is bounded by memory, but guard against a corrupted chain anyway.
        for _ in 0..1_000_000 {
            let Some(node) = cur else { return false };
            if std::ptr::eq(&*node, anc) {
                return true;
            }
            cur = match &node.data {
                Data::Dir(d) => lock(&d.parent).upgrade(),
                _ => None,
            };
        }
        false
    }

    /// Owner, group and mode of a new child, with set-group-ID directory
    /// inheritance as Linux's `inode_init_owner`.
    fn owner_for(&self, creds: &FsCreds, mode: u32) -> (u32, u32, u32) {
        let pm = *self.meta();
        let mut gid = creds.gid;
        let mut mode = mode;
        if pm.mode & libc::S_ISGID != 0 {
            gid = pm.gid;
            if mode & S_IFMT == S_IFDIR {
                mode |= libc::S_ISGID;
            } else if mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP)
                && creds.uid != 0
                && !creds.in_group(gid)
            {
                mode &= !libc::S_ISGID;
            }
        }
        (creds.uid, gid, mode)
    }

    /// Creates child `name` built by `make` (called under the directory lock,
    /// after the name was found free).
    fn add_child(
        &self,
        name: &[u8],
        creds: &FsCreds,
        mode: u32,
        make: impl FnOnce(&Arc<FsShared>, u32, u32, u32) -> VfsResult<Arc<TmpfsInode>>,
    ) -> VfsResult<Arc<TmpfsInode>> {
        check_name(name)?;
        let dir = self.dir()?;
        let _tree = lock(&self.fs.tree);
        if self.meta().nlink == 0 {
            // Creating inside a removed directory.
            return Err(Errno::ENOENT);
        }
        let (uid, gid, mode) = self.owner_for(creds, mode);
        let node = {
            let mut entries = lock(&dir.entries);
            if entries.contains_key(name) {
                return Err(Errno::EEXIST);
            }
            let node = make(&self.fs, mode, uid, gid)?;
            entries.insert(name.to_vec(), node.clone());
            node
        };
        if let Data::Dir(d) = &node.data {
            *lock(&d.parent) = self.me.clone();
            self.add_nlink(1);
        }
        self.touch_dir(now());
        Ok(node)
    }

    fn new_regular(fs: &Arc<FsShared>, mode: u32, uid: u32, gid: u32) -> VfsResult<Arc<TmpfsInode>> {
        Ok(TmpfsInode::new_node(fs, S_IFREG | (mode & 0o7777), uid, gid, 0, Data::Regular(RegData::default())))
    }

    fn set_times(&self, atime: Option<TimeSet>, mtime: Option<TimeSet>) -> VfsResult<()> {
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        if let Data::Regular(_) = &self.data {
            return self.reg_set_times(atime, mtime);
        }
        self.set_meta_times(atime, mtime);
        Ok(())
    }

    fn set_meta_times(&self, atime: Option<TimeSet>, mtime: Option<TimeSet>) {
        let mut m = self.meta();
        if let Some(a) = atime {
            m.atime = resolve_time(a);
        }
        if let Some(t) = mtime {
            m.mtime = resolve_time(t);
        }
        m.ctime = now();
    }
}

impl Drop for TmpfsInode {
    fn drop(&mut self) {
        self.fs.inodes.fetch_sub(1, Ordering::Relaxed);
        // Tear deep trees down iteratively: recursive drops could overflow the stack.
        if let Data::Dir(d) = &mut self.data {
            let mut stack: Vec<Arc<TmpfsInode>> =
                std::mem::take(d.entries.get_mut().unwrap_or_else(|e| e.into_inner())).into_values().collect();
            while let Some(node) = stack.pop() {
                if let Ok(mut owned) = Arc::try_unwrap(node) {
                    if let Data::Dir(d) = &mut owned.data {
                        stack.extend(
                            std::mem::take(d.entries.get_mut().unwrap_or_else(|e| e.into_inner())).into_values(),
                        );
                    }
                }
            }
        }
    }
}

impl Inode for TmpfsInode {
    fn attr(&self) -> VfsResult<Attr> {
        let m = *self.meta();
        let mut a = Attr {
            ino: self.ino,
            dev: self.fs.dev,
            mode: m.mode,
            nlink: m.nlink,
            uid: m.uid,
            gid: m.gid,
            rdev: m.rdev,
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        };
        match &self.data {
            Data::Regular(_) => self.reg_attr(&mut a, &m)?,
            Data::Dir(d) => a.size = (lock(&d.entries).len() as u64 + 2) * BOGO_DIRENT_SIZE,
            Data::Symlink(t) => {
                a.size = t.len() as u64;
                a.blocks = if t.len() < SHORT_SYMLINK_LEN { 0 } else { 8 };
            }
            Data::Special => {}
        }
        Ok(a)
    }

    fn setattr(&self, change: &SetAttr) -> VfsResult<()> {
        if let Some(size) = change.size {
            match &self.data {
                Data::Regular(_) => {
                    i64::try_from(size).map_err(|_| Errno::EFBIG)?;
                    self.reg_truncate(size)?;
                }
                Data::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        if let (Some(mode), Ok(seals)) = (change.mode, self.seals()) {
            // F_SEAL_EXEC freezes the execute bits.
            if seals & regular::F_SEAL_EXEC != 0 && (self.meta().mode ^ mode) & 0o111 != 0 {
                return Err(Errno::EPERM);
            }
        }
        self.set_times(change.atime, change.mtime)?;
        if change.mode.is_none() && change.uid.is_none() && change.gid.is_none() {
            return Ok(());
        }
        let mut m = self.meta();
        if let Some(mode) = change.mode {
            m.mode = (m.mode & S_IFMT) | (mode & 0o7777);
        } else if self.ftype != S_IFDIR {
            // chown drops set-user-ID, and set-group-ID when it means "executable by group".
            m.mode &= !libc::S_ISUID;
            if m.mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP) {
                m.mode &= !libc::S_ISGID;
            }
        }
        if let Some(uid) = change.uid {
            m.uid = uid;
        }
        if let Some(gid) = change.gid {
            m.gid = gid;
        }
        m.ctime = now();
        Ok(())
    }

    fn getxattr(&self, name: &[u8]) -> VfsResult<Vec<u8>> {
        lock(&self.xattrs).get(name).cloned().ok_or(Errno::ENODATA)
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: i32) -> VfsResult<()> {
        let mut x = lock(&self.xattrs);
        match (x.contains_key(name), flags) {
            (true, libc::XATTR_CREATE) => return Err(Errno::EEXIST),
            (false, libc::XATTR_REPLACE) => return Err(Errno::ENODATA),
            _ => {}
        }
        x.insert(name.to_vec(), value.to_vec());
        drop(x);
        self.meta().ctime = now();
        Ok(())
    }

    fn listxattr(&self) -> VfsResult<Vec<Vec<u8>>> {
        Ok(lock(&self.xattrs).keys().cloned().collect())
    }

    fn removexattr(&self, name: &[u8]) -> VfsResult<()> {
        lock(&self.xattrs).remove(name).ok_or(Errno::ENODATA)?;
        self.meta().ctime = now();
        Ok(())
    }

    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        let dir = self.dir()?;
        let child = lock(&dir.entries).get(name).cloned().ok_or(Errno::ENOENT)?;
        Ok(child)
    }

    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        let dir = self.dir()?;
        let entries = lock(&dir.entries);
        Ok(entries
            .iter()
            .map(|(name, node)| DirEntry { ino: node.ino, d_type: dtype_of_mode(node.ftype), name: name.clone() })
            .collect())
    }

    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        match &self.data {
            Data::Regular(_) => Ok(Arc::new(TmpfsFile { inode: self.strong()? })),
            Data::Dir(_) => Ok(Arc::new(crate::vfs::DirHandle)),
            Data::Symlink(_) => Err(Errno::ELOOP),
            Data::Special => match self.ftype {
                S_IFCHR => super::dev::open_char_device(self.meta().rdev, flags),
                // NOTE: named pipes are not wired yet (the lead connects them to
                // fs::pipe); until then opening a fifo fails rather than blocking.
                S_IFIFO => Err(Errno::ENXIO),
                // Sockets and block devices cannot be opened (Linux: ENXIO).
                _ => Err(Errno::ENXIO),
            },
        }
    }

    fn readlink(&self) -> VfsResult<Vec<u8>> {
        match &self.data {
            Data::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn create(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<(Arc<dyn Inode>, Arc<dyn FileOps>)> {
        let ft = args.mode & S_IFMT;
        if ft != 0 && ft != S_IFREG {
            return Err(Errno::EINVAL);
        }
        let node = self.add_child(name, args.creds, S_IFREG | (args.mode & 0o7777), TmpfsInode::new_regular)?;
        let ops = node.open(args.flags)?;
        Ok((node, ops))
    }

    fn mknod(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        let ft = args.mode & S_IFMT;
        let perm = args.mode & 0o7777;
        let node = match ft {
            0 | S_IFREG => self.add_child(name, args.creds, S_IFREG | perm, TmpfsInode::new_regular)?,
            S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {
                let rdev = if ft == S_IFCHR || ft == S_IFBLK { args.rdev } else { 0 };
                self.add_child(name, args.creds, ft | perm, |fs, mode, uid, gid| {
                    Ok(TmpfsInode::new_node(fs, mode, uid, gid, rdev, Data::Special))
                })?
            }
            S_IFDIR => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        };
        Ok(node)
    }

    fn mkdir(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        let node = self.add_child(name, args.creds, S_IFDIR | (args.mode & 0o7777), |fs, mode, uid, gid| {
            let data = Data::Dir(DirData { entries: Mutex::new(BTreeMap::new()), parent: Mutex::new(Weak::new()) });
            Ok(TmpfsInode::new_node(fs, mode, uid, gid, 0, data))
        })?;
        Ok(node)
    }

    fn symlink(&self, name: &[u8], target: &[u8], creds: &FsCreds) -> VfsResult<Arc<dyn Inode>> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let node = self.add_child(name, creds, S_IFLNK | 0o777, |fs, mode, uid, gid| {
            Ok(TmpfsInode::new_node(fs, mode, uid, gid, 0, Data::Symlink(target.to_vec())))
        })?;
        Ok(node)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> VfsResult<()> {
        check_name(name)?;
        let dir = self.dir()?;
        let t = target.as_any().downcast_ref::<TmpfsInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        if t.is_dir() {
            return Err(Errno::EPERM);
        }
        let t = t.strong()?;
        let _tree = lock(&self.fs.tree);
        // An unlinked file may be linked again only if it was made by O_TMPFILE.
        if self.meta().nlink == 0 || t.meta().nlink == 0 && !take_linkable(t.dev(), t.ino()) {
            return Err(Errno::ENOENT);
        }
        {
            let mut entries = lock(&dir.entries);
            if entries.contains_key(name) {
                return Err(Errno::EEXIST);
            }
            entries.insert(name.to_vec(), t.clone());
        }
        let n = now();
        {
            let mut m = t.meta();
            m.nlink += 1;
            m.ctime = n;
        }
        self.touch_dir(n);
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> VfsResult<()> {
        let dir = self.dir()?;
        let _tree = lock(&self.fs.tree);
        let victim = {
            let mut entries = lock(&dir.entries);
            let victim = entries.get(name).ok_or(Errno::ENOENT)?;
            if victim.is_dir() {
                return Err(Errno::EISDIR);
            }
            entries.remove(name).ok_or(Errno::ENOENT)?
        };
        let n = now();
        {
            let mut m = victim.meta();
            m.nlink = m.nlink.saturating_sub(1);
            m.ctime = n;
        }
        self.touch_dir(n);
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> VfsResult<()> {
        let dir = self.dir()?;
        let _tree = lock(&self.fs.tree);
        let victim = {
            let mut entries = lock(&dir.entries);
            let victim = entries.get(name).ok_or(Errno::ENOENT)?;
            if !victim.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if !victim.dir_is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            entries.remove(name).ok_or(Errno::ENOENT)?
        };
        let n = now();
        {
            let mut m = victim.meta();
            m.nlink = 0;
            m.ctime = n;
        }
        self.add_nlink(-1);
        self.touch_dir(n);
        Ok(())
    }

    fn rename(&self, old_name: &[u8], new_dir: &Arc<dyn Inode>, new_name: &[u8], flags: u32) -> VfsResult<()> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
            || flags & RENAME_WHITEOUT != 0
            || flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0
        {
            return Err(Errno::EINVAL);
        }
        let exchange = flags & RENAME_EXCHANGE != 0;
        check_name(old_name)?;
        check_name(new_name)?;
        let src_dir = self.dir()?;
        let nd = new_dir.as_any().downcast_ref::<TmpfsInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        let dst_dir = nd.dir()?;
        let same_dir = std::ptr::eq(self, nd);
        let _tree = lock(&self.fs.tree);

        let src = lock(&src_dir.entries).get(old_name).cloned().ok_or(Errno::ENOENT)?;
        let dst = lock(&dst_dir.entries).get(new_name).cloned();
        if nd.meta().nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if flags & RENAME_NOREPLACE != 0 && dst.is_some() {
            return Err(Errno::EEXIST);
        }
        if exchange && dst.is_none() {
            return Err(Errno::ENOENT);
        }
        if src.is_dir() && nd.is_within(&src) {
            return Err(Errno::EINVAL);
        }
        if let Some(d) = &dst {
            if Arc::ptr_eq(d, &src) {
                // Two names of one inode: rename does nothing.
                return Ok(());
            }
            if exchange {
                if d.is_dir() && self.is_within(d) {
                    return Err(Errno::EINVAL);
                }
            } else if src.is_dir() && !d.is_dir() {
                return Err(Errno::ENOTDIR);
            } else if !src.is_dir() && d.is_dir() {
                return Err(Errno::EISDIR);
            } else if d.is_dir() && !d.dir_is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        }

        let n = now();
        if exchange {
            let Some(dst) = dst else { return Err(Errno::ENOENT) };
            // Both maps change under their locks at once, so lookups never see a gap.
            if same_dir {
                let mut e = lock(&src_dir.entries);
                e.insert(old_name.to_vec(), dst.clone());
                e.insert(new_name.to_vec(), src.clone());
            } else {
                let mut a = lock(&src_dir.entries);
                let mut b = lock(&dst_dir.entries);
                a.insert(old_name.to_vec(), dst.clone());
                b.insert(new_name.to_vec(), src.clone());
            }
            if !same_dir && src.is_dir() != dst.is_dir() {
                // A directory changes parent: ".." links move with it.
                let delta = if src.is_dir() { 1 } else { -1 };
                self.add_nlink(-delta);
                nd.add_nlink(delta);
            }
            if let Data::Dir(d) = &src.data {
                *lock(&d.parent) = nd.me.clone();
            }
            if let Data::Dir(d) = &dst.data {
                *lock(&d.parent) = self.me.clone();
            }
            dst.meta().ctime = n;
        } else {
            let replaced = if same_dir {
                let mut e = lock(&src_dir.entries);
                e.remove(old_name);
                e.insert(new_name.to_vec(), src.clone())
            } else {
                let mut a = lock(&src_dir.entries);
                let mut b = lock(&dst_dir.entries);
                a.remove(old_name);
                b.insert(new_name.to_vec(), src.clone())
            };
            if let Some(r) = replaced {
                let mut m = r.meta();
                if r.is_dir() {
                    m.nlink = 0;
                    drop(m);
                    nd.add_nlink(-1);
                } else {
                    m.nlink = m.nlink.saturating_sub(1);
                    m.ctime = n;
                }
            }
            if let Data::Dir(d) = &src.data {
                if !same_dir {
                    self.add_nlink(-1);
                    nd.add_nlink(1);
                }
                *lock(&d.parent) = nd.me.clone();
            }
        }
        src.meta().ctime = n;
        self.touch_dir(n);
        if !same_dir {
            nd.touch_dir(n);
        }
        Ok(())
    }

    fn statfs(&self) -> VfsResult<StatFs> {
        // Like Linux's default tmpfs size: half of RAM, in 4 KiB blocks.
        // SAFETY: zeroed sysinfo is a valid out-buffer.
        let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
        // SAFETY: si is a valid, writable struct sysinfo.
        let ok = unsafe { libc::sysinfo(&mut si) } == 0;
        let unit = if ok { u64::from(si.mem_unit.max(1)) } else { 1 };
        let total = if ok { (si.totalram as u64).saturating_mul(unit) / 4096 / 2 } else { 1 << 20 };
        let free = if ok { ((si.freeram as u64).saturating_mul(unit) / 4096).min(total) } else { total };
        let used_inodes = self.fs.inodes.load(Ordering::Relaxed);
        let files = total.max(used_inodes);
        Ok(StatFs {
            f_type: TMPFS_MAGIC,
            f_bsize: 4096,
            f_blocks: total,
            f_bfree: free,
            f_bavail: free,
            f_files: files,
            f_ffree: files - used_inodes,
            f_fsid: [self.fs.dev as i32, (self.fs.dev >> 32) as i32],
            f_namelen: NAME_MAX as i64,
            f_frsize: 4096,
            ..Default::default()
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// O_TMPFILE files (by dev, ino) that linkat may still give a name.
static LINKABLE: Mutex<std::collections::BTreeSet<(u64, u64)>> = Mutex::new(std::collections::BTreeSet::new());

/// Marks an unnamed O_TMPFILE file as linkable (Linux's I_LINKABLE).
pub fn mark_linkable(inode: &TmpfsInode) {
    lock(&LINKABLE).insert((inode.dev(), inode.ino()));
}

fn take_linkable(dev: u64, ino: u64) -> bool {
    lock(&LINKABLE).remove(&(dev, ino))
}
