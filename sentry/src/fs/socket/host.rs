//! Thin wrappers over the host socket calls the sentry makes on its own
//! sockets. Every host socket the sentry holds is non-blocking and
//! close-on-exec; blocking is emulated by the syscall layer.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::vfs::{Errno, VfsResult};

/// Host flags every data call carries: never block the sentry thread, never
/// raise SIGPIPE in the sentry (the app's SIGPIPE is raised separately).
pub const HOST_IO_FLAGS: i32 = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;

fn owned(fd: i32) -> VfsResult<OwnedFd> {
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd was just returned by the kernel and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// socket(2) on the host, non-blocking and close-on-exec.
pub fn socket(domain: i32, stype: i32, protocol: i32) -> VfsResult<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    owned(unsafe { libc::socket(domain, stype | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, protocol) })
}

/// socketpair(2) on the host (AF_UNIX), non-blocking and close-on-exec.
pub fn socketpair(stype: i32) -> VfsResult<(OwnedFd, OwnedFd)> {
    let mut sv = [0 as RawFd; 2];
    // SAFETY: sv is a valid out-array of two ints.
    let r = unsafe {
        libc::socketpair(libc::AF_UNIX, stype | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr())
    };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok((owned(sv[0])?, owned(sv[1])?))
}

/// A control-message buffer with cmsg alignment (8 bytes).
pub struct Control {
    words: Vec<u64>,
    len: usize,
}

impl Control {
    pub fn with_capacity(bytes: usize) -> Control {
        Control { words: vec![0u64; bytes.div_ceil(8)], len: bytes }
    }

    /// A buffer holding one SCM_RIGHTS message with `fds` (empty if none).
    pub fn rights(fds: &[RawFd]) -> Control {
        if fds.is_empty() {
            return Control::with_capacity(0);
        }
        let data = fds.len() * 4;
        let mut c = Control::with_capacity(cmsg_space(data));
        let b = c.bytes_mut();
        b[0..8].copy_from_slice(&(cmsg_len(data) as u64).to_ne_bytes());
        b[8..12].copy_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        b[12..16].copy_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
        for (i, fd) in fds.iter().enumerate() {
            b[16 + i * 4..20 + i * 4].copy_from_slice(&fd.to_ne_bytes());
        }
        c
    }

    /// Raw control bytes given by the application (inet ancillary data).
    pub fn from_bytes(raw: &[u8]) -> Control {
        let mut c = Control::with_capacity(raw.len());
        c.bytes_mut().copy_from_slice(raw);
        c
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the u64 buffer is at least `len` bytes; u8 has no alignment needs.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, with exclusive access through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }

    fn ptr(&mut self) -> *mut libc::c_void {
        if self.len == 0 {
            std::ptr::null_mut()
        } else {
            self.words.as_mut_ptr().cast()
        }
    }
}

/// CMSG_LEN for `data` bytes on x86_64.
pub const fn cmsg_len(data: usize) -> usize {
    16 + data
}

/// CMSG_SPACE for `data` bytes on x86_64.
pub const fn cmsg_space(data: usize) -> usize {
    16 + ((data + 7) & !7)
}

/// Splits a control buffer into (level, type, data) records.
pub fn parse_cmsgs(buf: &[u8]) -> Vec<(i32, i32, &[u8])> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= buf.len() {
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&buf[off..off + 8]);
        let len = u64::from_ne_bytes(len8) as usize;
        if len < 16 || off + len > buf.len() {
            break;
        }
        let level = i32::from_ne_bytes([buf[off + 8], buf[off + 9], buf[off + 10], buf[off + 11]]);
        let kind = i32::from_ne_bytes([buf[off + 12], buf[off + 13], buf[off + 14], buf[off + 15]]);
        out.push((level, kind, &buf[off + 16..off + len]));
        off += (len + 7) & !7;
    }
    out
}

/// What a host recvmsg returned.
pub struct Recvd {
    /// Bytes received, or the full datagram length with MSG_TRUNC.
    pub n: usize,
    pub addr_len: usize,
    pub control_len: usize,
    pub flags: i32,
}

/// Host sendmsg of `bufs` (gathered), to `addr` if given, with `control`.
pub fn sendmsg(fd: RawFd, bufs: &[&[u8]], addr: Option<&[u8]>, control: &mut Control, flags: i32) -> VfsResult<usize> {
    let mut iov: Vec<libc::iovec> =
        bufs.iter().map(|b| libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() }).collect();
    // SAFETY: a zeroed msghdr is valid; every pointer set below refers to live local data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len();
    if let Some(a) = addr {
        msg.msg_name = a.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = a.len() as u32;
    }
    msg.msg_control = control.ptr();
    msg.msg_controllen = control.len;
    // SAFETY: msg and everything it points to outlive the call; the kernel only reads them.
    let r = unsafe { libc::sendmsg(fd, &msg, flags | HOST_IO_FLAGS) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// Host recvmsg into `bufs` (scattered), the source address into `addr`.
pub fn recvmsg(
    fd: RawFd,
    bufs: &mut [&mut [u8]],
    addr: &mut [u8],
    control: &mut Control,
    flags: i32,
) -> VfsResult<Recvd> {
    let mut iov: Vec<libc::iovec> =
        bufs.iter_mut().map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() }).collect();
    // SAFETY: a zeroed msghdr is valid; every pointer set below refers to live local data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len();
    if !addr.is_empty() {
        msg.msg_name = addr.as_mut_ptr().cast();
        msg.msg_namelen = addr.len() as u32;
    }
    msg.msg_control = control.ptr();
    msg.msg_controllen = control.len;
    // SAFETY: msg points to writable buffers of the stated sizes for the duration of the call.
    let r = unsafe { libc::recvmsg(fd, &mut msg, flags | libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(Recvd {
        n: r as usize,
        addr_len: if addr.is_empty() { 0 } else { msg.msg_namelen as usize },
        control_len: msg.msg_controllen.min(control.len),
        flags: msg.msg_flags,
    })
}

/// Host getsockopt into a buffer of `len` bytes; returns the bytes written.
pub fn getsockopt(fd: RawFd, level: i32, name: i32, len: usize) -> VfsResult<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut l = len as libc::socklen_t;
    // SAFETY: buf is writable for `l` bytes and `l` is a valid socklen_t.
    let r = unsafe { libc::getsockopt(fd, level, name, buf.as_mut_ptr().cast(), &mut l) };
    if r < 0 {
        return Err(Errno::last());
    }
    buf.truncate((l as usize).min(len));
    Ok(buf)
}

/// Host setsockopt with the value's raw bytes.
pub fn setsockopt(fd: RawFd, level: i32, name: i32, val: &[u8]) -> VfsResult<()> {
    // SAFETY: val is readable for its length.
    let r = unsafe { libc::setsockopt(fd, level, name, val.as_ptr().cast(), val.len() as libc::socklen_t) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// An int option read from the host.
pub fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> VfsResult<i32> {
    let v = getsockopt(fd, level, name, 4)?;
    Ok(i32::from_ne_bytes([v[0], *v.get(1).unwrap_or(&0), *v.get(2).unwrap_or(&0), *v.get(3).unwrap_or(&0)]))
}

/// getsockname/getpeername on the host.
pub fn name(fd: RawFd, peer: bool) -> VfsResult<Vec<u8>> {
    let mut buf = [0u8; 128];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: buf is writable for `len` bytes.
    let r = unsafe {
        if peer {
            libc::getpeername(fd, buf.as_mut_ptr().cast(), &mut len)
        } else {
            libc::getsockname(fd, buf.as_mut_ptr().cast(), &mut len)
        }
    };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(buf[..(len as usize).min(buf.len())].to_vec())
}

/// An int-valued ioctl (FIONREAD, SIOCOUTQ, SIOCATMARK) on a host fd.
pub fn ioctl_int(fd: RawFd, req: u64) -> VfsResult<i32> {
    let mut v: libc::c_int = 0;
    // SAFETY: these requests write one int to a valid pointer.
    if unsafe { libc::ioctl(fd, req as _, &mut v) } < 0 {
        return Err(Errno::last());
    }
    Ok(v)
}

/// shutdown(2) on the host.
pub fn shutdown(fd: RawFd, how: i32) -> VfsResult<()> {
    // SAFETY: plain syscall on a host fd the sentry owns.
    if unsafe { libc::shutdown(fd, how) } < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// The pending error of a socket (SO_ERROR), cleared by reading it.
pub fn take_error(fd: &OwnedFd) -> Option<Errno> {
    match getsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ERROR) {
        Ok(0) => None,
        Ok(e) => Some(Errno::new(e)),
        Err(e) => Some(e),
    }
}
