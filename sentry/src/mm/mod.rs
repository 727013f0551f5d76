//! Application memory: copy-in/copy-out through process_vm_readv/writev.

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

    /// Reads a NULL-terminated array of string pointers (argv/envp).
    pub fn read_string_array(&self, addr: u64, max_total: usize) -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        for i in 0.. {
            let p: u64 = self.read_val(addr.wrapping_add(i * 8))?;
            if p == 0 {
                break;
            }
            let s = self.read_cstring(p, max_total)?;
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

impl UserMemory for Memory {
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> VfsResult<()> {
        self.read(addr, buf)
    }
    fn write_bytes(&self, addr: u64, buf: &[u8]) -> VfsResult<()> {
        self.write(addr, buf)
    }
}
