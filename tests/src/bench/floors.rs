//! In-process floors: what the trapping mechanisms cost with no rvisor
//! involved, measured in the bench process or a forked child. They fork and
//! run Rust code in the child, so call them only while the bench is
//! single-threaded.

use std::time::Instant;

use super::{median, median_of, os_err, Effort};

/// Native raw getppid, ns per call.
fn native_getppid(n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: getppid takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// A seccomp filter: `action` for getppid, allow everything else.
fn getppid_filter(action: u32) -> [libc::sock_filter; 6] {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    [
        ins(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        ins(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        ins(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        ins(JEQ_K, 0, 1, libc::SYS_getppid as u32),
        ins(RET_K, 0, 0, action),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

fn install_filter(action: u32) -> Result<(), String> {
    let mut filter = getppid_filter(action);
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(os_err("PR_SET_NO_NEW_PRIVS"));
    }
    // SAFETY: `prog` points at `filter`; both outlive the call and the kernel copies them.
    let r =
        unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) };
    if r != 0 {
        return Err(os_err("seccomp"));
    }
    Ok(())
}

/// What the SIGSYS handler and the emulating tracer make getppid return.
const FAKE_PPID: i64 = 4242;

extern "C" fn on_sigsys(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler; the
    // rax we store there becomes the syscall's return value at sigreturn.
    unsafe { (*uc).uc_mcontext.gregs[libc::REG_RAX as usize] = FAKE_PPID };
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tracer {
    None,
    /// PTRACE_CONT at each seccomp stop: the syscall then runs on the host.
    Bare,
    /// GETREGS, skip the syscall with a result, SETREGS, CONT.
    EmulateRegs,
    /// The cheapest emulation found: PTRACE_GET_SYSCALL_INFO to read the call,
    /// two PTRACE_POKEUSER (rax = result, orig_rax = -1 to skip it), CONT.
    EmulateLean,
    /// The least any emulation can do: one request to learn the call
    /// (GET_SYSCALL_INFO) and one write (POKEUSER orig_rax = -1, so the
    /// call is skipped and returns -ENOSYS). Every emulated call needs at
    /// least this; a result other than -ENOSYS needs more.
    EmulateMin,
    /// Makes one request [`REPEAT`] times at each stop, then lets the call
    /// run: the request's own cost is the extra time over `Bare` / REPEAT.
    Repeat(Request),
}

/// The requests an emulating tracer chooses from, timed one by one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Request {
    GetRegs,
    /// Preceded by one GETREGS (subtracted when reporting).
    SetRegs,
    GetSyscallInfo,
    PokeUser,
    PeekUser,
    /// PTRACE_SET_SYSCALL_INFO (Linux 6.16+) writing back the call as it
    /// is; preceded by one GET_SYSCALL_INFO (subtracted when reporting).
    SetSyscallInfo,
    /// PTRACE_GETEVENTMSG: the filter's SECCOMP_RET_DATA at a seccomp stop.
    GetEventMsg,
    /// A plain syscall (getppid) by the tracer: the kernel entry alone.
    Getppid,
}

pub const REQUESTS: &[(Request, &str)] = &[
    (Request::GetRegs, "PTRACE_GETREGS"),
    (Request::SetRegs, "PTRACE_SETREGS"),
    (Request::GetSyscallInfo, "PTRACE_GET_SYSCALL_INFO"),
    (Request::PokeUser, "PTRACE_POKEUSER (one register)"),
    (Request::PeekUser, "PTRACE_PEEKUSER (one register)"),
    (Request::SetSyscallInfo, "PTRACE_SET_SYSCALL_INFO"),
    (Request::GetEventMsg, "PTRACE_GETEVENTMSG"),
    (Request::Getppid, "getppid in the tracer (any syscall's entry)"),
];

const REPEAT: u32 = 10;

/// Forks a child that runs `f` and reports its result over a pipe. With a
/// tracer, the parent seizes the child first and serves its seccomp stops.
fn in_child(f: impl FnOnce() -> Result<f64, String>, tracer: Tracer) -> Result<f64, String> {
    let mut result = [0; 2];
    let mut start = [0; 2];
    for fds in [&mut result, &mut start] {
        // SAFETY: pipe2 writes two fds into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(os_err("pipe2"));
        }
    }
    // SAFETY: the bench is single-threaded at this point, so the child may keep
    // running ordinary Rust code (allocation included).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(os_err("fork"));
    }
    if pid == 0 {
        let mut b = [0u8; 1];
        // SAFETY: reading one byte into a local from our own pipe: waits until
        // the parent has attached.
        unsafe { libc::read(start[0], b.as_mut_ptr().cast(), 1) };
        let out =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| Err("panicked".to_string()));
        let msg = match out {
            Ok(v) => format!("ok {v}"),
            Err(e) => format!("err {e}"),
        };
        // SAFETY: writing a local buffer to our pipe, then leaving without running
        // the parent's destructors or atexit handlers.
        unsafe {
            libc::write(result[1], msg.as_ptr().cast(), msg.len());
            libc::_exit(0)
        }
    }
    // SAFETY: closing the parent's copies of the child's pipe ends.
    unsafe {
        libc::close(result[1]);
        libc::close(start[0]);
    }
    let mut traced = Ok(());
    if tracer != Tracer::None {
        let opts = libc::PTRACE_O_TRACESECCOMP | libc::PTRACE_O_EXITKILL;
        // SAFETY: seizing our own child, which is blocked on the start pipe.
        if unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, opts) } != 0 {
            traced = Err(os_err("PTRACE_SEIZE"));
            // SAFETY: killing our own child; it is reaped below.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // SAFETY: one byte from a static to our pipe, then closing it.
    unsafe {
        libc::write(start[1], b"g".as_ptr().cast(), 1);
        libc::close(start[1]);
    }
    if traced.is_ok() && tracer != Tracer::None {
        traced = serve_stops(pid, tracer);
        if traced.is_err() {
            // SAFETY: our tracee is still alive (serve_stops returns early only
            // on errors); kill and reap it.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                while libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL) == pid {}
            }
        }
    } else {
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    let msg = read_all(result[0]);
    // SAFETY: closing our pipe end.
    unsafe { libc::close(result[0]) };
    traced?;
    match msg.split_once(' ') {
        Some(("ok", v)) => v.parse().map_err(|_| format!("bad result {msg:?}")),
        Some(("err", e)) => Err(e.to_string()),
        _ => Err("child died without a result".to_string()),
    }
}

fn read_all(fd: libc::c_int) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        // SAFETY: reading into a local buffer of the stated size.
        let r = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if r <= 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..r as usize]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The tracer: resumes every stop of `pid` until it exits (and reaps it).
fn serve_stops(pid: libc::pid_t, tracer: Tracer) -> Result<(), String> {
    loop {
        let mut st = 0;
        // SAFETY: waiting for our own tracee.
        if unsafe { libc::waitpid(pid, &mut st, libc::__WALL) } < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(os_err("waitpid"));
        }
        if libc::WIFEXITED(st) || libc::WIFSIGNALED(st) {
            return Ok(());
        }
        if !libc::WIFSTOPPED(st) {
            continue;
        }
        let event = st >> 16;
        let mut sig = 0;
        if event == libc::PTRACE_EVENT_SECCOMP {
            emulate(pid, tracer)?;
        } else if event == 0 {
            // An ordinary signal: deliver it.
            sig = libc::WSTOPSIG(st);
        }
        // SAFETY: resuming our stopped tracee.
        if unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, sig) } != 0 {
            return Err(os_err("PTRACE_CONT"));
        }
    }
}

/// What an emulating tracer does at a seccomp stop of getppid: read the call,
/// skip it, and make it return FAKE_PPID.
fn emulate(pid: libc::pid_t, tracer: Tracer) -> Result<(), String> {
    const RAX: usize = std::mem::offset_of!(libc::user_regs_struct, rax);
    const ORIG_RAX: usize = std::mem::offset_of!(libc::user_regs_struct, orig_rax);
    match tracer {
        Tracer::None | Tracer::Bare => {}
        Tracer::Repeat(req) => repeat(pid, req)?,
        // SAFETY: user_regs_struct is plain data; PTRACE_GETREGS fills it and
        // PTRACE_SETREGS reads it, for our stopped tracee.
        Tracer::EmulateRegs => unsafe {
            let mut regs: libc::user_regs_struct = std::mem::zeroed();
            if libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _) != 0 {
                return Err(os_err("PTRACE_GETREGS"));
            }
            regs.orig_rax = u64::MAX; // skip the syscall...
            regs.rax = FAKE_PPID as u64; // ...and return this
            if libc::ptrace(libc::PTRACE_SETREGS, pid, 0, &regs as *const _) != 0 {
                return Err(os_err("PTRACE_SETREGS"));
            }
        },
        // SAFETY: POKEUSER writes one register of our stopped tracee at a valid offset.
        Tracer::EmulateLean => unsafe {
            get_syscall_info(pid)?;
            if libc::ptrace(libc::PTRACE_POKEUSER, pid, RAX, FAKE_PPID) != 0
                || libc::ptrace(libc::PTRACE_POKEUSER, pid, ORIG_RAX, -1i64) != 0
            {
                return Err(os_err("PTRACE_POKEUSER"));
            }
        },
        // SAFETY: as above.
        Tracer::EmulateMin => unsafe {
            get_syscall_info(pid)?;
            if libc::ptrace(libc::PTRACE_POKEUSER, pid, ORIG_RAX, -1i64) != 0 {
                return Err(os_err("PTRACE_POKEUSER"));
            }
        },
    }
    Ok(())
}

/// Makes `req` REPEAT times for the stopped `pid` (results unused: the call
/// then runs unchanged).
fn repeat(pid: libc::pid_t, req: Request) -> Result<(), String> {
    const RAX: usize = std::mem::offset_of!(libc::user_regs_struct, rax);
    // SAFETY: plain-data buffers of the sizes passed, for our stopped tracee;
    // POKEUSER writes rax back with the value PEEKUSER would read (-ENOSYS at
    // a seccomp stop, which the call overwrites when it runs).
    unsafe {
        let mut regs: libc::user_regs_struct = std::mem::zeroed();
        let mut info: libc::ptrace_syscall_info = std::mem::zeroed();
        let size = std::mem::size_of_val(&info);
        if req == Request::SetRegs && libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _) != 0 {
            return Err(os_err("PTRACE_GETREGS"));
        }
        if req == Request::SetSyscallInfo
            && libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, pid, size, &mut info as *mut _) <= 0
        {
            return Err(os_err("PTRACE_GET_SYSCALL_INFO"));
        }
        let mut msg: libc::c_ulong = 0;
        for _ in 0..REPEAT {
            let r = match req {
                Request::GetRegs => libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _),
                Request::SetRegs => libc::ptrace(libc::PTRACE_SETREGS, pid, 0, &regs as *const _),
                Request::GetSyscallInfo => {
                    (libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, pid, size, &mut info as *mut _) <= 0) as libc::c_long
                }
                Request::PokeUser => libc::ptrace(libc::PTRACE_POKEUSER, pid, RAX, -(libc::ENOSYS as i64)),
                Request::PeekUser => {
                    *libc::__errno_location() = 0;
                    let v = libc::ptrace(libc::PTRACE_PEEKUSER, pid, RAX, 0);
                    (v == -1 && *libc::__errno_location() != 0) as libc::c_long
                }
                Request::SetSyscallInfo => libc::ptrace(PTRACE_SET_SYSCALL_INFO, pid, size, &info as *const _),
                Request::GetEventMsg => libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut msg as *mut _),
                Request::Getppid => (libc::syscall(libc::SYS_getppid) < 0) as libc::c_long,
            };
            if r != 0 {
                return Err(os_err(&format!("{req:?}")));
            }
        }
    }
    Ok(())
}

/// Linux 6.16+; the libc crate does not define it yet.
const PTRACE_SET_SYSCALL_INFO: libc::c_uint = 0x4212;

/// What each request costs at a stop (ns), tracer and tracee on one CPU:
/// the stop with REPEAT requests minus the bare stop, per request.
pub fn request_costs(opts: &Effort, bare: f64) -> Vec<(&'static str, Result<f64, String>)> {
    let reps = opts.reps();
    let n = opts.n(5_000, 500);
    let per = |req| median_of(reps, || same_cpu_floor(n, Tracer::Repeat(req))).map(|t| (t - bare) / REPEAT as f64);
    let getregs = per(Request::GetRegs);
    let getinfo = per(Request::GetSyscallInfo);
    REQUESTS
        .iter()
        .map(|&(req, name)| {
            let cost = match req {
                Request::GetRegs => getregs.clone(),
                // One GETREGS per stop came with the SETREGS.
                Request::SetRegs => per(req).and_then(|c| Ok(c - getregs.clone()? / REPEAT as f64)),
                Request::GetSyscallInfo => getinfo.clone(),
                // Likewise one GET_SYSCALL_INFO with the SET_SYSCALL_INFO.
                Request::SetSyscallInfo => per(req).and_then(|c| Ok(c - getinfo.clone()? / REPEAT as f64)),
                _ => per(req),
            };
            (name, cost)
        })
        .collect()
}

/// seccomp RET_TRAP + SIGSYS handler in the same process: ns per trap.
pub fn sigsys_floor(n: u64) -> Result<f64, String> {
    in_child(move || sigsys_loop(n), Tracer::None)
}

/// The same as [`sigsys_floor`] in a ptraced child (tracer and tracee on one
/// CPU): every SIGSYS is a ptrace signal-delivery stop before the handler
/// runs, so a traced systrap thread pays a ptrace stop per call.
fn sigsys_traced_floor(n: u64) -> Result<f64, String> {
    let cpu = *allowed_cpus().first().ok_or_else(|| os_err("sched_getaffinity"))?;
    let saved = get_affinity().ok_or_else(|| os_err("sched_getaffinity"))?;
    pin_to(cpu)?;
    let r = in_child(
        move || {
            pin_to(cpu)?;
            sigsys_loop(n)
        },
        Tracer::Bare,
    );
    set_affinity(&saved)?;
    r
}

/// Installs [`on_sigsys`] and the RET_TRAP filter, then times `n` trapped getppid calls.
fn sigsys_loop(n: u64) -> Result<f64, String> {
    install_sigsys(on_sigsys)?;
    install_filter(libc::SECCOMP_RET_TRAP)?;
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: getppid takes no arguments; the filter traps it.
        let r = unsafe { libc::syscall(libc::SYS_getppid) };
        if r != FAKE_PPID {
            return Err(format!("getppid returned {r}, not the handler's value"));
        }
    }
    Ok(t.elapsed().as_nanos() as f64 / n as f64)
}

type SigsysHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

fn install_sigsys(handler: SigsysHandler) -> Result<(), String> {
    // SAFETY: a zeroed sigaction is valid; the handlers only touch the
    // ucontext they are given and the shared hand-off word.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
            return Err(os_err("sigaction"));
        }
    }
    Ok(())
}

/// The shared page of the hand-off floor: word 0 is the state (0 idle,
/// 1 request, 2 reply, 3 child done), word 1 the number, word 2 the result.
static HANDOFF: std::sync::atomic::AtomicPtr<std::sync::atomic::AtomicU64> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_sigsys_handoff(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    use std::sync::atomic::Ordering::{Acquire, Release};
    let words = HANDOFF.load(Acquire);
    // SAFETY: HANDOFF points at three words of a live shared mapping; the
    // kernel passes valid siginfo and ucontext pointers to an SA_SIGINFO handler.
    unsafe {
        let nr = (*info.cast::<[i32; 8]>())[6]; // si_syscall
        (*words.add(1)).store(nr as u64, Release);
        (*words).store(1, Release);
        while (*words).load(Acquire) != 2 {
            std::hint::spin_loop();
        }
        let ret = (*words.add(2)).load(Acquire);
        (*words).store(0, Release);
        (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RAX as usize] = ret as i64;
    }
}

/// RET_TRAP + SIGSYS whose handler hands the call to another process (the
/// bench) through shared memory and spins for the answer, with the two on
/// different CPUs: the floor of the systrap hot path. None with one CPU.
fn handoff_floor(n: u64) -> Option<Result<f64, String>> {
    use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
    let cpus = allowed_cpus();
    if cpus.len() < 2 {
        return None;
    }
    // SAFETY: a fresh shared anonymous page, unmapped below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Some(Err(os_err("mmap")));
    }
    let words = page.cast::<AtomicU64>();
    HANDOFF.store(words, Release);
    let saved = get_affinity()?;
    let r = (|| {
        pin_to(cpus[0])?;
        // SAFETY: the bench is single-threaded here; the child runs the loop
        // and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(os_err("fork"));
        }
        if pid == 0 {
            let out = pin_to(cpus[1]).and_then(|_| {
                install_sigsys(on_sigsys_handoff)?;
                sigsys_loop_handoff(n)
            });
            // SAFETY: the page is shared with the parent; the child then leaves.
            unsafe {
                (*words.add(2)).store(out.map_or(0, |v| v.to_bits()), Release);
                (*words).store(3, Release);
                libc::_exit(0)
            }
        }
        // SAFETY: the page stays mapped until after the child is reaped.
        let ns = unsafe {
            loop {
                match (*words).load(Acquire) {
                    1 => {
                        let nr = (*words.add(1)).load(Acquire);
                        let ret = if nr == libc::SYS_getppid as u64 { FAKE_PPID as u64 } else { u64::MAX };
                        (*words.add(2)).store(ret, Release);
                        (*words).store(2, Release);
                    }
                    3 => break f64::from_bits((*words.add(2)).load(Acquire)),
                    _ => std::hint::spin_loop(),
                }
            }
        };
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        if ns <= 0.0 {
            return Err("the hand-off child failed".to_string());
        }
        Ok(ns)
    })();
    let _ = set_affinity(&saved);
    // SAFETY: unmapping our page; the child is gone.
    unsafe { libc::munmap(page, 4096) };
    Some(r)
}

fn sigsys_loop_handoff(n: u64) -> Result<f64, String> {
    install_filter(libc::SECCOMP_RET_TRAP)?;
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: getppid takes no arguments; the filter traps it.
        let r = unsafe { libc::syscall(libc::SYS_getppid) };
        if r != FAKE_PPID {
            return Err(format!("getppid returned {r}, not the server's value"));
        }
    }
    Ok(t.elapsed().as_nanos() as f64 / n as f64)
}

fn get_affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        (libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0).then_some(set)
    }
}

fn set_affinity(set: &libc::cpu_set_t) -> Result<(), String> {
    // SAFETY: passing a valid cpu_set_t of the stated size for this thread.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) } != 0 {
        return Err(os_err("sched_setaffinity"));
    }
    Ok(())
}

fn pin_to(cpu: usize) -> Result<(), String> {
    // SAFETY: cpu_set_t is plain data; CPU_SET only writes inside it.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    };
    set_affinity(&set)
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    let Some(set) = get_affinity() else { return Vec::new() };
    // SAFETY: CPU_ISSET only reads the set.
    (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
}

/// seccomp RET_TRACE stops served by `tracer` on CPU `pin.0` with the tracee
/// on CPU `pin.1`: ns per stop. Unpinned, the scheduler usually keeps both on
/// one CPU; apart, every stop is a cross-CPU wake-up.
fn ptrace_floor_pinned(n: u64, tracer: Tracer, pin: (usize, usize)) -> Result<f64, String> {
    let saved = get_affinity().ok_or_else(|| os_err("sched_getaffinity"))?;
    pin_to(pin.0)?;
    let r = in_child(
        move || {
            pin_to(pin.1)?;
            ptrace_tracee(n, tracer)
        },
        tracer,
    );
    set_affinity(&saved)?;
    r
}

/// Stops with tracer and tracee both on the first allowed CPU: how the sentry
/// runs (it pins each tracer thread beside its tracee; the first task gets
/// the first CPU), so this is the floor its stops are compared with.
pub fn same_cpu_floor(n: u64, tracer: Tracer) -> Result<f64, String> {
    let cpu = *allowed_cpus().first().ok_or_else(|| os_err("sched_getaffinity"))?;
    ptrace_floor_pinned(n, tracer, (cpu, cpu))
}

/// seccomp RET_TRACE stops served by a minimal tracer, unpinned: ns per stop.
fn ptrace_floor(n: u64, tracer: Tracer) -> Result<f64, String> {
    in_child(move || ptrace_tracee(n, tracer), tracer)
}

/// The traced child's loop: `n` getppid calls that each stop for the tracer.
fn ptrace_tracee(n: u64, tracer: Tracer) -> Result<f64, String> {
    install_filter(libc::SECCOMP_RET_TRACE)?;
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: getppid takes no arguments; the filter stops it for the tracer.
        let r = unsafe { libc::syscall(libc::SYS_getppid) };
        if tracer == Tracer::EmulateMin {
            // The tracer skipped the call without a result: -ENOSYS.
            if r != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
                return Err(format!("skipped getppid returned {r}, not ENOSYS"));
            }
            continue;
        }
        if r < 0 {
            return Err(os_err("getppid under the tracer"));
        }
        if matches!(tracer, Tracer::EmulateRegs | Tracer::EmulateLean) && r != FAKE_PPID {
            return Err(format!("getppid returned {r}, not the tracer's value"));
        }
    }
    Ok(t.elapsed().as_nanos() as f64 / n as f64)
}

pub struct Floors {
    pub native: f64,
    pub sigsys: Result<f64, String>,
    /// SIGSYS in a ptraced process: a signal-delivery stop per call.
    pub sigsys_traced: Result<f64, String>,
    /// SIGSYS + spin hand-off to another process on another CPU; `None` with one CPU.
    pub handoff: Option<Result<f64, String>>,
    /// Bare stop, tracer and tracee left to the scheduler.
    pub unpinned: Result<f64, String>,
    /// Tracer and tracee on one CPU: bare, and with each way of emulating.
    pub same: Result<f64, String>,
    pub same_regs: Result<f64, String>,
    pub same_lean: Result<f64, String>,
    pub same_min: Result<f64, String>,
    /// Tracer and tracee on two CPUs; `None` with one CPU.
    pub cross: Option<Result<f64, String>>,
}

pub fn measure_floors(opts: &Effort) -> Floors {
    let reps = opts.reps();
    let native = median((0..reps).map(|_| native_getppid(opts.n(2_000_000, 200_000))).collect());
    let sigsys = median_of(reps, || sigsys_floor(opts.n(200_000, 20_000)));
    let sigsys_traced = median_of(reps, || sigsys_traced_floor(opts.n(20_000, 2_000)));
    let handoff = (allowed_cpus().len() >= 2).then(|| {
        median_of(reps, || handoff_floor(opts.n(200_000, 20_000)).unwrap_or_else(|| Err("one CPU".to_string())))
    });
    let unpinned = median_of(reps, || ptrace_floor(opts.n(20_000, 2_000), Tracer::Bare));
    let same = |t| median_of(reps, || same_cpu_floor(opts.n(20_000, 2_000), t));
    let cpus = allowed_cpus();
    let cross = (cpus.len() >= 2)
        .then(|| median_of(reps, || ptrace_floor_pinned(opts.n(5_000, 500), Tracer::Bare, (cpus[0], cpus[1]))));
    Floors {
        native,
        sigsys,
        sigsys_traced,
        handoff,
        unpinned,
        same: same(Tracer::Bare),
        same_regs: same(Tracer::EmulateRegs),
        same_lean: same(Tracer::EmulateLean),
        same_min: same(Tracer::EmulateMin),
        cross,
    }
}

/// One PTRACE_GET_SYSCALL_INFO of stopped tracee `pid` (the read request of an emulation).
fn get_syscall_info(pid: libc::pid_t) -> Result<(), String> {
    // SAFETY: the info buffer is plain data of the size passed, for our stopped tracee.
    unsafe {
        let mut info: libc::ptrace_syscall_info = std::mem::zeroed();
        let size = std::mem::size_of_val(&info);
        if libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, pid, size, &mut info as *mut _) <= 0 {
            return Err(os_err("PTRACE_GET_SYSCALL_INFO"));
        }
    }
    Ok(())
}
