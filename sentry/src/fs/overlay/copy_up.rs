//! Copy-up: giving a lower object (and its missing ancestors) an upper copy
//! with the same data, owner, mode and times.

use std::sync::Arc;

use super::{lock, OvlInode, ParentRef, COPY_CHUNK};
use crate::vfs::{CreateArgs, Errno, FileOps, FsCreds, Inode, SetAttr, TimeSet, VfsResult, S_IFDIR, S_IFLNK, S_IFREG};

impl OvlInode {
    /// Copies this object (and missing ancestors) up; returns the upper object.
    pub(super) fn copy_up(&self, skip_data: bool) -> VfsResult<Arc<dyn Inode>> {
        if let Some(u) = self.upper() {
            return Ok(u);
        }
        let _g = lock(&self.fs.lock);
        self.copy_up_locked(skip_data)
    }

    pub(super) fn copy_up_locked(&self, skip_data: bool) -> VfsResult<Arc<dyn Inode>> {
        if let Some(u) = self.upper() {
            return Ok(u);
        }
        // Ancestors lacking an upper copy, nearest first; iterative so deep
        // paths cannot exhaust the stack.
        let mut chain = vec![self.strong()?];
        let mut parent_upper = loop {
            let top = chain.last().ok_or(Errno::EIO)?;
            if top.unlinked() {
                return Err(Errno::ENOENT);
            }
            // The root always has an upper, so a missing parent means a detached object.
            let p = top.parent().ok_or(Errno::ENOENT)?;
            if let Some(pu) = p.upper() {
                break pu;
            }
            chain.push(p);
        };
        let mut result = None;
        while let Some(node) = chain.pop() {
            let is_self = chain.is_empty();
            let up = node.copy_up_one(&parent_upper, skip_data && is_self)?;
            parent_upper = up.clone();
            result = Some(up);
        }
        result.ok_or(Errno::EIO)
    }

    /// Creates the upper copy of this object in `parent_upper`.
    fn copy_up_one(&self, parent_upper: &Arc<dyn Inode>, skip_data: bool) -> VfsResult<Arc<dyn Inode>> {
        if let Some(u) = self.upper() {
            return Ok(u);
        }
        let lower = self.lower.clone().ok_or(Errno::EIO)?;
        let la = lower.attr()?;
        let name = lock(&self.link).name.clone();
        let creds = FsCreds { uid: la.uid, gid: la.gid, groups: Vec::new() };
        let perm = la.mode & 0o7777;
        let parent_before = parent_upper.attr().ok();
        let args = |mode: u32, rdev: u64, flags: i32| CreateArgs { mode, rdev, flags, creds: &creds };
        let up: Arc<dyn Inode> = match la.file_type() {
            S_IFDIR => parent_upper.mkdir(&name, &args(S_IFDIR | perm, 0, 0))?,
            S_IFREG => {
                let (u, ops) = parent_upper.create(&name, &args(S_IFREG | perm, 0, libc::O_RDWR))?;
                if !skip_data {
                    if let Err(e) = copy_data(&lower, &ops, la.size) {
                        // Leave no half-copied file behind.
                        let _ = parent_upper.unlink(&name);
                        return Err(e);
                    }
                }
                u
            }
            S_IFLNK => parent_upper.symlink(&name, &lower.readlink()?, &creds)?,
            _ => parent_upper.mknod(&name, &args(la.mode, la.rdev, 0))?,
        };
        let mut sa = SetAttr {
            uid: Some(la.uid),
            gid: Some(la.gid),
            atime: Some(TimeSet::At(la.atime)),
            mtime: Some(TimeSet::At(la.mtime)),
            ..Default::default()
        };
        if la.file_type() != S_IFLNK {
            // Again: creation may have dropped set-ID bits.
            sa.mode = Some(perm);
        }
        let mut r = up.setattr(&sa);
        // Extended attributes come along, as with overlayfs (none from a lower
        // layer that stores none).
        for name in lower.listxattr().unwrap_or_default() {
            if r.is_err() {
                break;
            }
            if let Ok(v) = lower.getxattr(&name) {
                r = up.setxattr(&name, &v, 0).or_else(|e| if e == Errno::EOPNOTSUPP { Ok(()) } else { Err(e) });
            }
        }
        if r.is_err() && la.file_type() != S_IFLNK {
            let _ = if la.is_dir() { parent_upper.rmdir(&name) } else { parent_upper.unlink(&name) };
            r?;
        }
        // A copy-up is not a change of the parent directory (as in Linux).
        if let Some(b) = parent_before {
            let _ = parent_upper.setattr(&SetAttr {
                atime: Some(TimeSet::At(b.atime)),
                mtime: Some(TimeSet::At(b.mtime)),
                ..Default::default()
            });
        }
        *lock(&self.upper) = Some(up.clone());
        // Now it carries state: pin it in the parent's cache, and make the
        // parent link weak so the two do not keep each other alive.
        let parent = {
            let mut l = lock(&self.link);
            let p = l.parent.get();
            if let Some(p) = &p {
                l.parent = ParentRef::Weak(Arc::downgrade(p));
            }
            p
        };
        if let (Some(p), Some(me)) = (parent, self.me.upgrade()) {
            lock(&p.dir).insert(&name, &me);
        }
        Ok(up)
    }
}

/// Copies a lower file's data into a new upper file, leaving holes for zero runs.
fn copy_data(lower: &Arc<dyn Inode>, dst: &Arc<dyn FileOps>, size_hint: u64) -> VfsResult<()> {
    let src = lower.open(libc::O_RDONLY)?;
    let cap = usize::try_from(size_hint).unwrap_or(COPY_CHUNK).clamp(4096, COPY_CHUNK);
    let mut buf = vec![0u8; cap];
    let mut off = 0u64;
    loop {
        let n = match src.read(&mut buf, off) {
            Ok(0) => break,
            Ok(n) => n.min(buf.len()),
            Err(e) if e == Errno::EINTR => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        if chunk.iter().any(|&b| b != 0) {
            let mut done = 0;
            while done < n {
                match dst.write(&chunk[done..], off + done as u64) {
                    Ok(0) => return Err(Errno::EIO),
                    Ok(w) => done += w,
                    Err(e) if e == Errno::EINTR => {}
                    Err(e) => return Err(e),
                }
            }
        }
        off += n as u64;
    }
    // Sets the length, covering a trailing zero run that was skipped.
    dst.truncate(off)
}
