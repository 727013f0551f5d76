//! System call handlers, one file per family, and the dispatch table.
//!
//! Each handler takes the stopped task's context and the six raw argument
//! registers and returns a value or an errno. Handlers copy app memory in
//! once, act on the copy, and never panic on app input.

pub mod appfds;
pub mod caps;
pub mod creds;
pub mod dir;
pub mod dnotify;
pub mod epoll;
pub mod fd;
pub mod file;
pub mod futex;
pub mod hostread;
pub mod inotify;
pub mod inspect;
pub mod io;
pub mod ipc;
pub mod lease;
pub mod mm;
pub mod pidfd;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod sigio;
pub mod signal;
pub mod signalfd;
pub mod socket;
pub mod splice;
pub mod stat;
pub mod sys;
pub mod table;
pub mod time;
pub mod timerfd;
pub mod wait;
pub mod xattr;

use std::io::Write;
use std::os::fd::{AsFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvisor_syscalls::abi::{Pod, UserRegs};
use rvisor_syscalls::{Errno, SysResult};

use crate::kernel::wait::{wait_fds, Woken};
use crate::kernel::{Kernel, Task, INJECT_FD};
use crate::mm::Memory;
use crate::platform::ptrace::{complete_syscall, SyscallInfo, Tracee};
use crate::vfs::path::{ParentAndName, ResolveFlags, Resolver};
use crate::vfs::{Location, OpenFile, VfsResult};

pub use table::{dispatch, TABLE};

/// What the run loop does with the tracee after a handler returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Write the result into rax and skip the host syscall.
    Return,
    /// The handler replaced all registers (execve, sigreturn-like).
    RegsSet,
    /// The host already ran the call in the app's context and rax holds its
    /// result (see `Tracee::run_in_place`): write nothing back.
    Ran,
}

/// A trapped syscall being handled.
pub struct SyscallCtx<'a> {
    pub kernel: &'a Arc<Kernel>,
    pub task: &'a Arc<Task>,
    pub tracee: &'a Tracee,
    /// Registers at the stop, read on first use (see [`SyscallCtx::regs`]);
    /// the result is written into a copy of these. Until `full_regs`, only
    /// the syscall-info fields (orig_rax, rip, rsp, arguments) are valid.
    regs: UserRegs,
    full_regs: bool,
    pub mem: Memory,
    /// Signals that arrived during injected syscalls, raised again on resume.
    pub deferred: Vec<rvisor_syscalls::abi::Siginfo>,
    pub outcome: Outcome,
    /// The temporary signal mask of a ppoll/pselect6/epoll_pwait in progress:
    /// it decides which signals interrupt the wait.
    pub wait_mask: Option<u64>,
    /// Systrap's detached mode: the ucontext of the stub's SIGSYS handler the
    /// thread waits in. Signal checks read the thread's pending signals from
    /// /proc and the mask it returns to from here, as ptrace cannot be used.
    pub frame: Option<u64>,
    /// Systrap's detached mode: runs some host calls in the app's context
    /// without ptrace (see [`AppCalls`]); `inject` tries it first.
    pub app_calls: Option<&'a dyn AppCalls>,
}

/// A way to run host syscalls in the app's context without ptrace: for a
/// thread systrap serves detached, the stub handler runs them on the
/// sentry's command (kernel/systrap/stubcalls.rs).
pub trait AppCalls {
    /// Runs `nr` with `args` and returns its raw result; None if this way
    /// cannot run that call (the caller then needs ptrace), Err(ESRCH) if
    /// the thread is gone.
    fn run(&self, nr: i64, args: [u64; 6]) -> Option<Result<i64, Errno>>;

    /// Passes host fd `fd` into the app process (close-on-exec) and returns
    /// its number there, unchecked; None if this way cannot (ptrace then).
    fn pass_fd(&self, _fd: RawFd) -> Option<Result<i32, Errno>> {
        None
    }
}

/// The fds a `recvmsg` receives at most here (its control buffer's size).
pub const PASSED_FDS_MAX: usize = 2;
/// Bytes of a [`recvmsg_block`].
pub const RECVMSG_BLOCK: usize = 152;
/// Where the msghdr lies in a [`recvmsg_block`].
pub const RECVMSG_MSG_OFF: u64 = 96;
/// Where the control message lies in a [`recvmsg_block`], and its length.
pub const RECVMSG_CMSG_OFF: usize = 32;
pub const RECVMSG_CMSG_LEN: usize = 24;

/// What a `recvmsg` of one byte and up to [`PASSED_FDS_MAX`] fds takes, for
/// app memory at `at`: the iovec, the byte, the control buffer, the msghdr.
pub fn recvmsg_block(at: u64) -> [u8; RECVMSG_BLOCK] {
    let (buf_addr, cmsg_addr) = (at + 16, at + RECVMSG_CMSG_OFF as u64);
    let mut block = [0u8; RECVMSG_BLOCK];
    block[0..8].copy_from_slice(&buf_addr.to_ne_bytes());
    block[8..16].copy_from_slice(&1u64.to_ne_bytes());
    let msg = rvisor_syscalls::abi::MsgHdr {
        msg_iov: at,
        msg_iovlen: 1,
        msg_control: cmsg_addr,
        msg_controllen: RECVMSG_CMSG_LEN as u64,
        ..Default::default()
    };
    let m = RECVMSG_MSG_OFF as usize;
    block[m..m + 56].copy_from_slice(Pod::as_bytes(&msg));
    block
}

/// The `n` fd numbers a control message (read back from app memory, so
/// untrusted) says arrived.
pub fn received_fds(cmsg: &[u8; RECVMSG_CMSG_LEN], n: usize) -> Result<Vec<i32>, Errno> {
    let word = |at: usize| i32::from_ne_bytes([cmsg[at], cmsg[at + 1], cmsg[at + 2], cmsg[at + 3]]);
    let len = u64::from_ne_bytes(cmsg[0..8].try_into().unwrap_or_default());
    if n > PASSED_FDS_MAX || word(8) != libc::SOL_SOCKET || word(12) != libc::SCM_RIGHTS || len != 16 + 4 * n as u64 {
        return Err(Errno::EIO);
    }
    Ok((0..n).map(|i| word(16 + 4 * i)).collect())
}

pub const AT_FDCWD: i32 = -100;

/// Scratch space in the app's stack for data the sentry hands to a host
/// syscall it runs there: `size` bytes below the 128-byte red zone (which the
/// interrupted code may be using), 16-byte aligned.
pub fn stack_scratch(rsp: u64, size: u64) -> u64 {
    rsp.wrapping_sub(128 + size) & !15
}

/// Whether every call of a batch ran and succeeded (`SyscallCtx::inject_batch`,
/// whose results `done` are, of `calls` calls): else the error of the one
/// that failed, the last one run.
pub fn batch_succeeded(done: &[i64], calls: usize) -> Result<(), Errno> {
    match done.last() {
        Some(&r) if done.len() == calls => Errno::result(r).map(drop),
        Some(&r) => Err(Errno::result(r).err().unwrap_or(Errno::EIO)),
        None if calls == 0 => Ok(()),
        None => Err(Errno::EIO),
    }
}

impl<'a> SyscallCtx<'a> {
    /// A context over a stopped tracee whose registers are all known.
    pub fn new(kernel: &'a Arc<Kernel>, task: &'a Arc<Task>, tracee: &'a Tracee, regs: UserRegs) -> SyscallCtx<'a> {
        SyscallCtx {
            kernel,
            task,
            tracee,
            regs,
            full_regs: true,
            mem: Memory::new(task.host_tid()),
            deferred: Vec::new(),
            outcome: Outcome::Return,
            wait_mask: None,
            frame: None,
            app_calls: None,
        }
    }

    /// A context for a syscall stop described by `info`: the other
    /// registers are fetched only if a handler asks for them, which keeps
    /// the common stop at one cheap read and two one-word writes.
    pub fn at_syscall(kernel: &'a Arc<Kernel>, task: &'a Arc<Task>, tracee: &'a Tracee, info: &SyscallInfo) -> Self {
        let mut regs = UserRegs::zeroed();
        regs.orig_rax = info.nr;
        regs.rip = info.rip;
        regs.rsp = info.rsp;
        regs.set_syscall_args(info.args);
        let mut ctx = SyscallCtx::new(kernel, task, tracee, regs);
        ctx.full_regs = false;
        ctx
    }

    /// All of the tracee's registers at the stop (as changed by the handler so far).
    pub fn regs(&mut self) -> Result<&UserRegs, Errno> {
        if !self.full_regs {
            self.regs = self.tracee.get_regs()?;
            self.full_regs = true;
        }
        Ok(&self.regs)
    }

    /// Replaces all registers (execve); written back when the handler returns.
    pub fn set_regs(&mut self, regs: UserRegs) {
        self.regs = regs;
        self.full_regs = true;
    }

    /// Writes the handler's result back and lets the tracee go on: the
    /// result alone when no register was needed, else every register.
    pub fn finish(&mut self, ret: i64) -> Result<(), Errno> {
        match self.outcome {
            Outcome::Return if !self.full_regs => {
                let app_filtered = self.task.seccomp_mode.load(std::sync::atomic::Ordering::Relaxed) != 0;
                self.tracee.set_return(ret, app_filtered)
            }
            Outcome::Return => {
                complete_syscall(&mut self.regs, ret);
                self.tracee.set_regs(&self.regs)
            }
            Outcome::RegsSet => self.tracee.set_regs(self.regs()?),
            Outcome::Ran => Ok(()),
        }
    }

    /// Lets the host run the trapped call itself in the app's context,
    /// changed to syscall `nr` with argument `i` set to `v` for each `(i, v)`
    /// in `args` (see `Tracee::run_in_place`); returns the raw result, which
    /// the app then finds in rax. After an injection the tracee no longer sits
    /// at the syscall stop, so the call is injected instead (same result);
    /// so it is for a detached systrap thread, whose stub handler runs it.
    pub fn run_in_place(&mut self, nr: u64, args: &[(usize, u64)]) -> Result<i64, Errno> {
        if self.full_regs || self.app_calls.is_some() {
            let mut all = self.regs.syscall_args();
            for &(i, v) in args {
                all[i] = v;
            }
            return self.inject(nr as i64, all);
        }
        let info = SyscallInfo {
            nr: self.regs.orig_rax,
            args: self.regs.syscall_args(),
            rip: self.regs.rip,
            rsp: self.regs.rsp,
        };
        let ret = self.tracee.run_in_place(&info, nr, args, &mut self.deferred)?;
        self.outcome = Outcome::Ran;
        Ok(ret)
    }

    /// The trapped call: its number and arguments.
    pub fn trapped_call(&self) -> (u64, [u64; 6]) {
        (self.regs.orig_rax, self.regs.syscall_args())
    }

    /// Lets the host run the trapped call as the app made it: its result
    /// goes to the app without the sentry seeing it. Only at a ptrace
    /// seccomp stop nothing has touched yet (no registers read, nothing
    /// injected: the tracee still sits at the stop, where the seccomp
    /// recheck allows the call); false elsewhere, the call then still
    /// waits for an answer.
    pub fn let_through(&mut self) -> bool {
        if self.full_regs || self.app_calls.is_some() {
            return false;
        }
        self.outcome = Outcome::Ran;
        true
    }

    /// Runs one host syscall in the app's context.
    pub fn inject(&mut self, nr: i64, args: [u64; 6]) -> Result<i64, Errno> {
        if let Some(r) = self.app_calls.and_then(|c| c.run(nr, args)) {
            return r;
        }
        self.regs()?;
        self.tracee.inject_parked(&self.regs, nr, args, &mut self.deferred)
    }

    /// Whether `inject_batch` runs these calls with one stop: under
    /// systrap, for a thread the sentry traces, when the filter lets the
    /// batch site run every one of them.
    pub fn batches(&self, calls: &[(i64, [u64; 6])]) -> bool {
        self.app_calls.is_none()
            && crate::platform::systrap::active().is_some()
            && calls.iter().all(|&(nr, args)| crate::platform::filter::passes_at_exec_site(nr, args))
    }

    /// Runs `calls` in order in the app's context, as `inject` runs one,
    /// until one fails: returns the results of those that ran (the last
    /// one an error's if one failed). One stop for them all where
    /// `batches` says so, one each otherwise.
    pub fn inject_batch(&mut self, calls: &[(i64, [u64; 6])]) -> Result<Vec<i64>, Errno> {
        let failed = |r: i64| (-4095..0).contains(&r);
        if calls.len() < 2 || !self.batches(calls) {
            let mut done = Vec::with_capacity(calls.len());
            for &(nr, args) in calls {
                let r = self.inject(nr, args)?;
                done.push(r);
                if failed(r) {
                    break;
                }
            }
            return Ok(done);
        }
        use crate::platform::stub::{BATCH_ENTRY, BATCH_RESULT_OFF};
        let entry = BATCH_ENTRY;
        let table = stack_scratch(self.regs()?.rsp, calls.len() as u64 * entry);
        let mut bytes = Vec::with_capacity(calls.len() * entry as usize);
        for &(nr, args) in calls {
            bytes.extend((nr as u64).to_ne_bytes());
            for a in args {
                bytes.extend(a.to_ne_bytes());
            }
            bytes.extend(0u64.to_ne_bytes());
        }
        self.mem.write(table, &bytes)?;
        let end = self.tracee.run_batch(&self.regs, table, calls.len(), &mut self.deferred)?;
        // r13 counts the calls not yet run out; one that failed stopped
        // the runner at its own entry (r12).
        let ran = match end.r13 {
            0 => Some(calls.len() as u64),
            _ => end.r12.checked_sub(table).map(|d| d / entry + 1).filter(|&n| n <= calls.len() as u64),
        };
        let ran = ran.ok_or(Errno::EIO)? as usize;
        self.mem.read(table, &mut bytes[..ran * entry as usize])?;
        let result = |i: usize| {
            let at = i * entry as usize + BATCH_RESULT_OFF;
            i64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap_or_default())
        };
        Ok((0..ran).map(result).collect())
    }

    /// Like `inject`, at the stub's clone site (see `Tracee::inject_clone`):
    /// also returns the mask the child is to be given once seized.
    pub fn inject_clone(&mut self, nr: i64, args: [u64; 6], fork_site: bool) -> Result<(i64, u64), Errno> {
        self.regs()?;
        self.tracee.inject_clone(&self.regs, nr, args, fork_site, &mut self.deferred)
    }

    /// Installs host fd `fd` into the app process's host fd table (close-on-exec)
    /// and returns its number there. Used only around mmap; the app never sees it.
    pub fn inject_fd(&mut self, fd: RawFd) -> Result<i32, Errno> {
        if let Some(r) = self.app_calls.and_then(|c| c.pass_fd(fd)) {
            let app_fd = r?;
            self.check_passed(app_fd, fd)?;
            return Ok(app_fd);
        }
        Ok(self.inject_fds(&[fd])?[0])
    }

    /// Whatever the app's memory said, the app's fd must be the file sent.
    fn check_passed(&mut self, app_fd: i32, fd: RawFd) -> Result<(), Errno> {
        if appfds::same_file(self.task.host_tid(), app_fd, fd) {
            return Ok(());
        }
        if (0..crate::kernel::STUB_FD).contains(&app_fd) {
            self.close_injected(app_fd);
        }
        Err(Errno::EIO)
    }

    /// Installs host fds `fds` (at most [`PASSED_FDS_MAX`]) into the stopped
    /// app process with one injected `recvmsg` (close-on-exec) and returns
    /// their numbers there, each checked to be the file sent.
    pub fn inject_fds(&mut self, fds: &[RawFd]) -> Result<Vec<i32>, Errno> {
        if fds.is_empty() || fds.len() > PASSED_FDS_MAX {
            return Err(Errno::EINVAL);
        }
        let _guard = self.kernel.inject_lock.lock().unwrap_or_else(|e| e.into_inner());
        // Scratch space below the red zone of the app's stack for msghdr + iovec + cmsg.
        // Asked first: a thread the sentry cannot stop (detached under systrap)
        // fails here, before an fd is queued that no injection would take.
        let scratch = stack_scratch(self.regs()?.rsp, 256);
        // The socket is shared by every app process: an fd sent for a process
        // that was killed before its recvmsg ran is still queued, and the next
        // process would take it instead of its own. Nothing else is in flight
        // under the lock, so whatever is queued now is such a leftover.
        rvisor_gofer::transport::drain(self.kernel.inject_app.as_fd());
        // SAFETY: the caller holds every fd in `fds` open for the whole call.
        let borrowed: Vec<_> = fds.iter().map(|&fd| unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }).collect();
        rvisor_gofer::transport::send(self.kernel.inject_sock.as_fd(), &[0], &borrowed).map_err(Errno::from)?;
        self.mem.write(scratch, &recvmsg_block(scratch))?;
        let msg_addr = scratch + RECVMSG_MSG_OFF;
        let r = self.inject(libc::SYS_recvmsg, [INJECT_FD as u64, msg_addr, libc::MSG_CMSG_CLOEXEC as u64, 0, 0, 0])?;
        Errno::result(r)?;
        let mut cmsg = [0u8; RECVMSG_CMSG_LEN];
        self.mem.read(scratch + RECVMSG_CMSG_OFF as u64, &mut cmsg)?;
        let app_fds = received_fds(&cmsg, fds.len())?;
        for (&app_fd, &fd) in app_fds.iter().zip(fds) {
            if !appfds::same_file(self.task.host_tid(), app_fd, fd) {
                return Err(Errno::EIO);
            }
        }
        Ok(app_fds)
    }

    /// Installs host fd `fd` into the app process at number `at` (close-on-
    /// exec), replacing whatever the app's host fd table held there.
    pub fn inject_fd_at(&mut self, fd: RawFd, at: i32) -> Result<(), Errno> {
        let low = self.inject_fd(fd)?;
        if low == at {
            return Ok(());
        }
        let r = self.inject(libc::SYS_dup3, [low as u64, at as u64, libc::O_CLOEXEC as u64, 0, 0, 0]);
        self.close_injected(low);
        Errno::result(r?).map(|_| ())
    }

    /// Closes a host fd previously injected into the app.
    pub fn close_injected(&mut self, app_fd: i32) {
        let _ = self.inject(libc::SYS_close, [app_fd as u64, 0, 0, 0, 0, 0]);
    }

    /// Closes host fds previously injected into the app: with one
    /// `close_range` when they are consecutive numbers (as a recvmsg of
    /// several gives them), else one by one.
    pub fn close_injected_all(&mut self, app_fds: &[i32]) {
        let (Some(&lo), Some(&hi)) = (app_fds.iter().min(), app_fds.iter().max()) else { return };
        if app_fds.len() > 1 && (hi - lo) as usize + 1 == app_fds.len() {
            let _ = self.inject(libc::SYS_close_range, [lo as u64, hi as u64, 0, 0, 0, 0]);
        } else {
            for &fd in app_fds {
                self.close_injected(fd);
            }
        }
    }

    pub fn file(&self, fd: i32) -> VfsResult<Arc<OpenFile>> {
        self.task.files().get(fd)
    }

    /// The location `dirfd` names for *at() calls.
    pub fn dir_location(&self, dirfd: i32) -> VfsResult<Location> {
        if dirfd == AT_FDCWD {
            return Ok(self.task.fs().get().cwd);
        }
        let f = self.file(dirfd)?;
        f.location().cloned().ok_or(Errno::ENOTDIR)
    }

    /// Resolves `path` relative to `dirfd`.
    pub fn resolve_at(&self, dirfd: i32, path: &[u8], follow: bool) -> VfsResult<Location> {
        self.resolve_at_flags(dirfd, path, follow, ResolveFlags::default())
    }

    pub fn resolve_at_flags(&self, dirfd: i32, path: &[u8], follow: bool, flags: ResolveFlags) -> VfsResult<Location> {
        self.with_resolver(dirfd, path, flags, |r, start| r.resolve(start, path, follow))
    }

    /// Like `resolve_parent_at`, under openat2's RESOLVE_* restrictions.
    pub fn resolve_parent_at_flags(&self, dirfd: i32, path: &[u8], flags: ResolveFlags) -> VfsResult<ParentAndName> {
        self.with_resolver(dirfd, path, flags, |r, start| r.resolve_parent(start, path))
    }

    /// Runs `walk` with a resolver carrying `flags` and the directory `path`
    /// starts from: the root for an absolute path, unless RESOLVE_BENEATH or
    /// RESOLVE_IN_ROOT keep it at `dirfd`.
    fn with_resolver<T>(
        &self,
        dirfd: i32,
        path: &[u8],
        flags: ResolveFlags,
        walk: impl FnOnce(&Resolver<'_>, &Location) -> VfsResult<T>,
    ) -> VfsResult<T> {
        let fs = self.task.fs().get();
        let creds = self.task.creds().fs();
        let start = if path.first() == Some(&b'/') && !flags.beneath && !flags.in_root {
            fs.root.clone()
        } else {
            self.dir_location(dirfd)?
        };
        let mut r = Resolver::new(&fs.root, &self.kernel.mounts, &creds);
        r.flags = flags;
        walk(&r, &start)
    }

    pub fn resolve_parent_at(&self, dirfd: i32, path: &[u8]) -> VfsResult<ParentAndName> {
        let start = if path.first() == Some(&b'/') { self.task.fs().get().root } else { self.dir_location(dirfd)? };
        self.resolve_parent_from(&start, path)
    }

    /// Like `resolve_parent_at` with an explicit starting directory.
    pub fn resolve_parent_from(&self, start: &Location, path: &[u8]) -> VfsResult<ParentAndName> {
        let fs = self.task.fs().get();
        let creds = self.task.creds().fs();
        let start = if path.first() == Some(&b'/') { fs.root.clone() } else { start.clone() };
        Resolver::new(&fs.root, &self.kernel.mounts, &creds).resolve_parent(&start, path)
    }

    /// Resolves a path argument at `addr`, honouring AT_EMPTY_PATH (use dirfd itself).
    pub fn resolve_arg(&self, dirfd: i32, addr: u64, follow: bool, empty_ok: bool) -> VfsResult<Location> {
        let path = self.mem.read_path(addr)?;
        if path.is_empty() {
            if empty_ok {
                if dirfd == AT_FDCWD {
                    return Ok(self.task.fs().get().cwd);
                }
                let f = self.file(dirfd)?;
                return f.location().cloned().ok_or(Errno::EBADF);
            }
            return Err(Errno::ENOENT);
        }
        self.resolve_at(dirfd, &path, follow)
    }

    /// Sleeps until a host fd in `fds` is ready or `timeout_ms` passes (-1 =
    /// forever). A signal the task will act on (neither blocked nor ignored)
    /// cuts it short with ERESTARTSYS, which the run loop turns into a restart
    /// or EINTR as Linux does; sandbox shutdown gives EINTR. Callers re-check
    /// their condition after Ok (wake-ups may be spurious).
    ///
    /// Signals the host raises itself (alarm, setitimer and POSIX timers run
    /// on the host) reach the app thread without telling the sentry, so a
    /// long wait also looks at the thread's host pending set now and then:
    /// every 10 ms at first, every 50 ms after the first 100 ms, and just
    /// after one of the process's timers fires (kernel/timer_wakes.rs).
    pub fn block(&self, fds: &[(RawFd, i16)], timeout_ms: i32) -> Result<(), Errno> {
        let deadline = (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
        let started = Instant::now();
        let _state = crate::kernel::task::SyscallStateGuard::enter(self.task, crate::kernel::task::SYSCALL_SLEEPING);
        loop {
            let mut slice_ms = if started.elapsed() < Duration::from_millis(100) { 10 } else { 50 };
            let now = Instant::now();
            if let Some(fires) = self.task.tg.lock().timer_wakes.next_after(now) {
                // Rounded up, plus a millisecond for the host's delivery.
                let until = (fires - now).as_micros().div_ceil(1000) as i32 + 1;
                slice_ms = slice_ms.min(until);
            }
            let left_ms = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as i32);
            let (wait_ms, last) = match left_ms {
                Some(l) if l <= slice_ms => (l, true),
                _ => (slice_ms, false),
            };
            match wait_fds(fds, self.task.interrupt.raw(), wait_ms) {
                Woken::Interrupted => {
                    self.task.interrupt.clear();
                    if self.signal_pending() {
                        return Err(Errno::ERESTARTSYS);
                    }
                    break;
                }
                Woken::Ready => break,
                Woken::TimedOut if last => break,
                Woken::TimedOut => {
                    if self.signal_pending() {
                        return Err(Errno::ERESTARTSYS);
                    }
                    if self.kernel.shutting_down() {
                        break;
                    }
                }
            }
        }
        if self.kernel.shutting_down() {
            return Err(Errno::EINTR);
        }
        Ok(())
    }

    /// Whether a signal for this task (or sandbox shutdown) should cut a wait short.
    pub fn interrupted(&self) -> bool {
        self.task.interrupt.drain() && self.signal_pending() || self.kernel.shutting_down()
    }

    /// Whether a signal the task will act on is pending.
    pub fn signal_pending(&self) -> bool {
        match self.frame {
            // A wait's temporary mask applies only to a traced delivery (the
            // detached server hands the call back then).
            Some(_) if self.wait_mask.is_some() => true,
            Some(uctx) => crate::kernel::systrap::frame_deliverable(self, uctx).is_some(),
            None => crate::kernel::signal::deliverable(self.task, self.tracee, self.wait_mask).is_some(),
        }
    }

    /// Blocks until `fd` (a host fd) has `events` or a signal interrupts.
    pub fn wait_host_fd(&self, fd: RawFd, events: i16) -> Result<(), Errno> {
        self.block(&[(fd, events)], -1)
    }

    /// Records an unsupported feature and returns `err`.
    pub fn unsupported(&self, what: &str, err: Errno) -> SysResult {
        self.kernel.note_unsupported(what);
        Err(err)
    }
}

/// --strace: formats the call before it runs. Only calls whose arguments
/// vanish with the old image (execve) are rendered now; the rest at exit,
/// when output buffers can be shown too.
pub fn strace_enter(ctx: &SyscallCtx<'_>, nr: u64, args: [u64; 6]) -> Option<String> {
    let exec = nr == libc::SYS_execve as u64 || nr == libc::SYS_execveat as u64;
    exec.then(|| rvisor_syscalls::format::format_call(nr, args, &StraceMem(ctx.mem)))
}

/// --strace: prints the finished call and its result.
pub fn strace_exit(ctx: &SyscallCtx<'_>, nr: u64, args: [u64; 6], ret: &SysResult, entered: Option<String>) {
    let mem = StraceMem(ctx.mem);
    let raw = match ret {
        Ok(v) => *v,
        Err(e) => e.as_return(),
    };
    let line = match entered {
        Some(call) => format!("{call} {}", rvisor_syscalls::format::format_return(nr, raw, args, &mem)),
        None => rvisor_syscalls::format::format_line(nr, args, raw, &mem),
    };
    // Never panic on a closed stderr (e.g. `rvisor do --strace ... 2>&1 | head`).
    let _ = writeln!(std::io::stderr(), "[pid {:>5}] {line}", ctx.task.tid);
}

struct StraceMem(Memory);

impl rvisor_syscalls::format::MemReader for StraceMem {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut v = vec![0u8; len];
        let n = self.0.read_partial(addr, &mut v);
        if n == 0 {
            return None;
        }
        v.truncate(n);
        Some(v)
    }
}
