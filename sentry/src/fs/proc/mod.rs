//! /proc: synthetic files generated from the sentry's own task state, in
//! Linux's formats. Host pids, host paths and the sentry itself never appear:
//! numbers taken from the host (CPU times, memory use, signal masks) are
//! copied field by field, never whole files.
//!
//! * `mod.rs`: the node types (files, links, directories) and the root.
//! * `pid.rs`: /proc/[pid], /proc/[pid]/task/[tid] and what they hold.
//! * `stat.rs`: /proc/[pid]/stat, status and statm.
//! * `maps.rs`: /proc/[pid]/maps.
//! * `misc.rs`: meminfo, cpuinfo, stat, uptime, loadavg, version, mounts...
//! * `sys.rs`: /proc/sys.

pub(crate) mod maps;
mod misc;
mod pid;
mod smaps;
mod stat;
mod sys;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::kernel::{current_task, Kernel};
use crate::vfs::{
    now, Attr, DirEntry, Errno, FileOps, Inode, Location, VfsResult, DT_DIR, DT_LNK, DT_REG, S_IFDIR, S_IFLNK, S_IFREG,
};

static KERNEL: Mutex<Option<Weak<Kernel>>> = Mutex::new(None);
/// The sandbox's boot in host CLOCK_BOOTTIME clock ticks: the sentry's own
/// start. Uptime and process start times count from it, so /proc never
/// shows how long the host has been up.
static BOOT_TICKS: OnceLock<u64> = OnceLock::new();
/// Clock ticks per second (USER_HZ), the unit of /proc's times.
const HZ: u64 = 100;
const PROC_DEV: u64 = 0x16;
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Gives /proc access to the kernel it describes.
pub fn set_kernel(k: &Arc<Kernel>) {
    *KERNEL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(k));
    // Host numbers are read beneath the procfs directory the launcher handed
    // the sentry (or the host's /proc, opened now when unconfined), never
    // through a host path walked later.
    let _ = crate::confine::host_proc_fd();
    boot_ticks();
}

/// Host CLOCK_BOOTTIME now, in clock ticks.
fn boottime_ticks() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * HZ + ts.tv_nsec as u64 / (1_000_000_000 / HZ)
}

fn boot_ticks() -> u64 {
    *BOOT_TICKS.get_or_init(|| stat::HostStat::read("self").map(|h| h.field(22)).unwrap_or_else(boottime_ticks))
}

/// Clock ticks since the sandbox booted.
fn uptime_ticks() -> u64 {
    boottime_ticks().saturating_sub(boot_ticks())
}

fn kernel() -> VfsResult<Arc<Kernel>> {
    KERNEL.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|w| w.upgrade()).ok_or(Errno::ENOENT)
}

/// Reads a host /proc file (`rel` is relative to /proc, e.g. "123/stat").
fn host_read(rel: &str) -> VfsResult<Vec<u8>> {
    crate::confine::read_host_proc(rel)
}

/// Stable inode numbers per /proc path, so repeated stats agree.
fn ino_for(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x1000_0000_01b3);
    }
    h | 1 << 40
}

pub(super) type Entries = Vec<(Vec<u8>, Arc<dyn Inode>)>;
type Gen = Arc<dyn Fn() -> VfsResult<Vec<u8>> + Send + Sync>;
/// Reads up to `len` bytes at offset `off` of a file whose content is read
/// live at each read (cmdline, environ), as Linux does.
type LiveRead = Arc<dyn Fn(u64, usize) -> VfsResult<Vec<u8>> + Send + Sync>;
type Writer = Arc<dyn Fn(&[u8]) -> VfsResult<usize> + Send + Sync>;
/// (uid, gid) owning a node, asked at each stat: a process's entries follow its euid.
type Owner = Arc<dyn Fn() -> (u32, u32) + Send + Sync>;
type Lister = Arc<dyn Fn() -> VfsResult<Entries> + Send + Sync>;
type HiddenLookup = Arc<dyn Fn(&[u8]) -> Option<Arc<dyn Inode>> + Send + Sync>;

fn attr(mode: u32, ino: u64, owner: &Option<Owner>) -> Attr {
    let t = now();
    let (uid, gid) = owner.as_ref().map(|o| o()).unwrap_or((0, 0));
    Attr {
        ino,
        dev: PROC_DEV,
        mode,
        nlink: 1,
        uid,
        gid,
        blksize: 1024,
        atime: t,
        mtime: t,
        ctime: t,
        ..Default::default()
    }
}

enum Source {
    /// Generated once at open.
    Snapshot(Gen),
    Live(LiveRead),
}

/// How writing fails on a file that takes no writes: Linux differs by kind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadOnly {
    /// Files such as meminfo: write(2) fails with EIO.
    Eio,
    /// Per-process files: write(2) fails with EINVAL.
    Einval,
    /// Sysctls: opening for writing fails with EACCES, even for root.
    Eacces,
}

/// A check made when the file is opened (e.g. that the process still has memory).
type Gate = Arc<dyn Fn() -> VfsResult<()> + Send + Sync>;

/// A regular /proc file.
struct File {
    ino: u64,
    mode: u32,
    owner: Option<Owner>,
    src: Source,
    write: Option<Writer>,
    ro: ReadOnly,
    gate: Option<Gate>,
}

impl File {
    fn new(key: &str, mode: u32, src: Source) -> File {
        File { ino: ino_for(key), mode, owner: None, src, write: None, ro: ReadOnly::Eio, gate: None }
    }

    fn gated(mut self, gate: impl Fn() -> VfsResult<()> + Send + Sync + 'static) -> File {
        self.gate = Some(Arc::new(gate));
        self
    }

    fn owned(mut self, owner: &Option<Owner>) -> File {
        self.owner = owner.clone();
        self
    }

    fn writer(mut self, w: impl Fn(&[u8]) -> VfsResult<usize> + Send + Sync + 'static) -> File {
        self.write = Some(Arc::new(w));
        self
    }

    fn read_only(mut self, ro: ReadOnly) -> File {
        self.ro = ro;
        self
    }

    fn entry(self, name: &str) -> (Vec<u8>, Arc<dyn Inode>) {
        (name.as_bytes().to_vec(), Arc::new(self))
    }
}

/// Generated text, plus the file's write behaviour.
struct Content {
    data: Vec<u8>,
    write: Option<Writer>,
    ro: ReadOnly,
}

fn read_slice(data: &[u8], buf: &mut [u8], off: u64) -> usize {
    let off = off.min(data.len() as u64) as usize;
    let n = buf.len().min(data.len() - off);
    buf[..n].copy_from_slice(&data[off..off + n]);
    n
}

fn write_with(write: &Option<Writer>, ro: ReadOnly, buf: &[u8]) -> VfsResult<usize> {
    match write {
        Some(w) => w(buf),
        None if ro == ReadOnly::Einval => Err(Errno::EINVAL),
        None => Err(Errno::EIO),
    }
}

impl FileOps for Content {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        Ok(read_slice(&self.data, buf, off))
    }
    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        write_with(&self.write, self.ro, buf)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct LiveContent {
    read: LiveRead,
    ro: ReadOnly,
}

impl FileOps for LiveContent {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        let data = (self.read)(off, buf.len())?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        write_with(&None, self.ro, buf)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Inode for File {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(attr(S_IFREG | self.mode, self.ino, &self.owner))
    }
    fn open(&self, flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        if let Some(gate) = &self.gate {
            gate()?;
        }
        let writing = flags & libc::O_ACCMODE != libc::O_RDONLY;
        if writing && self.write.is_none() && self.ro == ReadOnly::Eacces {
            return Err(Errno::EACCES);
        }
        // A write-only open of a writable file need not generate the text.
        if flags & libc::O_ACCMODE == libc::O_WRONLY && self.write.is_some() {
            return Ok(Arc::new(Content { data: Vec::new(), write: self.write.clone(), ro: self.ro }));
        }
        Ok(match &self.src {
            Source::Snapshot(gen) => Arc::new(Content { data: gen()?, write: self.write.clone(), ro: self.ro }),
            Source::Live(read) => Arc::new(LiveContent { read: read.clone(), ro: self.ro }),
        })
    }
    fn cacheable(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A symlink: plain text, or a magic link resolving to a VFS location.
struct Link {
    ino: u64,
    mode: u32,
    owner: Option<Owner>,
    text: Gen,
    magic: Option<Arc<dyn Fn() -> VfsResult<Location> + Send + Sync>>,
}

impl Inode for Link {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(attr(S_IFLNK | self.mode, self.ino, &self.owner))
    }
    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Err(Errno::ELOOP)
    }
    fn readlink(&self) -> VfsResult<Vec<u8>> {
        (self.text)()
    }
    fn magic_link(&self) -> Option<VfsResult<Location>> {
        self.magic.as_ref().map(|m| m())
    }
    fn cacheable(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn text_link(
    key: &str,
    name: &str,
    f: impl Fn() -> VfsResult<Vec<u8>> + Send + Sync + 'static,
) -> (Vec<u8>, Arc<dyn Inode>) {
    let link = Link { ino: ino_for(key), mode: 0o777, owner: None, text: Arc::new(f), magic: None };
    (name.as_bytes().to_vec(), Arc::new(link))
}

fn magic_link(
    key: &str,
    name: &str,
    mode: u32,
    owner: &Option<Owner>,
    loc: impl Fn() -> VfsResult<Location> + Send + Sync + 'static,
    text: impl Fn() -> VfsResult<Vec<u8>> + Send + Sync + 'static,
) -> (Vec<u8>, Arc<dyn Inode>) {
    let link = Link { ino: ino_for(key), mode, owner: owner.clone(), text: Arc::new(text), magic: Some(Arc::new(loc)) };
    (name.as_bytes().to_vec(), Arc::new(link))
}

/// A directory whose children are computed on each lookup/readdir.
struct Dir {
    ino: u64,
    mode: u32,
    owner: Option<Owner>,
    /// Link count; None counts the subdirectories (2 + n, as Linux does).
    nlink: Option<u64>,
    list: Lister,
    /// Names found by lookup but not listed (/proc/[tid] of a thread).
    hidden: Option<HiddenLookup>,
}

impl Dir {
    fn new(key: &str, mode: u32, list: impl Fn() -> VfsResult<Entries> + Send + Sync + 'static) -> Dir {
        Dir { ino: ino_for(key), mode, owner: None, nlink: Some(2), list: Arc::new(list), hidden: None }
    }

    fn owned(mut self, owner: &Option<Owner>) -> Dir {
        self.owner = owner.clone();
        self
    }

    fn entry(self, name: &str) -> (Vec<u8>, Arc<dyn Inode>) {
        (name.as_bytes().to_vec(), Arc::new(self))
    }
}

fn dtype(i: &Arc<dyn Inode>) -> (u64, u8) {
    let a = i.attr().unwrap_or_default();
    let t = match a.mode & crate::vfs::S_IFMT {
        S_IFDIR => DT_DIR,
        S_IFLNK => DT_LNK,
        _ => DT_REG,
    };
    (a.ino, t)
}

impl Inode for Dir {
    fn attr(&self) -> VfsResult<Attr> {
        let nlink = match self.nlink {
            Some(n) => n,
            None => 2 + (self.list)()?.iter().filter(|(_, i)| i.as_any().is::<Dir>()).count() as u64,
        };
        Ok(Attr { nlink, ..attr(S_IFDIR | self.mode, self.ino, &self.owner) })
    }
    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        if let Some(i) = (self.list)()?.into_iter().find(|(n, _)| n == name).map(|(_, i)| i) {
            return Ok(i);
        }
        self.hidden.as_ref().and_then(|h| h(name)).ok_or(Errno::ENOENT)
    }
    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        Ok((self.list)()?
            .into_iter()
            .map(|(name, i)| {
                let (ino, d_type) = dtype(&i);
                DirEntry { ino, d_type, name }
            })
            .collect())
    }
    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Ok(Arc::new(crate::vfs::DirHandle))
    }
    // /proc has no negative dentries: new names fail the lookup (ENOENT) first.
    fn create(
        &self,
        _name: &[u8],
        _args: &crate::vfs::CreateArgs<'_>,
    ) -> VfsResult<(Arc<dyn Inode>, Arc<dyn FileOps>)> {
        Err(Errno::ENOENT)
    }
    fn mkdir(&self, _name: &[u8], _args: &crate::vfs::CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        Err(Errno::ENOENT)
    }
    fn mknod(&self, _name: &[u8], _args: &crate::vfs::CreateArgs<'_>) -> VfsResult<Arc<dyn Inode>> {
        Err(Errno::ENOENT)
    }
    fn symlink(&self, _name: &[u8], _target: &[u8], _creds: &crate::vfs::FsCreds) -> VfsResult<Arc<dyn Inode>> {
        Err(Errno::ENOENT)
    }
    fn cacheable(&self) -> bool {
        false
    }
    fn statfs(&self) -> VfsResult<crate::vfs::StatFs> {
        Ok(crate::vfs::StatFs {
            f_type: PROC_SUPER_MAGIC,
            f_bsize: 4096,
            f_namelen: 255,
            f_frsize: 4096,
            ..Default::default()
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A global read-only file generated at open.
fn global(name: &str, gen: impl Fn() -> VfsResult<Vec<u8>> + Send + Sync + 'static) -> (Vec<u8>, Arc<dyn Inode>) {
    File::new(name, 0o444, Source::Snapshot(Arc::new(gen))).entry(name)
}

/// The /proc root.
/// A live process's command line as /proc/[pid]/cmdline shows it (NUL-separated).
pub fn cmdline_of(tg: &crate::kernel::ThreadGroup) -> Vec<u8> {
    let layout = tg.lock().image.layout;
    let mem = crate::mm::Memory::new(tg.host_pid());
    pid::cmdline_at(&layout, |a, b| mem.read_partial(a, b), 0, 4096)
}

pub fn new_procfs() -> Arc<dyn Inode> {
    let mut root = Dir::new("", 0o555, root_entries);
    root.nlink = None;
    root.hidden = Some(Arc::new(pid::thread_dir_by_name));
    Arc::new(root)
}

/// The location the reading task sees as "/": /proc prints paths from there.
fn reader_root() -> VfsResult<Location> {
    match current_task() {
        Some(t) => Ok(t.fs().get().root),
        None => Ok(kernel()?.root.clone()),
    }
}

/// /proc/sysvipc: the sandbox's System V IPC objects.
fn sysvipc_entries() -> VfsResult<Entries> {
    use crate::syscalls::ipc;
    fn table(name: &str, gen: impl Fn() -> VfsResult<String> + Send + Sync + 'static) -> (Vec<u8>, Arc<dyn Inode>) {
        File::new(&format!("sysvipc/{name}"), 0o444, Source::Snapshot(Arc::new(move || gen().map(String::into_bytes))))
            .entry(name)
    }
    Ok(vec![
        table("msg", || Ok(ipc::msg::proc_table())),
        table("sem", || Ok(ipc::sem::proc_table())),
        table("shm", || Ok(ipc::shm::proc_table(&*kernel()?))),
    ])
}

fn root_entries() -> VfsResult<Entries> {
    let k = kernel()?;
    let mut v: Entries = vec![
        text_link("self", "self", || current_task().map(|t| t.tg.tgid.to_string().into_bytes()).ok_or(Errno::ENOENT)),
        text_link("thread-self", "thread-self", || {
            current_task().map(|t| format!("{}/task/{}", t.tg.tgid, t.tid).into_bytes()).ok_or(Errno::ENOENT)
        }),
        text_link("mounts", "mounts", || Ok(b"self/mounts".to_vec())),
        global("cpuinfo", misc::cpuinfo),
        global("filesystems", misc::filesystems),
        global("loadavg", misc::loadavg),
        global("meminfo", misc::meminfo),
        global("stat", misc::stat),
        global("uptime", misc::uptime),
        global("version", misc::version),
        Dir::new("sys", 0o555, sys::entries).entry("sys"),
        Dir::new("sysvipc", 0o555, sysvipc_entries).entry("sysvipc"),
    ];
    for g in k.all_groups() {
        if g.lock().reaped {
            continue;
        }
        v.push(pid::process_dir(&g));
    }
    Ok(v)
}
