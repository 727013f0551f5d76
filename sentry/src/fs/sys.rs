//! Small synthetic file systems for the OCI mounts the sentry provides
//! without a host counterpart: sysfs (the few files programs commonly read,
//! all describing the sandbox, never the host), the read-only cgroup view,
//! devpts and mqueue.
//!
//! Everything here is read-only and built from sandbox state: the CPUs the
//! sandbox may use, its own message queues, its own terminal.

use std::any::Any;
use std::sync::Arc;

use super::tmpfs::new_anon_dev;
use crate::vfs::{
    dtype_of_mode, next_synthetic_ino, now, Attr, DirEntry, Errno, FileOps, Inode, StatFs, Timespec, VfsResult,
    S_IFDIR, S_IFLNK, S_IFREG,
};

/// `f_type` values of statfs(2).
const SYSFS_MAGIC: i64 = 0x6265_6572;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const MQUEUE_MAGIC: i64 = 0x1980_0202;

/// The sandbox's /dev/pts/0: opens the sandbox's terminal.
pub use super::pty::devpts::ConsoleOpener;

/// One node of a synthetic tree, before it becomes inodes.
pub enum Node {
    Dir(Vec<(&'static str, Node)>),
    File(Vec<u8>),
    Link(&'static str),
}

fn file(s: impl Into<String>) -> Node {
    Node::File(s.into().into_bytes())
}

fn empty() -> Node {
    Node::Dir(Vec::new())
}

/// Shared by every inode of one mounted tree.
struct Fs {
    dev: u64,
    magic: i64,
    time: Timespec,
}

struct SynthInode {
    fs: Arc<Fs>,
    ino: u64,
    mode: u32,
    kind: Kind,
}

enum Kind {
    Dir(Vec<(Vec<u8>, Arc<dyn Inode>)>),
    File(Vec<u8>),
    Link(&'static str),
}

fn build(fs: &Arc<Fs>, node: Node) -> Arc<dyn Inode> {
    let (mode, kind) = match node {
        Node::Dir(children) => {
            let list = children.into_iter().map(|(n, c)| (n.as_bytes().to_vec(), build(fs, c))).collect();
            (S_IFDIR | 0o555, Kind::Dir(list))
        }
        Node::File(data) => (S_IFREG | 0o444, Kind::File(data)),
        Node::Link(target) => (S_IFLNK | 0o777, Kind::Link(target)),
    };
    Arc::new(SynthInode { fs: fs.clone(), ino: next_synthetic_ino(), mode, kind })
}

/// Builds a read-only tree whose statfs reports `magic`.
pub fn new_tree(root: Node, magic: i64) -> Arc<dyn Inode> {
    let fs = Arc::new(Fs { dev: new_anon_dev(), magic, time: now() });
    build(&fs, root)
}

/// The open contents of a synthetic file (fixed at open).
struct Content(Vec<u8>);

impl FileOps for Content {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        let off = off.min(self.0.len() as u64) as usize;
        let n = buf.len().min(self.0.len() - off);
        buf[..n].copy_from_slice(&self.0[off..off + n]);
        Ok(n)
    }
    fn write(&self, _buf: &[u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EACCES)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Inode for SynthInode {
    fn attr(&self) -> VfsResult<Attr> {
        let t = self.fs.time;
        let (nlink, size) = match &self.kind {
            Kind::Dir(list) => (2 + list.iter().filter(|(_, i)| i.attr().is_ok_and(|a| a.is_dir())).count() as u64, 0),
            Kind::File(d) => (1, d.len() as u64),
            Kind::Link(t) => (1, t.len() as u64),
        };
        Ok(Attr {
            ino: self.ino,
            dev: self.fs.dev,
            mode: self.mode,
            nlink,
            size,
            blksize: 4096,
            atime: t,
            mtime: t,
            ctime: t,
            ..Default::default()
        })
    }
    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        match &self.kind {
            Kind::Dir(list) => list.iter().find(|(n, _)| n == name).map(|(_, i)| i.clone()).ok_or(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }
    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        let Kind::Dir(list) = &self.kind else { return Err(Errno::ENOTDIR) };
        Ok(list
            .iter()
            .map(|(name, i)| {
                let a = i.attr().unwrap_or_default();
                DirEntry { ino: a.ino, d_type: dtype_of_mode(a.mode), name: name.clone() }
            })
            .collect())
    }
    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        match &self.kind {
            Kind::Dir(_) => Ok(Arc::new(crate::vfs::DirHandle)),
            Kind::File(d) => {
                // Like sysfs attributes without a store method.
                if flags & libc::O_ACCMODE != libc::O_RDONLY {
                    return Err(Errno::EACCES);
                }
                Ok(Arc::new(Content(d.clone())))
            }
            Kind::Link(_) => Err(Errno::ELOOP),
        }
    }
    fn readlink(&self) -> VfsResult<Vec<u8>> {
        match &self.kind {
            Kind::Link(t) => Ok(t.as_bytes().to_vec()),
            _ => Err(Errno::EINVAL),
        }
    }
    fn statfs(&self) -> VfsResult<StatFs> {
        Ok(StatFs { f_type: self.fs.magic, f_bsize: 4096, f_namelen: 255, f_frsize: 4096, ..Default::default() })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// "0-3,6": Linux's cpulist format.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    out.join(",")
}

/// sysfs: the CPU files glibc, nproc, lscpu and language runtimes read (the
/// sandbox's CPUs), the usual top-level directories, and an empty
/// /sys/fs/cgroup for a cgroup mount to cover.
pub fn new_sysfs(cpus: &[usize]) -> Arc<dyn Inode> {
    let list = format!("{}\n", cpu_list(cpus));
    // glibc's get_nprocs_conf counts cpuN directories; "possible" and
    // "present" are the same set: the sandbox has no hot-plug.
    let mut cpu: Vec<(&'static str, Node)> =
        vec![("online", file(&list)), ("possible", file(&list)), ("present", file(&list)), ("offline", file("\n"))];
    for &c in cpus {
        let name: &'static str = Box::leak(format!("cpu{c}").into_boxed_str());
        cpu.push((name, Node::Dir(vec![("online", file("1\n"))])));
    }
    let node0 = Node::Dir(vec![("cpulist", file(&list))]);
    let root = Node::Dir(vec![
        ("block", empty()),
        ("bus", empty()),
        ("class", Node::Dir(vec![("net", empty())])),
        ("dev", Node::Dir(vec![("block", empty()), ("char", empty())])),
        (
            "devices",
            Node::Dir(vec![(
                "system",
                Node::Dir(vec![
                    ("cpu", Node::Dir(cpu)),
                    (
                        "node",
                        Node::Dir(vec![
                            ("online", file("0\n")),
                            ("possible", file("0\n")),
                            ("has_cpu", file("0\n")),
                            ("node0", node0),
                        ]),
                    ),
                ]),
            )]),
        ),
        ("firmware", empty()),
        ("fs", Node::Dir(vec![("cgroup", empty())])),
        (
            "kernel",
            Node::Dir(vec![(
                "mm",
                Node::Dir(vec![(
                    "transparent_hugepage",
                    Node::Dir(vec![
                        ("enabled", file("always [madvise] never\n")),
                        ("hpage_pmd_size", file("2097152\n")),
                    ]),
                )]),
            )]),
        ),
        ("module", empty()),
        ("power", empty()),
    ]);
    new_tree(root, SYSFS_MAGIC)
}

/// The cgroup mount: a read-only cgroup2-looking directory with the files
/// tools probe for, describing no limits (the sandbox's real limits are
/// applied from outside, on the sentry's host cgroup).
pub fn new_cgroupfs() -> Arc<dyn Inode> {
    let root = Node::Dir(vec![
        ("cgroup.controllers", file("\n")),
        ("cgroup.subtree_control", file("\n")),
        ("cgroup.procs", file("")),
        ("cgroup.type", file("domain\n")),
        ("cpu.max", file("max 100000\n")),
        ("memory.max", file("max\n")),
        ("pids.max", file("max\n")),
    ]);
    new_tree(root, CGROUP2_SUPER_MAGIC)
}

/// devpts: `ptmx` allocating pseudo-terminal pairs, their slaves, and
/// `0` opening the sandbox's terminal when it has one (see fs::pty).
pub fn new_devpts(console: Option<ConsoleOpener>) -> Arc<dyn Inode> {
    super::pty::devpts::new_devpts(console)
}

pub use mqueue_fs::new_mqueuefs;

mod mqueue_fs {
    use super::*;
    use crate::syscalls::ipc::mqueue;

    /// /dev/mqueue: the sandbox's POSIX message queues, each a file whose
    /// content is its status line, as on Linux. Removing a file unlinks the
    /// queue.
    struct MqDir {
        ino: u64,
        dev: u64,
        time: Timespec,
    }

    struct MqNode {
        dev: u64,
        name: Vec<u8>,
    }

    impl MqNode {
        fn info(&self) -> VfsResult<mqueue::QueueInfo> {
            mqueue::queue_info(&self.name).ok_or(Errno::ENOENT)
        }
    }

    fn ino_of(name: &[u8]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name {
            h = (h ^ *b as u64).wrapping_mul(0x1000_0000_01b3);
        }
        h | 1 << 41
    }

    impl Inode for MqNode {
        fn attr(&self) -> VfsResult<Attr> {
            let q = self.info()?;
            let t = now();
            Ok(Attr {
                ino: ino_of(&self.name),
                dev: self.dev,
                mode: S_IFREG | (q.mode & 0o777),
                nlink: 1,
                uid: q.uid,
                gid: q.gid,
                size: 80,
                blksize: 4096,
                atime: t,
                mtime: t,
                ctime: t,
                ..Default::default()
            })
        }
        fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
            if flags & libc::O_ACCMODE != libc::O_RDONLY {
                return Err(Errno::EACCES);
            }
            Ok(Arc::new(Content(self.info()?.status)))
        }
        fn cacheable(&self) -> bool {
            false
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    impl Inode for MqDir {
        fn attr(&self) -> VfsResult<Attr> {
            Ok(Attr {
                ino: self.ino,
                dev: self.dev,
                mode: S_IFDIR | 0o1777,
                nlink: 2,
                blksize: 4096,
                atime: self.time,
                mtime: self.time,
                ctime: self.time,
                ..Default::default()
            })
        }
        fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
            mqueue::queue_info(name).ok_or(Errno::ENOENT)?;
            Ok(Arc::new(MqNode { dev: self.dev, name: name.to_vec() }))
        }
        fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
            Ok(mqueue::queue_names()
                .into_iter()
                .map(|name| DirEntry { ino: ino_of(&name), d_type: crate::vfs::DT_REG, name })
                .collect())
        }
        fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
            Ok(Arc::new(crate::vfs::DirHandle))
        }
        fn unlink(&self, name: &[u8]) -> VfsResult<()> {
            // The VFS has checked write access to this sticky directory.
            mqueue::remove(name)
        }
        fn cacheable(&self) -> bool {
            false
        }
        fn statfs(&self) -> VfsResult<StatFs> {
            Ok(StatFs { f_type: MQUEUE_MAGIC, f_bsize: 4096, f_namelen: 255, f_frsize: 4096, ..Default::default() })
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    pub fn new_mqueuefs() -> Arc<dyn Inode> {
        Arc::new(MqDir { ino: next_synthetic_ino(), dev: new_anon_dev(), time: now() })
    }
}

#[cfg(test)]
mod tests;
