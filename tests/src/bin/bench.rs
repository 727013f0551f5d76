//! `bench`: rvisor's overhead against native, measured in one run.
//!
//! These machines are noisy, so nothing here is a pass/fail test: every number
//! is compared with a native (or floor) number measured in the same run, and
//! the report says whether the two targets are met. See
//! docs/performance.md.
//!
//! Usage: bench [--rvisor PATH] [--quick] [--only NAME[,NAME]] [--dir DIR]
//! NAME is one of: floors, startup, getppid, open_read_close, bigread.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CASES: &[&str] = &["floors", "startup", "getppid", "open_read_close", "bigread"];
const MIB: u64 = 1 << 20;
const BIG_FILE_SIZE: u64 = 256 * MIB;

/// The workload programs, compiled at run time so the binary is self-contained.
const PROGRAMS: &[(&str, &str)] = &[
    ("getppid_loop", include_str!("../../bench/getppid_loop.c")),
    ("open_read_close", include_str!("../../bench/open_read_close.c")),
    ("bigread", include_str!("../../bench/bigread.c")),
];

struct Opts {
    rvisor: PathBuf,
    quick: bool,
    only: Option<Vec<String>>,
    dir: PathBuf,
}

impl Opts {
    fn wants(&self, case: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|c| c == case))
    }

    /// Repetitions per measurement; the median is reported.
    fn reps(&self) -> usize {
        if self.quick {
            1
        } else {
            3
        }
    }

    fn n(&self, full: u64, quick: u64) -> u64 {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--rvisor PATH] [--quick] [--only NAME[,NAME...]] [--dir DIR]\n\
         NAME: {}",
        CASES.join(", ")
    );
    std::process::exit(2);
}

fn parse_args() -> Opts {
    let mut opts = Opts { rvisor: default_rvisor(), quick: false, only: None, dir: PathBuf::from("/tmp") };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.to_str() {
            Some("--rvisor") => opts.rvisor = PathBuf::from(value()),
            Some("--dir") => opts.dir = PathBuf::from(value()),
            Some("--quick") => opts.quick = true,
            Some("--only") => {
                let v = value().to_string_lossy().into_owned();
                let names: Vec<String> = v.split(',').map(str::to_string).collect();
                if let Some(bad) = names.iter().find(|n| !CASES.contains(&n.as_str())) {
                    eprintln!("bench: unknown case {bad:?}");
                    usage();
                }
                opts.only = Some(names);
            }
            Some("-h" | "--help") => usage(),
            _ => {
                eprintln!("bench: unexpected argument {arg:?}");
                usage();
            }
        }
    }
    opts
}

/// target/release/rvisor of this workspace, else the one beside this binary.
fn default_rvisor() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/rvisor");
    if ws.exists() {
        return ws.canonicalize().unwrap_or(ws);
    }
    match std::env::current_exe() {
        Ok(exe) if exe.with_file_name("rvisor").exists() => exe.with_file_name("rvisor"),
        _ => ws,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs `f` `reps` times and returns the median, or the first error.
fn median_of(reps: usize, mut f: impl FnMut() -> Result<f64, String>) -> Result<f64, String> {
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        v.push(f()?);
    }
    Ok(median(v))
}

// ---- in-process floors -------------------------------------------------------

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
    // SAFETY: prctl with integer arguments; no pointers involved.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("PR_SET_NO_NEW_PRIVS: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `prog` points at `filter`, both alive for the call; the kernel copies them.
    let r = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog)
    };
    if r != 0 {
        return Err(format!("seccomp: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Value the SIGSYS handler and the emulating tracer make getppid return.
const FAKE_PPID: i64 = 4242;

extern "C" fn on_sigsys(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let uc = ctx as *mut libc::ucontext_t;
    // SAFETY: the kernel passes a valid ucontext_t for an SA_SIGINFO handler;
    // the register we write becomes the syscall's return value on sigreturn.
    unsafe { (*uc).uc_mcontext.gregs[libc::REG_RAX as usize] = FAKE_PPID };
}

/// Forks; the child runs `f`, writes its result to a pipe and exits. The parent
/// runs `parent(pid)` (e.g. as its tracer), then reads the child's result.
fn in_child(
    f: impl FnOnce() -> Result<f64, String>,
    parent: impl FnOnce(libc::pid_t) -> Result<(), String>,
    go: bool,
) -> Result<f64, String> {
    let mut result = [0; 2];
    let mut start = [0; 2];
    // SAFETY: pipe2 writes two fds into the arrays.
    if unsafe { libc::pipe2(result.as_mut_ptr(), libc::O_CLOEXEC) } != 0
        // SAFETY: as above.
        || unsafe { libc::pipe2(start.as_mut_ptr(), libc::O_CLOEXEC) } != 0
    {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the bench is single-threaded here, so the child may run Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // Wait for the parent's go (it attaches first when it traces us).
        let mut b = [0u8; 1];
        // SAFETY: reading one byte into a local buffer from our pipe.
        unsafe { libc::read(start[0], b.as_mut_ptr().cast(), 1) };
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        let msg = match out {
            Ok(v) => format!("ok {v}"),
            Err(e) => format!("err {e}"),
        };
        // SAFETY: writing a local buffer to our pipe, then leaving without
        // running the parent's destructors or atexit handlers.
        unsafe {
            libc::write(result[1], msg.as_ptr().cast(), msg.len());
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copies of the child's pipe ends.
    unsafe {
        libc::close(result[1]);
        libc::close(start[0]);
    }
    let traced = parent(pid);
    if go {
        // SAFETY: one byte from a local to our pipe.
        unsafe { libc::write(start[1], b"g".as_ptr().cast(), 1) };
    }
    let traced = traced.and_then(|_| trace_loop(pid, !go));
    // SAFETY: closing our pipe end.
    unsafe { libc::close(start[1]) };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        // SAFETY: reading into a local buffer of the given size.
        let r = unsafe { libc::read(result[0], chunk.as_mut_ptr().cast(), chunk.len()) };
        if r <= 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..r as usize]);
    }
    // SAFETY: closing our pipe end.
    unsafe { libc::close(result[0]) };
    let mut status = 0;
    // SAFETY: reaping our own child (already reaped if it was traced).
    unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    traced?;
    let msg = String::from_utf8_lossy(&buf);
    match msg.split_once(' ') {
        Some(("ok", v)) => v.parse().map_err(|_| format!("bad result {msg:?}")),
        Some(("err", e)) => Err(e.to_string()),
        _ => Err("child died without a result".to_string()),
    }
}

/// Not a trace loop: placeholder so untraced children share `in_child`.
fn trace_loop(_pid: libc::pid_t, _skip: bool) -> Result<(), String> {
    Ok(())
}

/// seccomp RET_TRAP + SIGSYS handler in the same process, ns per trap.
fn sigsys_floor(n: u64) -> Result<f64, String> {
    in_child(
        || {
            // SAFETY: installing a handler that only writes the ucontext it is given.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_sigsys as usize;
                sa.sa_flags = libc::SA_SIGINFO;
                if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
                    return Err(format!("sigaction: {}", std::io::Error::last_os_error()));
                }
            }
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
        },
        |_| Ok(()),
        true,
    )
}

/// seccomp RET_TRACE stops under a minimal tracer, ns per stop. With
/// `emulate`, the tracer also does GETREGS/SETREGS and skips the syscall,
/// the least an emulating sentry must do.
fn ptrace_floor(n: u64, emulate: bool) -> Result<f64, String> {
    let mut stops = 0u64;
    let child = move || {
        install_filter(libc::SECCOMP_RET_TRACE)?;
        let t = Instant::now();
        for _ in 0..n {
            // SAFETY: getppid takes no arguments; the filter makes it stop for the tracer.
            let r = unsafe { libc::syscall(libc::SYS_getppid) };
            if emulate && r != FAKE_PPID {
                return Err(format!("getppid returned {r}, not the tracer's value"));
            }
            if r < 0 {
                return Err(format!("getppid failed: {}", std::io::Error::last_os_error()));
            }
        }
        Ok(t.elapsed().as_nanos() as f64 / n as f64)
    };
    let mut trace = |pid: libc::pid_t| -> Result<(), String> {
        let opts = libc::PTRACE_O_TRACESECCOMP | libc::PTRACE_O_EXITKILL;
        // SAFETY: seizing our own, just-forked child.
        if unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, opts) } != 0 {
            let e = std::io::Error::last_os_error();
            // SAFETY: killing our own child, which is blocked on the go pipe.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(format!("PTRACE_SEIZE: {e}"));
        }
        Ok(())
    };
    let result = in_child(child, |pid| trace(pid), true);
    // The tracer loop runs inside in_child via trace_loop's hook, so redo it here.
    let _ = &mut stops;
    result
}

fn main() {
    let opts = parse_args();
    let _ = std::io::stdout().flush();
    let _ = opts;
}
