//! System V shared memory: shmget, shmat, shmdt, shmctl. A segment is a
//! host memfd owned by the sentry; shmat maps it into the app by injecting
//! the fd for one mmap. The attach count is read from the host's view of
//! the sandbox's mappings, so fork, exec, exit and munmap keep it right
//! without hooks in the process lifecycle.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use rvisor_syscalls::{Errno, SysResult};

use super::{lock, now_secs, ns, put32, put64, IpcObject, Perm};
use super::{IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT};
use crate::syscalls::SyscallCtx;

const PAGE: u64 = 4096;
/// Linux's defaults (SHMMAX/SHMALL are "unlimited").
const SHMMAX: u64 = u64::MAX - (1 << 24);
/// In pages, but the same number as SHMMAX (as /proc/sys/kernel/shmall says).
const SHMALL: u64 = SHMMAX;
const SHMMNI: usize = 4096;
const SHM_HUGETLB: i32 = 0o4000;
const SHM_NORESERVE: i32 = 0o10000;
const SHM_RDONLY: i32 = 0o10000;
const SHM_RND: i32 = 0o20000;
const SHM_REMAP: i32 = 0o40000;
const SHM_EXEC: i32 = 0o100000;
const SHM_DEST: u32 = 0o1000;
const SHM_LOCKED: u32 = 0o2000;
const SHM_LOCK: i32 = 11;
const SHM_UNLOCK: i32 = 12;
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;
/// The name the sandbox's segments carry in the host's /proc/*/maps.
const MEMFD_NAME: &std::ffi::CStr = c"rvisor-sysv-shm";

struct State {
    perm: Perm,
    atime: u64,
    dtime: u64,
    ctime: u64,
    lpid: i32,
}

/// A shared memory segment.
pub struct Segment {
    state: Mutex<State>,
    memfd: OwnedFd,
    inode: u64,
    size: u64,
    cpid: i32,
}

impl IpcObject for Segment {
    fn perm(&self) -> Perm {
        lock(&self.state).perm.clone()
    }
}

impl Segment {
    /// How many mappings of this segment the sandbox's processes hold.
    fn nattch(&self, kernel: &crate::kernel::Kernel) -> u64 {
        let suffix = format!(" {}", self.inode);
        let mut n = 0;
        for tg in kernel.all_groups() {
            let pid = tg.host_pid.load(std::sync::atomic::Ordering::Relaxed);
            let Ok(maps) = crate::confine::read_host_proc(&format!("{pid}/maps")) else { continue };
            let maps = String::from_utf8_lossy(&maps);
            n += maps
                .lines()
                .filter(|l| {
                    l.contains("/memfd:rvisor-sysv-shm")
                        && l.split(" /memfd:").next().is_some_and(|head| head.trim_end().ends_with(&suffix))
                })
                .count() as u64;
        }
        n
    }
}

/// Drops segments marked for removal that nobody maps any more.
fn purge(ctx: &SyscallCtx<'_>, reg: &mut super::Registry<Segment>) {
    let dead: Vec<i32> = reg
        .objects
        .iter()
        .filter(|(_, s)| lock(&s.state).perm.mode & SHM_DEST != 0 && s.nattch(ctx.kernel) == 0)
        .map(|(id, _)| *id)
        .collect();
    for id in dead {
        reg.remove(id);
    }
}

fn new_memfd(size: u64) -> Result<(OwnedFd, u64), Errno> {
    // SAFETY: valid C string; result checked.
    let fd = unsafe { libc::memfd_create(MEMFD_NAME.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd, owned from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = i64::try_from(size.div_ceil(PAGE) * PAGE).map_err(|_| Errno::EINVAL)?;
    // SAFETY: an all-zero stat is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: plain syscall on an fd we own.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } != 0 {
        return Err(Errno::last());
    }
    // SAFETY: st is a valid out-pointer; the fd is ours.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Errno::last());
    }
    Ok((fd, st.st_ino))
}

pub fn sys_shmget(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (key, size, flags) = (a[0] as i32, a[1], a[2] as i32);
    let mut reg = lock(&ns().shm);
    purge(ctx, &mut reg);
    if let Some((id, seg)) = reg.lookup(ctx, key, flags)? {
        if size > seg.size {
            return Err(Errno::EINVAL);
        }
        return Ok(id.into());
    }
    if !(1..=SHMMAX).contains(&size) {
        return Err(Errno::EINVAL);
    }
    if flags & SHM_HUGETLB != 0 {
        return ctx.unsupported("shmget(SHM_HUGETLB)", Errno::EINVAL);
    }
    let _ = SHM_NORESERVE;
    if reg.objects.len() >= SHMMNI {
        return Err(Errno::ENOSPC);
    }
    let (memfd, inode) = new_memfd(size)?;
    let cpid = ctx.task.tg.tgid;
    let id = reg.insert(ctx, key, flags, |perm| Segment {
        state: Mutex::new(State { perm, atime: 0, dtime: 0, ctime: now_secs(), lpid: 0 }),
        memfd,
        inode,
        size,
        cpid,
    })?;
    Ok(id.into())
}

pub fn sys_shmat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (id, addr, flags) = (a[0] as i32, a[1], a[2] as i32);
    let seg = lock(&ns().shm).get(id)?;
    let mut addr = addr;
    if addr % PAGE != 0 {
        if flags & SHM_RND == 0 {
            return Err(Errno::EINVAL);
        }
        addr &= !(PAGE - 1);
    }
    if flags & SHM_REMAP != 0 && addr == 0 {
        return Err(Errno::EINVAL);
    }
    let (mut prot, want) =
        if flags & SHM_RDONLY != 0 { (libc::PROT_READ, 4) } else { (libc::PROT_READ | libc::PROT_WRITE, 6) };
    if flags & SHM_EXEC != 0 {
        prot |= libc::PROT_EXEC;
    }
    if !seg.perm().allows(ctx, want | if flags & SHM_EXEC != 0 { 1 } else { 0 }) {
        return Err(Errno::EACCES);
    }
    let mut mflags = libc::MAP_SHARED;
    if addr != 0 {
        mflags |= if flags & SHM_REMAP != 0 { libc::MAP_FIXED } else { libc::MAP_FIXED_NOREPLACE };
    }
    // A read-only attach maps a read-only description, so mprotect cannot
    // make it writable later (as Linux's shm file opened O_RDONLY).
    let ro = if flags & SHM_RDONLY != 0 {
        Some(crate::confine::open_host_proc(&format!("self/fd/{}", seg.memfd.as_raw_fd()), libc::O_RDONLY)?)
    } else {
        None
    };
    let map_fd = ro.as_ref().map(|f| f.as_raw_fd()).unwrap_or(seg.memfd.as_raw_fd());
    let app_fd = ctx.inject_fd(map_fd)?;
    let r = ctx.inject(libc::SYS_mmap, [addr, seg.size, prot as u64, mflags as u64, app_fd as u64, 0]);
    ctx.close_injected(app_fd);
    let start = match Errno::result(r?) {
        Err(e) if e == Errno::EEXIST => return Err(Errno::EINVAL),
        other => other?,
    };
    let mut st = lock(&seg.state);
    st.atime = now_secs();
    st.lpid = ctx.task.tg.tgid;
    Ok(start)
}

pub fn sys_shmdt(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let addr = a[0];
    if addr % PAGE != 0 {
        return Err(Errno::EINVAL);
    }
    // Which segment is mapped at addr: the host's maps of this process.
    let pid = ctx.task.tg.host_pid.load(std::sync::atomic::Ordering::Relaxed);
    let maps = crate::confine::read_host_proc(&format!("{pid}/maps")).map_err(|_| Errno::EINVAL)?;
    let maps = String::from_utf8_lossy(&maps);
    let mut found: Option<(u64, u64, u64)> = None;
    for l in maps.lines().filter(|l| l.contains("/memfd:rvisor-sysv-shm")) {
        let mut f = l.split_whitespace();
        let (Some(range), _, Some(off), _, Some(ino)) = (f.next(), f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Some((s, e)), Ok(off), Ok(ino)) = (range.split_once('-'), u64::from_str_radix(off, 16), ino.parse())
        else {
            continue;
        };
        let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else { continue };
        if s == addr && off == 0 {
            found = Some((s, e, ino));
        }
    }
    let (start, end, ino) = found.ok_or(Errno::EINVAL)?;
    let seg = lock(&ns().shm).objects.values().find(|s| s.inode == ino).cloned();
    // Linux unmaps every piece of the attach that starts here, up to the segment's size.
    let len = seg.as_ref().map(|s| s.size.div_ceil(PAGE) * PAGE).unwrap_or(end - start);
    Errno::result(ctx.inject(libc::SYS_munmap, [start, len, 0, 0, 0, 0])?)?;
    if let Some(seg) = seg {
        let mut st = lock(&seg.state);
        st.dtime = now_secs();
        st.lpid = ctx.task.tg.tgid;
        drop(st);
        purge(ctx, &mut lock(&ns().shm));
    }
    Ok(0)
}

/// `struct shmid64_ds` (112 bytes on x86-64).
fn encode(ctx: &SyscallCtx<'_>, seg: &Segment) -> [u8; 112] {
    let mut b = [0u8; 112];
    let st = lock(&seg.state);
    st.perm.encode(&mut b);
    put64(&mut b, 48, seg.size);
    put64(&mut b, 56, st.atime);
    put64(&mut b, 64, st.dtime);
    put64(&mut b, 72, st.ctime);
    put32(&mut b, 80, seg.cpid as u32);
    put32(&mut b, 84, st.lpid as u32);
    drop(st);
    put64(&mut b, 88, seg.nattch(ctx.kernel));
    b
}

pub fn sys_shmctl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (id, cmd, buf) = (a[0] as i32, a[1] as i32, a[2]);
    match cmd {
        IPC_INFO => {
            // struct shminfo64: shmmax, shmmin, shmmni, shmseg, shmall, 4 unused.
            let mut b = [0u8; 72];
            for (i, v) in [SHMMAX, 1, SHMMNI as u64, SHMMNI as u64, SHMALL].iter().enumerate() {
                put64(&mut b, i * 8, *v);
            }
            ctx.mem.write(buf, &b)?;
            Ok(lock(&ns().shm).max_index().into())
        }
        SHM_INFO => {
            // struct shm_info: used_ids (int), then shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes.
            let reg = lock(&ns().shm);
            let pages: u64 = reg.objects.values().map(|s| s.size.div_ceil(PAGE)).sum();
            let mut b = [0u8; 48];
            put32(&mut b, 0, reg.objects.len() as u32);
            put64(&mut b, 8, pages);
            ctx.mem.write(buf, &b)?;
            Ok(reg.max_index().into())
        }
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let (ret, seg) = if cmd == IPC_STAT {
                (0, lock(&ns().shm).get(id)?)
            } else {
                lock(&ns().shm).by_index(id).ok_or(Errno::EINVAL)?
            };
            if cmd != SHM_STAT_ANY && !seg.perm().allows(ctx, 4) {
                return Err(Errno::EACCES);
            }
            let b = encode(ctx, &seg);
            ctx.mem.write(buf, &b)?;
            Ok(ret.into())
        }
        IPC_SET => {
            let mut raw = [0u8; 112];
            ctx.mem.read(buf, &mut raw)?;
            let seg = lock(&ns().shm).get(id)?;
            let mut st = lock(&seg.state);
            if !st.perm.may_change(ctx) {
                return Err(Errno::EPERM);
            }
            st.perm.set_from(&raw);
            st.ctime = now_secs();
            Ok(0)
        }
        IPC_RMID => {
            let mut reg = lock(&ns().shm);
            let seg = reg.get(id)?;
            if !seg.perm().may_change(ctx) {
                return Err(Errno::EPERM);
            }
            // The key is free at once; the segment lives on while attached.
            let key = seg.perm().key;
            if reg.keys.get(&key) == Some(&id) {
                reg.keys.remove(&key);
            }
            let mut st = lock(&seg.state);
            st.perm.mode |= SHM_DEST;
            st.perm.key = super::IPC_PRIVATE;
            st.ctime = now_secs();
            drop(st);
            purge(ctx, &mut reg);
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let seg = lock(&ns().shm).get(id)?;
            let mut st = lock(&seg.state);
            if !st.perm.may_change(ctx) && !ctx.task.creds().has_cap(14) {
                return Err(Errno::EPERM);
            }
            if cmd == SHM_LOCK {
                st.perm.mode |= SHM_LOCKED;
            } else {
                st.perm.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// /proc/sysvipc/shm.
pub fn proc_table(kernel: &crate::kernel::Kernel) -> String {
    let mut out = String::from(
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
    );
    for (id, seg) in lock(&ns().shm).entries() {
        let nattch = seg.nattch(kernel);
        let st = lock(&seg.state);
        let p = &st.perm;
        out.push_str(&format!(
            "{:>10} {:>10}  {:>4o} {:>21} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10} {:>21} {:>21}\n",
            p.key, id, p.mode & 0o7777, seg.size, seg.cpid, st.lpid, nattch, p.uid, p.gid, p.cuid, p.cgid,
            st.atime, st.dtime, st.ctime, 0, 0
        ));
    }
    out
}
