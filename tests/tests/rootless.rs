//! Rootless mode: an unprivileged user runs `rvisor do`. The sandbox gets a
//! user namespace where that user is root; everything else (namespaces,
//! pivot_root, seccomp) is as for root, and the host's permissions still
//! bind the gofer. Runs as `nobody` via setpriv.

mod oci_support;
mod sandbox_procs;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rvisor_tests::{compile_c, random_hex, rvisor_bin, Run, RunOutput, Status, TempDir};

const NOBODY: u32 = 65534;

/// A directory `nobody` can traverse holding copies of rvisor and `progs`.
struct Kit {
    dir: TempDir,
}

impl Kit {
    fn new(progs: &[&Path]) -> Kit {
        let dir = TempDir::new("rootless");
        for p in std::iter::once(&rvisor_bin().as_path()).chain(progs) {
            let dst = dir.path().join(p.file_name().expect("file name"));
            fs::copy(p, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", p.display()));
            fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        Kit { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `rvisor ARGS` as nobody, from /.
    fn rvisor_as_nobody(&self, args: &[&str]) -> Run {
        let id = NOBODY.to_string();
        Run::new("setpriv")
            .args(["--reuid", &id, "--regid", &id, "--clear-groups", "--"])
            .arg(self.path("rvisor"))
            .args(args)
            .cwd("/")
            .timeout(Duration::from_secs(120))
    }
}

fn report(o: &RunOutput) -> String {
    format!("status: {:?}\nstdout:\n{}\nstderr:\n{}", o.status, o.stdout_str(), o.stderr_str())
}

/// A root-only host file with a random secret.
fn secret_file() -> (TempDir, PathBuf, String) {
    let dir = TempDir::new("rootless-secret");
    let secret = format!("SECRET-{}", random_hex(16));
    let path = dir.path().join("secret");
    fs::write(&path, &secret).expect("write secret");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod secret");
    (dir, path, secret)
}

#[test]
fn nobody_gets_a_working_sandbox_and_no_more_than_nobody_may() {
    let kit = Kit::new(&[]);
    let (_d, secret_path, secret) = secret_file();
    let mark = format!("/tmp/rootless-{}", random_hex(8));
    let script =
        format!("id -u; id -g; echo kept > {mark} && cat {mark}; cat {} || echo refused", secret_path.display());
    let o = kit.rvisor_as_nobody(&["do", "--", "/bin/sh", "-c", &script]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    // Root inside (the caller's own files appear root-owned there), the write
    // lands in the sandbox's upper layer, and the host's 0600 still holds.
    assert_eq!(o.stdout_str(), "0\n0\nkept\nrefused\n", "{}", report(&o));
    assert!(o.stderr_str().contains("Permission denied"), "the read was attempted\n{}", report(&o));
    assert!(!o.stdout_str().contains(&secret) && !o.stderr_str().contains(&secret));
    assert!(!Path::new(&mark).exists(), "the sandbox's write reached the host");
}

#[test]
fn a_rootless_sentry_is_unprivileged_on_the_host_and_confined() {
    let kit = Kit::new(&[]);
    let marker = format!("rootless-sleep-{}", random_hex(6));
    let id = NOBODY.to_string();
    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid", &id, "--regid", &id, "--clear-groups", "--"])
        .arg(kit.path("rvisor"))
        .args(["do", "--", "/bin/sh", "-c", &format!("sleep 30; : {marker}")])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("start rvisor as nobody");
    let sb = sandbox_procs::find(&marker, Duration::from_secs(30)).expect("the rootless sandbox started");
    let uid_of = |pid: i32| sandbox_procs::status_field(pid, "Uid").unwrap_or_default();
    let me = std::process::id() as i32;
    for (who, pid) in [("sentry", sb.sentry), ("gofer", sb.gofer)] {
        // Real, effective, saved and fs uid are all nobody's on the host.
        let uids: Vec<String> = uid_of(pid).split_whitespace().map(String::from).collect();
        assert_eq!(uids, vec![NOBODY.to_string(); 4], "{who} {pid} runs as nobody on the host");
        assert_ne!(sandbox_procs::ns(pid, "user"), sandbox_procs::ns(me, "user"), "{who} is in a user namespace");
        // Filters go on once the sandbox runs (the sentry's after init exists).
        let filtered = || sandbox_procs::status_field(pid, "Seccomp").as_deref() == Some("2");
        assert!(sandbox_procs::wait_until(Duration::from_secs(10), filtered), "{who} is filtered");
        assert_eq!(sandbox_procs::status_field(pid, "NoNewPrivs").as_deref(), Some("1"), "{who}");
    }
    for app in sb.apps() {
        assert_eq!(uid_of(app).split_whitespace().next(), Some("65534"), "app process {app}");
    }
    // SAFETY: kill of the launcher we started (by pid).
    unsafe { libc::kill(sb.launcher, libc::SIGKILL) };
    let st = child.wait().expect("wait for rvisor");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(libc::SIGKILL));
    assert!(sandbox_procs::wait_until(Duration::from_secs(10), || !sandbox_procs::alive(sb.sentry)));
}

#[test]
fn escape_syscalls_fail_in_a_rootless_sandbox() {
    let prog = compile_c("escape_syscalls");
    let kit = Kit::new(&[&prog]);
    let (_d, secret_path, secret) = secret_file();
    let outside = TempDir::new("rootless-outside");
    let o = kit
        .rvisor_as_nobody(&[
            "do",
            "--",
            kit.path("escape_syscalls").to_str().expect("utf-8"),
            secret_path.to_str().expect("utf-8"),
            outside.path().to_str().expect("utf-8"),
        ])
        .output();
    let out = o.stdout_str();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert!(!out.contains("LEAK") && !out.contains(&secret), "{}", report(&o));
    let attempts = out.lines().filter(|l| l.starts_with("attempt ")).count();
    // The program prints how many vectors it has; each must have been tried.
    let total: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("attempts: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no final count\n{}", report(&o)));
    assert!(total >= 45 && attempts == total, "every vector was tried\n{}", report(&o));
    assert_eq!(fs::read_dir(outside.path()).expect("outside dir").count(), 0, "nothing created outside");
}

#[test]
fn limits_without_a_delegated_cgroup_are_a_clear_error() {
    let kit = Kit::new(&[]);
    let o = kit.rvisor_as_nobody(&["do", "--memory", "64M", "--", "/bin/true"]).output();
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    let err = o.stderr_str();
    assert!(err.contains("resource limits") && err.contains("rootless"), "{}", report(&o));
}

#[test]
fn nobody_runs_and_execs_into_an_oci_container() {
    let kit = Kit::new(&[]);
    let b = oci_support::Bundle::new(&["sleep", "100"]);
    let state = TempDir::new("rootless-state");
    let c = std::ffi::CString::new(state.path().to_str().expect("utf-8")).expect("path");
    // SAFETY: chown of a directory we created (a valid C string), to nobody.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), NOBODY, NOBODY) }, 0);
    let root = state.path().to_str().expect("utf-8").to_string();
    let bundle = b.path().to_str().expect("utf-8").to_string();
    let cli = |args: &[&str]| {
        let mut all = vec!["--root", root.as_str()];
        all.extend_from_slice(args);
        kit.rvisor_as_nobody(&all).output()
    };
    // The container's stdio (and so the create command's) goes to files: a
    // pipe would stay open as long as the container runs.
    let out = fs::File::create(b.path().join("stdout")).expect("stdout file");
    let err = fs::File::create(b.path().join("stderr")).expect("stderr file");
    let o = kit
        .rvisor_as_nobody(&["--root", &root, "create", "--bundle", &bundle, "rl"])
        .stdout_file(out)
        .stderr_file(err)
        .output();
    assert_eq!(o.status, Status::Exited(0), "create: {}", b.stderr());
    let o = cli(&["start", "rl"]);
    assert_eq!(o.status, Status::Exited(0), "start: {}", report(&o));
    let o = cli(&["exec", "rl", "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '; exit 3"]);
    assert_eq!(o.status, Status::Exited(3), "exec: {}", report(&o));
    assert_eq!(o.stdout_str(), "0\nsleep 100 ", "{}", report(&o));
    let o = cli(&["delete", "--force", "rl"]);
    assert_eq!(o.status, Status::Exited(0), "delete: {}", report(&o));
    let left: Vec<_> = fs::read_dir(state.path()).expect("state dir").collect();
    assert!(left.is_empty(), "state left behind: {left:?}");
}
