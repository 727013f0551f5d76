//! Test support: locate `rvisor`, compile the C corpus, run programs natively and
//! sandboxed with captured output, and compare the two.
//!
//! Environment:
//! * `RVISOR_BIN` — the rvisor binary (default: next to the test binary, then
//!   `<workspace>/target/{release,debug}/rvisor`).
//! * `RVISOR_NATIVE_ONLY=1` — developer self-check: run each corpus program twice
//!   natively and compare, never touching rvisor. Not for CI.
//! * `RVISOR_KEEP_TMP=1` — keep temporary directories for inspection.
//! * `CC` — C compiler (default `cc`).
//! * `RVISOR_PLATFORM=ptrace|systrap` — passed to rvisor, whose `do` uses it
//!   as the platform when no `--platform` is given (default: systrap where the CPU
//!   supports it, else ptrace).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod bench;
pub mod workloads;

/// Default time limit for one native run.
pub const NATIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time limit for one sandboxed run.
pub const SANDBOX_TIMEOUT: Duration = Duration::from_secs(120);

/// The environment every program under test gets (native and sandboxed alike).
pub const BASE_ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    ("HOME", "/root"),
    ("LC_ALL", "C"),
    ("TZ", "UTC"),
];

/// Host variables passed to rvisor itself (logging) when set.
const RVISOR_PASSTHROUGH_ENV: &[&str] =
    &["RUST_LOG", "RUST_BACKTRACE", "RVISOR_SECCOMP", "RVISOR_PLATFORM", "RVISOR_SYSTRAP_PATCH"];

/// The `tests/` crate directory.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Workspace root.
pub fn workspace_root() -> PathBuf {
    tests_dir().parent().expect("tests crate has a parent directory").to_path_buf()
}

/// Directory with the C corpus.
pub fn c_dir() -> PathBuf {
    tests_dir().join("c")
}

/// Where compiled C programs are cached.
pub fn build_dir() -> PathBuf {
    tests_dir().join("build")
}

/// Compiles `tests/SUBDIR/NAME.c` statically, once per test process, into
/// the build directory; returns the program's path.
pub fn build_static(subdir: &str, name: &str) -> PathBuf {
    let src = tests_dir().join(format!("{subdir}/{name}.c"));
    let out = build_dir().join(format!("{subdir}-{name}-{}", std::process::id()));
    fs::create_dir_all(build_dir()).expect("build dir");
    let ok = Command::new("cc").args(["-static", "-O1", "-o"]).arg(&out).arg(&src).status().expect("run cc");
    assert!(ok.success(), "compiling {}", src.display());
    out
}

/// True when the developer-only native self-check mode is on.
pub fn native_only() -> bool {
    std::env::var_os("RVISOR_NATIVE_ONLY").is_some_and(|v| !v.is_empty() && v != "0")
}

fn keep_tmp() -> bool {
    std::env::var_os("RVISOR_KEEP_TMP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The platform sandboxed tests run on: RVISOR_PLATFORM if set, else
/// rvisor's default (systrap where the CPU has rdtscp, else ptrace).
pub fn suite_platform() -> &'static str {
    match std::env::var("RVISOR_PLATFORM").ok().as_deref() {
        Some("ptrace") => "ptrace",
        Some(_) => "systrap",
        None if cpu_has_rdtscp() => "systrap",
        None => "ptrace",
    }
}

pub fn cpu_has_rdtscp() -> bool {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
    cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "rdtscp"))
}

/// The target .cargo/config.toml names: build profiles sit under
/// target/<triple>/.
pub const TARGET_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Locate the rvisor binary or panic with instructions.
pub fn rvisor_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(find_rvisor).clone().unwrap_or_else(|e| panic!("{e}"))
}

fn find_rvisor() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("RVISOR_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(format!("RVISOR_BIN={} does not exist", p.display())) };
    }
    let mut candidates = Vec::new();
    // target/<profile>/deps/<test-binary> -> target/<profile>/rvisor
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            candidates.push(profile_dir.join("rvisor"));
        }
    }
    let roots = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).into_iter();
    for t in roots.chain([workspace_root().join("target")]) {
        candidates.push(t.join(TARGET_TRIPLE).join("release/rvisor"));
        candidates.push(t.join(TARGET_TRIPLE).join("debug/rvisor"));
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "rvisor binary not found (looked in: {}). Build it first with \
         `cargo build --release -p rvisor-cli`, or set RVISOR_BIN.",
        looked.join(", ")
    ))
}

fn mtime(p: &Path) -> Option<SystemTime> {
    fs::metadata(p).and_then(|m| m.modified()).ok()
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{}-{:08x}", std::process::id(), n, nanos)
}

/// Compile `tests/c/<name>.c` statically into `tests/build/<name>` unless the
/// cached binary is newer than the source and every header. Safe under
/// parallel test processes: compile to a temporary name, then rename.
pub fn compile_c(name: &str) -> PathBuf {
    static DONE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let done = DONE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(p) = done.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
        return p.clone();
    }
    let src = c_dir().join(format!("{name}.c"));
    assert!(src.is_file(), "no such C program: {}", src.display());
    let out_dir = build_dir();
    fs::create_dir_all(&out_dir).expect("create tests/build");
    let out = out_dir.join(name);

    let mut newest = mtime(&src).expect("source mtime");
    for entry in fs::read_dir(c_dir()).expect("read tests/c").flatten() {
        let p = entry.path();
        if p.extension() == Some(OsStr::new("h")) {
            if let Some(t) = mtime(&p) {
                newest = newest.max(t);
            }
        }
    }
    let fresh = mtime(&out).is_some_and(|t| t >= newest);
    if !fresh {
        let tmp = out_dir.join(format!(".{name}.{}.tmp", unique_suffix()));
        let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
        let res = Command::new(&cc)
            .args(["-static", "-O1", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .arg("-I")
            .arg(c_dir())
            .output()
            .unwrap_or_else(|e| panic!("cannot run C compiler {:?}: {e}", cc));
        if !res.status.success() {
            let _ = fs::remove_file(&tmp);
            panic!("compiling {} failed ({}):\n{}", src.display(), res.status, String::from_utf8_lossy(&res.stderr));
        }
        fs::rename(&tmp, &out).expect("rename compiled program into place");
    }
    done.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), out.clone());
    out
}

/// A fresh directory, removed on drop (unless `RVISOR_KEEP_TMP` is set).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create `/tmp/rvisor-tests/<prefix>-<unique>` with mode 0755.
    pub fn new(prefix: &str) -> TempDir {
        let base = std::env::temp_dir().join("rvisor-tests");
        fs::create_dir_all(&base).expect("create temp base");
        let _ = fs::set_permissions(&base, fs::Permissions::from_mode(0o755));
        Self::new_in(&base, prefix)
    }

    /// Create `<base>/<prefix>-<unique>` with mode 0755.
    pub fn new_in(base: &Path, prefix: &str) -> TempDir {
        let path = base.join(format!("{prefix}-{}", unique_suffix()));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if keep_tmp() {
            eprintln!("keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    TimedOut,
}

impl Status {
    /// Shell convention: the exit code, or 128+N for death by signal N.
    pub fn code(self) -> Option<i32> {
        match self {
            Status::Exited(c) => Some(c),
            Status::Signaled(s) => Some(128 + s),
            Status::TimedOut => None,
        }
    }

    /// Same outcome by the shell convention: death by signal N matches exit
    /// status 128+N (rvisor reports a signalled app either way). A time-out
    /// never matches.
    pub fn same_as(self, other: Status) -> bool {
        self.code().is_some() && self.code() == other.code()
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exit {c}"),
            Status::Signaled(s) => write!(f, "signal {s} (status {})", 128 + s),
            Status::TimedOut => write!(f, "timed out"),
        }
    }
}

/// Captured result of one run.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: Status,
}

impl RunOutput {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Where a child's stdin/stdout come from.
#[derive(Default)]
pub enum Input {
    /// `/dev/null`.
    #[default]
    Null,
    /// These bytes through a pipe.
    Bytes(Vec<u8>),
}

/// A command to run with captured output, a clean environment, fds >= 3
/// closed, no core dumps, umask 022, its own process group and a time limit.
pub struct Run {
    cmd: Command,
    input: Input,
    timeout: Duration,
    stdout_file: Option<fs::File>,
    stderr_file: Option<fs::File>,
    chroot: Option<PathBuf>,
}

impl Run {
    pub fn new(program: impl AsRef<OsStr>) -> Run {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for (k, v) in BASE_ENV {
            cmd.env(k, v);
        }
        Run { cmd, input: Input::Null, timeout: NATIVE_TIMEOUT, stdout_file: None, stderr_file: None, chroot: None }
    }

    /// `rvisor <rvisor_args...> -- <program> <args...>` is built by the caller;
    /// this adds rvisor's own logging variables when present.
    pub fn rvisor() -> Run {
        let mut r = Run::new(rvisor_bin());
        for k in RVISOR_PASSTHROUGH_ENV {
            if let Some(v) = std::env::var_os(k) {
                r.cmd.env(k, v);
            }
        }
        r.timeout = SANDBOX_TIMEOUT;
        r
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Run {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Run {
        self.cmd.env(k, v);
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Run {
        self.cmd.current_dir(dir);
        self
    }

    pub fn input(mut self, input: Input) -> Run {
        self.input = input;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Run {
        self.timeout = t;
        self
    }

    /// Send stdout to this file instead of capturing it.
    pub fn stdout_file(mut self, f: fs::File) -> Run {
        self.stdout_file = Some(f);
        self
    }

    /// Send stderr to this file instead of capturing it.
    pub fn stderr_file(mut self, f: fs::File) -> Run {
        self.stderr_file = Some(f);
        self
    }

    /// chroot(2) into `dir` (and chdir to "/") before exec; the program path is
    /// then resolved inside it.
    pub fn chroot(mut self, dir: impl AsRef<Path>) -> Run {
        self.chroot = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Run to completion (or the time limit) and collect the output.
    pub fn output(mut self) -> RunOutput {
        let chroot = self.chroot.as_ref().map(|p| {
            use std::os::unix::ffi::OsStrExt;
            std::ffi::CString::new(p.as_os_str().as_bytes()).expect("chroot path without NUL")
        });
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe system calls on memory prepared beforehand.
        unsafe {
            self.cmd.pre_exec(move || {
                let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                libc::umask(0o022);
                libc::setpgid(0, 0);
                // Mark every inherited fd above stdio close-on-exec.
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
                if let Some(dir) = &chroot {
                    if libc::chroot(dir.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        self.cmd.stdin(match self.input {
            Input::Null => Stdio::null(),
            Input::Bytes(_) => Stdio::piped(),
        });
        let capture_out = self.stdout_file.is_none();
        let capture_err = self.stderr_file.is_none();
        self.cmd.stdout(match self.stdout_file.take() {
            Some(f) => Stdio::from(f),
            None => Stdio::piped(),
        });
        self.cmd.stderr(match self.stderr_file.take() {
            Some(f) => Stdio::from(f),
            None => Stdio::piped(),
        });
        let mut child = self.cmd.spawn().unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.cmd.get_program()));
        let pid = child.id() as libc::pid_t;

        if let Input::Bytes(data) = std::mem::take(&mut self.input) {
            let mut stdin = child.stdin.take().expect("piped stdin");
            thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if capture_out {
            readers.push(spawn_reader(child.stdout.take(), out.clone()));
        }
        if capture_err {
            readers.push(spawn_reader(child.stderr.take(), err.clone()));
        }

        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    break match (st.code(), st.signal()) {
                        (Some(c), _) => Status::Exited(c),
                        (None, Some(s)) => Status::Signaled(s),
                        _ => Status::Exited(-1),
                    };
                }
                Ok(None) if Instant::now() >= deadline => {
                    // SAFETY: plain kill(2) of the child's process group and the child.
                    unsafe {
                        libc::kill(-pid, libc::SIGKILL);
                        libc::kill(pid, libc::SIGKILL);
                    }
                    let _ = child.wait();
                    break Status::TimedOut;
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("wait: {e}"),
            }
        };
        // Leftover descendants may keep the pipes open; don't wait forever.
        let drain_deadline = Instant::now() + Duration::from_secs(10);
        for r in readers {
            while !r.is_finished() && Instant::now() < drain_deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if r.is_finished() {
                let _ = r.join();
            }
        }
        let stdout = out.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let stderr = err.lock().unwrap_or_else(|e| e.into_inner()).clone();
        RunOutput { stdout, stderr, status }
    }
}

fn spawn_reader<R: Read + Send + 'static>(src: Option<R>, dst: Arc<Mutex<Vec<u8>>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let Some(mut src) = src else { return };
        let mut buf = [0u8; 16384];
        loop {
            match src.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => dst.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Run `prog args` natively with `cwd` as working directory.
pub fn run_native(prog: &Path, args: &[&str], cwd: &Path) -> RunOutput {
    Run::new(prog).args(args).cwd(cwd).output()
}

/// Run `rvisor do [rvisor_args] -- prog args` with `cwd` as working directory
/// (it passes through to the sandbox).
pub fn run_sandbox(prog: &Path, args: &[&str], cwd: &Path, rvisor_args: &[&str]) -> RunOutput {
    Run::rvisor().arg("do").args(rvisor_args).arg("--").arg(prog).args(args).cwd(cwd).output()
}

/// A unified-style line diff of `a` (expected) and `b` (actual).
pub fn diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let ops = diff_ops(&a, &b);
    let mut out = String::new();
    let context = 3;
    // Indices of changed ops, grouped into hunks with context.
    let changed: Vec<usize> =
        ops.iter().enumerate().filter(|(_, op)| !matches!(op, Op::Same(_, _))).map(|(i, _)| i).collect();
    if changed.is_empty() {
        return out;
    }
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let lo = i.saturating_sub(context);
        let hi = (i + context + 1).min(ops.len());
        match hunks.last_mut() {
            Some(h) if lo <= h.1 => h.1 = hi,
            _ => hunks.push((lo, hi)),
        }
    }
    for (lo, hi) in hunks {
        let (mut la, mut lb) = (usize::MAX, usize::MAX);
        for op in &ops[lo..hi] {
            match *op {
                Op::Same(i, j) => {
                    la = la.min(i);
                    lb = lb.min(j);
                }
                Op::Del(i) => la = la.min(i),
                Op::Add(j) => lb = lb.min(j),
            }
        }
        let _ = writeln!(out, "@@ -{} +{} @@", la.wrapping_add(1), lb.wrapping_add(1));
        for op in &ops[lo..hi] {
            let _ = match *op {
                Op::Same(i, _) => writeln!(out, " {}", a[i]),
                Op::Del(i) => writeln!(out, "-{}", a[i]),
                Op::Add(j) => writeln!(out, "+{}", b[j]),
            };
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Op {
    Same(usize, usize),
    Del(usize),
    Add(usize),
}

fn diff_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    // Trim the common prefix and suffix, LCS on the rest (bounded size).
    let mut pre = 0;
    while pre < a.len() && pre < b.len() && a[pre] == b[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < a.len() - pre && suf < b.len() - pre && a[a.len() - 1 - suf] == b[b.len() - 1 - suf] {
        suf += 1;
    }
    let (ma, mb) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<Op> = (0..pre).map(|i| Op::Same(i, i)).collect();
    if ma.len().saturating_mul(mb.len()) > 4_000_000 {
        ops.extend((0..ma.len()).map(|i| Op::Del(pre + i)));
        ops.extend((0..mb.len()).map(|j| Op::Add(pre + j)));
    } else {
        let (n, m) = (ma.len(), mb.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                ops.push(Op::Same(pre + i, pre + j));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
                ops.push(Op::Del(pre + i));
                i += 1;
            } else {
                ops.push(Op::Add(pre + j));
                j += 1;
            }
        }
    }
    let (sa, sb) = (a.len() - suf, b.len() - suf);
    ops.extend((0..suf).map(|k| Op::Same(sa + k, sb + k)));
    ops
}

/// Compare two runs; on mismatch return a report with a diff and both stderrs.
pub fn compare_runs(
    what: &str,
    expected_label: &str,
    expected: &RunOutput,
    actual_label: &str,
    actual: &RunOutput,
) -> Result<(), String> {
    let same_status = expected.status.same_as(actual.status);
    if expected.stdout == actual.stdout && same_status {
        return Ok(());
    }
    let mut r = format!("{what}: {expected_label} and {actual_label} runs differ\n");
    if !same_status {
        let _ = writeln!(r, "status: {expected_label} {} / {actual_label} {}", expected.status, actual.status);
    }
    if expected.stdout != actual.stdout {
        let _ = writeln!(
            r,
            "stdout diff (-{expected_label} +{actual_label}):\n{}",
            diff(&expected.stdout_str(), &actual.stdout_str())
        );
    }
    let _ = writeln!(r, "--- {actual_label} stderr ---\n{}", tail(&actual.stderr_str(), 8000));
    let _ = writeln!(r, "--- {expected_label} stderr ---\n{}", tail(&expected.stderr_str(), 2000));
    Err(r)
}

/// The last `max` bytes of `s` (on a char boundary).
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Names of all directory entries (sorted), for "nothing leaked" checks.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The corpus check: run `tests/c/<name>.c` natively and under `rvisor do`,
/// each in a fresh empty directory, and require identical stdout and status.
/// Also require that the sandbox's writes never reached the host directory.
pub fn compare_corpus(name: &str) {
    compare_corpus_with(name, &[]);
}

/// [`compare_corpus`] with extra `rvisor do` arguments (e.g. a platform).
pub fn compare_corpus_with(name: &str, rvisor_args: &[&str]) {
    let prog = compile_c(name);
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: comparing two native runs of {name} (not a sandbox test)");
        let d1 = TempDir::new(&format!("{name}-native1"));
        let d2 = TempDir::new(&format!("{name}-native2"));
        let a = run_native(&prog, &[], d1.path());
        let b = run_native(&prog, &[], d2.path());
        assert!(a.status != Status::TimedOut, "{name}: native run timed out");
        if let Err(r) = compare_runs(name, "native#1", &a, "native#2", &b) {
            panic!("{r}");
        }
        return;
    }
    let d_native = TempDir::new(&format!("{name}-native"));
    let d_sandbox = TempDir::new(&format!("{name}-sandbox"));
    let native = run_native(&prog, &[], d_native.path());
    assert!(native.status != Status::TimedOut, "{name}: the native run timed out; the test program itself is broken");
    let sandbox = run_sandbox(&prog, &[], d_sandbox.path(), rvisor_args);
    if let Err(r) = compare_runs(name, "native", &native, "sandbox", &sandbox) {
        panic!("{r}");
    }
    let leaked = dir_entries(d_sandbox.path());
    assert!(
        leaked.is_empty(),
        "{name}: sandbox writes reached the host directory {}: {leaked:?}",
        d_sandbox.path().display()
    );
}

/// Sorted `*.c` file stems in `tests/c`.
pub fn c_programs() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(c_dir())
        .expect("read tests/c")
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension() == Some(OsStr::new("c")))
                .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .flatten()
        })
        .collect();
    v.sort();
    v
}

/// Fail unless `listed` is exactly the set of programs in tests/c selected by
/// `select`.
pub fn assert_list_complete(listed: &[&str], select: impl Fn(&str) -> bool, list_name: &str) {
    let on_disk: Vec<String> = c_programs().into_iter().filter(|n| select(n)).collect();
    let missing: Vec<&String> = on_disk.iter().filter(|n| !listed.contains(&n.as_str())).collect();
    let stale: Vec<&&str> = listed.iter().filter(|n| !on_disk.iter().any(|d| d == *n)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{list_name} is out of date: programs in tests/c not listed: {missing:?}; \
         listed but missing from tests/c: {stale:?}"
    );
}

/// A random hex string (from /dev/urandom).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).expect("read /dev/urandom");
    buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Set a path's atime/mtime without following symlinks.
pub fn set_times(path: &Path, secs: i64) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    let ts = [libc::timespec { tv_sec: secs, tv_nsec: 0 }, libc::timespec { tv_sec: secs, tv_nsec: 0 }];
    // SAFETY: valid NUL-terminated path and a two-element timespec array.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    assert_eq!(r, 0, "utimensat {}", path.display());
}

/// Recursively set every mtime under `root` (children first) to `secs`.
pub fn set_tree_times(root: &Path, secs: i64) {
    if let Ok(rd) = fs::read_dir(root) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                set_tree_times(&p, secs);
            } else {
                set_times(&p, secs);
            }
        }
    }
    set_times(root, secs);
}

/// One line per entry under `root` (sorted): path, type, mode, size or link
/// target. Times are left out.
pub fn tree_listing(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            let ft = m.file_type();
            let mode = m.mode() & 0o7777;
            if ft.is_symlink() {
                let t = fs::read_link(&p).map(|t| t.display().to_string());
                out.push(format!("{rel} lnk -> {}", t.unwrap_or_default()));
            } else if ft.is_dir() {
                out.push(format!("{rel} dir {mode:o} {}:{}", m.uid(), m.gid()));
                walk(root, &p, out);
            } else {
                out.push(format!(
                    "{rel} {} {mode:o} {}:{} size={} nlink={}",
                    if ft.is_file() { "reg" } else { "other" },
                    m.uid(),
                    m.gid(),
                    m.size(),
                    m.nlink()
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_changes() {
        let d = diff("a\nb\nc\n", "a\nB\nc\n");
        assert!(d.contains("-b\n+B\n"), "{d}");
        assert!(diff("x\n", "x\n").is_empty());
        let d = diff("1\n2\n3\n", "1\n3\n4\n");
        assert!(d.contains("-2") && d.contains("+4"), "{d}");
    }

    #[test]
    fn status_codes() {
        assert_eq!(Status::Exited(3).code(), Some(3));
        assert_eq!(Status::Signaled(9).code(), Some(137));
        assert_eq!(Status::TimedOut.code(), None);
        assert!(Status::Signaled(15).same_as(Status::Exited(143)));
        assert!(!Status::Signaled(15).same_as(Status::Exited(15)));
        assert!(!Status::TimedOut.same_as(Status::TimedOut));
    }

    #[test]
    fn run_captures_output_and_status() {
        let o = Run::new("/bin/sh").args(["-c", "echo out; echo err >&2; exit 3"]).output();
        assert_eq!(o.stdout_str(), "out\n");
        assert_eq!(o.stderr_str(), "err\n");
        assert_eq!(o.status, Status::Exited(3));
        let o = Run::new("/bin/sh").args(["-c", "kill -9 $$"]).output();
        assert_eq!(o.status, Status::Signaled(9));
        let o = Run::new("/bin/cat").input(Input::Bytes(b"piped".to_vec())).output();
        assert_eq!(o.stdout_str(), "piped");
        let o = Run::new("/bin/sh").args(["-c", "sleep 5"]).timeout(Duration::from_millis(200)).output();
        assert_eq!(o.status, Status::TimedOut);
    }

    #[test]
    fn only_stdio_is_inherited() {
        let o = Run::new("/bin/ls").arg("/proc/self/fd").output();
        // ls itself opens one fd for the directory it lists.
        let fds: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
        assert_eq!(fds, ["0", "1", "2", "3"], "{}", o.stderr_str());
    }
}
