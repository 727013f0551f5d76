//! Robust futexes across the virtual/host tid split. A robust mutex holds its
//! owner's tid, which glibc takes from the sentry (a virtual tid); the host
//! kernel, which walks a dying thread's robust list and marks its mutexes
//! FUTEX_OWNER_DIED (waking a waiter), compares with the host tid. So at the
//! thread's exit stop, before the kernel walks the list, the sentry rewrites
//! the owner tid of every mutex on it from the virtual to the host one.
//!
//! A thread that dies with its process (a sibling's exit_group, a fatal
//! signal, SIGKILL) may reach its exit stop while its sentry thread is still
//! finishing the stop before, whose resume then lets the exit go on unseen.
//! So whatever ends a whole process hands over every thread's list first
//! (`hand_over_process`); those threads die before they could unlock.

use super::task::ThreadGroup;
use super::Kernel;
use crate::mm::Memory;

const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Linux's ROBUST_LIST_LIMIT: a cyclic or hostile list stops here.
const LIST_LIMIT: usize = 2048;

/// Hands over the robust mutexes of every thread of process `tg` but host
/// thread `except` (the caller's own, handed over at its exit stop), just
/// before the process ends. A thread that unlocks one in the microseconds
/// before it dies gets EPERM and leaves it owner-died, as its death would.
pub fn hand_over_process(kernel: &Kernel, tg: &ThreadGroup, except: Option<i32>) {
    for t in kernel.threads_of(tg.tgid) {
        if Some(t.host_tid()) != except {
            hand_over_robust_list(t.host_tid(), t.tid);
        }
    }
}

/// Rewrites the owner tid of the robust mutexes thread `host_tid` (virtual `vtid`) holds.
pub fn hand_over_robust_list(host_tid: i32, vtid: i32) {
    let (mut head, mut len) = (0u64, 0usize);
    // SAFETY: out-pointers are our own locals; the thread is our stopped tracee.
    let r =
        unsafe { libc::syscall(libc::SYS_get_robust_list, host_tid, &mut head as *mut u64, &mut len as *mut usize) };
    if r != 0 || head == 0 || len != 24 {
        return;
    }
    let mem = Memory::new(host_tid);
    // struct robust_list_head { next; long futex_offset; list_op_pending; }
    let (Ok(first), Ok(offset), Ok(pending)) =
        (mem.read_val::<u64>(head), mem.read_val::<i64>(head + 8), mem.read_val::<u64>(head + 16))
    else {
        return;
    };
    let fix = |entry: u64| {
        let word_addr = entry.wrapping_add(offset as u64);
        if let Ok(word) = mem.read_val::<u32>(word_addr) {
            if word & FUTEX_TID_MASK == vtid as u32 {
                let _ = mem.write_val(word_addr, &((word & !FUTEX_TID_MASK) | host_tid as u32));
            }
        }
    };
    let mut entry = first;
    let mut n = 0;
    while entry != head && entry != 0 && n < LIST_LIMIT {
        fix(entry);
        match mem.read_val::<u64>(entry) {
            Ok(next) => entry = next,
            Err(_) => break,
        }
        n += 1;
    }
    if pending != 0 {
        fix(pending);
    }
}
