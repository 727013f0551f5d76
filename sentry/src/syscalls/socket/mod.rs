//! Socket syscalls: creation, naming, connection set-up and teardown. Data
//! transfer is in [`msg`], options in [`opt`], AF_UNIX addresses in [`unix`].
//! The socket objects themselves live in `crate::fs::socket`.

pub mod msg;
pub mod opt;
pub mod unix;

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::fs::socket::inet::InetSocket;
use crate::fs::socket::netlink::NetlinkSocket;
use crate::fs::socket::unix::UnixSocket;
use crate::fs::socket::{Kind, SocketFile, Ucred};
use crate::mm::Memory;
use crate::vfs::{OpenFile, VfsResult};

pub use msg::{read, write};

/// Largest socket address accepted from the app (sizeof(struct sockaddr_storage)).
const SOCKADDR_MAX: usize = 128;
/// Socket types Linux knows (SOCK_MAX); others are EINVAL before any family sees them.
const SOCK_MAX: i32 = 11;
const SOCK_TYPE_MASK: i32 = 0xf;

static ALLOW_RAW: AtomicBool = AtomicBool::new(false);

/// Lets the sandbox open raw and packet sockets (off by default: they see
/// and forge traffic of the whole network namespace).
pub fn allow_raw_sockets(on: bool) {
    ALLOW_RAW.store(on, Ordering::Relaxed);
}

/// The socket of an open file: ENOTSOCK if it is not one.
pub(super) fn as_sock(f: &OpenFile) -> Result<&SocketFile, Errno> {
    // An O_PATH descriptor is no file to socket calls (Linux's fdget): EBADF.
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    SocketFile::of(f).ok_or(Errno::ENOTSOCK)
}

/// SO_PEERCRED identity of the caller: pid and effective ids.
pub(super) fn peer_cred(ctx: &SyscallCtx<'_>) -> Ucred {
    let c = ctx.task.creds();
    Ucred { pid: ctx.task.tg.tgid, uid: c.euid, gid: c.egid }
}

/// SCM_CREDENTIALS identity of the caller: pid and real ids.
pub(super) fn scm_cred(ctx: &SyscallCtx<'_>) -> Ucred {
    let c = ctx.task.creds();
    Ucred { pid: ctx.task.tg.tgid, uid: c.ruid, gid: c.rgid }
}

/// A blocker for one call: sleeps interruptibly on the host fd unless the
/// call is non-blocking; EAGAIN once `timeout` (SO_RCVTIMEO/SO_SNDTIMEO) passes.
pub(super) fn blocker<'c>(
    ctx: &'c SyscallCtx<'_>,
    nonblock: bool,
    timeout: Option<Duration>,
) -> impl FnMut(RawFd, i16) -> VfsResult<()> + 'c {
    let deadline = timeout.map(|t| Instant::now() + t);
    move |fd, events| {
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining == Some(Duration::ZERO) {
            return Err(Errno::EAGAIN);
        }
        let ms = remaining.map(|r| r.as_millis().clamp(1, i32::MAX as u128) as i32).unwrap_or(-1);
        if fd < 0 {
            // Sentry-side state (a full accept queue): re-check shortly.
            ctx.block(&[], if ms < 0 { 10 } else { ms.min(10) })
        } else {
            ctx.block(&[(fd, events)], ms)
        }
    }
}

/// Copies a socket address in.
pub(super) fn read_addr(mem: &Memory, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    let len = usize::try_from(len as u32 as i32).map_err(|_| Errno::EINVAL)?;
    if len > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; len];
    mem.read(addr, &mut buf)?;
    Ok(buf)
}

/// Copies a socket address out to (`addr`, `*lenp`), truncating to the
/// caller's buffer and reporting the full length, as Linux does.
pub(super) fn write_addr(mem: &Memory, addr: u64, lenp: u64, bytes: &[u8]) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    let cap: i32 = mem.read_val(lenp)?;
    if cap < 0 {
        return Err(Errno::EINVAL);
    }
    let n = (cap as usize).min(bytes.len());
    mem.write(addr, &bytes[..n])?;
    mem.write_val(lenp, &(bytes.len() as i32))
}

/// Builds the socket for socket(2) and socketpair(2)'s checks.
fn new_socket(ctx: &SyscallCtx<'_>, domain: i32, stype: i32, protocol: i32) -> Result<SocketFile, Errno> {
    let kind = match domain {
        libc::AF_UNIX => {
            if protocol != 0 && protocol != libc::PF_UNIX {
                return Err(Errno::EPROTONOSUPPORT);
            }
            // Linux treats SOCK_RAW as SOCK_DGRAM for AF_UNIX.
            let stype = if stype == libc::SOCK_RAW { libc::SOCK_DGRAM } else { stype };
            match stype {
                libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET => {}
                _ => return Err(Errno::ESOCKTNOSUPPORT),
            }
            return Ok(SocketFile::new(domain, stype, 0, Kind::Unix(UnixSocket::new(stype)?)));
        }
        libc::AF_INET | libc::AF_INET6 => {
            if !(0..256).contains(&protocol) {
                return Err(Errno::EINVAL);
            }
            let icmp = if domain == libc::AF_INET { libc::IPPROTO_ICMP } else { libc::IPPROTO_ICMPV6 };
            let ok = match stype {
                libc::SOCK_STREAM => matches!(protocol, 0 | libc::IPPROTO_TCP),
                libc::SOCK_DGRAM => protocol == 0 || protocol == libc::IPPROTO_UDP || protocol == icmp,
                libc::SOCK_RAW => {
                    // A raw socket needs a protocol, whoever asks.
                    if protocol == 0 {
                        return Err(Errno::EPROTONOSUPPORT);
                    }
                    if !ALLOW_RAW.load(Ordering::Relaxed) {
                        ctx.kernel.note_unsupported("raw socket");
                        return Err(Errno::EPERM);
                    }
                    true
                }
                _ => return Err(Errno::ESOCKTNOSUPPORT),
            };
            if !ok {
                return Err(Errno::EPROTONOSUPPORT);
            }
            Kind::Inet(InetSocket::new(domain, stype, protocol)?)
        }
        libc::AF_NETLINK => {
            if stype != libc::SOCK_RAW && stype != libc::SOCK_DGRAM {
                return Err(Errno::ESOCKTNOSUPPORT);
            }
            Kind::Netlink(NetlinkSocket::new(stype, protocol)?)
        }
        libc::AF_PACKET => {
            if !ALLOW_RAW.load(Ordering::Relaxed) {
                ctx.kernel.note_unsupported("packet socket");
                return Err(Errno::EPERM);
            }
            Kind::Inet(InetSocket::new(domain, stype, protocol)?)
        }
        _ => {
            ctx.kernel.note_unsupported(&format!("socket family {domain}"));
            return Err(Errno::EAFNOSUPPORT);
        }
    };
    Ok(SocketFile::new(domain, stype, protocol, kind))
}

/// Splits socket(2)'s type argument into (type, O_NONBLOCK, cloexec).
fn split_type(raw: i32) -> Result<(i32, i32, bool), Errno> {
    let flags = raw & !SOCK_TYPE_MASK;
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let stype = raw & SOCK_TYPE_MASK;
    if stype <= 0 || stype >= SOCK_MAX {
        return Err(Errno::EINVAL);
    }
    let nonblock = if raw & libc::SOCK_NONBLOCK != 0 { libc::O_NONBLOCK } else { 0 };
    Ok((stype, nonblock, raw & libc::SOCK_CLOEXEC != 0))
}

fn install(ctx: &SyscallCtx<'_>, file: Arc<OpenFile>, cloexec: bool) -> Result<i32, Errno> {
    ctx.task.files().install(file, cloexec, 0, ctx.task.nofile_limit())
}

pub fn sys_socket(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (domain, raw_type, protocol) = (a[0] as i32, a[1] as i32, a[2] as i32);
    let (stype, nonblock, cloexec) = split_type(raw_type)?;
    let s = new_socket(ctx, domain, stype, protocol)?;
    install(ctx, s.into_file(nonblock), cloexec).map(i64::from)
}

pub fn sys_socketpair(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (domain, raw_type, protocol, out) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3]);
    let (stype, nonblock, cloexec) = split_type(raw_type)?;
    match domain {
        libc::AF_UNIX => {}
        libc::AF_INET | libc::AF_INET6 | libc::AF_NETLINK => {
            // Linux makes the first socket before it finds these families
            // have no pairs: socket(2)'s errors come first.
            drop(new_socket(ctx, domain, stype, protocol)?);
            return Err(Errno::EOPNOTSUPP);
        }
        _ => return Err(Errno::EAFNOSUPPORT),
    }
    // Same checks as socket(2) (protocol, type) before anything is made.
    let probe = new_socket(ctx, domain, stype, protocol)?;
    let stype = probe.stype;
    drop(probe);
    ctx.mem.read_val::<[i32; 2]>(out)?;
    let (x, y) = UnixSocket::pair(stype, peer_cred(ctx))?;
    let fx = SocketFile::new(domain, stype, 0, Kind::Unix(x)).into_file(nonblock);
    let fy = SocketFile::new(domain, stype, 0, Kind::Unix(y)).into_file(nonblock);
    let files = ctx.task.files();
    let dx = install(ctx, fx, cloexec)?;
    let dy = match install(ctx, fy, cloexec) {
        Ok(d) => d,
        Err(e) => {
            let _ = files.remove(dx);
            return Err(e);
        }
    };
    if let Err(e) = ctx.mem.write_val(out, &[dx, dy]) {
        let _ = files.remove(dx);
        let _ = files.remove(dy);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_bind(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let s = as_sock(&f)?;
    let addr = read_addr(&ctx.mem, a[1], a[2])?;
    match &s.kind {
        Kind::Unix(u) => unix::bind(ctx, u, &addr)?,
        Kind::Inet(i) => i.bind(&addr, ctx.task.creds().euid == 0)?,
        Kind::Netlink(n) => n.bind(&addr)?,
    }
    Ok(0)
}

pub fn sys_listen(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    as_sock(&f)?.listen(a[1] as i32, peer_cred(ctx))?;
    Ok(0)
}

pub fn sys_connect(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let s = as_sock(&f)?;
    let addr = read_addr(&ctx.mem, a[1], a[2])?;
    let ctx = &*ctx;
    let mut block = blocker(ctx, f.nonblocking(), s.timeout(true));
    match &s.kind {
        Kind::Unix(u) => unix::connect(ctx, u, &addr, &mut block)?,
        Kind::Inet(i) => i.connect(&addr, &mut block)?,
        Kind::Netlink(n) => n.connect(&addr)?,
    }
    Ok(0)
}

fn accept_common(ctx: &mut SyscallCtx<'_>, a: [u64; 6], flags: i32) -> SysResult {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = ctx.file(a[0] as i32)?;
    let s = as_sock(&f)?;
    let mem = ctx.mem;
    let ctx = &*ctx;
    let mut block = blocker(ctx, f.nonblocking(), s.timeout(false));
    let (new, peer) = match &s.kind {
        Kind::Unix(u) => {
            if u.stype() == libc::SOCK_DGRAM {
                return Err(Errno::EOPNOTSUPP);
            }
            let c = u.accept(&mut block)?;
            let peer = c.name(true).unwrap_or_default();
            (SocketFile::new(s.domain, s.stype, s.protocol, Kind::Unix(c)), peer)
        }
        Kind::Inet(i) => {
            let (c, peer) = i.accept(&mut block)?;
            (SocketFile::new(s.domain, s.stype, s.protocol, Kind::Inet(c)), peer)
        }
        Kind::Netlink(_) => return Err(Errno::EOPNOTSUPP),
    };
    // Like Linux, a fault writing the address loses the connection.
    write_addr(&mem, a[1], a[2], &peer)?;
    let nonblock = if flags & libc::SOCK_NONBLOCK != 0 { libc::O_NONBLOCK } else { 0 };
    install(ctx, new.into_file(nonblock), flags & libc::SOCK_CLOEXEC != 0).map(i64::from)
}

pub fn sys_accept(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    accept_common(ctx, a, 0)
}

pub fn sys_accept4(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    accept_common(ctx, a, a[3] as i32)
}

fn name_common(ctx: &mut SyscallCtx<'_>, a: [u64; 6], peer: bool) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let name = as_sock(&f)?.name(peer)?;
    if a[1] == 0 {
        return Err(Errno::EFAULT);
    }
    write_addr(&ctx.mem, a[1], a[2], &name)?;
    Ok(0)
}

pub fn sys_getsockname(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    name_common(ctx, a, false)
}

pub fn sys_getpeername(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    name_common(ctx, a, true)
}

pub fn sys_shutdown(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    as_sock(&f)?.shutdown(a[1] as i32)?;
    Ok(0)
}
