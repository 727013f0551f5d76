//! A process's copy file: a sealed memfd the app process holds at
//! `kernel::COPY_FD` and the sentry maps, through which the stub's handler
//! copies the app's memory in the app's own context (`pwrite64` from the
//! app's buffer into the file, `pread64` from the file into the app's
//! buffer) for the sentry to read or fill in its mapping.
//!
//! A copy this way costs a command to the waiting handler and one call
//! there, ~0.7 µs here; `process_vm_readv`/`writev` from the sentry costs
//! ~1.5-2 µs (a remote page-table walk and a ptrace access check each).
//! Faults are the kernel's to report: a short count or EFAULT, as
//! `process_vm_readv` gives.
//!
//! The file is split into [`AREAS`] areas of [`AREA`] bytes, one per app
//! thread using it. Its size is sealed: the app, which can jump to the
//! handler's exec site with arguments of its own, cannot grow it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use rvisor_syscalls::Errno;

/// One thread's area: the largest copy that goes this way.
pub const AREA: usize = 16 * 1024;
/// Areas per file: threads beyond that copy with `process_vm_readv`.
pub const AREAS: usize = 64;

/// The sentry's side of one process's copy file.
pub struct CopyFile {
    fd: OwnedFd,
    map: memmap2::MmapRaw,
    /// Bit `i` set: area `i` is free.
    free: AtomicU64,
}

impl CopyFile {
    /// A new zero-filled file of [`AREAS`] areas, its size sealed.
    pub fn new() -> Result<CopyFile, Errno> {
        // SAFETY: the name is a NUL-terminated literal.
        let raw = unsafe { libc::memfd_create(c"rvisor-copy".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if raw < 0 {
            return Err(Errno::last());
        }
        // SAFETY: memfd_create returned a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let len = AREA * AREAS;
        // SAFETY: ftruncate and F_ADD_SEALS on our own fd.
        unsafe {
            if libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) != 0 {
                return Err(Errno::last());
            }
            let seals = libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
            if libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) != 0 {
                return Err(Errno::last());
            }
        }
        let map = memmap2::MmapOptions::new().len(len).map_raw(fd.as_raw_fd()).map_err(|_| Errno::ENOMEM)?;
        Ok(CopyFile { fd, map, free: AtomicU64::new(u64::MAX) })
    }

    /// The memfd, to install in the app process at `kernel::COPY_FD`.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// A free area for a thread, if any is left.
    pub fn take_area(&self) -> Option<usize> {
        let mut cur = self.free.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return None;
            }
            let i = cur.trailing_zeros() as usize;
            match self.free.compare_exchange_weak(cur, cur & !(1 << i), Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(i),
                Err(now) => cur = now,
            }
        }
    }

    /// Gives area `i` back.
    pub fn give_back(&self, i: usize) {
        if i < AREAS {
            self.free.fetch_or(1 << i, Ordering::AcqRel);
        }
    }

    /// Where area `i` starts in the file.
    pub fn offset(i: usize) -> u64 {
        (i * AREA) as u64
    }

    /// Copies the start of area `i` into `buf` (at most [`AREA`] bytes).
    pub fn read_area(&self, i: usize, buf: &mut [u8]) {
        let n = buf.len().min(AREA);
        if i >= AREAS {
            return;
        }
        // SAFETY: area i lies inside the mapping, which lives as long as
        // self, and starts 8-aligned (a multiple of AREA from a page).
        unsafe { super::load_shared(self.map.as_ptr().add(i * AREA), &mut buf[..n]) }
    }

    /// Copies `buf` (at most [`AREA`] bytes) to the start of area `i`.
    pub fn write_area(&self, i: usize, buf: &[u8]) {
        let n = buf.len().min(AREA);
        if i >= AREAS {
            return;
        }
        // SAFETY: as in read_area.
        unsafe { super::store_shared(self.map.as_mut_ptr().add(i * AREA), &buf[..n]) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_handed_out_once() {
        let f = CopyFile::new().unwrap();
        let all: Vec<usize> = std::iter::from_fn(|| f.take_area()).collect();
        assert_eq!(all, (0..AREAS).collect::<Vec<_>>());
        f.give_back(5);
        assert_eq!(f.take_area(), Some(5));
        assert_eq!(f.take_area(), None);
    }

    /// The size is sealed (the app cannot grow the file through its fd),
    /// and what the kernel writes at an area's offset is what the sentry
    /// reads there, and back.
    #[test]
    fn sealed_and_shared_with_the_mapping() {
        let f = CopyFile::new().unwrap();
        let end = (AREA * AREAS) as libc::off_t;
        // SAFETY: pwrite from a valid buffer to our own fd.
        let r = unsafe { libc::pwrite(f.fd(), b"x".as_ptr().cast(), 1, end) };
        assert_eq!((r, Errno::last()), (-1, Errno::EPERM));
        let data: Vec<u8> = (0..100u8).collect();
        let off = CopyFile::offset(3) as libc::off_t;
        // SAFETY: as above.
        assert_eq!(unsafe { libc::pwrite(f.fd(), data.as_ptr().cast(), data.len(), off) }, 100);
        let mut got = vec![0u8; 100];
        f.read_area(3, &mut got);
        assert_eq!(got, data);
        f.write_area(4, &data[..13]);
        let mut back = [0u8; 13];
        let off = CopyFile::offset(4) as libc::off_t;
        // SAFETY: pread into a valid buffer from our own fd.
        assert_eq!(unsafe { libc::pread(f.fd(), back.as_mut_ptr().cast(), 13, off) }, 13);
        assert_eq!(&back[..], &data[..13]);
    }
}
