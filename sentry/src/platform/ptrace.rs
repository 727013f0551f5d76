//! The ptrace platform: each application thread is a host thread traced by
//! its own sentry thread. The app's seccomp filter returns RET_TRACE for every
//! non-passthrough syscall, so the tracer sees a PTRACE_EVENT_SECCOMP stop,
//! decides the call and writes the result back.
//!
//! Only the sentry thread that attached may issue ptrace requests for a
//! tracee, so a [`Tracee`] is deliberately `!Send`: it lives and dies on its
//! tracer thread.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use rvisor_syscalls::abi::{Pod, Siginfo, UserRegs};
use rvisor_syscalls::Errno;

use super::filter::RESULT_NR_BASE;
use super::stub::{
    PARK_NR, STUB_BATCH, STUB_CLONE, STUB_FORK, STUB_LOOP, STUB_LOOP_PARK, STUB_LOOP_UNPARK, STUB_SYSCALL,
};

const PTRACE_EVENT_SECCOMP: i32 = 7;
const PTRACE_EVENT_STOP: i32 = 128;

/// Options every tracee is seized with.
/// PTRACE_O_TRACEEXIT: a thread stops as it starts to exit, before the
/// kernel clears its CLONE_CHILD_CLEARTID word and wakes pthread_join, so
/// the sentry can drop it first, as Linux has by the time join returns.
const OPTIONS: libc::c_int =
    libc::PTRACE_O_TRACESECCOMP | libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_TRACEEXIT;

/// The exit stop that PTRACE_O_TRACEEXIT asks for.
pub const PTRACE_EVENT_EXIT: i32 = 6;

/// Why a tracee stopped (or ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A trapped syscall (PTRACE_EVENT_SECCOMP): registers hold the call.
    Syscall,
    /// A signal is about to be delivered; continuing with it delivers it.
    Signal(i32),
    /// Group-stop or PTRACE_INTERRUPT stop.
    EventStop(i32),
    /// syscall-enter/exit stop (only after PTRACE_SYSCALL).
    SyscallTrace,
    /// Some other ptrace event stop.
    Event(i32),
    /// The thread exited with this status.
    Exited(i32),
    /// The thread was killed by this signal (core dumped?).
    Killed(i32, bool),
}

/// A trapped syscall as PTRACE_GET_SYSCALL_INFO reports it at a seccomp stop:
/// all most handlers need, for about half the cost of PTRACE_GETREGS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallInfo {
    pub nr: u64,
    pub args: [u64; 6],
    pub rip: u64,
    pub rsp: u64,
}

/// `struct ptrace_syscall_info` with its `seccomp` union member.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RawSyscallInfo {
    op: u8,
    reserved: u8,
    flags: u16,
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    nr: u64,
    args: [u64; 6],
    ret_data: u32,
    reserved2: u32,
}

const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;
/// Linux 6.16+; the libc crate does not define it yet.
const PTRACE_SET_SYSCALL_INFO: libc::c_uint = 0x4212;
/// Cleared once the kernel answers PTRACE_SET_SYSCALL_INFO with EIO.
static SET_INFO_WORKS: AtomicBool = AtomicBool::new(true);
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Offsets of rax and orig_rax in `struct user_regs_struct` (PTRACE_POKEUSER).
const RAX_OFFSET: u64 = std::mem::offset_of!(UserRegs, rax) as u64;
const ORIG_RAX_OFFSET: u64 = std::mem::offset_of!(UserRegs, orig_rax) as u64;
/// The argument registers in syscall order, likewise.
const ARG_OFFSETS: [u64; 6] = [
    std::mem::offset_of!(UserRegs, rdi) as u64,
    std::mem::offset_of!(UserRegs, rsi) as u64,
    std::mem::offset_of!(UserRegs, rdx) as u64,
    std::mem::offset_of!(UserRegs, r10) as u64,
    std::mem::offset_of!(UserRegs, r8) as u64,
    std::mem::offset_of!(UserRegs, r9) as u64,
];
/// -ERESTARTSYS ..= -ERESTART_RESTARTBLOCK: the kernel re-runs the call.
const RESTART_RANGE: std::ops::RangeInclusive<i64> = -516..=-512;

/// A traced host thread. Not `Send`: ptrace requests must come from the tracer thread.
pub struct Tracee {
    pub tid: i32,
    /// Resource usage the host reported when the thread was reaped.
    exit_usage: std::cell::Cell<Option<libc::rusage>>,
    /// Where the thread is stopped, as far as injections care.
    at: std::cell::Cell<At>,
    /// The registers at the injection loop's parking stop (`At::Parked`).
    parked_regs: std::cell::Cell<UserRegs>,
    /// The thread's own signal mask while an injection holds every signal
    /// blocked (`next_injection_stop`), to give back when it ends.
    held_mask: std::cell::Cell<Option<u64>>,
    _not_send: PhantomData<*const ()>,
}

/// The kind of stop a tracee sits at, for the injection loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// Running, or a stop other than the two below.
    Other,
    /// A seccomp stop of one of the app's own calls.
    Seccomp,
    /// The injection loop's parking stop (`inject_parked`), with the
    /// registers in `Tracee::parked_regs`. `skips`: orig_rax is -1, so
    /// continuing skips the parked getpid; until then, only another
    /// injection may continue the thread.
    Parked { skips: bool },
}

fn ptrace(req: libc::c_uint, tid: i32, addr: u64, data: u64) -> Result<i64, Errno> {
    // SAFETY: raw ptrace request; the kernel validates tid and pointers
    // (which always point to our own live buffers when non-zero).
    let r = unsafe { libc::syscall(libc::SYS_ptrace, req as libc::c_long, tid, addr, data) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

impl Tracee {
    /// Seizes `tid` from the calling thread, which becomes its tracer.
    pub fn seize(tid: i32) -> Result<Tracee, Errno> {
        ptrace(libc::PTRACE_SEIZE, tid, 0, OPTIONS as u64)?;
        Ok(Tracee {
            tid,
            exit_usage: std::cell::Cell::new(None),
            at: std::cell::Cell::new(At::Other),
            parked_regs: std::cell::Cell::new(UserRegs::zeroed()),
            held_mask: std::cell::Cell::new(None),
            _not_send: PhantomData,
        })
    }

    /// Stops a running tracee (PTRACE_INTERRUPT); wait() then reports EventStop.
    pub fn interrupt(&self) -> Result<(), Errno> {
        ptrace(libc::PTRACE_INTERRUPT, self.tid, 0, 0).map(|_| ())
    }

    pub fn get_regs(&self) -> Result<UserRegs, Errno> {
        let mut regs = UserRegs::zeroed();
        ptrace(libc::PTRACE_GETREGS, self.tid, 0, &mut regs as *mut UserRegs as u64)?;
        Ok(regs)
    }

    /// Sets every register. At the injection loop's parking stop a call
    /// number in orig_rax would run when the thread goes on, so there the
    /// thread is first moved to an ordinary stop, unless orig_rax is -1.
    pub fn set_regs(&self, regs: &UserRegs) -> Result<(), Errno> {
        if let At::Parked { .. } = self.at.get() {
            if regs.orig_rax != u64::MAX {
                self.unpark()?;
            } else {
                self.parked_regs.set(*regs);
                self.at.set(At::Parked { skips: true });
            }
        }
        self.write_regs(regs)
    }

    fn write_regs(&self, regs: &UserRegs) -> Result<(), Errno> {
        ptrace(libc::PTRACE_SETREGS, self.tid, 0, regs as *const UserRegs as u64).map(|_| ())
    }

    /// The trapped call at a seccomp stop. EINVAL at any other kind of stop.
    pub fn syscall_info(&self) -> Result<SyscallInfo, Errno> {
        let mut raw = RawSyscallInfo::default();
        let size = std::mem::size_of::<RawSyscallInfo>() as u64;
        ptrace(libc::PTRACE_GET_SYSCALL_INFO, self.tid, size, &mut raw as *mut RawSyscallInfo as u64)?;
        if raw.op != PTRACE_SYSCALL_INFO_SECCOMP || raw.arch != AUDIT_ARCH_X86_64 {
            return Err(Errno::EINVAL);
        }
        Ok(SyscallInfo { nr: raw.nr, args: raw.args, rip: raw.instruction_pointer, rsp: raw.stack_pointer })
    }

    /// Completes the trapped syscall with `ret` without running it, writing
    /// only rax and orig_rax: two PTRACE_POKEUSER cost less than one
    /// PTRACE_SETREGS (which also needs every register read first). A result
    /// of 0 or -errno takes one: orig_rax becomes a number the filter's
    /// recheck answers with that result (`filter::RESULT_NR_BASE`). Restart
    /// codes keep the two writes, so the kernel never restarts that number.
    /// Only at a seccomp stop (the recheck follows it). `app_filtered`: the
    /// app installed filters of its own, which the recheck would run on that
    /// number too (a default-deny one would kill): two writes then.
    pub fn set_return(&self, ret: i64, app_filtered: bool) -> Result<(), Errno> {
        // After an injection the caller writes every register back (the
        // thread is in the stub), never just the result.
        debug_assert!(!matches!(self.at.get(), At::Parked { .. }), "set_return after an injection");
        if !app_filtered && (-4095..=0).contains(&ret) && !RESTART_RANGE.contains(&ret) {
            return self.poke_user(ORIG_RAX_OFFSET, u64::from(RESULT_NR_BASE) + ret.unsigned_abs());
        }
        ptrace(libc::PTRACE_POKEUSER, self.tid, RAX_OFFSET, ret as u64)?;
        ptrace(libc::PTRACE_POKEUSER, self.tid, ORIG_RAX_OFFSET, u64::MAX).map(|_| ())
    }

    fn poke_user(&self, off: u64, val: u64) -> Result<(), Errno> {
        ptrace(libc::PTRACE_POKEUSER, self.tid, off, val).map(|_| ())
    }

    fn peek_user(&self, off: u64) -> Result<u64, Errno> {
        let mut val = 0u64;
        // The raw syscall stores the word at `data` (the libc wrapper returns it).
        ptrace(libc::PTRACE_PEEKUSER, self.tid, off, &mut val as *mut u64 as u64)?;
        Ok(val)
    }

    /// Lets the host run the trapped syscall (described by `info`) in the
    /// tracee's own context, as syscall `nr` with argument `i` set to `v` for
    /// each `(i, v)` in `args`, and returns its raw result (-errno on error).
    /// The changed argument registers are put back afterwards, so the app
    /// sees only the result in rax, exactly as if its own call had run. A
    /// call the host wants to restart is turned back into the original one,
    /// which traps again when the kernel restarts it.
    ///
    /// Costs one more stop (the syscall-exit stop) than an emulated call.
    pub fn run_in_place(
        &self,
        info: &SyscallInfo,
        nr: u64,
        args: &[(usize, u64)],
        deferred: &mut Vec<Siginfo>,
    ) -> Result<i64, Errno> {
        self.change_call(info, nr, args)?;
        // The seccomp recheck after this stop allows the (new) call: the
        // filter answered RET_TRACE, and a tracer-approved call runs.
        ptrace(libc::PTRACE_SYSCALL, self.tid, 0, 0)?;
        loop {
            match self.wait() {
                Stop::SyscallTrace => break,
                Stop::Signal(sig) => {
                    let si = self.get_siginfo().unwrap_or(Siginfo { si_signo: sig, ..Default::default() });
                    deferred.push(si);
                    ptrace(libc::PTRACE_SYSCALL, self.tid, 0, 0)?;
                }
                Stop::Syscall => {
                    // Not expected (the recheck allows the call); fail it
                    // rather than let it run unexamined.
                    self.set_return(Errno::EIO.as_return(), true)?;
                    ptrace(libc::PTRACE_SYSCALL, self.tid, 0, 0)?;
                }
                Stop::EventStop(_) | Stop::Event(_) => {
                    ptrace(libc::PTRACE_SYSCALL, self.tid, 0, 0)?;
                }
                Stop::Exited(_) | Stop::Killed(..) => return Err(Errno::ESRCH),
            }
        }
        let ret = self.peek_user(RAX_OFFSET)? as i64;
        if RESTART_RANGE.contains(&ret) && nr != info.nr {
            self.poke_user(ORIG_RAX_OFFSET, info.nr)?;
        }
        for &(i, _) in args {
            self.poke_user(ARG_OFFSETS[i], info.args[i])?;
        }
        Ok(ret)
    }

    /// Turns the trapped call at a seccomp stop into syscall `nr` with the
    /// `args` changes: one PTRACE_SET_SYSCALL_INFO (Linux 6.16+) where the
    /// kernel has it, else a PTRACE_POKEUSER per changed register. A
    /// request costs ~0.5 µs at a stop, so this saves up to 1 µs per call.
    fn change_call(&self, info: &SyscallInfo, nr: u64, args: &[(usize, u64)]) -> Result<(), Errno> {
        let changes = usize::from(nr != info.nr) + args.len();
        if changes > 1 && SET_INFO_WORKS.load(Ordering::Relaxed) {
            let mut raw = RawSyscallInfo {
                op: PTRACE_SYSCALL_INFO_SECCOMP,
                arch: AUDIT_ARCH_X86_64,
                nr,
                args: info.args,
                ..Default::default()
            };
            for &(i, v) in args {
                raw.args[i] = v;
            }
            let size = std::mem::size_of::<RawSyscallInfo>() as u64;
            match ptrace(PTRACE_SET_SYSCALL_INFO, self.tid, size, &raw as *const RawSyscallInfo as u64) {
                Ok(_) => return Ok(()),
                // Older kernels: EIO (unknown request); stops of another kind
                // or a layout the kernel refuses: EINVAL. Poke instead.
                Err(e) if e == Errno::EIO || e == Errno::EINVAL => {
                    if e == Errno::EIO {
                        SET_INFO_WORKS.store(false, Ordering::Relaxed);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if nr != info.nr {
            self.poke_user(ORIG_RAX_OFFSET, nr)?;
        }
        for &(i, v) in args {
            self.poke_user(ARG_OFFSETS[i], v)?;
        }
        Ok(())
    }

    pub fn get_siginfo(&self) -> Result<Siginfo, Errno> {
        let mut si = Siginfo::default();
        ptrace(libc::PTRACE_GETSIGINFO, self.tid, 0, &mut si as *mut Siginfo as u64)?;
        Ok(si)
    }

    /// Replaces the siginfo of the signal at a signal-delivery stop.
    pub fn set_siginfo(&self, si: &Siginfo) -> Result<(), Errno> {
        self.unpark()?;
        ptrace(libc::PTRACE_SETSIGINFO, self.tid, 0, si as *const Siginfo as u64).map(|_| ())
    }

    /// The thread's blocked-signal mask (bit n-1 = signal n).
    pub fn get_sigmask(&self) -> Result<u64, Errno> {
        let mut mask = 0u64;
        ptrace(libc::PTRACE_GETSIGMASK, self.tid, 8, &mut mask as *mut u64 as u64)?;
        Ok(mask)
    }

    /// Sets the thread's blocked-signal mask (PTRACE_SETSIGMASK).
    pub fn set_sigmask(&self, mask: u64) -> Result<(), Errno> {
        ptrace(libc::PTRACE_SETSIGMASK, self.tid, 8, &mask as *const u64 as u64).map(|_| ())
    }

    /// The thread's pending signals (`shared`: the process-wide queue).
    pub fn peek_siginfo(&self, shared: bool) -> Result<Vec<Siginfo>, Errno> {
        #[repr(C)]
        struct PeekArgs {
            off: u64,
            flags: u32,
            nr: i32,
        }
        const MAX: usize = 64;
        let args = PeekArgs { off: 0, flags: shared as u32, nr: MAX as i32 };
        let mut out = vec![Siginfo::default(); MAX];
        let n = ptrace(libc::PTRACE_PEEKSIGINFO, self.tid, &args as *const PeekArgs as u64, out.as_mut_ptr() as u64)?;
        out.truncate(n as usize);
        Ok(out)
    }

    /// Resumes the tracee, delivering `sig` if non-zero.
    pub fn cont(&self, sig: i32) -> Result<(), Errno> {
        self.leave_park(sig)?;
        self.at.set(At::Other);
        ptrace(libc::PTRACE_CONT, self.tid, 0, sig as u64).map(|_| ())
    }

    /// Lets the stopped tracee go (PTRACE_DETACH), delivering `sig` if
    /// non-zero; it runs on untraced (the systrap platform's detached mode)
    /// and every further request on this handle fails with ESRCH.
    pub fn detach(&self, sig: i32) -> Result<(), Errno> {
        self.leave_park(sig)?;
        self.at.set(At::Other);
        ptrace(libc::PTRACE_DETACH, self.tid, 0, sig as u64).map(|_| ())
    }

    /// Resumes a group-stopped tracee without ending the group-stop.
    pub fn listen(&self) -> Result<(), Errno> {
        self.unpark()?;
        self.at.set(At::Other);
        ptrace(libc::PTRACE_LISTEN, self.tid, 0, 0).map(|_| ())
    }

    /// Waits for the next stop of this tracee.
    pub fn wait(&self) -> Stop {
        loop {
            let mut status = 0;
            // SAFETY: zeroed rusage is a valid out-buffer.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: status and usage are valid out-pointers; __WALL covers threads.
            let r = unsafe { libc::wait4(self.tid, &mut status, libc::__WALL, &mut usage) };
            if r < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                // ECHILD: already reaped or never ours; treat as killed.
                return Stop::Killed(libc::SIGKILL, false);
            }
            let stop = decode_status(status);
            self.at.set(if stop == Stop::Syscall { At::Seccomp } else { At::Other });
            if matches!(stop, Stop::Exited(_) | Stop::Killed(..)) {
                self.exit_usage.set(Some(usage));
            }
            return stop;
        }
    }

    /// What the thread used, once wait() has reported its end.
    pub fn exit_usage(&self) -> Option<libc::rusage> {
        self.exit_usage.get()
    }

    /// Runs one syscall in the tracee's context at the stub's syscall site and
    /// returns its raw result. The tracee must be stopped; `base` supplies the
    /// registers to start from (only rip, rax, orig_rax and args are changed).
    /// Signals that arrive meanwhile are held back and returned in `deferred`
    /// (with their siginfo) for the caller to raise again.
    pub fn inject(&self, base: &UserRegs, nr: i64, args: [u64; 6], deferred: &mut Vec<Siginfo>) -> Result<i64, Errno> {
        self.run_at(STUB_SYSCALL, base, nr, args, deferred).map(|r| r.rax as i64)
    }

    /// Like `inject` but at the clone site, where a child (rax == 0) parks.
    /// The child is born with every signal blocked: until the sentry seizes
    /// it and gives it its registers, a handler would run on the stub's
    /// state. Returns the result and the thread's own mask, which the caller
    /// gives the child once it is seized. At the fork site (`fork_site`)
    /// the child first closes systrap's copy file (`kernel::COPY_FD`).
    pub fn inject_clone(
        &self,
        base: &UserRegs,
        nr: i64,
        args: [u64; 6],
        fork_site: bool,
        deferred: &mut Vec<Siginfo>,
    ) -> Result<(i64, u64), Errno> {
        let site = if fork_site { STUB_FORK } else { STUB_CLONE };
        self.with_signals_blocked(|| self.run_at(site, base, nr, args, deferred).map(|r| r.rax as i64))
    }

    /// Runs the table of `count` calls at `table` in the tracee's memory
    /// through the stub's batch runner (`stub::STUB_BATCH`), one stop for
    /// them all: it ends at the injection loop's park, as `inject_parked`
    /// leaves the thread (so the next injection costs one stop too).
    /// Returns the registers there (r12: the entry of a failed call, r13:
    /// how many were left). Every call must be one the filter lets the
    /// batch site run (`filter::passes_at_exec_site`): another would stop
    /// at seccomp (let through here, as an injection's own call is) or trap.
    pub fn run_batch(
        &self,
        base: &UserRegs,
        table: u64,
        count: usize,
        deferred: &mut Vec<Siginfo>,
    ) -> Result<UserRegs, Errno> {
        let mut regs = match self.at.get() {
            At::Parked { .. } => self.parked_regs.get(),
            _ => *base,
        };
        regs.rip = STUB_BATCH;
        regs.r12 = table;
        regs.r13 = count as u64;
        // From the park's seccomp stop, its getpid is skipped.
        regs.orig_rax = u64::MAX;
        self.write_regs(&regs)?;
        self.at.set(At::Other);
        ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
        self.releasing_mask(|| loop {
            let at_trap = self.next_injection_stop(deferred)?;
            let r = self.get_regs()?;
            if at_trap {
                // No filter yet: the park's getpid ran, then its int3.
                return if r.rip == STUB_LOOP_UNPARK + 1 { Ok(r) } else { Err(Errno::EIO) };
            }
            if r.rip == STUB_LOOP_PARK + 2 && r.orig_rax == PARK_NR {
                self.parked_regs.set(r);
                self.at.set(At::Parked { skips: false });
                return Ok(r);
            }
            self.cont(0)?;
        })
    }

    /// Runs `f` with every signal but SIGKILL and SIGSTOP blocked in the
    /// thread, then gives the thread its mask back; returns what `f` did
    /// and that mask.
    fn with_signals_blocked<T>(&self, f: impl FnOnce() -> Result<T, Errno>) -> Result<(T, u64), Errno> {
        let mask = self.get_sigmask()?;
        self.set_sigmask(!0)?;
        let done = f();
        self.set_sigmask(mask)?;
        Ok((done?, mask))
    }

    /// Runs one syscall in the tracee's context, as `inject` does, through
    /// the stub's injection loop: the thread stays at the loop's parking
    /// stop, where the next injected call replaces the parked getpid. So a
    /// run of injections costs one stop each, where `inject` costs two
    /// (the call's seccomp stop and the int3 after it); the first from an
    /// app's seccomp stop costs one too (the call replaces the app's), from
    /// another stop two. Whatever the caller does next with the thread
    /// brings it back to an ordinary stop first when that needs one
    /// (`set_regs` with a call number, signal stops' requests), at the cost
    /// of one stop. The app's own seccomp filters let every call from the
    /// stub's page through (syscalls/seccomp.rs), the parking getpid too.
    pub fn inject_parked(
        &self,
        base: &UserRegs,
        nr: i64,
        args: [u64; 6],
        deferred: &mut Vec<Siginfo>,
    ) -> Result<i64, Errno> {
        debug_assert_ne!(nr as u64, PARK_NR, "the parking number is never injected");
        let mut regs = match self.at.get() {
            At::Parked { .. } => self.parked_regs.get(),
            _ => *base,
        };
        regs.set_syscall_args(args);
        if matches!(self.at.get(), At::Other) {
            // Not at a syscall: the call runs at the loop's first `syscall`.
            regs.rip = STUB_LOOP;
            regs.rax = nr as u64;
            regs.orig_rax = u64::MAX;
        } else {
            // At a seccomp stop: the call takes the pending one's place and
            // returns into the loop as if made by its first `syscall` (the
            // recheck after the stop sees that trace site and allows it).
            regs.rip = STUB_LOOP + 2;
            regs.orig_rax = nr as u64;
        }
        self.write_regs(&regs)?;
        self.at.set(At::Other);
        ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
        self.releasing_mask(|| self.until_injected(deferred))
    }

    /// The stops of an injection through the loop, until its result.
    fn until_injected(&self, deferred: &mut Vec<Siginfo>) -> Result<i64, Errno> {
        loop {
            let at_trap = self.next_injection_stop(deferred)?;
            let r = self.get_regs()?;
            if at_trap {
                // The loop's int3 (no filter yet: the getpid ran), or an
                // execve that replaced the image, whose stub entry traps.
                return Ok(if r.rip == STUB_LOOP_UNPARK + 1 { r.rbx } else { r.rax } as i64);
            }
            if r.rip == STUB_LOOP_PARK + 2 && r.orig_rax == PARK_NR {
                self.parked_regs.set(r);
                self.at.set(At::Parked { skips: false });
                return Ok(r.rbx as i64);
            }
            // The call itself (its trace stop, or its restart after a
            // signal): let it run.
            self.cont(0)?;
        }
    }

    /// Runs the stops of an injection (`f`), then gives the thread back the
    /// mask the injection held, if it did (see `next_injection_stop`).
    fn releasing_mask<T>(&self, f: impl FnOnce() -> Result<T, Errno>) -> Result<T, Errno> {
        let done = f();
        if let Some(mask) = self.held_mask.take() {
            self.set_sigmask(mask)?;
        }
        done
    }

    /// Waits for the next stop of an injection that matters to it: true at
    /// an int3 of the stub (SIGTRAP with SI_KERNEL), false at a seccomp
    /// stop. Signals that arrive meanwhile are held back in `deferred` (a
    /// SIGTRAP sent by kill/tgkill is one of them), other stops passed.
    /// After the first, every signal stays blocked until the injection
    /// ends (`releasing_mask`): a periodic POSIX timer's signal is queued
    /// again as soon as it is taken, and a 1 ns one would otherwise stop
    /// the thread forever (LTP timer_settime03).
    fn next_injection_stop(&self, deferred: &mut Vec<Siginfo>) -> Result<bool, Errno> {
        loop {
            match self.wait() {
                Stop::Syscall => return Ok(false),
                Stop::Signal(libc::SIGTRAP) if self.get_siginfo().map_or(true, |si| si.si_code == SI_KERNEL) => {
                    return Ok(true)
                }
                Stop::Signal(sig) => {
                    let si = self.get_siginfo().unwrap_or(Siginfo { si_signo: sig, ..Default::default() });
                    deferred.push(si);
                    if self.held_mask.get().is_none() {
                        self.held_mask.set(Some(self.get_sigmask()?));
                        self.set_sigmask(!0)?;
                    }
                    self.cont(0)?;
                }
                Stop::EventStop(_) | Stop::SyscallTrace | Stop::Event(_) => self.cont(0)?,
                Stop::Exited(_) | Stop::Killed(..) => return Err(Errno::ESRCH),
            }
        }
    }

    /// Before the thread goes on from the parking stop: the parked getpid
    /// must be skipped, and a signal can be passed only at a signal stop.
    fn leave_park(&self, sig: i32) -> Result<(), Errno> {
        match self.at.get() {
            At::Parked { skips: true, .. } if sig == 0 => Ok(()),
            At::Parked { .. } => self.unpark(),
            _ => Ok(()),
        }
    }

    /// Moves a thread at the parking stop to an ordinary signal stop (the
    /// int3 after the loop), with the registers it had: one stop. Every
    /// signal but SIGKILL is blocked on the way, so none is taken (and
    /// lost) there: they stay pending for the thread's next return.
    fn unpark(&self) -> Result<(), Errno> {
        let At::Parked { .. } = self.at.get() else { return Ok(()) };
        let regs = self.parked_regs.get();
        self.with_signals_blocked(|| {
            // The getpid skipped, the thread returns to the int3 after it.
            let mut to = regs;
            to.rip = STUB_LOOP_UNPARK;
            to.orig_rax = u64::MAX;
            self.write_regs(&to)?;
            self.at.set(At::Other);
            ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
            loop {
                match self.wait() {
                    Stop::Signal(libc::SIGTRAP) => return Ok(()),
                    Stop::Exited(_) | Stop::Killed(..) => return Err(Errno::ESRCH),
                    // A group stop or an interrupt: go on to the int3.
                    _ => ptrace(libc::PTRACE_CONT, self.tid, 0, 0).map(|_| ())?,
                }
            }
        })?;
        let mut back = regs;
        back.orig_rax = u64::MAX;
        self.write_regs(&back)
    }

    /// Sets up registers for an injected syscall at `site`, runs it, and
    /// returns the registers at the trap that follows.
    fn run_at(
        &self,
        site: u64,
        base: &UserRegs,
        nr: i64,
        args: [u64; 6],
        deferred: &mut Vec<Siginfo>,
    ) -> Result<UserRegs, Errno> {
        let mut regs = *base;
        regs.rip = site;
        regs.rax = nr as u64;
        // -1: not inside a syscall, so the kernel applies no restart logic.
        regs.orig_rax = u64::MAX;
        regs.set_syscall_args(args);
        self.set_regs(&regs)?;
        self.cont(0)?;
        // The injected call's own seccomp stop: let it run; then the stub's
        // int3 after it.
        self.releasing_mask(|| {
            while !self.next_injection_stop(deferred)? {
                self.cont(0)?;
            }
            self.get_regs()
        })
    }
}

/// si_code of a signal the kernel raised itself (int3 gives SIGTRAP with it).
const SI_KERNEL: i32 = 0x80;

/// Decodes a waitpid status into a [`Stop`].
pub fn decode_status(status: i32) -> Stop {
    if libc::WIFEXITED(status) {
        return Stop::Exited(libc::WEXITSTATUS(status));
    }
    if libc::WIFSIGNALED(status) {
        return Stop::Killed(libc::WTERMSIG(status), libc::WCOREDUMP(status));
    }
    let sig = libc::WSTOPSIG(status);
    let event = (status >> 16) & 0xffff;
    match event {
        0 if sig == (libc::SIGTRAP | 0x80) => Stop::SyscallTrace,
        0 => Stop::Signal(sig),
        PTRACE_EVENT_SECCOMP => Stop::Syscall,
        PTRACE_EVENT_STOP => Stop::EventStop(sig),
        e => Stop::Event(e),
    }
}

/// Sets the result of a trapped syscall so the kernel skips executing it.
pub fn complete_syscall(regs: &mut UserRegs, ret: i64) {
    regs.orig_rax = u64::MAX;
    regs.rax = ret as u64;
}

#[cfg(test)]
mod tests;
