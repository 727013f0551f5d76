//! /proc/[pid] and /proc/[pid]/task/[tid]: one process's or thread's view.

use std::sync::{Arc, Weak};

use super::{kernel, magic_link, reader_root, Dir, Entries, File, Owner, ReadOnly, Source};
use crate::kernel::task::{MmLayout, ThreadGroup};
use crate::kernel::{current_task, Task};
use crate::mm::Memory;
use crate::vfs::path::path_of;
use crate::vfs::{Errno, Inode, Location, VfsResult};

/// Which process or thread a /proc directory describes.
#[derive(Clone)]
pub(super) struct Target {
    group: Weak<ThreadGroup>,
    pub tgid: i32,
    /// The thread shown: the leader for /proc/[pid], else the [tid] named.
    pub tid: i32,
    /// A task/[tid] directory: counts in stat are the thread's own.
    pub thread: bool,
}

impl Target {
    pub fn group(&self) -> VfsResult<Arc<ThreadGroup>> {
        self.group.upgrade().ok_or(Errno::ESRCH)
    }

    /// The thread, while it runs.
    pub fn task(&self) -> Option<Arc<Task>> {
        let g = self.group.upgrade()?;
        kernel().ok()?.task_by_vtid(self.tid).filter(|t| Arc::ptr_eq(&t.tg, &g))
    }

    /// The thread or, if it has ended, any live thread of its process: the
    /// address space is shared, so any of them reaches its memory.
    fn live_task(&self) -> Option<Arc<Task>> {
        self.task().or_else(|| threads(&self.group.upgrade()?).into_iter().next())
    }

    /// The key its entries' inode numbers derive from.
    fn key(&self, name: &str) -> String {
        if self.thread {
            format!("{}/task/{}/{name}", self.tgid, self.tid)
        } else {
            format!("{}/{name}", self.tid)
        }
    }

    /// Host path (relative to the host's /proc) of this thread's or process's
    /// host files; only numbers are ever taken from them.
    pub fn host_dir(&self) -> Option<String> {
        let g = self.group.upgrade()?;
        let pid = g.host_pid();
        if !self.thread {
            return (pid > 0).then(|| pid.to_string());
        }
        let tid = self.task()?.host_tid();
        (pid > 0 && tid > 0).then(|| format!("{pid}/task/{tid}"))
    }

    /// The memory layout and a reader of the process's memory, unless the
    /// process has no address space any more.
    pub fn memory(&self) -> Option<(MmLayout, Memory)> {
        let g = self.group.upgrade()?;
        let layout = {
            let st = g.lock();
            if st.exit.is_some() {
                return None;
            }
            st.image.layout
        };
        let host = self.live_task()?.host_tid();
        (host > 0).then(|| (layout, Memory::new(host)))
    }

    /// (euid, egid) owning the entries, as Linux shows a dumpable process's.
    pub fn owner(&self) -> (u32, u32) {
        if let Some(t) = self.task() {
            let c = t.creds();
            return (c.euid, c.egid);
        }
        let snap = self.group.upgrade().and_then(|g| g.lock().leader_exit.clone());
        snap.map(|s| (s.creds.euid, s.creds.egid)).unwrap_or((0, 0))
    }

    fn owner_fn(&self) -> Option<Owner> {
        let t = self.clone();
        Some(Arc::new(move || t.owner()))
    }

    /// The thread's name, also after it ended (from the leader's snapshot).
    pub fn comm(&self) -> Vec<u8> {
        match self.task() {
            Some(t) => t.comm(),
            None => self
                .group
                .upgrade()
                .and_then(|g| g.lock().leader_exit.as_ref().map(|s| s.comm.clone()))
                .unwrap_or_default(),
        }
    }
}

/// The live threads of a process, by tid.
pub(super) fn threads(g: &Arc<ThreadGroup>) -> Vec<Arc<Task>> {
    let Ok(k) = kernel() else { return Vec::new() };
    let pids = k.pids.lock().unwrap_or_else(|e| e.into_inner());
    let mut v: Vec<Arc<Task>> =
        pids.tasks.values().filter_map(|w| w.upgrade()).filter(|t| Arc::ptr_eq(&t.tg, g)).collect();
    v.sort_by_key(|t| t.tid);
    v
}

/// /proc/[pid] of a process.
pub(super) fn process_dir(g: &Arc<ThreadGroup>) -> (Vec<u8>, Arc<dyn Inode>) {
    let t = Target { group: Arc::downgrade(g), tgid: g.tgid, tid: g.tgid, thread: false };
    (g.tgid.to_string().into_bytes(), Arc::new(dir_of(t, &g.tgid.to_string())))
}

/// /proc/[tid] of a thread other than a leader: found by lookup, not listed.
pub(super) fn thread_dir_by_name(name: &[u8]) -> Option<Arc<dyn Inode>> {
    let tid: i32 = std::str::from_utf8(name).ok()?.parse().ok()?;
    if tid <= 0 || name.starts_with(b"0") || name.starts_with(b"+") {
        return None;
    }
    let task = kernel().ok()?.task_by_vtid(tid)?;
    let t = Target { group: Arc::downgrade(&task.tg), tgid: task.tg.tgid, tid, thread: false };
    Some(Arc::new(dir_of(t, &tid.to_string())))
}

fn dir_of(t: Target, key: &str) -> Dir {
    let owner = t.owner_fn();
    let mut d = Dir::new(key, 0o555, move || Ok(entries(&t))).owned(&owner);
    d.nlink = None;
    d
}

/// The entries of /proc/[pid] (with task/) or /proc/[pid]/task/[tid].
fn entries(t: &Target) -> Entries {
    let owner = t.owner_fn();
    let file = |name: &str, mode: u32, src: Source| {
        File::new(&t.key(name), mode, src).owned(&owner).read_only(ReadOnly::Einval)
    };
    let snap = |f: fn(&Target) -> VfsResult<Vec<u8>>| {
        let t = t.clone();
        Source::Snapshot(Arc::new(move || f(&t)))
    };
    let live = |f: fn(&Target, u64, usize) -> VfsResult<Vec<u8>>| {
        let t = t.clone();
        Source::Live(Arc::new(move |off, len| f(&t, off, len)))
    };
    let t_comm = t.clone();
    let mut v: Entries = vec![
        file("auxv", 0o400, snap(auxv)).gated(has_memory(t)).entry("auxv"),
        file("cgroup", 0o444, Source::Snapshot(Arc::new(|| Ok(b"0::/\n".to_vec())))).entry("cgroup"),
        file("cmdline", 0o444, live(cmdline)).entry("cmdline"),
        file("comm", 0o644, snap(comm)).writer(move |buf| comm_write(&t_comm, buf)).entry("comm"),
        link(t, "cwd", |t| t.task().map(|task| task.fs().get().cwd)),
        // Like Linux, opening environ fails once the process has no memory.
        file("environ", 0o400, live(environ)).gated(has_memory(t)).entry("environ"),
        link(t, "exe", |t| {
            let g = t.group.upgrade()?;
            let st = g.lock();
            st.exit.is_none().then(|| st.image.exe.clone()).flatten()
        }),
        fd_dir(t),
        fdinfo_dir(t),
        file("limits", 0o444, snap(limits)).entry("limits"),
        file("maps", 0o444, snap(super::maps::maps_text)).entry("maps"),
        file("mountinfo", 0o444, snap(|t| super::misc::mountinfo(&task_root(t)?))).entry("mountinfo"),
        file("mounts", 0o444, snap(|t| super::misc::mounts(&task_root(t)?))).entry("mounts"),
        link(t, "root", |t| t.task().map(|task| task.fs().get().root)),
        file("smaps", 0o444, snap(super::smaps::smaps_text)).entry("smaps"),
        file("smaps_rollup", 0o444, snap(super::smaps::smaps_rollup_text)).entry("smaps_rollup"),
        file("stat", 0o444, snap(super::stat::stat)).entry("stat"),
        file("statm", 0o444, snap(super::stat::statm)).entry("statm"),
        file("status", 0o444, snap(super::stat::status)).entry("status"),
    ];
    if !t.thread {
        let t2 = t.clone();
        let mut task = Dir::new(&t.key("task"), 0o555, move || task_entries(&t2)).owned(&owner);
        task.nlink = None;
        v.push(task.entry("task"));
    }
    v
}

fn has_memory(t: &Target) -> impl Fn() -> VfsResult<()> + Send + Sync + 'static {
    let t = t.clone();
    move || t.memory().map(|_| ()).ok_or(Errno::ESRCH)
}

fn task_root(t: &Target) -> VfsResult<Location> {
    Ok(t.task().ok_or(Errno::ENOENT)?.fs().get().root)
}

/// A path as the reading task sees it, with " (deleted)" as Linux marks it.
fn shown_path(loc: &Location, root: &Location) -> Vec<u8> {
    let mut p = path_of(loc, root).0;
    if loc.dentry.is_deleted() {
        p.extend_from_slice(b" (deleted)");
    }
    p
}

/// exe, cwd and root: magic links to a location of the process.
fn link(t: &Target, name: &str, at: fn(&Target) -> Option<Location>) -> (Vec<u8>, Arc<dyn Inode>) {
    let (t1, t2) = (t.clone(), t.clone());
    magic_link(
        &t.key(name),
        name,
        0o777,
        &t.owner_fn(),
        move || at(&t1).ok_or(Errno::ENOENT),
        move || Ok(shown_path(&at(&t2).ok_or(Errno::ENOENT)?, &reader_root()?)),
    )
}

fn task_entries(t: &Target) -> VfsResult<Entries> {
    let g = t.group()?;
    let mut tids: Vec<i32> = threads(&g).iter().map(|task| task.tid).collect();
    {
        // A leader that ended before its threads stays listed, as on Linux.
        let st = g.lock();
        if st.leader_exit.is_some() && st.exit.is_none() && !tids.contains(&g.tgid) {
            tids.insert(0, g.tgid);
        }
    }
    Ok(tids
        .into_iter()
        .map(|tid| {
            let tt = Target { group: t.group.clone(), tgid: t.tgid, tid, thread: true };
            let key = tt.key("");
            let owner = tt.owner_fn();
            let d = Dir::new(&key, 0o555, move || Ok(entries(&tt))).owned(&owner);
            (tid.to_string().into_bytes(), Arc::new(Dir { nlink: None, ..d }) as Arc<dyn Inode>)
        })
        .collect())
}

/// fd/: one magic link per descriptor, its mode telling the access mode.
fn fd_dir(t: &Target) -> (Vec<u8>, Arc<dyn Inode>) {
    let t2 = t.clone();
    Dir::new(&t.key("fd"), 0o500, move || fd_entries(&t2)).owned(&t.owner_fn()).entry("fd")
}

fn fd_entries(t: &Target) -> VfsResult<Entries> {
    let Some(task) = t.task() else { return Ok(Vec::new()) };
    let root = reader_root()?;
    let owner = t.owner_fn();
    let mut v: Entries = Vec::new();
    for (fd, f) in task.files().list() {
        let text = match f.location() {
            Some(l) => shown_path(l, &root),
            None => f.anon_name().unwrap_or("anon_inode:[unknown]").as_bytes().to_vec(),
        };
        let mode = if f.is_path_only() {
            0
        } else {
            (if f.readable() { 0o500 } else { 0 }) | (if f.writable() { 0o300 } else { 0 })
        };
        let loc = f.location().cloned();
        // Without a path (a pipe, a memfd) the link reopens the object itself;
        // weakly held, so a listing never keeps a pipe end open.
        let anon = Arc::downgrade(&f);
        let name = fd.to_string();
        v.push(magic_link(
            &t.key(&format!("fd/{name}")),
            &name,
            mode,
            &owner,
            move || match &loc {
                Some(l) => Ok(l.clone()),
                None => crate::fs::reopen::location_for(&anon.upgrade().ok_or(Errno::ENOENT)?),
            },
            move || Ok(text.clone()),
        ));
    }
    Ok(v)
}

fn fdinfo_dir(t: &Target) -> (Vec<u8>, Arc<dyn Inode>) {
    let t2 = t.clone();
    Dir::new(&t.key("fdinfo"), 0o555, move || fdinfo_entries(&t2)).owned(&t.owner_fn()).entry("fdinfo")
}

fn fdinfo_entries(t: &Target) -> VfsResult<Entries> {
    let Some(task) = t.task() else { return Ok(Vec::new()) };
    let owner = t.owner_fn();
    let mut v: Entries = Vec::new();
    for (fd, _) in task.files().list() {
        let name = fd.to_string();
        let t2 = t.clone();
        let src = Source::Snapshot(Arc::new(move || fdinfo(&t2, fd)));
        v.push(
            File::new(&t.key(&format!("fdinfo/{name}")), 0o444, src)
                .owned(&owner)
                .read_only(ReadOnly::Einval)
                .entry(&name),
        );
    }
    Ok(v)
}

/// One fdinfo file, made when it is opened (never while listing: a getdents
/// of this very directory holds its descriptor's offset).
fn fdinfo(t: &Target, fd: i32) -> VfsResult<Vec<u8>> {
    let files = t.task().ok_or(Errno::ENOENT)?.files();
    let f = files.get(fd).map_err(|_| Errno::ENOENT)?;
    let cloexec = files.get_cloexec(fd).unwrap_or(false);
    // A read blocked on the file (a terminal) holds its offset; it is 0 then.
    let pos = f.try_position().unwrap_or(0);
    let mnt = f.location().map(|l| l.mount.id).unwrap_or(0);
    let flags = f.flags() | if cloexec { libc::O_CLOEXEC } else { 0 };
    let ino = f.attr().map(|a| a.ino).unwrap_or(0);
    Ok(format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{mnt}\nino:\t{ino}\n").into_bytes())
}

/// The auxiliary vector the process started with, as (type, value) words.
fn auxv(t: &Target) -> VfsResult<Vec<u8>> {
    let g = t.group()?;
    let st = g.lock();
    Ok(st.image.auxv.iter().flat_map(|&(k, v)| k.to_ne_bytes().into_iter().chain(v.to_ne_bytes())).collect())
}

fn comm(t: &Target) -> VfsResult<Vec<u8>> {
    let _ = t.group()?;
    let mut c = t.comm();
    c.push(b'\n');
    Ok(c)
}

/// Writing comm renames a thread of the writer's own process; Linux keeps
/// the bytes as written (a trailing newline included), up to 15 and a NUL.
fn comm_write(t: &Target, buf: &[u8]) -> VfsResult<usize> {
    let task = t.task().ok_or(Errno::ESRCH)?;
    let me = current_task().ok_or(Errno::EINVAL)?;
    if !Arc::ptr_eq(&me.tg, &task.tg) {
        return Err(Errno::EINVAL);
    }
    let name = &buf[..buf.len().min(15)];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    task.set_comm(&name[..end]);
    Ok(buf.len())
}

/// The limits table, in Linux's layout.
pub(super) fn limits_table(r: &[rvisor_syscalls::abi::Rlimit]) -> String {
    const NAMES: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let val = |v: u64| if v == u64::MAX { "unlimited".to_string() } else { v.to_string() };
    let mut out = format!("{:<25} {:<20} {:<20} {:<10}\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    for ((name, unit), l) in NAMES.iter().zip(r) {
        out.push_str(&format!("{name:<25} {:<20} {:<20} ", val(l.rlim_cur), val(l.rlim_max)));
        if unit.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("{unit:<10}\n"));
        }
    }
    out
}

fn limits(t: &Target) -> VfsResult<Vec<u8>> {
    let rl = t.group()?.lock().rlimits;
    Ok(limits_table(&rl).into_bytes())
}

/// cmdline as Linux computes it from the argument area of live memory.
/// `read` reads app memory and returns how many bytes it could.
pub(super) fn cmdline_at(m: &MmLayout, read: impl Fn(u64, &mut [u8]) -> usize, pos: u64, count: usize) -> Vec<u8> {
    let (arg_start, arg_end) = (m.arg_start, m.arg_end);
    if arg_start >= arg_end {
        return Vec::new();
    }
    // The argument strings may run on into the environment (setproctitle),
    // but only when that directly follows them.
    let env_end = if m.env_start != arg_end || m.env_end < m.env_start { arg_end } else { m.env_end };
    let len = env_end - arg_start;
    if pos >= len {
        return Vec::new();
    }
    let count = (count as u64).min(len - pos) as usize;
    if count == 0 {
        return Vec::new();
    }
    let mut last = [0u8; 1];
    if read(arg_end - 1, &mut last) == 1 && last[0] != 0 {
        // The last argument byte is not NUL: argv was rewritten. Show the
        // first string of the area (at most one page), NUL included.
        const PAGE: usize = 4096;
        if pos >= PAGE as u64 {
            return Vec::new();
        }
        let mut page = vec![0u8; PAGE];
        let got = read(arg_start, &mut page);
        let mut n = page[..got].iter().position(|&b| b == 0).unwrap_or(got);
        if n < got {
            n += 1;
        }
        let pos = pos as usize;
        if n <= pos {
            return Vec::new();
        }
        let end = n.min(pos + count);
        return page[pos..end].to_vec();
    }
    // Otherwise strictly the argument area.
    let at = arg_start + pos;
    if at >= arg_end {
        return Vec::new();
    }
    let n = (count as u64).min(arg_end - at) as usize;
    let mut buf = vec![0u8; n];
    let got = read(at, &mut buf);
    buf.truncate(got);
    buf
}

/// environ: the bytes of the environment area of live memory.
pub(super) fn environ_at(m: &MmLayout, read: impl Fn(u64, &mut [u8]) -> usize, pos: u64, count: usize) -> Vec<u8> {
    let len = m.env_end.saturating_sub(m.env_start);
    if pos >= len {
        return Vec::new();
    }
    let n = (count as u64).min(len - pos) as usize;
    let mut buf = vec![0u8; n];
    let got = read(m.env_start + pos, &mut buf);
    buf.truncate(got);
    buf
}

fn cmdline(t: &Target, pos: u64, count: usize) -> VfsResult<Vec<u8>> {
    let _ = t.group()?;
    Ok(match t.memory() {
        Some((layout, mem)) => cmdline_at(&layout, |a, b| mem.read_partial(a, b), pos, count),
        None => Vec::new(),
    })
}

fn environ(t: &Target, pos: u64, count: usize) -> VfsResult<Vec<u8>> {
    let _ = t.group()?;
    Ok(match t.memory() {
        Some((layout, mem)) => environ_at(&layout, |a, b| mem.read_partial(a, b), pos, count),
        None => Vec::new(),
    })
}
