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

/// Gives the calling (supervising) process a private mount namespace whose
/// /proc is a procfs of the sentry's pid namespace. The container's pid is
/// the supervisor's, and `podman top CTR` lists the /proc it finds in that
/// pid's mount namespace (psgo): the host's, without this. A procfs shows
/// the pid namespace of the process that mounts it, so a short-lived
/// grandchild that entered the sentry's pid namespace mounts it.
pub fn sandbox_proc(sentry: i32) -> Result<(), String> {
    let os = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    let pidns = std::fs::File::open(format!("/proc/{sentry}/ns/pid")).map_err(|e| format!("sentry pid ns: {e}"))?;
    // SAFETY: unshare and mount affect only this single-threaded process's mounts.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(os("unshare(mnt)"));
        }
        // Nothing mounted here goes back to the host.
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            std::ptr::null(),
        ) != 0
        {
            return Err(os("making / a slave mount"));
        }
    }
    // SAFETY: single-threaded; the child only makes the calls below and exits.
    let helper = unsafe { libc::fork() };
    if helper < 0 {
        return Err(os("fork"));
    }
    if helper == 0 {
        // SAFETY: setns/fork/mount/waitpid/_exit in the forked child, which shares
        // this mount namespace; the grandchild is born in the sentry's pid namespace.
        unsafe {
            if libc::setns(pidns.as_raw_fd(), libc::CLONE_NEWPID) != 0 {
                libc::_exit(2);
            }
            let pid = libc::fork();
            if pid == 0 {
                let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                let r = libc::mount(c"proc".as_ptr(), c"/proc".as_ptr(), c"proc".as_ptr(), flags, std::ptr::null());
                libc::_exit(if r == 0 { 0 } else { 3 });
            }
            let mut st = 0;
            if pid < 0 || libc::waitpid(pid, &mut st, 0) != pid {
                libc::_exit(4);
            }
            libc::_exit(if libc::WIFEXITED(st) { libc::WEXITSTATUS(st) } else { 5 });
        }
    }
    let mut st = 0;
    // SAFETY: reaps the helper forked above.
    if unsafe { libc::waitpid(helper, &mut st, 0) } != helper || !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 0 {
        return Err(format!("mounting the sandbox's /proc failed (helper status {st:#x})"));
    }
    Ok(())
}
