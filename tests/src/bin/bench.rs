//! `bench`: rvisor's overhead against native, measured in one run.
//!
//! These machines are noisy, so nothing here is a timed test: every number is
//! put next to a native (or floor) number measured in the same run, and the
//! report says whether the two performance targets are met. See
//! docs/performance.md.
//!
//! Usage: bench [--rvisor PATH] [--quick] [--only NAME[,NAME...]] [--dir DIR]

use std::ffi::OsString;
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
            5
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
         \n\
         --rvisor PATH  the rvisor binary (default: target/release/rvisor of this workspace)\n\
         --quick        fewer iterations and repetitions\n\
         --only NAMES   run only these cases: {}\n\
         --dir DIR      where to build the workloads and put the 256 MiB file (default /tmp)",
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

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

// ---- in-process floors -----------------------------------------------------

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
enum Tracer {
    None,
    /// PTRACE_CONT at each seccomp stop: the syscall then runs on the host.
    Bare,
    /// GETREGS, skip the syscall with a result, SETREGS, CONT.
    Emulate,
}

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
        traced = serve_stops(pid, tracer == Tracer::Emulate);
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
fn serve_stops(pid: libc::pid_t, emulate: bool) -> Result<(), String> {
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
            if emulate {
                // SAFETY: user_regs_struct is plain data; PTRACE_GETREGS fills it
                // and PTRACE_SETREGS reads it, for our stopped tracee.
                unsafe {
                    let mut regs: libc::user_regs_struct = std::mem::zeroed();
                    if libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _) != 0 {
                        return Err(os_err("PTRACE_GETREGS"));
                    }
                    regs.orig_rax = u64::MAX; // skip the syscall...
                    regs.rax = FAKE_PPID as u64; // ...and return this
                    if libc::ptrace(libc::PTRACE_SETREGS, pid, 0, &regs as *const _) != 0 {
                        return Err(os_err("PTRACE_SETREGS"));
                    }
                }
            }
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

/// seccomp RET_TRAP + SIGSYS handler in the same process: ns per trap.
fn sigsys_floor(n: u64) -> Result<f64, String> {
    in_child(
        || {
            // SAFETY: a zeroed sigaction is valid; the handler only writes the
            // ucontext it is given.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_sigsys as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO;
                if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
                    return Err(os_err("sigaction"));
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
        Tracer::None,
    )
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

/// The first two CPUs this process may run on.
fn two_cpus() -> Option<(usize, usize)> {
    let set = get_affinity()?;
    // SAFETY: CPU_ISSET only reads the set.
    let mut cpus = (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) });
    Some((cpus.next()?, cpus.next()?))
}

/// seccomp RET_TRACE stops served by a minimal tracer on CPU `pin.0` with the
/// tracee on CPU `pin.1`: ns per stop. Unpinned, the scheduler usually keeps
/// both on one CPU; apart, every stop is a cross-CPU wake-up.
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

/// seccomp RET_TRACE stops served by a minimal tracer: ns per stop.
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
        if r < 0 {
            return Err(os_err("getppid under the tracer"));
        }
        if tracer == Tracer::Emulate && r != FAKE_PPID {
            return Err(format!("getppid returned {r}, not the tracer's value"));
        }
    }
    Ok(t.elapsed().as_nanos() as f64 / n as f64)
}

struct Floors {
    native: f64,
    sigsys: Result<f64, String>,
    ptrace: Result<f64, String>,
    ptrace_emulate: Result<f64, String>,
    /// Tracer and tracee pinned to one CPU, then to two; `None` with one CPU.
    ptrace_same: Option<Result<f64, String>>,
    ptrace_cross: Option<Result<f64, String>>,
}

fn measure_floors(opts: &Opts) -> Floors {
    let reps = opts.reps();
    let native = median((0..reps).map(|_| native_getppid(opts.n(2_000_000, 200_000))).collect());
    let sigsys = median_of(reps, || sigsys_floor(opts.n(200_000, 20_000)));
    let ptrace = median_of(reps, || ptrace_floor(opts.n(20_000, 2_000), Tracer::Bare));
    let ptrace_emulate = median_of(reps, || ptrace_floor(opts.n(20_000, 2_000), Tracer::Emulate));
    let pinned = |(a, b)| median_of(reps, || ptrace_floor_pinned(opts.n(5_000, 500), Tracer::Bare, (a, b)));
    let ptrace_same = two_cpus().map(|(a, _)| pinned((a, a)));
    let ptrace_cross = two_cpus().map(pinned);
    Floors { native, sigsys, ptrace, ptrace_emulate, ptrace_same, ptrace_cross }
}

// ---- workloads -------------------------------------------------------------

/// One workload run: the program's own report plus the wall time.
#[derive(Clone, Copy)]
struct Run {
    wall_ns: f64,
    ops: u64,
    ns: u64,
    bytes: u64,
}

/// Runs `argv` to completion (killing it after `timeout`) and parses its
/// `BENCH ops=.. ns=.. bytes=..` line.
fn run_program(argv: &[OsString], timeout: Duration) -> Result<Run, String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let start = Instant::now();
    let child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", Path::new(prog).display()))?;
    let pid = child.id() as libc::pid_t;
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: our child is not reaped until wait_with_output returns,
            // which needs it to exit first, so the pid is still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let out = child.wait_with_output();
    let wall_ns = start.elapsed().as_nanos() as f64;
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let out = out.map_err(|e| format!("waiting: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first_err = stderr.lines().map(str::trim).find(|l| !l.is_empty());
    if timed_out {
        return Err(format!("timed out after {}s", timeout.as_secs()));
    }
    if !out.status.success() {
        return Err(first_err.map_or_else(|| format!("{}", out.status), str::to_string));
    }
    let line = stdout.lines().find(|l| l.starts_with("BENCH ")).ok_or_else(|| {
        first_err.map_or_else(|| "no BENCH line in the output".to_string(), |e| format!("no BENCH line; {e}"))
    })?;
    let field = |name: &str| -> Result<u64, String> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("bad BENCH line {line:?}"))
    };
    Ok(Run { wall_ns, ops: field("ops")?, ns: field("ns")?, bytes: field("bytes")? })
}

struct Workload {
    native: Result<Vec<Run>, String>,
    rvisor: Result<Vec<Run>, String>,
    /// The bare ptrace stop (ns) measured before each pair of runs.
    stops: Vec<Option<f64>>,
}

impl Workload {
    fn native_med(&self, f: impl Fn(&Run) -> f64) -> Result<f64, String> {
        self.native.as_ref().map(|v| median(v.iter().map(f).collect())).map_err(Clone::clone)
    }

    fn rvisor_med(&self, f: impl Fn(&Run) -> f64) -> Result<f64, String> {
        self.rvisor.as_ref().map(|v| median(v.iter().map(f).collect())).map_err(Clone::clone)
    }

    /// Median bare ptrace stop beside these runs.
    fn stop(&self) -> Option<f64> {
        let v: Vec<f64> = self.stops.iter().flatten().copied().collect();
        (!v.is_empty()).then(|| median(v))
    }

    /// Median over repetitions of `f(rvisor run) / ptrace stop measured just before it`.
    fn per_stop(&self, f: impl Fn(&Run) -> f64) -> Option<f64> {
        let runs = self.rvisor.as_ref().ok()?;
        let v: Vec<f64> = runs.iter().zip(&self.stops).filter_map(|(r, s)| Some(f(r) / (*s)?)).collect();
        (!v.is_empty()).then(|| median(v))
    }
}

/// Runs a workload natively and under rvisor, alternating so slow drifts of
/// the machine hit both alike. `check` validates each run's report.
///
/// With `floor`, the bare ptrace stop is measured before each pair too: it
/// flips between its same-CPU and cross-CPU cost with the machine's load, so
/// only a floor measured beside the runs compares fairly.
fn run_workload(opts: &Opts, argv: &[OsString], check: &dyn Fn(&Run) -> Result<(), String>, floor: bool) -> Workload {
    let mut sandboxed: Vec<OsString> = vec![opts.rvisor.clone().into(), "do".into(), "--".into()];
    sandboxed.extend_from_slice(argv);
    let mut native = Ok(Vec::new());
    let mut rvisor = if opts.rvisor.exists() {
        Ok(Vec::new())
    } else {
        Err(format!("{} not found (cargo build --release)", opts.rvisor.display()))
    };
    let mut stops = Vec::new();
    for _ in 0..opts.reps() {
        if floor {
            // Fork-safe: run_program's watchdog thread has been joined.
            stops.push(ptrace_floor(opts.n(10_000, 1_000), Tracer::Bare).ok());
        }
        if let Ok(runs) = &mut native {
            match run_program(argv, Duration::from_secs(120)).and_then(|r| check(&r).map(|_| r)) {
                Ok(r) => runs.push(r),
                Err(e) => native = Err(e),
            }
        }
        if let Ok(runs) = &mut rvisor {
            match run_program(&sandboxed, Duration::from_secs(600)).and_then(|r| check(&r).map(|_| r)) {
                Ok(r) => runs.push(r),
                Err(e) => rvisor = Err(e),
            }
        }
    }
    Workload { native, rvisor, stops }
}

/// Builds the C workloads into `dir` with `cc -O2 -static`.
fn build_programs(dir: &Path) -> Result<(), String> {
    for (name, source) in PROGRAMS {
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, source).map_err(|e| format!("{}: {e}", src.display()))?;
        let out = Command::new("cc")
            .args(["-O2", "-static", "-o"])
            .arg(dir.join(name))
            .arg(&src)
            .output()
            .map_err(|e| format!("cc: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("cc {name}.c: {}", err.lines().next().unwrap_or("failed")));
        }
    }
    Ok(())
}

/// Creates (or reuses) the big file, filled with a non-zero pattern so no
/// filesystem can store it sparsely.
fn make_big_file(path: &Path) -> Result<(), String> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == BIG_FILE_SIZE) {
        return Ok(());
    }
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = std::fs::File::create(path).map_err(err)?;
    let chunk: Vec<u8> = (0..MIB).map(|i| (i * 131 % 251) as u8 + 1).collect();
    for _ in 0..BIG_FILE_SIZE / MIB {
        f.write_all(&chunk).map_err(err)?;
    }
    f.sync_all().map_err(err)
}

// ---- report ----------------------------------------------------------------

/// A number with about three significant digits.
fn num(v: f64) -> String {
    if !v.is_finite() {
        "-".to_string()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn ratio(r: f64) -> String {
    format!("{}x", num(r))
}

struct Row {
    metric: String,
    native: Result<f64, String>,
    floor: Option<f64>,
    rvisor: Result<f64, String>,
}

fn print_table(rows: &[Row]) {
    let w = rows.iter().map(|r| r.metric.chars().count()).max().unwrap_or(6).max(6);
    println!("{:<w$}  {:>12}  {:>12}  {:>12}  {:>9}", "metric", "native", "ptrace-floor", "rvisor", "ratio");
    println!("{}", "-".repeat(w + 2 + 12 + 2 + 12 + 2 + 12 + 2 + 9));
    for r in rows {
        let floor = r.floor.map_or_else(|| "-".to_string(), num);
        let native = match &r.native {
            Ok(v) => num(*v),
            Err(e) => {
                println!("{:<w$}  error (native): {e}", r.metric);
                continue;
            }
        };
        match &r.rvisor {
            Ok(v) => {
                let rat = r.native.as_ref().map_or_else(|_| "-".to_string(), |n| ratio(v / n));
                println!("{:<w$}  {native:>12}  {floor:>12}  {:>12}  {rat:>9}", r.metric, num(*v));
            }
            Err(e) => println!("{:<w$}  {native:>12}  {floor:>12}  error: {e}", r.metric),
        }
    }
}

fn kernel_release() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "?".to_string();
    }
    let bytes: Vec<u8> = u.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim().to_string()))
        })
        .unwrap_or_else(|| "?".to_string())
}

fn target(name: &str, value: Result<(f64, String), String>, met: impl Fn(f64) -> bool) {
    match value {
        Ok((r, how)) => {
            let verdict = if met(r) { "met" } else { "NOT met" };
            println!("  {name}: {how} = {} -> {verdict}", ratio(r));
        }
        Err(e) => println!("  {name}: NOT met (no result: {e})"),
    }
}

fn main() {
    let opts = parse_args();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("rvisor bench, {} (UTC), kernel {}, {cpus} CPUs ({})", today(), kernel_release(), cpu_model());
    println!("rvisor: {}", opts.rvisor.display());
    println!("each value is the median of {} run(s); per-op times come from the programs' own clocks\n", opts.reps());
    let _ = std::io::stdout().flush();

    // Floors first, while the bench is still single-threaded (they fork).
    let floors = if ["floors", "getppid", "open_read_close", "bigread"].iter().any(|c| opts.wants(c)) {
        let f = measure_floors(&opts);
        let show = |r: &Result<f64, String>| r.as_ref().map_or_else(|e| format!("error: {e}"), |v| num(*v));
        let line =
            |label: &str, v: String, note: &str| println!("{}", format!("  {label:<46} {v:>8}   {note}").trim_end());
        println!("in-process floors (ns per call):");
        line("native getppid", num(f.native), "");
        line("seccomp RET_TRAP + SIGSYS handler", show(&f.sigsys), "(systrap floor)");
        line("seccomp RET_TRACE + PTRACE_CONT", show(&f.ptrace), "(bare ptrace stop)");
        line("... + GETREGS/SETREGS, syscall skipped", show(&f.ptrace_emulate), "(least an emulated syscall)");
        if let (Some(same), Some(cross)) = (&f.ptrace_same, &f.ptrace_cross) {
            line("bare ptrace stop, both pinned to one CPU", show(same), "");
            line("bare ptrace stop, pinned to two CPUs", show(cross), "(cross-CPU wake-ups)");
        }
        println!();
        Some(f)
    } else {
        None
    };
    let bare_stop = floors.as_ref().and_then(|f| f.ptrace.as_ref().ok().copied());

    let workdir = opts.dir.join("rvisor-bench");
    let workloads = ["startup", "getppid", "open_read_close", "bigread"];
    let mut rows = Vec::new();
    let mut emulated: Result<(f64, String), String> = Err("not run".to_string());
    let mut bigread: Result<(f64, String), String> = Err("not run".to_string());
    if workloads.iter().any(|c| opts.wants(c)) {
        let prepared = std::fs::create_dir_all(&workdir)
            .map_err(|e| format!("{}: {e}", workdir.display()))
            .and_then(|_| build_programs(&workdir));
        let prog = |name: &str| -> OsString { workdir.join(name).into() };
        let fail = |metric: &str, e: &String| Row {
            metric: metric.to_string(),
            native: Err(e.clone()),
            floor: None,
            rvisor: Err(e.clone()),
        };
        let ok = |_: &Run| Ok(());

        if opts.wants("startup") {
            let metric = "startup+exit, empty program (ms wall)";
            match &prepared {
                Ok(()) => {
                    let w = run_workload(&opts, &[prog("getppid_loop"), "0".into()], &ok, false);
                    let ms = |r: &Run| r.wall_ns / 1e6;
                    rows.push(Row {
                        metric: metric.into(),
                        native: w.native_med(ms),
                        floor: None,
                        rvisor: w.rvisor_med(ms),
                    });
                }
                Err(e) => rows.push(fail(metric, e)),
            }
        }

        if opts.wants("getppid") {
            let n = opts.n(20_000, 2_000);
            let per_op = "getppid (ns/call)";
            let wall = format!("getppid_loop {n} (ms wall)");
            match &prepared {
                Ok(()) => {
                    let w = run_workload(&opts, &[prog("getppid_loop"), n.to_string().into()], &ok, true);
                    let stop = w.stop().or(bare_stop);
                    let ns = |r: &Run| r.ns as f64 / r.ops.max(1) as f64;
                    let rv = w.rvisor_med(ns);
                    // Each run against the floor measured just before it: the ratio is
                    // steadier than either number.
                    emulated = match (&rv, stop) {
                        (Ok(v), Some(stop)) => Ok((
                            w.per_stop(ns).unwrap_or(v / stop),
                            format!("median of per-run ratios ({} / {} ns overall)", num(*v), num(stop)),
                        )),
                        (Err(e), _) => Err(format!("rvisor: {e}")),
                        (_, None) => Err("no ptrace floor".to_string()),
                    };
                    rows.push(Row { metric: per_op.into(), native: w.native_med(ns), floor: stop, rvisor: rv });
                    let ms = |r: &Run| r.wall_ns / 1e6;
                    rows.push(Row { metric: wall, native: w.native_med(ms), floor: None, rvisor: w.rvisor_med(ms) });
                }
                Err(e) => {
                    emulated = Err(e.clone());
                    rows.push(fail(per_op, e));
                }
            }
        }

        if opts.wants("open_read_close") {
            let n = opts.n(2_000, 200);
            let per_op = "open+read+close, small file (ns/op)";
            let wall = format!("open_read_close {n} (ms wall)");
            let small = workdir.join("small.txt");
            let made = prepared.clone().and_then(|_| {
                std::fs::write(&small, "rvisor bench: a small file for open/read/close.\n")
                    .map_err(|e| format!("{}: {e}", small.display()))
            });
            match made {
                Ok(()) => {
                    let argv = [prog("open_read_close"), n.to_string().into(), small.clone().into()];
                    let w = run_workload(&opts, &argv, &ok, true);
                    let ns = |r: &Run| r.ns as f64 / r.ops.max(1) as f64;
                    // Three trapped syscalls per op.
                    let floor = w.stop().or(bare_stop).map(|s| 3.0 * s);
                    rows.push(Row { metric: per_op.into(), native: w.native_med(ns), floor, rvisor: w.rvisor_med(ns) });
                    let ms = |r: &Run| r.wall_ns / 1e6;
                    rows.push(Row { metric: wall, native: w.native_med(ms), floor: None, rvisor: w.rvisor_med(ms) });
                }
                Err(e) => rows.push(fail(per_op, &e)),
            }
        }

        if opts.wants("bigread") {
            let per_op = "read 256 MiB in 1 MiB chunks (MiB/s)";
            let wall = "bigread (ms wall)";
            let big = workdir.join("big-256m.dat");
            let made = prepared.clone().and_then(|_| make_big_file(&big));
            match made {
                Ok(()) => {
                    let argv = [prog("bigread"), big.clone().into()];
                    let check = |r: &Run| {
                        if r.bytes == BIG_FILE_SIZE {
                            Ok(())
                        } else {
                            Err(format!("read {} of {BIG_FILE_SIZE} bytes", r.bytes))
                        }
                    };
                    // Warm the page cache so both sides read from memory.
                    let _ = run_program(&argv, Duration::from_secs(120));
                    let w = run_workload(&opts, &argv, &check, true);
                    let mibs = |r: &Run| r.bytes as f64 / MIB as f64 / (r.ns.max(1) as f64 / 1e9);
                    let (nat, rv) = (w.native_med(mibs), w.rvisor_med(mibs));
                    // Best case under ptrace: native time plus one stop per read().
                    let floor = match (&w.native, w.stop().or(bare_stop)) {
                        (Ok(runs), Some(stop)) => Some(median(
                            runs.iter()
                                .map(|r| r.bytes as f64 / MIB as f64 / ((r.ns as f64 + r.ops as f64 * stop) / 1e9))
                                .collect(),
                        )),
                        _ => None,
                    };
                    bigread = match (&rv, &nat) {
                        (Ok(r), Ok(n)) => Ok((r / n, format!("{} / {} MiB/s", num(*r), num(*n)))),
                        (Err(e), _) => Err(format!("rvisor: {e}")),
                        (_, Err(e)) => Err(format!("native: {e}")),
                    };
                    rows.push(Row { metric: per_op.into(), native: nat, floor, rvisor: rv });
                    let ms = |r: &Run| r.wall_ns / 1e6;
                    rows.push(Row {
                        metric: wall.into(),
                        native: w.native_med(ms),
                        floor: None,
                        rvisor: w.rvisor_med(ms),
                    });
                }
                Err(e) => {
                    bigread = Err(e.clone());
                    rows.push(fail(per_op, &e));
                }
            }
        }
    }

    if !rows.is_empty() {
        print_table(&rows);
        println!("\nratio = rvisor / native (times: lower is better; MiB/s: higher is better)\n");
    }
    if opts.wants("getppid") || opts.wants("bigread") {
        println!("targets:");
    }
    if opts.wants("getppid") {
        target("emulated syscall <= 1.1x bare ptrace stop", emulated, |r| r <= 1.1);
    }
    if opts.wants("bigread") {
        target("large file read >= 0.9x native throughput", bigread, |r| r >= 0.9);
    }
}
