//! Fork children born on a chunk: an app handler installed with SA_ONSTACK
//! runs on its thread's chunk (the host's alternate stack), and chunks are
//! MADV_DONTFORK, so a child forked there would resume on unmapped memory.
//! The chunk's content at the fork is copied into a private mapping at the
//! same address in the child before it runs; the child stays traced until
//! it leaves that stack (`in_region`), then gets a chunk of its own.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rvisor_syscalls::abi::UserRegs;
use rvisor_syscalls::Errno;

use super::super::task::Task;
use super::{AltStack, NO_ALTSTACK, SHARED};
use crate::platform::ptrace::Tracee;
use crate::platform::systrap::{self, Platform, CHUNK, REGION_BASE, REGION_CHUNKS};

/// Chunk contents at a fork, by the child's host tid (taken by the
/// parent's sentry thread, put in by the child's before it starts).
static FORK_STACKS: Mutex<BTreeMap<i32, (u64, Vec<u8>)>> = Mutex::new(BTreeMap::new());

/// Whether `addr` lies in the systrap region (some thread's chunk).
pub fn in_region(addr: u64) -> bool {
    addr >= REGION_BASE && addr < REGION_BASE + (REGION_CHUNKS * CHUNK) as u64
}

/// What a clone child inherits of its parent thread's virtual state, by the
/// child's host tid: the SIGSYS bit of its mask and its alternate stack.
static INHERITED: Mutex<BTreeMap<i32, Inherited>> = Mutex::new(BTreeMap::new());

/// A clone child's inheritance: the SIGSYS bit of the mask, the alternate
/// stack, and whether that stack is the app's own on the host (`Shared::app_altstack`).
pub(super) type Inherited = (bool, AltStack, bool);

/// At a clone by thread `parent_host_tid` (stopped in it) of a child
/// starting with stack pointer `rsp`: notes what the child inherits (the
/// mask always; the alternate stack unless it shares memory without being
/// a vfork, as Linux's copy_process resets it), and keeps a copy of the
/// chunk a fork child is born on.
pub fn note_clone(parent_host_tid: i32, child_host_tid: i32, flags: u64, rsp: u64) {
    if systrap::active().is_none() {
        return;
    }
    let parent = SHARED.lock().unwrap_or_else(|e| e.into_inner()).get(&parent_host_tid).cloned();
    if let Some(parent) = parent {
        use std::sync::atomic::Ordering;
        let (vm, vfork) = (flags & libc::CLONE_VM as u64 != 0, flags & libc::CLONE_VFORK as u64 != 0);
        let reset = vm && !vfork;
        let altstack = if reset { NO_ALTSTACK } else { *parent.altstack.lock().unwrap_or_else(|e| e.into_inner()) };
        let app_altstack = !reset && parent.app_altstack.load(Ordering::Relaxed);
        let blocked = parent.sigsys_blocked.load(Ordering::Relaxed);
        INHERITED.lock().unwrap_or_else(|e| e.into_inner()).insert(child_host_tid, (blocked, altstack, app_altstack));
    }
    if flags & libc::CLONE_VM as u64 == 0 {
        note_fork(child_host_tid, rsp);
    }
}

/// What the task with host tid `tid` inherited at its clone (nothing for
/// the sandbox's init).
pub(super) fn inherited(tid: i32) -> Inherited {
    INHERITED.lock().unwrap_or_else(|e| e.into_inner()).remove(&tid).unwrap_or((false, NO_ALTSTACK, false))
}

/// At a fork (a clone without CLONE_VM) whose child starts with stack
/// pointer `rsp`: if that is on a chunk, keeps the chunk's content for the
/// child. The parent is stopped in the clone, so this is the content at the fork.
fn note_fork(child_host_tid: i32, rsp: u64) {
    let Some(p) = systrap::active() else { return };
    if !in_region(rsp) {
        return;
    }
    let i = ((rsp - REGION_BASE) / CHUNK as u64) as usize;
    let Some(ptr) = p.region.chunk_ptr(i, 0) else { return };
    let mut copy = vec![0u8; CHUNK];
    // SAFETY: chunk i lies inside the sentry's mapping of the region (checked
    // by chunk_ptr), which lives for the sandbox; the app may write it
    // concurrently, which only makes the copy what it wrote.
    unsafe { std::ptr::copy_nonoverlapping(ptr, copy.as_mut_ptr(), CHUNK) };
    FORK_STACKS.lock().unwrap_or_else(|e| e.into_inner()).insert(child_host_tid, (Platform::chunk_addr(i), copy));
}

/// Before a fork child first runs (stopped, parked in the stub): maps the
/// copy of the chunk it was born on, if any.
pub fn restore_fork_stack(task: &Task, tracee: &Tracee, regs: &UserRegs) -> Result<(), Errno> {
    let Some((addr, bytes)) = FORK_STACKS.lock().unwrap_or_else(|e| e.into_inner()).remove(&tracee.tid) else {
        return Ok(());
    };
    let mut held = Vec::new();
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
    let mapped = tracee.inject(regs, libc::SYS_mmap, [addr, CHUNK as u64, prot, flags, u64::MAX, 0], &mut held);
    super::super::signal::reraise(task, held);
    if Errno::result(mapped?)? as u64 != addr {
        return Err(Errno::ENOMEM);
    }
    crate::mm::Memory::new(tracee.tid).write(addr, &bytes)
}

/// Before a fork child first runs (stopped, parked in the stub): if the
/// seize came before the child ran the stub's closes at the fork site (it
/// may not have had a CPU yet), makes them for it. Until then the child
/// holds its parent's copy file and install socket, and any fd the sentry
/// was passing to another of the parent's threads at the fork.
pub fn finish_fork_closes(task: &Task, tracee: &Tracee, regs: &UserRegs) -> Result<(), Errno> {
    use crate::kernel::{COPY_FD, INSTALL_FD, STUB_FD};
    use crate::platform::stub::{STUB_FORK, STUB_FORK_CLOSE_LOW};
    if !(STUB_FORK + 2..STUB_FORK_CLOSE_LOW).contains(&regs.rip) {
        return Ok(());
    }
    let mut held = Vec::new();
    let mut done = Ok(());
    for (first, last) in [(COPY_FD, INSTALL_FD), (0, STUB_FD - 1)] {
        let closed = tracee.inject(regs, libc::SYS_close_range, [first as u64, last as u64, 0, 0, 0, 0], &mut held);
        done = done.and_then(|()| Errno::result(closed?).map(drop));
    }
    super::super::signal::reraise(task, held);
    done
}

/// Forgets what was kept for a child that never started.
pub fn forget_fork(child_host_tid: i32) {
    FORK_STACKS.lock().unwrap_or_else(|e| e.into_inner()).remove(&child_host_tid);
    INHERITED.lock().unwrap_or_else(|e| e.into_inner()).remove(&child_host_tid);
}
