//! The systrap platform (work in progress; see docs/systrap-status.md).
//!
//! The app filter returns RET_TRAP, the kernel raises SIGSYS, and the stub's
//! handler ([`handler`]) hands the call to the sentry through the thread's
//! slot ([`slot`]) of a shared memfd region, spinning before it sleeps.
//!
//! Region layout: chunk `i` (64 KiB, 64 KiB-aligned) of the region serves
//! one app thread. Its first [`slot::SLOT_LEN`] bytes are the slot; the
//! whole chunk is the thread's alternate signal stack, so the handler (run
//! with SA_ONSTACK) finds its slot by rounding its stack pointer down.
//!
//! Not wired into the run loop yet: a traced thread's SIGSYS is a ptrace
//! signal-delivery stop, which costs as much as the seccomp stop it was
//! meant to avoid (bench: "SIGSYS under ptrace"), so the hot path needs app
//! threads that are *not* ptrace-stopped for every signal. The status file
//! describes the plan.

pub mod handler;
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

/// The shared region as the sentry maps it.
pub struct Region {
    fd: OwnedFd,
    map: memmap2::MmapRaw,
    chunks: usize,
}

impl Region {
    /// A region of `chunks` zeroed chunks backed by a new memfd.
    pub fn new(chunks: usize) -> Result<Region, Errno> {
        // SAFETY: the name is a NUL-terminated literal.
        let raw = unsafe { libc::memfd_create(c"rvisor-systrap".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(Errno::last());
        }
        // SAFETY: memfd_create returned a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let len = chunks.checked_mul(CHUNK).ok_or(Errno::EINVAL)?;
        // SAFETY: ftruncate on our own fd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(Errno::last());
        }
        let map = memmap2::MmapOptions::new().len(len).map_raw(fd.as_raw_fd()).map_err(|_| Errno::ENOMEM)?;
        let region = Region { fd, map, chunks };
        for i in 0..chunks {
            if let Some(s) = region.slot(i) {
                s.reset();
            }
        }
        Ok(region)
    }

    /// The memfd, to map into app processes at [`REGION_BASE`].
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Chunk `i`'s slot, if the region has that chunk.
    pub fn slot(&self, i: usize) -> Option<slot::Slot<'_>> {
        (i < self.chunks).then(|| {
            // SAFETY: chunk i lies inside the mapping (checked above), is
            // page-aligned, and the mapping lives as long as the borrow.
            unsafe { slot::Slot::new(self.map.as_mut_ptr().add(i * CHUNK)) }
        })
    }

    /// Raw pointer to byte `off` of chunk `i` (tests and the bench use the
    /// space after the slot to pass data).
    pub fn chunk_ptr(&self, i: usize, off: usize) -> Option<*mut u8> {
        (i < self.chunks && off < CHUNK).then(|| {
            // SAFETY: in bounds as checked.
            unsafe { self.map.as_mut_ptr().add(i * CHUNK + off) }
        })
    }
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
