//! AF_NETLINK, NETLINK_ROUTE only, read-only: enough for getifaddrs(3),
//! if_nameindex(3) and `ip addr`-style listings of the sandbox's own
//! network namespace. Requests are checked message by message: only
//! RTM_GET* dumps and queries to the kernel go through; anything that would
//! change network state, or reach another netlink socket, is refused.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::host::{self, Control};
use super::{Blocker, Dest, Received, SendArgs};
use crate::vfs::{Errno, VfsResult};

const NLMSG_HDRLEN: usize = 16;
/// RTM_BASE: route messages come in groups of four (NEW, DEL, GET, SET).
const RTM_BASE: u16 = 16;
/// Message types below RTM_BASE are netlink control messages (NOOP, ERROR, DONE).
const NLMSG_MIN_TYPE: u16 = 0x10;

pub struct NetlinkSocket {
    fd: OwnedFd,
}

impl NetlinkSocket {
    pub fn new(stype: i32, protocol: i32) -> VfsResult<NetlinkSocket> {
        if protocol != libc::NETLINK_ROUTE {
            return Err(Errno::EPROTONOSUPPORT);
        }
        Ok(NetlinkSocket { fd: host::socket(libc::AF_NETLINK, stype, protocol)? })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// bind(): a port id and multicast groups (listening to change events is read-only).
    pub fn bind(&self, addr: &[u8]) -> VfsResult<()> {
        // SAFETY: addr is readable for its length.
        if unsafe { libc::bind(self.raw(), addr.as_ptr().cast(), addr.len() as libc::socklen_t) } < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// connect(): only to the kernel (port 0, no groups).
    pub fn connect(&self, addr: &[u8]) -> VfsResult<()> {
        check_dest(addr)?;
        // SAFETY: addr is readable for its length.
        if unsafe { libc::connect(self.raw(), addr.as_ptr().cast(), addr.len() as libc::socklen_t) } < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    pub fn name(&self, peer: bool) -> VfsResult<Vec<u8>> {
        host::name(self.raw(), peer)
    }

    pub fn send(&self, args: SendArgs<'_>, block: Blocker<'_>) -> VfsResult<usize> {
        let dest = match &args.dest {
            Some(Dest::Raw(a)) => {
                check_dest(a)?;
                Some(a.as_slice())
            }
            Some(Dest::Unix(_)) => return Err(Errno::EINVAL),
            None => None,
        };
        if !args.rights.is_empty() || args.explicit_creds.is_some() || !args.raw_control.is_empty() {
            return Err(Errno::EINVAL);
        }
        check_requests(args.data)?;
        let mut control = Control::with_capacity(0);
        loop {
            match host::sendmsg(self.raw(), &[args.data], dest, &mut control, 0) {
                Err(e) if e == Errno::EAGAIN => block(self.raw(), libc::POLLOUT)?,
                r => return r,
            }
        }
    }

    pub fn recv(&self, len: usize, flags: i32, control_len: usize, block: Blocker<'_>) -> VfsResult<Received> {
        let host_flags = flags & (libc::MSG_PEEK | libc::MSG_TRUNC);
        let mut out = Received { data: vec![0u8; len], ..Default::default() };
        loop {
            let mut addr = [0u8; 16];
            let mut control = Control::with_capacity(control_len.min(4096));
            match host::recvmsg(self.raw(), &mut [&mut out.data], &mut addr, &mut control, host_flags) {
                Ok(r) => {
                    out.ret = r.n;
                    out.data.truncate(r.n.min(len));
                    out.addr = (r.addr_len > 0).then(|| addr[..r.addr_len.min(addr.len())].to_vec());
                    out.raw_control = control.bytes()[..r.control_len].to_vec();
                    out.flags = r.flags;
                    return Ok(out);
                }
                Err(e) if e == Errno::EAGAIN => block(self.raw(), libc::POLLIN)?,
                Err(e) => return Err(e),
            }
        }
    }
}

/// struct sockaddr_nl: family (2), pad (2), nl_pid (4), nl_groups (4).
fn check_dest(addr: &[u8]) -> VfsResult<()> {
    if addr.len() < 12 {
        return Err(Errno::EINVAL);
    }
    let pid = u32::from_ne_bytes([addr[4], addr[5], addr[6], addr[7]]);
    let groups = u32::from_ne_bytes([addr[8], addr[9], addr[10], addr[11]]);
    if pid != 0 || groups != 0 {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// Whether every message in `buf` is a request the sandbox may make.
pub fn check_requests(buf: &[u8]) -> VfsResult<()> {
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
        let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            // The kernel ignores a malformed tail; nothing more will be acted on.
            break;
        }
        if kind >= NLMSG_MIN_TYPE && !is_get(kind) {
            return Err(Errno::EPERM);
        }
        off += (len + 3) & !3;
    }
    Ok(())
}

fn is_get(kind: u16) -> bool {
    kind >= RTM_BASE && (kind - RTM_BASE) % 4 == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16) -> Vec<u8> {
        let mut m = vec![0u8; 20];
        m[0..4].copy_from_slice(&20u32.to_ne_bytes());
        m[4..6].copy_from_slice(&kind.to_ne_bytes());
        m
    }

    #[test]
    fn only_get_requests_pass() {
        assert!(check_requests(&msg(18)).is_ok()); // RTM_GETLINK
        assert!(check_requests(&msg(22)).is_ok()); // RTM_GETADDR
        assert_eq!(check_requests(&msg(16)), Err(Errno::EPERM)); // RTM_NEWLINK
        assert_eq!(check_requests(&msg(21)), Err(Errno::EPERM)); // RTM_DELADDR
        let mut two = msg(22);
        two.extend(msg(24)); // RTM_NEWROUTE hidden behind a GET
        assert_eq!(check_requests(&two), Err(Errno::EPERM));
    }

    #[test]
    fn only_the_kernel_is_a_destination() {
        let mut a = [0u8; 12];
        a[0..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
        assert!(check_dest(&a).is_ok());
        a[4] = 7;
        assert_eq!(check_dest(&a), Err(Errno::EPERM));
    }
}
