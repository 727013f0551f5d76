//! strace-style formatting of system calls, for `--strace`.
//!
//! How each argument is shown is data: [`table`] maps a syscall to a list of
//! [`ArgKind`]s and a [`RetKind`]. Application memory is read through
//! [`MemReader`]; unreadable memory is printed as its address, so no input
//! can make formatting fail or panic.
//!
//! Entry: `openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)`
//! Exit:  `= 3` or `= -1 ENOENT (No such file or directory)`.
//! [`format_exit_call`] re-renders the call after it returned, filling in
//! output buffers (`read(3, "abc", 4096)`), and [`format_line`] gives the whole
//! `call = result` line.

mod memory;
mod names;
mod sock;
mod table;

use std::fmt::Write as _;

use crate::{Errno, Sysno};
use memory::*;
use names::Names;

/// Reads application memory. Implementations return `None` (or a shorter
/// vector) when the range is not readable.
pub trait MemReader {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
}

/// A reader for when no memory is available: every pointer prints as an address.
pub struct NoMem;

impl MemReader for NoMem {
    fn read(&self, _addr: u64, _len: usize) -> Option<Vec<u8>> {
        None
    }
}

/// How one argument register is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgKind {
    /// A file descriptor (`int`).
    Fd,
    /// A directory fd for `*at` calls: `AT_FDCWD` or a number.
    DirFd,
    /// Signed 32-bit.
    Int,
    /// Unsigned 32-bit.
    UInt,
    /// Signed 64-bit (offsets).
    Long,
    /// Unsigned 64-bit length or count.
    Size,
    /// Raw value in hex.
    Hex,
    /// An address: `NULL` or hex.
    Ptr,
    /// NUL-terminated path, shown up to [`PATH_SHOWN`] bytes.
    Path,
    /// NUL-terminated string, shown up to [`STR_SHOWN`] bytes.
    Str,
    /// Input buffer whose length is argument `n`.
    InBuf(u8),
    /// Output buffer of capacity argument `n`; filled in after return.
    OutBuf(u8),
    /// Output C string (getcwd); filled in after return.
    OutStr,
    /// Input `struct iovec[]` with count in argument `n`.
    IovecIn(u8),
    /// Output `struct iovec[]` with count in argument `n`.
    IovecOut(u8),
    /// `int[2]` written by the kernel (pipe, socketpair).
    FdPairOut,
    /// `char *const argv[]`.
    StrArray,
    /// `char *const envp[]`, shown as a count.
    EnvArray,
    /// `O_*` flags with the access mode.
    OpenFlags,
    /// File mode, shown only if the flags in argument `n` have O_CREAT or O_TMPFILE.
    OpenMode(u8),
    /// File mode in octal (with the file type for mknod).
    Mode,
    /// O_CLOEXEC / O_NONBLOCK only.
    FdFlags,
    AtFlags,
    FaccessatFlags,
    /// `F_OK` or `R_OK|W_OK|X_OK`.
    AccessMode,
    MmapProt,
    MmapFlags,
    MremapFlags,
    MsyncFlags,
    Madvise,
    /// A signal number: `SIGTERM`.
    Signal,
    SigHow,
    /// Input `sigset_t *`: `[INT TERM]`.
    SigsetIn,
    /// Input `struct sigaction *`.
    SigactionIn,
    FcntlCmd,
    /// fcntl's third argument, decoded by the command in argument 1.
    FcntlArg,
    IoctlCmd,
    ClockId,
    TimerFlags,
    Whence,
    /// Input `struct timespec *`.
    TimespecIn,
    /// Output `struct timespec *`; filled in after return.
    TimespecOut,
    /// clone flags with the exit signal in the low byte.
    CloneFlags,
    /// Namespace flags (unshare, setns).
    UnshareFlags,
    WaitOptions,
    IdType,
    FutexOp,
    PrctlOption,
    ArchPrctlCode,
    RlimitResource,
    /// Input `struct rlimit *`.
    RlimitIn,
    RusageWho,
    SockDomain,
    SockType,
    SockLevel,
    MsgFlags,
    ShutHow,
    EpollOp,
    FlockOp,
    RenameFlags,
    GetrandomFlags,
    MemfdFlags,
    SeccompOp,
    MountFlags,
    UmountFlags,
    PrioWhich,
    ItimerWhich,
    PtraceRequest,
    Fadvise,
    FallocMode,
    StatxMask,
    InotifyMask,
    /// Input `struct pollfd[]` with count in argument `n`.
    PollFds(u8),
    /// Input `struct open_how *`.
    OpenHowIn,
    /// Input socket address whose length is argument `n`.
    SockaddrIn(u8),
    /// Output socket address whose length pointer is argument `n`.
    SockaddrOut(u8),
    /// SOCK_NONBLOCK / SOCK_CLOEXEC (accept4).
    SockFlags,
    /// A socket option name, decoded by the level in argument `n`.
    SockoptName(u8),
}

/// How the return value is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetKind {
    /// Signed decimal.
    Int,
    /// Hex (addresses).
    Hex,
    /// Octal (umask).
    Oct,
    /// Does not return (exit): `= ?`.
    NoReturn,
    /// Decoded by fcntl command (`F_GETFL` flags, ...).
    Fcntl,
}

/// A syscall's argument layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallSpec {
    pub args: &'static [ArgKind],
    pub ret: RetKind,
}

/// Longest path shown before `...`.
pub const PATH_SHOWN: usize = 64;
/// Longest string or buffer shown before `...`.
pub const STR_SHOWN: usize = 32;
/// Most array elements (argv, iovec, pollfd) shown.
const ELEMS_SHOWN: u64 = 16;
const PAGE: u64 = 4096;

/// The argument layout of syscall `nr`, if known.
pub fn spec(nr: u64) -> Option<SyscallSpec> {
    sysno(nr).and_then(table::lookup)
}

fn sysno(nr: u64) -> Option<Sysno> {
    usize::try_from(nr).ok().and_then(Sysno::new)
}

/// Formats a call at entry: `openat(AT_FDCWD, "/etc/passwd", O_RDONLY)`.
pub fn format_call(nr: u64, args: [u64; 6], mem: &dyn MemReader) -> String {
    render_call(nr, &Ctx { args, mem, ret: None })
}

/// Formats a call after it returned `ret`, with output arguments filled in:
/// `read(3, "abc", 4096)`.
pub fn format_exit_call(nr: u64, args: [u64; 6], ret: i64, mem: &dyn MemReader) -> String {
    render_call(nr, &Ctx { args, mem, ret: Some(ret) })
}

/// The whole strace line for a finished call: `read(3, "abc", 4096) = 3`.
pub fn format_line(nr: u64, args: [u64; 6], ret: i64, mem: &dyn MemReader) -> String {
    let mut s = format_exit_call(nr, args, ret, mem);
    s.push(' ');
    s.push_str(&format_return(nr, ret, args, mem));
    s
}

/// Formats a return value: `= 3`, `= 0x7f0000000000`,
/// `= -1 ENOENT (No such file or directory)`.
pub fn format_return(nr: u64, ret: i64, args: [u64; 6], _mem: &dyn MemReader) -> String {
    let kind = spec(nr).map_or(RetKind::Int, |s| s.ret);
    if kind == RetKind::NoReturn {
        return "= ?".to_string();
    }
    if let Err(e) = Errno::result(ret) {
        return format_errno(e);
    }
    match kind {
        RetKind::Hex => format!("= {:#x}", ret as u64),
        RetKind::Oct => format!("= 0{:02o}", ret),
        RetKind::Fcntl => {
            let bits = ret as u64;
            match args[1] & 0xffff_ffff {
                names::F_GETFL => format!("= {bits:#x} (flags {})", open_flags(bits)),
                names::F_GETFD => format!("= {bits:#x} (flags {})", flags(bits, names::FD_CLOEXEC, "0")),
                names::F_GET_SEALS => format!("= {bits:#x} (seals {})", flags(bits, names::SEALS, "0")),
                _ => format!("= {ret}"),
            }
        }
        RetKind::Int | RetKind::NoReturn => format!("= {ret}"),
    }
}

fn format_errno(e: Errno) -> String {
    let n = e.raw();
    // Kernel-internal restart codes never reach the app; strace shows them as `?`.
    let internal = match n {
        512 => Some("To be restarted if SA_RESTART is set"),
        513 => Some("To be restarted"),
        514 => Some("To be restarted if no handler"),
        515 => Some("Interrupted by signal"),
        516 => Some("Interrupted by signal"),
        _ => None,
    };
    let name = match (n, e.name()) {
        (513, _) => "ERESTARTNOINTR".to_string(),
        (515, _) => "ENOIOCTLCMD".to_string(),
        (_, "E?") => format!("errno{n}"),
        (_, name) => name.to_string(),
    };
    match internal {
        Some(desc) => format!("= ? {name} ({desc})"),
        None => {
            let desc = e.description();
            // io::Error appends " (os error N)"; strace shows strerror only.
            let suffix = format!(" (os error {n})");
            let desc = desc.strip_suffix(&suffix).unwrap_or(&desc);
            format!("= -1 {name} ({desc})")
        }
    }
}

struct Ctx<'a> {
    args: [u64; 6],
    mem: &'a dyn MemReader,
    /// `Some` once the call has returned.
    ret: Option<i64>,
}

impl Ctx<'_> {
    /// The return value if the call succeeded.
    fn ok(&self) -> Option<u64> {
        self.ret.filter(|r| Errno::result(*r).is_ok()).map(|r| r as u64)
    }
}

fn render_call(nr: u64, ctx: &Ctx<'_>) -> String {
    let mut out = String::new();
    let kinds: &[ArgKind] = match sysno(nr) {
        Some(s) => {
            out.push_str(s.name());
            match table::lookup(s) {
                Some(spec) => spec.args,
                None => &[ArgKind::Hex; 6],
            }
        }
        None => {
            let _ = write!(out, "syscall_{nr}");
            &[ArgKind::Hex; 6]
        }
    };
    out.push('(');
    let mut first = true;
    for (i, kind) in kinds.iter().enumerate().take(6) {
        if let Some(s) = render_arg(*kind, i, ctx) {
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push_str(&s);
        }
    }
    out.push(')');
    out
}

/// One argument, or `None` if it is omitted (open's mode without O_CREAT).
fn render_arg(kind: ArgKind, i: usize, ctx: &Ctx<'_>) -> Option<String> {
    use ArgKind as K;
    let v = ctx.args[i];
    let arg = |n: u8| ctx.args.get(n as usize).copied().unwrap_or(0);
    let s = match kind {
        K::Fd | K::Int => (v as i32).to_string(),
        K::DirFd => dirfd(v),
        K::UInt => (v as u32).to_string(),
        K::Long => (v as i64).to_string(),
        K::Size => v.to_string(),
        K::Hex => hex(v),
        K::Ptr => ptr(v),
        K::Path => cstring(ctx.mem, v, PATH_SHOWN),
        K::Str => cstring(ctx.mem, v, STR_SHOWN),
        K::InBuf(n) => buffer(ctx.mem, v, arg(n)),
        K::OutBuf(n) => match ctx.ok() {
            Some(got) => buffer(ctx.mem, v, got.min(arg(n))),
            None => ptr(v),
        },
        K::OutStr => match ctx.ok() {
            Some(_) => cstring(ctx.mem, v, PATH_SHOWN),
            None => ptr(v),
        },
        K::IovecIn(n) => iovecs(ctx.mem, v, arg(n), u64::MAX),
        K::IovecOut(n) => match ctx.ok() {
            Some(got) => iovecs(ctx.mem, v, arg(n), got),
            None => ptr(v),
        },
        K::FdPairOut => match ctx.ok() {
            Some(_) => fd_pair(ctx.mem, v),
            None => ptr(v),
        },
        K::StrArray => str_array(ctx.mem, v),
        K::EnvArray => env_array(ctx.mem, v),
        K::OpenFlags => open_flags(v),
        K::OpenMode(n) => {
            // O_CREAT or __O_TMPFILE: only then does open read the mode.
            if arg(n) & (0o100 | 0o20000000) == 0 {
                return None;
            }
            mode(v)
        }
        K::Mode => mode(v),
        K::FdFlags => flags(v, names::FD_FLAGS, "0"),
        K::AtFlags => flags(v, names::AT_FLAGS, "0"),
        K::FaccessatFlags => flags(v, names::FACCESSAT_FLAGS, "0"),
        K::AccessMode => flags(v & 0xffff_ffff, names::ACCESS_MODE, "F_OK"),
        K::MmapProt => flags(v, names::MMAP_PROT, "PROT_NONE"),
        K::MmapFlags => mmap_flags(v),
        K::MremapFlags => flags(v, names::MREMAP_FLAGS, "0"),
        K::MsyncFlags => flags(v, names::MSYNC_FLAGS, "0"),
        K::Madvise => enum_name(v, names::MADVISE),
        K::Signal => signal(v),
        K::SigHow => enum_name(v, names::SIGPROCMASK_HOW),
        K::SigsetIn => read_u64(ctx.mem, v).map_or_else(|| ptr(v), sigset),
        K::SigactionIn => sigaction(ctx.mem, v),
        K::FcntlCmd => enum_name(v & 0xffff_ffff, names::FCNTL_CMD),
        K::FcntlArg => return fcntl_arg(ctx.args[1] & 0xffff_ffff, v),
        K::IoctlCmd => enum_name(v & 0xffff_ffff, names::IOCTL_CMD),
        K::ClockId => clock_id(v),
        K::TimerFlags => flags(v, names::TIMER_FLAGS, "0"),
        K::Whence => enum_name(v & 0xffff_ffff, names::WHENCE),
        K::TimespecIn => timespec(ctx.mem, v),
        K::TimespecOut => match ctx.ok() {
            Some(_) => timespec(ctx.mem, v),
            None => ptr(v),
        },
        K::CloneFlags => clone_flags(v),
        K::UnshareFlags => flags(v, names::CLONE_FLAGS, "0"),
        K::WaitOptions => flags(v, names::WAIT_OPTIONS, "0"),
        K::IdType => enum_name(v & 0xffff_ffff, names::IDTYPE),
        K::FutexOp => futex_op(v),
        K::PrctlOption => enum_name(v & 0xffff_ffff, names::PRCTL_OPTION),
        K::ArchPrctlCode => enum_name(v & 0xffff_ffff, names::ARCH_PRCTL_CODE),
        K::RlimitResource => enum_name(v & 0xffff_ffff, names::RLIMIT_RESOURCE),
        K::RlimitIn => rlimit(ctx.mem, v),
        K::RusageWho => enum_name(v & 0xffff_ffff, names::RUSAGE_WHO),
        K::SockDomain => enum_name(v & 0xffff_ffff, names::SOCKET_DOMAIN),
        K::SockType => socket_type(v),
        K::SockLevel => enum_name(v & 0xffff_ffff, names::SOCKOPT_LEVEL),
        K::MsgFlags => flags(v, names::MSG_FLAGS, "0"),
        K::ShutHow => enum_name(v & 0xffff_ffff, names::SHUTDOWN_HOW),
        K::EpollOp => enum_name(v & 0xffff_ffff, names::EPOLL_CTL_OP),
        K::FlockOp => flags(v, names::FLOCK_OP, "0"),
        K::RenameFlags => flags(v, names::RENAME_FLAGS, "0"),
        K::GetrandomFlags => flags(v, names::GETRANDOM_FLAGS, "0"),
        K::MemfdFlags => flags(v, names::MEMFD_FLAGS, "0"),
        K::SeccompOp => enum_name(v & 0xffff_ffff, names::SECCOMP_OP),
        K::MountFlags => flags(v, names::MOUNT_FLAGS, "0"),
        K::UmountFlags => flags(v, names::UMOUNT_FLAGS, "0"),
        K::PrioWhich => enum_name(v & 0xffff_ffff, names::PRIO_WHICH),
        K::ItimerWhich => enum_name(v & 0xffff_ffff, names::ITIMER_WHICH),
        K::PtraceRequest => enum_name(v, names::PTRACE_REQUEST),
        K::Fadvise => enum_name(v & 0xffff_ffff, names::FADVISE),
        K::FallocMode => flags(v, names::FALLOC_MODE, "0"),
        K::StatxMask => flags(v, names::STATX_MASK, "0"),
        K::InotifyMask => flags(v, names::INOTIFY_MASK, "0"),
        K::PollFds(n) => pollfds(ctx.mem, v, arg(n)),
        K::OpenHowIn => open_how(ctx.mem, v),
        K::SockaddrIn(n) => sock::sockaddr(ctx.mem, v, arg(n)),
        K::SockaddrOut(n) => match ctx.ok() {
            Some(_) => sock::sockaddr_out(ctx.mem, v, arg(n)),
            None => ptr(v),
        },
        K::SockFlags => flags(v, names::SOCKET_FLAGS, "0"),
        K::SockoptName(n) => sock::sockopt_name(arg(n), v),
    };
    Some(s)
}

// ---- scalars ---------------------------------------------------------------

fn hex(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn dirfd(v: u64) -> String {
    match v as i32 {
        libc::AT_FDCWD => "AT_FDCWD".to_string(),
        fd => fd.to_string(),
    }
}

fn mode(v: u64) -> String {
    let perm = v & 0o7777;
    let ty = v & 0o170000;
    let mut s = String::new();
    if ty != 0 {
        match names::FILE_TYPE.iter().find(|(t, _)| *t == ty) {
            Some((_, name)) => s.push_str(name),
            None => s.push_str(&format!("{ty:#o}")),
        }
        s.push('|');
    }
    let rest = v & !0o177777;
    let _ = write!(s, "0{perm:02o}");
    if rest != 0 {
        let _ = write!(s, "|{rest:#x}");
    }
    s
}

/// `A|B|0x40` for the known bits of `v`; `zero` if no bit is set.
fn flags(v: u64, table: Names, zero: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let rest = take_flags(v, table, &mut parts);
    finish_flags(parts, rest, zero)
}

/// Moves the names of the known bits into `parts`; returns the unknown bits.
fn take_flags(mut v: u64, table: Names, parts: &mut Vec<String>) -> u64 {
    for &(bits, name) in table {
        if bits != 0 && v & bits == bits {
            parts.push(name.to_string());
            v &= !bits;
        }
    }
    v
}

fn finish_flags(mut parts: Vec<String>, rest: u64, zero: &str) -> String {
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        zero.to_string()
    } else {
        parts.join("|")
    }
}

/// The name of an enumerated value, or the number itself.
fn enum_name(v: u64, table: Names) -> String {
    match table.iter().find(|(x, _)| *x == v) {
        Some((_, name)) => name.to_string(),
        None => {
            // Small unknown values read better in decimal, large ones (ioctl numbers) in hex.
            if v < 0x1000 {
                v.to_string()
            } else {
                format!("{v:#x}")
            }
        }
    }
}

fn open_flags(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let mut parts = vec![enum_name(v & 3, names::O_ACCMODE)];
    let rest = take_flags(v & !3, names::OPEN_FLAGS, &mut parts);
    finish_flags(parts, rest, "")
}

fn mmap_flags(v: u64) -> String {
    let mut parts = Vec::new();
    let ty = v & 0xf;
    if ty != 0 {
        parts.push(enum_name(ty, names::MMAP_TYPE));
    }
    let rest = take_flags(v & !0xf, names::MMAP_FLAGS, &mut parts);
    finish_flags(parts, rest, "0")
}

fn signal_name(sig: u64) -> Option<String> {
    if let Some((_, name)) = names::SIGNALS.iter().find(|(n, _)| *n == sig) {
        return Some(name.to_string());
    }
    match sig {
        32 => Some("SIGRTMIN".to_string()),
        33..=64 => Some(format!("SIGRT_{}", sig - 32)),
        _ => None,
    }
}

fn signal(v: u64) -> String {
    let sig = v & 0xffff_ffff;
    signal_name(sig).unwrap_or_else(|| (sig as i32).to_string())
}

/// `[INT TERM]`, or `~[...]` listing the missing signals when most are set.
fn sigset(set: u64) -> String {
    let (prefix, set) = if set.count_ones() > 32 { ("~", !set) } else { ("", set) };
    let list: Vec<String> = (1..=64u64)
        .filter(|sig| set & (1 << (sig - 1)) != 0)
        .map(|sig| {
            let name = signal_name(sig).unwrap_or_else(|| sig.to_string());
            name.strip_prefix("SIG").map(str::to_string).unwrap_or(name)
        })
        .collect();
    format!("{prefix}[{}]", list.join(" "))
}

fn clock_id(v: u64) -> String {
    let id = v as i32;
    if id < 0 {
        // CPU-time clocks of another process or thread encode the pid.
        return id.to_string();
    }
    enum_name(id as u64, names::CLOCK_ID)
}

fn clone_flags(v: u64) -> String {
    let mut parts = Vec::new();
    let rest = take_flags(v & !0xff, names::CLONE_FLAGS, &mut parts);
    // The low byte is the exit signal (0x80 is CLONE_NEWTIME only for unshare).
    let sig = v & 0xff;
    if sig != 0 {
        parts.push(signal(sig));
    }
    finish_flags(parts, rest, "0")
}

fn futex_op(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let mut s = enum_name(v & 0x7f, names::FUTEX_OP);
    if v & 128 != 0 {
        s.push_str("_PRIVATE");
    }
    if v & 256 != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    let rest = v & !(0x7f | 128 | 256);
    if rest != 0 {
        let _ = write!(s, "|{rest:#x}");
    }
    s
}

fn socket_type(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let mut parts = vec![enum_name(v & 0xf, names::SOCKET_TYPE)];
    let rest = take_flags(v & !0xf, names::SOCKET_FLAGS, &mut parts);
    finish_flags(parts, rest, "0")
}

/// fcntl's third argument, or `None` for commands that take none.
fn fcntl_arg(cmd: u64, v: u64) -> Option<String> {
    use names::*;
    match cmd {
        F_GETFD | F_GETFL | F_GETOWN | F_GETSIG | F_GETLEASE | F_GETPIPE_SZ | F_GET_SEALS => None,
        F_DUPFD | F_DUPFD_CLOEXEC | F_SETSIG => Some((v as i32).to_string()),
        F_SETFD => Some(flags(v, FD_CLOEXEC, "0")),
        F_SETFL => Some(open_flags(v)),
        _ => Some(hex(v)),
    }
}

// ---- memory ----------------------------------------------------------------

#[cfg(test)]
mod tests;
