//! Which chunk a thread's set-up maps, and where a chunk goes when its
//! thread is done with it.
//!
//! A thread's chunk stays mapped in its address space after the thread
//! ends: no thread there is stopped then to unmap it. Left there, every
//! thread a long-lived process ever started would keep a mapping, and past
//! vm.max_map_count (65 530) of them the process's own mmap calls fail.
//! So the chunk of an ended thread is kept for its address space, and the
//! next new thread there maps its fresh memory over the old one, in place
//! (MAP_FIXED). Once that address space is gone (exec, or the process
//! itself), no process maps those chunks and any thread may have them
//! (`Platform::free_chunk`), mapped where nothing may be (MAP_FIXED_NOREPLACE:
//! should one still be mapped there after all, the set-up fails and the
//! thread stays traced). Each use of a chunk has memory of its own, so
//! whatever still maps an earlier use reaches only that (platform/systrap).
//!
//! An address space is named by the process that made it (its owner): a
//! process cloned with CLONE_VM (vfork) runs in its parent's until it execs.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::super::task::ThreadGroup;
use crate::platform::systrap::Platform;

/// Per address space, by its owner: chunks of its ended threads.
static ENDED: Mutex<Vec<(Weak<ThreadGroup>, Vec<usize>)>> = Mutex::new(Vec::new());

/// Processes running in another's address space (CLONE_VM without
/// CLONE_THREAD, until they exec), with that space's owner.
static BORROWED: Mutex<Vec<(Weak<ThreadGroup>, Weak<ThreadGroup>)>> = Mutex::new(Vec::new());

/// A chunk for a new thread of `tg`, the fd of its fresh memory, and
/// whether its address space maps that chunk already (an ended thread's,
/// which the new map is to replace).
pub(super) fn alloc(p: &Platform, tg: &Arc<ThreadGroup>) -> Option<(usize, OwnedFd, bool)> {
    let space = owner(tg);
    let own = ended(p).iter_mut().find(|(o, _)| same(o, &space)).and_then(|(_, v)| v.pop());
    let got = p.alloc_chunk(own);
    if let (None, Some(i)) = (&got, own) {
        keep(p, &space, i);
    }
    got.map(|(i, fd)| (i, fd, own.is_some()))
}

/// Chunk `i` of a thread of `tg` is done with: not mapped for it after all,
/// or its thread ended. Its memory is released, and it goes back to the
/// thread's address space if mapped there (`mapped`), else to any thread.
pub(super) fn give_back(p: &Platform, tg: &Arc<ThreadGroup>, i: usize, mapped: bool) {
    p.region.release(i);
    if mapped {
        keep(p, &owner(tg), i);
    } else {
        p.free_chunk(i);
    }
}

/// A thread of `tg` made a successful exec, leaving chunk `old` (if it had
/// one) in the address space it left. Where `tg` owned that space it is
/// gone, with whatever its ended threads left there; a borrowed one lives
/// on in its owner. Either way `tg` owns its new one.
pub(super) fn exec(p: &Platform, tg: &Arc<ThreadGroup>, old: Option<usize>) {
    let borrowed = !Arc::ptr_eq(&owner(tg), tg);
    if let Some(i) = old {
        give_back(p, tg, i, borrowed);
    }
    BORROWED.lock().unwrap_or_else(|e| e.into_inner()).retain(|(b, _)| !same(b, tg));
    if !borrowed {
        free_lists(p, &mut ended(p), |o| same(o, tg));
    }
}

/// At a clone of `child` by a thread of `parent` with `flags`: a new
/// process sharing the parent's memory runs in its address space.
pub fn note_clone(parent: &Arc<ThreadGroup>, child: &Arc<ThreadGroup>, flags: u64) {
    let vm = flags & libc::CLONE_VM as u64 != 0;
    if !vm || flags & libc::CLONE_THREAD as u64 != 0 || crate::platform::systrap::active().is_none() {
        return;
    }
    let space = Arc::downgrade(&owner(parent));
    let mut borrowed = BORROWED.lock().unwrap_or_else(|e| e.into_inner());
    borrowed.retain(|(b, _)| b.strong_count() > 0);
    borrowed.push((Arc::downgrade(child), space));
}

/// The owner of the address space `tg` runs in (`tg` itself, unless it
/// borrows its parent's and that parent is still known).
fn owner(tg: &Arc<ThreadGroup>) -> Arc<ThreadGroup> {
    let borrowed = BORROWED.lock().unwrap_or_else(|e| e.into_inner());
    let lender = borrowed.iter().find(|(b, _)| same(b, tg)).and_then(|(_, l)| l.upgrade());
    lender.unwrap_or_else(|| tg.clone())
}

/// Keeps chunk `i` for the address space `space` owns, which maps it.
fn keep(p: &Platform, space: &Arc<ThreadGroup>, i: usize) {
    let mut ended = ended(p);
    match ended.iter_mut().find(|(o, _)| same(o, space)) {
        Some((_, chunks)) => chunks.push(i),
        None => ended.push((Arc::downgrade(space), vec![i])),
    }
}

/// The lists, after those of address spaces whose owner is gone went to
/// any thread.
fn ended(p: &Platform) -> MutexGuard<'static, Vec<(Weak<ThreadGroup>, Vec<usize>)>> {
    let mut ended = ENDED.lock().unwrap_or_else(|e| e.into_inner());
    free_lists(p, &mut ended, |o| o.strong_count() == 0);
    ended
}

/// Drops the lists whose owner `gone` picks, giving their chunks to any thread.
fn free_lists(
    p: &Platform,
    lists: &mut Vec<(Weak<ThreadGroup>, Vec<usize>)>,
    gone: impl Fn(&Weak<ThreadGroup>) -> bool,
) {
    lists.retain(|(owner, chunks)| {
        let keep = !gone(owner);
        if !keep {
            chunks.iter().for_each(|&i| p.free_chunk(i));
        }
        keep
    });
}

fn same(weak: &Weak<ThreadGroup>, tg: &Arc<ThreadGroup>) -> bool {
    weak.as_ptr() == Arc::as_ptr(tg)
}
