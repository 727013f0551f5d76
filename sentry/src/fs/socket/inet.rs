//! AF_INET/AF_INET6 sockets: a host socket the sentry owns in the sandbox's
//! network namespace (loopback only with `--network none`). The host socket
//! is non-blocking; connect, accept and data calls block through the
//! syscall layer's [`Blocker`].

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::host::{self, Control};
use super::{Blocker, Dest, Received, SendArgs};
use crate::vfs::{Errno, UserMemory, VfsResult};

/// Ports below this need privilege (ip_unprivileged_port_start's default).
const PRIVILEGED_PORTS: u16 = 1024;

pub struct InetSocket {
    fd: OwnedFd,
    stype: i32,
}

impl InetSocket {
    pub fn new(domain: i32, stype: i32, protocol: i32) -> VfsResult<InetSocket> {
        Ok(InetSocket { fd: host::socket(domain, stype, protocol)?, stype })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// bind(): `privileged` is the caller's CAP_NET_BIND_SERVICE (sandbox root).
    pub fn bind(&self, addr: &[u8], privileged: bool) -> VfsResult<()> {
        if addr.len() >= 4 && !privileged {
            let port = u16::from_be_bytes([addr[2], addr[3]]);
            if port != 0 && port < PRIVILEGED_PORTS {
                return Err(Errno::EACCES);
            }
        }
        // SAFETY: addr is readable for its length.
        if unsafe { libc::bind(self.raw(), addr.as_ptr().cast(), addr.len() as libc::socklen_t) } < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    pub fn connect(&self, addr: &[u8], block: Blocker<'_>) -> VfsResult<()> {
        // SAFETY: addr is readable for its length.
        if unsafe { libc::connect(self.raw(), addr.as_ptr().cast(), addr.len() as libc::socklen_t) } == 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e != Errno::EINPROGRESS {
            // The host reports a non-blocking retry as EALREADY; so does Linux.
            return Err(e);
        }
        loop {
            match block(self.raw(), libc::POLLOUT) {
                // Non-blocking socket or SO_SNDTIMEO expired: still connecting.
                Err(e) if e == Errno::EAGAIN => return Err(Errno::EINPROGRESS),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            if crate::vfs::host_poll(self.raw(), libc::POLLOUT) != 0 {
                // A second connect reports the outcome and leaves the host
                // socket as a blocking connect would: connected (a later
                // connect is EISCONN), or unconnected after a failure (a
                // later connect starts afresh, not ECONNABORTED).
                // SAFETY: addr is readable for its length.
                if unsafe { libc::connect(self.raw(), addr.as_ptr().cast(), addr.len() as libc::socklen_t) } == 0 {
                    return Ok(());
                }
                match Errno::last() {
                    e if e == Errno::EISCONN => return Ok(()),
                    e if e == Errno::EALREADY || e == Errno::EINPROGRESS => continue,
                    e => return Err(e),
                }
            }
        }
    }

    pub fn listen(&self, backlog: i32) -> VfsResult<()> {
        // SAFETY: plain syscall on a host fd the sentry owns.
        if unsafe { libc::listen(self.raw(), backlog) } < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// accept(): the new connection and its peer's address.
    pub fn accept(&self, block: Blocker<'_>) -> VfsResult<(InetSocket, Vec<u8>)> {
        loop {
            let mut addr = [0u8; 128];
            let mut len = addr.len() as libc::socklen_t;
            // SAFETY: addr is writable for `len` bytes.
            let fd = unsafe {
                libc::accept4(self.raw(), addr.as_mut_ptr().cast(), &mut len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            };
            if fd >= 0 {
                // SAFETY: fd is a fresh descriptor owned from here on.
                let sock = InetSocket { fd: unsafe { OwnedFd::from_raw_fd(fd) }, stype: self.stype };
                return Ok((sock, addr[..(len as usize).min(addr.len())].to_vec()));
            }
            match Errno::last() {
                e if e == Errno::EAGAIN => block(self.raw(), libc::POLLIN)?,
                e => return Err(e),
            }
        }
    }

    pub fn shutdown(&self, how: i32) -> VfsResult<()> {
        host::shutdown(self.raw(), how)
    }

    pub fn name(&self, peer: bool) -> VfsResult<Vec<u8>> {
        host::name(self.raw(), peer)
    }

    pub fn send(&self, args: SendArgs<'_>, block: Blocker<'_>) -> VfsResult<usize> {
        let dest = match &args.dest {
            Some(Dest::Raw(a)) => Some(a.as_slice()),
            Some(Dest::Unix(_)) => return Err(Errno::EINVAL),
            None => None,
        };
        if !args.rights.is_empty() || args.explicit_creds.is_some() {
            return Err(Errno::EINVAL);
        }
        let flags =
            args.flags & (libc::MSG_OOB | libc::MSG_DONTROUTE | libc::MSG_EOR | libc::MSG_MORE | libc::MSG_CONFIRM);
        let mut control = Control::from_bytes(&args.raw_control);
        let stream = self.stype == libc::SOCK_STREAM;
        let mut done = 0;
        loop {
            match host::sendmsg(self.raw(), &[&args.data[done..]], dest, &mut control, flags) {
                Ok(n) => {
                    done += n;
                    if !stream || done >= args.data.len() {
                        return Ok(done);
                    }
                }
                Err(e) if e == Errno::EAGAIN => {
                    if let Err(e) = block(self.raw(), libc::POLLOUT) {
                        return if done > 0 { Ok(done) } else { Err(e) };
                    }
                }
                Err(e) if done > 0 && e != Errno::EPIPE => return Ok(done),
                Err(e) => return Err(e),
            }
        }
    }

    pub fn recv(&self, len: usize, flags: i32, control_len: usize, block: Blocker<'_>) -> VfsResult<Received> {
        let peek = flags & libc::MSG_PEEK != 0;
        let waitall = flags & libc::MSG_WAITALL != 0 && !peek && self.stype == libc::SOCK_STREAM;
        let host_flags = flags & (libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_OOB | libc::MSG_ERRQUEUE);
        let mut out = Received { data: vec![0u8; len], ..Default::default() };
        let mut done = 0;
        loop {
            let mut addr = [0u8; 128];
            let mut control = Control::with_capacity(control_len.min(64 << 10));
            match host::recvmsg(self.raw(), &mut [&mut out.data[done..]], &mut addr, &mut control, host_flags) {
                Ok(r) => {
                    if done == 0 {
                        out.addr = (r.addr_len > 0).then(|| addr[..r.addr_len.min(addr.len())].to_vec());
                        out.raw_control = control.bytes()[..r.control_len].to_vec();
                        out.flags = r.flags;
                    }
                    if !waitall || self.stype != libc::SOCK_STREAM {
                        out.ret = r.n;
                        done = r.n.min(len);
                        break;
                    }
                    done += r.n;
                    out.ret = done;
                    if r.n == 0 || done >= len {
                        break;
                    }
                }
                // The error queue never blocks (MSG_ERRQUEUE): EAGAIN is the answer.
                Err(e) if e == Errno::EAGAIN && flags & libc::MSG_ERRQUEUE == 0 => {
                    if let Err(e) = block(self.raw(), libc::POLLIN) {
                        if done > 0 {
                            break;
                        }
                        return Err(e);
                    }
                }
                Err(_) if done > 0 => break,
                Err(e) => return Err(e),
            }
        }
        out.data.truncate(done);
        Ok(out)
    }
}

// Interface queries (struct ifreq in and out), answered by the host for the
// sandbox's own network namespace.
const SIOCGIFNAME: u64 = 0x8910;
const SIOCGIFCONF: u64 = 0x8912;
const SIOCGIFFLAGS: u64 = 0x8913;
const SIOCGIFADDR: u64 = 0x8915;
const SIOCGIFDSTADDR: u64 = 0x8917;
const SIOCGIFBRDADDR: u64 = 0x8919;
const SIOCGIFNETMASK: u64 = 0x891b;
const SIOCGIFMETRIC: u64 = 0x891d;
const SIOCGIFMTU: u64 = 0x8921;
const SIOCGIFHWADDR: u64 = 0x8927;
const SIOCGIFINDEX: u64 = 0x8933;
const SIOCGIFTXQLEN: u64 = 0x8942;
const IFREQ: usize = 40;
/// The socket-configuration ioctl range: everything in it that is not a
/// query above changes host network state and is refused.
const SIOC_CONFIG: std::ops::RangeInclusive<u64> = 0x8910..=0x89ff;

const QUERIES: &[u64] = &[
    SIOCGIFNAME,
    SIOCGIFFLAGS,
    SIOCGIFADDR,
    SIOCGIFDSTADDR,
    SIOCGIFBRDADDR,
    SIOCGIFNETMASK,
    SIOCGIFMETRIC,
    SIOCGIFMTU,
    SIOCGIFHWADDR,
    SIOCGIFINDEX,
    SIOCGIFTXQLEN,
];

pub fn is_interface_ioctl(cmd: u64) -> bool {
    SIOC_CONFIG.contains(&cmd)
}

pub fn interface_ioctl(cmd: u64, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
    if cmd != SIOCGIFCONF && !QUERIES.contains(&cmd) {
        return Err(Errno::EPERM);
    }
    let probe = host::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    if cmd == SIOCGIFCONF {
        return interface_list(probe.as_raw_fd(), arg, mem);
    }
    let mut req = [0u8; IFREQ];
    mem.read_bytes(arg, &mut req)?;
    // SAFETY: the request reads and writes one struct ifreq in `req`.
    if unsafe { libc::ioctl(probe.as_raw_fd(), cmd as _, req.as_mut_ptr()) } < 0 {
        return Err(Errno::last());
    }
    mem.write_bytes(arg, &req)?;
    Ok(0)
}

/// SIOCGIFCONF: struct ifconf { int len; char *buf } with the records copied out.
fn interface_list(probe: RawFd, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
    let mut conf = [0u8; 16];
    mem.read_bytes(arg, &mut conf)?;
    let len = i32::from_ne_bytes([conf[0], conf[1], conf[2], conf[3]]);
    let buf = u64::from_ne_bytes([conf[8], conf[9], conf[10], conf[11], conf[12], conf[13], conf[14], conf[15]]);
    let cap = if buf == 0 { 0 } else { len.clamp(0, 64 << 10) as usize };
    let mut records = vec![0u8; cap];
    #[repr(C)]
    struct Ifconf {
        len: i32,
        buf: *mut u8,
    }
    let mut c = Ifconf { len: cap as i32, buf: if buf == 0 { std::ptr::null_mut() } else { records.as_mut_ptr() } };
    // SAFETY: c describes `records`, a writable buffer of c.len bytes (or NULL to ask the size).
    if unsafe { libc::ioctl(probe, SIOCGIFCONF as _, &mut c) } < 0 {
        return Err(Errno::last());
    }
    if buf != 0 {
        mem.write_bytes(buf, &records[..(c.len.max(0) as usize).min(cap)])?;
    }
    mem.write_bytes(arg, &c.len.to_ne_bytes())?;
    Ok(0)
}
