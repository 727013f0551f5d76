//! Application memory: copy-in/copy-out through process_vm_readv/writev,
//! or through a faster [`route`] the platform offers while it serves a call.

pub mod route;

use rvisor_syscalls::abi::{Iovec, Pod};
use rvisor_syscalls::Errno;

use crate::vfs::{UserMemory, VfsResult};

/// Longest path the app may pass (PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// Copies between the sentry and one app process's memory. Reads and writes
/// of unmapped or protected memory fail with EFAULT, as the kernel would.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// Host tid of any thread of the target process.
    pub pid: i32,
}

impl Memory {
    pub fn new(pid: i32) -> Memory {
        Memory { pid }
    }

    /// Reads up to buf.len() bytes; returns how many were readable before a fault.
    pub fn read_partial(&self, addr: u64, buf: &mut [u8]) -> usize {
        if buf.is_empty() {
            return 0;
        }
        if let Some(n) = route::read(self.pid, addr, buf) {
            return n;
        }
        let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: local iovec points to our own buffer of the stated length;
        // the remote side is validated by the kernel.
        let n = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            0
        } else {
            n as usize
        }
    }

    /// Up to `max` 64-bit words from `addr`: as many whole ones as are
    /// readable before a fault (none if the first is not).
    pub fn read_words_partial(&self, addr: u64, max: usize) -> Vec<u64> {
        let mut buf = vec![0u8; max * 8];
        let n = self.read_partial(addr, &mut buf) / 8 * 8;
        buf[..n].chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default())).collect()
    }

    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_partial(addr.wrapping_add(done as u64), &mut buf[done..]);
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            done += n;
        }
        Ok(())
    }

    /// Writes up to buf.len() bytes; returns how many were written before a fault.
    pub fn write_partial(&self, addr: u64, buf: &[u8]) -> usize {
        if buf.is_empty() {
            return 0;
        }
        if let Some(n) = route::write(self.pid, addr, buf) {
            return n;
        }
        let local = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: local iovec points to our own buffer; the kernel checks the remote range.
        let n = unsafe { libc::process_vm_writev(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            0
        } else {
            n as usize
        }
    }

    pub fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.write_partial(addr.wrapping_add(done as u64), &buf[done..]);
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            done += n;
        }
        Ok(())
    }

    pub fn read_val<T: Pod>(&self, addr: u64) -> Result<T, Errno> {
        let mut v = T::zeroed();
        // SAFETY: T is Pod, so any bytes form a valid value; the slice covers exactly v.
        let bytes = unsafe { std::slice::from_raw_parts_mut(&mut v as *mut T as *mut u8, std::mem::size_of::<T>()) };
        self.read(addr, bytes)?;
        Ok(v)
    }

    pub fn write_val<T: Pod>(&self, addr: u64, v: &T) -> Result<(), Errno> {
        self.write(addr, v.as_bytes())
    }

    /// Reads a NUL-terminated string of at most `max` bytes (excluding NUL).
    /// ENAMETOOLONG if no NUL within `max`, EFAULT on a bad pointer.
    pub fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 256];
        let mut cur = addr;
        loop {
            // Never read across a page boundary in one go: the next page may be unmapped.
            let to_page_end = 4096 - (cur as usize & 4095);
            let want = chunk.len().min(to_page_end);
            let n = self.read_partial(cur, &mut chunk[..want]);
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            if let Some(pos) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..pos]);
                if out.len() > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..n]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            cur = cur.wrapping_add(n as u64);
        }
    }

    /// Reads a path argument: EFAULT for NULL/bad pointers, ENAMETOOLONG past PATH_MAX.
    pub fn read_path(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        if addr == 0 {
            return Err(Errno::EFAULT);
        }
        self.read_cstring(addr, PATH_MAX - 1)
    }

    /// Reads a NULL-terminated array of string pointers (argv/envp). The
    /// pointers come in batches and the strings through a read-ahead window
    /// (an environment's strings usually lie side by side), so a large
    /// environment costs a few reads instead of two per string.
    pub fn read_string_array(&self, addr: u64, max_total: usize) -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        let (mut ptrs, mut next_ptr) = (Vec::new().into_iter(), addr);
        let mut window = Window::default();
        loop {
            let p = match ptrs.next() {
                Some(p) => p,
                None => {
                    let batch = self.read_words_partial(next_ptr, 64);
                    if batch.is_empty() {
                        return Err(Errno::EFAULT);
                    }
                    next_ptr = next_ptr.wrapping_add(8 * batch.len() as u64);
                    ptrs = batch.into_iter();
                    continue;
                }
            };
            if p == 0 {
                break;
            }
            let s = window.string_at(self, p, max_total)?;
            total += s.len() + 1 + 8;
            if total > max_total {
                return Err(Errno::E2BIG);
            }
            out.push(s);
        }
        Ok(out)
    }

    /// Reads an iovec array (at most IOV_MAX entries).
    pub fn read_iovecs(&self, addr: u64, count: u64) -> Result<Vec<Iovec>, Errno> {
        if count > 1024 {
            return Err(Errno::EINVAL);
        }
        let mut v = Vec::with_capacity(count as usize);
        let mut total: u64 = 0;
        for i in 0..count {
            let iov: Iovec = self.read_val(addr.wrapping_add(i * 16))?;
            if iov.iov_len > isize::MAX as u64 {
                return Err(Errno::EINVAL);
            }
            total = total.checked_add(iov.iov_len).ok_or(Errno::EINVAL)?;
            if total > isize::MAX as u64 {
                return Err(Errno::EINVAL);
            }
            v.push(iov);
        }
        Ok(v)
    }
}

/// App memory read ahead of the strings [`Memory::read_string_array`] needs.
#[derive(Default)]
struct Window {
    base: u64,
    data: Vec<u8>,
}

impl Window {
    const SIZE: usize = 4096;

    /// The NUL-terminated string at `addr` (at most `max` bytes), from the
    /// window if it holds the whole string, else read ahead from `addr`.
    fn string_at(&mut self, mem: &Memory, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        if let Some(s) = self.find(addr) {
            return check_len(s, max);
        }
        self.data.resize(Self::SIZE, 0);
        let n = mem.read_partial(addr, &mut self.data);
        self.data.truncate(n);
        self.base = addr;
        if n == 0 {
            return Err(Errno::EFAULT);
        }
        match self.find(addr) {
            Some(s) => check_len(s, max),
            // Longer than the window: read it on its own.
            None => mem.read_cstring(addr, max),
        }
    }

    fn find(&self, addr: u64) -> Option<Vec<u8>> {
        let off = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let rest = self.data.get(off..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        Some(rest[..len].to_vec())
    }
}

fn check_len(s: Vec<u8>, max: usize) -> Result<Vec<u8>, Errno> {
    if s.len() > max {
        Err(Errno::ENAMETOOLONG)
    } else {
        Ok(s)
    }
}

impl UserMemory for Memory {
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> VfsResult<()> {
        self.read(addr, buf)
    }
    fn write_bytes(&self, addr: u64, buf: &[u8]) -> VfsResult<()> {
        self.write(addr, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> Memory {
        // SAFETY: getpid cannot fail.
        Memory::new(unsafe { libc::getpid() })
    }

    #[test]
    fn string_arrays_read_through_the_window_match_each_string() {
        // Side by side (one window), far apart, longer than a window, and
        // one ending right before an unmapped page.
        let packed: Vec<u8> = b"A=1\0BB=22\0\0CCC=333\0".to_vec();
        let long: Vec<u8> = [vec![b'x'; 5000], vec![0]].concat();
        // SAFETY: anonymous mapping of two fresh pages; the second is unmapped again.
        let page = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            libc::munmap(p.cast::<u8>().add(4096).cast(), 4096);
            p.cast::<u8>()
        };
        let edge = b"EDGE=yes\0";
        // SAFETY: the first page is mapped and writable; edge fits at its end.
        let edge_addr = unsafe {
            let at = page.add(4096 - edge.len());
            std::ptr::copy_nonoverlapping(edge.as_ptr(), at, edge.len());
            at as u64
        };
        let base = packed.as_ptr() as u64;
        let ptrs: Vec<u64> = vec![base, base + 4, base + 10, base + 11, long.as_ptr() as u64, edge_addr, base, 0];
        let got = own().read_string_array(ptrs.as_ptr() as u64, 1 << 20).unwrap();
        let want: Vec<&[u8]> = vec![b"A=1", b"BB=22", b"", b"CCC=333", &long[..5000], b"EDGE=yes", b"A=1"];
        assert_eq!(got, want);
        // Limits and faults.
        assert_eq!(own().read_string_array(ptrs.as_ptr() as u64, 100).unwrap_err(), Errno::ENAMETOOLONG);
        assert_eq!(own().read_string_array(ptrs[..4].as_ptr() as u64 + 8 * 3, 10).unwrap_err(), Errno::E2BIG);
        let bad = [page as u64 + 4096, 0];
        assert_eq!(own().read_string_array(bad.as_ptr() as u64, 1 << 20).unwrap_err(), Errno::EFAULT);
        // A pointer array that runs into the unmapped page without a NULL.
        // SAFETY: the last word of the mapped page.
        let tail = unsafe {
            let at = page.add(4096 - 8).cast::<u64>();
            at.write_unaligned(base);
            at as u64
        };
        assert_eq!(own().read_string_array(tail, 1 << 20).unwrap_err(), Errno::EFAULT);
        // SAFETY: unmaps the page mapped above.
        unsafe { libc::munmap(page.cast(), 4096) };
    }
}
