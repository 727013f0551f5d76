//! Opening /proc/[pid]/fd/N of a file that has no path. Linux opens a new
//! open file description of the same object: a pipe's read or write side
//! (bash's `<(cmd)` hands out /dev/fd/63 this way), a memfd's inode. Other
//! anonymous objects (sockets, epoll, eventfd) cannot be reopened: ENXIO.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use super::host::HostStream;
use super::pipe::{fifo, PipeEnd};
use crate::vfs::{Attr, Dentry, Errno, FileOps, Inode, Location, Mount, MountFlags, OpenFile, SetAttr, VfsResult};

/// The pseudo mount anonymous files are reopened on (Linux's pipefs/anon_inodefs).
fn anon_mount() -> Arc<Mount> {
    static MOUNT: OnceLock<Arc<Mount>> = OnceLock::new();
    MOUNT
        .get_or_init(|| {
            let root = Dentry::new_anon(b"anon", Arc::new(Unopenable));
            Mount::new(root, None, MountFlags::default(), "anon_inodefs", "anon_inodefs")
        })
        .clone()
}

/// Where /proc/[pid]/fd/N of `file` leads when `file` has no path.
pub fn location_for(file: &Arc<OpenFile>) -> VfsResult<Location> {
    let inode: Arc<dyn Inode> = match file.inode() {
        Some(i) => i.clone(),
        None => Arc::new(Reopen { ops: file.ops().clone() }),
    };
    Ok(Location::new(anon_mount(), Dentry::new_anon(b"", inode)))
}

/// Opens `loc` if it is a reopened anonymous file: a new open file
/// description named as the original is (e.g. "pipe:[N]"). None otherwise.
pub fn open(loc: &Location, flags: i32) -> Option<VfsResult<Arc<OpenFile>>> {
    if !Arc::ptr_eq(&loc.mount, &anon_mount()) {
        return None;
    }
    let r = loc.inode().as_any().downcast_ref::<Reopen>()?;
    Some(r.open(flags).map(|ops| {
        let name = if r.ops.as_any().is::<PipeEnd>() {
            format!("pipe:[{}]", r.ops.attr().map(|a| a.ino).unwrap_or(0))
        } else {
            "host:[reopened]".to_string()
        };
        OpenFile::new_anon(ops, None, flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC), name)
    }))
}

/// An anonymous file seen as an inode only so it can be opened again.
struct Reopen {
    ops: Arc<dyn FileOps>,
}

impl Inode for Reopen {
    fn attr(&self) -> VfsResult<Attr> {
        self.ops.attr()
    }

    /// O_TRUNC of a reopened host file truncates it, as natively (`> /dev/stdout`).
    fn setattr(&self, change: &SetAttr) -> VfsResult<()> {
        match (change.size, self.ops.host_fd()) {
            (Some(size), Some(fd)) if self.ops.as_any().is::<HostStream>() => {
                // SAFETY: ftruncate on a host fd the sentry holds.
                if unsafe { libc::ftruncate(fd, size as i64) } < 0 {
                    return Err(Errno::last());
                }
                Ok(())
            }
            _ => Err(Errno::EPERM),
        }
    }

    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        let acc = flags & libc::O_ACCMODE;
        if let Some(end) = self.ops.as_any().downcast_ref::<PipeEnd>() {
            return Ok(fifo::reopen(end, acc)? as Arc<dyn FileOps>);
        }
        // Inherited stdio (a host pipe, file or terminal): a new host description
        // of the same object, as /proc/self/fd/N gives natively.
        if self.ops.as_any().is::<HostStream>() {
            let fd = self.ops.host_fd().ok_or(Errno::ENXIO)?;
            return Ok(Arc::new(HostStream::owned(reopen_host_fd(fd, acc)?)));
        }
        Err(Errno::ENXIO)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The pseudo mount's root: nothing to open there.
struct Unopenable;

impl Inode for Unopenable {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr { mode: crate::vfs::S_IFDIR | 0o500, nlink: 1, ..Default::default() })
    }

    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Err(Errno::ENXIO)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A new host open file description of whatever host fd `fd` refers to.
/// (Through the pre-opened procfs: the confined sentry opens no host path.)
fn reopen_host_fd(fd: std::os::fd::RawFd, acc: i32) -> VfsResult<std::os::fd::OwnedFd> {
    crate::confine::open_host_proc(&format!("self/fd/{fd}"), acc)
}
