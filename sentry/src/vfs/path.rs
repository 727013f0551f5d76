//! Path resolution: components, "..", symlinks (including /proc magic links)
//! and mount crossings, with the errno values Linux gives.

use std::sync::Arc;

use super::perm::may_search;
use super::{Errno, FsCreds, Location, MountTable, VfsResult};

/// Longest symlink chain followed before ELOOP (Linux: 40).
pub const MAX_SYMLINKS: u32 = 40;
/// Longest single component (NAME_MAX).
pub const NAME_MAX: usize = 255;

/// openat2 RESOLVE_* behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolveFlags {
    pub no_xdev: bool,
    pub no_magiclinks: bool,
    pub no_symlinks: bool,
    pub beneath: bool,
    pub in_root: bool,
}

impl ResolveFlags {
    pub fn from_openat2(resolve: u64) -> VfsResult<ResolveFlags> {
        const NO_XDEV: u64 = 0x01;
        const NO_MAGICLINKS: u64 = 0x02;
        const NO_SYMLINKS: u64 = 0x04;
        const BENEATH: u64 = 0x08;
        const IN_ROOT: u64 = 0x10;
        const CACHED: u64 = 0x20;
        if resolve & !(NO_XDEV | NO_MAGICLINKS | NO_SYMLINKS | BENEATH | IN_ROOT | CACHED) != 0 {
            return Err(Errno::EINVAL);
        }
        if resolve & BENEATH != 0 && resolve & IN_ROOT != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(ResolveFlags {
            no_xdev: resolve & NO_XDEV != 0,
            no_magiclinks: resolve & NO_MAGICLINKS != 0,
            no_symlinks: resolve & NO_SYMLINKS != 0,
            beneath: resolve & BENEATH != 0,
            in_root: resolve & IN_ROOT != 0,
        })
    }
}

/// Everything path resolution needs from the calling task.
pub struct Resolver<'a> {
    pub root: &'a Location,
    pub mounts: &'a MountTable,
    pub creds: &'a FsCreds,
    pub flags: ResolveFlags,
}

/// The parent directory and final name of a path, for create/unlink/rename.
pub struct ParentAndName {
    pub parent: Location,
    pub name: Vec<u8>,
    /// The path ended in '/' (only directories may be named so).
    pub trailing_slash: bool,
    /// The path named the root itself ("/", "//"): there is no last component.
    pub is_root: bool,
}

fn split(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(|c| c.to_vec()).collect()
}

impl<'a> Resolver<'a> {
    pub fn new(root: &'a Location, mounts: &'a MountTable, creds: &'a FsCreds) -> Resolver<'a> {
        Resolver { root, mounts, creds, flags: ResolveFlags::default() }
    }

    /// Descends through any mounts stacked on `loc`.
    fn cross_mounts(&self, loc: Location) -> VfsResult<Location> {
        if self.flags.no_xdev && self.mounts.mounted_on(&loc).is_some() {
            return Err(Errno::EXDEV);
        }
        Ok(self.mounts.topmost(loc))
    }

    /// One step up, staying inside `root`.
    fn dotdot(&self, loc: &Location, root: &Location) -> VfsResult<Location> {
        let mut cur = loc.clone();
        loop {
            if cur.same_as(root) {
                if self.flags.beneath {
                    return Err(Errno::EXDEV);
                }
                return Ok(cur);
            }
            if cur.is_mount_root() {
                match &cur.mount.mountpoint {
                    Some((pm, pd)) => {
                        if self.flags.no_xdev {
                            return Err(Errno::EXDEV);
                        }
                        cur = Location::new(pm.clone(), pd.clone());
                        continue;
                    }
                    None => return Ok(cur),
                }
            }
            let parent = cur.dentry.parent().unwrap_or_else(|| cur.dentry.clone());
            return Ok(Location::new(cur.mount.clone(), parent));
        }
    }

    /// Resolves `path` relative to `start` (used unless the path is absolute).
    pub fn resolve(&self, start: &Location, path: &[u8], follow_last: bool) -> VfsResult<Location> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let mut comps = split(path);
        if path.ends_with(b"/") {
            comps.push(b".".to_vec());
        }
        self.walk(start, path[0] == b'/', comps, follow_last)
    }

    /// Resolves all but the last component; the last is returned unresolved.
    pub fn resolve_parent(&self, start: &Location, path: &[u8]) -> VfsResult<ParentAndName> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let trailing_slash = path.len() > 1 && path.ends_with(b"/");
        let mut comps = split(path);
        let is_root = comps.is_empty();
        let name = match comps.pop() {
            Some(n) => n,
            // "/" itself: its parent is the root, its name "." (callers reject it).
            None => b".".to_vec(),
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let parent = self.walk(start, path[0] == b'/', comps, true)?;
        if !parent.attr()?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(ParentAndName { parent, name, trailing_slash, is_root })
    }

    fn walk(&self, start: &Location, absolute: bool, comps: Vec<Vec<u8>>, follow_last: bool) -> VfsResult<Location> {
        let root = if self.flags.in_root || self.flags.beneath { start.clone() } else { self.root.clone() };
        if absolute && self.flags.beneath {
            return Err(Errno::EXDEV);
        }
        let mut cur = if absolute { root.clone() } else { start.clone() };
        // Components still to walk, in reverse order (a stack).
        let mut stack: Vec<Vec<u8>> = comps.into_iter().rev().collect();
        let mut links = 0u32;
        while let Some(name) = stack.pop() {
            let is_last = stack.is_empty();
            let attr = cur.attr()?;
            if !attr.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if !may_search(&attr, self.creds) {
                return Err(Errno::EACCES);
            }
            if name == b"." {
                continue;
            }
            if name == b".." {
                cur = self.dotdot(&cur, &root)?;
                continue;
            }
            if name.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let child = cur.dentry.lookup_child(&name)?;
            let next = self.cross_mounts(Location::new(cur.mount.clone(), child))?;
            let next_attr = next.attr()?;
            if next_attr.is_symlink() && (!is_last || follow_last) {
                if self.flags.no_symlinks {
                    return Err(Errno::ELOOP);
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if let Some(target) = next.inode().magic_link() {
                    if self.flags.no_magiclinks || self.flags.beneath || self.flags.in_root {
                        return Err(Errno::ELOOP);
                    }
                    cur = target?;
                    continue;
                }
                let target = next.inode().readlink()?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                let mut tcomps = split(&target);
                if target.ends_with(b"/") {
                    tcomps.push(b".".to_vec());
                }
                stack.extend(tcomps.into_iter().rev());
                if target[0] == b'/' {
                    if self.flags.beneath {
                        return Err(Errno::EXDEV);
                    }
                    cur = root.clone();
                }
                continue;
            }
            cur = next;
        }
        Ok(cur)
    }
}

/// The absolute path of `loc` as seen from `root`, for getcwd and /proc links.
/// Returns (path, reachable): unreachable locations are outside the root.
pub fn path_of(loc: &Location, root: &Location) -> (Vec<u8>, bool) {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut cur = loc.clone();
    let mut guard = 0;
    loop {
        guard += 1;
        if guard > 4096 {
            break;
        }
        if cur.same_as(root) {
            break;
        }
        if cur.is_mount_root() {
            match &cur.mount.mountpoint {
                Some((pm, pd)) => {
                    cur = Location::new(pm.clone(), pd.clone());
                    continue;
                }
                None => {
                    let mut p = build(&parts);
                    if !Arc::ptr_eq(&cur.mount, &root.mount) {
                        return (p, false);
                    }
                    if p.is_empty() {
                        p = b"/".to_vec();
                    }
                    return (p, false);
                }
            }
        }
        parts.push(cur.dentry.name());
        match cur.dentry.parent() {
            Some(p) => cur = Location::new(cur.mount.clone(), p),
            None => return (build(&parts), false),
        }
    }
    let p = build(&parts);
    (if p.is_empty() { b"/".to_vec() } else { p }, true)
}

fn build(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts.iter().rev() {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}
