//! Rootless mode: an unprivileged caller gets a user namespace of its own in
//! which it is root, with its uid and gid mapped to 0 and nothing else
//! mapped. Every later step (mount, pid, net namespaces, pivot_root,
//! capability cuts, seccomp) then works as for root, but the capabilities
//! only reach objects the namespace owns: host files keep their host
//! permissions (the caller's), and files of unmapped owners appear owned
//! by the overflow id (65534).

use super::ConfineError;

/// Whether to run rootless, from the `--rootless` flag as runc reads it:
/// "true", "false", or absent/"auto" (rootless when not running as root).
pub fn wanted(flag: Option<&str>) -> bool {
    match flag {
        Some("true") => true,
        Some("false") => false,
        // SAFETY: geteuid has no preconditions.
        _ => unsafe { libc::geteuid() != 0 },
    }
}

/// Enters a new user namespace mapping the caller's uid and gid to 0.
/// Call while single-threaded (unshare(CLONE_NEWUSER) requires it).
pub fn enter() -> Result<(), ConfineError> {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare affects only this process.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(ConfineError::Other(format!(
            "rootless mode: creating a user namespace: {e} (are unprivileged user namespaces disabled? \
             see /proc/sys/user/max_user_namespaces)"
        )));
    }
    // An unprivileged map of the gid requires setgroups to be denied first.
    write_proc("setgroups", "deny")?;
    write_proc("uid_map", &format!("0 {uid} 1\n"))?;
    write_proc("gid_map", &format!("0 {gid} 1\n"))?;
    Ok(())
}

fn write_proc(file: &'static str, text: &str) -> Result<(), ConfineError> {
    let path = format!("/proc/self/{file}");
    std::fs::write(&path, text).map_err(|source| ConfineError::Path { step: "rootless mode: writing", path, source })
}
