//! AF_UNIX addresses: parsing `struct sockaddr_un`, binding to a path (a
//! socket file made in the sandbox's VFS, never on the host) or an abstract
//! name, and resolving a destination to its registry key.

use rvisor_syscalls::Errno;

use super::peer_cred;
use crate::fs::socket::unix::{UnixKey, UnixSocket, ADDR_MAX};
use crate::fs::socket::Blocker;
use crate::syscalls::file::check_writable_mount;
use crate::syscalls::{SyscallCtx, AT_FDCWD};
use crate::vfs::perm::{may_access, MAY_EXEC, MAY_WRITE};
use crate::vfs::{CreateArgs, S_IFMT, S_IFSOCK};

/// A parsed `struct sockaddr_un`.
#[derive(Debug, PartialEq, Eq)]
pub enum UnixAddr {
    /// Only the family (bind: autobind; connect: invalid).
    Unnamed,
    /// AF_UNSPEC: dissolves a datagram association.
    Unspec,
    Path(Vec<u8>),
    /// The name after the leading NUL.
    Abstract(Vec<u8>),
}

pub fn parse(addr: &[u8]) -> Result<UnixAddr, Errno> {
    if addr.len() < 2 || addr.len() > ADDR_MAX {
        return Err(Errno::EINVAL);
    }
    let family = u16::from_ne_bytes([addr[0], addr[1]]) as i32;
    if family == libc::AF_UNSPEC {
        return Ok(UnixAddr::Unspec);
    }
    if family != libc::AF_UNIX {
        return Err(Errno::EINVAL);
    }
    let path = &addr[2..];
    match path.first() {
        None => Ok(UnixAddr::Unnamed),
        Some(0) => Ok(UnixAddr::Abstract(path[1..].to_vec())),
        Some(_) => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            Ok(UnixAddr::Path(path[..end].to_vec()))
        }
    }
}

/// sockaddr bytes as getsockname reports a path binding: family, path, NUL.
fn path_name(path: &[u8]) -> Vec<u8> {
    let mut v = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(path);
    v.push(0);
    v
}

pub fn bind(ctx: &SyscallCtx<'_>, sock: &UnixSocket, addr: &[u8]) -> Result<(), Errno> {
    match parse(addr)? {
        UnixAddr::Unspec => Err(Errno::EINVAL),
        UnixAddr::Unnamed => {
            if sock.is_bound() {
                return Err(Errno::EINVAL);
            }
            sock.autobind()
        }
        UnixAddr::Abstract(name) => sock.bind(UnixKey::Abstract(name), addr.to_vec()),
        UnixAddr::Path(path) => {
            let key = make_socket_file(ctx, &path, sock.is_bound())?;
            sock.bind(key, path_name(&path))
        }
    }
}

/// Creates the socket file for a path bind; its (dev, ino) names the socket.
/// As on Linux, a taken path is reported before an already bound socket.
fn make_socket_file(ctx: &SyscallCtx<'_>, path: &[u8], bound: bool) -> Result<UnixKey, Errno> {
    let pn = ctx.resolve_parent_at(AT_FDCWD, path)?;
    if pn.is_root || pn.name == b"." || pn.name == b".." || pn.parent.dentry.lookup_child(&pn.name).is_ok() {
        return Err(Errno::EADDRINUSE);
    }
    if pn.trailing_slash {
        return Err(Errno::ENOENT);
    }
    if bound {
        return Err(Errno::EINVAL);
    }
    let creds = ctx.task.creds().fs();
    if !may_access(&pn.parent.attr()?, &creds, MAY_WRITE | MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    check_writable_mount(&pn.parent)?;
    let umask = ctx.task.fs().umask();
    let args = CreateArgs { mode: S_IFSOCK | (0o777 & !umask), rdev: 0, flags: 0, creds: &creds };
    let inode =
        pn.parent.inode().mknod(&pn.name, &args).map_err(|e| if e == Errno::EEXIST { Errno::EADDRINUSE } else { e })?;
    let attr = inode.attr()?;
    pn.parent.dentry.insert_child(&pn.name, inode);
    Ok(UnixKey::Inode(attr.dev, attr.ino))
}

/// The registry key a destination address names. A path must be a socket
/// file the caller may write to.
pub fn resolve(ctx: &SyscallCtx<'_>, addr: &UnixAddr) -> Result<UnixKey, Errno> {
    match addr {
        UnixAddr::Abstract(name) => Ok(UnixKey::Abstract(name.clone())),
        UnixAddr::Path(path) => {
            let loc = ctx.resolve_at(AT_FDCWD, path, true)?;
            let attr = loc.attr()?;
            if attr.mode & S_IFMT != S_IFSOCK {
                return Err(Errno::ECONNREFUSED);
            }
            if !may_access(&attr, &ctx.task.creds().fs(), MAY_WRITE) {
                return Err(Errno::EACCES);
            }
            Ok(UnixKey::Inode(attr.dev, attr.ino))
        }
        UnixAddr::Unnamed | UnixAddr::Unspec => Err(Errno::EINVAL),
    }
}

pub fn connect(ctx: &SyscallCtx<'_>, sock: &UnixSocket, addr: &[u8], block: Blocker<'_>) -> Result<(), Errno> {
    let parsed = parse(addr)?;
    if parsed == UnixAddr::Unspec && sock.stype() == libc::SOCK_DGRAM {
        return sock.connect(None, peer_cred(ctx), block);
    }
    let key = resolve(ctx, &parsed)?;
    sock.connect(Some(&key), peer_cred(ctx), block)
}
