//! Capability dropping for rvisor's own processes.
//!
//! A role keeps a short list of capabilities (see `sentry.rs`, `gofer.rs`);
//! every other one leaves the bounding, permitted, effective, inheritable and
//! ambient sets. The securebits are locked so that an `execve` by uid 0 (an
//! app process execs the stub image) grants nothing: app processes run with
//! no capabilities at all.

use super::{sys_err, ConfineError};

/// Capability numbers (linux/capability.h) this module names.
pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_RAW: u32 = 13;
#[cfg(test)]
pub const CAP_SYS_ADMIN: u32 = 21;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
/// SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
/// SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED.
const SECUREBITS: libc::c_ulong = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The highest capability number this kernel knows.
fn last_cap() -> u32 {
    // PR_CAPBSET_READ answers EINVAL past the last capability.
    (0..64u32)
        // SAFETY: PR_CAPBSET_READ only reads this process's bounding set.
        .take_while(|&c| unsafe { libc::prctl(libc::PR_CAPBSET_READ, c as libc::c_ulong, 0, 0, 0) } >= 0)
        .last()
        .unwrap_or(40)
}

/// Reduces every capability set of the calling thread to `keep`, drops the
/// rest from the bounding set, clears the ambient set and locks the
/// securebits so that exec as root grants nothing.
///
/// Call it single-threaded (capabilities are per thread); the calling
/// thread must still hold CAP_SETPCAP.
pub fn restrict_to(keep: &[u32]) -> Result<(), ConfineError> {
    // SAFETY: prctl with constant arguments on this thread.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0) } != 0 {
        return Err(sys_err("PR_SET_SECUREBITS"));
    }
    for cap in 0..=last_cap() {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: prctl on this thread's bounding set.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(sys_err("PR_CAPBSET_DROP"));
        }
    }
    // SAFETY: prctl on this thread's ambient set.
    if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(sys_err("PR_CAP_AMBIENT_CLEAR_ALL"));
    }
    let mut data = [CapData::default(); 2];
    for &cap in keep {
        let (i, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        if i < 2 {
            data[i].effective |= bit;
            data[i].permitted |= bit;
        }
    }
    let hdr = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: capset reads one header and two data structs we own.
    if unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) } != 0 {
        return Err(sys_err("capset"));
    }
    Ok(())
}

/// The calling thread's (effective, permitted) capability masks.
#[cfg(test)]
pub fn current() -> Result<(u64, u64), ConfineError> {
    let hdr = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two data structs we own.
    if unsafe { libc::syscall(libc::SYS_capget, &hdr as *const CapHeader, data.as_mut_ptr()) } != 0 {
        return Err(sys_err("capget"));
    }
    let eff = data[0].effective as u64 | (data[1].effective as u64) << 32;
    let prm = data[0].permitted as u64 | (data[1].permitted as u64) << 32;
    Ok((eff, prm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricting_in_a_child_leaves_only_the_kept_set() {
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            eprintln!("not root: capability dropping is tested as root only");
            return;
        }
        // SAFETY: the child only makes syscalls and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = restrict_to(&[CAP_CHOWN, CAP_NET_RAW]).is_ok()
                && current().map(|c| c == (1 | 1 << 13, 1 | 1 << 13)).unwrap_or(false)
                // SAFETY: reads this thread's bounding set.
                && unsafe { libc::prctl(libc::PR_CAPBSET_READ, CAP_SYS_ADMIN as libc::c_ulong, 0, 0, 0) } == 0;
            // SAFETY: leave the forked test child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut st = 0;
        // SAFETY: reaps our child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "status {st:#x}");
    }
}
