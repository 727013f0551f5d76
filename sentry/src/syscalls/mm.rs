//! Memory syscalls that need the sentry: brk (the host's brk belongs to the
//! stub image) and mmap of files (the file's host fd is injected for the call).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use rvisor_syscalls::{Errno, SysResult};

use super::{appfds, SyscallCtx};
use crate::vfs::path::path_of;

const PAGE: u64 = 4096;

fn page_up(v: u64) -> u64 {
    v.saturating_add(PAGE - 1) & !(PAGE - 1)
}

pub fn sys_brk(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let want = a[0];
    let (start, cur) = {
        let st = ctx.task.tg.lock();
        (st.image.brk_start, st.image.brk)
    };
    if want < start || start == 0 {
        return Ok(cur as i64);
    }
    let limit = ctx.task.tg.rlimit(libc::RLIMIT_DATA as usize).rlim_cur;
    if want - start > limit {
        return Ok(cur as i64);
    }
    let (old_end, new_end) = (page_up(cur), page_up(want));
    if new_end > old_end {
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
        let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let r = ctx.inject(libc::SYS_mmap, [old_end, new_end - old_end, prot, flags, u64::MAX, 0])?;
        if Errno::result(r).map(|v| v as u64) != Ok(old_end) {
            if r >= 0 {
                let _ = ctx.inject(libc::SYS_munmap, [r as u64, new_end - old_end, 0, 0, 0, 0]);
            }
            return Ok(cur as i64);
        }
    } else if new_end < old_end {
        ctx.inject(libc::SYS_munmap, [new_end, old_end - new_end, 0, 0, 0, 0])?;
    }
    ctx.task.tg.lock().image.brk = want;
    Ok(want as i64)
}

pub fn sys_mmap(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (addr, len, prot, flags, fd, off) = (a[0], a[1], a[2], a[3] as i32, a[4] as i32, a[5]);
    if flags & libc::MAP_ANONYMOUS != 0 {
        // The filter lets anonymous maps through; reaching here means an odd flag mix.
        return Err(Errno::EINVAL);
    }
    // Linux's order: offset alignment, then the fd, then length and type.
    if off % PAGE != 0 {
        return Err(Errno::EINVAL);
    }
    let file = ctx.file(fd)?;
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let map_type = flags & libc::MAP_SHARED_VALIDATE;
    if map_type != libc::MAP_SHARED && map_type != libc::MAP_PRIVATE && map_type != libc::MAP_SHARED_VALIDATE {
        return Err(Errno::EINVAL);
    }
    if file.is_path_only() {
        return Err(Errno::EBADF);
    }
    if !file.readable() {
        return Err(Errno::EACCES);
    }
    let shared = map_type != libc::MAP_PRIVATE;
    if shared && prot & libc::PROT_WRITE as u64 != 0 && !file.writable() {
        return Err(Errno::EACCES);
    }
    if file.ops().mmap_anonymous() && shared && !file.writable() {
        // A shared map of a read-only open (of /dev/zero) may never become
        // writable: an anonymous map could, a read-only memfd cannot.
        return map_zero_read_only(ctx, [addr, len, prot, flags as u64, 0, 0]);
    }
    if file.ops().mmap_anonymous() {
        let anon = (flags & !libc::MAP_SHARED_VALIDATE)
            | libc::MAP_ANONYMOUS
            | if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
        return Errno::result(ctx.inject(libc::SYS_mmap, [addr, len, prot, anon as u64, u64::MAX, 0])?);
    }
    let attr = file.attr()?;
    if attr.is_dir() {
        return Err(Errno::ENODEV);
    }
    let host_fd = file.ops().host_fd().ok_or(Errno::ENODEV)?;
    // The fd mapped carries the open file's access (appfds installs a
    // read-only reopen for a read-only open of a read-write host fd, as
    // memfds behind tmpfs files are): a shared map of a read-only open must
    // not become writable with mprotect later. It stays installed, so the
    // file's next maps in this process (ld.so makes four per library) need
    // no fd injection, and a detached systrap thread makes them without ptrace.
    let writable = file.writable();
    let r = match appfds::get(ctx, host_fd, writable) {
        Some(fd) => ctx.inject(libc::SYS_mmap, [addr, len, prot, flags as u64, fd.fd as u64, off]),
        None => match appfds::install(ctx, host_fd, writable) {
            Ok(fd) => ctx.inject(libc::SYS_mmap, [addr, len, prot, flags as u64, fd.fd as u64, off]),
            Err(e) if e == Errno::ESRCH => return Err(e),
            // Every slot busy: map through a passing fd.
            Err(_) => {
                let ro = if shared && !writable { Some(reopen_read_only(host_fd)?) } else { None };
                let map_fd = ro.as_ref().map(|f| f.as_raw_fd()).unwrap_or(host_fd);
                let app_fd = ctx.inject_fd(map_fd)?;
                let r = ctx.inject(libc::SYS_mmap, [addr, len, prot, flags as u64, app_fd as u64, off]);
                ctx.close_injected(app_fd);
                r
            }
        },
    };
    let start = Errno::result(r?)?;
    if let Some(loc) = file.location() {
        let root = ctx.task.fs().get().root;
        let path = path_of(loc, &root).0;
        let mut st = ctx.task.tg.lock();
        st.image.file_maps.push((start as u64, start as u64 + page_up(len), path));
    }
    Ok(start)
}

/// A new read-only open file description of the same host file (through the
/// pre-opened procfs: the sentry opens no host path).
/// Maps `len` zero bytes shared from a fresh memfd opened read-only (its
/// arguments as mmap's, fd and offset ignored).
fn map_zero_read_only(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (addr, len, prot, flags) = (a[0], a[1], a[2], a[3]);
    let size = i64::try_from(page_up(len)).map_err(|_| Errno::ENOMEM)?;
    // SAFETY: memfd_create with a literal name; the result is checked and owned.
    let raw = unsafe { libc::memfd_create(c"dev/zero".as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: raw is a fresh fd we own.
    let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ftruncate of our own memfd.
    if unsafe { libc::ftruncate(memfd.as_raw_fd(), size) } < 0 {
        return Err(Errno::ENOMEM);
    }
    let ro = reopen_read_only(memfd.as_raw_fd())?;
    let app_fd = ctx.inject_fd(ro.as_raw_fd())?;
    let r = ctx.inject(libc::SYS_mmap, [addr, len, prot, flags, app_fd as u64, 0]);
    ctx.close_injected(app_fd);
    Errno::result(r?)
}

fn reopen_read_only(fd: RawFd) -> Result<OwnedFd, Errno> {
    crate::confine::open_host_proc(&format!("self/fd/{fd}"), libc::O_RDONLY)
}

/// madvise advice the filter traps (100 and above; the rest runs on the
/// host). Guard regions (Linux 6.13) only change the caller's own page
/// tables and run on the host; poisoning (MADV_HWPOISON, MADV_SOFT_OFFLINE)
/// would reach host pages and is refused as by a kernel without
/// CONFIG_MEMORY_FAILURE (EINVAL, as for unknown advice).
pub fn sys_madvise(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    const MADV_HWPOISON: u64 = 100;
    const MADV_GUARD_INSTALL: u64 = 102;
    const MADV_GUARD_REMOVE: u64 = 103;
    match a[2] {
        MADV_GUARD_INSTALL | MADV_GUARD_REMOVE => Errno::result(ctx.inject(libc::SYS_madvise, a)?),
        // Below 100 only when the platform traps everything: the host's answer.
        advice if advice < MADV_HWPOISON => Errno::result(ctx.inject(libc::SYS_madvise, a)?),
        _ => Err(Errno::EINVAL),
    }
}

/// mseal (Linux 6.10): seals the caller's own mappings against change, on
/// the host, where munmap, mprotect, mremap and madvise run. The sentry's
/// own pages in the process (the stub page, systrap's region) stay
/// unsealable (EPERM), so the sentry can still manage them.
pub fn sys_mseal(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    use crate::platform::stub::STUB_BASE;
    use crate::platform::systrap::{CHUNK, REGION_BASE, REGION_CHUNKS};
    let (start, len, flags) = (a[0], a[1], a[2]);
    let end = start.checked_add(len.div_ceil(PAGE) * PAGE);
    // Bad arguments get the host's own errors.
    if let (0, 0, Some(end)) = (flags, start % PAGE, end) {
        let sentry_areas =
            [(STUB_BASE, STUB_BASE + 0x10000), (REGION_BASE, REGION_BASE + (CHUNK * REGION_CHUNKS) as u64)];
        if sentry_areas.iter().any(|&(s, e)| start < e && s < end) {
            return Err(Errno::EPERM);
        }
    }
    Errno::result(ctx.inject(libc::SYS_mseal, a)?)
}

/// membarrier(2) runs on the host in the app's own process: registrations
/// and barriers concern that process's threads, which are host threads, so
/// the host's answer is exactly the sandbox's.
pub fn sys_membarrier(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Errno::result(ctx.run_in_place(libc::SYS_membarrier as u64, &[])?)
}

const CAP_IPC_LOCK: u32 = 14;
const MCL_CURRENT: u64 = 1;
const MCL_FUTURE: u64 = 2;
const MCL_ONFAULT: u64 = 4;
const MLOCK_ONFAULT: u64 = 1;

/// Linux's can_do_mlock: a non-zero RLIMIT_MEMLOCK or CAP_IPC_LOCK.
fn can_lock(ctx: &SyscallCtx<'_>) -> Result<(u64, bool), Errno> {
    let limit = ctx.task.tg.rlimit(libc::RLIMIT_MEMLOCK as usize).rlim_cur;
    let privileged = ctx.task.creds().has_cap(CAP_IPC_LOCK);
    if limit == 0 && !privileged {
        return Err(Errno::EPERM);
    }
    Ok((limit, privileged))
}

/// The page range an mlock-family call covers: EINVAL if it wraps.
fn lock_range(addr: u64, len: u64) -> Result<(u64, u64), Errno> {
    let start = addr & !(PAGE - 1);
    let len =
        len.checked_add(addr & (PAGE - 1)).and_then(|l| l.checked_add(PAGE - 1)).ok_or(Errno::ENOMEM)? & !(PAGE - 1);
    let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
    Ok((start, end))
}

/// ENOMEM unless all of [start, end) is mapped: msync(MS_ASYNC) in the app
/// checks exactly that and changes nothing.
fn check_mapped(ctx: &mut SyscallCtx<'_>, start: u64, end: u64) -> Result<(), Errno> {
    if end == start {
        return Ok(());
    }
    Errno::result(ctx.inject(libc::SYS_msync, [start, end - start, libc::MS_ASYNC as u64, 0, 0, 0])?).map(|_| ())
}

/// madvise advice that faults pages in (Linux 5.14).
const MADV_POPULATE_READ: u64 = 22;
const MADV_POPULATE_WRITE: u64 = 23;

/// Makes [start, end) resident, as mlock does on Linux (which then keeps it
/// so; here the lock is only accounted). Like Linux's populate, private
/// writable mappings take write faults (their own copies of the pages),
/// others read faults, and inaccessible ones none. Best effort: a page that
/// cannot be populated does not fail the lock.
fn populate(ctx: &mut SyscallCtx<'_>, start: u64, end: u64) {
    let maps = crate::confine::read_host_proc(&format!("{}/maps", ctx.task.tg.host_pid())).unwrap_or_default();
    let maps = String::from_utf8_lossy(&maps);
    let mut spans = Vec::new();
    for m in maps.lines().filter_map(crate::fs::proc::maps::parse_line) {
        let (s, e) = (m.start.max(start), m.end.min(end));
        if s >= e || m.start == crate::platform::stub::STUB_BASE || m.perms.starts_with("---") {
            continue;
        }
        let p = m.perms.as_bytes();
        let writable = p.get(1) == Some(&b'w');
        let (private, readable) = (p.get(3) == Some(&b'p'), p.first() == Some(&b'r'));
        // Shared anonymous memory (the host names it "/dev/zero (deleted)")
        // has no file whose times a write fault would change: a write-only
        // one (no read faults possible) is populated by writing, as Linux's
        // forced faults do.
        let anonymous = m.ino == "0" || m.host_name.split_whitespace().next() == Some("/dev/zero");
        let advice =
            if writable && (private || !readable && anonymous) { MADV_POPULATE_WRITE } else { MADV_POPULATE_READ };
        spans.push((s, e, advice));
    }
    for (s, e, advice) in spans {
        let _ = ctx.inject(libc::SYS_madvise, [s, e - s, advice, 0, 0, 0]);
    }
}

fn locked_bytes(ranges: &[(u64, u64)]) -> u64 {
    ranges.iter().map(|(s, e)| e - s).sum()
}

/// The process's mapped size (VmSize), for mlockall(MCL_CURRENT) limits.
fn mapped_bytes(ctx: &SyscallCtx<'_>) -> u64 {
    let statm = crate::confine::read_host_proc(&format!("{}/statm", ctx.task.tg.host_pid())).unwrap_or_default();
    let pages: u64 =
        String::from_utf8_lossy(&statm).split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * PAGE
}

/// Adds (or, with `lock` false, removes) [start, end) in a sorted, disjoint range list.
fn update_ranges(ranges: &mut Vec<(u64, u64)>, start: u64, end: u64, lock: bool) {
    let mut out = Vec::with_capacity(ranges.len() + 2);
    let (mut s, mut e) = (start, end);
    for &(a, b) in ranges.iter() {
        if b < s || a > e || (!lock && (b <= s || a >= e)) {
            out.push((a, b));
        } else if lock {
            s = s.min(a);
            e = e.max(b);
        } else {
            if a < start {
                out.push((a, start));
            }
            if b > end {
                out.push((end, b));
            }
        }
    }
    if lock {
        out.push((s, e));
    }
    out.sort_unstable();
    *ranges = out;
}

fn do_mlock(ctx: &mut SyscallCtx<'_>, addr: u64, len: u64, on_fault: bool) -> SysResult {
    let (limit, privileged) = can_lock(ctx)?;
    let (start, end) = lock_range(addr, len)?;
    if !privileged {
        let mut after = ctx.task.tg.lock().mlock.ranges.clone();
        update_ranges(&mut after, start, end, true);
        if locked_bytes(&after) > limit {
            return Err(Errno::ENOMEM);
        }
    }
    check_mapped(ctx, start, end)?;
    if end > start {
        if !on_fault {
            populate(ctx, start, end);
        }
        update_ranges(&mut ctx.task.tg.lock().mlock.ranges, start, end, true);
    }
    Ok(0)
}

pub fn sys_mlock(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    do_mlock(ctx, a[0], a[1], false)
}

pub fn sys_mlock2(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    if a[2] & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    do_mlock(ctx, a[0], a[1], a[2] & MLOCK_ONFAULT != 0)
}

pub fn sys_munlock(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (start, end) = lock_range(a[0], a[1])?;
    check_mapped(ctx, start, end)?;
    let mut st = ctx.task.tg.lock();
    update_ranges(&mut st.mlock.ranges, start, end, false);
    st.mlock.all = false;
    Ok(0)
}

pub fn sys_mlockall(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let flags = a[0];
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT {
        return Err(Errno::EINVAL);
    }
    let (limit, privileged) = can_lock(ctx)?;
    if flags & MCL_CURRENT != 0 && !privileged && mapped_bytes(ctx) > limit {
        return Err(Errno::ENOMEM);
    }
    if flags & MCL_CURRENT != 0 && flags & MCL_ONFAULT == 0 {
        // Everything below the kernel's half (vsyscall is not a mapping).
        populate(ctx, 0, 1 << 47);
    }
    let mut st = ctx.task.tg.lock();
    st.mlock.all = flags & MCL_CURRENT != 0;
    st.mlock.future = flags & MCL_FUTURE != 0;
    Ok(0)
}

pub fn sys_munlockall(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    ctx.task.tg.lock().mlock = Default::default();
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::update_ranges;

    #[test]
    fn lock_ranges_merge_and_split() {
        let mut r = Vec::new();
        update_ranges(&mut r, 0x1000, 0x3000, true);
        update_ranges(&mut r, 0x5000, 0x6000, true);
        update_ranges(&mut r, 0x2000, 0x5000, true);
        assert_eq!(r, vec![(0x1000, 0x6000)]);
        update_ranges(&mut r, 0x2000, 0x3000, false);
        assert_eq!(r, vec![(0x1000, 0x2000), (0x3000, 0x6000)]);
        update_ranges(&mut r, 0x0, 0x10000, false);
        assert!(r.is_empty());
    }
}
