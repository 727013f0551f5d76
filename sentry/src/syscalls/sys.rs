//! System information and readiness: uname, sethostname, sysinfo, times,
//! CPU affinity, poll.

use rvisor_syscalls::abi::{Sysinfo, Timespec, Utsname};
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::wait::WaitSet;

fn field(s: &[u8]) -> [u8; 65] {
    let mut f = [0u8; 65];
    let n = s.len().min(64);
    f[..n].copy_from_slice(&s[..n]);
    f
}

pub fn sys_uname(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    // SAFETY: zeroed utsname is a valid out-buffer.
    let mut host: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: host is a valid utsname.
    unsafe { libc::uname(&mut host) };
    let cstr = |f: &[libc::c_char]| -> Vec<u8> { f.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect() };
    let hostname = ctx.kernel.hostname.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let u = Utsname {
        sysname: field(b"Linux"),
        nodename: field(&hostname),
        release: field(&cstr(&host.release)),
        version: field(&cstr(&host.version)),
        machine: field(b"x86_64"),
        domainname: field(b"(none)"),
    };
    ctx.mem.write_val(a[0], &u)?;
    Ok(0)
}

pub fn sys_sethostname(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let len = a[1] as usize;
    if len > 64 {
        return Err(Errno::EINVAL);
    }
    if ctx.task.creds().euid != 0 {
        return Err(Errno::EPERM);
    }
    let mut name = vec![0u8; len];
    ctx.mem.read(a[0], &mut name)?;
    *ctx.kernel.hostname.lock().unwrap_or_else(|e| e.into_inner()) = name;
    Ok(0)
}

pub fn sys_sysinfo(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    // SAFETY: zeroed sysinfo is a valid out-buffer.
    let mut h: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: h is valid.
    unsafe { libc::sysinfo(&mut h) };
    let si = Sysinfo {
        uptime: ctx.kernel.boot_time.elapsed().as_secs() as i64,
        loads: [h.loads[0], h.loads[1], h.loads[2]],
        totalram: h.totalram,
        freeram: h.freeram,
        sharedram: h.sharedram,
        bufferram: h.bufferram,
        totalswap: h.totalswap,
        freeswap: h.freeswap,
        procs: ctx.kernel.all_groups().len() as u16,
        mem_unit: h.mem_unit,
        ..Default::default()
    };
    ctx.mem.write_val(a[0], &si)?;
    Ok(0)
}

/// personality(2): the persona is recorded and reported; 0xffffffff only queries.
pub fn sys_personality(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let mut st = ctx.task.tg.lock();
    let old = st.personality;
    let new = a[0] as u32;
    if new != u32::MAX {
        st.personality = new;
    }
    Ok(old as i64)
}

pub fn sys_times(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    if a[0] != 0 {
        // struct tms in clock ticks (USER_HZ = 100).
        let me = super::process::process_cpu(ctx.task.tg.host_pid());
        let kids = ctx.task.tg.lock().children_usage;
        let ticks = |us: u64| (us / 10_000) as i64;
        let tms = [ticks(me.utime_us), ticks(me.stime_us), ticks(kids.utime_us), ticks(kids.stime_us)];
        let mut b = [0u8; 32];
        for (i, v) in tms.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        ctx.mem.write(a[0], &b)?;
    }
    Ok((ctx.kernel.boot_time.elapsed().as_millis() / 10) as i64)
}

/// Waits until any entry (fd, events) is ready or the timeout passes; fills
/// revents and returns how many are ready. Negative fds are ignored. Each
/// round registers what every file waits on (host fds, wait queues) before
/// checking it, so a change between the check and the sleep still wakes.
fn poll_core(ctx: &SyscallCtx<'_>, entries: &mut [(i32, i16, i16)], timeout_ms: i32) -> SysResult {
    let deadline = if timeout_ms >= 0 {
        Some(std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64))
    } else {
        None
    };
    let mut set = WaitSet::new();
    loop {
        set.reset();
        let mut ready = 0;
        for e in entries.iter_mut() {
            e.2 = 0;
            if e.0 < 0 {
                continue;
            }
            match ctx.file(e.0) {
                Err(_) => e.2 = libc::POLLNVAL,
                Ok(f) => {
                    let want = e.1 | libc::POLLERR | libc::POLLHUP;
                    if ready == 0 {
                        f.ops().wait_on(e.1, &mut set);
                    }
                    e.2 = f.ops().poll(want) & want;
                }
            }
            if e.2 != 0 {
                ready += 1;
            }
        }
        let remaining = deadline.map(remaining_ms);
        if ready > 0 || remaining == Some(0) {
            return Ok(ready);
        }
        let (fds, ms) = set.block_args(remaining.unwrap_or(-1));
        ctx.block(&fds, ms)?;
    }
}

/// Milliseconds left until `deadline`, rounded up: 0 only once it passed
/// (rounding down would end a wait up to a millisecond early).
pub(super) fn remaining_ms(deadline: std::time::Instant) -> i32 {
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
}

/// Blocks a read or write that found `file` not ready until it may be
/// (`events`), interruptibly. The caller retries its operation.
pub fn wait_file(ctx: &SyscallCtx<'_>, file: &dyn crate::vfs::FileOps, events: i16) -> Result<(), Errno> {
    let mut set = WaitSet::new();
    file.wait_on(events, &mut set);
    if set.has_queue() && file.poll(events) & events != 0 {
        return Ok(());
    }
    let (fds, ms) = set.block_args(-1);
    ctx.block(&fds, ms)
}

fn do_poll(ctx: &mut SyscallCtx<'_>, fdsp: u64, nfds: u64, timeout_ms: i32) -> SysResult {
    if nfds > ctx.task.nofile_limit() {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; nfds as usize * 8];
    ctx.mem.read(fdsp, &mut raw)?;
    let mut entries: Vec<(i32, i16, i16)> = raw
        .chunks(8)
        .map(|c| (i32::from_ne_bytes([c[0], c[1], c[2], c[3]]), i16::from_ne_bytes([c[4], c[5]]), 0))
        .collect();
    let ready = poll_core(ctx, &mut entries, timeout_ms)?;
    for (i, e) in entries.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&e.2.to_ne_bytes());
    }
    ctx.mem.write(fdsp, &raw)?;
    Ok(ready)
}

const SELECT_IN: i16 = libc::POLLIN | libc::POLLRDNORM | libc::POLLRDBAND | libc::POLLHUP | libc::POLLERR;
const SELECT_OUT: i16 = libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND | libc::POLLERR;
const SELECT_EX: i16 = libc::POLLPRI;

fn read_fdset(ctx: &SyscallCtx<'_>, addr: u64, nfds: usize) -> Result<Option<Vec<u8>>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let mut v = vec![0u8; nfds.div_ceil(64) * 8];
    ctx.mem.read(addr, &mut v)?;
    Ok(Some(v))
}

fn bit(set: &Option<Vec<u8>>, fd: usize) -> bool {
    set.as_ref().is_some_and(|s| s[fd / 8] & (1 << (fd % 8)) != 0)
}

/// select/pselect6 on top of poll: EBADF for closed fds in any set.
fn do_select(ctx: &mut SyscallCtx<'_>, nfds: i64, rp: u64, wp: u64, ep: u64, timeout_ms: i32) -> SysResult {
    if nfds < 0 || nfds > (ctx.task.nofile_limit() as i64).max(1024) {
        return Err(Errno::EINVAL);
    }
    let n = nfds as usize;
    let (rs, ws, es) = (read_fdset(ctx, rp, n)?, read_fdset(ctx, wp, n)?, read_fdset(ctx, ep, n)?);
    let mut entries = Vec::new();
    for fd in 0..n {
        let mut ev = 0;
        if bit(&rs, fd) {
            ev |= libc::POLLIN;
        }
        if bit(&ws, fd) {
            ev |= libc::POLLOUT;
        }
        if bit(&es, fd) {
            ev |= libc::POLLPRI;
        }
        if ev != 0 {
            if ctx.file(fd as i32).is_err() {
                return Err(Errno::EBADF);
            }
            entries.push((fd as i32, ev, 0i16));
        }
    }
    poll_core(ctx, &mut entries, timeout_ms)?;
    let mut out = [vec![0u8; n.div_ceil(64) * 8], vec![0u8; n.div_ceil(64) * 8], vec![0u8; n.div_ceil(64) * 8]];
    let mut count = 0;
    for &(fd, ev, rev) in &entries {
        let fd = fd as usize;
        for (i, (want, mask)) in
            [(libc::POLLIN, SELECT_IN), (libc::POLLOUT, SELECT_OUT), (libc::POLLPRI, SELECT_EX)].iter().enumerate()
        {
            if ev & want != 0 && rev & mask != 0 {
                out[i][fd / 8] |= 1 << (fd % 8);
                count += 1;
            }
        }
    }
    for (addr, set) in [(rp, &out[0]), (wp, &out[1]), (ep, &out[2])] {
        if addr != 0 {
            ctx.mem.write(addr, set)?;
        }
    }
    Ok(count)
}

/// A timeout argument as poll milliseconds: -1 for NULL (wait forever);
/// EINVAL for negative or malformed values. Rounded up, so a short timeout
/// never turns into a non-blocking check. `micros` selects `struct timeval`.
pub(super) fn timeout_ms(ctx: &SyscallCtx<'_>, addr: u64, micros: bool) -> Result<i32, Errno> {
    if addr == 0 {
        return Ok(-1);
    }
    let (sec, frac, per_ms, limit) = if micros {
        let tv: rvisor_syscalls::abi::Timeval = ctx.mem.read_val(addr)?;
        (tv.tv_sec, tv.tv_usec, 1_000, 1_000_000)
    } else {
        let ts: Timespec = ctx.mem.read_val(addr)?;
        (ts.tv_sec, ts.tv_nsec, 1_000_000, 1_000_000_000)
    };
    if sec < 0 || !(0..limit).contains(&frac) {
        return Err(Errno::EINVAL);
    }
    Ok((sec.saturating_mul(1000).saturating_add((frac + per_ms - 1) / per_ms)).min(i32::MAX as i64) as i32)
}

pub fn sys_select(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let timeout = timeout_ms(ctx, a[4], true)?;
    do_select(ctx, a[0] as i64, a[1], a[2], a[3], timeout)
}

pub fn sys_pselect6(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let timeout = timeout_ms(ctx, a[4], false)?;
    // The sixth argument points at { const sigset_t *ss; size_t ss_len }.
    if a[5] != 0 {
        let pair: [u64; 2] = [ctx.mem.read_val(a[5])?, ctx.mem.read_val(a[5] + 8)?];
        ctx.wait_mask = super::signal::read_wait_mask(ctx, pair[0], pair[1])?;
    }
    do_select(ctx, a[0] as i64, a[1], a[2], a[3], timeout).map_err(nohand)
}

pub fn sys_poll(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    do_poll(ctx, a[0], a[1], a[2] as i32).map_err(nohand)
}

pub fn sys_ppoll(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let timeout = timeout_ms(ctx, a[2], false)?;
    ctx.wait_mask = super::signal::read_wait_mask(ctx, a[3], a[4])?;
    do_poll(ctx, a[0], a[1], timeout).map_err(nohand)
}

/// poll and select are restarted after a signal only if no handler ran.
fn nohand(e: Errno) -> Errno {
    if e == Errno::ERESTARTSYS {
        Errno::ERESTARTNOHAND
    } else {
        e
    }
}
