//! `#[repr(C)]` structures of the x86_64 Linux ABI, exactly as the kernel lays them out.
//!
//! Everything here is plain old data: any bit pattern is a valid value, so
//! structures can be copied to and from application memory byte for byte.

/// Marker for plain-old-data types that may be viewed as raw bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain no padding that could leak
/// sentry memory (or zero it explicitly), no pointers or references, and
/// accept every bit pattern as a valid value.
pub unsafe trait Pod: Copy + 'static {
    /// The value's bytes.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: Pod guarantees a plain byte representation of size_of::<Self>().
        unsafe { std::slice::from_raw_parts(self as *const Self as *const u8, std::mem::size_of::<Self>()) }
    }

    /// Reads a value from the start of `bytes`; `None` if too short.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < std::mem::size_of::<Self>() {
            return None;
        }
        // SAFETY: length checked above; Pod accepts any bit pattern; read_unaligned
        // tolerates any alignment of the source buffer.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const Self) })
    }

    /// An all-zero value.
    fn zeroed() -> Self {
        // SAFETY: Pod accepts any bit pattern, including all zeroes.
        unsafe { std::mem::zeroed() }
    }
}

macro_rules! pod {
    ($($t:ty),* $(,)?) => { $(
        // SAFETY: the type is repr(C) integers/arrays only, valid for any bits.
        unsafe impl Pod for $t {}
    )* };
}

pod!(u8, u16, u32, u64, i32, i64, usize);
// SAFETY: arrays of Pod are Pod.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

/// `struct timeval`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i64,
}

/// `struct stat` on x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub pad0: u32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    pub reserved: [i64; 3],
}

/// `struct statx_timestamp`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatxTimestamp {
    pub tv_sec: i64,
    pub tv_nsec: u32,
    pub reserved: i32,
}

/// `struct statx`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Statx {
    pub stx_mask: u32,
    pub stx_blksize: u32,
    pub stx_attributes: u64,
    pub stx_nlink: u32,
    pub stx_uid: u32,
    pub stx_gid: u32,
    pub stx_mode: u16,
    pub spare0: u16,
    pub stx_ino: u64,
    pub stx_size: u64,
    pub stx_blocks: u64,
    pub stx_attributes_mask: u64,
    pub stx_atime: StatxTimestamp,
    pub stx_btime: StatxTimestamp,
    pub stx_ctime: StatxTimestamp,
    pub stx_mtime: StatxTimestamp,
    pub stx_rdev_major: u32,
    pub stx_rdev_minor: u32,
    pub stx_dev_major: u32,
    pub stx_dev_minor: u32,
    pub stx_mnt_id: u64,
    pub stx_dio_mem_align: u32,
    pub stx_dio_offset_align: u32,
    pub spare3: [u64; 12],
}

/// `struct statfs` on x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    pub f_spare: [i64; 4],
}

/// `struct iovec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iovec {
    pub iov_base: u64,
    pub iov_len: u64,
}

/// `struct new_utsname`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
    pub domainname: [u8; 65],
}

/// `struct winsize`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Winsize {
    pub ws_row: u16,
    pub ws_col: u16,
    pub ws_xpixel: u16,
    pub ws_ypixel: u16,
}

/// Kernel `struct termios` (TCGETS/TCSETS), not glibc's larger one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelTermios {
    pub c_iflag: u32,
    pub c_oflag: u32,
    pub c_cflag: u32,
    pub c_lflag: u32,
    pub c_line: u8,
    pub c_cc: [u8; 19],
}

/// `struct open_how` (openat2).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

/// `struct rlimit64`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rlimit {
    pub rlim_cur: u64,
    pub rlim_max: u64,
}

/// `struct flock` on x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub pad0: u32,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
    pub pad1: u32,
}

/// `struct msghdr` as applications pass it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgHdr {
    pub msg_name: u64,
    pub msg_namelen: u32,
    pub pad0: u32,
    pub msg_iov: u64,
    pub msg_iovlen: u64,
    pub msg_control: u64,
    pub msg_controllen: u64,
    pub msg_flags: i32,
    pub pad1: u32,
}

/// Kernel `struct sigaction` for rt_sigaction (x86_64 layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `siginfo_t`: 128 bytes; fields are interpreted per signal.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Siginfo {
    pub si_signo: i32,
    pub si_errno: i32,
    pub si_code: i32,
    pub pad0: i32,
    pub fields: [u64; 14],
}

/// `struct sysinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sysinfo {
    pub uptime: i64,
    pub loads: [u64; 3],
    pub totalram: u64,
    pub freeram: u64,
    pub sharedram: u64,
    pub bufferram: u64,
    pub totalswap: u64,
    pub freeswap: u64,
    pub procs: u16,
    pub pad: u16,
    pub pad2: u32,
    pub totalhigh: u64,
    pub freehigh: u64,
    pub mem_unit: u32,
    pub pad3: u32,
}

/// `struct user_regs_struct` (ptrace GETREGS) on x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

impl UserRegs {
    /// The six syscall arguments in ABI order.
    pub fn syscall_args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }

    /// Sets the six syscall argument registers.
    pub fn set_syscall_args(&mut self, args: [u64; 6]) {
        self.rdi = args[0];
        self.rsi = args[1];
        self.rdx = args[2];
        self.r10 = args[3];
        self.r8 = args[4];
        self.r9 = args[5];
    }
}

pod!(
    Timespec,
    Timeval,
    Stat,
    StatxTimestamp,
    Statx,
    StatFs,
    Iovec,
    Utsname,
    Winsize,
    KernelTermios,
    OpenHow,
    Rlimit,
    Flock,
    MsgHdr,
    KernelSigaction,
    Siginfo,
    Sysinfo,
    UserRegs,
);

/// Appends one `struct linux_dirent64` record to `out`; returns false (and
/// appends nothing) if it would not fit within `limit` bytes in total.
pub fn push_dirent64(out: &mut Vec<u8>, limit: usize, ino: u64, off: i64, d_type: u8, name: &[u8]) -> bool {
    // d_ino(8) d_off(8) d_reclen(2) d_type(1) name NUL, padded to 8.
    push_record(out, limit, ino, off, name, 19, 1, |rec, name_at| {
        rec[name_at - 1] = d_type;
    })
}

/// Appends one legacy `struct linux_dirent` record (getdents): the type lives
/// in the record's last byte, after the name's NUL.
pub fn push_dirent(out: &mut Vec<u8>, limit: usize, ino: u64, off: i64, d_type: u8, name: &[u8]) -> bool {
    push_record(out, limit, ino, off, name, 18, 2, |rec, _| {
        let last = rec.len() - 1;
        rec[last] = d_type;
    })
}

/// Shared layout: ino, off, reclen, then the name at `name_at`, `tail` bytes
/// of NUL/type after it, padded to 8; `finish` fills the type byte.
#[allow(clippy::too_many_arguments)]
fn push_record(
    out: &mut Vec<u8>,
    limit: usize,
    ino: u64,
    off: i64,
    name: &[u8],
    name_at: usize,
    tail: usize,
    finish: impl FnOnce(&mut [u8], usize),
) -> bool {
    let reclen = (name_at + name.len() + tail + 7) & !7;
    if out.len() + reclen > limit {
        return false;
    }
    let start = out.len();
    out.extend_from_slice(&ino.to_ne_bytes());
    out.extend_from_slice(&off.to_ne_bytes());
    out.extend_from_slice(&(reclen as u16).to_ne_bytes());
    out.resize(start + name_at, 0);
    out.extend_from_slice(name);
    out.resize(start + reclen, 0);
    finish(&mut out[start..], name_at);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn sizes_match_the_kernel() {
        assert_eq!(size_of::<Stat>(), 144);
        assert_eq!(size_of::<Statx>(), 256);
        assert_eq!(size_of::<StatFs>(), 120);
        assert_eq!(size_of::<Utsname>(), 390);
        assert_eq!(size_of::<KernelTermios>(), 36);
        assert_eq!(size_of::<Flock>(), 32);
        assert_eq!(size_of::<MsgHdr>(), 56);
        assert_eq!(size_of::<Siginfo>(), 128);
        assert_eq!(size_of::<Sysinfo>(), 112);
        assert_eq!(size_of::<UserRegs>(), 27 * 8);
        assert_eq!(size_of::<libc::stat>(), size_of::<Stat>());
        assert_eq!(size_of::<libc::statfs>(), size_of::<StatFs>());
    }

    #[test]
    fn dirent_records_are_aligned() {
        let mut v = Vec::new();
        assert!(push_dirent64(&mut v, 64, 1, 1, 4, b"a"));
        assert_eq!(v.len(), 24);
        assert!(!push_dirent64(&mut v, 30, 2, 2, 8, b"bbbbbbbbb"));
        assert_eq!(v.len(), 24);
    }
}
