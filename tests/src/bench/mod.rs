//! Small pieces the bench binaries (bench, bench-workloads, bench-net,
//! bench-wake) share: options, the platforms a command runs on, running a
//! timed command, medians and number formatting, and the in-process floors.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub mod floors;
pub mod platform;

pub use platform::{machine, Platform};

/// How much work a bench does: the full runs, or `--quick` (one repetition
/// and shorter loops: a smoke check, not for the targets).
#[derive(Clone, Copy, Debug)]
pub struct Effort {
    pub quick: bool,
}

impl Effort {
    /// Repetitions per measurement; the median is reported.
    pub fn reps(&self) -> usize {
        if self.quick {
            1
        } else {
            5
        }
    }

    /// `full` iterations, or `quick` ones with `--quick`.
    pub fn n(&self, full: u64, quick: u64) -> u64 {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// Runs `f` `reps` times and returns the median, or the first error.
pub fn median_of(reps: usize, mut f: impl FnMut() -> Result<f64, String>) -> Result<f64, String> {
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        v.push(f()?);
    }
    Ok(median(v))
}

/// `what: <errno text>` for the last OS error.
pub fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The release rvisor of this workspace (see .cargo/config.toml for the
/// target directory), else the one beside the running binary.
pub fn default_rvisor() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target").join(crate::TARGET_TRIPLE).join("release/rvisor");
    if ws.exists() {
        return ws.canonicalize().unwrap_or(ws);
    }
    match std::env::current_exe() {
        Ok(exe) if exe.with_file_name("rvisor").exists() => exe.with_file_name("rvisor"),
        _ => ws,
    }
}

/// The median (NaN for no values).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A number with about three significant digits; "-" when not finite.
pub fn num(v: f64) -> String {
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

/// The 1, 5 and 15 minute load averages, as /proc/loadavg shows them.
pub fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// Options of the benches that compile a C helper (bench-net, bench-wake).
pub struct HelperOpts {
    /// The rvisor binary.
    pub rvisor: PathBuf,
    /// One repetition and smaller runs.
    pub quick: bool,
    /// Where the helper is built.
    pub dir: PathBuf,
}

/// Parses `--rvisor PATH`, `--quick` and `--dir DIR`; prints `usage` and
/// exits 2 on anything else.
pub fn helper_opts(usage: &str) -> HelperOpts {
    let bad = || -> ! {
        eprintln!("{usage}");
        std::process::exit(2)
    };
    let mut opts = HelperOpts { rvisor: default_rvisor(), quick: false, dir: PathBuf::from("/tmp") };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| bad());
        match arg.to_str() {
            Some("--rvisor") => opts.rvisor = PathBuf::from(value()),
            Some("--dir") => opts.dir = PathBuf::from(value()),
            Some("--quick") => opts.quick = true,
            _ => bad(),
        }
    }
    opts
}

/// Compiles C `source` statically into `dir/name`.
pub fn build_helper(dir: &Path, name: &str, source: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).map_err(|e| e.to_string())?;
    let bin = dir.join(name);
    let out =
        Command::new("cc").args(["-O2", "-static", "-o"]).arg(&bin).arg(&src).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("cc: {}", String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("failed")));
    }
    Ok(bin)
}

/// A finished command: its wall time and what it printed.
pub struct Output {
    pub wall_ns: f64,
    pub stdout: String,
}

impl Output {
    /// Field `name` of the `BENCH name=N ...` line, if printed.
    pub fn field(&self, name: &str) -> Option<u64> {
        let line = self.stdout.lines().find(|l| l.starts_with("BENCH "))?;
        line.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')).and_then(|v| v.parse().ok())
    }

    /// Nanoseconds per op from the BENCH line.
    pub fn ns_per_op(&self) -> Result<f64, String> {
        match (self.field("ops"), self.field("ns")) {
            (Some(ops), Some(ns)) => Ok(ns as f64 / ops.max(1) as f64),
            _ => Err("no BENCH line".to_string()),
        }
    }
}

/// Runs `argv` from `cwd` with a small fixed environment (nothing of the
/// bench's own, so no RVISOR_PLATFORM leaks in); fails on a non-zero exit,
/// naming the first line of stderr. Polls instead of using a watchdog thread
/// so the bench stays single-threaded (the floors fork). Outputs must be
/// small (a few lines): they are read after the exit. The time limit is a
/// safety net.
pub fn run_command(argv: &[OsString], cwd: &Path, timeout: Duration) -> Result<Output, String> {
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
    let wall_ns = start.elapsed().as_nanos() as f64;
    let out = child.wait_with_output().map_err(|e| format!("output: {e}"))?;
    if !status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
        return Err(first.map_or_else(|| status.to_string(), str::to_string));
    }
    Ok(Output { wall_ns, stdout: String::from_utf8_lossy(&out.stdout).into_owned() })
}

/// Runs a helper's `argv`; returns the (ops, ns) of the `BENCH ops=N ns=N`
/// line it prints. The time limit is a safety net.
pub fn run_helper(argv: &[String], timeout: Duration) -> Result<(u64, u64), String> {
    let start = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().next().unwrap_or("failed").to_string());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("BENCH ")).ok_or("no BENCH line")?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')).and_then(|v| v.parse().ok())
    };
    Ok((field("ops").ok_or("no ops")?, field("ns").ok_or("no ns")?))
}

/// Size of the file both bench binaries read in 1 MiB chunks.
pub const BIG_FILE_SIZE: u64 = 256 << 20;

/// Creates (or reuses) the big file, filled with a non-zero pattern so no
/// filesystem can store it sparsely.
pub fn make_big_file(path: &Path) -> Result<(), String> {
    use std::io::Write;
    const MIB: u64 = 1 << 20;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_num() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        assert_eq!(
            (num(123.4), num(12.34), num(1.234), num(0.1234), num(f64::NAN)),
            ("123".into(), "12.3".into(), "1.23".into(), "0.123".into(), "-".into())
        );
    }
}
