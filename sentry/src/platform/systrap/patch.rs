//! Syscall-site patching (optional: `rvisor do --systrap-patch`, or
//! `RVISOR_SYSTRAP_PATCH=1`; see docs/systrap-status.md, "Syscall-site
//! patching").
//!
//! A trapped call that comes from the common 7-byte sequence
//! `mov eax, NR; syscall` (`b8 imm32 0f 05`) at site S has its first five
//! bytes rewritten into `jmp qword ptr [disp32]` (`ff 24 25 disp32`), where
//! disp32 is a table entry in the process's patch area at [`AREA`]. The
//! area's address is chosen so that disp32's two high bytes are `0f 05`:
//! the last two bytes of the site stay a `syscall` instruction, so a thread
//! that was between the `mov` and the `syscall` (preempted, or returning
//! from a signal handler there), or code that jumps straight to the
//! `syscall`, still makes the original call through the signal path.
//!
//! The table entry points at a per-site thunk (`mov eax, NR; movabs rcx,
//! S+7; jmp trampoline`), and the trampoline (in the stub image, tramp.S)
//! hands the call to the sentry through the thread's second slot (the
//! trampoline slot, at [`TSLOT`] in its chunk) without any signal. The
//! thread finds its chunk through its GS base, which the sentry sets.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::slot::{Request, Slot, Spinner, Waited, APP_WAIT, IDLE, REPLY, REQUEST, SENTRY_WAIT};
use super::{Region, CHUNK, REGION_BASE, REGION_CHUNKS};

/// The patch area: a private anonymous R-X mapping per process (fork copies
/// it, with the patched text). disp32 = `AREA + 8k` has high bytes `0f 05`.
pub const AREA: u64 = 0x050f_0000;
pub const AREA_LEN: u64 = 0x1_0000;
/// table[0] holds the magic, table[1] how many entries are used.
pub const MAGIC: u64 = u64::from_le_bytes(*b"rvpatch1");
pub const FIRST_ENTRY: u64 = 2;
pub const MAX_ENTRIES: u64 = 1024;
const THUNKS: u64 = AREA + 0x2000;
const THUNK_LEN: u64 = 32;

/// Offset of the trampoline slot in a thread's chunk (after the handler's).
pub const TSLOT: usize = super::slot::SLOT_LEN;
/// Trampoline slot field: 1 while the thread is traced (the trampoline then
/// re-issues calls at its trapping site instead of using the slot).
pub const OFF_TRACED: usize = 112;
/// Trampoline slot state: claimed by the trampoline, request being written.
pub const CLAIMED: u32 = 5;

/// Where the trampoline sits in the stub image.
pub const TRAMP_OFF: u64 = 0x380;
/// Offsets from the trampoline's start: `done` (the reply is taken there),
/// the fallback `syscall`, and the store site the patcher runs.
pub const DONE_OFF: u64 = 0x144;
pub const SITE_OFF: u64 = 0x189;
pub const STORE_OFF: u64 = 0x190;

/// `tramp` .. the store site's `int3` of tramp.S, assembled.
#[rustfmt::skip]
pub const CODE: [u8; 0x199] = [
    0x48, 0x8d, 0x64, 0x24, 0x80, 0x9c, 0x51, 0x50, 0x57, 0x56, 0x52, 0x41, 0x52, 0xf3, 0x48, 0x0f,
    0xae, 0xcf, 0x48, 0x89, 0xf9, 0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x48,
    0x29, 0xc1, 0x48, 0xc1, 0xe9, 0x22, 0x0f, 0x85, 0x45, 0x01, 0x00, 0x00, 0xf7, 0xc7, 0xff, 0xff,
    0x00, 0x00, 0x0f, 0x85, 0x39, 0x01, 0x00, 0x00, 0x48, 0x81, 0xc7, 0x80, 0x00, 0x00, 0x00, 0x83,
    0x7f, 0x70, 0x00, 0x0f, 0x85, 0x28, 0x01, 0x00, 0x00, 0x31, 0xc0, 0xb9, 0x05, 0x00, 0x00, 0x00,
    0xf0, 0x0f, 0xb1, 0x0f, 0x0f, 0x85, 0x17, 0x01, 0x00, 0x00, 0x48, 0x8b, 0x44, 0x24, 0x20, 0x48,
    0x89, 0x47, 0x08, 0x48, 0x8b, 0x44, 0x24, 0x18, 0x48, 0x89, 0x47, 0x10, 0x48, 0x8b, 0x44, 0x24,
    0x10, 0x48, 0x89, 0x47, 0x18, 0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x89, 0x47, 0x20, 0x4c, 0x89,
    0x57, 0x28, 0x4c, 0x89, 0x47, 0x30, 0x4c, 0x89, 0x4f, 0x38, 0x48, 0x8b, 0x44, 0x24, 0x28, 0x48,
    0x89, 0x47, 0x40, 0x48, 0x8d, 0x84, 0x24, 0xb8, 0x00, 0x00, 0x00, 0x48, 0x89, 0x47, 0x48, 0x48,
    0xc7, 0x47, 0x68, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xf9, 0x89, 0x4f, 0x58, 0xb8, 0x01, 0x00,
    0x00, 0x00, 0x87, 0x07, 0x83, 0x7f, 0x70, 0x00, 0x74, 0x11, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x31,
    0xc9, 0xf0, 0x0f, 0xb1, 0x0f, 0x0f, 0x84, 0xa6, 0x00, 0x00, 0x00, 0xb8, 0x03, 0x00, 0x00, 0x00,
    0x31, 0xc9, 0xf0, 0x0f, 0xb1, 0x4f, 0x80, 0x75, 0x1f, 0x48, 0x81, 0xef, 0x80, 0x00, 0x00, 0x00,
    0xbe, 0x01, 0x00, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00, 0x00, 0xb8, 0xca, 0x00, 0x00, 0x00, 0x0f,
    0x05, 0x48, 0x81, 0xc7, 0x80, 0x00, 0x00, 0x00, 0x8b, 0x4f, 0x04, 0x83, 0xc9, 0x01, 0x8b, 0x07,
    0x83, 0xf8, 0x02, 0x74, 0x3f, 0xf3, 0x90, 0xff, 0xc9, 0x75, 0xf3, 0x8b, 0x07, 0x83, 0xf8, 0x02,
    0x74, 0x32, 0x89, 0xc2, 0x83, 0xf8, 0x01, 0x74, 0x12, 0x83, 0xf8, 0x06, 0x75, 0x18, 0xba, 0x07,
    0x00, 0x00, 0x00, 0xf0, 0x0f, 0xb1, 0x17, 0x75, 0xe2, 0xeb, 0x0b, 0xba, 0x04, 0x00, 0x00, 0x00,
    0xf0, 0x0f, 0xb1, 0x17, 0x75, 0xd5, 0x31, 0xf6, 0x45, 0x31, 0xd2, 0xb8, 0xca, 0x00, 0x00, 0x00,
    0x0f, 0x05, 0xeb, 0xb4, 0x48, 0x8b, 0x47, 0x50, 0x48, 0x8b, 0x4f, 0x60, 0xc7, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x48, 0x85, 0xc9, 0x75, 0x1a, 0x41, 0x5a, 0x5a, 0x5e, 0x5f, 0x48, 0x8d, 0x64, 0x24,
    0x08, 0x59, 0x41, 0x5b, 0x41, 0x53, 0x9d, 0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00, 0xff,
    0xe1, 0x4c, 0x8b, 0x14, 0x24, 0x48, 0x8b, 0x54, 0x24, 0x08, 0x48, 0x8b, 0x74, 0x24, 0x10, 0x48,
    0x8b, 0x7c, 0x24, 0x18, 0x48, 0x8b, 0x44, 0x24, 0x20, 0x0f, 0x05, 0xeb, 0xca, 0x0f, 0x1f, 0x00,
    0x48, 0x89, 0xd0, 0xf0, 0x48, 0x0f, 0xb1, 0x37, 0xcc,
];

pub fn tramp_addr() -> u64 {
    super::super::stub::STUB_BASE + TRAMP_OFF
}

/// The trampoline's own trapping `syscall` (the filter treats it as any app site).
pub fn site_addr() -> u64 {
    tramp_addr() + SITE_OFF
}

/// `mov rax, rdx; lock cmpxchg [rdi], rsi; int3`: the patcher's atomic store.
pub fn store_addr() -> u64 {
    tramp_addr() + STORE_OFF
}

/// Calls whose sites are patched: answered by the sentry without blocking
/// and without the signal frame (the trampoline has none), and that do not
/// create threads or processes (a clone child would return into the
/// trampoline on the parent's stack). A call that blocks could hold the
/// trampoline slot while a signal handler of the same thread needs the
/// sentry, so read/write/open and the waits stay on the signal path.
pub const PATCHABLE: &[i64] = &[
    libc::SYS_getpid,
    libc::SYS_getppid,
    libc::SYS_gettid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_getgroups,
    libc::SYS_getpgrp,
    libc::SYS_getpgid,
    libc::SYS_getsid,
    libc::SYS_uname,
    libc::SYS_getcwd,
    libc::SYS_umask,
    libc::SYS_lseek,
    libc::SYS_fstat,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_access,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_readlink,
    libc::SYS_readlinkat,
    libc::SYS_getdents64,
    libc::SYS_close,
    libc::SYS_dup,
    libc::SYS_dup2,
    libc::SYS_dup3,
];

pub fn patchable(nr: u64) -> bool {
    PATCHABLE.iter().any(|&n| n as u64 == nr)
}

/// Whether patching is on: asked for (`RVISOR_SYSTRAP_PATCH=1`), systrap is
/// the platform, and user space may read the GS base (FSGSBASE, which the
/// trampoline's `rdgsbase` needs: AT_HWCAP2 bit 1).
pub fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        let asked = std::env::var_os("RVISOR_SYSTRAP_PATCH").is_some_and(|v| v == "1");
        asked && super::active().is_some() && fsgsbase()
    })
}

/// The kernel lets user space use rdgsbase (HWCAP2_FSGSBASE).
pub fn fsgsbase() -> bool {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(libc::AT_HWCAP2) & 2 != 0 }
}

/// Whether `v` is the address of a chunk of the region (what the trampoline
/// accepts as a GS base).
pub fn is_chunk_addr(v: u64) -> bool {
    v >= REGION_BASE && v < REGION_BASE + (REGION_CHUNKS * CHUNK) as u64 && v % CHUNK as u64 == 0
}

/// A clone child's GS base: the parent thread's chunk is not the child's
/// (a thread would share its parent's slot; a fork child does not even map
/// it), so a chunk address is cleared and the child's trampoline calls take
/// the signal path until the sentry sets its own.
pub fn inherited_gs(gs: u64) -> u64 {
    if gs >= REGION_BASE && gs < REGION_BASE + (REGION_CHUNKS * CHUNK) as u64 {
        0
    } else {
        gs
    }
}

/// Whether `code` (the 7 bytes at a site) is `mov eax, nr; syscall`.
pub fn matches(code: &[u8; 7], nr: u64) -> bool {
    code[0] == 0xb8
        && u32::from_le_bytes([code[1], code[2], code[3], code[4]]) as u64 == nr
        && code[5..7] == [0x0f, 0x05]
}

pub fn entry_addr(k: u64) -> u64 {
    AREA + 8 * k
}

pub fn thunk_addr(k: u64) -> u64 {
    THUNKS + THUNK_LEN * k
}

/// The five bytes that replace `mov eax, NR` at a site: `jmp [entry k]`
/// (the site's `0f 05` completes disp32).
pub fn site_bytes(k: u64) -> [u8; 5] {
    let e = entry_addr(k);
    debug_assert_eq!(e >> 16, 0x050f);
    [0xff, 0x24, 0x25, e as u8, (e >> 8) as u8]
}

/// Thunk k: `mov eax, nr; movabs rcx, ret; jmp trampoline`.
pub fn thunk(k: u64, nr: u32, ret: u64) -> [u8; THUNK_LEN as usize] {
    let mut t = [0xccu8; THUNK_LEN as usize];
    t[0] = 0xb8;
    t[1..5].copy_from_slice(&nr.to_le_bytes());
    t[5] = 0x48;
    t[6] = 0xb9;
    t[7..15].copy_from_slice(&ret.to_le_bytes());
    t[15] = 0xe9;
    let next = thunk_addr(k) + 20;
    let rel = tramp_addr() as i64 - next as i64;
    t[16..20].copy_from_slice(&(rel as i32).to_le_bytes());
    t
}

/// The 8 bytes a single locked store may replace to patch site `s`: they
/// must hold all five changed bytes and not cross a cache line (a split
/// locked access is slow and may be fatal under split-lock detection).
pub fn window(s: u64) -> Option<u64> {
    if s % 64 <= 56 {
        Some(s)
    } else if s % 8 <= 3 {
        Some(s & !7)
    } else {
        None
    }
}

/// Trampoline slot states beyond the handler slot's: the sentry has taken
/// the request (the app can no longer withdraw it), and the same with the
/// app asleep on the word.
pub const TAKEN: u32 = 6;
pub const TAKEN_WAIT: u32 = 7;

/// A thread's trampoline slot, the sentry's side. Laid out as the handler's
/// slot (`slot.rs` offsets) plus the traced word; its states differ: the
/// trampoline claims it (IDLE -> CLAIMED), publishes (REQUEST), sleeps
/// (APP_WAIT / TAKEN_WAIT), and may withdraw a request the sentry has not
/// taken (REQUEST -> IDLE) when it finds the thread traced; the sentry takes
/// a request (REQUEST -> TAKEN, APP_WAIT -> TAKEN_WAIT) before it reads it.
pub struct TSlot<'a> {
    base: *mut u8,
    _region: std::marker::PhantomData<&'a ()>,
}

impl TSlot<'_> {
    fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` + 4 is inside the slot, 4-aligned (see `tslot`).
        unsafe { &*(self.base.add(off) as *const AtomicU32) }
    }

    fn read_u64(&self, off: usize) -> u64 {
        // SAFETY: `off` + 8 is inside the slot; a volatile read of shared
        // memory the app may change yields some value, all that is relied on.
        unsafe { std::ptr::read_volatile(self.base.add(off) as *const u64) }
    }

    fn write_u64(&self, off: usize, v: u64) {
        // SAFETY: as in read_u64.
        unsafe { std::ptr::write_volatile(self.base.add(off) as *mut u64, v) }
    }

    pub fn state_now(&self) -> u32 {
        self.word(0).load(Ordering::SeqCst)
    }

    fn pending(&self) -> bool {
        matches!(self.state_now(), REQUEST | APP_WAIT)
    }

    /// Takes the pending request, if the app has not withdrawn it.
    fn take(&self, spin: &mut Spinner) -> Option<Request> {
        let w = self.word(0);
        let taken = w.compare_exchange(REQUEST, TAKEN, Ordering::SeqCst, Ordering::SeqCst).is_ok()
            || w.compare_exchange(APP_WAIT, TAKEN_WAIT, Ordering::SeqCst, Ordering::SeqCst).is_ok();
        if !taken {
            return None;
        }
        // The spinning the handler's slot uses: same CPU or not.
        let app = self.word(super::slot::OFF_CPU).load(Ordering::Relaxed) & 0xfff;
        // SAFETY: sched_getcpu has no preconditions (vDSO).
        let me = unsafe { libc::sched_getcpu() };
        spin.same_cpu = me >= 0 && app == me as u32;
        self.word(super::slot::OFF_SPIN).store(spin.app_spin(), Ordering::Relaxed);
        let mut args = [0u64; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = self.read_u64(super::slot::OFF_ARGS + 8 * i);
        }
        Some(Request {
            nr: self.read_u64(super::slot::OFF_NR),
            args,
            rip: self.read_u64(super::slot::OFF_RIP),
            rsp: self.read_u64(super::slot::OFF_RSP),
            uctx: 0,
        })
    }

    pub fn reply(&self, ret: i64) {
        self.write_u64(super::slot::OFF_REWIND, 0);
        self.publish(ret);
    }

    /// "Execute it again": the trampoline re-issues the call at its site.
    pub fn reply_rewind(&self, nr: u64) {
        self.write_u64(super::slot::OFF_REWIND, 2);
        self.publish(nr as i64);
    }

    fn publish(&self, ret: i64) {
        self.write_u64(super::slot::OFF_RET, ret as u64);
        let old = self.word(0).swap(REPLY, Ordering::SeqCst);
        if old == APP_WAIT || old == TAKEN_WAIT {
            futex_wake(self.word(0));
        }
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE (shared) only uses the address as a key.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// The trampoline slot of chunk `i`.
pub fn tslot(region: &Region, i: usize) -> Option<TSlot<'_>> {
    let p = region.chunk_ptr(i, TSLOT)?;
    // `p` is chunk i's byte TSLOT (chunk_ptr checked the chunk exists):
    // 8-aligned, SLOT_LEN bytes inside the chunk, mapped while the region
    // (borrowed for the TSlot's lifetime) lives.
    Some(TSlot { base: p, _region: std::marker::PhantomData })
}

/// Tells chunk `i`'s trampoline whether its thread is traced.
pub fn set_traced(region: &Region, i: usize, traced: bool) {
    if let Some(p) = region.chunk_ptr(i, TSLOT + OFF_TRACED) {
        // SAFETY: 4-aligned u32 inside chunk i of the shared mapping.
        unsafe { (*(p as *const AtomicU32)).store(u32::from(traced), Ordering::SeqCst) }
    }
}

/// Before the sentry seizes the thread of chunk `i`: from now on the
/// trampoline withdraws what it publishes and re-issues it at its trapping
/// site. A request published before is taken here (the app can no longer
/// withdraw it); the caller answers it "execute it again" once the thread is
/// seized. The traced word is written before the slot is read, and the
/// trampoline publishes before it reads the traced word (both locked or
/// SeqCst): one of the two sees the other's write.
pub fn going_traced(region: &Region, i: usize) -> Option<u64> {
    set_traced(region, i, true);
    let t = tslot(region, i)?;
    t.take(&mut Spinner::new()).map(|r| r.nr)
}

/// Which slot a request came from; the reply goes back there.
pub enum ReplyTo<'s, 'a> {
    Handler(&'s Slot<'a>),
    Tramp(&'s TSlot<'a>),
}

impl ReplyTo<'_, '_> {
    pub fn reply(&self, ret: i64) {
        match self {
            ReplyTo::Handler(s) => s.reply(ret),
            ReplyTo::Tramp(t) => t.reply(ret),
        }
    }

    pub fn reply_rewind(&self, nr: u64) {
        match self {
            ReplyTo::Handler(s) => s.reply_rewind(nr),
            ReplyTo::Tramp(t) => t.reply_rewind(nr),
        }
    }
}

/// Waits for a request on the handler's slot `h` or the trampoline's slot
/// `t` (without `t` this is `h.wait_request`); returns it and whether it
/// came from `t`. The trampoline's request goes first: one in the handler's
/// slot meanwhile comes from a signal handler that interrupted the
/// trampoline, i.e. it was made after it. The trampoline wakes a sentry
/// parked on `h` (it swaps SENTRY_WAIT back to IDLE first), so the sentry
/// parks on `h` only after looking at `t` once more: one of the two sees the
/// other's write.
pub fn wait_either(h: &Slot<'_>, t: Option<&TSlot<'_>>, spin: &mut Spinner, timeout: Duration) -> (Waited, bool) {
    let Some(t) = t else { return (h.wait_request(spin, timeout), false) };
    let h_pending = |h: &Slot<'_>| matches!(h.state_now(), REQUEST | APP_WAIT);
    let limit = if spin.same_cpu { 0 } else { spin.limit };
    for _ in 0..limit {
        if t.pending() {
            if let Some(r) = t.take(spin) {
                spin.hit();
                return (Waited::Request(r), true);
            }
        }
        if h_pending(h) {
            spin.hit();
            return (Waited::Request(h.take_request(spin)), false);
        }
        std::hint::spin_loop();
    }
    if !spin.same_cpu {
        spin.miss();
    }
    if let Some(r) = t.take(spin) {
        return (Waited::Request(r), true);
    }
    let word = h.state_word();
    match word.compare_exchange(IDLE, SENTRY_WAIT, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {
            if !t.pending() {
                super::slot::futex_wait(word, SENTRY_WAIT, timeout);
            }
            let _ = word.compare_exchange(SENTRY_WAIT, IDLE, Ordering::SeqCst, Ordering::SeqCst);
        }
        Err(s) if s != REQUEST && s != APP_WAIT => std::thread::yield_now(),
        Err(_) => {}
    }
    if let Some(r) = t.take(spin) {
        return (Waited::Request(r), true);
    }
    if h_pending(h) {
        return (Waited::Request(h.take_request(spin)), false);
    }
    (Waited::Timeout, false)
}

#[cfg(test)]
mod tests;
