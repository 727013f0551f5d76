//! Dentries (named links to inodes, cached), mounts and locations.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::{Attr, Inode, VfsResult};

struct DentryLink {
    name: Vec<u8>,
    parent: Option<Arc<Dentry>>,
}

/// A cached name -> inode binding. The tree of dentries mirrors the directory
/// tree a mount has walked so far; ".." follows `parent`.
pub struct Dentry {
    link: Mutex<DentryLink>,
    inode: Arc<dyn Inode>,
    children: Mutex<HashMap<Vec<u8>, Arc<Dentry>>>,
    /// Set once the file was unlinked: getcwd reports "(deleted)".
    deleted: std::sync::atomic::AtomicBool,
}

impl Dentry {
    /// A root dentry for a file system.
    pub fn new_root(inode: Arc<dyn Inode>) -> Arc<Dentry> {
        Arc::new(Dentry {
            link: Mutex::new(DentryLink { name: b"/".to_vec(), parent: None }),
            inode,
            children: Mutex::new(HashMap::new()),
            deleted: Default::default(),
        })
    }

    /// A detached dentry for an object with no place in a tree (pipes, memfds).
    pub fn new_anon(name: &[u8], inode: Arc<dyn Inode>) -> Arc<Dentry> {
        Arc::new(Dentry {
            link: Mutex::new(DentryLink { name: name.to_vec(), parent: None }),
            inode,
            children: Mutex::new(HashMap::new()),
            deleted: Default::default(),
        })
    }

    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    pub fn name(&self) -> Vec<u8> {
        self.link.lock().unwrap_or_else(|e| e.into_inner()).name.clone()
    }

    pub fn parent(&self) -> Option<Arc<Dentry>> {
        self.link.lock().unwrap_or_else(|e| e.into_inner()).parent.clone()
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Relaxed)
    }

    pub fn attr(&self) -> VfsResult<Attr> {
        self.inode.attr()
    }

    /// The child `name`, from the cache or by asking the inode.
    pub fn lookup_child(self: &Arc<Self>, name: &[u8]) -> VfsResult<Arc<Dentry>> {
        let cacheable = self.inode.cacheable();
        if cacheable {
            if let Some(d) = self.children.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
                return Ok(d.clone());
            }
        }
        let inode = self.inode.lookup(name)?;
        let child = Arc::new(Dentry {
            link: Mutex::new(DentryLink { name: name.to_vec(), parent: Some(self.clone()) }),
            inode,
            children: Mutex::new(HashMap::new()),
            deleted: Default::default(),
        });
        if cacheable {
            let cached = {
                let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
                // Another task may have raced us to the same name: keep the first.
                children.entry(name.to_vec()).or_insert_with(|| child.clone()).clone()
            };
            if Arc::ptr_eq(&cached, &child) {
                reclaim::cached(&child);
            }
            return Ok(cached);
        }
        Ok(child)
    }

    /// Records a newly created child (after create/mkdir/symlink/link).
    pub fn insert_child(self: &Arc<Self>, name: &[u8], inode: Arc<dyn Inode>) -> Arc<Dentry> {
        let child = Arc::new(Dentry {
            link: Mutex::new(DentryLink { name: name.to_vec(), parent: Some(self.clone()) }),
            inode,
            children: Mutex::new(HashMap::new()),
            deleted: Default::default(),
        });
        if self.inode.cacheable() {
            self.children.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_vec(), child.clone());
            reclaim::cached(&child);
        }
        child
    }

    /// Forgets the cached child `name` (after unlink/rmdir, or to revalidate).
    pub fn remove_child(&self, name: &[u8]) {
        if let Some(d) = self.children.lock().unwrap_or_else(|e| e.into_inner()).remove(name) {
            d.deleted.store(true, Ordering::Relaxed);
        }
    }

    /// Forgets a cached child without marking it deleted.
    pub fn invalidate_child(&self, name: &[u8]) {
        self.children.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
    }

    /// Moves the cached child `old_name` to `new_parent`/`new_name` after a rename.
    pub fn move_child(self: &Arc<Self>, old_name: &[u8], new_parent: &Arc<Dentry>, new_name: &[u8]) {
        let moved = self.children.lock().unwrap_or_else(|e| e.into_inner()).remove(old_name);
        let replaced = new_parent.children.lock().unwrap_or_else(|e| e.into_inner()).remove(new_name);
        if let Some(r) = replaced {
            r.deleted.store(true, Ordering::Relaxed);
        }
        if let Some(d) = moved {
            {
                let mut link = d.link.lock().unwrap_or_else(|e| e.into_inner());
                link.name = new_name.to_vec();
                link.parent = Some(new_parent.clone());
            }
            if new_parent.inode.cacheable() {
                new_parent.children.lock().unwrap_or_else(|e| e.into_inner()).insert(new_name.to_vec(), d);
            }
        }
    }

    /// True if `self` is `other` or one of its ancestors.
    pub fn is_ancestor_of(self: &Arc<Self>, other: &Arc<Dentry>) -> bool {
        let mut cur = Some(other.clone());
        while let Some(d) = cur {
            if Arc::ptr_eq(&d, self) {
                return true;
            }
            cur = d.parent();
        }
        false
    }
}

/// Bounds the dentry cache. Every cached dentry of a gofer file pins a fid,
/// and so an fd in the gofer: an unbounded cache runs the gofer out of
/// descriptors after some thousands of distinct files (`find`, `du`, a big
/// import). Cached dentries of reclaimable inodes are queued oldest first;
/// past the limit the oldest ones that nothing else uses (no open file, cwd,
/// mount or cached child holds them) leave the cache, and a later lookup
/// walks the name again.
pub mod reclaim {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex, OnceLock, Weak};

    use super::Dentry;

    /// Cached reclaimable dentries in the order they were cached (some may
    /// have left the cache since, or died: those go when they come up).
    static QUEUE: Mutex<VecDeque<Weak<Dentry>>> = Mutex::new(VecDeque::new());

    /// Fewest and most dentries kept: a quarter of the descriptor limit (the
    /// gofer runs under the same one), so the gofer keeps room for the
    /// directories above them and for opens.
    const MIN_LIMIT: usize = 64;
    const MAX_LIMIT: usize = 16_384;

    /// How many reclaimable dentries the cache keeps.
    pub fn limit() -> usize {
        static LIMIT: OnceLock<usize> = OnceLock::new();
        *LIMIT.get_or_init(|| {
            // SAFETY: zeroed rlimit is a valid out-buffer for getrlimit.
            let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
            // SAFETY: getrlimit writes the struct passed.
            let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 { r.rlim_max } else { 1024 };
            ((max / 4) as usize).clamp(MIN_LIMIT, MAX_LIMIT)
        })
    }

    fn queue() -> std::sync::MutexGuard<'static, VecDeque<Weak<Dentry>>> {
        QUEUE.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called (with no dentry lock held) once `d` is in its parent's cache.
    pub(super) fn cached(d: &Arc<Dentry>) {
        if !d.inode.reclaimable() {
            return;
        }
        let len = {
            let mut q = queue();
            q.push_back(Arc::downgrade(d));
            q.len()
        };
        let limit = limit();
        if len > limit {
            // Trim an eighth below the limit, so trimming runs once per
            // limit/8 new dentries rather than at every one.
            trim(len - limit + limit / 8);
        }
    }

    /// What became of a queued dentry.
    enum Fate {
        /// Left the cache: dropping it (outside every lock) releases it.
        Dropped(Arc<Dentry>),
        /// Cached and in use: it stays queued.
        Busy,
        /// No longer cached (unlinked, renamed over, invalidated) or dead.
        Gone,
    }

    fn evict(w: &Weak<Dentry>) -> Fate {
        let Some(d) = w.upgrade() else { return Fate::Gone };
        let Some(parent) = d.parent() else { return Fate::Gone };
        let name = d.name();
        let mut children = parent.children.lock().unwrap_or_else(|e| e.into_inner());
        match children.get(&name) {
            Some(c) if Arc::ptr_eq(c, &d) => {}
            _ => return Fate::Gone,
        }
        // The parent's map and `d` are the only holders, and the dentry the
        // only holder of its inode. Lookups clone from the map under this
        // lock, so the counts cannot rise while it is held.
        if Arc::strong_count(&d) != 2 || Arc::strong_count(&d.inode) != 1 {
            return Fate::Busy;
        }
        children.remove(&name);
        Fate::Dropped(d)
    }

    /// Drops up to `n` unused dentries, oldest first; returns how many went.
    pub fn trim(n: usize) -> usize {
        let batch: Vec<Weak<Dentry>> = {
            let mut q = queue();
            let take = q.len();
            q.drain(..take).collect()
        };
        let (mut dropped, mut busy, mut freed) = (Vec::new(), Vec::new(), 0);
        let mut rest = batch.into_iter();
        for w in rest.by_ref() {
            match evict(&w) {
                Fate::Dropped(d) => {
                    dropped.push(d);
                    freed += 1;
                }
                Fate::Busy => busy.push(w),
                Fate::Gone => freed += 1,
            }
            if freed >= n {
                break;
            }
        }
        {
            // Busy ones go behind the untouched rest, so the next trim looks
            // at others first; new arrivals queued meanwhile stay last.
            let mut q = queue();
            let newer: Vec<_> = q.drain(..).collect();
            q.extend(rest);
            q.extend(busy);
            q.extend(newer);
        }
        let released = dropped.len();
        // Releasing a gofer fid is a round trip: no lock is held here.
        drop(dropped);
        released
    }

    /// Drops about half of the reclaimable cache (the gofer ran out of
    /// descriptors); returns how many dentries went.
    pub fn shrink() -> usize {
        let len = queue().len();
        trim(len / 2 + 1)
    }

    /// How many dentries are queued (for tests and diagnostics).
    pub fn queued() -> usize {
        queue().len()
    }
}

/// Mount flags the VFS enforces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MountFlags {
    pub readonly: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
}

/// A mounted file system instance.
pub struct Mount {
    pub id: u64,
    pub root: Arc<Dentry>,
    /// Where it is mounted: parent mount and the dentry covered. None for the root mount.
    pub mountpoint: Option<(Arc<Mount>, Arc<Dentry>)>,
    pub flags: MountFlags,
    /// File system type name as /proc/mounts shows it (e.g. "tmpfs").
    pub fstype: String,
    /// Source as /proc/mounts shows it.
    pub source: String,
    /// The mount point lies in a directory whose dentries are made afresh at
    /// each lookup (/proc): it is recognised by its name path, not identity.
    uncached_mountpoint: bool,
}

impl Mount {
    pub fn new(
        root: Arc<Dentry>,
        mountpoint: Option<(Arc<Mount>, Arc<Dentry>)>,
        flags: MountFlags,
        fstype: &str,
        source: &str,
    ) -> Arc<Mount> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let uncached_mountpoint =
            mountpoint.as_ref().and_then(|(_, d)| d.parent()).is_some_and(|p| !p.inode.cacheable());
        Arc::new(Mount {
            uncached_mountpoint,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            root,
            mountpoint,
            flags,
            fstype: fstype.to_string(),
            source: source.to_string(),
        })
    }
}

/// A place in the mounted tree: Linux's `struct path`.
#[derive(Clone)]
pub struct Location {
    pub mount: Arc<Mount>,
    pub dentry: Arc<Dentry>,
}

impl Location {
    pub fn new(mount: Arc<Mount>, dentry: Arc<Dentry>) -> Location {
        Location { mount, dentry }
    }

    pub fn inode(&self) -> &Arc<dyn Inode> {
        self.dentry.inode()
    }

    pub fn attr(&self) -> VfsResult<Attr> {
        self.dentry.attr()
    }

    pub fn same_as(&self, other: &Location) -> bool {
        Arc::ptr_eq(&self.mount, &other.mount) && Arc::ptr_eq(&self.dentry, &other.dentry)
    }

    pub fn is_mount_root(&self) -> bool {
        Arc::ptr_eq(&self.dentry, &self.mount.root)
    }
}

/// Whether two dentries name the same place: identical, or the same name
/// under the same place in a directory that does not cache its children.
fn same_place(a: &Arc<Dentry>, b: &Arc<Dentry>) -> bool {
    if Arc::ptr_eq(a, b) {
        return true;
    }
    let (pa, pb) = (a.parent(), b.parent());
    match (pa, pb) {
        (Some(pa), Some(pb)) => !pa.inode.cacheable() && a.name() == b.name() && same_place(&pa, &pb),
        _ => false,
    }
}

/// All mounts of a sandbox.
#[derive(Default)]
pub struct MountTable {
    mounts: RwLock<Vec<Arc<Mount>>>,
}

impl MountTable {
    pub fn new() -> MountTable {
        MountTable::default()
    }

    pub fn add(&self, mount: Arc<Mount>) {
        self.mounts.write().unwrap_or_else(|e| e.into_inner()).push(mount);
    }

    /// Removes a mount (umount). Returns false if it was not present.
    pub fn remove(&self, mount: &Arc<Mount>) -> bool {
        let mut mounts = self.mounts.write().unwrap_or_else(|e| e.into_inner());
        let before = mounts.len();
        mounts.retain(|m| !Arc::ptr_eq(m, mount));
        before != mounts.len()
    }

    /// The topmost mount covering `loc`, if any.
    pub fn mounted_on(&self, loc: &Location) -> Option<Arc<Mount>> {
        let mounts = self.mounts.read().unwrap_or_else(|e| e.into_inner());
        mounts
            .iter()
            .rev()
            .find(|m| match &m.mountpoint {
                Some((pm, pd)) => {
                    Arc::ptr_eq(pm, &loc.mount)
                        && (Arc::ptr_eq(pd, &loc.dentry) || m.uncached_mountpoint && same_place(pd, &loc.dentry))
                }
                None => false,
            })
            .cloned()
    }

    /// `loc`, or the root of the topmost mount stacked on it.
    pub fn topmost(&self, mut loc: Location) -> Location {
        while let Some(m) = self.mounted_on(&loc) {
            let root = m.root.clone();
            loc = Location::new(m, root);
        }
        loc
    }

    /// Snapshot of all mounts, in mount order.
    pub fn all(&self) -> Vec<Arc<Mount>> {
        self.mounts.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::any::Any;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::{reclaim, Dentry};
    use crate::vfs::{Attr, Inode, VfsResult};

    /// A reclaimable directory whose children count their drops.
    struct Node {
        dropped: Arc<AtomicUsize>,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl Inode for Node {
        fn attr(&self) -> VfsResult<Attr> {
            Ok(Attr { mode: crate::vfs::S_IFDIR | 0o755, ..Default::default() })
        }
        fn lookup(&self, _name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
            Ok(Arc::new(Node { dropped: self.dropped.clone() }))
        }
        fn open(&self, _flags: i32) -> VfsResult<Arc<dyn crate::vfs::FileOps>> {
            Err(crate::vfs::Errno::EISDIR)
        }
        fn reclaimable(&self) -> bool {
            true
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn unused_dentries_leave_the_cache_past_the_limit_and_used_ones_stay() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let root = Dentry::new_root(Arc::new(Node { dropped: dropped.clone() }));
        // Held: an open file or a cwd would hold it like this.
        let held = root.lookup_child(b"held").unwrap();
        // A directory with a cached child is in use by that child.
        let parent = root.lookup_child(b"parent").unwrap();
        let child = parent.lookup_child(b"child").unwrap();
        drop(parent);
        let n = reclaim::limit() * 2;
        for i in 0..n {
            root.lookup_child(format!("f{i}").as_bytes()).unwrap();
        }
        // Other tests share the cache: at least the surplus of ours went.
        assert!(dropped.load(Ordering::Relaxed) >= n - reclaim::limit(), "dropped {}", dropped.load(Ordering::Relaxed));
        assert!(Arc::ptr_eq(&held, &root.lookup_child(b"held").unwrap()), "a used dentry was dropped");
        let parent = root.lookup_child(b"parent").unwrap();
        assert!(Arc::ptr_eq(&child, &parent.lookup_child(b"child").unwrap()), "a directory in use was dropped");
        // Once unused, even those may go.
        drop((held, parent, child));
        let before = dropped.load(Ordering::Relaxed);
        reclaim::trim(usize::MAX);
        assert!(dropped.load(Ordering::Relaxed) >= before + 3);
    }
}
