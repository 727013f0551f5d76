//! devpts: `ptmx` (allocates a pair), `0` for the sandbox's inherited
//! terminal when it has one, and `N` for every pair whose master is open.
//! The listing is live, so lookups are never cached.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::{devpts_dev, lock, Pty};
use crate::fs::tmpfs::makedev;
use crate::vfs::{
    now, Attr, DirEntry, Errno, FileOps, Inode, SetAttr, StatFs, Timespec, VfsResult, DT_CHR, S_IFCHR, S_IFDIR, S_IFMT,
};

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// Opens the sandbox's inherited terminal (/dev/pts/0).
pub type ConsoleOpener = crate::fs::dev::TtyOpener;

/// Set once a devpts shows an inherited terminal as "0" (which keeps
/// index 0 from the pty driver's pairs).
static HAS_CONSOLE: AtomicBool = AtomicBool::new(false);

/// Whether "0" is an inherited terminal rather than a pair.
pub fn has_console() -> bool {
    HAS_CONSOLE.load(Ordering::SeqCst)
}

/// Builds a devpts directory. All instances show the same pairs.
pub fn new_devpts(console: Option<ConsoleOpener>) -> Arc<dyn Inode> {
    if console.is_some() {
        HAS_CONSOLE.store(true, Ordering::SeqCst);
    }
    let time = now();
    let console = console.map(|open| Arc::new(ConsoleNode { open, time }));
    Arc::new(DevptsDir { ptmx: Arc::new(PtmxNode { ino: 2, dev: devpts_dev(), time }), console, time })
}

struct DevptsDir {
    ptmx: Arc<PtmxNode>,
    console: Option<Arc<ConsoleNode>>,
    time: Timespec,
}

/// "12" → 12; no signs, leading zeros or other spellings.
fn parse_index(name: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(name).ok()?;
    let n: u32 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

impl Inode for DevptsDir {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr {
            ino: 1,
            dev: devpts_dev(),
            mode: S_IFDIR | 0o755,
            nlink: 2,
            blksize: 1024,
            atime: self.time,
            mtime: self.time,
            ctime: self.time,
            ..Default::default()
        })
    }

    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        if name == b"ptmx" {
            return Ok(self.ptmx.clone());
        }
        match (parse_index(name), &self.console) {
            (Some(0), Some(c)) => Ok(c.clone()),
            (Some(i), _) => {
                let pty = super::lookup(i).ok_or(Errno::ENOENT)?;
                Ok(Arc::new(PtsNode { pty: Arc::downgrade(&pty) }))
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        let mut out = vec![DirEntry { ino: 2, d_type: DT_CHR, name: b"ptmx".to_vec() }];
        if let Some(c) = &self.console {
            let ino = c.attr().map(|a| a.ino).unwrap_or(3);
            out.push(DirEntry { ino, d_type: DT_CHR, name: b"0".to_vec() });
        }
        for i in super::indices() {
            out.push(DirEntry { ino: i as u64 + 3, d_type: DT_CHR, name: i.to_string().into_bytes() });
        }
        Ok(out)
    }

    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Ok(Arc::new(crate::vfs::DirHandle))
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn statfs(&self) -> VfsResult<StatFs> {
        Ok(StatFs { f_type: DEVPTS_SUPER_MAGIC, f_bsize: 4096, f_namelen: 255, f_frsize: 4096, ..Default::default() })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// ptmx: every open allocates a new pair and returns its master.
struct PtmxNode {
    ino: u64,
    dev: u64,
    time: Timespec,
}

impl Inode for PtmxNode {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr {
            ino: self.ino,
            dev: self.dev,
            mode: S_IFCHR | 0o666,
            nlink: 1,
            gid: super::TTY_GID,
            rdev: makedev(5, 2),
            blksize: 4096,
            atime: self.time,
            mtime: self.time,
            ctime: self.time,
            ..Default::default()
        })
    }

    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Ok(super::allocate()?)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// /dev/pts/N of a live pair.
struct PtsNode {
    pty: Weak<Pty>,
}

impl PtsNode {
    fn pty(&self) -> VfsResult<Arc<Pty>> {
        self.pty.upgrade().ok_or(Errno::ENOENT)
    }
}

impl Inode for PtsNode {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(self.pty()?.node_attr())
    }

    fn setattr(&self, change: &SetAttr) -> VfsResult<()> {
        if change.size.is_some() {
            return Err(Errno::EINVAL);
        }
        let pty = self.pty()?;
        let mut st = lock(&pty.state);
        st.meta.apply(change)
    }

    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Ok(super::slave::open(&self.pty()?, flags, false)?)
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// /dev/pts/0: the sandbox's inherited terminal.
struct ConsoleNode {
    open: ConsoleOpener,
    time: Timespec,
}

impl Inode for ConsoleNode {
    fn attr(&self) -> VfsResult<Attr> {
        // The node is the terminal: the same device and inode as its open
        // file, so ttyname(3)'s scan of /dev/pts recognises it.
        if let Ok(a) = (self.open)().and_then(|f| f.attr()) {
            if a.mode & S_IFMT == S_IFCHR {
                return Ok(a);
            }
        }
        Ok(Attr {
            ino: 3,
            dev: devpts_dev(),
            mode: S_IFCHR | 0o620,
            nlink: 1,
            rdev: makedev(super::PTS_MAJOR, 0),
            blksize: 1024,
            atime: self.time,
            mtime: self.time,
            ctime: self.time,
            ..Default::default()
        })
    }

    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        (self.open)()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
