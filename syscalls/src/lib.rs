//! The Linux x86_64 system call ABI as plain data.
//!
//! Nothing in this crate performs I/O: it names syscalls and errno values,
//! defines the `#[repr(C)]` structures exchanged with applications and
//! formats arguments for `--strace`.

pub mod abi;
pub mod errno;
pub mod format;

pub use errno::Errno;
pub use linux_sysno::Sysno;

/// Result of an emulated system call: a non-negative value or an errno.
pub type SysResult = Result<i64, Errno>;

/// Name of syscall number `nr`, or `None` if x86_64 Linux has no such syscall.
pub fn syscall_name(nr: u64) -> Option<&'static str> {
    usize::try_from(nr).ok().and_then(Sysno::new).map(|s| s.name())
}
