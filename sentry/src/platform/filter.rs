//! The application's seccomp filter, as commented data.
//!
//! Every syscall not listed here traps to the sentry (`trap_action`). The
//! passthrough entries are memory, signal-wait and thread primitives whose host
//! behaviour *is* the Linux semantics and which name no path, fd, pid or
//! credential. The filter is emitted as classic BPF directly (the systrap
//! platform adds instruction-pointer checks, which seccompiler cannot express).

use crate::kernel;

/// How a passthrough syscall's arguments are checked.
#[derive(Clone, Copy, Debug)]
pub enum ArgCheck {
    /// Any arguments.
    Any,
    /// Allowed only if `(arg[idx] & mask) != 0` (low 32 bits).
    MaskSet { idx: u8, mask: u32 },
    /// Allowed only if `arg[idx] (low 32 bits) & and_mask` is one of `values`.
    OneOf { idx: u8, and_mask: u32, values: &'static [u32] },
    /// Allowed only if `arg[idx]` (low 32 bits) < limit.
    Below { idx: u8, limit: u32 },
}

/// One passthrough rule.
pub struct Passthrough {
    pub nr: i64,
    pub check: ArgCheck,
    /// Why running it on the host is safe.
    pub why: &'static str,
}

/// System clocks (0..16); pid-encoded CPU clocks are negative and trap for translation.
const FIXED_CLOCKS: u32 = crate::syscalls::time::FIXED_CLOCKS;

const FUTEX_CMDS: &[u32] = &[
    0,  // FUTEX_WAIT
    1,  // FUTEX_WAKE
    3,  // FUTEX_REQUEUE
    4,  // FUTEX_CMP_REQUEUE
    5,  // FUTEX_WAKE_OP
    9,  // FUTEX_WAIT_BITSET
    10, // FUTEX_WAKE_BITSET
];

/// The passthrough allowlist (see docs/security.md).
pub const PASSTHROUGH: &[Passthrough] = &[
    Passthrough {
        nr: libc::SYS_mmap,
        check: ArgCheck::MaskSet { idx: 3, mask: libc::MAP_ANONYMOUS as u32 },
        why: "anonymous memory only: with MAP_ANONYMOUS the fd argument is ignored by the kernel",
    },
    Passthrough { nr: libc::SYS_munmap, check: ArgCheck::Any, why: "unmaps the caller's own memory" },
    Passthrough { nr: libc::SYS_mprotect, check: ArgCheck::Any, why: "changes the caller's own page protections" },
    Passthrough { nr: libc::SYS_mremap, check: ArgCheck::Any, why: "moves the caller's own mappings" },
    Passthrough {
        nr: libc::SYS_madvise,
        check: ArgCheck::Below { idx: 2, limit: 100 },
        why: "memory hints; MADV_HWPOISON (100) and above, which affect host pages, trap",
    },
    Passthrough { nr: libc::SYS_msync, check: ArgCheck::Any, why: "flushes the caller's own mappings" },
    Passthrough { nr: libc::SYS_mincore, check: ArgCheck::Any, why: "reads residency of the caller's own pages" },
    Passthrough {
        nr: libc::SYS_futex,
        check: ArgCheck::OneOf { idx: 1, and_mask: 0x7f, values: FUTEX_CMDS },
        why: "wait/wake on the caller's memory; PI and LOCK ops, which take tids, trap",
    },
    Passthrough {
        nr: libc::SYS_futex_waitv,
        check: ArgCheck::Any,
        why: "waits on futex words in the caller's memory (no tids, no PI)",
    },
    Passthrough { nr: libc::SYS_rt_sigreturn, check: ArgCheck::Any, why: "returns from the caller's own signal frame" },
    Passthrough { nr: libc::SYS_rt_sigprocmask, check: ArgCheck::Any, why: "the calling thread's own signal mask" },
    Passthrough {
        nr: libc::SYS_rt_sigsuspend,
        check: ArgCheck::Any,
        why: "waits for a signal with the caller's own mask; signals are host-delivered",
    },
    Passthrough {
        nr: libc::SYS_rt_sigpending,
        check: ArgCheck::Any,
        why: "reads the calling thread's own pending set",
    },
    Passthrough { nr: libc::SYS_pause, check: ArgCheck::Any, why: "sleeps until a signal; no state" },
    Passthrough { nr: libc::SYS_sigaltstack, check: ArgCheck::Any, why: "the calling thread's own alternate stack" },
    Passthrough { nr: libc::SYS_sched_yield, check: ArgCheck::Any, why: "gives up the CPU; no state" },
    Passthrough { nr: libc::SYS_exit, check: ArgCheck::Any, why: "ends the calling thread; the sentry observes it" },
    Passthrough {
        nr: libc::SYS_arch_prctl,
        check: ArgCheck::OneOf { idx: 0, and_mask: 0xffff_ffff, values: &[0x1001, 0x1002, 0x1003, 0x1004] },
        why: "ARCH_SET/GET_FS/GS: the calling thread's own TLS bases",
    },
    Passthrough {
        nr: libc::SYS_set_robust_list,
        check: ArgCheck::Any,
        why: "registers the caller's own robust futex list",
    },
    Passthrough {
        nr: libc::SYS_rseq,
        check: ArgCheck::Any,
        why: "registers the caller's own restartable-sequence area",
    },
    Passthrough {
        nr: libc::SYS_restart_syscall,
        check: ArgCheck::Any,
        why: "resumes an interrupted passthrough sleep",
    },
    Passthrough {
        nr: libc::SYS_clock_gettime,
        check: ArgCheck::Below { idx: 0, limit: FIXED_CLOCKS },
        why: "reads system clocks, as the vDSO already does; CPU clocks naming a pid trap for translation",
    },
    Passthrough {
        nr: libc::SYS_clock_getres,
        check: ArgCheck::Below { idx: 0, limit: FIXED_CLOCKS },
        why: "reads a system clock's resolution; pid clocks trap",
    },
    Passthrough { nr: libc::SYS_gettimeofday, check: ArgCheck::Any, why: "reads the clock, as the vDSO does" },
    Passthrough { nr: libc::SYS_time, check: ArgCheck::Any, why: "reads the clock, as the vDSO does" },
    Passthrough {
        nr: libc::SYS_nanosleep,
        check: ArgCheck::Any,
        why: "sleeps the caller; signals interrupt it natively",
    },
    Passthrough {
        nr: libc::SYS_clock_nanosleep,
        check: ArgCheck::Below { idx: 0, limit: FIXED_CLOCKS },
        why: "sleeps the caller on a system clock; signals interrupt it natively; pid clocks trap",
    },
    // alarm, ITIMER_REAL, timer_settime and timer_delete trap: the sentry
    // notes when the timers fire, for the calls it holds waiting
    // (kernel/timer_wakes.rs).
    Passthrough {
        nr: libc::SYS_setitimer,
        check: ArgCheck::OneOf {
            idx: 0,
            and_mask: u32::MAX,
            values: &[libc::ITIMER_VIRTUAL as u32, libc::ITIMER_PROF as u32],
        },
        why: "the calling process's own CPU-time timers; their signals go to itself",
    },
    Passthrough { nr: libc::SYS_getitimer, check: ArgCheck::Any, why: "reads the calling process's own timers" },
    Passthrough {
        nr: libc::SYS_timer_gettime,
        check: ArgCheck::Any,
        why: "reads a POSIX timer of the calling process",
    },
    Passthrough {
        nr: libc::SYS_timer_getoverrun,
        check: ArgCheck::Any,
        why: "reads a POSIX timer of the calling process",
    },
    Passthrough { nr: libc::SYS_getrandom, check: ArgCheck::Any, why: "fills the caller's buffer with random bytes" },
];

// Classic BPF opcodes.
pub(crate) const BPF_LD_W_ABS: u16 = 0x20;
pub(crate) const BPF_LD_IMM: u16 = 0x00;
pub(crate) const BPF_JMP_JEQ_K: u16 = 0x15;
pub(crate) const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_JMP_JSET_K: u16 = 0x45;
pub(crate) const BPF_JMP_JA: u16 = 0x05;
pub(crate) const BPF_ALU_AND_K: u16 = 0x54;
pub(crate) const BPF_RET_K: u16 = 0x06;
pub(crate) const BPF_RET_A: u16 = 0x16;
const BPF_ALU_SUB_K: u16 = 0x14;
pub(crate) const BPF_ALU_OR_K: u16 = 0x44;
pub(crate) const BPF_ST: u16 = 0x02;
pub(crate) const BPF_LD_MEM: u16 = 0x60;

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub(crate) const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

// Offsets in struct seccomp_data.
pub(crate) const OFF_NR: u32 = 0;
pub(crate) const OFF_ARCH: u32 = 4;
pub(crate) const OFF_IP_LO: u32 = 8;
pub(crate) const OFF_IP_HI: u32 = 12;
const fn off_arg_lo(i: u8) -> u32 {
    16 + 8 * i as u32
}

/// Syscall numbers `RESULT_NR_BASE + e` (e < 4096) return -e without
/// running: the filter answers them with SECCOMP_RET_ERRNO | e. The ptrace
/// tracer completes a call whose result is 0 or -errno by writing only
/// orig_rax (`Tracee::set_return`): the kernel re-runs the filter after a
/// RET_TRACE stop, and this rule then writes rax. That is one ptrace
/// request instead of two per emulated call. Linux has no syscalls there
/// (it answers ENOSYS); an app calling one directly gets -e instead.
pub const RESULT_NR_BASE: u32 = 0x3fff_f000;

/// What non-passthrough syscalls do: stop for the tracer or raise SIGSYS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapAction {
    Trace,
    Trap,
}

/// Passthrough rules the systrap filter (`TrapAction::Trap`) leaves out, so
/// these calls reach the sentry there:
/// * exit: a thread must end under ptrace, where the sentry sees its exit
///   stop and status (a detached thread's end has no tracer);
/// * sigaltstack: the host alternate stack is the thread's systrap chunk, so
///   the app's own alternate stack is kept virtually by the sentry;
/// * rt_sigprocmask: SIGSYS must never be blocked on the host (a RET_TRAP
///   with SIGSYS blocked kills the process), so the sentry sets the mask;
/// * rt_sigsuspend: likewise for its temporary mask (the sentry runs it
///   at the stub's site with the mask minus SIGSYS).
pub const TRAP_ONLY_SYSCALLS: &[i64] =
    &[libc::SYS_exit, libc::SYS_sigaltstack, libc::SYS_rt_sigprocmask, libc::SYS_rt_sigsuspend];

/// The stub's injection sites as seccomp sees them (the address after the
/// `syscall` instruction). Under the systrap filter a call made there gets
/// RET_TRACE instead of RET_TRAP: the sentry runs injected calls with the
/// thread under ptrace, as on the ptrace platform; an app thread that jumps
/// there while not traced gets ENOSYS (RET_TRACE without a tracer), and one
/// that does so while traced is stopped and emulated like any trapped call.
/// The last two are the injection loop's call and its parking getpid.
pub const TRACE_SITES: [u64; 5] = [
    super::stub::STUB_SYSCALL + 2,
    super::stub::STUB_CLONE + 2,
    super::stub::STUB_FORK + 2,
    super::stub::STUB_LOOP + 2,
    super::stub::STUB_LOOP_PARK + 2,
];

/// The systrap handler's exec site as seccomp sees it: where the handler
/// runs a call the sentry sends it (`Slot::exec`) for a thread the sentry
/// does not trace.
pub const EXEC_SITE: u64 =
    super::stub::STUB_BASE + super::systrap::handler::HANDLER_OFF + super::systrap::handler::EXEC_SITE_OFF;

/// The stub's batch runner's site (`stub::STUB_BATCH`): the filter lets
/// it run what it lets the exec site run, so a batch of such calls the
/// sentry injects costs one stop, and an app jumping there gains nothing.
pub const BATCH_SITE: u64 = super::stub::STUB_BATCH_SITE;

/// The fd numbers an exec-site call may name: its fd argument's index and
/// the range `lo..end` its value must lie in.
#[derive(Clone, Copy, Debug)]
pub struct FdRule {
    pub arg: u8,
    pub lo: i32,
    pub end: i32,
}

/// The installed files' fixed numbers (syscalls/appfds.rs).
const INSTALLED: FdRule = FdRule { arg: 0, lo: kernel::APP_FD_BASE, end: kernel::APP_FD_BASE + kernel::APP_FD_SLOTS };
/// The process's copy file (kernel/systrap/copy.rs), right after them.
const COPY: FdRule = FdRule { arg: 0, lo: kernel::COPY_FD, end: kernel::COPY_FD + 1 };
const _: () = assert!(INSTALLED.end == COPY.lo, "pread64's one range covers both");
/// The process's install socket (kernel/systrap/fdpass.rs), right after it.
const INSTALL: FdRule = FdRule { arg: 0, lo: kernel::INSTALL_FD, end: kernel::INSTALL_FD + 1 };
/// Where a passed fd is moved to: an installed file's number or the copy file's.
const DUP_TARGET: FdRule = FdRule { arg: 1, lo: INSTALLED.lo, end: COPY.end };
/// Where a passed fd arrives before it moves: below the stub image's fd, where
/// an app process holds no host fd of the sentry's.
const ARRIVED: FdRule = FdRule { arg: 0, lo: 0, end: kernel::STUB_FD };

/// Calls the systrap filter allows from [`EXEC_SITE`] beyond the
/// passthrough ones, for what the sentry runs there for a detached thread
/// (kernel/systrap/stubcalls.rs), with the fd numbers each may name:
/// * positional reads and file maps through the fd the sentry installed
///   for a file the app has open. An app that jumps to the site itself can
///   read and map only those files, with no more access than its sandbox
///   open file gives (appfds installs read-only reopens of read-only
///   opens), which it may do anyway;
/// * positional reads and writes of the process's copy file, through which
///   the sentry copies the app's memory (kernel/systrap/copy.rs). The file
///   is the process's own, held by no other process, so jumping there the
///   app only moves its own bytes between its memory and that file;
/// * the receipt of an fd from the process's install socket, its move to an
///   installed file's (or the copy file's) number, and the close of where it
///   arrived (kernel/systrap/fdpass.rs). The socket is the process's own:
///   jumping there, the app can only take an fd meant for itself (a file it
///   has open, with that open's access), move its own fds among the numbers
///   above or close its own low ones, which harms nobody but itself;
/// * rt_sigaction, to install the action the app set: jumping there, the
///   app sets its own host actions past the sentry's mirror, which only
///   misleads the sentry about the app itself (its own SIGSYS handler
///   would trap its own calls; the filter still holds);
/// * set_tid_address, the host's copy of the thread's clear-child-tid
///   address: the app's own memory;
/// * exit_group, the end of a single-threaded process the sentry has
///   already recorded: jumping there, the app ends itself, as `exit` (a
///   passthrough) lets it, skipping only the sentry's hand-over of its own
///   robust futexes;
/// * alarm, setitimer, timer_settime and timer_delete, the process's own
///   timers, which it may set as a passthrough too (the CPU-time itimers):
///   jumping there only keeps the sentry from noting when they fire, so
///   its own waits end later.
///
/// Anything else from there is filtered as anywhere else, and a call that
/// traps inside the handler, where SIGSYS is blocked, kills the process.
pub const EXEC_SITE_CALLS: [(i64, Option<FdRule>); 15] = [
    (libc::SYS_pread64, Some(FdRule { end: COPY.end, ..INSTALLED })),
    (libc::SYS_pwrite64, Some(COPY)),
    (libc::SYS_preadv, Some(INSTALLED)),
    (libc::SYS_preadv2, Some(INSTALLED)),
    (libc::SYS_mmap, Some(FdRule { arg: 4, ..INSTALLED })),
    (libc::SYS_recvmsg, Some(INSTALL)),
    (libc::SYS_dup3, Some(DUP_TARGET)),
    (libc::SYS_close, Some(ARRIVED)),
    (libc::SYS_rt_sigaction, None),
    (libc::SYS_set_tid_address, None),
    (libc::SYS_exit_group, None),
    (libc::SYS_alarm, None),
    (libc::SYS_setitimer, None),
    (libc::SYS_timer_settime, None),
    (libc::SYS_timer_delete, None),
];

/// The fork site child's two closes (platform/stub.rs): at each site, the
/// one `close_range(first, last, 0)` the filter lets run there.
const FORK_CLOSES: [(u64, i32, i32); 2] = [
    (super::stub::STUB_FORK_CLOSE, kernel::COPY_FD, kernel::INSTALL_FD),
    (super::stub::STUB_FORK_CLOSE_LOW, 0, kernel::STUB_FD - 1),
];
/// Instructions per entry of `FORK_CLOSES` in `ip_rules`.
const FORK_CLOSE_LEN: usize = 9;

/// The instruction-pointer rules of the systrap filter, placed right after
/// the architecture check (upper half of the address 0): calls from the
/// stub's injection sites go to the tracer, if there is one; the exec
/// site's calls run; at the fork site's closes (`FORK_CLOSES`), their one
/// `close_range` each runs. Everything else falls through to the rules
/// after.
fn ip_rules() -> Vec<libc::sock_filter> {
    let n = EXEC_SITE_CALLS.len();
    let sites = TRACE_SITES.len();
    let bodies: usize = EXEC_SITE_CALLS.iter().map(|(_, fd)| if fd.is_some() { 3 } else { 0 }).sum();
    // Positions: the header (high half, low half, one compare per trace
    // site, the batch site, the exec site, the load of nr), compares, the
    // fd checks, the fork site's closes, then ALLOW, TRACE, and the end
    // (the next rule).
    let header = 3 + sites + 3;
    let fork_close = header + n + bodies;
    let allow = fork_close + FORK_CLOSES.len() * FORK_CLOSE_LEN;
    let (trace, end) = (allow + 1, allow + 2);
    let off = |from: usize, to: usize| (to - from - 1) as u8;
    let mut p =
        vec![stmt(BPF_LD_W_ABS, OFF_IP_HI), jump(BPF_JMP_JEQ_K, 0, 0, off(1, end)), stmt(BPF_LD_W_ABS, OFF_IP_LO)];
    for (i, site) in TRACE_SITES.iter().enumerate() {
        p.push(jump(BPF_JMP_JEQ_K, *site as u32, off(3 + i, trace), 0));
    }
    // The batch runner's site is the exec site's twin (platform/stub.rs).
    p.push(jump(BPF_JMP_JEQ_K, BATCH_SITE as u32, 1, 0));
    p.push(jump(BPF_JMP_JEQ_K, EXEC_SITE as u32, 0, off(4 + sites, fork_close)));
    p.push(stmt(BPF_LD_W_ABS, OFF_NR));
    let mut body = header + n;
    let mut checks = Vec::new();
    for (i, (nr, fd)) in EXEC_SITE_CALLS.iter().enumerate() {
        let pc = header + i;
        let target = if fd.is_some() { body } else { allow };
        let miss = if i + 1 == n { off(pc, end) } else { 0 };
        p.push(jump(BPF_JMP_JEQ_K, *nr as u32, off(pc, target), miss));
        if let Some(FdRule { arg, lo, end: top }) = fd {
            checks.extend([
                stmt(BPF_LD_W_ABS, off_arg_lo(*arg)),
                jump(BPF_JMP_JGE_K, *lo as u32, 0, off(body + 1, end)),
                jump(BPF_JMP_JGE_K, *top as u32, off(body + 2, end), off(body + 2, allow)),
            ]);
            body += 3;
        }
    }
    p.extend(checks);
    // The instruction pointer's low half is still in A at each site's compare.
    for (i, (site, first, last)) in FORK_CLOSES.into_iter().enumerate() {
        let fc = fork_close + i * FORK_CLOSE_LEN;
        let next = fc + FORK_CLOSE_LEN;
        let miss = if next == allow { end } else { next };
        p.extend([
            jump(BPF_JMP_JEQ_K, site as u32, 0, off(fc, miss)),
            stmt(BPF_LD_W_ABS, OFF_NR),
            jump(BPF_JMP_JEQ_K, libc::SYS_close_range as u32, 0, off(fc + 2, end)),
            stmt(BPF_LD_W_ABS, off_arg_lo(0)),
            jump(BPF_JMP_JEQ_K, first as u32, 0, off(fc + 4, end)),
            stmt(BPF_LD_W_ABS, off_arg_lo(1)),
            jump(BPF_JMP_JEQ_K, last as u32, 0, off(fc + 6, end)),
            // No flags: CLOSE_RANGE_UNSHARE would give the thread an fd
            // table of its own, apart from the one the sentry installs in.
            stmt(BPF_LD_W_ABS, off_arg_lo(2)),
            jump(BPF_JMP_JEQ_K, 0, off(fc + 8, allow), off(fc + 8, end)),
        ]);
    }
    p.extend([stmt(BPF_RET_K, SECCOMP_RET_ALLOW), stmt(BPF_RET_K, SECCOMP_RET_TRACE)]);
    debug_assert_eq!(p.len(), end);
    p
}

pub(crate) fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

pub(crate) fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Builds the application filter program.
pub fn build_app_filter(action: TrapAction) -> Vec<libc::sock_filter> {
    let trap = match action {
        TrapAction::Trace => SECCOMP_RET_TRACE,
        TrapAction::Trap => SECCOMP_RET_TRAP,
    };
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
    ];
    if action == TrapAction::Trap {
        p.extend(ip_rules());
    }
    p.extend([
        stmt(BPF_LD_W_ABS, OFF_NR),
        // x32 ABI numbers (bit 30) go to the sentry, which answers ENOSYS.
        jump(BPF_JMP_JGE_K, 0x4000_0000, 0, 1),
        stmt(BPF_RET_K, trap),
        // RESULT_NR_BASE..0x4000_0000: RET_ERRNO | (nr - RESULT_NR_BASE).
        jump(BPF_JMP_JGE_K, RESULT_NR_BASE, 0, 3),
        stmt(BPF_ALU_SUB_K, RESULT_NR_BASE),
        stmt(BPF_ALU_OR_K, SECCOMP_RET_ERRNO),
        stmt(BPF_RET_A, 0),
        // Below it A still holds nr for the rules that follow.
    ]);
    for rule in PASSTHROUGH {
        if action == TrapAction::Trap && TRAP_ONLY_SYSCALLS.contains(&rule.nr) {
            continue;
        }
        // Each rule: [jeq nr -> body] body ... ; reloads nr after the body.
        let body: Vec<libc::sock_filter> = match rule.check {
            ArgCheck::Any => vec![stmt(BPF_RET_K, SECCOMP_RET_ALLOW)],
            ArgCheck::MaskSet { idx, mask } => vec![
                stmt(BPF_LD_W_ABS, off_arg_lo(idx)),
                jump(BPF_JMP_JSET_K, mask, 0, 1),
                stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
                stmt(BPF_RET_K, trap),
            ],
            ArgCheck::Below { idx, limit } => vec![
                stmt(BPF_LD_W_ABS, off_arg_lo(idx)),
                jump(BPF_JMP_JGE_K, limit, 1, 0),
                stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
                stmt(BPF_RET_K, trap),
            ],
            ArgCheck::OneOf { idx, and_mask, values } => {
                let mut b = vec![stmt(BPF_LD_W_ABS, off_arg_lo(idx)), stmt(BPF_ALU_AND_K, and_mask)];
                let n = values.len();
                for (i, v) in values.iter().enumerate() {
                    // On match jump to ALLOW, which sits after the remaining compares and the trap.
                    let to_allow = (n - i - 1) + 1;
                    b.push(jump(BPF_JMP_JEQ_K, *v, to_allow as u8, 0));
                }
                b.push(stmt(BPF_RET_K, trap));
                b.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
                b
            }
        };
        p.push(jump(BPF_JMP_JEQ_K, rule.nr as u32, 0, body.len() as u8));
        p.extend(body);
    }
    p.push(stmt(BPF_RET_K, trap));
    p
}

/// Runs filter program `p` on one call as the kernel would (for the
/// instructions this filter and the app-filter wrappers of
/// syscalls/seccomp.rs emit) and returns its action; a program that runs
/// off its end or uses another instruction kills, as the kernel's verifier
/// would have refused it.
pub fn evaluate(p: &[libc::sock_filter], nr: i64, ip: u64, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&(nr as u32).to_ne_bytes());
    data[4..8].copy_from_slice(&AUDIT_ARCH_X86_64.to_ne_bytes());
    data[8..16].copy_from_slice(&ip.to_ne_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
    }
    let word = |k: u32| {
        let k = k as usize;
        data.get(k..k + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0)
    };
    let (mut a, mut pc, mut mem) = (0u32, 0usize, [0u32; 16]);
    while let Some(&i) = p.get(pc) {
        pc += 1;
        let k = i.k;
        let mut cond = |c: bool| pc += if c { i.jt } else { i.jf } as usize;
        match i.code {
            BPF_LD_W_ABS => a = word(k),
            BPF_LD_IMM => a = k,
            BPF_LD_MEM if (k as usize) < mem.len() => a = mem[k as usize],
            BPF_ST if (k as usize) < mem.len() => mem[k as usize] = a,
            BPF_JMP_JA => pc += k as usize,
            BPF_JMP_JEQ_K => cond(a == k),
            BPF_JMP_JGE_K => cond(a >= k),
            BPF_JMP_JSET_K => cond(a & k != 0),
            BPF_ALU_AND_K => a &= k,
            BPF_ALU_OR_K => a |= k,
            BPF_ALU_SUB_K => a = a.wrapping_sub(k),
            BPF_RET_K => return k,
            BPF_RET_A => return a,
            _ => break,
        }
    }
    SECCOMP_RET_KILL_PROCESS
}

/// Whether the systrap filter lets call `nr` with `args` run when made at
/// the handler's exec site (and so at the batch runner's).
pub fn passes_at_exec_site(nr: i64, args: [u64; 6]) -> bool {
    static TRAP: std::sync::OnceLock<Vec<libc::sock_filter>> = std::sync::OnceLock::new();
    let p = TRAP.get_or_init(|| build_app_filter(TrapAction::Trap));
    evaluate(p, nr, EXEC_SITE, args) == SECCOMP_RET_ALLOW
}

/// Installs the filter on the calling thread (after PR_SET_NO_NEW_PRIVS).
/// Async-signal-safe: called in a freshly forked child.
///
/// # Safety
/// `prog` must point to a valid filter program that outlives the call.
pub unsafe fn install_raw(prog: &libc::sock_fprog) -> i64 {
    // SAFETY: caller guarantees prog is valid; raw syscalls only.
    unsafe {
        let r = libc::syscall(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if r != 0 {
            return r;
        }
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, prog as *const _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_stay_in_range() {
        for (action, last) in [(TrapAction::Trace, SECCOMP_RET_TRACE), (TrapAction::Trap, SECCOMP_RET_TRAP)] {
            let p = build_app_filter(action);
            assert!(p.len() < 4096);
            for (i, ins) in p.iter().enumerate() {
                if ins.code & 0x07 == 0x05 {
                    assert!(i + 1 + (ins.jt as usize) < p.len());
                    assert!(i + 1 + (ins.jf as usize) < p.len());
                }
            }
            assert_eq!(p.last().map(|i| i.k), Some(last));
        }
    }

    /// The result numbers answer -e by themselves (no tracer here: any
    /// call that reached RET_TRACE would fail with ENOSYS instead).
    #[test]
    fn result_numbers_return_their_errno() {
        let filter = build_app_filter(TrapAction::Trace);
        let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
        // SAFETY: the child only makes raw syscalls and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: `prog` points at `filter`, alive in this copy of the process.
            let code = unsafe {
                if install_raw(&prog) != 0 {
                    libc::_exit(2);
                }
                let r = |nr: u32| libc::syscall(nr as libc::c_long) == -1;
                let errno = || *libc::__errno_location();
                let zero = libc::syscall(RESULT_NR_BASE as libc::c_long) == 0;
                let ebadf = r(RESULT_NR_BASE + libc::EBADF as u32) && errno() == libc::EBADF;
                let top = r(RESULT_NR_BASE + 4095) && errno() == 4095;
                // Just below the range: an ordinary trapped call (no tracer: ENOSYS).
                let below = r(RESULT_NR_BASE - 1) && errno() == libc::ENOSYS;
                i32::from(!(zero && ebadf && top && below))
            };
            // SAFETY: leaving the forked child without unwinding.
            unsafe { libc::_exit(code) };
        }
        let mut st = 0;
        // SAFETY: reaping our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "child status {st:#x}");
    }

    /// Allows without looking at arguments, for `nr`.
    fn allows_any(p: &[libc::sock_filter], nr: i64) -> bool {
        p.windows(2).any(|w| w[0].code == BPF_JMP_JEQ_K && w[0].k == nr as u32 && w[1].k == SECCOMP_RET_ALLOW)
    }

    /// The ptrace filter never looks at the instruction pointer and lets the
    /// trap-only calls through; the systrap one sends calls from the stub's
    /// sites to the tracer and traps the trap-only calls.
    #[test]
    fn systrap_filter_differs_only_where_meant() {
        let trace = build_app_filter(TrapAction::Trace);
        let trap = build_app_filter(TrapAction::Trap);
        let loads_ip = |p: &[libc::sock_filter]| p.iter().any(|i| i.code == BPF_LD_W_ABS && i.k == OFF_IP_LO);
        assert!(!loads_ip(&trace));
        assert!(loads_ip(&trap));
        for site in TRACE_SITES {
            assert!(trap.iter().any(|i| i.code == BPF_JMP_JEQ_K && i.k == site as u32));
        }
        for &nr in TRAP_ONLY_SYSCALLS {
            assert!(allows_any(&trace, nr), "ptrace filter passes {nr} through");
            assert!(!allows_any(&trap, nr), "systrap filter traps {nr}");
        }
        assert!(!trace.iter().any(|i| i.k == SECCOMP_RET_TRAP));
        let ip_rules = 3 + ip_rules().len();
        assert!(!trap.iter().skip(ip_rules).any(|i| i.k == SECCOMP_RET_TRACE), "RET_TRACE only in the ip rules");
        // Same rules otherwise: the systrap filter is the ptrace one minus
        // the trap-only rules, plus the ip rules' compares (five per fork
        // site close: the site, the number and the three arguments).
        let rules = |p: &[libc::sock_filter]| p.iter().filter(|i| i.code == BPF_JMP_JEQ_K).count();
        let fork_closes = FORK_CLOSES.len() * 5;
        assert_eq!(
            rules(&trap),
            rules(&trace) - TRAP_ONLY_SYSCALLS.len() + 3 + TRACE_SITES.len() + EXEC_SITE_CALLS.len() + fork_closes
        );
    }

    /// The batch runner's site runs exactly what the exec site runs, and
    /// the addresses beside it are app code to the filter.
    #[test]
    fn batch_site_is_the_exec_site_twin() {
        let trap = build_app_filter(TrapAction::Trap);
        let mut nrs: Vec<i64> = EXEC_SITE_CALLS.iter().map(|(nr, _)| *nr).collect();
        nrs.extend([
            libc::SYS_read,
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_close_range,
            libc::SYS_sigaltstack,
            libc::SYS_madvise,
            libc::SYS_munmap,
            libc::SYS_getpid,
        ]);
        let fds = [0, 3, 999, 1000, 1001, 1002, 1010, 1017, 1018, 1019, 1020, u64::MAX];
        let anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        let mut allowed = 0;
        for nr in nrs {
            for fd in fds {
                for at in [0, 1, 4] {
                    for flags in [libc::MAP_PRIVATE as u64, anon] {
                        let mut args = [0x1000, 4096, 1, flags, 0, 0];
                        args[at] = fd;
                        let exec = evaluate(&trap, nr, EXEC_SITE, args);
                        assert_eq!(evaluate(&trap, nr, BATCH_SITE, args), exec, "{nr} {args:?}");
                        allowed += usize::from(exec == SECCOMP_RET_ALLOW);
                        for beside in [BATCH_SITE - 2, BATCH_SITE + 2] {
                            assert_eq!(evaluate(&trap, nr, beside, args), evaluate(&trap, nr, 0x40_1000, args));
                        }
                    }
                }
            }
        }
        assert!(allowed > 100, "the comparison covered allowed calls ({allowed})");
        let slot = kernel::APP_FD_BASE as u64;
        let map = [0x1000, 4096, 1, libc::MAP_PRIVATE as u64, slot, 0];
        assert_eq!(evaluate(&trap, libc::SYS_mmap, BATCH_SITE, map), SECCOMP_RET_ALLOW);
        assert_eq!(evaluate(&trap, libc::SYS_mmap, BATCH_SITE - 2, map), SECCOMP_RET_TRAP);
    }

    /// The exec site's calls run from there only, and those taking an fd
    /// only on the numbers their rule names; other calls made there are
    /// filtered as anywhere else.
    #[test]
    fn exec_site_allows_its_calls_only() {
        let trap = build_app_filter(TrapAction::Trap);
        let app_ip = 0x40_1000;
        let private = libc::MAP_PRIVATE as u64;
        for (nr, rule) in EXEC_SITE_CALLS {
            let with_fd = |v: u64| {
                let mut a = [0x1000, 4096, 1, private, 0, 0];
                a[rule.map_or(5, |r| r.arg) as usize] = v;
                a
            };
            let (lo, end) = rule.map_or((0, 1), |r| (r.lo as u64, r.end as u64));
            for v in [lo, (lo + end) / 2, end - 1] {
                assert_eq!(evaluate(&trap, nr, EXEC_SITE, with_fd(v)), SECCOMP_RET_ALLOW, "{nr} on fd {v}");
                assert_eq!(evaluate(&trap, nr, app_ip, with_fd(v)), SECCOMP_RET_TRAP, "{nr} from app code");
                assert_eq!(
                    evaluate(&trap, nr, EXEC_SITE + (1 << 32), with_fd(v)),
                    SECCOMP_RET_TRAP,
                    "high half checked"
                );
            }
            if rule.is_some() {
                let outside = [0, 3, 1000, 1001, lo.wrapping_sub(1), end, end + 1, u32::MAX as u64];
                for v in outside.into_iter().filter(|&v| !(lo..end).contains(&v) && v <= u32::MAX as u64) {
                    assert_eq!(evaluate(&trap, nr, EXEC_SITE, with_fd(v)), SECCOMP_RET_TRAP, "{nr} on fd {v}");
                }
            }
        }
        // The copy file is written there, the installed files never.
        let (base, copy) = (kernel::APP_FD_BASE as u64, kernel::COPY_FD as u64);
        assert_eq!(evaluate(&trap, libc::SYS_pwrite64, EXEC_SITE, [base, 0, 1, 0, 0, 0]), SECCOMP_RET_TRAP);
        assert_eq!(evaluate(&trap, libc::SYS_pread64, EXEC_SITE, [copy, 0, 1, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(evaluate(&trap, libc::SYS_preadv, EXEC_SITE, [copy, 0, 1, 0, 0, 0]), SECCOMP_RET_TRAP);
        // The fork site's child closes the copy file and the install socket
        // there, and nothing else.
        let close_site = super::super::stub::STUB_FORK_CLOSE;
        let install = kernel::INSTALL_FD as u64;
        let close_range = libc::SYS_close_range;
        assert_eq!(evaluate(&trap, close_range, close_site, [copy, install, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        // Then everything below the stub image's fd, at the next site.
        let low_site = super::super::stub::STUB_FORK_CLOSE_LOW;
        let below = kernel::STUB_FD as u64 - 1;
        assert_eq!(evaluate(&trap, close_range, low_site, [0, below, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        for (site, a0, a1) in [(close_site, copy, install), (low_site, 0, below)] {
            for (nr, a0, a1, flags) in [
                (close_range, a0, a1, libc::CLOSE_RANGE_UNSHARE as u64),
                (close_range, a0, a1, libc::CLOSE_RANGE_CLOEXEC as u64),
                (close_range, a0, a1 + 1, 0),
                (close_range, a0 + 1, a1, 0),
                (close_range, base, install, 0),
                (close_range, 0, u32::MAX as u64, 0),
                (libc::SYS_close, a0, 0, 0),
                (libc::SYS_close, 3, 0, 0),
                (libc::SYS_pwrite64, a0, a1, 0),
                (libc::SYS_dup2, a0, a1, 0),
            ] {
                let args = [a0, a1, flags, 0, 0, 0];
                assert_eq!(
                    evaluate(&trap, nr, site, args),
                    SECCOMP_RET_TRAP,
                    "{nr} on {a0}, {a1}, {flags} at {site:#x}"
                );
            }
        }
        assert_eq!(evaluate(&trap, close_range, low_site, [copy, install, 0, 0, 0, 0]), SECCOMP_RET_TRAP);
        assert_eq!(evaluate(&trap, close_range, close_site, [0, below, 0, 0, 0, 0]), SECCOMP_RET_TRAP);
        assert_eq!(evaluate(&trap, close_range, app_ip, [copy, install, 0, 0, 0, 0]), SECCOMP_RET_TRAP);
        assert_eq!(evaluate(&trap, close_range, app_ip, [0, below, 0, 0, 0, 0]), SECCOMP_RET_TRAP);
        // A passed fd arrives low, moves to an installed file's number or the
        // copy file's, never onto the stub's fds or the install socket.
        assert_eq!(evaluate(&trap, libc::SYS_recvmsg, EXEC_SITE, [install, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(evaluate(&trap, libc::SYS_recvmsg, EXEC_SITE, [1001, 0, 0, 0, 0, 0]), SECCOMP_RET_TRAP);
        for to in [base, copy] {
            assert_eq!(evaluate(&trap, libc::SYS_dup3, EXEC_SITE, [0, to, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "{to}");
        }
        for to in [0, 3, 1000, 1001, install] {
            assert_eq!(evaluate(&trap, libc::SYS_dup3, EXEC_SITE, [0, to, 0, 0, 0, 0]), SECCOMP_RET_TRAP, "{to}");
        }
        assert_eq!(evaluate(&trap, libc::SYS_close, EXEC_SITE, [0, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        for fd in [1000, 1001, base, copy, install] {
            assert_eq!(evaluate(&trap, libc::SYS_close, EXEC_SITE, [fd, 0, 0, 0, 0, 0]), SECCOMP_RET_TRAP, "{fd}");
        }
        assert_eq!(evaluate(&trap, libc::SYS_close, app_ip, [copy, 0, 0, 0, 0, 0]), SECCOMP_RET_TRAP);
        for nr in [libc::SYS_read, libc::SYS_openat, libc::SYS_execve, libc::SYS_recvmsg, libc::SYS_clone] {
            assert_eq!(
                evaluate(&trap, nr, EXEC_SITE, [base, 0, 0, 0, base, 0]),
                SECCOMP_RET_TRAP,
                "{nr} from the exec site"
            );
        }
        // Passthrough calls pass there as anywhere (brk's anonymous maps).
        let anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        assert_eq!(evaluate(&trap, libc::SYS_mmap, EXEC_SITE, [0, 4096, 3, anon, u64::MAX, 0]), SECCOMP_RET_ALLOW);
        for site in TRACE_SITES {
            assert_eq!(evaluate(&trap, libc::SYS_pread64, site, [base, 0, 0, 0, 0, 0]), SECCOMP_RET_TRACE);
        }
        let trace = build_app_filter(TrapAction::Trace);
        assert_eq!(
            evaluate(&trace, libc::SYS_pread64, EXEC_SITE, [base, 0, 0, 0, 0, 0]),
            SECCOMP_RET_TRACE,
            "no ip rules on ptrace"
        );
        assert!(passes_at_exec_site(libc::SYS_pread64, [base, 0x1000, 4096, 0, 0, 0]));
        assert!(!passes_at_exec_site(libc::SYS_pread64, [3, 0x1000, 4096, 0, 0, 0]));
        assert!(!passes_at_exec_site(libc::SYS_close, [base, 0, 0, 0, 0, 0]));
    }
}

#[cfg(test)]
mod doc_tests {
    use super::PASSTHROUGH;

    /// docs/security.md lists every passthrough syscall.
    #[test]
    fn security_doc_lists_every_passthrough_syscall() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md"))
            .expect("docs/security.md");
        for rule in PASSTHROUGH {
            let name = rvisor_syscalls::syscall_name(rule.nr as u64).expect("known syscall");
            assert!(doc.contains(&format!("| `{name}` |")), "docs/security.md does not list {name}");
        }
    }
}
