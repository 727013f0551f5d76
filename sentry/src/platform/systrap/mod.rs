//! The systrap platform (work in progress; see docs/systrap-status.md).
//!
//! The app filter returns RET_TRAP, the kernel raises SIGSYS, and the stub's
//! handler ([`handler`]) hands the call to the sentry through the thread's
//! slot ([`slot`]) in a chunk of shared memory, spinning before it sleeps.
//!
//! Region layout: chunk `i` (64 KiB, 64 KiB-aligned) of the region serves
//! one app thread. Its first [`slot::SLOT_LEN`] bytes are the slot; the
//! whole chunk is the thread's alternate signal stack, so the handler (run
//! with SA_ONSTACK) finds its slot by rounding its stack pointer down. The
//! trampoline's slot follows (patch.rs), then [`SCRATCH_LEN`] bytes at
//! [`SCRATCH_OFF`] where the sentry puts what a call it has the handler run
//! points to; the handler's frames grow down from the chunk's top.
//!
//! A traced thread's SIGSYS is a ptrace signal-delivery stop, which costs as
//! much as the seccomp stop it was meant to avoid (bench: "SIGSYS under
//! ptrace"), so app threads run *detached* from ptrace while the sentry
//! serves their slot, and are seized again for what needs ptrace (see
//! `kernel::systrap`). [`select`] turns the platform on for the sandbox.

pub mod copyfile;
pub mod handler;
pub mod patch;
pub mod slot;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rvisor_syscalls::Errno;

/// Where the region is mapped in every app process: far from the stub
/// (0x10000), non-PIE images (0x400000), the heap, the top-down mmap area and
/// the stack, so MAP_FIXED_NOREPLACE at exec time does not collide.
pub const REGION_BASE: u64 = 0x6000_0000_0000;
/// One thread's chunk: its slot and its alternate signal stack. Large enough
/// for a signal frame with the biggest XSAVE state (AMX, ~11 KiB).
pub const CHUNK: usize = 64 * 1024;

/// Where a chunk's scratch bytes start: after the handler's and the
/// trampoline's slots.
pub const SCRATCH_OFF: usize = 2 * slot::SLOT_LEN;
pub const SCRATCH_LEN: usize = 256;
const _: () = assert!(patch::TSLOT + slot::SLOT_LEN <= SCRATCH_OFF);

/// Copies `buf.len()` bytes of memory an app process shares with the sentry
/// (and may write concurrently) into `buf`: volatile loads, each byte once.
///
/// # Safety
/// `src` must be 8-aligned, and `src..src + buf.len()` mapped and readable
/// for the call.
pub unsafe fn load_shared(src: *const u8, buf: &mut [u8]) {
    debug_assert_eq!(src as usize % 8, 0);
    let n = buf.len();
    let dst = buf.as_mut_ptr();
    for w in 0..n / 8 {
        // SAFETY: inside the range the caller vouches for; unaligned-safe on x86-64.
        let v = unsafe { std::ptr::read_volatile(src.add(w * 8) as *const u64) };
        // SAFETY: inside `buf`.
        unsafe { std::ptr::write_unaligned(dst.add(w * 8) as *mut u64, v) };
    }
    for b in n / 8 * 8..n {
        // SAFETY: as above.
        unsafe { *dst.add(b) = std::ptr::read_volatile(src.add(b)) };
    }
}

/// Copies `buf` into memory shared with an app process: volatile stores.
///
/// # Safety
/// `dst` must be 8-aligned, and `dst..dst + buf.len()` mapped and writable
/// for the call.
pub unsafe fn store_shared(dst: *mut u8, buf: &[u8]) {
    debug_assert_eq!(dst as usize % 8, 0);
    let n = buf.len();
    let src = buf.as_ptr();
    for w in 0..n / 8 {
        // SAFETY: inside `buf` and the range the caller vouches for.
        unsafe {
            let v = std::ptr::read_unaligned(src.add(w * 8) as *const u64);
            std::ptr::write_volatile(dst.add(w * 8) as *mut u64, v);
        }
    }
    for b in n / 8 * 8..n {
        // SAFETY: as above.
        unsafe { std::ptr::write_volatile(dst.add(b), *src.add(b)) };
    }
}

/// The shared region as the sentry maps it: one reservation of address
/// space, over which each chunk in use maps a memfd of its own.
///
/// A chunk's memory reaches its app process through an fd: the sentry
/// passes it at the thread's set-up, and it sits at a low fd number in the
/// app until mapped and closed, while the process's other threads run. An
/// app that jumps to the stub handler's exec site can move any fd to a
/// number that site reads and maps (platform/filter.rs), so it can take
/// that fd in flight. A memfd per chunk means it takes only the new
/// thread's own chunk, never another process's slots (`escape_region`).
pub struct Region {
    /// The reservation: read-only zero pages until a chunk is backed.
    base: *mut u8,
    chunks: usize,
}

// SAFETY: `base` is a mapping the region owns for its whole life; what
// threads do with the shared memory goes through volatile accesses and the
// slot protocol.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// A region of `chunks` chunks, none backed yet. The reservation is
    /// read-only private memory, which costs no commit charge however large.
    pub fn new(chunks: usize) -> Result<Region, Errno> {
        let len = chunks.checked_mul(CHUNK).ok_or(Errno::EINVAL)?;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a fresh mapping at an address the kernel picks.
        let base = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, flags, -1, 0) };
        if base == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(Region { base: base.cast(), chunks })
    }

    /// Backs chunk `i` with a new zeroed memfd of its own, mapped in the
    /// sentry's view; returns the fd, to map at offset 0 into the app
    /// process that gets the chunk (the fd reaches nothing else).
    pub fn back(&self, i: usize) -> Result<OwnedFd, Errno> {
        if i >= self.chunks {
            return Err(Errno::ENOMEM);
        }
        // SAFETY: the name is a NUL-terminated literal.
        let raw = unsafe { libc::memfd_create(c"rvisor-systrap".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(Errno::last());
        }
        // SAFETY: memfd_create returned a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ftruncate on our own fd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), CHUNK as libc::off_t) } != 0 {
            return Err(Errno::last());
        }
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: chunk i lies inside the reservation, which this mapping
        // replaces in place; no reference into the chunk is held across it.
        let at = unsafe {
            libc::mmap(self.chunk_base(i).cast(), CHUNK, prot, libc::MAP_SHARED | libc::MAP_FIXED, fd.as_raw_fd(), 0)
        };
        if at == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(fd)
    }

    /// Gives chunk `i`'s memory back: its memfd's pages are freed (a
    /// process that still maps it gets zero pages again), and the sentry's
    /// view becomes private zero memory, so a late look at its slot reads a
    /// fresh IDLE one.
    pub fn release(&self, i: usize) {
        if i >= self.chunks {
            return;
        }
        let at = self.chunk_base(i).cast::<libc::c_void>();
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED;
        // SAFETY: chunk i lies inside the reservation; MADV_REMOVE frees
        // the backing memfd's pages and the new mapping replaces the chunk
        // in place.
        unsafe {
            libc::madvise(at, CHUNK, libc::MADV_REMOVE);
            libc::mmap(at, CHUNK, prot, flags, -1, 0);
        }
    }

    fn chunk_base(&self, i: usize) -> *mut u8 {
        // SAFETY: callers pass i < chunks, inside the reservation.
        unsafe { self.base.add(i * CHUNK) }
    }

    /// Chunk `i`'s slot, if the region has that chunk.
    pub fn slot(&self, i: usize) -> Option<slot::Slot<'_>> {
        (i < self.chunks).then(|| {
            // SAFETY: chunk i lies inside the mapping (checked above), is
            // page-aligned, and the mapping lives as long as the borrow.
            unsafe { slot::Slot::new(self.chunk_base(i)) }
        })
    }

    /// Copies `bytes` to chunk `i`'s scratch at `off` (8-aligned): false if
    /// out of bounds or misaligned.
    pub fn write_scratch(&self, i: usize, off: usize, bytes: &[u8]) -> bool {
        if i >= self.chunks || off % 8 != 0 || off.saturating_add(bytes.len()) > SCRATCH_LEN {
            return false;
        }
        // SAFETY: inside chunk i's scratch (checked above), mapped while self
        // lives, 8-aligned (checked above).
        unsafe { store_shared(self.chunk_base(i).add(SCRATCH_OFF + off), bytes) };
        true
    }

    /// Copies chunk `i`'s scratch at `off` (8-aligned) into `buf`: false if
    /// out of bounds or misaligned.
    pub fn read_scratch(&self, i: usize, off: usize, buf: &mut [u8]) -> bool {
        if i >= self.chunks || off % 8 != 0 || off.saturating_add(buf.len()) > SCRATCH_LEN {
            return false;
        }
        // SAFETY: as in write_scratch.
        unsafe { load_shared(self.chunk_base(i).add(SCRATCH_OFF + off), buf) };
        true
    }

    /// Raw pointer to byte `off` of chunk `i` (tests and the bench use the
    /// space after the slot to pass data).
    pub fn chunk_ptr(&self, i: usize, off: usize) -> Option<*mut u8> {
        (i < self.chunks && off < CHUNK).then(|| {
            // SAFETY: in bounds as checked.
            unsafe { self.chunk_base(i).add(off) }
        })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the reservation (and the chunks mapped over it) is ours,
        // and no slot borrows outlive the region.
        unsafe { libc::munmap(self.base.cast(), self.chunks * CHUNK) };
    }
}

/// Chunks of the sandbox's region: one per thread set up at a time. 16 GiB
/// of address space, memory only where a chunk is in use. Each use of a
/// chunk has a memfd of its own (`Region::back`), so a process that still
/// maps a chunk it once had reaches only that old memory, never the slot of
/// the chunk's next thread: a chunk is reused once given back. A sandbox
/// with them all in use runs its new threads under ptrace only.
pub const REGION_CHUNKS: usize = 1 << 18;

/// The systrap platform's sandbox-wide state.
pub struct Platform {
    pub region: Region,
    /// Chunks never used yet start here.
    next: std::sync::atomic::AtomicUsize,
    /// Chunks given back (`free_chunk`), oldest first.
    free: std::sync::Mutex<std::collections::VecDeque<usize>>,
}

impl Platform {
    /// A chunk for a thread, with fresh memory and its slot reset, and the
    /// fd of that memory to map into the thread's process: chunk `reuse` if
    /// given, else the oldest one given back, else one never used. None
    /// when all are in use or the memory cannot be had.
    pub fn alloc_chunk(&self, reuse: Option<usize>) -> Option<(usize, OwnedFd)> {
        use std::sync::atomic::Ordering;
        let given_back = match reuse {
            Some(_) => None,
            None => self.free.lock().unwrap_or_else(|e| e.into_inner()).pop_front(),
        };
        let i = reuse.or(given_back).unwrap_or_else(|| self.next.fetch_add(1, Ordering::Relaxed));
        let Ok(fd) = self.region.back(i) else {
            // Not lost: the next thread tries it again.
            if let Some(i) = given_back {
                self.free.lock().unwrap_or_else(|e| e.into_inner()).push_front(i);
            }
            return None;
        };
        self.region.slot(i)?.reset();
        Some((i, fd))
    }

    /// Gives chunk `i` to any thread again (its memory already released:
    /// `Region::release`).
    pub fn free_chunk(&self, i: usize) {
        if i < self.region.chunks {
            self.free.lock().unwrap_or_else(|e| e.into_inner()).push_back(i);
        }
    }

    /// Where chunk `i` sits in app processes.
    pub fn chunk_addr(i: usize) -> u64 {
        REGION_BASE + (i * CHUNK) as u64
    }
}

static PLATFORM: std::sync::OnceLock<Platform> = std::sync::OnceLock::new();

/// Makes systrap the sandbox's platform. Call once, before boot (it creates
/// the region, which the sentry's own seccomp filter may later forbid).
pub fn select() -> Result<(), Errno> {
    if !cpu_supported() {
        return Err(Errno::ENOSYS);
    }
    let region = Region::new(REGION_CHUNKS)?;
    let _ = PLATFORM.set(Platform { region, next: Default::default(), free: Default::default() });
    Ok(())
}

/// The platform state if systrap was selected.
pub fn active() -> Option<&'static Platform> {
    PLATFORM.get()
}

/// Whether this CPU can run the stub's handler, which uses `rdtscp` (CPUID
/// leaf 0x8000_0001, EDX bit 27) to report the CPU it runs on.
pub fn cpu_supported() -> bool {
    use std::arch::x86_64::__cpuid;
    // Leaf 0x8000_0000 reports the highest extended leaf.
    __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).edx & (1 << 27) != 0
}

/// Where the stub's handler and sigreturn trampoline sit in every app process.
pub fn handler_addr() -> u64 {
    super::stub::STUB_BASE + handler::HANDLER_OFF
}

pub fn restorer_addr() -> u64 {
    super::stub::STUB_BASE + handler::RESTORER_OFF
}

/// The kernel's `struct sigaction` for rt_sigaction(2) on x86-64.
#[repr(C)]
pub struct KernelSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

const SA_RESTORER: u64 = 0x0400_0000;

/// The SIGSYS disposition that routes trapped calls to the stub handler:
/// on the thread's alternate stack (its chunk), with every signal blocked
/// so no app handler can run, and trap, while the slot holds a request.
pub fn sigsys_action() -> KernelSigaction {
    KernelSigaction {
        handler: handler_addr(),
        flags: (libc::SA_SIGINFO | libc::SA_ONSTACK) as u64 | SA_RESTORER,
        restorer: restorer_addr(),
        mask: u64::MAX,
    }
}

#[cfg(test)]
mod tests;
