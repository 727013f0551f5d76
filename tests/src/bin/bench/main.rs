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

use rvisor_tests::bench::floors::{measure_floors, request_costs, same_cpu_floor, Tracer};
use rvisor_tests::bench::{default_rvisor, machine, make_big_file, median, num, Effort, Platform, BIG_FILE_SIZE};

mod systrap;

const CASES: &[&str] = &["floors", "startup", "getppid", "open_read_close", "bigread", "systrap"];
const MIB: u64 = 1 << 20;

/// The workload programs, compiled at run time so the binary is self-contained.
const PROGRAMS: &[(&str, &str)] = &[
    ("getppid_loop", include_str!("../../../bench/getppid_loop.c")),
    ("open_read_close", include_str!("../../../bench/open_read_close.c")),
    ("bigread", include_str!("../../../bench/bigread.c")),
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

    fn effort(&self) -> Effort {
        Effort { quick: self.quick }
    }

    /// Repetitions per measurement; the median is reported.
    fn reps(&self) -> usize {
        self.effort().reps()
    }

    fn n(&self, full: u64, quick: u64) -> u64 {
        self.effort().n(full, quick)
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--rvisor PATH] [--quick] [--only NAME[,NAME...]] [--dir DIR]\n\
         \n\
         --rvisor PATH  the rvisor binary (default: target/x86_64-unknown-linux-gnu/release/rvisor of this workspace)\n\
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
    /// The same-CPU bare ptrace stop (ns) measured before each pair of runs.
    stops: Vec<Option<f64>>,
    /// The same-CPU least emulated syscall (GET_SYSCALL_INFO + 1 POKEUSER:
    /// one read, one write), likewise.
    emulated: Vec<Option<f64>>,
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

    /// Median least emulated syscall beside these runs.
    fn emulated(&self) -> Option<f64> {
        let v: Vec<f64> = self.emulated.iter().flatten().copied().collect();
        (!v.is_empty()).then(|| median(v))
    }

    /// Median over repetitions of `f(rvisor run) / floors[i]`, each run paired
    /// with the floor measured just before it.
    fn per_floor(&self, floors: &[Option<f64>], f: impl Fn(&Run) -> f64) -> Option<f64> {
        let runs = self.rvisor.as_ref().ok()?;
        let v: Vec<f64> = runs.iter().zip(floors).filter_map(|(r, s)| Some(f(r) / (*s)?)).collect();
        (!v.is_empty()).then(|| median(v))
    }
}

/// Runs a workload natively and under rvisor, alternating so slow drifts of
/// the machine hit both alike. `check` validates each run's report.
///
/// With `floor`, the same-CPU ptrace floors are measured before each pair
/// too: the machine's speed drifts with other load, so only a floor measured
/// beside the runs compares fairly. They are pinned to one CPU because the
/// sentry pins each tracer thread beside its tracee: an unpinned floor may
/// land in the slow cross-CPU mode and flatter rvisor.
fn run_workload(opts: &Opts, argv: &[OsString], check: &dyn Fn(&Run) -> Result<(), String>, floor: bool) -> Workload {
    // Always the ptrace platform, named: the default may change.
    let sandboxed = Platform::Ptrace.command(&opts.rvisor, argv);
    let mut native = Ok(Vec::new());
    let mut rvisor = if opts.rvisor.exists() {
        Ok(Vec::new())
    } else {
        Err(format!("{} not found (cargo build --release)", opts.rvisor.display()))
    };
    let (mut stops, mut emulated) = (Vec::new(), Vec::new());
    for _ in 0..opts.reps() {
        if floor {
            // Fork-safe: run_program's watchdog thread has been joined.
            stops.push(same_cpu_floor(opts.n(10_000, 1_000), Tracer::Bare).ok());
            emulated.push(same_cpu_floor(opts.n(10_000, 1_000), Tracer::EmulateMin).ok());
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
    Workload { native, rvisor, stops, emulated }
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

// ---- report ----------------------------------------------------------------

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
    println!("rvisor bench, {}", machine());
    println!("rvisor: {}", opts.rvisor.display());
    println!("each value is the median of {} run(s); per-op times come from the programs' own clocks\n", opts.reps());
    let _ = std::io::stdout().flush();

    // Floors first, while the bench is still single-threaded (they fork).
    let floors = if ["floors", "getppid", "open_read_close", "bigread", "systrap"].iter().any(|c| opts.wants(c)) {
        let f = measure_floors(&opts.effort());
        let show = |r: &Result<f64, String>| r.as_ref().map_or_else(|e| format!("error: {e}"), |v| num(*v));
        let line =
            |label: &str, v: String, note: &str| println!("{}", format!("  {label:<46} {v:>8}   {note}").trim_end());
        println!("in-process floors (ns per call):");
        line("native getppid", num(f.native), "");
        line("seccomp RET_TRAP + SIGSYS handler", show(&f.sigsys), "(systrap floor)");
        if let Some(h) = &f.handoff {
            line("... + spin hand-off to another process", show(h), "(two CPUs; systrap getppid floor)");
        }
        line("... in a ptraced process", show(&f.sigsys_traced), "(one CPU; signal-delivery stop)");
        line("seccomp RET_TRACE + PTRACE_CONT, unpinned", show(&f.unpinned), "(scheduler's choice)");
        line("bare ptrace stop, tracer+tracee on one CPU", show(&f.same), "(the target's floor)");
        line("... + GETREGS/SETREGS, syscall skipped", show(&f.same_regs), "(one CPU)");
        line("... + GET_SYSCALL_INFO + 2x POKEUSER", show(&f.same_lean), "(one CPU; least an emulated syscall)");
        line("... + GET_SYSCALL_INFO + 1x POKEUSER", show(&f.same_min), "(one CPU; one read + one write)");
        if let (Ok(bare), Ok(min)) = (&f.same, &f.same_min) {
            println!(
                "  one read + one write is the least any emulation needs: {} of the bare stop (target 1.1x)",
                ratio(min / bare)
            );
        }
        if let Some(cross) = &f.cross {
            line("bare ptrace stop, tracer+tracee on two CPUs", show(cross), "(cross-CPU wake-ups)");
        }
        if let Ok(bare) = &f.same {
            println!("\none request at a stop, tracer+tracee on one CPU (ns each, over the bare stop):");
            for (name, cost) in request_costs(&opts.effort(), *bare) {
                line(name, show(&cost), "");
            }
        }
        println!();
        Some(f)
    } else {
        None
    };
    let bare_stop = floors.as_ref().and_then(|f| f.same.as_ref().ok().copied());

    let workdir = opts.dir.join("rvisor-bench");
    let workloads = ["startup", "getppid", "open_read_close", "bigread"];
    let mut rows = Vec::new();
    let mut emulated: Result<(f64, String), String> = Err("not run".to_string());
    let mut vs_least: Option<(f64, f64)> = None;
    // The least any emulation can do over the bare stop, each pair measured together.
    let mut least_over_stop: Option<f64> = None;
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
                            w.per_floor(&w.stops, ns).unwrap_or(v / stop),
                            format!("median of per-run ratios to the same-CPU stop ({} / {} ns)", num(*v), num(stop)),
                        )),
                        (Err(e), _) => Err(format!("rvisor: {e}")),
                        (_, None) => Err("no ptrace floor".to_string()),
                    };
                    let pairs: Vec<f64> =
                        w.emulated.iter().zip(&w.stops).filter_map(|(e, s)| Some((*e)? / (*s)?)).collect();
                    least_over_stop = (!pairs.is_empty()).then(|| median(pairs));
                    vs_least = w.emulated().and_then(|e| Some((w.per_floor(&w.emulated, ns)?, e)));
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

    if opts.wants("systrap") {
        let ready = std::fs::create_dir_all(&workdir).map_err(|e| e.to_string()).and_then(|_| build_programs(&workdir));
        match ready {
            Ok(()) => {
                let floor = floors.as_ref().and_then(|f| f.sigsys.as_ref().ok().copied());
                systrap::report(&opts, &workdir, floor);
            }
            Err(e) => println!("systrap: {e}\n"),
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
        if let Some((r, least)) = vs_least {
            println!(
                "    (for reference: {} of the least an emulating ptrace tracer can do on one CPU, {} ns)",
                ratio(r),
                num(least)
            );
        }
        if let Some(l) = least_over_stop {
            println!(
                "    (that least, one read + one write, is itself {} of the bare stop: the bound on ptrace)",
                ratio(l)
            );
        }
    }
    if opts.wants("bigread") {
        target("large file read >= 0.9x native throughput", bigread, |r| r >= 0.9);
    }
}
