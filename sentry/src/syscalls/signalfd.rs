//! signalfd: the host holds the pending signals, so a read dequeues them in
//! the reading thread's own context (a zero-timeout rt_sigtimedwait with the
//! signalfd's mask, injected), and readiness is the reading thread's pending
//! set as ptrace reports it. A signalfd has no host fd: poll and epoll see
//! it through `FileOps::poll`, which asks for the task being served, and
//! wait on [`SIGNALS`], which every signal the sentry raises notifies.
//! Signals the host raises by itself (interval and POSIX timers, which are
//! passthrough) announce nothing: a signalfd watching one is re-checked.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rvisor_syscalls::abi::{Iovec, Pod, Siginfo};
use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::signal as ksig;
use crate::kernel::wait::{WaitSet, SIGNALS};
use crate::vfs::{Attr, FileOps, OpenFile, VfsResult};

/// `sizeof(struct signalfd_siginfo)`.
const SSI_SIZE: usize = 128;
const UNBLOCKABLE: u64 = 1 << (libc::SIGKILL - 1) | 1 << (libc::SIGSTOP - 1);
const PTRACE_PEEKSIGINFO_SHARED: u32 = 1;

/// A signalfd: the set of signals it reports.
pub struct SignalFd {
    mask: AtomicU64,
}

const fn bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// Signals the host may raise with no sentry involvement: the interval
/// timers' and RLIMIT_CPU's, plus any a POSIX timer was created with.
static HOST_RAISED: AtomicU64 =
    AtomicU64::new(bit(libc::SIGALRM) | bit(libc::SIGVTALRM) | bit(libc::SIGPROF) | bit(libc::SIGXCPU));

/// How often a wait for host-raised signals re-checks, in ms.
const HOST_RECHECK_MS: i32 = 10;

/// timer_create: the host will raise `sig` on its own from now on.
pub fn note_timer_signal(sig: i32) {
    if (1..=64).contains(&sig) {
        HOST_RAISED.fetch_or(bit(sig), Ordering::Relaxed);
    }
}

/// Registers a wait for any of `mask` to become pending.
fn wait_for(mask: u64, set: &mut WaitSet) {
    set.queue(&SIGNALS);
    if mask & HOST_RAISED.load(Ordering::Relaxed) != 0 {
        set.recheck(HOST_RECHECK_MS);
    }
}

/// Signals pending for host thread `tid` of process `pid` (its own and its process's), read
/// with PTRACE_PEEKSIGINFO when the caller is `tid`'s tracer and `tid` is
/// stopped, else (a detached systrap thread) from /proc.
fn pending_mask(pid: i32, tid: i32) -> u64 {
    #[repr(C)]
    struct PeekArgs {
        off: u64,
        flags: u32,
        nr: i32,
    }
    let mut mask = 0u64;
    for flags in [0, PTRACE_PEEKSIGINFO_SHARED] {
        let mut off = 0u64;
        loop {
            let args = PeekArgs { off, flags, nr: 32 };
            let mut out = [Siginfo::zeroed(); 32];
            // SAFETY: args and out are live and sized as PEEKSIGINFO expects (nr entries of 128 bytes).
            let n = unsafe { libc::ptrace(libc::PTRACE_PEEKSIGINFO, tid, &args as *const PeekArgs, out.as_mut_ptr()) };
            if n < 0 && Errno::last() == Errno::ESRCH {
                return crate::kernel::signal::host_pending(pid, tid).map_or(0, |(own, shared)| own | shared);
            }
            if n <= 0 {
                break;
            }
            for si in &out[..n as usize] {
                if (1..=64).contains(&si.si_signo) {
                    mask |= 1 << (si.si_signo - 1);
                }
            }
            if n < 32 {
                break;
            }
            off += n as u64;
        }
    }
    mask
}

impl FileOps for SignalFd {
    fn read(&self, _buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        // Reads are served by `read_hook`, in the reader's context.
        Err(Errno::EINVAL)
    }
    fn write(&self, _buf: &[u8], _off: u64) -> VfsResult<usize> {
        Err(Errno::EINVAL)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn attr(&self) -> VfsResult<Attr> {
        Ok(Attr { mode: 0o600, nlink: 1, blksize: 4096, ..Default::default() })
    }
    fn wait_on(&self, _events: i16, set: &mut WaitSet) {
        wait_for(self.mask.load(Ordering::Relaxed), set);
    }
    fn poll(&self, events: i16) -> i16 {
        let Some(task) = crate::kernel::current_task() else { return 0 };
        if pending_mask(task.tg.host_pid(), task.host_tid()) & self.mask.load(Ordering::Relaxed) != 0 {
            events & (libc::POLLIN | libc::POLLRDNORM)
        } else {
            0
        }
    }
    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn signalfd_common(ctx: &mut SyscallCtx<'_>, fd: i32, mask_addr: u64, size: u64, flags: i32) -> SysResult {
    if size != 8 || flags & !(libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = ctx.mem.read_val::<u64>(mask_addr)? & !UNBLOCKABLE;
    if fd != -1 {
        let file = ctx.file(fd)?;
        let sfd = file.ops().as_any().downcast_ref::<SignalFd>().ok_or(Errno::EINVAL)?;
        sfd.mask.store(mask, Ordering::Relaxed);
        return Ok(fd.into());
    }
    let ops = Arc::new(SignalFd { mask: AtomicU64::new(mask) });
    let file =
        OpenFile::new_anon(ops, None, libc::O_RDWR | (flags & libc::SFD_NONBLOCK), "anon_inode:[signalfd]".into());
    ctx.task.files().install(file, flags & libc::SFD_CLOEXEC != 0, 0, ctx.task.nofile_limit()).map(i64::from)
}

pub fn sys_signalfd(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    signalfd_common(ctx, a[0] as i32, a[1], a[2], 0)
}

pub fn sys_signalfd4(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    signalfd_common(ctx, a[0] as i32, a[1], a[2], a[3] as i32)
}

/// `struct signalfd_siginfo` from a kernel siginfo, as Linux's
/// signalfd_copyinfo fills it for each kind of signal.
fn to_ssi(si: &Siginfo) -> [u8; SSI_SIZE] {
    let raw = si.as_bytes();
    let w32 = |off: usize| u32::from_ne_bytes([raw[off], raw[off + 1], raw[off + 2], raw[off + 3]]);
    let w64 = |off: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[off..off + 8]);
        u64::from_ne_bytes(b)
    };
    let mut o = [0u8; SSI_SIZE];
    let put32 = |o: &mut [u8; SSI_SIZE], off: usize, v: u32| o[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    let put64 = |o: &mut [u8; SSI_SIZE], off: usize, v: u64| o[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    put32(&mut o, 0, si.si_signo as u32);
    put32(&mut o, 4, si.si_errno as u32);
    put32(&mut o, 8, si.si_code as u32);
    let kernel_made = si.si_code > 0;
    match si.si_signo {
        libc::SIGCHLD if kernel_made => {
            put32(&mut o, 12, w32(16)); // pid
            put32(&mut o, 16, w32(20)); // uid
            put32(&mut o, 40, w32(24)); // status
            put64(&mut o, 56, w64(32)); // utime
            put64(&mut o, 64, w64(40)); // stime
        }
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP if kernel_made => {
            put64(&mut o, 72, w64(16)); // addr
        }
        libc::SIGPOLL if kernel_made => {
            put32(&mut o, 28, w64(16) as u32); // band
            put32(&mut o, 20, w32(24)); // fd
        }
        _ if si.si_code == libc::SI_TIMER => {
            put32(&mut o, 24, w32(16)); // timer id
            put32(&mut o, 32, w32(20)); // overrun
            put32(&mut o, 44, w32(24)); // int
            put64(&mut o, 48, w64(24)); // ptr
        }
        _ => {
            put32(&mut o, 12, w32(16)); // pid
            put32(&mut o, 16, w32(20)); // uid
            put32(&mut o, 44, w32(24)); // int
            put64(&mut o, 48, w64(24)); // ptr
        }
    }
    o
}

/// Where a read's records go: one buffer, or an iovec array (readv).
enum Dest<'a> {
    Buf(u64),
    Iov(&'a [Iovec]),
}

impl Dest<'_> {
    fn put(&self, ctx: &SyscallCtx<'_>, data: &[u8]) -> Result<(), Errno> {
        match self {
            Dest::Buf(addr) => ctx.mem.write(*addr, data),
            Dest::Iov(iovs) => {
                let mut done = 0;
                for v in iovs.iter() {
                    if done >= data.len() {
                        break;
                    }
                    let n = (v.iov_len as usize).min(data.len() - done);
                    ctx.mem.write(v.iov_base, &data[done..done + n])?;
                    done += n;
                }
                Ok(())
            }
        }
    }
}

/// read(2) on a signalfd, or None if `fd` is not one (the generic path runs).
pub fn read_hook(ctx: &mut SyscallCtx<'_>, fd: i32, buf: u64, len: u64) -> Option<SysResult> {
    let file = ctx.file(fd).ok()?;
    let mask = file.ops().as_any().downcast_ref::<SignalFd>()?.mask.load(Ordering::Relaxed);
    Some(read(ctx, &file, mask, Dest::Buf(buf), len))
}

/// readv/preadv2 (offset -1) on a signalfd: records fill the vector as one
/// buffer (Linux's signalfd has read_iter); an offset is ESPIPE.
pub fn readv_hook(
    ctx: &mut SyscallCtx<'_>,
    file: &Arc<OpenFile>,
    iovs: &[Iovec],
    off: Option<u64>,
) -> Option<SysResult> {
    let mask = file.ops().as_any().downcast_ref::<SignalFd>()?.mask.load(Ordering::Relaxed);
    if off.is_some() {
        return Some(Err(Errno::ESPIPE));
    }
    if !file.readable() {
        return Some(Err(Errno::EBADF));
    }
    let len = iovs.iter().fold(0u64, |a, v| a.saturating_add(v.iov_len));
    Some(read(ctx, file, mask, Dest::Iov(iovs), len))
}

fn read(ctx: &mut SyscallCtx<'_>, file: &Arc<OpenFile>, mask: u64, dest: Dest<'_>, len: u64) -> SysResult {
    let max = usize::try_from(len).unwrap_or(usize::MAX) / SSI_SIZE;
    if max == 0 {
        return Err(Errno::EINVAL);
    }
    // Scratch below the red zone (clear of inject_fd's): mask, zero timespec, siginfo.
    let scratch = super::stack_scratch(ctx.regs()?.rsp, 1024);
    let (mask_addr, ts_addr, info_addr) = (scratch, scratch + 16, scratch + 32);
    let mut block = [0u8; 32];
    block[..8].copy_from_slice(&mask.to_ne_bytes());
    let mut set = WaitSet::new();
    loop {
        // Registered before the check: a signal raised after it wakes us.
        set.reset();
        if !file.nonblocking() {
            wait_for(mask, &mut set);
        }
        let mut out = Vec::new();
        while out.len() / SSI_SIZE < max {
            ctx.mem.write(scratch, &block)?;
            let r = ctx.inject(libc::SYS_rt_sigtimedwait, [mask_addr, info_addr, ts_addr, 8, 0, 0])?;
            if r < 0 {
                break;
            }
            let host: Siginfo = ctx.mem.read_val(info_addr)?;
            let si = ksig::virtual_info(ctx.kernel, ctx.task, &host).unwrap_or(host);
            out.extend_from_slice(&to_ssi(&si));
        }
        if !out.is_empty() {
            dest.put(ctx, &out)?;
            return Ok(out.len() as i64);
        }
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        let (fds, ms) = set.block_args(-1);
        ctx.block(&fds, ms)?;
    }
}
