//! `bench-workloads`: the benchmark suite. Every case runs natively, under
//! `rvisor --platform ptrace do` and under `rvisor --platform systrap do` in
//! one run, alternating, and is printed with its ratios to native; the run
//! ends with the targets met or not met by its own numbers (see "Benchmark
//! suite" in docs/performance.md).
//!
//! Usage: bench-workloads [--rvisor PATH] [--quick] [--only NAME[,NAME...]]
//!                        [--platforms P[,P...]] [--dir DIR]

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rvisor_tests::bench::floors::{same_cpu_floor, sigsys_floor, Tracer};
use rvisor_tests::bench::{default_rvisor, load_average, machine, median, run_command, Effort, Output, Platform};

mod idle;
mod inputs;
mod oci;
mod report;

use inputs::{BIG_FILE_SIZE, GEN_LINES, TREE_DIRS, TREE_FILES_PER_DIR};
use report::{Kind, Row, Table};

const CASES: &[&str] = &[
    "startup",
    "getppid",
    "open_read_close",
    "bigread",
    "stat",
    "fork_exec",
    "bash_loop",
    "pipe",
    "python",
    "gcc",
    "runc",
    "idle",
];

pub struct Opts {
    rvisor: PathBuf,
    effort: Effort,
    only: Option<Vec<String>>,
    dir: PathBuf,
    platforms: Vec<Platform>,
}

impl Opts {
    fn wants(&self, case: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|c| c == case))
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-workloads [--rvisor PATH] [--quick] [--only NAME[,NAME...]] [--platforms P[,P...]] [--dir DIR]\n\
         \n\
         --rvisor PATH     the rvisor binary (default: target/x86_64-unknown-linux-gnu/release/rvisor of this workspace)\n\
         --quick           one repetition and shorter loops (a smoke check, not for the targets)\n\
         --only NAMES      run only these cases: {}\n\
         --platforms LIST  columns, any of native,ptrace,systrap (default: all three)\n\
         --dir DIR         where the helpers and inputs go (default /tmp; uses DIR/rvisor-bench-workloads/)",
        CASES.join(", ")
    );
    std::process::exit(2);
}

fn parse_args() -> Opts {
    let mut opts = Opts {
        rvisor: default_rvisor(),
        effort: Effort { quick: false },
        only: None,
        dir: PathBuf::from("/tmp"),
        platforms: Platform::ALL.to_vec(),
    };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage()).to_string_lossy().into_owned();
        match arg.to_str() {
            Some("--rvisor") => opts.rvisor = PathBuf::from(value()),
            Some("--dir") => opts.dir = PathBuf::from(value()),
            Some("--quick") => opts.effort.quick = true,
            Some("--platforms") => match Platform::parse_list(&value()) {
                Ok(p) => opts.platforms = p,
                Err(e) => {
                    eprintln!("bench-workloads: {e}");
                    usage();
                }
            },
            Some("--only") => {
                let names: Vec<String> = value().split(',').map(str::to_string).collect();
                if let Some(bad) = names.iter().find(|n| !CASES.contains(&n.as_str())) {
                    eprintln!("bench-workloads: unknown case {bad:?}");
                    usage();
                }
                opts.only = Some(names);
            }
            Some("-h" | "--help") => usage(),
            _ => {
                eprintln!("bench-workloads: unexpected argument {arg:?}");
                usage();
            }
        }
    }
    opts
}

/// Values repetition by repetition, per platform (an error stops that
/// platform's series).
type Series = Vec<(Platform, Result<Vec<f64>, String>)>;

/// Runs `argv` on every platform, `reps` times, alternating so slow drifts
/// of the machine hit all alike; `before_rep` runs before each repetition
/// (the floors measured beside the runs). One untimed native run first warms
/// the page cache for everyone.
fn measure(
    opts: &Opts,
    argv: &[OsString],
    cwd: &Path,
    metric: &dyn Fn(&Output) -> Result<f64, String>,
    before_rep: &mut dyn FnMut(),
) -> Series {
    let _ = run_command(argv, cwd, Duration::from_secs(120));
    let mut series: Series = opts
        .platforms
        .iter()
        .map(|&p| {
            let ready = if p != Platform::Native && !opts.rvisor.exists() {
                Err(format!("{} not found (cargo build --release)", opts.rvisor.display()))
            } else {
                Ok(Vec::new())
            };
            (p, ready)
        })
        .collect();
    for _ in 0..opts.effort.reps() {
        before_rep();
        for (p, values) in series.iter_mut() {
            let Ok(v) = values else { continue };
            let timeout = Duration::from_secs(if *p == Platform::Native { 120 } else { 600 });
            match run_command(&p.command(&opts.rvisor, argv), cwd, timeout).and_then(|o| metric(&o)) {
                Ok(x) => v.push(x),
                Err(e) => *values = Err(e),
            }
        }
    }
    series
}

fn medians(series: &Series) -> Vec<(Platform, Result<f64, String>)> {
    series.iter().map(|(p, v)| (*p, v.as_ref().map(|v| median(v.clone())).map_err(Clone::clone))).collect()
}

/// Median over the repetitions of `platform`'s value / the floor measured
/// just before it: steadier than the ratio of the medians.
fn paired_ratio(series: &Series, platform: Platform, floors: &[Option<f64>]) -> Option<f64> {
    let values = series.iter().find(|(p, _)| *p == platform)?.1.as_ref().ok()?;
    let r: Vec<f64> = values.iter().zip(floors).filter_map(|(v, f)| Some(v / (*f)?)).collect();
    (!r.is_empty()).then(|| median(r))
}

fn wall_ms(o: &Output) -> Result<f64, String> {
    Ok(o.wall_ns / 1e6)
}

fn us_per_op(o: &Output) -> Result<f64, String> {
    o.ns_per_op().map(|ns| ns / 1e3)
}

/// The getppid floors measured beside the runs: SIGSYS and bare ptrace stop
/// per repetition.
#[derive(Default)]
pub struct Floors {
    pub sigsys: Vec<Option<f64>>,
    pub stop: Vec<Option<f64>>,
    /// systrap getppid with `RVISOR_SYSTRAP_PLACEMENT=beside` (each sentry
    /// thread held on its app thread's CPU, the placement before the
    /// adaptive one), ns per call, measured with the floors.
    pub beside: Vec<Option<f64>>,
    /// systrap getppid through glibc's call site with `--systrap-patch`
    /// (the site rewritten into a jump to the stub's trampoline: no
    /// SIGSYS), ns per call, measured with the floors.
    pub patched: Vec<Option<f64>>,
}

fn main() {
    let opts = parse_args();
    let dir = opts.dir.join("rvisor-bench-workloads");
    let (e, reps) = (opts.effort, opts.effort.reps());
    println!("rvisor benchmark suite, {}", machine());
    println!("rvisor: {}", opts.rvisor.display());
    println!("each value is the median of {reps} run(s), platforms alternating");
    println!("load average at the start: {}\n", load_average().unwrap_or_else(|| "?".to_string()));
    let prepared = std::fs::create_dir_all(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
        .and_then(|_| inputs::prepare(&dir));
    let mut table = Table::new(&opts.platforms);
    table.header();
    let mut floors = Floors::default();
    let prog = |name: &str| -> String { dir.join(name).to_string_lossy().into_owned() };
    // One row from a command line: the metric of each run's output.
    let mut row = |case: &str,
                   metric: &str,
                   kind: Kind,
                   argv: &[&str],
                   per: &dyn Fn(&Output) -> Result<f64, String>,
                   before: &mut dyn FnMut()|
     -> Option<Series> {
        if !opts.wants(case) {
            return None;
        }
        let series = match &prepared {
            Ok(()) => {
                let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
                measure(&opts, &argv, &dir, per, before)
            }
            Err(e) => opts.platforms.iter().map(|&p| (p, Err(e.clone()))).collect(),
        };
        table.push(Row { metric: metric.to_string(), kind, cells: medians(&series) });
        let _ = std::io::stdout().flush();
        Some(series)
    };
    let none = &mut || {};

    row("startup", "/bin/true, startup+exit (ms wall)", Kind::Workload, &["/bin/true"], &wall_ms, none);

    let n = e.n(20_000, 2_000).to_string();
    // getppid_loop on systrap with `setting` in rvisor's environment.
    let systrap_with = |setting: &str, args: &[&str]| -> Vec<OsString> {
        let argv: Vec<OsString> = std::iter::once(prog("getppid_loop"))
            .chain(args.iter().map(|a| a.to_string()))
            .map(OsString::from)
            .collect();
        ["/usr/bin/env", setting]
            .into_iter()
            .map(OsString::from)
            .chain(Platform::Systrap.command(&opts.rvisor, &argv))
            .collect()
    };
    let beside_argv = systrap_with("RVISOR_SYSTRAP_PLACEMENT=beside", &[&n]);
    let patched_argv = systrap_with("RVISOR_SYSTRAP_PATCH=1", &[&n, "libc"]);
    let beside = opts.platforms.contains(&Platform::Systrap);
    // Patching needs user-space rdgsbase (AT_HWCAP2 FSGSBASE); without it
    // the flag does nothing and the row would be the signal path again.
    // SAFETY: getauxval has no preconditions.
    let patching = beside && unsafe { libc::getauxval(libc::AT_HWCAP2) } & 2 != 0;
    let mut measure_floors = || {
        floors.sigsys.push(sigsys_floor(e.n(100_000, 10_000)).ok());
        floors.stop.push(same_cpu_floor(e.n(10_000, 1_000), Tracer::Bare).ok());
        if beside {
            let ns = run_command(&beside_argv, &dir, Duration::from_secs(300)).and_then(|o| o.ns_per_op());
            floors.beside.push(ns.ok());
        }
        if patching {
            let ns = run_command(&patched_argv, &dir, Duration::from_secs(300)).and_then(|o| o.ns_per_op());
            floors.patched.push(ns.ok());
        }
    };
    let ns = |o: &Output| o.ns_per_op();
    let getppid =
        row("getppid", "getppid (ns/call)", Kind::Micro, &[&prog("getppid_loop"), &n], &ns, &mut measure_floors);

    let n = e.n(2_000, 200).to_string();
    let small = prog("small.txt");
    let argv = [prog("open_read_close"), n, small];
    row(
        "open_read_close",
        "open+read+close, small file (ns/op)",
        Kind::Micro,
        &argv.each_ref().map(String::as_str),
        &ns,
        none,
    );

    let big = |o: &Output| match o.field("bytes") {
        Some(BIG_FILE_SIZE) => o.field("ns").map(|ns| ns as f64 / 1e6).ok_or_else(|| "no BENCH line".to_string()),
        b => Err(format!("read {b:?} of {BIG_FILE_SIZE} bytes")),
    };
    let argv = [prog("bigread"), prog("big-256m.dat")];
    row(
        "bigread",
        "read 256 MiB in 1 MiB chunks (ms)",
        Kind::Workload,
        &argv.each_ref().map(String::as_str),
        &big,
        none,
    );

    let files = TREE_DIRS * TREE_FILES_PER_DIR;
    // -size needs a stat of every file (-type f alone is answered by getdents' d_type).
    let script = format!("find {} -type f -size -100k | wc -l", prog("tree"));
    let counted = |o: &Output| match o.stdout.trim().parse::<usize>() {
        Ok(c) if c == files => Ok(o.wall_ns / 1e6),
        _ => Err(format!("find counted {:?}, not {files}", o.stdout.trim())),
    };
    row(
        "stat",
        &format!("find | wc -l, stat of {files} files (ms wall)"),
        Kind::Workload,
        &["/bin/sh", "-c", &script],
        &counted,
        none,
    );

    let forks = e.n(200, 50).to_string();
    row(
        "fork_exec",
        "fork+exec+wait of /bin/true (us/iteration)",
        Kind::Workload,
        &[&prog("fork_exec"), &forks],
        &us_per_op,
        none,
    );

    let loop_n = e.n(1000, 200);
    let script = format!("for i in $(seq {loop_n}); do /bin/true; done");
    row(
        "bash_loop",
        &format!("bash loop, {loop_n} x /bin/true (ms wall)"),
        Kind::Workload,
        &["/bin/bash", "-c", &script],
        &wall_ms,
        none,
    );

    let trips = e.n(2_000, 200).to_string();
    row(
        "pipe",
        "pipe ping-pong, two processes (us/round trip)",
        Kind::Micro,
        &[&prog("pipe_pingpong"), &trips],
        &us_per_op,
        none,
    );

    row("python", "python3 -c pass (ms wall)", Kind::Workload, &["/usr/bin/python3", "-c", "pass"], &wall_ms, none);
    row(
        "gcc",
        &format!("gcc -O2 -c, {GEN_LINES}-line file (ms wall)"),
        Kind::Workload,
        &["/usr/bin/gcc", "-O2", "-c", "gen1000.c"],
        &wall_ms,
        none,
    );

    if opts.wants("runc") {
        table.push(runc_row(&opts, &dir));
        let _ = std::io::stdout().flush();
    }
    let idle = if opts.wants("idle") { Some(idle_rows(&opts, &mut table)) } else { None };

    table.footer();
    if let Some(series) = &getppid {
        report::getppid(series, &floors);
    }
    if let Some(idle) = &idle {
        report::idle_detail(idle);
    }
    report::targets(&table, getppid.as_ref(), &floors, &opts.platforms);
    println!("\nload average at the end: {}", load_average().unwrap_or_else(|| "?".to_string()));
}

/// The quiet spell before each OCI run: the first cgroup v1 migration after
/// one waits for an RCU grace period (10-20 ms here), which a run right
/// after another runtime's migration skips. Back to back, the order of the
/// runs, not the runtimes, would decide who pays it.
const CGROUP_QUIET: Duration = Duration::from_millis(200);

/// `runc run` (in the native column) against `rvisor --platform P run` of
/// the same bundle, each run after [`CGROUP_QUIET`].
fn runc_row(opts: &Opts, dir: &Path) -> Row {
    let metric = "OCI run, busybox /bin/true (ms wall; native = runc)".to_string();
    let rvisor =
        |p: Platform| -> Vec<OsString> { vec![opts.rvisor.clone().into(), "--platform".into(), p.name().into()] };
    let runtimes: Vec<(Platform, Vec<OsString>)> = opts
        .platforms
        .iter()
        .map(|&p| match p {
            Platform::Native => (p, oci::runc()),
            Platform::Ptrace | Platform::Systrap => (p, rvisor(p)),
        })
        .collect();
    let bundle = match oci::bundle(&opts.rvisor, dir) {
        Ok(b) => b,
        Err(e) => {
            return Row {
                metric,
                kind: Kind::Runtime,
                cells: runtimes.iter().map(|(p, _)| (*p, Err(e.clone()))).collect(),
            }
        }
    };
    let mut series: Series = runtimes.iter().map(|(p, _)| (*p, Ok(Vec::new()))).collect();
    for i in 0..opts.effort.reps() {
        for ((p, runtime), (_, values)) in runtimes.iter().zip(series.iter_mut()) {
            let Ok(v) = values else { continue };
            let state = dir.join("oci").join(p.name());
            std::thread::sleep(CGROUP_QUIET);
            match oci::run(runtime, &state, &bundle, &format!("bench-{}-{i}", std::process::id())) {
                Ok(o) => v.push(o.wall_ns / 1e6),
                Err(e) => *values = Err(e),
            }
        }
    }
    Row { metric, kind: Kind::Runtime, cells: medians(&series) }
}

/// The idle rows: sentry+gofer memory and sentry+gofer+app CPU while the app
/// sleeps, per platform. Returns every sample for the detail lines.
fn idle_rows(opts: &Opts, table: &mut Table) -> Vec<(Platform, Result<Vec<idle::Idle>, String>)> {
    let (settle, window) = if opts.effort.quick {
        (Duration::from_millis(500), Duration::from_secs(1))
    } else {
        (Duration::from_secs(1), Duration::from_secs(5))
    };
    let reps = opts.effort.reps().min(3);
    let mut samples: Vec<(Platform, Result<Vec<idle::Idle>, String>)> =
        opts.platforms.iter().map(|&p| (p, Ok(Vec::new()))).collect();
    for _ in 0..reps {
        for (p, values) in samples.iter_mut() {
            let Ok(v) = values else { continue };
            match idle::measure(&opts.rvisor, *p, settle, window) {
                Ok(s) => v.push(s),
                Err(e) => *values = Err(e),
            }
        }
    }
    let cells = |f: fn(&idle::Idle) -> f64, sandboxed_only: bool| -> Vec<(Platform, Result<f64, String>)> {
        samples
            .iter()
            .filter(|(p, _)| !sandboxed_only || *p != Platform::Native)
            .map(|(p, v)| (*p, v.as_ref().map(|v| median(v.iter().map(f).collect())).map_err(Clone::clone)))
            .collect()
    };
    table.push(Row {
        metric: "idle sentry+gofer VmRSS (MiB)".into(),
        kind: Kind::Memory,
        cells: cells(|s| s.rss, true),
    });
    table.push(Row {
        metric: "idle sentry+gofer PSS (MiB)".into(),
        kind: Kind::Resource,
        cells: cells(|s| s.pss, true),
    });
    table.push(Row {
        metric: format!("idle CPU over {} s of sleep, sentry+gofer+app (ms)", window.as_secs()),
        kind: Kind::Resource,
        cells: cells(|s| s.cpu_ms, false),
    });
    samples
}
