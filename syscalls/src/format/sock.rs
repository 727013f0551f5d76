//! Socket arguments as strace shows them: socket addresses
//! (`{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}`)
//! and socket option names by level.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{enum_name, ptr, MemReader};

/// Longest socket address read (sizeof(struct sockaddr_storage)).
const SOCKADDR_MAX: u64 = 128;

/// An input socket address of `len` bytes at `addr`.
pub(super) fn sockaddr(mem: &dyn MemReader, addr: u64, len: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    match mem.read(addr, len.min(SOCKADDR_MAX) as usize) {
        Some(b) if b.len() >= 2 => decode(&b),
        _ => ptr(addr),
    }
}

/// An output socket address whose length the kernel stored at `lenp`.
pub(super) fn sockaddr_out(mem: &dyn MemReader, addr: u64, lenp: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    let len = mem
        .read(lenp, 4)
        .filter(|b| b.len() == 4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64)
        .unwrap_or(0);
    sockaddr(mem, addr, len)
}

fn decode(b: &[u8]) -> String {
    let family = u16::from_ne_bytes([b[0], b[1]]) as u64;
    let fam = enum_name(family, super::names::SOCKET_DOMAIN);
    let mut s = format!("{{sa_family={fam}");
    match family {
        1 => {
            let path = &b[2..];
            let (abstract_, path) = match path.first() {
                Some(0) if path.len() > 1 => (true, &path[1..]),
                _ => (false, path),
            };
            let end = if abstract_ { path.len() } else { path.iter().position(|&c| c == 0).unwrap_or(path.len()) };
            let _ = write!(s, ", sun_path={}{}", if abstract_ { "@" } else { "" }, quoted(&path[..end]));
        }
        2 if b.len() >= 8 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            let _ = write!(s, ", sin_port=htons({port}), sin_addr=inet_addr(\"{ip}\")");
        }
        10 if b.len() >= 24 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            let scope = if b.len() >= 28 { u32::from_ne_bytes([b[24], b[25], b[26], b[27]]) } else { 0 };
            let _ = write!(
                s,
                ", sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), inet_pton(AF_INET6, \"{}\", &sin6_addr), sin6_scope_id={scope}",
                Ipv6Addr::from(a)
            );
        }
        16 if b.len() >= 12 => {
            let pid = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            let groups = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
            let _ = write!(s, ", nl_pid={pid}, nl_groups={groups:08x}");
        }
        _ => {
            let _ = write!(s, ", sa_data={}", quoted(&b[2..]));
        }
    }
    s.push('}');
    s
}

fn quoted(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

const SOL_SOCKET_NAMES: super::names::Names = &[
    (1, "SO_DEBUG"),
    (2, "SO_REUSEADDR"),
    (3, "SO_TYPE"),
    (4, "SO_ERROR"),
    (5, "SO_DONTROUTE"),
    (6, "SO_BROADCAST"),
    (7, "SO_SNDBUF"),
    (8, "SO_RCVBUF"),
    (9, "SO_KEEPALIVE"),
    (10, "SO_OOBINLINE"),
    (12, "SO_PRIORITY"),
    (13, "SO_LINGER"),
    (15, "SO_REUSEPORT"),
    (16, "SO_PASSCRED"),
    (17, "SO_PEERCRED"),
    (18, "SO_RCVLOWAT"),
    (19, "SO_SNDLOWAT"),
    (20, "SO_RCVTIMEO_OLD"),
    (21, "SO_SNDTIMEO_OLD"),
    (25, "SO_BINDTODEVICE"),
    (29, "SO_TIMESTAMP_OLD"),
    (30, "SO_ACCEPTCONN"),
    (31, "SO_PEERSEC"),
    (38, "SO_PROTOCOL"),
    (39, "SO_DOMAIN"),
    (66, "SO_RCVTIMEO_NEW"),
    (67, "SO_SNDTIMEO_NEW"),
];

const SOL_TCP_NAMES: super::names::Names = &[
    (1, "TCP_NODELAY"),
    (2, "TCP_MAXSEG"),
    (3, "TCP_CORK"),
    (4, "TCP_KEEPIDLE"),
    (5, "TCP_KEEPINTVL"),
    (6, "TCP_KEEPCNT"),
    (9, "TCP_DEFER_ACCEPT"),
    (11, "TCP_INFO"),
    (12, "TCP_QUICKACK"),
    (13, "TCP_CONGESTION"),
    (18, "TCP_USER_TIMEOUT"),
    (23, "TCP_FASTOPEN"),
];

const SOL_IP_NAMES: super::names::Names =
    &[(1, "IP_TOS"), (2, "IP_TTL"), (8, "IP_PKTINFO"), (10, "IP_MTU_DISCOVER"), (11, "IP_RECVERR")];

const SOL_IPV6_NAMES: super::names::Names =
    &[(16, "IPV6_UNICAST_HOPS"), (26, "IPV6_V6ONLY"), (49, "IPV6_RECVPKTINFO"), (67, "IPV6_TCLASS")];

/// A socket option name, decoded by its level.
pub(super) fn sockopt_name(level: u64, name: u64) -> String {
    let table = match level & 0xffff_ffff {
        1 => SOL_SOCKET_NAMES,
        6 => SOL_TCP_NAMES,
        0 => SOL_IP_NAMES,
        41 => SOL_IPV6_NAMES,
        _ => return (name as i32).to_string(),
    };
    enum_name(name & 0xffff_ffff, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_common_families() {
        let mut v4 = vec![2u8, 0, 0x1f, 0x90, 127, 0, 0, 1];
        v4.resize(16, 0);
        assert_eq!(decode(&v4), "{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"127.0.0.1\")}");
        let mut un = vec![1u8, 0];
        un.extend_from_slice(b"/tmp/s\0");
        assert_eq!(decode(&un), "{sa_family=AF_UNIX, sun_path=\"/tmp/s\"}");
        let mut ab = vec![1u8, 0, 0];
        ab.extend_from_slice(b"name");
        assert_eq!(decode(&ab), "{sa_family=AF_UNIX, sun_path=@\"name\"}");
        let mut v6 = vec![10u8, 0, 0, 80, 0, 0, 0, 0];
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0, 0, 0, 0]);
        assert!(decode(&v6).contains("inet_pton(AF_INET6, \"::1\", &sin6_addr)"));
        assert_eq!(sockopt_name(1, 2), "SO_REUSEADDR");
        assert_eq!(sockopt_name(6, 1), "TCP_NODELAY");
    }
}
