//! One SOCK_SEQPACKET message at a time, with host fds as SCM_RIGHTS.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Most fds one message carries either way (the control buffer's size);
/// the kernel closes any received beyond it.
pub const MAX_FDS: usize = 4;
const FD_SIZE: usize = std::mem::size_of::<RawFd>();

/// Control buffer, u64-aligned as cmsghdr requires.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// A received message.
pub struct Received {
    /// Bytes of payload placed in the buffer.
    pub len: usize,
    /// The message was longer than the buffer (the rest was discarded).
    pub truncated: bool,
    /// Fds that came with it, already close-on-exec.
    pub fds: Vec<OwnedFd>,
}

/// Creates a connected, close-on-exec SOCK_SEQPACKET pair.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints for the kernel to fill.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success both fds are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends `data` as one message, with `fds` attached (SCM_RIGHTS).
pub fn send(sock: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let mut cbuf = CmsgBuf([0; 64]);
    // SAFETY: zeroed msghdr is a valid "no name, no control" header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let bytes = (FD_SIZE * fds.len()) as u32;
        // SAFETY: CMSG_SPACE is pure arithmetic.
        let space = unsafe { libc::CMSG_SPACE(bytes) } as usize;
        msg.msg_control = cbuf.0.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at `space` (<= 64) writable, aligned bytes,
        // so the first header and its data lie inside cbuf.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(bytes) as usize;
            let out = libc::CMSG_DATA(cmsg).cast::<RawFd>();
            for (i, fd) in fds.iter().enumerate() {
                std::ptr::write_unaligned(out.add(i), fd.as_raw_fd());
            }
        }
    }
    loop {
        // SAFETY: msg points at live iovec and control buffers for the call.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Receives one message into `buf`. A zero-length result means the peer closed.
pub fn recv(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    recv_flags(sock, buf, 0)
}

/// Takes and drops whatever is queued on `sock` (fds included), without waiting.
pub fn drain(sock: BorrowedFd<'_>) {
    let mut byte = [0u8; 1];
    while let Ok(r) = recv_nonblocking(sock, &mut byte) {
        if r.len == 0 && r.fds.is_empty() {
            break;
        }
    }
}

/// Like [`recv`], but returns WouldBlock at once when nothing is queued.
pub fn recv_nonblocking(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    recv_flags(sock, buf, libc::MSG_DONTWAIT)
}

/// Like [`recv`], but polls for up to `budget` before it sleeps. Waking a
/// process that sleeps on another CPU costs tens of µs on a VM (an idle vCPU
/// halts; waking it is an IPI and a VM entry), against a few µs of gofer
/// work per request: a receiver that polls while the other side works keeps
/// its CPU awake, and the hand-off needs no wake-up. Each poll yields the
/// CPU, so a peer waiting to run on the same CPU goes first.
pub fn recv_polling(sock: BorrowedFd<'_>, buf: &mut [u8], budget: std::time::Duration) -> io::Result<Received> {
    let start = std::time::Instant::now();
    loop {
        match recv_flags(sock, buf, libc::MSG_DONTWAIT) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && start.elapsed() < budget => {
                // SAFETY: sched_yield has no arguments and cannot fail.
                unsafe { libc::sched_yield() };
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return recv_flags(sock, buf, 0),
            r => return r,
        }
    }
}

fn recv_flags(sock: BorrowedFd<'_>, buf: &mut [u8], flags: i32) -> io::Result<Received> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut cbuf = CmsgBuf([0; 64]);
    // SAFETY: CMSG_SPACE is pure arithmetic.
    let space = unsafe { libc::CMSG_SPACE((MAX_FDS * FD_SIZE) as u32) } as usize;
    debug_assert!(space <= cbuf.0.len());
    // SAFETY: zeroed msghdr is a valid "no name, no control" header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = space;
    let n = loop {
        // SAFETY: msg points at live, writable iovec and control buffers.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC | flags) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_FIRSTHDR and
    // CMSG_NXTHDR stay within that length, and each SCM_RIGHTS payload holds
    // (cmsg_len - CMSG_LEN(0)) / 4 fds that are now ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count = ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / FD_SIZE;
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Received { len: n, truncated: msg.msg_flags & libc::MSG_TRUNC != 0, fds })
}
