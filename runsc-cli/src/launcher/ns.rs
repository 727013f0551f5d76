//! Host namespaces for the sandbox processes.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::oci::{Namespaces, Ns};

/// Joins or creates the network, uts and ipc namespaces (for this process
/// and its future children). A new network namespace gets its loopback up.
pub fn enter(ns: &Namespaces) -> Result<(), String> {
    for (want, flag, name) in [
        (&ns.net, libc::CLONE_NEWNET, "net"),
        (&ns.uts, libc::CLONE_NEWUTS, "uts"),
        (&ns.ipc, libc::CLONE_NEWIPC, "ipc"),
    ] {
        match want {
            Ns::Host => {}
            Ns::New => {
                // SAFETY: unshare affects only this single-threaded process.
                if unsafe { libc::unshare(flag) } != 0 {
                    return Err(format!("unshare({name}): {}", std::io::Error::last_os_error()));
                }
                if flag == libc::CLONE_NEWNET {
                    loopback_up().map_err(|e| format!("bringing up loopback: {e}"))?;
                }
            }
            Ns::Join(path) => {
                let f = std::fs::File::open(path).map_err(|e| format!("{name} namespace {}: {e}", path.display()))?;
                // SAFETY: setns with a namespace fd we own.
                if unsafe { libc::setns(f.as_raw_fd(), flag) } != 0 {
                    return Err(format!(
                        "joining {name} namespace {}: {}",
                        path.display(),
                        std::io::Error::last_os_error()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Sets IFF_UP on "lo" in the (new) network namespace: the sandbox's
/// loopback, which is all a fresh namespace offers.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket call; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned from here on.
    let sock = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: a zeroed ifreq is valid; the name is copied in within bounds.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write one ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
