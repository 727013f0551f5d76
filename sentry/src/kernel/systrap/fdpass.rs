//! Host fds installed for a thread served detached, without ptrace.
//!
//! The sentry installs a file's host fd in an app process to map or read
//! it there (syscalls/appfds.rs), and the copy file (copy.rs). Through
//! ptrace that is an injected `recvmsg` on the socket every app process
//! shares (`kernel::INJECT_FD`), which the exec site may not use: an app
//! jumping there could take fds queued for other processes. So a detached
//! thread needing one used to go back to ptrace (a seize, a rewound SIGSYS
//! stop, a later detach: the "first map" of each file, tens of µs).
//!
//! Instead each image exec made gets a socket of its own at
//! `kernel::INSTALL_FD`, passed along with the shared region when its first
//! thread is set up (`set_up`, traced anyway); a fork child that has not
//! exec'd does without. For a detached thread the sentry sends the fd
//! on it and has the waiting handler run `recvmsg` there (MSG_DONTWAIT: it
//! never waits), with the msghdr in the thread's chunk, which the sentry
//! maps. Only fds meant for this very process are ever queued on it, and it
//! follows the copy file's rules to stay the process's own (owned.rs).

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use rvisor_syscalls::Errno;

use super::super::task::ThreadGroup;
use super::owned::{peek, with_entry};
use super::stubcalls::StubCalls;
use crate::kernel::INSTALL_FD;
use crate::platform::systrap::{Platform, Region};
use crate::syscalls::{received_fds, recvmsg_block, RECVMSG_CMSG_LEN, RECVMSG_CMSG_OFF, RECVMSG_MSG_OFF};

const _: () = assert!(INSTALL_FD < 1024, "inside the app's descriptor limit");
const _: () = assert!(crate::syscalls::RECVMSG_BLOCK <= crate::platform::systrap::SCRATCH_LEN);

/// The sentry's side of one process's install socket.
pub(super) struct InstallSocket {
    /// Where the sentry sends.
    send: OwnedFd,
    /// The app's end, which the sentry holds as well: what a failed pass
    /// left queued is drained through it before the next.
    recv: OwnedFd,
    /// One pass at a time: the queue must hold only the fd being passed.
    passing: Mutex<()>,
}

impl InstallSocket {
    /// A new datagram socket pair.
    pub(super) fn new() -> Result<InstallSocket, Errno> {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two fds into the array on success.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
        if r != 0 {
            return Err(Errno::last());
        }
        // SAFETY: fresh fds that nothing else owns.
        let (send, recv) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(InstallSocket { send, recv, passing: Mutex::new(()) })
    }

    /// The app's end, to install at `INSTALL_FD`.
    pub(super) fn app_end(&self) -> RawFd {
        self.recv.as_raw_fd()
    }

    /// Passes `fd` to the process of the thread waiting in the handler of
    /// `calls`, whose chunk is `chunk`: the number it arrived at there (not
    /// yet checked to be `fd`: the app can write the control message).
    fn pass(&self, calls: &StubCalls<'_>, region: &Region, chunk: usize, fd: RawFd) -> Result<i32, Errno> {
        let _one = self.passing.lock().unwrap_or_else(|e| e.into_inner());
        rvisor_gofer::transport::drain(self.recv.as_fd());
        // SAFETY: the caller holds `fd` open for the whole call.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        rvisor_gofer::transport::send(self.send.as_fd(), &[0], &[borrowed]).map_err(Errno::from)?;
        let at = Platform::chunk_addr(chunk) + crate::platform::systrap::SCRATCH_OFF as u64;
        if !region.write_scratch(chunk, 0, &recvmsg_block(at)) {
            return Err(Errno::EIO);
        }
        let flags = (libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) as u64;
        let args = [INSTALL_FD as u64, at + RECVMSG_MSG_OFF, flags, 0, 0, 0];
        let r = calls.exec_unchecked(libc::SYS_recvmsg, args).ok_or(Errno::ESRCH)?;
        Errno::result(r)?;
        let mut cmsg = [0u8; RECVMSG_CMSG_LEN];
        region.read_scratch(chunk, RECVMSG_CMSG_OFF, &mut cmsg);
        Ok(received_fds(&cmsg, 1)?[0])
    }
}

/// Whether `tg` should get a socket now: none yet in its image, and its fd
/// table its own.
pub(super) fn wants_socket(tg: &Arc<ThreadGroup>) -> bool {
    peek(tg, |e| e.is_none_or(|e| e.socket.is_none() && !e.never))
}

/// Whether `tg`'s current image has a socket.
pub(super) fn has_socket(tg: &Arc<ThreadGroup>) -> bool {
    peek(tg, |e| e.is_some_and(|e| e.socket.is_some()))
}

/// Records `socket` as installed in `tg`'s current image (unless its fd
/// table became shared meanwhile).
pub(super) fn record(tg: &Arc<ThreadGroup>, socket: InstallSocket) {
    with_entry(tg, |e| {
        if !e.never {
            e.socket = Some(Arc::new(socket));
        }
    });
}

/// Passes `fd` to a detached thread of `tg` waiting in the handler (see
/// [`InstallSocket::pass`]); None if its process has no socket to use.
pub(super) fn pass(
    calls: &StubCalls<'_>,
    tg: &Arc<ThreadGroup>,
    chunk: usize,
    fd: RawFd,
) -> Option<Result<i32, Errno>> {
    let socket = peek(tg, |e| e.and_then(|e| e.socket.clone()))?;
    let region = &crate::platform::systrap::active()?.region;
    Some(socket.pass(calls, region, chunk, fd))
}
