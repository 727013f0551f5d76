//! `bench-workloads`: real Debian programs natively and under `rvisor do`, as
//! ratios measured in one run (see "Workload benchmarks" in
//! docs/performance.md).
//!
//! Usage: bench-workloads [--rvisor PATH] [--quick] [--only NAME[,NAME...]] [--dir DIR]

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rvisor_tests::bench::{default_rvisor, load_average, median, num};

const CASES: &[&str] = &["startup", "fork_exec", "bash_loop", "python", "gcc"];

/// fork + execve("/bin/true") + waitpid in a loop, timed by its own clock.
const FORK_EXEC_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100;
    char *args[] = {"/bin/true", NULL};
    char *env[] = {NULL};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            execve(args[0], args, env);
            _exit(127);
        }
        int st;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "fork_exec: iteration %ld failed\n", i);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    printf("BENCH ops=%ld ns=%lld\n", n, ns);
    return 0;
}
"#;

/// Lines in the generated C file for the gcc case.
const GEN_LINES: usize = 1000;

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
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-workloads [--rvisor PATH] [--quick] [--only NAME[,NAME...]] [--dir DIR]\n\
         \n\
         --rvisor PATH  the rvisor binary (default: target/release/rvisor of this workspace)\n\
         --quick        one repetition and shorter loops\n\
         --only NAMES   run only these cases: {}\n\
         --dir DIR      where to build the helper and the generated C file (default /tmp)",
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

/// One finished run: wall time, and the program's own BENCH report if any.
struct Run {
    wall_ms: f64,
    bench: Option<(u64, u64)>,
}

/// Runs `argv` from `cwd` with a small fixed environment; fails on a non-zero
/// exit, naming the first line of stderr. The time limit is a safety net.
fn run_program(argv: &[OsString], cwd: &Path, timeout: Duration) -> Result<Run, String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let start = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("HOME", cwd)
        // A native python run as root would otherwise write .pyc files to /usr.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", Path::new(prog).display()))?;
    // Outputs are small (a line or two), so reading after the exit cannot deadlock.
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    let out = child.wait_with_output().map_err(|e| format!("output: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !status.success() {
        let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
        return Err(first.map_or_else(|| status.to_string(), str::to_string));
    }
    let bench = stdout.lines().find(|l| l.starts_with("BENCH ")).and_then(|line| {
        let field = |name: &str| {
            line.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')).and_then(|v| v.parse().ok())
        };
        Some((field("ops")?, field("ns")?))
    });
    Ok(Run { wall_ms, bench })
}

/// Medians of `metric` over the native and the sandboxed runs, alternated so
/// slow drifts of the machine hit both alike.
fn measure(
    opts: &Opts,
    argv: &[OsString],
    cwd: &Path,
    metric: &dyn Fn(&Run) -> Option<f64>,
) -> (Result<f64, String>, Result<f64, String>) {
    let mut sandboxed: Vec<OsString> = vec![opts.rvisor.clone().into(), "do".into(), "--".into()];
    sandboxed.extend_from_slice(argv);
    let one = |argv: &[OsString], timeout| {
        run_program(argv, cwd, timeout).and_then(|r| metric(&r).ok_or_else(|| "no BENCH line".to_string()))
    };
    // One untimed native run warms the page cache for both sides.
    let _ = run_program(argv, cwd, Duration::from_secs(120));
    let (mut native, mut rvisor) = (Ok(Vec::new()), Ok(Vec::new()));
    if !opts.rvisor.exists() {
        rvisor = Err(format!("{} not found (cargo build --release)", opts.rvisor.display()));
    }
    for _ in 0..opts.reps() {
        for (runs, argv, timeout) in
            [(&mut native, argv, Duration::from_secs(120)), (&mut rvisor, &sandboxed[..], Duration::from_secs(600))]
        {
            if let Ok(v) = runs {
                match one(argv, timeout) {
                    Ok(x) => v.push(x),
                    Err(e) => *runs = Err(e),
                }
            }
        }
    }
    (native.map(median), rvisor.map(median))
}

/// A C file of exactly `GEN_LINES` lines: includes, then small functions with
/// loops and branches, then a main calling them.
fn generated_c() -> String {
    let header = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n";
    let func = |i: usize| {
        format!(
            "static unsigned f{i}(unsigned x) {{\n    unsigned y = x * {m}u + {i}u;\n    \
             for (unsigned k = 0; k < {r}u; k++) {{\n        y ^= (y << 1) + k;\n    }}\n    \
             if (y % 7u == {i}u % 7u)\n        y += strlen(\"f{i}\");\n    return y;\n}}\n\n",
            m = 2 * i + 1,
            r = i % 13 + 3
        )
    };
    let per_func = func(0).lines().count();
    // main: 4 lines plus one call line per function.
    let funcs = (GEN_LINES - header.lines().count() - 4) / (per_func + 1);
    let mut s = String::from(header);
    for i in 0..funcs {
        s.push_str(&func(i));
    }
    s.push_str("int main(void) {\n    unsigned acc = 0;\n");
    for i in 0..funcs {
        s.push_str(&format!("    acc += f{i}(acc);\n"));
    }
    let used = s.lines().count() + 2;
    for _ in used..GEN_LINES {
        s.push_str("    acc ^= acc >> 3;\n");
    }
    s.push_str("    printf(\"%u\\n\", acc);\n}\n");
    s
}

/// Builds the fork+exec helper (`cc -O2 -static`) and writes the generated C file.
fn prepare(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let src = dir.join("fork_exec.c");
    std::fs::write(&src, FORK_EXEC_C).map_err(|e| format!("{}: {e}", src.display()))?;
    let out = Command::new("cc")
        .args(["-O2", "-static", "-o"])
        .arg(dir.join("fork_exec"))
        .arg(&src)
        .output()
        .map_err(|e| format!("cc: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("cc fork_exec.c: {}", err.lines().next().unwrap_or("failed")));
    }
    let gen = dir.join("gen1000.c");
    std::fs::write(&gen, generated_c()).map_err(|e| format!("{}: {e}", gen.display()))
}

fn print_row(w: usize, metric: &str, native: &Result<f64, String>, rvisor: &Result<f64, String>) {
    match (native, rvisor) {
        (Ok(n), Ok(r)) => {
            println!("{metric:<w$}  {:>10}  {:>10}  {:>9}", num(*n), num(*r), format!("{}x", num(r / n)))
        }
        (Err(e), _) => println!("{metric:<w$}  error (native): {e}"),
        (Ok(n), Err(e)) => println!("{metric:<w$}  {:>10}  error: {e}", num(*n)),
    }
}

fn main() {
    let opts = parse_args();
    let dir = opts.dir.join("rvisor-bench-workloads");
    println!("rvisor workload bench; rvisor: {}", opts.rvisor.display());
    println!("each value is the median of {} run(s), native and sandboxed runs alternating", opts.reps());
    println!("load average at the start: {}\n", load_average().unwrap_or_else(|| "?".to_string()));
    let prepared = prepare(&dir);
    let (loop_n, forks) = if opts.quick { (200, 50) } else { (1000, 200) };
    let w = 44;
    println!("{:<w$}  {:>10}  {:>10}  {:>9}", "metric", "native", "rvisor", "ratio");
    println!("{}", "-".repeat(w + 2 + 10 + 2 + 10 + 2 + 9));
    let wall = |r: &Run| Some(r.wall_ms);
    let per_op_us = |r: &Run| r.bench.map(|(ops, ns)| ns as f64 / ops.max(1) as f64 / 1e3);
    let row = |name: &str, metric: &str, argv: &[&str], per: &dyn Fn(&Run) -> Option<f64>| {
        if !opts.wants(name) {
            return;
        }
        let (native, rvisor) = match &prepared {
            Ok(()) => {
                let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
                measure(&opts, &argv, &dir, per)
            }
            Err(e) => (Err(e.clone()), Err(e.clone())),
        };
        print_row(w, metric, &native, &rvisor);
        let _ = std::io::stdout().flush();
    };
    row("startup", "/bin/true, startup+exit (ms wall)", &["/bin/true"], &wall);
    let fork_exec = dir.join("fork_exec");
    let fork_exec = fork_exec.to_string_lossy();
    let forks_s = forks.to_string();
    row("fork_exec", "fork+exec+wait of /bin/true (us/iteration)", &[&fork_exec, &forks_s], &per_op_us);
    let script = format!("for i in $(seq {loop_n}); do /bin/true; done");
    row("bash_loop", &format!("bash loop, {loop_n} x /bin/true (ms wall)"), &["/bin/bash", "-c", &script], &wall);
    row("python", "python3 -c pass (ms wall)", &["/usr/bin/python3", "-c", "pass"], &wall);
    row(
        "gcc",
        &format!("gcc -O2 -c, {GEN_LINES}-line file (ms wall)"),
        &["/usr/bin/gcc", "-O2", "-c", "gen1000.c"],
        &wall,
    );
    println!("\nratio = rvisor / native (lower is better); wall times include sandbox start-up (first row)");
    println!("load average at the end: {}", load_average().unwrap_or_else(|| "?".to_string()));
}
