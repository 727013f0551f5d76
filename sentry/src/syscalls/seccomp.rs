//! seccomp(2) and PR_SET_SECCOMP: an app's own filters run on the host,
//! stacked on the sandbox's filter. Linux runs every filter and takes the
//! strictest action, so an app filter can only take syscalls away from its
//! own process (an ERRNO, TRAP or KILL wins over the sandbox's TRACE; an
//! ALLOW lets nothing past the sandbox's filter).
//!
//! Each app filter is installed with a short prefix that allows calls made
//! from the stub's code page: the sentry's own calls in the app's context
//! (fd injection, mmap of files, clone, the park loop of a new child) must
//! not be refused by a filter that only meant the app's calls. The price:
//! an app that jumps into the stub's page skips its *own* filter (never the
//! sandbox's). Strict mode is such a filter too (the host refuses strict
//! mode under the sandbox's filter). Not supported: user notification
//! listeners (a host fd the sandbox cannot wrap); an app filter's
//! SECCOMP_RET_TRACE reaches the sentry like any trapped call. Under
//! systrap the sandbox's filter answers RET_TRAP, which outranks RET_ERRNO:
//! the app's program is rewritten so its ERRNO and TRAP answers become
//! marked TRAPs (`for_systrap`), which the sentry tells from its own.

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use libc::sock_filter;

use crate::kernel::creds::CAP_SYS_ADMIN;
use crate::platform::filter::{
    jump, stmt, AUDIT_ARCH_X86_64, BPF_ALU_AND_K, BPF_ALU_OR_K, BPF_JMP_JA, BPF_JMP_JEQ_K, BPF_JMP_JGE_K, BPF_LD_IMM,
    BPF_LD_MEM, BPF_LD_W_ABS, BPF_RET_A, BPF_RET_K, BPF_ST, OFF_ARCH, OFF_IP_HI, OFF_IP_LO, OFF_NR, SECCOMP_RET_ALLOW,
};
use crate::platform::stub::STUB_BASE;

const SET_MODE_STRICT: u64 = 0;
const SET_MODE_FILTER: u64 = 1;
const GET_ACTION_AVAIL: u64 = 2;
const GET_NOTIF_SIZES: u64 = 3;

const FLAG_TSYNC: u64 = 1;
const FLAG_LOG: u64 = 2;
const FLAG_SPEC_ALLOW: u64 = 4;
const FLAG_NEW_LISTENER: u64 = 8;
const FLAG_TSYNC_ESRCH: u64 = 16;
const FLAG_WAIT_KILLABLE_RECV: u64 = 32;
const KNOWN_FLAGS: u64 =
    FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH | FLAG_WAIT_KILLABLE_RECV;

/// The app's mode as PR_GET_SECCOMP reports it.
pub const MODE_STRICT: u8 = 1;
const MODE_FILTER: u8 = 2;

/// BPF_MAXINSNS: the longest program Linux accepts.
const MAX_INSNS: usize = 4096;

/// SECCOMP_RET_KILL_THREAD: what strict mode does to any other call.
const RET_KILL_THREAD: u32 = 0;

/// Allows calls whose instruction pointer is in the stub's code page, then
/// hands over to the app's program with A cleared, as a fresh program
/// starts (seccomp_data: instruction_pointer at 8, little-endian u64).
fn stub_prefix() -> [sock_filter; 7] {
    let (lo, hi) = (STUB_BASE as u32, (STUB_BASE >> 32) as u32);
    let end = lo + 0x1000;
    [
        stmt(BPF_LD_W_ABS, OFF_IP_HI),      // 0: ip >> 32
        jump(BPF_JMP_JEQ_K, hi, 0, 4),      // 1: else -> 6
        stmt(BPF_LD_W_ABS, OFF_IP_LO),      // 2: ip & 0xffff_ffff
        jump(BPF_JMP_JGE_K, lo, 0, 2),      // 3: below the page -> 6
        jump(BPF_JMP_JGE_K, end, 1, 0),     // 4: above the page -> 6
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW), // 5: the stub's own call
        stmt(BPF_LD_IMM, 0),                // 6: A = 0, then the app's program
    ]
}

/// SECCOMP_MODE_STRICT as a program: read, write, exit and rt_sigreturn of
/// the native ABI; anything else kills the thread.
fn strict_program() -> Vec<sock_filter> {
    let allowed = [libc::SYS_read, libc::SYS_write, libc::SYS_exit, libc::SYS_rt_sigreturn];
    let n = allowed.len() as u8;
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 0, n + 1),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    for (i, nr) in allowed.iter().enumerate() {
        // A match jumps over the remaining tests and the kill, to the allow.
        p.push(jump(BPF_JMP_JEQ_K, *nr as u32, n - i as u8, 0));
    }
    p.push(stmt(BPF_RET_K, RET_KILL_THREAD));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p
}

/// `struct sock_filter` as the kernel reads it (native byte order).
fn to_bytes(i: &sock_filter) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&i.code.to_ne_bytes());
    b[2] = i.jt;
    b[3] = i.jf;
    b[4..8].copy_from_slice(&i.k.to_ne_bytes());
    b
}

fn from_bytes(b: &[u8]) -> sock_filter {
    sock_filter {
        code: u16::from_ne_bytes([b[0], b[1]]),
        jt: b[2],
        jf: b[3],
        k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
    }
}

/// Reads the app's `struct sock_fprog` and its instructions.
/// Reads an app's `struct sock_fprog` and its instructions, with Linux's
/// checks in Linux's order: the header (EFAULT), its length (EINVAL), then
/// `may_install` (EACCES), then the instructions (EFAULT).
fn read_program(ctx: &SyscallCtx<'_>, fprog: u64, may_install: bool) -> Result<Vec<sock_filter>, Errno> {
    let mut head = [0u8; 16];
    ctx.mem.read(fprog, &mut head)?;
    let len = u16::from_ne_bytes([head[0], head[1]]) as usize;
    let ptr = u64::from_ne_bytes(head[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    if len == 0 || len > MAX_INSNS {
        return Err(Errno::EINVAL);
    }
    if !may_install {
        return Err(Errno::EACCES);
    }
    let mut raw = vec![0u8; len * 8];
    ctx.mem.read(ptr, &mut raw)?;
    Ok(raw.chunks_exact(8).map(from_bytes).collect())
}

/// Installs `program` behind the stub prefix on the calling thread (with
/// seccomp(2)'s `flags`), from a temporary mapping in the app.
fn install(ctx: &mut SyscallCtx<'_>, program: &[sock_filter], flags: u64) -> SysResult {
    let mut all = stub_prefix().to_vec();
    if crate::platform::systrap::active().is_some() {
        all.extend(for_systrap(program));
    } else {
        all.extend_from_slice(program);
    }
    if all.len() > MAX_INSNS {
        return Err(Errno::ENOMEM);
    }
    let mut bytes: Vec<u8> = all.iter().flat_map(to_bytes).collect();
    let fprog_off = bytes.len() as u64;
    let size = (bytes.len() + 16).next_multiple_of(4096) as u64;
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let mflags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    let area = Errno::result(ctx.inject(libc::SYS_mmap, [0, size, prot, mflags, u64::MAX, 0])?)? as u64;
    bytes.extend_from_slice(&(all.len() as u64).to_ne_bytes());
    bytes.extend_from_slice(&area.to_ne_bytes());
    let r = match ctx.mem.write(area, &bytes) {
        Ok(()) => ctx.inject(libc::SYS_seccomp, [SET_MODE_FILTER, flags, area + fprog_off, 0, 0, 0]),
        Err(e) => Err(e),
    };
    let _ = ctx.inject(libc::SYS_munmap, [area, size, 0, 0, 0, 0]);
    Errno::result(r?)
}

fn set_mode(ctx: &SyscallCtx<'_>, mode: u8, flags: u64) {
    use std::sync::atomic::Ordering;
    ctx.task.seccomp_mode.fetch_max(mode, Ordering::Relaxed);
    if flags & FLAG_TSYNC != 0 {
        // Every thread of the process now has the filter (and its mode).
        let pids = ctx.kernel.pids.lock().unwrap_or_else(|e| e.into_inner());
        for t in pids.tasks.values().filter_map(|w| w.upgrade()).filter(|t| std::sync::Arc::ptr_eq(&t.tg, &ctx.task.tg))
        {
            t.seccomp_mode.fetch_max(mode, Ordering::Relaxed);
        }
    }
}

const RET_ACTION_FULL: u32 = 0xffff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRAP: u32 = 0x0003_0000;
const MAX_ERRNO: u32 = 4095;

/// The app's program for the systrap platform, whose filter answers
/// RET_TRAP: that outranks an app's RET_ERRNO, so the app's RET_ERRNO | e
/// becomes RET_TRAP | APP_ERRNO | e and its RET_TRAP | d becomes RET_TRAP |
/// APP_TRAP | (d & 0x3fff). Linux takes the newest filter's among equal
/// actions, so these win over the sandbox's RET_TRAP (data 0), and the
/// sentry answers them from the SIGSYS's si_errno (kernel::systrap::sigsys).
/// Each `ret A` jumps to a tail that does the same to the accumulator.
fn for_systrap(program: &[sock_filter]) -> Vec<sock_filter> {
    use crate::kernel::systrap::{APP_ERRNO, APP_TRAP};
    let tail_at = program.len();
    let mut out: Vec<sock_filter> = program
        .iter()
        .enumerate()
        .map(|(i, ins)| match ins.code {
            BPF_RET_K if ins.k & RET_ACTION_FULL == RET_ERRNO => {
                stmt(BPF_RET_K, RET_TRAP | APP_ERRNO | (ins.k & 0xffff).min(MAX_ERRNO))
            }
            BPF_RET_K if ins.k & RET_ACTION_FULL == RET_TRAP => stmt(BPF_RET_K, RET_TRAP | APP_TRAP | (ins.k & 0x3fff)),
            BPF_RET_A => stmt(BPF_JMP_JA, (tail_at - i - 1) as u32),
            _ => *ins,
        })
        .collect();
    out.extend([
        stmt(BPF_ST, 15),                         // T0: M[15] = A
        stmt(BPF_ALU_AND_K, RET_ACTION_FULL),     // T1
        jump(BPF_JMP_JEQ_K, RET_ERRNO, 0, 6),     // T2: else -> T9
        stmt(BPF_LD_MEM, 15),                     // T3
        stmt(BPF_ALU_AND_K, 0xffff),              // T4
        jump(BPF_JMP_JGE_K, MAX_ERRNO, 0, 1),     // T5: below -> T7
        stmt(BPF_LD_IMM, MAX_ERRNO),              // T6
        stmt(BPF_ALU_OR_K, RET_TRAP | APP_ERRNO), // T7
        stmt(BPF_RET_A, 0),                       // T8
        jump(BPF_JMP_JEQ_K, RET_TRAP, 0, 4),      // T9: else -> T14
        stmt(BPF_LD_MEM, 15),                     // T10
        stmt(BPF_ALU_AND_K, 0x3fff),              // T11
        stmt(BPF_ALU_OR_K, RET_TRAP | APP_TRAP),  // T12
        stmt(BPF_RET_A, 0),                       // T13
        stmt(BPF_LD_MEM, 15),                     // T14: any other action as it was
        stmt(BPF_RET_A, 0),                       // T15
    ]);
    out
}

pub fn sys_seccomp(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (op, flags, args) = (a[0], a[1], a[2]);
    match op {
        SET_MODE_STRICT => {
            if flags != 0 || args != 0 {
                return Err(Errno::EINVAL);
            }
            let r = install(ctx, &strict_program(), 0)?;
            set_mode(ctx, MODE_STRICT, 0);
            Ok(r)
        }
        SET_MODE_FILTER => {
            if flags & !KNOWN_FLAGS != 0 {
                return Err(Errno::EINVAL);
            }
            if flags & FLAG_NEW_LISTENER != 0 {
                return ctx.unsupported("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)", Errno::EINVAL);
            }
            // Linux's rule, on the sandbox's credentials (the host always
            // allows: app processes run with no_new_privs there).
            let may_install = ctx.task.tg.lock().no_new_privs || ctx.task.creds().has_cap(CAP_SYS_ADMIN);
            let program = read_program(ctx, args, may_install)?;
            let r = install(ctx, &program, flags)?;
            set_mode(ctx, MODE_FILTER, flags);
            Ok(r)
        }
        GET_ACTION_AVAIL | GET_NOTIF_SIZES => Errno::result(ctx.inject(libc::SYS_seccomp, a)?),
        _ => Err(Errno::EINVAL),
    }
}

/// PR_SET_SECCOMP (mode, filter) as seccomp(2) with no flags.
pub fn prctl_set(ctx: &mut SyscallCtx<'_>, mode: u64, filter: u64) -> SysResult {
    match mode {
        1 => sys_seccomp(ctx, [SET_MODE_STRICT, 0, 0, 0, 0, 0]),
        2 => sys_seccomp(ctx, [SET_MODE_FILTER, 0, filter, 0, 0, 0]),
        _ => Err(Errno::EINVAL),
    }
}

/// PR_GET_SECCOMP: the app's own mode.
pub fn prctl_get(ctx: &SyscallCtx<'_>) -> SysResult {
    Ok(ctx.task.seccomp_mode.load(std::sync::atomic::Ordering::Relaxed) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The program's action for call `nr` made at `ip` (no arguments).
    fn run(p: &[sock_filter], nr: u32, ip: u64) -> u32 {
        crate::platform::filter::evaluate(p, i64::from(nr), ip, [0; 6])
    }

    #[test]
    fn the_prefix_exempts_only_the_stub_page_and_hands_over_a_clean_accumulator() {
        let mut p = stub_prefix().to_vec();
        p.push(stmt(BPF_RET_K, 0x1234)); // the app's program
        assert_eq!(run(&p, 1, STUB_BASE), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, 1, STUB_BASE + 0xfff), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, 1, STUB_BASE - 1), 0x1234);
        assert_eq!(run(&p, 1, STUB_BASE + 0x1000), 0x1234);
        assert_eq!(run(&p, 1, STUB_BASE | 1 << 32), 0x1234);
        // Falling through leaves A == 0 ("ld #0" right before the app's program).
        let clear = p[p.len() - 2];
        assert_eq!((clear.code, clear.k), (BPF_LD_IMM, 0));
        assert_eq!(run(&p, 0, 0x40_0000), 0x1234);
    }

    /// Under systrap the app's ERRNO and TRAP answers become marked TRAPs,
    /// from `ret #k` and from `ret a` alike; other actions stay as they were.
    #[test]
    fn systrap_marks_errno_and_trap_answers() {
        use crate::kernel::systrap::{APP_ERRNO, APP_TRAP};
        // ret #k by nr: 1 -> ERRNO|77, 2 -> TRAP|5, 3 -> KILL, 4 -> ALLOW;
        // via ret a: 5 -> ERRNO|9000 (capped), 6 -> TRAP|0x8321, 7 -> LOG.
        let mut p = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
        let answers: [(u32, u16, u32); 7] = [
            (1, BPF_RET_K, RET_ERRNO | 77),
            (2, BPF_RET_K, RET_TRAP | 5),
            (3, BPF_RET_K, 0x8000_0000),
            (4, BPF_RET_K, SECCOMP_RET_ALLOW),
            (5, BPF_RET_A, RET_ERRNO | 9000),
            (6, BPF_RET_A, RET_TRAP | 0x8321),
            (7, BPF_RET_A, 0x7ffc_0000),
        ];
        for (nr, code, k) in answers {
            p.push(jump(BPF_JMP_JEQ_K, nr, 0, if code == BPF_RET_K { 1 } else { 2 }));
            if code == BPF_RET_A {
                p.push(stmt(BPF_LD_IMM, k));
            }
            p.push(stmt(code, if code == BPF_RET_K { k } else { 0 }));
        }
        p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
        let q = for_systrap(&p);
        let want = [
            RET_TRAP | APP_ERRNO | 77,
            RET_TRAP | APP_TRAP | 5,
            0x8000_0000,
            SECCOMP_RET_ALLOW,
            RET_TRAP | APP_ERRNO | MAX_ERRNO,
            RET_TRAP | APP_TRAP | 0x0321,
            0x7ffc_0000,
        ];
        for (nr, w) in (1..).zip(want) {
            assert_eq!(run(&p, nr, 0x40_0000) == w, nr == 3 || nr == 4 || nr == 7, "unchanged only where meant: {nr}");
            assert_eq!(run(&q, nr, 0x40_0000), w, "nr {nr}");
        }
        assert_eq!(run(&q, 99, 0x40_0000), SECCOMP_RET_ALLOW);
    }

    #[test]
    fn strict_mode_allows_exactly_its_four_calls() {
        let mut p = stub_prefix().to_vec();
        p.extend(strict_program());
        for nr in 0..460u32 {
            let want = [libc::SYS_read, libc::SYS_write, libc::SYS_exit, libc::SYS_rt_sigreturn].contains(&(nr as i64));
            assert_eq!(run(&p, nr, 0x40_0000) == SECCOMP_RET_ALLOW, want, "syscall {nr}");
            assert_eq!(run(&p, nr, STUB_BASE + 0x100), SECCOMP_RET_ALLOW, "stub call {nr}");
        }
    }
}
