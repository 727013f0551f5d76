//! Host-root workloads: real, dynamically linked Debian programs run natively
//! and under `rvisor do` (host root, in-memory overlay), compared by stdout and
//! exit status.
//!
//! Both runs use the same working directory path, so scripts may print
//! absolute paths. The native run sees that directory as a fresh tmpfs (in a
//! private mount namespace, gone when the run ends) because the sandbox's
//! writes land on its in-memory upper layer, whose sizes and block counts
//! follow Linux tmpfs, not ext4. The sandbox run must leave the host
//! directory empty.
//!
//! Both runs get `HOME` and `TMPDIR` pointing at the working directory and
//! `PYTHONDONTWRITEBYTECODE=1`, so a native run never writes outside it
//! (as root, python would otherwise drop .pyc files into /usr/lib).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{compare_runs, dir_entries, native_only, Run, RunOutput, Status, TempDir};

/// Where bash lives on Debian (the workloads are Debian programs, not busybox).
pub const BASH: &str = "/bin/bash";
/// Absolute, so a pyenv shim on PATH never gets in the way.
pub const PYTHON: &str = "/usr/bin/python3";

/// The hostname of both runs (the host's own may be changed by other tests).
pub const HOSTNAME: &str = "rvisor-workload";

/// In fresh mount and UTS namespaces: set the hostname ("$1"), mount a tmpfs
/// on the working directory ("$0") and run the program there.
const NATIVE_WRAPPER: &str = "echo \"$1\" > /proc/sys/kernel/hostname && shift && \
     mount -t tmpfs -o mode=0755 rvisor-workload \"$0\" && cd \"$0\" && exec \"$@\"";

/// Fail (never skip) unless every `(path, Debian package)` exists.
pub fn require(tools: &[(&str, &str)]) {
    let missing: Vec<String> = tools
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(path, pkg)| format!("{path} (Debian package {pkg})"))
        .collect();
    assert!(
        missing.is_empty(),
        "workload tools missing: {}; install them with `apt-get install <package>` \
         (scripts/test.sh does this)",
        missing.join(", ")
    );
}

/// One workload: a command line run natively and sandboxed in the same
/// (per-run) working directory.
pub struct Workload {
    name: String,
    argv: Vec<OsString>,
}

impl Workload {
    pub fn new<I, S>(name: &str, argv: I) -> Workload
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let argv: Vec<OsString> = argv.into_iter().map(|a| a.as_ref().to_os_string()).collect();
        assert!(!argv.is_empty(), "workload {name}: empty command line");
        Workload { name: name.to_string(), argv }
    }

    /// `bash -c SCRIPT`.
    pub fn bash(name: &str, script: &str) -> Workload {
        Workload::new(name, [BASH, "-c", script])
    }

    /// `python3 -c CODE`.
    pub fn python(name: &str, code: &str) -> Workload {
        Workload::new(name, [PYTHON, "-c", code])
    }

    fn prepare(&self, r: Run, work: &Path) -> Run {
        r.cwd(work).env("HOME", work).env("TMPDIR", work).env("PYTHONDONTWRITEBYTECODE", "1")
    }

    /// The native run, in private mount and UTS namespaces with a tmpfs on `work`.
    pub fn run_native(&self, work: &Path) -> RunOutput {
        let r = Run::new("/usr/bin/unshare")
            .args(["--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", NATIVE_WRAPPER])
            .arg(work)
            .arg(HOSTNAME)
            .args(&self.argv);
        self.prepare(r, work).output()
    }

    /// The sandboxed run: `rvisor do --hostname HOSTNAME -- argv` from `work`.
    pub fn run_sandbox(&self, work: &Path) -> RunOutput {
        let r = Run::rvisor().args(["do", "--hostname", HOSTNAME, "--"]).args(&self.argv);
        self.prepare(r, work).output()
    }

    /// Run natively, then sandboxed, from the same fresh directory; require
    /// identical stdout and status, and that the sandbox left the host
    /// directory empty. Returns the sandbox run for extra checks.
    pub fn check(self) -> RunOutput {
        require(&[("/usr/bin/unshare", "util-linux"), (BASH, "bash")]);
        // SAFETY: geteuid has no arguments and cannot fail.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "the workload tests need root: the native run mounts a tmpfs in its own namespaces");
        let base = TempDir::new(&format!("wl-{}", self.name));
        let work = base.path().join("work");
        fs::create_dir(&work).expect("create the working directory");
        let native = self.run_native(&work);
        assert!(
            native.status != Status::TimedOut,
            "{}: the native run timed out; the workload itself is broken\n{}",
            self.name,
            native.stderr_str()
        );
        assert!(
            dir_entries(&work).is_empty(),
            "{}: the native run wrote to the host directory (its tmpfs was not mounted?)",
            self.name
        );
        // Shown with --nocapture or when the test fails.
        eprintln!(
            "--- {}: native stdout ({}) ---\n{}--- native stderr ---\n{}",
            self.name,
            native.status,
            native.stdout_str(),
            native.stderr_str()
        );
        let (label, other) = if native_only() {
            eprintln!("RVISOR_NATIVE_ONLY: comparing two native runs of {} (not a sandbox test)", self.name);
            ("native#2", self.run_native(&work))
        } else {
            ("sandbox", self.run_sandbox(&work))
        };
        if let Err(r) = compare_runs(&self.name, "native", &native, label, &other) {
            panic!("{r}");
        }
        let leaked = dir_entries(&work);
        assert!(
            leaked.is_empty(),
            "{}: sandbox writes reached the host directory {}: {leaked:?}",
            self.name,
            work.display()
        );
        other
    }
}

/// Compile C `source` with the system compiler (dynamically linked unless
/// `extra` says otherwise) into `dir/name`.
pub fn compile_c_source(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let out = dir.join(name);
    fs::write(&src, source).expect("write C source");
    let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
    let res = Command::new(&cc)
        .args(["-O1", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run C compiler {cc:?}: {e}"));
    assert!(
        res.status.success(),
        "compiling {} failed ({}):\n{}",
        src.display(),
        res.status,
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// The parent pid from `/proc/<pid>/stat` (the field after the parenthesised name).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

fn host_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .collect()
}

/// The pid namespace (`pid:[N]`) of `launcher`'s first child: for `rvisor do`
/// that is the sentry, pid 1 of the namespace every sandboxed process lives
/// in. Waits up to `wait` for the child to appear.
pub fn child_pid_namespace(launcher: i32, wait: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + wait;
    let own = fs::read_link(format!("/proc/{launcher}/ns/pid")).ok()?;
    loop {
        for pid in host_pids() {
            if parent_of(pid) == Some(launcher) {
                if let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/pid")) {
                    if ns != own {
                        return Some(ns.to_string_lossy().into_owned());
                    }
                }
            }
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Host pids of the live (not zombie) processes in pid namespace `ns`.
pub fn pids_in_namespace(ns: &str) -> Vec<i32> {
    host_pids()
        .into_iter()
        .filter(|pid| fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l.as_os_str() == ns))
        .filter(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z")
        })
        .collect()
}
