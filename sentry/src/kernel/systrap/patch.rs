//! Syscall-site patching, the sentry's side (the layout and the machine
//! code are in `platform::systrap::patch`; design and accepted risks in
//! docs/systrap-status.md, "Syscall-site patching").
//!
//! A detached thread's trapped call from an unpatched candidate site is
//! handed back to ptrace ([`wants`]); at its SIGSYS stop the sentry patches
//! the site ([`try_patch`]) with the thread stopped, then serves the call as
//! usual. The rewrite of the site's first five bytes is one locked 8-byte
//! store run by the app thread itself at the stub's store site, on a page
//! made writable for that one store: threads running the site meanwhile see
//! either the old or the new sequence, never a mix.

use std::collections::HashSet;
use std::sync::Mutex;

use rvisor_syscalls::abi::UserRegs;
use rvisor_syscalls::Errno;

use super::super::task::Task;
use super::State;
use crate::platform::ptrace::{Stop, SyscallInfo, Tracee};
use crate::platform::stub::STUB_BASE;
use crate::platform::systrap::patch::{self as layout, AREA, AREA_LEN, FIRST_ENTRY, MAGIC, MAX_ENTRIES};
use crate::platform::systrap::Platform;
use crate::syscalls::SyscallCtx;

/// Sites (host pid, address of the `mov`) found not patchable, so their
/// calls are not handed to ptrace again; bounded, and guarding patching
/// itself (one patch at a time: the area's entry count is read-modify-write).
static NOT_PATCHABLE: Mutex<Option<HashSet<(i32, u64)>>> = Mutex::new(None);
const NOT_PATCHABLE_MAX: usize = 1 << 16;
/// si_code of a signal the kernel raised itself (the store site's int3).
const SI_KERNEL: i32 = 0x80;
const ARCH_X86_64_INSN_LEN: u64 = 7;

fn refused(pid: i32, site: u64) -> bool {
    let g = NOT_PATCHABLE.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref().is_some_and(|s| s.contains(&(pid, site)))
}

fn refuse(pid: i32, site: u64) {
    let mut g = NOT_PATCHABLE.lock().unwrap_or_else(|e| e.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if set.len() < NOT_PATCHABLE_MAX {
        set.insert((pid, site));
    }
}

/// Whether a detached call (from the handler's slot) comes from a site
/// worth patching: then it is served traced, where [`try_patch`] runs.
pub(super) fn wants(task: &Task, info: &SyscallInfo, from_tramp: bool) -> bool {
    if from_tramp || !layout::enabled() || !layout::patchable(info.nr) {
        return false;
    }
    let pid = task.tg.host_pid();
    let Some(site) = candidate(info.rip) else { return false };
    if refused(pid, site) {
        return false;
    }
    let mut code = [0u8; 7];
    let mem = crate::mm::Memory::new(task.host_tid());
    if mem.read(site, &mut code).is_ok() && layout::matches(&code, info.nr) {
        return true;
    }
    refuse(pid, site);
    false
}

/// The site a call returning to `rip` would come from, outside the stub
/// (whose own sites are never patched).
fn candidate(rip: u64) -> Option<u64> {
    let site = rip.checked_sub(ARCH_X86_64_INSN_LEN)?;
    (site >= STUB_BASE + 0x1000 || site + 8 <= STUB_BASE).then_some(site)
}

/// Gives a thread its GS base (its chunk, which the trampoline reads) at
/// set-up, unless the app uses GS itself (a base outside the region).
pub(super) fn set_up_thread(p: &Platform, chunk: usize, regs: &mut UserRegs) {
    if !layout::enabled() {
        return;
    }
    layout::set_traced(&p.region, chunk, true);
    if regs.gs_base == 0 || layout::inherited_gs(regs.gs_base) == 0 {
        regs.gs_base = Platform::chunk_addr(chunk);
    }
}

/// Tells the thread's trampoline whether it is traced (see tramp.S).
pub(super) fn mark_traced(p: &Platform, st: &State, traced: bool) {
    if let Some(c) = st.chunk {
        if layout::enabled() {
            layout::set_traced(&p.region, c, traced);
        }
    }
}

/// At a SIGSYS stop: patches the call's site if it is a candidate. Every
/// failure is remembered, so the site's calls stay on the signal path.
pub(super) fn try_patch(ctx: &mut SyscallCtx<'_>, nr: u64) {
    if !layout::enabled() || !layout::patchable(nr) {
        return;
    }
    let Ok(regs) = ctx.regs().copied() else { return };
    let pid = ctx.task.tg.host_pid();
    let Some(site) = candidate(regs.rip) else { return };
    if refused(pid, site) {
        return;
    }
    // One patch at a time in the whole sandbox (rare: once per site).
    static ONE: Mutex<()> = Mutex::new(());
    let _g = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let done = patch_site(ctx, &regs, site, nr);
    // Whatever happened, the thread goes on from the call's registers.
    let _ = ctx.tracee.set_regs(&regs);
    match done {
        Ok(()) => tracing::debug!(tid = ctx.task.tid, site = format_args!("{site:#x}"), nr, "systrap: site patched"),
        Err(e) => {
            tracing::debug!(tid = ctx.task.tid, site = format_args!("{site:#x}"), nr, error = ?e, "systrap: site not patched");
            refuse(pid, site);
        }
    }
}

fn patch_site(ctx: &mut SyscallCtx<'_>, regs: &UserRegs, site: u64, nr: u64) -> Result<(), Errno> {
    let mut code = [0u8; 7];
    ctx.mem.read(site, &mut code)?;
    if !layout::matches(&code, nr) {
        return Err(Errno::ENOEXEC);
    }
    let win = layout::window(site).ok_or(Errno::EINVAL)?;
    let prot = private_text_prot(ctx.task.tg.host_pid(), win)?;
    let k = reserve_entry(ctx, nr as u32, site + ARCH_X86_64_INSN_LEN)?;
    // The new window: the site's five new bytes in the current eight.
    let mut old = [0u8; 8];
    ctx.mem.read(win, &mut old)?;
    let mut new = old;
    let at = (site - win) as usize;
    new[at..at + 5].copy_from_slice(&layout::site_bytes(k));
    let page = win & !0xfff;
    let rw = prot | libc::PROT_WRITE as u64;
    inject_ok(ctx, libc::SYS_mprotect, [page, 0x1000, rw, 0, 0, 0])?;
    let stored = run_store(ctx, regs, win, u64::from_le_bytes(old), u64::from_le_bytes(new));
    inject_ok(ctx, libc::SYS_mprotect, [page, 0x1000, prot, 0, 0, 0])?;
    if stored? {
        Ok(())
    } else {
        Err(Errno::EAGAIN)
    }
}

fn inject_ok(ctx: &mut SyscallCtx<'_>, nr: i64, args: [u64; 6]) -> Result<i64, Errno> {
    Errno::result(ctx.inject(nr, args)?)
}

/// The protection of the private, executable mapping holding `[win, win+8)`
/// (PROT_* bits), from the host's /proc/PID/maps. Refused: shared mappings
/// (the write would reach the file or other processes), the vDSO, anything
/// not executable, and writable code (a JIT may copy or move its code, and
/// a copied patched site would return to the original's address).
fn private_text_prot(pid: i32, win: u64) -> Result<u64, Errno> {
    let maps = crate::confine::read_host_proc(&format!("{pid}/maps"))?;
    let text = String::from_utf8_lossy(&maps);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else { continue };
        if win < start || win >= end {
            continue;
        }
        let name = f.nth(3).unwrap_or("");
        let p = perms.as_bytes();
        if win + 8 > end || p.len() < 4 || p[3] != b'p' || p[2] != b'x' || p[1] == b'w' || name.starts_with('[') {
            return Err(Errno::EACCES);
        }
        let mut prot = libc::PROT_EXEC as u64;
        if p[0] == b'r' {
            prot |= libc::PROT_READ as u64;
        }
        return Ok(prot);
    }
    Err(Errno::EFAULT)
}

/// Maps the process's patch area if it has none, writes thunk k for the
/// site and its table entry, and returns k.
fn reserve_entry(ctx: &mut SyscallCtx<'_>, nr: u32, ret: u64) -> Result<u64, Errno> {
    let magic: u64 = ctx.mem.read_val(AREA).unwrap_or(0);
    let k = if magic == MAGIC {
        ctx.mem.read_val::<u64>(layout::entry_addr(1))?
    } else {
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
        let prot = (libc::PROT_READ | libc::PROT_EXEC) as u64;
        let at = ctx.inject(libc::SYS_mmap, [AREA, AREA_LEN, prot, flags, u64::MAX, 0])?;
        if at as u64 != AREA {
            return Err(Errno::EEXIST);
        }
        FIRST_ENTRY
    };
    if !(FIRST_ENTRY..MAX_ENTRIES).contains(&k) {
        return Err(Errno::ENOSPC);
    }
    // Writable for the sentry's writes, and executable throughout: other
    // threads are running the thunks of sites patched before.
    let rwx = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as u64;
    let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
    inject_ok(ctx, libc::SYS_mprotect, [AREA, AREA_LEN, rwx, 0, 0, 0])?;
    // Thunk and entry first: nothing jumps to them until the site is rewritten.
    let written = ctx
        .mem
        .write(layout::thunk_addr(k), &layout::thunk(k, nr, ret))
        .and_then(|()| ctx.mem.write_val(layout::entry_addr(k), &layout::thunk_addr(k)))
        .and_then(|()| ctx.mem.write_val(layout::entry_addr(1), &(k + 1)))
        .and_then(|()| ctx.mem.write_val(AREA, &MAGIC));
    inject_ok(ctx, libc::SYS_mprotect, [AREA, AREA_LEN, rx, 0, 0, 0])?;
    written.map(|()| k)
}

/// Runs the stub's store site in the stopped thread: `lock cmpxchg` of the
/// 8 bytes at `addr` from `old` to `new`. Returns whether it stored.
fn run_store(ctx: &mut SyscallCtx<'_>, base: &UserRegs, addr: u64, old: u64, new: u64) -> Result<bool, Errno> {
    let tracee: &Tracee = ctx.tracee;
    let mut r = *base;
    r.rip = layout::store_addr();
    r.rdi = addr;
    r.rsi = new;
    r.rdx = old;
    r.orig_rax = u64::MAX;
    tracee.set_regs(&r)?;
    tracee.cont(0)?;
    loop {
        match tracee.wait() {
            Stop::Signal(libc::SIGTRAP) if tracee.get_siginfo().map_or(true, |si| si.si_code == SI_KERNEL) => {
                return Ok(tracee.get_regs()?.rax == old);
            }
            Stop::Signal(sig) => {
                // A fault of the store itself (the page went away) must not
                // be re-executed forever: give up on this site.
                let rip = tracee.get_regs()?.rip;
                let at_store = (layout::store_addr()..layout::store_addr() + 9).contains(&rip);
                if at_store && matches!(sig, libc::SIGSEGV | libc::SIGBUS) {
                    return Err(Errno::EFAULT);
                }
                let si = tracee.get_siginfo().unwrap_or_default();
                ctx.deferred.push(si);
                tracee.cont(0)?;
            }
            Stop::Exited(_) | Stop::Killed(..) => return Err(Errno::ESRCH),
            _ => tracee.cont(0)?,
        }
    }
}

/// Seizes the thread (`Tracee::seize`), telling its trampoline first: a
/// trampoline request published before is taken and, once the thread is
/// seized, answered "execute it again" (the call comes back as a SIGSYS
/// stop); one published after is withdrawn by the trampoline itself.
pub(super) fn seize(task: &Task, p: &Platform, st: &State) -> Result<Tracee, Errno> {
    let held = st.chunk.filter(|_| layout::enabled()).and_then(|c| layout::going_traced(&p.region, c));
    let t = Tracee::seize(task.host_tid());
    if let (Some(nr), Some(c)) = (held, st.chunk) {
        if let Some(ts) = layout::tslot(&p.region, c) {
            ts.reply_rewind(nr);
        }
    }
    t
}
