//! Running from a binary nothing can write: the runc CVE-2019-5736 mitigation.
//!
//! A process inside a container that can open its runtime's
//! /proc/PID/exe could overwrite the runtime binary on the host. Before it
//! starts any sandbox, rvisor re-executes itself from a file that cannot be
//! written through that link:
//!
//! * as root, the binary opened through a read-only bind mount of itself,
//!   made in a throw-away mount namespace and detached at once (about
//!   0.3 ms): /proc/PID/exe then names a file on a read-only mount that no
//!   namespace holds, so opening it for writing fails (EROFS), even after
//!   rvisor exits;
//! * otherwise (rootless, or if the bind mount fails), a sealed memfd copy
//!   of the binary (a few ms, more under load: the copy is 8 MB).

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use super::{sys_err, ConfineError};

const SEALS: libc::c_int = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

fn owned(fd: libc::c_int, step: &'static str) -> Result<OwnedFd, ConfineError> {
    if fd < 0 {
        return Err(sys_err(step));
    }
    // SAFETY: fd is fresh and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_self_exe() -> Result<OwnedFd, ConfineError> {
    // SAFETY: literal path.
    owned(unsafe { libc::open(c"/proc/self/exe".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "open /proc/self/exe")
}

/// True when `fd` is a memfd carrying all of [`SEALS`].
fn is_sealed(fd: &OwnedFd) -> bool {
    // SAFETY: fcntl on our own fd; EINVAL for files that cannot be sealed.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// True when `fd`'s file lies on a read-only mount (a read-only bind made by
/// [`ensure`], or a read-only file system).
fn on_read_only_mount(fd: &OwnedFd) -> bool {
    // SAFETY: zeroed statvfs is a valid out-buffer for fstatvfs.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs on our own fd into a local buffer.
    (unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) }) == 0 && st.f_flag & libc::ST_RDONLY != 0
}

/// A sealed memfd holding a copy of the running binary. DWARF sections
/// (`.debug_*`, most of a release build with debuginfo and never loaded)
/// are left as holes of zeros: copying only the rest keeps start-up fast,
/// and the symbol table still names frames in backtraces.
pub fn sealed_copy() -> Result<OwnedFd, ConfineError> {
    let exe = open_self_exe()?;
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: literal name; flags are constants.
    let mem = owned(unsafe { libc::memfd_create(c"rvisor".as_ptr(), flags) }, "memfd_create")?;
    let size = std::fs::File::from(exe.try_clone().map_err(|_| sys_err("dup"))?)
        .metadata()
        .map_err(|_| sys_err("stat of the binary"))?
        .len();
    let mut at = 0;
    for (start, end) in debug_sections(&exe).unwrap_or_default() {
        copy_range(&exe, &mem, at, start)?;
        at = at.max(end);
    }
    copy_range(&exe, &mem, at, size)?;
    // SAFETY: ftruncate of our own memfd (sets the size when the file ends in a hole).
    if unsafe { libc::ftruncate(mem.as_raw_fd(), size as libc::off_t) } != 0 {
        return Err(sys_err("sizing the memfd"));
    }
    // SAFETY: fcntl on our own memfd.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(sys_err("sealing the memfd"));
    }
    Ok(mem)
}

/// Copies bytes `start..end` of `from` to the same offsets of `to`.
fn copy_range(from: &OwnedFd, to: &OwnedFd, start: u64, end: u64) -> Result<(), ConfineError> {
    if start >= end {
        return Ok(());
    }
    // SAFETY: lseek on our own memfd: sendfile writes at its file offset.
    if unsafe { libc::lseek(to.as_raw_fd(), start as libc::off_t, libc::SEEK_SET) } < 0 {
        return Err(sys_err("seeking in the memfd"));
    }
    let mut off = start as libc::off_t;
    while (off as u64) < end {
        let want = ((end - off as u64) as usize).min(1 << 30);
        // SAFETY: both fds are ours; off is a valid in/out offset.
        let n = unsafe { libc::sendfile(to.as_raw_fd(), from.as_raw_fd(), &mut off, want) };
        match n {
            0 => return Err(ConfineError::Other("the binary shrank while being copied".into())),
            n if n > 0 => {}
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => return Err(sys_err("copying the binary into a memfd")),
        }
    }
    Ok(())
}

fn pread_exact(fd: &OwnedFd, buf: &mut [u8], off: u64) -> Option<()> {
    // SAFETY: buf is writable for its length; fd is ours.
    let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off as libc::off_t) };
    (n == buf.len() as isize).then_some(())
}

/// File ranges of the ELF64 binary's `.debug_*` sections (not loaded:
/// no SHF_ALLOC), sorted; `None` if the headers do not parse.
fn debug_sections(exe: &OwnedFd) -> Option<Vec<(u64, u64)>> {
    let u16_at = |b: &[u8], o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |b: &[u8], o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |b: &[u8], o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    let mut eh = [0u8; 64];
    pread_exact(exe, &mut eh, 0)?;
    // ELF, 64-bit, little-endian.
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return None;
    }
    let (shoff, shentsize) = (u64_at(&eh, 0x28)?, u16_at(&eh, 0x3a)? as usize);
    let (shnum, shstrndx) = (u16_at(&eh, 0x3c)? as usize, u16_at(&eh, 0x3e)? as usize);
    if shentsize < 64 || shnum == 0 || shnum > 4096 || shstrndx >= shnum {
        return None;
    }
    let mut sh = vec![0u8; shentsize * shnum];
    pread_exact(exe, &mut sh, shoff)?;
    let sec = |i: usize| &sh[i * shentsize..(i + 1) * shentsize];
    let strs = sec(shstrndx);
    let (str_off, str_size) = (u64_at(strs, 0x18)?, u64_at(strs, 0x20)?);
    if str_size > 1 << 20 {
        return None;
    }
    let mut names = vec![0u8; str_size as usize];
    pread_exact(exe, &mut names, str_off)?;
    let mut out = Vec::new();
    for i in 0..shnum {
        let h = sec(i);
        let name_at = u32_at(h, 0)? as usize;
        let name = names.get(name_at..)?.split(|&b| b == 0).next()?;
        let (ty, flags, off, size) = (u32_at(h, 4)?, u64_at(h, 8)?, u64_at(h, 0x18)?, u64_at(h, 0x20)?);
        const SHT_NOBITS: u32 = 8;
        const SHF_ALLOC: u64 = 2;
        if name.starts_with(b".debug_") && ty != SHT_NOBITS && flags & SHF_ALLOC == 0 && size > 0 {
            out.push((off, off.checked_add(size)?));
        }
    }
    out.sort_unstable();
    Some(out)
}

/// Opens the running binary through a read-only bind mount of itself in a
/// private mount namespace, detaches the mount and returns to the original
/// namespace. None when any step fails (no CAP_SYS_ADMIN, say): the caller
/// then copies the binary instead.
fn read_only_view() -> Option<OwnedFd> {
    let path = std::fs::read_link("/proc/self/exe").ok()?;
    bind_read_only(&CString::new(path.into_os_string().into_vec()).ok()?)
}

/// `path` opened through a read-only bind mount of itself (see [`read_only_view`]).
fn bind_read_only(path: &CString) -> Option<OwnedFd> {
    // setns puts the caller at its namespace's root: that is only right for
    // a process that is not chrooted, and the working directory comes back.
    if std::fs::read_link("/proc/self/root").ok()? != std::path::Path::new("/") {
        return None;
    }
    // SAFETY: literal path.
    let orig =
        owned(unsafe { libc::open(c"/proc/self/ns/mnt".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "ns").ok()?;
    // SAFETY: literal path.
    let cwd =
        owned(unsafe { libc::open(c".".as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) }, "cwd").ok()?;
    // SAFETY: single-threaded at this point (called first thing in main).
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return None;
    }
    let view = (|| {
        let none = std::ptr::null();
        // SAFETY: mount/umount2 with valid C strings or NULL where the kernel
        // ignores the argument; they act on the private namespace only (made
        // a slave first, so nothing propagates back to the host's mounts).
        unsafe {
            if libc::mount(none, c"/".as_ptr(), none, libc::MS_SLAVE | libc::MS_REC, std::ptr::null()) != 0
                || libc::mount(path.as_ptr(), path.as_ptr(), none, libc::MS_BIND, std::ptr::null()) != 0
            {
                return None;
            }
            let ro = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
            let fd = if libc::mount(none, path.as_ptr(), none, ro, std::ptr::null()) == 0 {
                owned(libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC), "open").ok()
            } else {
                None
            };
            libc::umount2(path.as_ptr(), libc::MNT_DETACH);
            fd
        }
    })();
    // SAFETY: returns this thread to the namespace it started in; failing
    // that, carrying on in a private copy of it would be wrong: exit.
    if unsafe { libc::setns(orig.as_raw_fd(), libc::CLONE_NEWNS) } != 0
        // SAFETY: fchdir to a directory fd we hold.
        || unsafe { libc::fchdir(cwd.as_raw_fd()) } != 0
    {
        eprintln!("rvisor: cannot return to the original mount namespace and directory");
        std::process::exit(1);
    }
    // The view must really be read-only (a bind over an odd file system may not be).
    view.filter(on_read_only_mount)
}

/// Returns at once when already running from a protected binary; otherwise
/// re-executes the same command line from one (and returns only on
/// failure). Call it first thing, while single-threaded.
pub fn ensure() -> Result<(), ConfineError> {
    let exe = open_self_exe()?;
    if is_sealed(&exe) || on_read_only_mount(&exe) {
        return Ok(());
    }
    drop(exe);
    let mem = match read_only_view() {
        Some(fd) => fd,
        None => sealed_copy()?,
    };
    let to_c = |s: OsString| CString::new(s.into_vec()).map_err(|_| ConfineError::Other("NUL in an argument".into()));
    let args = std::env::args_os().map(to_c).collect::<Result<Vec<_>, _>>()?;
    let env = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            to_c(kv)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of C strings that
    // outlive the call; the empty path with AT_EMPTY_PATH names the memfd.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            mem.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(sys_err("re-executing from a protected copy of the binary"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_sealed_and_identical_but_for_debug_sections() {
        let mem = sealed_copy().unwrap();
        let mut orig = std::fs::read("/proc/self/exe").unwrap();
        let copy = std::fs::read(format!("/proc/self/fd/{}", mem.as_raw_fd())).unwrap();
        let holes = debug_sections(&open_self_exe().unwrap()).expect("the test binary is ELF64");
        for (s, e) in holes {
            orig[s as usize..e as usize].fill(0);
        }
        assert!(orig == copy, "the memfd differs from the binary");
        // SAFETY: fcntl and write on our own memfd.
        unsafe {
            assert_eq!(libc::fcntl(mem.as_raw_fd(), libc::F_GET_SEALS) & SEALS, SEALS);
            assert_eq!(libc::write(mem.as_raw_fd(), b"x".as_ptr().cast(), 1), -1);
            assert_eq!(libc::ftruncate(mem.as_raw_fd(), 0), -1);
        }
        assert!(is_sealed(&mem));
        assert!(!is_sealed(&open_self_exe().unwrap()), "the test binary itself is a plain file");
    }

    #[test]
    fn the_read_only_view_cannot_be_opened_for_writing() {
        // Needs CAP_SYS_ADMIN (the test suite runs as root).
        let ns = |p: &str| std::fs::read_link(p).expect("ns link");
        let before = ns("/proc/self/ns/mnt");
        let cwd_before = std::env::current_dir().expect("cwd");
        let fd = read_only_view().expect("a read-only view of the binary");
        assert!(on_read_only_mount(&fd), "the view's mount is writable");
        // Refused while the binary runs (ETXTBSY) and after (EROFS).
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .expect_err("the view opened for writing");
        assert!(matches!(err.raw_os_error(), Some(libc::EROFS | libc::ETXTBSY)), "{err}");
        // A copy that is not running shows the mount's own answer.
        let copy = std::env::temp_dir().join(format!("rvisor-reexec-test-{}", std::process::id()));
        std::fs::copy("/proc/self/exe", &copy).expect("copy of the test binary");
        let c = CString::new(copy.clone().into_os_string().into_vec()).expect("path");
        let view = bind_read_only(&c).expect("a read-only view of the copy");
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", view.as_raw_fd()))
            .expect_err("the copy's view opened for writing");
        let _ = std::fs::remove_file(&copy);
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
        // Back in the original mount namespace and directory.
        assert_eq!(ns("/proc/self/ns/mnt"), before);
        assert_eq!(std::env::current_dir().expect("cwd"), cwd_before);
    }
}
