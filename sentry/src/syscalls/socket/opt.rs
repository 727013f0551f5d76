//! getsockopt/setsockopt. Identity and timeouts are the sentry's (SO_TYPE,
//! SO_PEERCRED, SO_RCVTIMEO, ...); AF_UNIX options live in the sentry; inet
//! and netlink options go to the host socket from an allowlist, so nothing
//! the sandbox sets can reach beyond its own socket (no SO_MARK, no
//! *BUFFORCE, no transparent proxying).

use std::time::Duration;

use rvisor_syscalls::abi::{Pod, Timeval};
use rvisor_syscalls::{Errno, SysResult};

use super::as_sock;
use crate::fs::socket::host;
use crate::fs::socket::{Kind, SocketFile};
use crate::syscalls::SyscallCtx;

const SO_RCVTIMEO_OLD: i32 = 20;
const SO_SNDTIMEO_OLD: i32 = 21;
const SO_RCVTIMEO_NEW: i32 = 66;
const SO_SNDTIMEO_NEW: i32 = 67;
const SO_PEERSEC: i32 = 31;
const SOL_NETLINK: i32 = 270;
/// Largest option value copied in or out.
const OPT_MAX: usize = 1024;

/// How an allowlisted host option may be used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
    /// Readable; setting needs sandbox root (it reaches devices or priorities).
    RootWrite,
}

use Access::*;

/// Options passed to host inet sockets.
const INET_OPTS: &[(i32, i32, Access)] = &[
    (libc::SOL_SOCKET, libc::SO_REUSEADDR, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_TYPE, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_ERROR, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_DONTROUTE, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_BROADCAST, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_SNDBUF, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_RCVBUF, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_OOBINLINE, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_NO_CHECK, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_PRIORITY, RootWrite),
    (libc::SOL_SOCKET, libc::SO_LINGER, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_RCVLOWAT, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_SNDLOWAT, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_BINDTODEVICE, RootWrite),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMP, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_ACCEPTCONN, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMPING, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_PROTOCOL, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_DOMAIN, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_RXQ_OVFL, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_PEEK_OFF, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_INCOMING_CPU, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_COOKIE, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_BINDTOIFINDEX, RootWrite),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_MAXSEG, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_CORK, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_SYNCNT, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_LINGER2, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_WINDOW_CLAMP, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_INFO, ReadOnly),
    (libc::IPPROTO_TCP, libc::TCP_QUICKACK, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_CONGESTION, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, ReadWrite),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_TOS, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_TTL, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_PKTINFO, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_RECVERR, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_RECVTTL, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_RECVTOS, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_MTU, ReadOnly),
    (libc::IPPROTO_IP, libc::IP_FREEBIND, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_IF, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, ReadWrite),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_DROP_MEMBERSHIP, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVERR, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU, ReadOnly),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, ReadWrite),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS, ReadWrite),
    (libc::IPPROTO_UDP, libc::UDP_CORK, ReadWrite),
    (libc::IPPROTO_UDP, libc::UDP_SEGMENT, ReadWrite),
    (libc::IPPROTO_UDP, libc::UDP_GRO, ReadWrite),
];

/// Options passed to host netlink sockets (group membership is read-only access).
const NETLINK_OPTS: &[(i32, i32, Access)] = &[
    (libc::SOL_SOCKET, libc::SO_SNDBUF, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_RCVBUF, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_TYPE, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_ERROR, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_PROTOCOL, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_DOMAIN, ReadOnly),
    (libc::SOL_SOCKET, libc::SO_PASSCRED, ReadWrite),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMP, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_DROP_MEMBERSHIP, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_PKTINFO, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_BROADCAST_ERROR, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_NO_ENOBUFS, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_LIST_MEMBERSHIPS, ReadOnly),
    (SOL_NETLINK, libc::NETLINK_CAP_ACK, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_EXT_ACK, ReadWrite),
    (SOL_NETLINK, libc::NETLINK_GET_STRICT_CHK, ReadWrite),
];

/// Generic SOL_SOCKET options an AF_UNIX socket accepts and reports back
/// without their having any effect on local sockets.
const UNIX_STORED: &[i32] = &[
    libc::SO_REUSEADDR,
    libc::SO_REUSEPORT,
    libc::SO_KEEPALIVE,
    libc::SO_BROADCAST,
    libc::SO_DONTROUTE,
    libc::SO_OOBINLINE,
    libc::SO_LINGER,
    libc::SO_PRIORITY,
    libc::SO_RCVLOWAT,
    libc::SO_TIMESTAMP,
    libc::SO_TIMESTAMPNS,
    libc::SO_PASSSEC,
];

fn int(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn as_int(v: &[u8]) -> Result<i32, Errno> {
    if v.len() < 4 {
        return Err(Errno::EINVAL);
    }
    Ok(i32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
}

fn is_timeout(level: i32, name: i32) -> bool {
    level == libc::SOL_SOCKET && matches!(name, SO_RCVTIMEO_OLD | SO_SNDTIMEO_OLD | SO_RCVTIMEO_NEW | SO_SNDTIMEO_NEW)
}

fn is_send_timeout(name: i32) -> bool {
    matches!(name, SO_SNDTIMEO_OLD | SO_SNDTIMEO_NEW)
}

/// Linux keeps socket timeouts in scheduler ticks, rounding the fraction
/// up, and reports them back that way.
fn round_to_tick(d: Duration) -> Duration {
    let tick = tick();
    let n = d.as_nanos().div_ceil(tick.as_nanos().max(1));
    Duration::from_nanos((n * tick.as_nanos()) as u64)
}

/// The host's tick length, measured once: a 1 µs socket timeout reads back
/// as one tick.
fn tick() -> Duration {
    static TICK: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TICK.get_or_init(|| {
        let probe = || -> Option<Duration> {
            let (a, _b) = host::socketpair(libc::SOCK_DGRAM).ok()?;
            let a = std::os::fd::AsRawFd::as_raw_fd(&a);
            let one = Timeval { tv_sec: 0, tv_usec: 1 };
            host::setsockopt(a, libc::SOL_SOCKET, libc::SO_RCVTIMEO, Pod::as_bytes(&one)).ok()?;
            let v = host::getsockopt(a, libc::SOL_SOCKET, libc::SO_RCVTIMEO, 16).ok()?;
            let tv: Timeval = Pod::from_bytes(&v)?;
            (tv.tv_sec == 0 && tv.tv_usec > 0).then(|| Duration::from_micros(tv.tv_usec as u64))
        };
        probe().unwrap_or(Duration::from_micros(1))
    })
}

fn allowed(table: &[(i32, i32, Access)], level: i32, name: i32) -> Option<Access> {
    table.iter().find(|(l, n, _)| *l == level && *n == name).map(|e| e.2)
}

pub fn sys_setsockopt(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, level, name, valp, len) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3], a[4] as u32 as i32);
    let f = ctx.file(fd)?;
    let s = as_sock(&f)?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let mut val = vec![0u8; (len as usize).min(OPT_MAX)];
    ctx.mem.read(valp, &mut val)?;
    if is_timeout(level, name) {
        let tv: Timeval = Pod::from_bytes(&val).ok_or(Errno::EINVAL)?;
        if !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EDOM);
        }
        let t = match (tv.tv_sec, tv.tv_usec) {
            (0, 0) => None,
            (s, _) if s < 0 => Some(Duration::ZERO),
            (s, u) => Some(Duration::from_secs(s as u64) + round_to_tick(Duration::from_micros(u as u64))),
        };
        s.set_timeout(is_send_timeout(name), t);
        return Ok(0);
    }
    let root = ctx.task.creds().euid == 0;
    match &s.kind {
        Kind::Unix(u) => {
            if level != libc::SOL_SOCKET {
                return Err(unknown_option_errno(s, level, false));
            }
            match name {
                libc::SO_PASSCRED => u.set_passcred(as_int(&val)? != 0),
                libc::SO_SNDBUF | libc::SO_RCVBUF => {
                    as_int(&val)?;
                    match u.buffer_fd() {
                        Some(h) => host::setsockopt(std::os::fd::AsRawFd::as_raw_fd(&*h), level, name, &val)?,
                        None => s.store_opt(level, name, val),
                    }
                }
                n if UNIX_STORED.contains(&n) => {
                    as_int(&val)?;
                    s.store_opt(level, name, val);
                }
                _ => return unsupported(ctx, s, level, name, false),
            }
            Ok(0)
        }
        Kind::Inet(i) => set_host(ctx, s, i.raw(), INET_OPTS, level, name, &val, root),
        Kind::Netlink(n) => set_host(ctx, s, n.raw(), NETLINK_OPTS, level, name, &val, root),
    }
}

#[allow(clippy::too_many_arguments)]
fn set_host(
    ctx: &SyscallCtx<'_>,
    s: &SocketFile,
    fd: std::os::fd::RawFd,
    table: &[(i32, i32, Access)],
    level: i32,
    name: i32,
    val: &[u8],
    root: bool,
) -> SysResult {
    match allowed(table, level, name) {
        Some(ReadWrite) => {}
        Some(RootWrite) if root => {}
        // Unprivileged Linux allows priorities 0..=6 only.
        Some(RootWrite) if name == libc::SO_PRIORITY && (0..=6).contains(&as_int(val)?) => {}
        Some(RootWrite) => return Err(Errno::EPERM),
        Some(ReadOnly) => return Err(Errno::ENOPROTOOPT),
        None => return unsupported(ctx, s, level, name, false),
    }
    host::setsockopt(fd, level, name, val)?;
    Ok(0)
}

/// `get`: getsockopt (else setsockopt).
fn unsupported(ctx: &SyscallCtx<'_>, s: &SocketFile, level: i32, name: i32, get: bool) -> SysResult {
    let e = unknown_option_errno(s, level, get);
    ctx.unsupported(&format!("sockopt(family {}, level {level}, {name})", s.domain), e)
}

/// Linux's answer to an option it does not know: ENOPROTOOPT for an unknown
/// name at a level the socket has; for a level it lacks, unix sockets have
/// no protocol options at all (EOPNOTSUPP), and IPv4 sockets fall through to
/// ip_getsockopt (EOPNOTSUPP) or ip_setsockopt (ENOPROTOOPT); IPv6 sockets
/// say ENOPROTOOPT.
fn unknown_option_errno(s: &SocketFile, level: i32, get: bool) -> Errno {
    let proto_level = match s.stype {
        libc::SOCK_STREAM => libc::IPPROTO_TCP,
        libc::SOCK_DGRAM => libc::IPPROTO_UDP,
        _ => s.protocol,
    };
    match s.domain {
        _ if level == libc::SOL_SOCKET => Errno::ENOPROTOOPT,
        libc::AF_INET if get && level != libc::IPPROTO_IP && level != proto_level => Errno::EOPNOTSUPP,
        libc::AF_UNIX => Errno::EOPNOTSUPP,
        _ => Errno::ENOPROTOOPT,
    }
}

pub fn sys_getsockopt(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, level, name, valp, lenp) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3], a[4]);
    let f = ctx.file(fd)?;
    let s = as_sock(&f)?;
    let cap: i32 = ctx.mem.read_val(lenp)?;
    if cap < 0 {
        return Err(Errno::EINVAL);
    }
    let cap = (cap as usize).min(OPT_MAX);
    let v = get_value(ctx, s, level, name, cap)?;
    let n = v.len().min(cap);
    ctx.mem.write(valp, &v[..n])?;
    ctx.mem.write_val(lenp, &(n as i32))?;
    Ok(0)
}

fn get_value(ctx: &SyscallCtx<'_>, s: &SocketFile, level: i32, name: i32, cap: usize) -> Result<Vec<u8>, Errno> {
    if is_timeout(level, name) {
        let t = s.timeout(is_send_timeout(name)).unwrap_or_default();
        let tv = Timeval { tv_sec: t.as_secs() as i64, tv_usec: t.subsec_micros() as i64 };
        return Ok(Pod::as_bytes(&tv).to_vec());
    }
    let host_get = |fd, table: &[(i32, i32, Access)]| -> Result<Vec<u8>, Errno> {
        match allowed(table, level, name) {
            Some(_) => host::getsockopt(fd, level, name, cap.max(4)),
            None => unsupported(ctx, s, level, name, true).map(|_| Vec::new()),
        }
    };
    let u = match &s.kind {
        Kind::Unix(u) => u,
        Kind::Inet(i) => return host_get(i.raw(), INET_OPTS),
        Kind::Netlink(n) => return host_get(n.raw(), NETLINK_OPTS),
    };
    if level != libc::SOL_SOCKET {
        return Err(unknown_option_errno(s, level, true));
    }
    Ok(match name {
        libc::SO_TYPE => int(s.stype),
        libc::SO_DOMAIN => int(s.domain),
        libc::SO_PROTOCOL => int(s.protocol),
        libc::SO_ERROR => int(0),
        libc::SO_ACCEPTCONN => int(u.is_listening() as i32),
        libc::SO_PASSCRED => int(u.passcred() as i32),
        libc::SO_PEERCRED => match u.peer_cred() {
            Some(c) => c.to_bytes().to_vec(),
            // No peer: pid 0 and the overflow ids, as Linux reports.
            None => crate::fs::socket::Ucred { pid: 0, uid: u32::MAX, gid: u32::MAX }.to_bytes().to_vec(),
        },
        SO_PEERSEC => return Err(Errno::ENOPROTOOPT),
        libc::SO_SNDBUF | libc::SO_RCVBUF => match u.buffer_fd() {
            Some(h) => host::getsockopt(std::os::fd::AsRawFd::as_raw_fd(&*h), level, name, 4)?,
            None => int(match s.stored_opt(level, name) {
                // Linux doubles the request (bookkeeping overhead), within its limits.
                Some(v) => (as_int(&v)?.clamp(2304, 212_992)) * 2,
                None => 212_992,
            }),
        },
        n if UNIX_STORED.contains(&n) => match s.stored_opt(level, name) {
            Some(v) => v,
            None if n == libc::SO_LINGER => vec![0u8; 8],
            None if n == libc::SO_RCVLOWAT => int(1),
            None => int(0),
        },
        _ => return unsupported(ctx, s, level, name, true).map(|_| Vec::new()),
    })
}
