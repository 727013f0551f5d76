//! Overlay: a writable union of a read-only lower tree (the host root through
//! the gofer, in practice) and an upper tree (a tmpfs), with Linux overlayfs
//! semantics: copy-up on modification, whiteouts on delete, merged
//! directories, opaque directories after rmdir+mkdir, EXDEV for renaming
//! directories that exist in the lower layer (no redirect_dir).
//!
//! The lower layer is never modified. Whiteouts and the overlay's inode cache
//! live in the overlay's own memory. Objects with an upper copy carry state
//! (copy-up origin, whiteouts below them) and stay pinned in their parent's
//! child cache; lower-only objects are pure functions of the lower layer and
//! are cached only while something (a dentry, an open file) uses them, so the
//! overlay never pins lower inodes (gofer fids) on its own.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::tmpfs::{new_anon_dev, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT};
use crate::vfs::{
    Attr, CreateArgs, DirEntry, Errno, FileOps, FsCreds, Inode, SetAttr, StatFs, TimeSet, VfsResult, S_IFDIR, S_IFMT,
    S_IFREG,
};

mod copy_up;
mod file;
#[cfg(test)]
mod tests;

pub use file::OvlFile;

/// `f_type` of overlayfs in statfs(2).
pub const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// Buffer size for copying file data up.
const COPY_CHUNK: usize = 1 << 20;
/// Layer tags occupy bits 56..63 of overlay inode numbers (bit 63 stays clear).
const TAG_SHIFT: u32 = 56;
const MAX_TAGS: u64 = 128;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// ENOENT becomes None; other errors pass through.
fn optional<T>(r: VfsResult<T>) -> VfsResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e == Errno::ENOENT => Ok(None),
        Err(e) => Err(e),
    }
}

/// State shared by all inodes of one overlay.
struct Ovl {
    dev: u64,
    upper_dev: u64,
    /// Serialises copy-up and namespace changes.
    lock: Mutex<()>,
    /// Underlying device -> tag mixed into inode numbers, so objects from
    /// different devices never share an overlay inode number.
    tags: Mutex<HashMap<u64, u64>>,
}

impl Ovl {
    fn tag(&self, dev: u64) -> u64 {
        let mut tags = lock(&self.tags);
        let next = tags.len() as u64 % MAX_TAGS;
        *tags.entry(dev).or_insert(next)
    }

    /// The overlay inode number of object `ino` of underlying device `dev`.
    /// The first device (the lower root's) keeps its numbers unchanged.
    fn map_ino(&self, dev: u64, ino: u64) -> u64 {
        ino ^ (self.tag(dev) << TAG_SHIFT)
    }
}

/// Link to the parent directory: strong for lower-only objects (nothing else
/// need keep their parent alive), weak for objects pinned in their parent's
/// cache (strong would be a cycle).
enum ParentRef {
    None,
    Strong(Arc<OvlInode>),
    Weak(Weak<OvlInode>),
}

impl ParentRef {
    fn get(&self) -> Option<Arc<OvlInode>> {
        match self {
            ParentRef::None => None,
            ParentRef::Strong(p) => Some(p.clone()),
            ParentRef::Weak(p) => p.upgrade(),
        }
    }
}

/// A child cache entry.
enum Cached {
    Pinned(Arc<OvlInode>),
    Unpinned(Weak<OvlInode>),
}

impl Cached {
    fn of(child: &Arc<OvlInode>) -> Cached {
        if child.upper().is_some() {
            Cached::Pinned(child.clone())
        } else {
            Cached::Unpinned(Arc::downgrade(child))
        }
    }

    fn get(&self) -> Option<Arc<OvlInode>> {
        match self {
            Cached::Pinned(c) => Some(c.clone()),
            Cached::Unpinned(c) => c.upgrade(),
        }
    }

    fn is(&self, node: &OvlInode) -> bool {
        let p = match self {
            Cached::Pinned(c) => Arc::as_ptr(c),
            Cached::Unpinned(c) => c.as_ptr(),
        };
        std::ptr::eq(p, node)
    }
}

/// Where an object sits, for copy-up and whiteouts. Changed by rename.
struct Link {
    parent: ParentRef,
    name: Vec<u8>,
    /// The lower layer has an entry at exactly this name (removing or
    /// replacing the object here must leave a whiteout).
    lower_here: bool,
    unlinked: bool,
}

#[derive(Default)]
struct DirState {
    children: HashMap<Vec<u8>, Cached>,
    /// Cache size at which dead unpinned entries are swept.
    sweep_at: usize,
    /// Names whose lower entries are hidden.
    whiteouts: HashSet<Vec<u8>>,
    /// Bumped by every namespace change, so a lookup computed without the
    /// lock can tell its answer may be stale.
    gen: u64,
}

impl DirState {
    fn get(&self, name: &[u8]) -> Option<Arc<OvlInode>> {
        self.children.get(name).and_then(Cached::get)
    }

    fn insert(&mut self, name: &[u8], child: &Arc<OvlInode>) {
        if self.children.len() >= self.sweep_at {
            self.children.retain(|_, c| c.get().is_some());
            self.sweep_at = (self.children.len() * 2).max(64);
        }
        self.children.insert(name.to_vec(), Cached::of(child));
    }
}

/// An object of the overlay.
pub struct OvlInode {
    me: Weak<OvlInode>,
    fs: Arc<Ovl>,
    ino: u64,
    /// File type bits; never change.
    ftype: u32,
    /// The lower object shown here: for directories the merged lower part (None
    /// when opaque or upper-only), for others the copy-up origin.
    lower: Option<Arc<dyn Inode>>,
    /// Device of `lower`, for inode numbers in listings.
    lower_dev: u64,
    upper: Mutex<Option<Arc<dyn Inode>>>,
    link: Mutex<Link>,
    dir: Mutex<DirState>,
}

/// Builds an overlay of `lower` (never modified) and `upper_root` (normally an
/// empty tmpfs root). The upper root takes the lower root's owner, mode and times.
pub fn new_overlay(lower: Arc<dyn Inode>, upper_root: Arc<dyn Inode>) -> Arc<dyn Inode> {
    let la = lower.attr().ok().filter(|a| a.is_dir());
    let ua = upper_root.attr().ok();
    let upper_dev = ua.map(|a| a.dev).unwrap_or(0);
    let fs = Arc::new(Ovl { dev: new_anon_dev(), upper_dev, lock: Mutex::new(()), tags: Mutex::new(HashMap::new()) });
    if let Some(a) = &la {
        fs.tag(a.dev);
        let _ = upper_root.setattr(&SetAttr {
            mode: Some(a.mode & 0o7777),
            uid: Some(a.uid),
            gid: Some(a.gid),
            atime: Some(TimeSet::At(a.atime)),
            mtime: Some(TimeSet::At(a.mtime)),
            size: None,
        });
    }
    fs.tag(upper_dev);
    let ino = match (&la, &ua) {
        (Some(a), _) | (None, Some(a)) => fs.map_ino(a.dev, a.ino),
        (None, None) => crate::vfs::next_synthetic_ino(),
    };
    let lower_dev = la.map(|a| a.dev).unwrap_or(0);
    let lower = if la.is_some() { Some(lower) } else { None };
    let link = Link { parent: ParentRef::None, name: Vec::new(), lower_here: false, unlinked: false };
    Arc::new_cyclic(|me| OvlInode {
        me: me.clone(),
        fs,
        ino,
        ftype: S_IFDIR,
        lower,
        lower_dev,
        upper: Mutex::new(Some(upper_root)),
        link: Mutex::new(link),
        dir: Mutex::new(DirState::default()),
    })
}

/// What a new overlay object is made of.
struct Parts {
    lower: Option<(Arc<dyn Inode>, Attr)>,
    upper: Option<(Arc<dyn Inode>, Attr)>,
    lower_here: bool,
    /// Fixed inode number (hard links share their target's).
    ino: Option<u64>,
}

impl OvlInode {
    fn new_child(&self, name: &[u8], p: Parts) -> VfsResult<Arc<OvlInode>> {
        let shown = p.upper.as_ref().or(p.lower.as_ref()).ok_or(Errno::ENOENT)?.1;
        let ino = match (p.ino, &p.lower, &p.upper) {
            (Some(i), _, _) => i,
            (None, Some((_, a)), _) | (None, None, Some((_, a))) => self.fs.map_ino(a.dev, a.ino),
            (None, None, None) => return Err(Errno::ENOENT),
        };
        let lower_dev = p.lower.as_ref().map(|(_, a)| a.dev).unwrap_or(0);
        let parent =
            if p.upper.is_some() { ParentRef::Weak(self.me.clone()) } else { ParentRef::Strong(self.strong()?) };
        let link = Link { parent, name: name.to_vec(), lower_here: p.lower_here, unlinked: false };
        Ok(Arc::new_cyclic(|me| OvlInode {
            me: me.clone(),
            fs: self.fs.clone(),
            ino,
            ftype: shown.mode & S_IFMT,
            lower: p.lower.map(|(i, _)| i),
            lower_dev,
            upper: Mutex::new(p.upper.map(|(i, _)| i)),
            link: Mutex::new(link),
            dir: Mutex::new(DirState::default()),
        }))
    }

    /// The overlay inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The upper-layer object, once copied up (or created in the upper layer).
    pub fn upper(&self) -> Option<Arc<dyn Inode>> {
        lock(&self.upper).clone()
    }

    /// The lower-layer object shown (directories) or copied from (others).
    pub fn lower(&self) -> Option<&Arc<dyn Inode>> {
        self.lower.as_ref()
    }

    fn is_dir(&self) -> bool {
        self.ftype == S_IFDIR
    }

    fn unlinked(&self) -> bool {
        lock(&self.link).unlinked
    }

    fn parent(&self) -> Option<Arc<OvlInode>> {
        lock(&self.link).parent.get()
    }

    fn strong(&self) -> VfsResult<Arc<OvlInode>> {
        self.me.upgrade().ok_or(Errno::ENOENT)
    }

    /// The layer object whose contents are shown.
    fn real(&self) -> VfsResult<Arc<dyn Inode>> {
        match self.upper() {
            Some(u) => Ok(u),
            None => self.lower.clone().ok_or(Errno::EIO),
        }
    }

    fn bump_gen(&self) {
        let mut d = lock(&self.dir);
        d.gen = d.gen.wrapping_add(1);
    }

    fn is_within(&self, anc: &OvlInode) -> bool {
        let mut cur = self.me.upgrade();
        for _ in 0..1_000_000 {
            let Some(node) = cur else { return false };
            if std::ptr::eq(&*node, anc) {
                return true;
            }
            cur = node.parent();
        }
        false
    }

    /// Builds the object for `name` from the layers (no cache).
    fn compute_child(&self, name: &[u8], whited_out: bool) -> VfsResult<Arc<OvlInode>> {
        let uc = match self.upper() {
            Some(u) => match optional(u.lookup(name))? {
                Some(c) => {
                    let a = c.attr()?;
                    Some((c, a))
                }
                None => None,
            },
            None => None,
        };
        let lc = match (&self.lower, whited_out) {
            (Some(l), false) => match optional(l.lookup(name))? {
                Some(c) => {
                    let a = c.attr()?;
                    Some((c, a))
                }
                None => None,
            },
            _ => None,
        };
        let lower_here = lc.is_some();
        let parts = match (uc, lc) {
            (Some(u), Some(l)) if u.1.is_dir() && l.1.is_dir() => {
                Parts { lower: Some(l), upper: Some(u), lower_here, ino: None }
            }
            (Some(u), _) => Parts { lower: None, upper: Some(u), lower_here, ino: None },
            (None, Some(l)) => Parts { lower: Some(l), upper: None, lower_here, ino: None },
            (None, None) => return Err(Errno::ENOENT),
        };
        self.new_child(name, parts)
    }

    /// The child `name`, from the cache or the layers. `held`: the caller
    /// holds the overlay lock (no namespace change can race).
    fn child(&self, name: &[u8], held: bool) -> VfsResult<Arc<OvlInode>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.unlinked() {
            return Err(Errno::ENOENT);
        }
        for _ in 0..4 {
            let (gen, whited_out) = {
                let d = lock(&self.dir);
                if let Some(c) = d.get(name) {
                    return Ok(c);
                }
                (d.gen, d.whiteouts.contains(name))
            };
            // Layer lookups may be slow (gofer round trips): run them unlocked.
            let child = self.compute_child(name, whited_out)?;
            let mut d = lock(&self.dir);
            if let Some(c) = d.get(name) {
                return Ok(c);
            }
            if held || d.gen == gen {
                d.insert(name, &child);
                return Ok(child);
            }
        }
        // Constant churn in this directory: settle it under the overlay lock.
        let _g = lock(&self.fs.lock);
        self.child(name, true)
    }

    /// Fails with EEXIST if `name` exists in the merged view.
    fn check_absent(&self, name: &[u8]) -> VfsResult<()> {
        match self.child(name, true) {
            Ok(_) => Err(Errno::EEXIST),
            Err(e) if e == Errno::ENOENT => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Records the removal of this object from its parent: drops the cache
    /// entry and whites out the lower entry if there is one.
    fn detach(&self, dir: &OvlInode, name: &[u8]) {
        let lower_here = {
            let mut l = lock(&self.link);
            l.unlinked = true;
            std::mem::replace(&mut l.lower_here, false)
        };
        let mut d = lock(&dir.dir);
        if d.children.get(name).is_some_and(|c| c.is(self)) {
            d.children.remove(name);
        }
        if lower_here {
            d.whiteouts.insert(name.to_vec());
        }
        d.gen = d.gen.wrapping_add(1);
    }

    /// Updates the directory's times after a change that touched only
    /// overlay state (a whiteout), not the upper directory itself.
    fn touch(upper_dir: &Arc<dyn Inode>) {
        let _ = upper_dir.setattr(&SetAttr { mtime: Some(TimeSet::Now), ..Default::default() });
    }

    /// Common part of create/mkdir/mknod/symlink: `make` creates in the upper dir.
    fn add_child<T>(
        &self,
        name: &[u8],
        make: impl FnOnce(&Arc<dyn Inode>) -> VfsResult<(Arc<dyn Inode>, T)>,
    ) -> VfsResult<(Arc<OvlInode>, T)> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let _g = lock(&self.fs.lock);
        if self.unlinked() {
            return Err(Errno::ENOENT);
        }
        self.check_absent(name)?;
        let upper = self.copy_up_locked(false)?;
        self.bump_gen();
        let (ui, extra) = make(&upper)?;
        let ua = ui.attr()?;
        // Any lower entry under this name is already whited out (or absent).
        let child = self.new_child(name, Parts { lower: None, upper: Some((ui, ua)), lower_here: false, ino: None })?;
        let mut d = lock(&self.dir);
        d.insert(name, &child);
        d.gen = d.gen.wrapping_add(1);
        Ok((child, extra))
    }

    fn wrap(self: &Arc<Self>, inner: Arc<dyn FileOps>) -> Arc<dyn FileOps> {
        Arc::new(OvlFile { inner, inode: self.clone() })
    }
}

impl Inode for OvlInode {
    fn attr(&self) -> VfsResult<Attr> {
        let upper = self.upper();
        let mut a = match &upper {
            Some(u) => u.attr()?,
            None => self.lower.as_ref().ok_or(Errno::EIO)?.attr()?,
        };
        a.dev = self.fs.dev;
        a.ino = self.ino;
        if a.is_dir() && upper.is_some() && self.lower.is_some() {
            // Subdirectories of a merged directory cannot be counted cheaply;
            // 1 tells tools like find not to rely on the count (as overlayfs).
            a.nlink = 1;
        }
        Ok(a)
    }

    fn setattr(&self, change: &SetAttr) -> VfsResult<()> {
        // Truncating to zero needs no data copy (open with O_TRUNC).
        let upper = self.copy_up(change.size == Some(0))?;
        upper.setattr(change)
    }

    fn getxattr(&self, name: &[u8]) -> VfsResult<Vec<u8>> {
        match (self.upper(), &self.lower) {
            (Some(u), _) => u.getxattr(name),
            (None, Some(l)) => l.getxattr(name),
            (None, None) => Err(Errno::ENODATA),
        }
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: i32) -> VfsResult<()> {
        self.copy_up(false)?.setxattr(name, value, flags)
    }

    fn listxattr(&self) -> VfsResult<Vec<Vec<u8>>> {
        match (self.upper(), &self.lower) {
            (Some(u), _) => u.listxattr(),
            (None, Some(l)) => l.listxattr(),
            (None, None) => Ok(Vec::new()),
        }
    }

    fn removexattr(&self, name: &[u8]) -> VfsResult<()> {
        // Nothing to copy up for a name that is not there.
        self.getxattr(name)?;
        self.copy_up(false)?.removexattr(name)
    }

    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        let c = self.child(name, false)?;
        Ok(c)
    }

    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.unlinked() {
            return Err(Errno::ENOENT);
        }
        let upper_entries = match self.upper() {
            Some(u) => u.readdir()?,
            None => Vec::new(),
        };
        let lower_entries = match &self.lower {
            Some(l) => l.readdir()?,
            None => Vec::new(),
        };
        let upper_tag = self.fs.tag(self.fs.upper_dev) << TAG_SHIFT;
        let lower_tag = if self.lower.is_some() { self.fs.tag(self.lower_dev) << TAG_SHIFT } else { 0 };
        let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(upper_entries.len());
        let mut out = Vec::with_capacity(upper_entries.len() + lower_entries.len());
        let d = lock(&self.dir);
        for mut e in upper_entries {
            e.ino = d.get(&e.name).map(|c| c.ino).unwrap_or(e.ino ^ upper_tag);
            seen.insert(e.name.clone());
            out.push(e);
        }
        for mut e in lower_entries {
            if d.whiteouts.contains(&e.name) || seen.contains(&e.name) {
                continue;
            }
            e.ino = d.get(&e.name).map(|c| c.ino).unwrap_or(e.ino ^ lower_tag);
            out.push(e);
        }
        Ok(out)
    }

    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        if self.is_dir() {
            // Listing goes through the inode: no need to open a layer directory.
            return Ok(Arc::new(crate::vfs::DirHandle));
        }
        let me = self.strong()?;
        let acc = flags & libc::O_ACCMODE;
        let inner = match self.upper() {
            Some(u) => u.open(flags)?,
            None if self.ftype == S_IFREG && (acc == libc::O_WRONLY || acc == libc::O_RDWR) => {
                self.copy_up(false)?.open(flags)?
            }
            // Read-only (or a special file): the lower file itself, no copy.
            None => self.lower.as_ref().ok_or(Errno::EIO)?.open(flags)?,
        };
        Ok(me.wrap(inner))
    }

    fn readlink(&self) -> VfsResult<Vec<u8>> {
        self.real()?.readlink()
    }

    fn create(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<(Arc<dyn Inode>, Arc<dyn FileOps>)> {
        let (child, ops) = self.add_child(name, |u| u.create(name, args))?;
        let ops = child.wrap(ops);
        Ok((child, ops))
    }

    fn mknod(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        let (child, ()) = self.add_child(name, |u| Ok((u.mknod(name, args)?, ())))?;
        Ok(child)
    }

    fn mkdir(&self, name: &[u8], args: &CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        // The new directory has no lower part: opaque even where a lower
        // directory of this name was removed.
        let (child, ()) = self.add_child(name, |u| Ok((u.mkdir(name, args)?, ())))?;
        Ok(child)
    }

    fn symlink(&self, name: &[u8], target: &[u8], creds: &FsCreds) -> VfsResult<Arc<dyn Inode>> {
        let (child, ()) = self.add_child(name, |u| Ok((u.symlink(name, target, creds)?, ())))?;
        Ok(child)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> VfsResult<()> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let t = target.as_any().downcast_ref::<OvlInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        if t.is_dir() {
            return Err(Errno::EPERM);
        }
        let _g = lock(&self.fs.lock);
        if self.unlinked() {
            return Err(Errno::ENOENT);
        }
        self.check_absent(name)?;
        // Linux overlayfs copies the link target up too: the link lives in the upper layer.
        let tu = t.copy_up_locked(false)?;
        let upper = self.copy_up_locked(false)?;
        self.bump_gen();
        upper.link(name, &tu)?;
        let ta = tu.attr()?;
        let child =
            self.new_child(name, Parts { lower: None, upper: Some((tu, ta)), lower_here: false, ino: Some(t.ino) })?;
        let mut d = lock(&self.dir);
        d.insert(name, &child);
        d.gen = d.gen.wrapping_add(1);
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> VfsResult<()> {
        let _g = lock(&self.fs.lock);
        let child = self.child(name, true)?;
        if child.is_dir() {
            return Err(Errno::EISDIR);
        }
        let upper = self.copy_up_locked(false)?;
        self.bump_gen();
        if child.upper().is_some() {
            upper.unlink(name)?;
        } else {
            Self::touch(&upper);
        }
        child.detach(self, name);
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> VfsResult<()> {
        let _g = lock(&self.fs.lock);
        let child = self.child(name, true)?;
        if !child.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        // Emptiness of the merged view: whited-out lower entries do not count.
        if !child.readdir()?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let upper = self.copy_up_locked(false)?;
        self.bump_gen();
        if child.upper().is_some() {
            upper.rmdir(name)?;
        } else {
            Self::touch(&upper);
        }
        child.detach(self, name);
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
        let nd = new_dir.as_any().downcast_ref::<OvlInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        if !self.is_dir() || !nd.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let _g = lock(&self.fs.lock);
        if self.unlinked() || nd.unlinked() {
            return Err(Errno::ENOENT);
        }
        let src = self.child(old_name, true)?;
        let dst = optional(nd.child(new_name, true))?;
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
            }
        }
        // Directories with a lower part would need their whole tree copied up
        // (Linux overlayfs without redirect_dir): mv falls back to copying.
        if src.is_dir() && src.lower.is_some() {
            return Err(Errno::EXDEV);
        }
        if let Some(d) = &dst {
            if exchange && d.is_dir() && d.lower.is_some() {
                return Err(Errno::EXDEV);
            }
            if !exchange && d.is_dir() && !d.readdir()?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        }

        src.copy_up_locked(false)?;
        if exchange {
            if let Some(d) = &dst {
                d.copy_up_locked(false)?;
            }
        }
        let su = self.copy_up_locked(false)?;
        let du = nd.copy_up_locked(false)?;
        self.bump_gen();
        nd.bump_gen();
        // A lower-only target has no upper entry: the upper rename is then a
        // plain move, and the whiteout below hides the lower one.
        let upper_flags = if exchange { RENAME_EXCHANGE } else { 0 };
        su.rename(old_name, &du, new_name, upper_flags)?;

        let src_lower_here = std::mem::replace(&mut lock(&src.link).lower_here, false);
        let dst_lower_here = match &dst {
            Some(d) => std::mem::replace(&mut lock(&d.link).lower_here, false),
            None => false,
        };
        {
            let mut sd = lock(&self.dir);
            sd.children.remove(old_name);
            if src_lower_here {
                sd.whiteouts.insert(old_name.to_vec());
            }
            if exchange {
                if let Some(d) = &dst {
                    sd.insert(old_name, d);
                }
            }
            sd.gen = sd.gen.wrapping_add(1);
        }
        {
            let mut ndd = lock(&nd.dir);
            if dst_lower_here {
                ndd.whiteouts.insert(new_name.to_vec());
            }
            ndd.insert(new_name, &src);
            ndd.gen = ndd.gen.wrapping_add(1);
        }
        {
            let mut l = lock(&src.link);
            l.parent = ParentRef::Weak(nd.me.clone());
            l.name = new_name.to_vec();
        }
        if let Some(d) = &dst {
            let mut l = lock(&d.link);
            if exchange {
                l.parent = ParentRef::Weak(self.me.clone());
                l.name = old_name.to_vec();
            } else {
                l.unlinked = true;
            }
        }
        Ok(())
    }

    fn statfs(&self) -> VfsResult<StatFs> {
        // Space is what the upper layer has (as overlayfs).
        let mut s = match self.upper() {
            Some(u) => u.statfs()?,
            None => {
                let mut cur = self.parent();
                let mut found = None;
                while let Some(p) = cur {
                    if let Some(u) = p.upper() {
                        found = Some(u.statfs()?);
                        break;
                    }
                    cur = p.parent();
                }
                found.unwrap_or_default()
            }
        };
        s.f_type = OVERLAYFS_SUPER_MAGIC;
        Ok(s)
    }

    /// Lower-only objects are rebuilt from the layers on the next lookup;
    /// objects with state (an upper copy) are pinned by the overlay itself,
    /// so their dentries are never unused.
    fn reclaimable(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
