//! Looking into other processes: kcmp(2) and process_vm_readv/writev(2),
//! behind Linux's ptrace access check (same real ids as the target's, or
//! CAP_SYS_PTRACE; a non-dumpable target needs CAP_SYS_PTRACE).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rvisor_syscalls::abi::Iovec;
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::Task;
use crate::mm::Memory;

const CAP_SYS_PTRACE: u32 = 19;
const IOV_MAX: u64 = 1024;

/// Linux's __ptrace_may_access with *_REALCREDS: may the caller inspect `t`?
pub(super) fn may_inspect(ctx: &SyscallCtx<'_>, t: &Arc<Task>) -> Result<(), Errno> {
    if Arc::ptr_eq(&t.tg, &ctx.task.tg) {
        return Ok(());
    }
    let me = ctx.task.creds();
    let tc = t.creds();
    let same_ids = [tc.euid, tc.suid, tc.ruid].iter().all(|&u| u == me.ruid)
        && [tc.egid, tc.sgid, tc.rgid].iter().all(|&g| g == me.rgid);
    let privileged = me.has_cap(CAP_SYS_PTRACE);
    if !same_ids && !privileged {
        return Err(Errno::EPERM);
    }
    if !t.tg.lock().dumpable && !privileged {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn task(ctx: &SyscallCtx<'_>, pid: i32) -> Result<Arc<Task>, Errno> {
    if pid <= 0 {
        return Err(Errno::ESRCH);
    }
    ctx.kernel.task_by_vtid(pid).ok_or(Errno::ESRCH)
}

const KCMP_FILE: u64 = 0;
const KCMP_VM: u64 = 1;
const KCMP_FILES: u64 = 2;
const KCMP_FS: u64 = 3;
const KCMP_SIGHAND: u64 = 4;
const KCMP_IO: u64 = 5;
const KCMP_SYSVSEM: u64 = 6;
const KCMP_EPOLL_TFD: u64 = 7;
const KCMP_TYPES: u64 = 8;

/// kcmp orders objects by address, which must not tell the app where the
/// sentry's objects live: each kind's addresses go through a random,
/// invertible mix first (as Linux obfuscates kernel pointers).
fn order(kind: u64, a: usize, b: usize) -> i64 {
    static COOKIES: OnceLock<[(u64, u64); KCMP_TYPES as usize]> = OnceLock::new();
    let cookies = COOKIES.get_or_init(|| {
        let mut c = [(0u64, 0u64); KCMP_TYPES as usize];
        for (i, slot) in c.iter_mut().enumerate() {
            let mut r = [0u8; 16];
            // SAFETY: r is a writable buffer of the given length.
            let n = unsafe { libc::getrandom(r.as_mut_ptr().cast(), r.len(), 0) };
            let seed = if n == 16 { r } else { fallback_seed(i) };
            let x = u64::from_ne_bytes(seed[..8].try_into().unwrap_or_default());
            let m = u64::from_ne_bytes(seed[8..].try_into().unwrap_or_default()) | 1;
            *slot = (x, m);
        }
        c
    });
    let (x, m) = cookies[kind as usize];
    let mix = |p: usize| (p as u64 ^ x).wrapping_mul(m);
    match mix(a).cmp(&mix(b)) {
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Less => 1,
        std::cmp::Ordering::Greater => 2,
    }
}

fn fallback_seed(i: usize) -> [u8; 16] {
    static N: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let v = (t as u64).wrapping_mul(N.fetch_add(i as u64 + 1, Ordering::Relaxed) | 1);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&v.to_ne_bytes());
    out[8..].copy_from_slice(&v.rotate_left(29).to_ne_bytes());
    out
}

/// The host's own kcmp for what the host shares exactly as the sandbox
/// does (address spaces, signal handler tables, I/O contexts).
fn host_kcmp(a: &Task, b: &Task, kind: u64) -> SysResult {
    // SAFETY: kcmp compares kernel objects of two host threads; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, a.host_tid(), b.host_tid(), kind as libc::c_int, 0, 0) };
    if r < 0 {
        // The sentry may inspect every app thread; a failure means one is gone.
        return Err(Errno::ESRCH);
    }
    Ok(r)
}

pub fn sys_kcmp(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (p1, p2, kind, i1, i2) = (a[0] as i32, a[1] as i32, a[2], a[3], a[4]);
    let t1 = task(ctx, p1)?;
    let t2 = task(ctx, p2)?;
    may_inspect(ctx, &t1)?;
    may_inspect(ctx, &t2)?;
    match kind {
        KCMP_FILE => {
            let f1 = t1.files().get(i1 as i32).map_err(|_| Errno::EBADF)?;
            let f2 = t2.files().get(i2 as i32).map_err(|_| Errno::EBADF)?;
            Ok(order(kind, Arc::as_ptr(&f1) as *const u8 as usize, Arc::as_ptr(&f2) as *const u8 as usize))
        }
        KCMP_FILES => Ok(order(kind, Arc::as_ptr(&t1.files()) as usize, Arc::as_ptr(&t2.files()) as usize)),
        KCMP_FS => Ok(order(kind, Arc::as_ptr(&t1.fs()) as usize, Arc::as_ptr(&t2.fs()) as usize)),
        // SysV semaphore undo lists belong to the thread group here; a
        // process without one has none, as on Linux (all such compare equal).
        KCMP_SYSVSEM => {
            let list = |t: &Arc<Task>| if super::ipc::sem::has_undo(&t.tg) { Arc::as_ptr(&t.tg) as usize } else { 0 };
            Ok(order(kind, list(&t1), list(&t2)))
        }
        KCMP_VM | KCMP_SIGHAND | KCMP_IO => host_kcmp(&t1, &t2, kind),
        // Comparing a file inside an epoll set is not supported.
        KCMP_EPOLL_TFD => Err(Errno::EOPNOTSUPP),
        _ => Err(Errno::EINVAL),
    }
}

fn iovecs(ctx: &SyscallCtx<'_>, addr: u64, count: u64) -> Result<Vec<Iovec>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let v = ctx.mem.read_iovecs(addr, count)?;
    let mut total: u64 = 0;
    for iov in &v {
        total = total.checked_add(iov.iov_len).filter(|t| *t <= isize::MAX as u64).ok_or(Errno::EINVAL)?;
    }
    Ok(v)
}

/// Copies between the caller's `local` and `remote` of process `pid`.
fn transfer(ctx: &mut SyscallCtx<'_>, a: [u64; 6], write: bool) -> SysResult {
    let (pid, lvec, lcnt, rvec, rcnt, flags) = (a[0] as i32, a[1], a[2], a[3], a[4], a[5]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let local = iovecs(ctx, lvec, lcnt)?;
    let remote = iovecs(ctx, rvec, rcnt)?;
    let t = task(ctx, pid)?;
    may_inspect(ctx, &t)?;
    let them = Memory::new(t.host_tid());
    let (src, dst, src_mem, dst_mem) =
        if write { (&local, &remote, ctx.mem, them) } else { (&remote, &local, them, ctx.mem) };
    // Walk both lists in step, a bounded chunk at a time; stop at the first
    // fault on either side (a partial transfer counts what was done).
    let (mut si, mut so, mut di, mut doff) = (0usize, 0u64, 0usize, 0u64);
    let mut done: u64 = 0;
    let mut buf = vec![0u8; 64 << 10];
    let mut fault = false;
    while si < src.len() && di < dst.len() {
        let (s, d) = (&src[si], &dst[di]);
        if so == s.iov_len {
            si += 1;
            so = 0;
            continue;
        }
        if doff == d.iov_len {
            di += 1;
            doff = 0;
            continue;
        }
        let n = (s.iov_len - so).min(d.iov_len - doff).min(buf.len() as u64) as usize;
        let got = src_mem.read_partial(s.iov_base.wrapping_add(so), &mut buf[..n]);
        let put = dst_mem.write_partial(d.iov_base.wrapping_add(doff), &buf[..got]);
        done += put as u64;
        so += put as u64;
        doff += put as u64;
        if put < n {
            fault = true;
            break;
        }
    }
    if done == 0 && fault {
        return Err(Errno::EFAULT);
    }
    Ok(done as i64)
}

pub fn sys_process_vm_readv(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    transfer(ctx, a, false)
}

pub fn sys_process_vm_writev(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    transfer(ctx, a, true)
}
