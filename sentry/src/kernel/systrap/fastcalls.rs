//! Which calls the sentry serves for a detached thread (detached.rs), as
//! commented data, like the filter's passthrough table (platform/filter.rs).
//!
//! A detached thread waits in the stub's SIGSYS handler while its sentry
//! thread runs the handler with a stale `Tracee`: any ptrace request
//! (`ctx.regs()`, `ctx.inject*`, `run_in_place`, the tracee's siginfo or
//! mask) fails with ESRCH, and the call is then handed back to traced mode
//! and executed again from the start. So a call is listed only if its
//! handler, for the argument values its rule admits, either needs no ptrace
//! or needs it before any side effect (it then bails out untouched, at the
//! cost of one more round trip). App memory (process_vm_readv/writev) works
//! detached. What is left out needs ptrace for its very purpose (exec,
//! clone, mmap of files, setting a host signal action, ...) or injects a
//! file descriptor (`inject_fd` queues it on the injection socket before
//! its first ptrace request, so it must never run detached).
//!
//! Blocking handlers sleep as they would traced: their signal checks read
//! the thread's pending signals from /proc and its mask from the handler's
//! ucontext (`SyscallCtx::frame`), and the restart-or-EINTR decision is
//! Linux's (`detached::serve`). A signal the sentry raises for the caller's
//! own process (kill of itself, SIGPIPE, SIGXFSZ, SIGWINCH of its terminal)
//! is in flight when the call ends: the reply waits for a seize and the
//! signal is delivered traced, with its virtual siginfo (`Answer::ReplyTraced`).
//! Calls that take a temporary signal mask (ppoll, pselect6, epoll_pwait)
//! are served only without one: delivering under that mask needs ptrace.

use libc::*;

use crate::syscalls::table::TABLE_SIZE;

/// For which arguments a listed call is served detached.
#[derive(Clone, Copy)]
pub enum Rule {
    /// Every argument value.
    Always,
    /// Only the argument values the predicate accepts.
    When(fn(&[u64; 6]) -> bool),
}

/// One call the sentry serves detached.
pub struct FastCall {
    pub nr: i64,
    pub rule: Rule,
    /// Why the handler is safe to run detached.
    pub why: &'static str,
}

const fn call(nr: i64, why: &'static str) -> FastCall {
    FastCall { nr, rule: Rule::Always, why }
}

const fn when(nr: i64, pred: fn(&[u64; 6]) -> bool, why: &'static str) -> FastCall {
    FastCall { nr, rule: Rule::When(pred), why }
}

const READS: &str = "reads sentry state";
const FD: &str = "the sandbox fd table and its open files";
const PATH: &str = "path walk and a filesystem operation, in the sentry or through the gofer";
const ATTR: &str = "file attributes, in the sentry or through the gofer";
const SIGNAL: &str = "raised by the sentry; one for the caller's process is delivered after a seize";
const READ: &str = "copies through the sentry (may block, as a pipe read); a large read of a host file whose fd the app holds runs in the stub's handler (hostread.rs, stubcalls.rs), one whose fd is not installed yet goes back to ptrace";
const WAITS: &str = "may block, as a pipe read does (signal checks read /proc and the handler's frame)";

/// prctl options kept in the sentry; the rest inject (PR_SET_TIMERSLACK and
/// the like) or install a filter (PR_SET_SECCOMP).
fn prctl_virtual(a: &[u64; 6]) -> bool {
    const VIRTUAL: &[i32] = &[
        PR_SET_NAME,
        PR_GET_NAME,
        PR_SET_PDEATHSIG,
        PR_GET_PDEATHSIG,
        PR_GET_DUMPABLE,
        PR_SET_DUMPABLE,
        PR_SET_NO_NEW_PRIVS,
        PR_GET_NO_NEW_PRIVS,
        PR_SET_CHILD_SUBREAPER,
        PR_GET_CHILD_SUBREAPER,
        PR_GET_SECUREBITS,
        PR_SET_SECUREBITS,
        PR_CAPBSET_READ,
        PR_CAPBSET_DROP,
        PR_CAP_AMBIENT,
    ];
    VIRTUAL.contains(&(a[0] as i32))
}

/// A signal other than SIGSTOP in argument `I`: SIGSTOP cannot be blocked,
/// so one the caller sends its own process would stop the thread inside the
/// stub's handler, untraced; traced, it is taken at a signal-delivery stop.
fn not_sigstop<const I: usize>(a: &[u64; 6]) -> bool {
    a[I] != SIGSTOP as u64
}

/// ppoll without a temporary signal mask.
fn ppoll_unmasked(a: &[u64; 6]) -> bool {
    a[3] == 0
}

/// pselect6 without its sigmask argument (glibc's select passes none).
fn pselect_unmasked(a: &[u64; 6]) -> bool {
    a[5] == 0
}

/// epoll_pwait/epoll_pwait2 without a temporary signal mask.
fn epoll_pwait_unmasked(a: &[u64; 6]) -> bool {
    a[4] == 0
}

/// The calls served detached; everything else is handed back to traced mode.
pub const FAST: &[FastCall] = &[
    // Identity and system information.
    call(SYS_getpid, READS),
    call(SYS_getppid, READS),
    call(SYS_gettid, READS),
    call(SYS_getuid, READS),
    call(SYS_geteuid, READS),
    call(SYS_getgid, READS),
    call(SYS_getegid, READS),
    call(SYS_getresuid, READS),
    call(SYS_getresgid, READS),
    call(SYS_getgroups, READS),
    call(SYS_getpgrp, READS),
    call(SYS_getpgid, READS),
    call(SYS_getsid, READS),
    call(SYS_uname, READS),
    call(SYS_sysinfo, "host memory figures and the sentry's process count"),
    call(SYS_times, "host CPU clocks of the caller's process and its recorded children"),
    call(SYS_getrusage, "host CPU clocks of the caller (by pid/tid, no ptrace) or its recorded children"),
    call(SYS_getcwd, READS),
    call(SYS_umask, "the process's umask in the sentry"),
    call(SYS_personality, "the persona is recorded in the sentry only"),
    call(SYS_sethostname, "the sandbox's hostname in the sentry"),
    call(SYS_clock_gettime, "only pid CPU clocks trap: translated and read on the host"),
    call(SYS_clock_getres, "only pid CPU clocks trap: translated and read on the host"),
    // Credentials and limits: virtual, never applied to the host thread.
    call(SYS_setuid, "credentials live in the sentry"),
    call(SYS_setgid, "credentials live in the sentry"),
    call(SYS_setreuid, "credentials live in the sentry"),
    call(SYS_setregid, "credentials live in the sentry"),
    call(SYS_setresuid, "credentials live in the sentry"),
    call(SYS_setresgid, "credentials live in the sentry"),
    call(SYS_setfsuid, "credentials live in the sentry"),
    call(SYS_setfsgid, "credentials live in the sentry"),
    call(SYS_setgroups, "credentials live in the sentry"),
    call(SYS_capget, "capabilities live in the sentry"),
    call(SYS_capset, "capabilities live in the sentry"),
    call(SYS_prlimit64, "resource limits live in the sentry (ESRCH only before any change)"),
    call(SYS_getrlimit, "resource limits live in the sentry"),
    call(SYS_setrlimit, "resource limits live in the sentry"),
    when(SYS_prctl, prctl_virtual, "options kept in the sentry; host-applied ones inject"),
    // Processes, sessions and scheduling (virtual: never applied to host threads).
    call(SYS_setpgid, "process groups live in the sentry"),
    call(SYS_setsid, "sessions live in the sentry"),
    call(SYS_wait4, "the sentry's child table; may block on its child-event queue"),
    call(SYS_waitid, "the sentry's child table; may block on its child-event queue"),
    call(SYS_getpriority, "nice values live in the sentry (ESRCH only before any change)"),
    call(SYS_setpriority, "nice values live in the sentry (ESRCH only before any change)"),
    call(SYS_sched_getaffinity, "affinity masks live in the sentry"),
    call(SYS_sched_setaffinity, "affinity masks live in the sentry"),
    call(SYS_sched_getscheduler, "policies live in the sentry"),
    call(SYS_sched_setscheduler, "policies live in the sentry"),
    call(SYS_sched_getparam, "policies live in the sentry"),
    call(SYS_sched_setparam, "policies live in the sentry"),
    call(SYS_sched_getattr, "policies live in the sentry"),
    call(SYS_sched_setattr, "policies live in the sentry"),
    call(SYS_sched_get_priority_max, "a constant per policy"),
    call(SYS_sched_get_priority_min, "a constant per policy"),
    call(SYS_sched_rr_get_interval, "a constant"),
    call(SYS_getcpu, "the sentry thread runs on its app thread's CPU"),
    // Signals: sigaltstack and rt_sigprocmask are virtual under systrap (virt.rs).
    call(SYS_sigaltstack, "virtual (virt.rs): the app's stack is kept in the sentry"),
    call(SYS_rt_sigprocmask, "virtual (virt.rs): reads and writes the mask in the handler's frame"),
    call(
        SYS_rt_sigaction,
        "a query, or setting the action in place, is the sentry's mirror; a change has the stub's handler install the host action first (stubcalls.rs)",
    ),
    when(SYS_kill, not_sigstop::<1>, SIGNAL),
    when(SYS_tkill, not_sigstop::<1>, SIGNAL),
    when(SYS_tgkill, not_sigstop::<2>, SIGNAL),
    when(SYS_rt_sigqueueinfo, not_sigstop::<1>, SIGNAL),
    when(SYS_rt_tgsigqueueinfo, not_sigstop::<2>, SIGNAL),
    when(SYS_pidfd_send_signal, not_sigstop::<1>, SIGNAL),
    call(SYS_pidfd_open, FD),
    call(SYS_set_tid_address, "the sentry's copy; the host's is set by the stub's handler (stubcalls.rs)"),
    call(SYS_alarm, "the stub's handler arms the host timer; the sentry notes when it fires"),
    call(SYS_setitimer, "ITIMER_REAL: the stub's handler arms the host timer; the sentry notes when it fires"),
    call(SYS_timer_settime, "the stub's handler arms the host timer; the sentry notes when it fires"),
    call(SYS_timer_delete, "the stub's handler deletes the host timer; the sentry drops its note"),
    call(SYS_pidfd_getfd, "installs another sandbox process's file in the caller's table"),
    // Memory: shmat injects the segment's fd, so it stays traced.
    call(SYS_mmap, "a file map runs in the stub's handler through the file's installed fd (appfds.rs); installing one goes back to ptrace"),
    call(SYS_brk, "the break is sentry state; a move maps or unmaps through the stub's handler (stubcalls.rs)"),
    // Descriptors.
    call(SYS_close, FD),
    call(SYS_close_range, FD),
    call(SYS_dup, FD),
    call(SYS_dup2, FD),
    call(SYS_dup3, FD),
    call(SYS_fcntl, "descriptor and status flags, owners, seals, record locks (F_SETLKW waits like a pipe read)"),
    call(SYS_flock, "the sentry's lock table; a blocking lock waits like a pipe read"),
    call(SYS_ioctl, "file ops answer from sentry state or the sentry's own host fd (ttys, ptys, sockets)"),
    call(SYS_pipe, "a host pipe made and installed by the sentry"),
    call(SYS_pipe2, "a host pipe made and installed by the sentry"),
    call(SYS_memfd_create, "a tmpfs file in the sentry"),
    call(SYS_eventfd, "a host eventfd owned by the sentry"),
    call(SYS_eventfd2, "a host eventfd owned by the sentry"),
    call(SYS_signalfd, "creation only records the mask (its read injects, first thing)"),
    call(SYS_signalfd4, "creation only records the mask (its read injects, first thing)"),
    call(SYS_timerfd_create, "a host timerfd owned by the sentry"),
    call(SYS_timerfd_settime, "a host timerfd owned by the sentry"),
    call(SYS_timerfd_gettime, "a host timerfd owned by the sentry"),
    call(SYS_inotify_init, "watches kept by the sentry"),
    call(SYS_inotify_init1, "watches kept by the sentry"),
    call(SYS_inotify_add_watch, "watches kept by the sentry"),
    call(SYS_inotify_rm_watch, "watches kept by the sentry"),
    call(SYS_epoll_create, "interest lists kept by the sentry"),
    call(SYS_epoll_create1, "interest lists kept by the sentry"),
    call(SYS_epoll_ctl, "interest lists kept by the sentry"),
    call(SYS_epoll_wait, WAITS),
    when(SYS_epoll_pwait, epoll_pwait_unmasked, WAITS),
    when(SYS_epoll_pwait2, epoll_pwait_unmasked, WAITS),
    call(SYS_poll, WAITS),
    when(SYS_ppoll, ppoll_unmasked, WAITS),
    call(SYS_select, WAITS),
    when(SYS_pselect6, pselect_unmasked, WAITS),
    // Data transfer.
    call(SYS_read, READ),
    call(SYS_pread64, READ),
    call(SYS_readv, READ),
    call(SYS_preadv, READ),
    call(SYS_preadv2, READ),
    call(SYS_write, "copies through the sentry (may block; SIGPIPE/SIGXFSZ are raised by the sentry)"),
    call(SYS_pwrite64, "copies through the sentry"),
    call(SYS_writev, "copies through the sentry"),
    call(SYS_pwritev, "copies through the sentry"),
    call(SYS_lseek, FD),
    call(SYS_getdents64, "directory entries from the sentry or the gofer"),
    call(SYS_getdents, "directory entries from the sentry or the gofer"),
    call(SYS_fsync, "the open file's host fd or gofer file"),
    call(SYS_fdatasync, "the open file's host fd or gofer file"),
    call(SYS_syncfs, "the open file's host fd or gofer file"),
    call(SYS_sync, "nothing to do in the sentry"),
    call(SYS_sync_file_range, "the open file's host fd or gofer file"),
    call(SYS_ftruncate, "the open file's host fd or gofer file (SIGXFSZ raised by the sentry)"),
    call(SYS_fallocate, "the open file's host fd or gofer file"),
    call(SYS_fadvise64, "a hint checked in the sentry"),
    call(SYS_readahead, "a hint checked in the sentry"),
    call(SYS_sendfile, "copies through the sentry"),
    call(SYS_copy_file_range, "copies through the sentry"),
    call(SYS_splice, "copies through the sentry; may block like a pipe read"),
    call(SYS_tee, "copies through the sentry; may block like a pipe read"),
    call(SYS_vmsplice, "copies app memory through the sentry"),
    // Paths and attributes.
    call(SYS_open, PATH),
    call(SYS_openat, PATH),
    call(SYS_openat2, PATH),
    call(SYS_creat, PATH),
    call(SYS_access, PATH),
    call(SYS_faccessat, PATH),
    call(SYS_faccessat2, PATH),
    call(SYS_stat, ATTR),
    call(SYS_lstat, ATTR),
    call(SYS_fstat, ATTR),
    call(SYS_newfstatat, ATTR),
    call(SYS_statx, ATTR),
    call(SYS_statfs, ATTR),
    call(SYS_fstatfs, ATTR),
    call(SYS_readlink, PATH),
    call(SYS_readlinkat, PATH),
    call(SYS_chdir, "the task's working directory in the sentry"),
    call(SYS_fchdir, "the task's working directory in the sentry"),
    call(SYS_mkdir, PATH),
    call(SYS_mkdirat, PATH),
    call(SYS_mknod, PATH),
    call(SYS_mknodat, PATH),
    call(SYS_rmdir, PATH),
    call(SYS_unlink, PATH),
    call(SYS_unlinkat, PATH),
    call(SYS_rename, PATH),
    call(SYS_renameat, PATH),
    call(SYS_renameat2, PATH),
    call(SYS_link, PATH),
    call(SYS_linkat, PATH),
    call(SYS_symlink, PATH),
    call(SYS_symlinkat, PATH),
    call(SYS_truncate, PATH),
    call(SYS_chmod, ATTR),
    call(SYS_fchmod, ATTR),
    call(SYS_fchmodat, ATTR),
    call(SYS_chown, ATTR),
    call(SYS_fchown, ATTR),
    call(SYS_lchown, ATTR),
    call(SYS_fchownat, ATTR),
    call(SYS_utimensat, ATTR),
    call(SYS_utime, ATTR),
    call(SYS_utimes, ATTR),
    call(SYS_futimesat, ATTR),
    call(SYS_getxattr, ATTR),
    call(SYS_lgetxattr, ATTR),
    call(SYS_fgetxattr, ATTR),
    call(SYS_listxattr, ATTR),
    call(SYS_llistxattr, ATTR),
    call(SYS_flistxattr, ATTR),
    call(SYS_setxattr, ATTR),
    call(SYS_lsetxattr, ATTR),
    call(SYS_fsetxattr, ATTR),
    call(SYS_removexattr, ATTR),
    call(SYS_lremovexattr, ATTR),
    call(SYS_fremovexattr, ATTR),
    // Sockets: sentry objects over host sockets; blocking calls wait like a pipe read.
    call(SYS_socket, "sentry socket objects"),
    call(SYS_socketpair, "sentry socket objects"),
    call(SYS_bind, "sentry socket objects"),
    call(SYS_listen, "sentry socket objects"),
    call(SYS_connect, WAITS),
    call(SYS_accept, WAITS),
    call(SYS_accept4, WAITS),
    call(SYS_getsockname, "sentry socket objects"),
    call(SYS_getpeername, "sentry socket objects"),
    call(SYS_shutdown, "sentry socket objects"),
    call(SYS_sendto, WAITS),
    call(SYS_recvfrom, WAITS),
    call(SYS_sendmsg, WAITS),
    call(SYS_recvmsg, WAITS),
    call(SYS_sendmmsg, WAITS),
    call(SYS_recvmmsg, WAITS),
    call(SYS_setsockopt, "sentry socket objects"),
    call(SYS_getsockopt, "sentry socket objects"),
    // Other processes' memory and files, by host pid (no ptrace).
    call(SYS_kcmp, "kcmp(2) on the host tids"),
    call(SYS_process_vm_readv, "process_vm_readv(2) between sandbox processes"),
    call(SYS_process_vm_writev, "process_vm_writev(2) between sandbox processes"),
    // System V IPC and message queues (shmat/shmdt map: they inject).
    call(SYS_msgget, "queues kept by the sentry"),
    call(SYS_msgsnd, WAITS),
    call(SYS_msgrcv, WAITS),
    call(SYS_msgctl, "queues kept by the sentry"),
    call(SYS_semget, "semaphores kept by the sentry"),
    call(SYS_semop, WAITS),
    call(SYS_semtimedop, WAITS),
    call(SYS_semctl, "semaphores kept by the sentry"),
    call(SYS_shmget, "a segment is a sentry-owned memfd until shmat maps it"),
    call(SYS_shmctl, "segments kept by the sentry"),
    call(SYS_mq_open, "queues kept by the sentry"),
    call(SYS_mq_unlink, "queues kept by the sentry"),
    call(SYS_mq_timedsend, WAITS),
    call(SYS_mq_timedreceive, WAITS),
    call(SYS_mq_notify, "queues kept by the sentry"),
    call(SYS_mq_getsetattr, "queues kept by the sentry"),
];

const NONE: u16 = u16::MAX;

/// `FAST` by syscall number.
static INDEX: [u16; TABLE_SIZE] = {
    let mut t = [NONE; TABLE_SIZE];
    let mut i = 0;
    while i < FAST.len() {
        t[FAST[i].nr as usize] = i as u16;
        i += 1;
    }
    t
};

/// The entry for `nr`, if the call is listed.
pub fn entry(nr: u64) -> Option<&'static FastCall> {
    let i = *INDEX.get(usize::try_from(nr).ok()?)?;
    FAST.get(usize::from(i))
}

/// Whether the sentry serves call `nr` with arguments `a` for a detached thread.
pub fn fast(nr: u64, a: [u64; 6]) -> bool {
    match entry(nr).map(|e| e.rule) {
        Some(Rule::Always) => true,
        Some(Rule::When(pred)) => pred(&a),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::TABLE;

    #[test]
    fn each_call_is_listed_once_and_has_a_handler() {
        let mut seen = std::collections::BTreeSet::new();
        for c in FAST {
            assert!(seen.insert(c.nr), "{} listed twice", c.nr);
            assert!(!c.why.is_empty());
            // sigaltstack and rt_sigprocmask are served by virt.rs, not the table.
            let virtual_only = [SYS_sigaltstack, SYS_rt_sigprocmask].contains(&c.nr);
            assert!(virtual_only || TABLE[c.nr as usize].is_some(), "{} has no handler", c.nr);
        }
    }

    #[test]
    fn calls_that_need_ptrace_are_handed_back() {
        let none = [0u64; 6];
        for nr in [
            SYS_execve,
            SYS_clone,
            SYS_fork,
            SYS_rt_sigtimedwait,
            SYS_shmat,
            SYS_shmdt,
            SYS_seccomp,
            SYS_membarrier,
            SYS_timer_create,
            SYS_clock_nanosleep,
            SYS_get_robust_list,
            // Out of the table's range: never an index panic.
            100_000,
        ] {
            assert!(!fast(nr as u64, none), "{nr} must stay traced");
        }
    }

    #[test]
    fn predicates_pick_the_argument_values() {
        assert!(fast(SYS_prctl as u64, [PR_SET_NAME as u64, 0x1000, 0, 0, 0, 0]));
        assert!(!fast(SYS_prctl as u64, [PR_SET_SECCOMP as u64, 2, 0x1000, 0, 0, 0]));
        assert!(!fast(SYS_prctl as u64, [PR_SET_TIMERSLACK as u64, 1, 0, 0, 0, 0]));
        assert!(fast(SYS_ppoll as u64, [0x1000, 1, 0, 0, 8, 0]));
        assert!(!fast(SYS_ppoll as u64, [0x1000, 1, 0, 0x2000, 8, 0]));
        assert!(fast(SYS_pselect6 as u64, [1, 0x1000, 0, 0, 0, 0]));
        assert!(!fast(SYS_pselect6 as u64, [1, 0x1000, 0, 0, 0, 0x2000]));
        assert!(fast(SYS_epoll_pwait as u64, [4, 0x1000, 8, 0, 0, 8]));
        assert!(!fast(SYS_epoll_pwait as u64, [4, 0x1000, 8, 0, 0x2000, 8]));
        assert!(fast(SYS_fcntl as u64, [3, F_SETLKW as u64, 0x1000, 0, 0, 0]));
        assert!(fast(SYS_kill as u64, [1, SIGUSR1 as u64, 0, 0, 0, 0]));
        assert!(!fast(SYS_kill as u64, [1, SIGSTOP as u64, 0, 0, 0, 0]));
        assert!(fast(SYS_tgkill as u64, [1, 1, SIGTERM as u64, 0, 0, 0]));
        assert!(!fast(SYS_tgkill as u64, [1, 1, SIGSTOP as u64, 0, 0, 0]));
        assert!(!fast(SYS_tkill as u64, [1, SIGSTOP as u64, 0, 0, 0, 0]));
        assert!(!fast(SYS_pidfd_send_signal as u64, [3, SIGSTOP as u64, 0, 0, 0, 0]));
    }
}
