//! Sockets. Every sandbox socket is a sentry object ([`SocketFile`]) backed
//! by host sockets the sentry owns, so data moves in the host kernel and
//! readiness is a host fd that poll, select and epoll can wait on.
//!
//! * AF_UNIX ([`unix`]): host AF_UNIX socketpairs carry the data; names
//!   (paths, the abstract namespace), connection queues, credentials and
//!   SCM_RIGHTS are the sentry's, so nothing of the sandbox's naming ever
//!   reaches the host.
//! * AF_INET/AF_INET6 ([`inet`]): a host socket in the sandbox's network
//!   namespace; options are passed through from an allowlist.
//! * AF_NETLINK ([`netlink`]): NETLINK_ROUTE, read-only requests only.
//!
//! The operations here never block: they return EAGAIN, or call the
//! [`Blocker`] the syscall layer passes, which sleeps interruptibly (or fails
//! with EAGAIN for non-blocking calls and expired timeouts).

pub mod host;
pub mod inet;
pub mod netlink;
pub mod rights;
pub mod unix;

use std::any::Any;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::vfs::{next_synthetic_ino, now, Attr, Errno, FileOps, OpenFile, UserMemory, VfsResult, S_IFSOCK};

/// Identity carried by SO_PEERCRED and SCM_CREDENTIALS (sandbox pid and ids).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl Ucred {
    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&self.uid.to_ne_bytes());
        b[8..12].copy_from_slice(&self.gid.to_ne_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Ucred> {
        if b.len() < 12 {
            return None;
        }
        let w = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        Some(Ucred { pid: i32::from_ne_bytes(w(0)), uid: u32::from_ne_bytes(w(4)), gid: u32::from_ne_bytes(w(8)) })
    }
}

/// Waits until host fd `fd` has one of `events` (a negative fd: a short nap,
/// for state kept in the sentry). Err(EAGAIN) when the call must not block
/// (or its timeout expired), Err(EINTR) when a signal cut it short.
pub type Blocker<'a> = &'a mut dyn FnMut(RawFd, i16) -> VfsResult<()>;

/// A blocker for calls that never wait.
pub fn never_block(_fd: RawFd, _events: i16) -> VfsResult<()> {
    Err(Errno::EAGAIN)
}

/// A message to send.
pub struct SendArgs<'a> {
    pub data: &'a [u8],
    /// MSG_* flags from the application (MSG_DONTWAIT already folded into the blocker).
    pub flags: i32,
    pub dest: Option<Dest>,
    /// SCM_RIGHTS files.
    pub rights: Vec<Arc<OpenFile>>,
    /// The sender's identity, as SCM_CREDENTIALS reports it by default.
    pub creds: Ucred,
    /// SCM_CREDENTIALS given (and already checked) by the sender.
    pub explicit_creds: Option<Ucred>,
    /// Other ancillary data, passed to the host unchanged (inet).
    pub raw_control: Vec<u8>,
}

/// Where a message goes.
pub enum Dest {
    Unix(unix::UnixKey),
    /// A socket address in the host's format (inet, netlink).
    Raw(Vec<u8>),
}

/// What a receive returns.
#[derive(Default)]
pub struct Received {
    pub data: Vec<u8>,
    /// The call's return value: bytes received, or the whole datagram with MSG_TRUNC.
    pub ret: usize,
    /// Source address (sockaddr bytes), if the protocol reports one.
    pub addr: Option<Vec<u8>>,
    pub rights: Vec<Arc<OpenFile>>,
    pub creds: Option<Ucred>,
    /// Ancillary data from the host, passed on unchanged (inet).
    pub raw_control: Vec<u8>,
    /// msg_flags (MSG_TRUNC, MSG_CTRUNC, MSG_EOR, ...).
    pub flags: i32,
}

/// The protocol-specific part of a socket.
pub enum Kind {
    Unix(unix::UnixSocket),
    Inet(inet::InetSocket),
    Netlink(netlink::NetlinkSocket),
}

/// An option value kept by the sentry: ((level, name), value).
type StoredOpt = ((i32, i32), Vec<u8>);

/// A sandbox socket: what an fd from socket(2) refers to.
pub struct SocketFile {
    pub ino: u64,
    pub domain: i32,
    /// SOCK_STREAM, SOCK_DGRAM, ... (without SOCK_NONBLOCK/SOCK_CLOEXEC).
    pub stype: i32,
    pub protocol: i32,
    pub kind: Kind,
    /// SO_RCVTIMEO and SO_SNDTIMEO: timeouts are the sentry's, as blocking is.
    timeouts: Mutex<(Option<Duration>, Option<Duration>)>,
    /// Option values kept only to be reported back (AF_UNIX generic options).
    stored: Mutex<Vec<StoredOpt>>,
}

impl SocketFile {
    pub fn new(domain: i32, stype: i32, protocol: i32, kind: Kind) -> SocketFile {
        SocketFile {
            ino: next_synthetic_ino(),
            domain,
            stype,
            protocol,
            kind,
            timeouts: Mutex::new((None, None)),
            stored: Mutex::new(Vec::new()),
        }
    }

    /// The socket behind an open file, if it is one.
    pub fn of(file: &OpenFile) -> Option<&SocketFile> {
        file.ops().as_any().downcast_ref::<SocketFile>()
    }

    /// Wraps a socket into an open file description with status `flags`.
    pub fn into_file(self, flags: i32) -> Arc<OpenFile> {
        let name = format!("socket:[{}]", self.ino);
        OpenFile::new_anon(Arc::new(self), None, libc::O_RDWR | (flags & libc::O_NONBLOCK), name)
    }

    pub fn timeout(&self, send: bool) -> Option<Duration> {
        let t = self.timeouts.lock().unwrap_or_else(|e| e.into_inner());
        if send {
            t.1
        } else {
            t.0
        }
    }

    pub fn set_timeout(&self, send: bool, v: Option<Duration>) {
        let mut t = self.timeouts.lock().unwrap_or_else(|e| e.into_inner());
        if send {
            t.1 = v;
        } else {
            t.0 = v;
        }
    }

    pub fn store_opt(&self, level: i32, name: i32, val: Vec<u8>) {
        let mut st = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        st.retain(|(k, _)| *k != (level, name));
        st.push(((level, name), val));
    }

    pub fn stored_opt(&self, level: i32, name: i32) -> Option<Vec<u8>> {
        let st = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        st.iter().find(|(k, _)| *k == (level, name)).map(|(_, v)| v.clone())
    }

    pub fn send(&self, args: SendArgs<'_>, block: Blocker<'_>) -> VfsResult<usize> {
        match &self.kind {
            Kind::Unix(s) => s.send(args, block),
            Kind::Inet(s) => s.send(args, block),
            Kind::Netlink(s) => s.send(args, block),
        }
    }

    pub fn recv(&self, len: usize, flags: i32, control_len: usize, block: Blocker<'_>) -> VfsResult<Received> {
        match &self.kind {
            Kind::Unix(s) => s.recv(len, flags, block),
            Kind::Inet(s) => s.recv(len, flags, control_len, block),
            Kind::Netlink(s) => s.recv(len, flags, control_len, block),
        }
    }

    pub fn shutdown(&self, how: i32) -> VfsResult<()> {
        if !(libc::SHUT_RD..=libc::SHUT_RDWR).contains(&how) {
            return Err(Errno::EINVAL);
        }
        match &self.kind {
            Kind::Unix(s) => s.shutdown(how),
            Kind::Inet(s) => s.shutdown(how),
            Kind::Netlink(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    /// listen(); `cred` is what AF_UNIX clients see as their peer.
    pub fn listen(&self, backlog: i32, cred: Ucred) -> VfsResult<()> {
        match &self.kind {
            Kind::Unix(s) => s.listen(backlog, cred),
            Kind::Inet(s) => s.listen(backlog),
            Kind::Netlink(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    /// getsockname (`peer` false) or getpeername (true), as sockaddr bytes.
    pub fn name(&self, peer: bool) -> VfsResult<Vec<u8>> {
        match &self.kind {
            Kind::Unix(s) => s.name(peer),
            Kind::Inet(s) => s.name(peer),
            Kind::Netlink(s) => s.name(peer),
        }
    }

    fn host_fd_for(&self, events: i16) -> Option<RawFd> {
        match &self.kind {
            Kind::Unix(s) => s.wait_fd(events),
            Kind::Inet(s) => Some(s.raw()),
            Kind::Netlink(s) => Some(s.raw()),
        }
    }
}

impl FileOps for SocketFile {
    fn read(&self, buf: &mut [u8], _off: u64) -> VfsResult<usize> {
        let r = self.recv(buf.len(), 0, 0, &mut never_block)?;
        buf[..r.data.len()].copy_from_slice(&r.data);
        Ok(r.data.len())
    }

    fn write(&self, buf: &[u8], _off: u64) -> VfsResult<usize> {
        let args = SendArgs {
            data: buf,
            flags: 0,
            dest: None,
            rights: Vec::new(),
            creds: Ucred::default(),
            explicit_creds: None,
            raw_control: Vec::new(),
        };
        self.send(args, &mut never_block)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn attr(&self) -> VfsResult<Attr> {
        let t = now();
        Ok(Attr {
            ino: self.ino,
            dev: 0x8,
            mode: S_IFSOCK | 0o777,
            nlink: 1,
            blksize: 4096,
            atime: t,
            mtime: t,
            ctime: t,
            ..Default::default()
        })
    }

    fn host_fd(&self) -> Option<RawFd> {
        self.host_fd_for(libc::POLLIN)
    }

    fn wait_on(&self, events: i16, set: &mut crate::kernel::wait::WaitSet) {
        // A datagram socket's room to send is its peer's receive queue: each
        // direction may have its own host fd.
        let out = events & (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND);
        let input = events & !out;
        let dirs = if input != 0 && out != 0 { [input, out] } else { [events, 0] };
        let mut any = false;
        for ev in dirs.into_iter().filter(|&ev| ev != 0 || events == 0) {
            if let Some(fd) = self.host_fd_for(ev) {
                set.fd(fd, ev);
                any = true;
            }
        }
        if !any {
            // No host object yet (an unconnected AF_UNIX socket): it polls ready anyway.
            set.recheck(50);
        }
    }

    fn async_sources(&self) -> Option<Vec<(RawFd, i16)>> {
        let both = libc::POLLIN | libc::POLLOUT;
        Some(match &self.kind {
            Kind::Unix(s) => {
                let (rx, tx) = (s.wait_fd(libc::POLLIN), s.wait_fd(libc::POLLOUT));
                match (rx, tx) {
                    (Some(r), Some(t)) if r != t => vec![(r, libc::POLLIN), (t, libc::POLLOUT)],
                    (Some(r), _) => vec![(r, both)],
                    _ => Vec::new(),
                }
            }
            Kind::Inet(s) => vec![(s.raw(), both)],
            Kind::Netlink(s) => vec![(s.raw(), libc::POLLIN)],
        })
    }

    fn poll(&self, events: i16) -> i16 {
        match &self.kind {
            Kind::Unix(s) => s.poll(events),
            Kind::Inet(s) => crate::vfs::host_poll(s.raw(), events),
            Kind::Netlink(s) => crate::vfs::host_poll(s.raw(), events),
        }
    }

    fn sync(&self, _data_only: bool) -> VfsResult<()> {
        Err(Errno::EINVAL)
    }

    fn allocate(&self, _mode: i32, _off: u64, _len: u64) -> VfsResult<()> {
        Err(Errno::ENODEV)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        let v = match (&self.kind, cmd as u64) {
            (Kind::Unix(s), c) if c == libc::FIONREAD => s.pending(false)?,
            (Kind::Unix(s), c) if c == libc::TIOCOUTQ => s.pending(true)?,
            (Kind::Inet(s), c) if c == libc::FIONREAD || c == libc::TIOCOUTQ || c == SIOCATMARK => {
                host::ioctl_int(s.raw(), c)?
            }
            (Kind::Netlink(s), c) if c == libc::FIONREAD => host::ioctl_int(s.raw(), c)?,
            (_, c) if inet::is_interface_ioctl(c) => return inet::interface_ioctl(c, arg, mem),
            _ => return Err(Errno::ENOTTY),
        };
        mem.write_bytes(arg, &v.to_ne_bytes())?;
        Ok(0)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

const SIOCATMARK: u64 = 0x8905;

#[cfg(test)]
mod tests;
