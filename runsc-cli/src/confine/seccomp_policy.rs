//! The sentry's and the gofer's seccomp policies, as commented data.
//!
//! Each role lists the host syscalls it makes after confinement, with
//! argument checks where the arguments say what is reached. Entries with the
//! same number are alternatives; an entry's conditions must all hold.
//! Anything else kills the process (`RVISOR_SECCOMP=log`: logged and allowed,
//! to derive these lists: run the test suite and read `dmesg`).
//! [`Refusal`]s answer an errno instead, for calls a library tries first and
//! falls back from. See docs/security.md for the threat model.

/// One condition on a syscall argument (compared as a 32-bit value: every
/// argument checked here is an int, a flag word or a file descriptor).
#[derive(Clone, Copy, Debug)]
pub enum Cond {
    /// `arg[idx] == value`.
    Eq(u8, u32),
    /// `arg[idx] & mask == value`.
    Masked(u8, u32, u32),
    /// `arg[idx]` is the sentry's pre-opened procfs directory fd (known at install time).
    ProcDir(u8),
    /// `arg[idx]` is any other fd (or AT_FDCWD).
    NotProcDir(u8),
}

/// An allowed syscall (when all of `when` hold).
#[derive(Debug)]
pub struct Rule {
    pub nr: i64,
    pub when: &'static [Cond],
    pub why: &'static str,
}

/// A syscall answered with `errno` without reaching the kernel (when all of `when` hold).
#[derive(Debug)]
pub struct Refusal {
    pub nr: i64,
    pub when: &'static [Cond],
    pub errno: i32,
    pub why: &'static str,
}

const fn any(nr: i64, why: &'static str) -> Rule {
    Rule { nr, when: &[], why }
}

const fn when(nr: i64, when: &'static [Cond], why: &'static str) -> Rule {
    Rule { nr, when, why }
}

use libc as l;
use Cond::*;

/// Flags glibc's pthread_create passes to clone (when clone3 is refused):
/// CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID.
pub const THREAD_CLONE_FLAGS: u32 = 0x003d_0f00;

/// openat flags the sentry never needs: O_CREAT, O_TRUNC, O_TMPFILE (and its O_DIRECTORY half).
const OPEN_FORBIDDEN: u32 = (l::O_CREAT | l::O_TRUNC | l::O_TMPFILE) as u32;

/// ioctl requests the sentry makes on its own host fds.
const SENTRY_IOCTLS: &[(u32, &str)] = &[
    (l::FIONREAD as u32, "bytes readable on a pipe, socket or tty (FIONREAD, SIOCINQ)"),
    (l::TIOCOUTQ as u32, "bytes unsent on a socket (SIOCOUTQ)"),
    (0x8905, "SIOCATMARK: a socket's urgent-data mark"),
    (l::FIONBIO as u32, "std sets sockets non-blocking this way"),
    (l::FIOCLEX as u32, "std marks fds close-on-exec this way"),
    (l::TCGETS as u32, "the host terminal's termios (sandbox tty on host stdin)"),
    (l::TCSETS as u32, "set the host terminal's termios"),
    (l::TCSETSW as u32, "set the host terminal's termios after draining"),
    (l::TCSETSF as u32, "set the host terminal's termios after flushing"),
    (l::TCXONC as u32, "terminal flow control"),
    (l::TCFLSH as u32, "flush the terminal queues"),
    (l::TIOCGWINSZ as u32, "the host terminal's window size"),
    (l::TIOCSWINSZ as u32, "set the host terminal's window size"),
    (0x8910, "SIOCGIFNAME: interface queries of the sandbox's network namespace"),
    (0x8912, "SIOCGIFCONF"),
    (0x8913, "SIOCGIFFLAGS"),
    (0x8915, "SIOCGIFADDR"),
    (0x8917, "SIOCGIFDSTADDR"),
    (0x8919, "SIOCGIFBRDADDR"),
    (0x891b, "SIOCGIFNETMASK"),
    (0x891d, "SIOCGIFMETRIC"),
    (0x8921, "SIOCGIFMTU"),
    (0x8927, "SIOCGIFHWADDR"),
    (0x8933, "SIOCGIFINDEX"),
    (0x8942, "SIOCGIFTXQLEN"),
];

/// The sentry, after its app's init process exists. It holds host fds for
/// every sandbox file, pipe and socket, traces app processes, and copies
/// their memory; it never opens a path, execs, forks or mounts.
pub static SENTRY: &[Rule] = &[
    // I/O on fds it already holds (gofer-donated files, memfds, pipes, sockets, tty).
    any(l::SYS_read, "reads its own fds"),
    any(l::SYS_write, "writes its own fds"),
    any(l::SYS_readv, "vectored reads of its own fds"),
    any(l::SYS_writev, "vectored writes of its own fds (logging, sockets)"),
    any(l::SYS_pread64, "positioned reads of sandbox files"),
    any(l::SYS_pwrite64, "positioned writes of sandbox files"),
    any(l::SYS_preadv, "vectored positioned reads"),
    any(l::SYS_pwritev, "vectored positioned writes"),
    any(l::SYS_lseek, "file offsets of host fds"),
    any(l::SYS_sendfile, "sendfile between sandbox files"),
    any(l::SYS_copy_file_range, "copy_file_range between sandbox files"),
    any(l::SYS_splice, "splice between sandbox pipes and files"),
    any(l::SYS_tee, "tee between sandbox pipes"),
    any(l::SYS_close, "closes its own fds"),
    any(l::SYS_dup, "duplicates its own fds"),
    any(l::SYS_dup3, "duplicates its own fds"),
    any(l::SYS_fcntl, "fd flags, record locks and seals of its own fds"),
    any(l::SYS_flock, "flock on sandbox files"),
    any(l::SYS_fstat, "metadata of its own fds"),
    any(
        l::SYS_newfstatat,
        "glibc's fstat is fstatat(fd, \"\", AT_EMPTY_PATH); its root is empty, so paths reach nothing",
    ),
    any(l::SYS_statx, "statx on its own fds (AT_EMPTY_PATH)"),
    any(l::SYS_fstatfs, "file system statistics of its own fds"),
    any(l::SYS_getdents64, "directory listings of gofer-donated and memfd-backed directories"),
    any(l::SYS_ftruncate, "truncates sandbox files and memfds"),
    any(l::SYS_fallocate, "allocates space in sandbox files"),
    any(l::SYS_fsync, "fsync of sandbox files"),
    any(l::SYS_fdatasync, "fdatasync of sandbox files"),
    any(l::SYS_fchmod, "permission bits of memfd-backed tmpfs files"),
    any(l::SYS_fchown, "ownership of memfd-backed tmpfs files"),
    any(l::SYS_utimensat, "timestamps of its own fds (AT_EMPTY_PATH / NULL path)"),
    any(l::SYS_memfd_create, "tmpfs files and the stub image are memfds; no path"),
    any(l::SYS_pipe2, "sandbox pipes are host pipes"),
    any(l::SYS_eventfd2, "wake-ups between its own threads"),
    any(l::SYS_timerfd_create, "the sandbox's timerfds are host timerfds the sentry owns"),
    any(l::SYS_timerfd_settime, "arms a sandbox timerfd"),
    any(l::SYS_timerfd_gettime, "reads a sandbox timerfd"),
    // The only open: relative to the pre-opened procfs (self/fd/N reopens,
    // PID/maps of tracees), never creating or truncating. Opens relative to
    // anything else pass this list only to be refused with ENOENT (glibc's
    // malloc probes /proc/sys/vm/overcommit_memory and copes).
    when(
        l::SYS_openat,
        &[ProcDir(0), Masked(2, OPEN_FORBIDDEN, 0)],
        "reopens its own fds and reads tracees' maps beneath its read-only, pid-only procfs",
    ),
    when(l::SYS_openat, &[NotProcDir(0)], "allowed here so the refusal list can answer ENOENT"),
    any(l::SYS_open, "allowed here so the refusal list can answer ENOENT"),
    // Readiness.
    any(l::SYS_poll, "waits on its own fds"),
    any(l::SYS_ppoll, "waits on its own fds"),
    any(l::SYS_epoll_create1, "sandbox epoll instances are host epoll fds"),
    any(l::SYS_epoll_ctl, "registers its own fds"),
    any(l::SYS_epoll_wait, "waits on its own epoll fds"),
    any(l::SYS_epoll_pwait, "waits on its own epoll fds"),
    // Sockets: the sandbox's sockets are the sentry's host sockets.
    when(l::SYS_socket, &[Eq(0, l::AF_UNIX as u32)], "AF_UNIX sockets (socketpairs, sandbox unix sockets)"),
    when(l::SYS_socket, &[Eq(0, l::AF_INET as u32)], "AF_INET sockets of the sandbox"),
    when(l::SYS_socket, &[Eq(0, l::AF_INET6 as u32)], "AF_INET6 sockets of the sandbox"),
    when(
        l::SYS_socket,
        &[Eq(0, l::AF_NETLINK as u32)],
        "NETLINK_ROUTE queries (read-only requests are checked in the sentry)",
    ),
    when(l::SYS_socket, &[Eq(0, l::AF_PACKET as u32)], "packet sockets, refused in the sentry unless --net-raw"),
    any(l::SYS_socketpair, "sandbox socketpairs and internal channels"),
    any(l::SYS_bind, "binds sandbox inet sockets"),
    any(l::SYS_listen, "listens on sandbox sockets"),
    any(l::SYS_connect, "connects sandbox sockets"),
    any(l::SYS_accept, "accepts on sandbox sockets"),
    any(l::SYS_accept4, "accepts on sandbox sockets"),
    any(l::SYS_sendto, "sends on sandbox sockets"),
    any(l::SYS_recvfrom, "receives on sandbox sockets"),
    any(l::SYS_sendmsg, "gofer requests, fd injection into app processes, sandbox sockets"),
    any(l::SYS_recvmsg, "gofer replies with donated fds, sandbox sockets"),
    any(l::SYS_sendmmsg, "batched sends on sandbox sockets"),
    any(l::SYS_recvmmsg, "batched receives on sandbox sockets"),
    any(l::SYS_shutdown, "shuts sandbox sockets down"),
    any(l::SYS_getsockname, "addresses of sandbox sockets"),
    any(l::SYS_getpeername, "peer addresses of sandbox sockets"),
    any(l::SYS_setsockopt, "socket options from the sentry's allowlist"),
    any(l::SYS_getsockopt, "socket options"),
    // ioctl: a short list of requests (no TIOCSTI, no device ioctls).
    // (expanded from SENTRY_IOCTLS by `rules_with_ioctls`)
    // Memory of its own.
    any(l::SYS_mmap, "its own memory (allocator, shared stub regions)"),
    any(l::SYS_munmap, "its own memory"),
    any(l::SYS_mprotect, "its own memory (thread stack guards)"),
    any(l::SYS_mremap, "its own memory (allocator)"),
    any(l::SYS_madvise, "its own memory (allocator)"),
    any(l::SYS_brk, "its own heap"),
    // Threads: one per app task, plus helpers.
    when(
        l::SYS_clone,
        &[Eq(0, THREAD_CLONE_FLAGS)],
        "new threads only: never a process (clone3 is refused with ENOSYS)",
    ),
    any(l::SYS_clone3, "allowed here so the refusal list can answer ENOSYS (glibc then uses clone)"),
    any(l::SYS_futex, "its own locks and condition variables"),
    any(l::SYS_set_robust_list, "new threads register their robust futex list"),
    any(l::SYS_rseq, "new threads register restartable sequences"),
    any(l::SYS_sched_yield, "spinning hand-offs"),
    any(l::SYS_sched_getaffinity, "the sandbox's CPU set"),
    any(l::SYS_getcpu, "the CPU a tracer thread runs on (to pin its tracee beside it)"),
    any(l::SYS_sched_setaffinity, "pins tracer threads next to their tracee (pid namespace: app processes only)"),
    any(l::SYS_exit, "thread exit"),
    any(l::SYS_exit_group, "sentry exit"),
    any(l::SYS_rt_sigaction, "its own signal handlers"),
    any(l::SYS_rt_sigprocmask, "its own signal masks"),
    any(l::SYS_rt_sigreturn, "returns from its own handlers"),
    any(l::SYS_rt_sigtimedwait, "the forwarding thread takes host signals sent to the sentry (kernel::forward)"),
    any(l::SYS_sigaltstack, "std's stack-overflow handler stacks"),
    any(l::SYS_restart_syscall, "restarts its own interrupted sleeps"),
    any(l::SYS_getpid, "its own pid"),
    any(l::SYS_gettid, "its own thread ids"),
    any(l::SYS_getuid, "its own ids"),
    any(l::SYS_geteuid, "its own ids"),
    any(l::SYS_getgid, "its own ids"),
    any(l::SYS_getegid, "its own ids"),
    // Time.
    any(l::SYS_clock_gettime, "clocks (also through the vDSO)"),
    any(l::SYS_clock_getres, "clock resolutions"),
    any(l::SYS_clock_nanosleep, "sleeps"),
    any(l::SYS_nanosleep, "sleeps"),
    any(l::SYS_gettimeofday, "the clock"),
    // Tracing app processes: its pid namespace holds only the sentry and the app.
    any(l::SYS_ptrace, "traces app processes (pid namespace: nothing else is visible)"),
    any(l::SYS_wait4, "reaps app processes and observes their stops"),
    any(l::SYS_waitid, "reaps app processes"),
    any(l::SYS_kill, "signals app processes (its pid namespace holds nothing else)"),
    any(l::SYS_tgkill, "signals app threads and its own threads"),
    any(l::SYS_pidfd_open, "waits for exec'd processes to exit (its pid namespace holds only app processes)"),
    any(l::SYS_process_vm_readv, "copies app memory in"),
    any(l::SYS_process_vm_writev, "copies app memory out"),
    when(
        l::SYS_kcmp,
        &[Eq(2, 0)],
        "KCMP_FILE only: checks an app fd is still the host file the sentry installed (large reads)",
    ),
    when(l::SYS_kcmp, &[Eq(2, 1)], "KCMP_VM: the app's kcmp(2) of two app address spaces"),
    when(l::SYS_kcmp, &[Eq(2, 4)], "KCMP_SIGHAND: the app's kcmp(2) of two app signal handler tables"),
    when(l::SYS_kcmp, &[Eq(2, 5)], "KCMP_IO: the app's kcmp(2) of two app I/O contexts"),
    any(l::SYS_get_robust_list, "reads a tracee's robust-futex list head (get_robust_list of another task)"),
    // System information.
    any(l::SYS_getrandom, "random bytes for AT_RANDOM, /dev/urandom and hash seeds"),
    any(l::SYS_sysinfo, "memory and uptime figures for sysinfo and /proc"),
    any(l::SYS_uname, "the host kernel release for uname"),
    any(l::SYS_getrusage, "resource usage of its tracees for getrusage/times"),
    any(l::SYS_prlimit64, "its own limits (std queries the stack limit)"),
    when(l::SYS_prctl, &[Eq(0, l::PR_SET_NAME as u32)], "names its threads"),
    when(l::SYS_prctl, &[Eq(0, l::PR_GET_NAME as u32)], "reads thread names"),
];

/// Syscalls the sentry gets an errno for instead of its own death.
pub static SENTRY_REFUSALS: &[Refusal] = &[
    Refusal {
        nr: l::SYS_clone3,
        when: &[],
        errno: l::ENOSYS,
        why: "clone3's flags live in memory, out of the filter's reach: glibc falls back to clone, whose flags are checked",
    },
    Refusal {
        nr: l::SYS_openat,
        when: &[NotProcDir(0)],
        errno: l::ENOENT,
        why: "no path exists for the sentry: its root is an empty tmpfs and only the procfs fd may be opened beneath",
    },
    Refusal { nr: l::SYS_open, when: &[], errno: l::ENOENT, why: "as openat: the sentry has no paths" },
];

/// The sentry's ioctl rules (one per allowed request).
pub static GOFER_REFUSALS: &[Refusal] = &[Refusal {
    nr: l::SYS_clone3,
    when: &[],
    errno: l::ENOSYS,
    why: "as for the sentry: clone3's flags are out of the filter's reach, glibc falls back to clone",
}];

pub fn sentry_ioctls() -> impl Iterator<Item = (u32, &'static str)> {
    SENTRY_IOCTLS.iter().copied()
}

/// The gofer, serving one tree from O_PATH fds beneath its root: path
/// syscalls only relative to fds it holds, on single validated components.
pub static GOFER: &[Rule] = &[
    any(l::SYS_recvmsg, "requests from the sentry"),
    any(l::SYS_sendmsg, "replies, donating opened fds (SCM_RIGHTS)"),
    any(l::SYS_openat, "opens single components beneath its root (O_NOFOLLOW)"),
    any(l::SYS_openat2, "walks with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS"),
    any(l::SYS_close, "closes fds it no longer needs"),
    any(l::SYS_fstat, "node metadata"),
    any(l::SYS_newfstatat, "lstat of one child, fstat through glibc"),
    any(l::SYS_statx, "node metadata"),
    any(l::SYS_fstatfs, "file system statistics"),
    any(l::SYS_readlinkat, "symlink targets (empty path: the link itself)"),
    any(l::SYS_getdents64, "directory listings"),
    any(l::SYS_lseek, "resumes a directory listing where the sentry's last batch ended"),
    any(l::SYS_mkdirat, "mkdir of one component"),
    any(l::SYS_mknodat, "FIFOs and sockets (device numbers are refused by the server)"),
    any(l::SYS_symlinkat, "symlink creation"),
    any(l::SYS_linkat, "hard links between nodes beneath the root"),
    any(l::SYS_unlinkat, "unlink/rmdir of one component"),
    any(l::SYS_renameat2, "rename between directories beneath the root"),
    any(l::SYS_fchmod, "chmod of an opened file"),
    any(l::SYS_fchmodat, "chmod of a directory through \".\""),
    any(l::SYS_fchmodat2, "chmod of a node's own inode (AT_EMPTY_PATH)"),
    any(l::SYS_fchownat, "chown of a node's own inode (AT_EMPTY_PATH)"),
    any(l::SYS_utimensat, "timestamps of a node's own inode (AT_EMPTY_PATH)"),
    any(l::SYS_ftruncate, "truncate through an opened fd"),
    any(l::SYS_fcntl, "fd flags"),
    any(l::SYS_read, "reads (none expected; logging helpers)"),
    any(l::SYS_write, "logging to stderr"),
    any(l::SYS_writev, "logging to stderr"),
    any(l::SYS_mmap, "its own memory"),
    any(l::SYS_munmap, "its own memory"),
    any(l::SYS_mremap, "its own memory"),
    any(l::SYS_mprotect, "its own memory"),
    any(l::SYS_madvise, "its own memory"),
    any(l::SYS_brk, "its own heap"),
    any(l::SYS_futex, "std's locks"),
    any(l::SYS_sched_yield, "polls briefly for the next request, yielding the CPU"),
    when(
        l::SYS_clone,
        &[Eq(0, THREAD_CLONE_FLAGS)],
        "one serving thread per root (rootfs and each bind mount): never a process",
    ),
    any(l::SYS_clone3, "allowed here so the refusal list can answer ENOSYS (glibc then uses clone)"),
    any(l::SYS_set_robust_list, "new threads register their robust futex list"),
    any(l::SYS_rseq, "new threads register restartable sequences"),
    when(l::SYS_prctl, &[Eq(0, l::PR_SET_NAME as u32)], "names its serving threads"),
    any(l::SYS_sched_getaffinity, "glibc sizes a new thread's CPU set"),
    any(l::SYS_rt_sigaction, "its own signal handlers"),
    any(l::SYS_rt_sigprocmask, "its own signal mask"),
    any(l::SYS_rt_sigreturn, "returns from its own handlers"),
    any(l::SYS_sigaltstack, "std's stack-overflow handler"),
    any(l::SYS_getpid, "its own pid"),
    any(l::SYS_gettid, "its own tid"),
    any(l::SYS_clock_gettime, "log timestamps"),
    any(l::SYS_getrandom, "hash seeds"),
    any(l::SYS_exit, "exit"),
    any(l::SYS_exit_group, "exit"),
];
