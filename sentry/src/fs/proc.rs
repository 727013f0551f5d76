//! /proc: synthetic files generated from the sentry's own task state. Host
//! pids and host paths never appear; contents are built at open time.

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use crate::kernel::task::ThreadGroup;
use crate::kernel::{current_task, Kernel};
use crate::vfs::path::path_of;
use crate::vfs::{
    now, Attr, DirEntry, Errno, FileOps, Inode, Location, VfsResult, DT_DIR, DT_LNK, DT_REG, S_IFDIR, S_IFLNK, S_IFREG,
};

static KERNEL: Mutex<Option<Weak<Kernel>>> = Mutex::new(None);
const PROC_DEV: u64 = 0x16;

/// Gives /proc access to the kernel it describes.
pub fn set_kernel(k: &Arc<Kernel>) {
    *KERNEL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(k));
}

fn kernel() -> VfsResult<Arc<Kernel>> {
    KERNEL.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|w| w.upgrade()).ok_or(Errno::ENOENT)
}

fn attr(mode: u32, ino: u64) -> Attr {
    let t = now();
    Attr { ino, dev: PROC_DEV, mode, nlink: 1, blksize: 1024, atime: t, mtime: t, ctime: t, ..Default::default() }
}

type Gen = Arc<dyn Fn() -> VfsResult<Vec<u8>> + Send + Sync>;

/// A read-only file whose content is generated at open.
struct GenFile {
    ino: u64,
    gen: Gen,
}

struct Content(Vec<u8>);

impl FileOps for Content {
    fn read(&self, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        let off = off.min(self.0.len() as u64) as usize;
        let n = buf.len().min(self.0.len() - off);
        buf[..n].copy_from_slice(&self.0[off..off + n]);
        Ok(n)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Inode for GenFile {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(attr(S_IFREG | 0o444, self.ino))
    }
    fn open(&self, _flags: i32) -> VfsResult<Arc<dyn FileOps>> {
        Ok(Arc::new(Content((self.gen)()?)))
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
    text: Arc<dyn Fn() -> VfsResult<Vec<u8>> + Send + Sync>,
    magic: Option<Arc<dyn Fn() -> VfsResult<Location> + Send + Sync>>,
}

impl Inode for Link {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(attr(S_IFLNK | 0o777, self.ino))
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

type Lister = Arc<dyn Fn() -> VfsResult<Entries> + Send + Sync>;

/// A directory whose children are computed on each lookup/readdir.
struct Dir {
    ino: u64,
    list: Lister,
}

impl Inode for Dir {
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr { nlink: 2, ..attr(S_IFDIR | 0o555, self.ino) })
    }
    fn lookup(&self, name: &[u8]) -> VfsResult<Arc<dyn Inode>> {
        (self.list)()?.into_iter().find(|(n, _)| n == name).map(|(_, i)| i).ok_or(Errno::ENOENT)
    }
    fn readdir(&self) -> VfsResult<Vec<DirEntry>> {
        Ok((self.list)()?
            .into_iter()
            .map(|(name, i)| {
                let a = i.attr().unwrap_or_default();
                let d_type = match a.mode & crate::vfs::S_IFMT {
                    S_IFDIR => DT_DIR,
                    S_IFLNK => DT_LNK,
                    _ => DT_REG,
                };
                DirEntry { ino: a.ino, d_type, name }
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
        Ok(crate::vfs::StatFs { f_type: 0x9fa0, f_bsize: 4096, f_namelen: 255, f_frsize: 4096, ..Default::default() })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Stable inode numbers per (pid, name) so repeated stats agree.
fn ino_for(pid: i32, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain(pid.to_ne_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x1000_0000_01b3);
    }
    h | 1 << 40
}

fn file(pid: i32, name: &str, gen: Gen) -> (Vec<u8>, Arc<dyn Inode>) {
    (name.as_bytes().to_vec(), Arc::new(GenFile { ino: ino_for(pid, name), gen }))
}

fn text_link(
    pid: i32,
    name: &str,
    f: impl Fn() -> VfsResult<Vec<u8>> + Send + Sync + 'static,
) -> (Vec<u8>, Arc<dyn Inode>) {
    (name.as_bytes().to_vec(), Arc::new(Link { ino: ino_for(pid, name), text: Arc::new(f), magic: None }))
}

fn magic_link(
    pid: i32,
    name: &str,
    loc: impl Fn() -> VfsResult<Location> + Send + Sync + 'static,
    text: impl Fn() -> VfsResult<Vec<u8>> + Send + Sync + 'static,
) -> (Vec<u8>, Arc<dyn Inode>) {
    (
        name.as_bytes().to_vec(),
        Arc::new(Link { ino: ino_for(pid, name), text: Arc::new(text), magic: Some(Arc::new(loc)) }),
    )
}

/// The /proc root.
pub fn new_procfs() -> Arc<dyn Inode> {
    Arc::new(Dir { ino: 1, list: Arc::new(root_entries) })
}

fn root_entries() -> VfsResult<Entries> {
    let k = kernel()?;
    let mut v: Vec<(Vec<u8>, Arc<dyn Inode>)> = Vec::new();
    v.push(text_link(0, "self", || current_task().map(|t| t.tg.tgid.to_string().into_bytes()).ok_or(Errno::ENOENT)));
    v.push(text_link(0, "thread-self", || {
        current_task().map(|t| format!("{}/task/{}", t.tg.tgid, t.tid).into_bytes()).ok_or(Errno::ENOENT)
    }));
    v.push(file(0, "meminfo", Arc::new(meminfo)));
    v.push(file(0, "cpuinfo", Arc::new(cpuinfo)));
    v.push(file(
        0,
        "uptime",
        Arc::new(|| {
            // SAFETY: zeroed sysinfo is a valid out-buffer.
            let mut h: libc::sysinfo = unsafe { std::mem::zeroed() };
            // SAFETY: h is valid.
            unsafe { libc::sysinfo(&mut h) };
            let e = h.uptime as f64;
            Ok(format!("{e:.2} {:.2}\n", e * 1.8).into_bytes())
        }),
    ));
    v.push(file(
        0,
        "version",
        Arc::new(|| {
            let (release, version) = host_release();
            Ok(format!("Linux version {release} (rvisor) {version}\n").into_bytes())
        }),
    ));
    v.push((b"sys".to_vec(), Arc::new(Dir { ino: ino_for(0, "sys"), list: Arc::new(sys_entries) })));
    v.push(file(0, "loadavg", Arc::new(|| Ok(b"0.00 0.00 0.00 1/1 1\n".to_vec()))));
    v.push(file(0, "mounts", Arc::new(mounts_text)));
    v.push(file(0, "filesystems", Arc::new(|| Ok(b"nodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\n".to_vec()))));
    for g in k.all_groups() {
        if g.lock().reaped {
            continue;
        }
        let pid = g.tgid;
        let gw = Arc::downgrade(&g);
        v.push((
            pid.to_string().into_bytes(),
            Arc::new(Dir { ino: ino_for(pid, ""), list: Arc::new(move || pid_entries(&gw)) }),
        ));
    }
    Ok(v)
}

fn group(w: &Weak<ThreadGroup>) -> VfsResult<Arc<ThreadGroup>> {
    w.upgrade().ok_or(Errno::ESRCH)
}

fn leader_task(g: &ThreadGroup) -> VfsResult<Arc<crate::kernel::Task>> {
    kernel()?.task_by_vtid(g.tgid).ok_or(Errno::ESRCH)
}

fn pid_entries(w: &Weak<ThreadGroup>) -> VfsResult<Entries> {
    let g = group(w)?;
    let pid = g.tgid;
    let mut v: Vec<(Vec<u8>, Arc<dyn Inode>)> = Vec::new();
    let w1 = w.clone();
    v.push(file(
        pid,
        "cmdline",
        Arc::new(move || {
            let g = group(&w1)?;
            let st = g.lock();
            Ok(st.image.argv.iter().flat_map(|a| a.iter().copied().chain([0])).collect())
        }),
    ));
    let w1 = w.clone();
    v.push(file(
        pid,
        "environ",
        Arc::new(move || {
            let g = group(&w1)?;
            let st = g.lock();
            Ok(st.image.envp.iter().flat_map(|a| a.iter().copied().chain([0])).collect())
        }),
    ));
    let w1 = w.clone();
    v.push(file(pid, "stat", Arc::new(move || stat_text(&*group(&w1)?))));
    let w1 = w.clone();
    v.push(file(pid, "status", Arc::new(move || status_text(&*group(&w1)?))));
    let w1 = w.clone();
    v.push(file(
        pid,
        "comm",
        Arc::new(move || {
            let t = leader_task(&*group(&w1)?)?;
            let mut c = t.comm();
            c.push(b'\n');
            Ok(c)
        }),
    ));
    let w1 = w.clone();
    v.push(file(pid, "maps", Arc::new(move || maps_text(&*group(&w1)?))));
    v.push(file(pid, "mounts", Arc::new(mounts_text)));
    let (w1, w2) = (w.clone(), w.clone());
    v.push(magic_link(
        pid,
        "exe",
        move || group(&w1)?.lock().image.exe.clone().ok_or(Errno::ENOENT),
        move || {
            let g = group(&w2)?;
            let exe = g.lock().image.exe.clone().ok_or(Errno::ENOENT)?;
            Ok(path_of(&exe, &kernel()?.root).0)
        },
    ));
    let (w1, w2) = (w.clone(), w.clone());
    v.push(magic_link(
        pid,
        "cwd",
        move || Ok(leader_task(&*group(&w1)?)?.fs().get().cwd),
        move || {
            let t = leader_task(&*group(&w2)?)?;
            let fs = t.fs().get();
            Ok(path_of(&fs.cwd, &fs.root).0)
        },
    ));
    let (w1, w2) = (w.clone(), w.clone());
    v.push(magic_link(
        pid,
        "root",
        move || Ok(leader_task(&*group(&w1)?)?.fs().get().root),
        move || {
            let _ = group(&w2)?;
            Ok(b"/".to_vec())
        },
    ));
    let w1 = w.clone();
    v.push((b"fd".to_vec(), Arc::new(Dir { ino: ino_for(pid, "fd"), list: Arc::new(move || fd_entries(&w1)) })));
    let w1 = w.clone();
    v.push((
        b"fdinfo".to_vec(),
        Arc::new(Dir { ino: ino_for(pid, "fdinfo"), list: Arc::new(move || fdinfo_entries(&w1)) }),
    ));
    Ok(v)
}

fn fd_entries(w: &Weak<ThreadGroup>) -> VfsResult<Entries> {
    let g = group(w)?;
    let t = leader_task(&g)?;
    let root = t.fs().get().root;
    let mut v: Vec<(Vec<u8>, Arc<dyn Inode>)> = Vec::new();
    for (fd, f) in t.files().list() {
        let name = fd.to_string();
        let text = match f.location() {
            Some(l) => {
                let mut p = path_of(l, &root).0;
                if l.dentry.is_deleted() {
                    p.extend_from_slice(b" (deleted)");
                }
                p
            }
            None => f.anon_name().unwrap_or("anon_inode:[unknown]").as_bytes().to_vec(),
        };
        let loc = f.location().cloned();
        let t2 = text.clone();
        v.push(magic_link(
            g.tgid,
            &format!("fd{name}"),
            move || loc.clone().ok_or(Errno::ENOENT),
            move || Ok(t2.clone()),
        ));
        // Rename entry to the fd number (the ino key used a prefix to differ from the dir).
        if let Some(last) = v.last_mut() {
            last.0 = name.into_bytes();
        }
    }
    Ok(v)
}

fn stat_text(g: &ThreadGroup) -> VfsResult<Vec<u8>> {
    let t = leader_task(g)?;
    let ppid = g.parent().map(|p| p.tgid).unwrap_or(0);
    let st = g.lock();
    let comm = String::from_utf8_lossy(&t.comm()).into_owned();
    let threads = st.live_threads.max(1);
    Ok(format!(
        "{} ({}) R {} {} {} 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 {} 0 0 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        g.tgid, comm, ppid, st.pgid, st.sid, threads
    )
    .into_bytes())
}

fn status_text(g: &ThreadGroup) -> VfsResult<Vec<u8>> {
    let t = leader_task(g)?;
    let ppid = g.parent().map(|p| p.tgid).unwrap_or(0);
    let c = t.creds();
    let st = g.lock();
    Ok(format!(
        "Name:\t{}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t0\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{}\nThreads:\t{}\nSigQ:\t0/63000\nCapInh:\t0000000000000000\nCapPrm:\t{}\nCapEff:\t{}\nNoNewPrivs:\t1\nSeccomp:\t2\n",
        String::from_utf8_lossy(&t.comm()),
        t.fs().umask(),
        g.tgid,
        g.tgid,
        ppid,
        c.ruid, c.euid, c.suid, c.fsuid,
        c.rgid, c.egid, c.sgid, c.fsgid,
        c.groups.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(" "),
        st.live_threads.max(1),
        if c.euid == 0 { "000001ffffffffff" } else { "0000000000000000" },
        if c.euid == 0 { "000001ffffffffff" } else { "0000000000000000" },
    )
    .into_bytes())
}

/// Host maps with every path replaced by the sandbox path the loader recorded.
fn maps_text(g: &ThreadGroup) -> VfsResult<Vec<u8>> {
    let host = crate::confine::read_host_proc(&format!("{}/maps", g.host_pid())).map_err(|_| Errno::ESRCH)?;
    let st = g.lock();
    let mut out = Vec::new();
    for line in host.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let s = String::from_utf8_lossy(line);
        let mut cols = s.split_whitespace();
        let (Some(range), Some(perms), Some(off), Some(_dev), Some(_ino)) =
            (cols.next(), cols.next(), cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        let host_path: String = cols.collect::<Vec<_>>().join(" ");
        let start = range.split('-').next().and_then(|x| u64::from_str_radix(x, 16).ok()).unwrap_or(0);
        if start == crate::platform::stub::STUB_BASE {
            continue;
        }
        let recorded = st.image.file_maps.iter().find(|(s, e, _)| start >= *s && start < *e).map(|m| m.2.clone());
        let name: Vec<u8> = match recorded {
            Some(p) => p,
            None if host_path == "[vdso]" || host_path == "[vvar]" || host_path == "[vsyscall]" => {
                host_path.into_bytes()
            }
            None => Vec::new(),
        };
        let (dev, ino) = if name.is_empty() || name.starts_with(b"[") { ("00:00", "0") } else { ("00:1f", "1") };
        out.extend_from_slice(format!("{range} {perms} {off} {dev} {ino}").as_bytes());
        if !name.is_empty() {
            out.extend_from_slice(b"                          ");
            out.extend_from_slice(&name);
        }
        out.push(b'\n');
    }
    Ok(out)
}

fn mounts_text() -> VfsResult<Vec<u8>> {
    let k = kernel()?;
    let mut out = Vec::new();
    for m in k.mounts.all() {
        let at = Location::new(m.clone(), m.root.clone());
        let (path, _) = path_of(&at, &k.root);
        let opts = if m.flags.readonly { "ro" } else { "rw" };
        out.extend_from_slice(
            format!("{} {} {} {},relatime 0 0\n", m.source, String::from_utf8_lossy(&path), m.fstype, opts).as_bytes(),
        );
    }
    Ok(out)
}

fn meminfo() -> VfsResult<Vec<u8>> {
    // SAFETY: zeroed sysinfo is a valid out-buffer.
    let mut h: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: h is valid.
    unsafe { libc::sysinfo(&mut h) };
    let kb = |v: u64| v * h.mem_unit as u64 / 1024;
    Ok(format!(
        "MemTotal:       {:>8} kB\nMemFree:        {:>8} kB\nMemAvailable:   {:>8} kB\nBuffers:        {:>8} kB\nCached:         {:>8} kB\nSwapTotal:      {:>8} kB\nSwapFree:       {:>8} kB\n",
        kb(h.totalram),
        kb(h.freeram),
        kb(h.freeram + h.bufferram),
        kb(h.bufferram),
        0,
        kb(h.totalswap),
        kb(h.freeswap)
    )
    .into_bytes())
}

fn cpuinfo() -> VfsResult<Vec<u8>> {
    // The sandbox's CPUs (sysconf would open /sys: the sentry opens no host path).
    let n = crate::kernel::sandbox_cpus().len().max(1);
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: rvisor virtual CPU\ncpu MHz\t\t: 2000.000\ncache size\t: 4096 KB\ncore id\t\t: {i}\ncpu cores\t: {n}\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2\nbogomips\t: 4000.00\n\n"
        ));
    }
    Ok(out.into_bytes())
}

fn host_release() -> (String, String) {
    // SAFETY: zeroed utsname is a valid out-buffer.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is valid.
    unsafe { libc::uname(&mut u) };
    let s = |f: &[libc::c_char]| f.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect::<String>();
    (s(&u.release), s(&u.version))
}

fn value(text: impl Fn() -> VfsResult<String> + Send + Sync + 'static) -> Gen {
    Arc::new(move || {
        text().map(|mut t| {
            t.push('\n');
            t.into_bytes()
        })
    })
}

type Entries = Vec<(Vec<u8>, Arc<dyn Inode>)>;

fn dir(name: &str, list: impl Fn() -> VfsResult<Entries> + Send + Sync + 'static) -> (Vec<u8>, Arc<dyn Inode>) {
    (name.as_bytes().to_vec(), Arc::new(Dir { ino: ino_for(0, name), list: Arc::new(list) }))
}

fn hostname() -> VfsResult<String> {
    let k = kernel()?;
    let h = k.hostname.lock().unwrap_or_else(|e| e.into_inner());
    Ok(String::from_utf8_lossy(&h).into_owned())
}

/// /proc/sys: the few read-only knobs programs read.
fn sys_entries() -> VfsResult<Entries> {
    Ok(vec![
        dir("kernel", || {
            Ok(vec![
                file(0, "ostype", value(|| Ok("Linux".into()))),
                file(0, "osrelease", value(|| Ok(host_release().0))),
                file(0, "version", value(|| Ok(host_release().1))),
                file(0, "hostname", value(hostname)),
                file(0, "domainname", value(|| Ok("(none)".into()))),
                file(0, "pid_max", value(|| Ok("4194304".into()))),
                file(0, "ngroups_max", value(|| Ok("65536".into()))),
                file(0, "cap_last_cap", value(|| Ok("40".into()))),
            ])
        }),
        dir("vm", || {
            Ok(vec![
                file(0, "overcommit_memory", value(|| Ok("0".into()))),
                file(0, "max_map_count", value(|| Ok("65530".into()))),
            ])
        }),
        dir("fs", || Ok(vec![file(0, "nr_open", value(|| Ok("1048576".into())))])),
    ])
}

fn fdinfo_entries(w: &Weak<ThreadGroup>) -> VfsResult<Entries> {
    let g = group(w)?;
    let t = leader_task(&g)?;
    let files = t.files();
    let mut v: Entries = Vec::new();
    for (fd, f) in files.list() {
        let cloexec = files.get_cloexec(fd).unwrap_or(false);
        let pos = *f.offset.lock().unwrap_or_else(|e| e.into_inner());
        let mnt = f.location().map(|l| l.mount.id).unwrap_or(0);
        let flags = f.flags() | if cloexec { libc::O_CLOEXEC } else { 0 };
        let ino = f.attr().map(|a| a.ino).unwrap_or(0);
        let text = format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{mnt}\nino:\t{ino}\n");
        let (_, inode) = file(g.tgid, &format!("fdinfo{fd}"), Arc::new(move || Ok(text.clone().into_bytes())));
        v.push((fd.to_string().into_bytes(), inode));
    }
    Ok(v)
}
