//! One JSON message per SOCK_SEQPACKET packet, with optional SCM_RIGHTS fds.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest message accepted (an exec request with a big environment fits).
pub const MAX_MESSAGE: usize = 1 << 20;
const MAX_FDS: usize = 3;

/// Sends `value` as one message with `fds` attached.
pub fn send<T: Serialize>(sock: BorrowedFd<'_>, value: &T, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let data = serde_json::to_vec(value).map_err(io::Error::other)?;
    send_raw(sock, &data, fds)
}

/// Sends `data` as one message with `fds` attached (also on stream sockets,
/// e.g. a console socket).
pub fn send_raw(sock: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS || data.len() > MAX_MESSAGE {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    rvisor_gofer::transport::send(sock, data, fds)
}

/// Receives one message. `Ok(None)` means the peer closed the connection.
pub fn recv<T: DeserializeOwned>(sock: BorrowedFd<'_>) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    let got = rvisor_gofer::transport::recv(sock, &mut buf)?;
    if got.len == 0 {
        return Ok(None);
    }
    if got.truncated || got.len > MAX_MESSAGE {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    let v = serde_json::from_slice(&buf[..got.len]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((v, got.fds)))
}

/// Makes a listening SOCK_SEQPACKET socket at `path` (mode 0600). Paths
/// longer than a sockaddr_un allows are bound through their directory.
pub fn listen(path: &std::path::Path) -> io::Result<OwnedFd> {
    let sock = socket()?;
    with_sockaddr(path, |addr, len| {
        // SAFETY: addr points at a valid sockaddr_un of `len` bytes.
        if unsafe { libc::bind(sock.as_raw_fd(), addr, len) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    // SAFETY: listen on our own bound socket.
    if unsafe { libc::listen(sock.as_raw_fd(), 16) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock)
}

/// Connects to the control socket at `path`.
pub fn connect(path: &std::path::Path) -> io::Result<OwnedFd> {
    let sock = socket()?;
    with_sockaddr(path, |addr, len| loop {
        // SAFETY: addr points at a valid sockaddr_un of `len` bytes.
        if unsafe { libc::connect(sock.as_raw_fd(), addr, len) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    })?;
    Ok(sock)
}

fn socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket call; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned from here on.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Calls `f` with a sockaddr_un for `path`. A path too long for sun_path is
/// reached as /proc/self/fd/N/NAME through an O_PATH fd of its directory.
fn with_sockaddr<R>(
    path: &std::path::Path,
    f: impl FnOnce(*const libc::sockaddr, libc::socklen_t) -> io::Result<R>,
) -> io::Result<R> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: a zeroed sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let mut _dir = None;
    let mut bytes = path.as_os_str().as_bytes().to_vec();
    if bytes.len() >= addr.sun_path.len() {
        let parent = path.parent().ok_or_else(|| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
        let name = path.file_name().ok_or_else(|| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
        let d = std::fs::File::open(parent)?;
        bytes = format!("/proc/self/fd/{}/", d.as_raw_fd()).into_bytes();
        bytes.extend_from_slice(name.as_bytes());
        _dir = Some(d);
        if bytes.len() >= addr.sun_path.len() {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
    }
    for (d, s) in addr.sun_path.iter_mut().zip(&bytes) {
        *d = *s as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    f((&addr as *const libc::sockaddr_un).cast(), len)
}
