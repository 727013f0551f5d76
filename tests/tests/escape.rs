//! Path-escape tests. Each tests/c/escape_*.c program runs under
//! `rvisor do --rootfs ROOT` (with and without --overlay), where ROOT holds
//! the program and a symlink farm, and a secret file sits next to ROOT on the
//! host. The program tries every vector it knows; the secret, the host path of
//! ROOT and "LEAK" markers must never show up, and every vector must report.
//!
//! Also: in host-root overlay mode (`rvisor do` without --rootfs), writes stay
//! inside the sandbox and vanish at exit.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use rvisor_tests::{assert_list_complete, compile_c, native_only, random_hex, Run, RunOutput, Status, TempDir};

/// Every escape program and how many "attempt N" lines it must print
/// (escape_hostpids runs from escape_host.rs).
const ESCAPES: &[(&str, usize)] = &[
    ("escape_paths", 34),
    ("escape_proc", 27),
    ("escape_chroot", 13),
    ("escape_syscalls", 46),
    ("escape_readonly", 30),
    ("escape_hostpids", 6),
    ("escape_execsite", 8),
    ("escape_copyfile", 4),
    ("escape_installsock", 4),
    ("escape_region", 1),
    ("escape_forkwindow", 1),
    ("escape_sharedfds", 1),
];

fn expected_attempts(name: &str) -> usize {
    ESCAPES.iter().find(|(n, _)| *n == name).map(|e| e.1).unwrap_or_else(|| panic!("{name} is not in ESCAPES"))
}

/// Content of the file placed inside ROOT at the secret's host path.
const DECOY: &str = "DECOY-INSIDE";

struct Setup {
    _base: TempDir,
    outside: PathBuf,
    root: PathBuf,
    secret_path: PathBuf,
    secret: String,
}

/// Lay out OUT/secret.txt (secret) and OUT/rootfs (program + symlink farm).
fn setup(prog: &Path, prog_name: &str) -> Setup {
    let base = TempDir::new("escape");
    let outside = base.path().to_path_buf();
    // The secret has a distinctive length (61 bytes) so "size=61" would show.
    let secret = format!("SECRET-{}-{}", random_hex(16), "x".repeat(21));
    assert_eq!(secret.len(), 61);
    let secret_path = outside.join("secret.txt");
    fs::write(&secret_path, &secret).expect("write secret");
    let root = outside.join("rootfs");
    for d in ["tmp", "proc", "dev", "sys", "sub/deeper"] {
        fs::create_dir_all(root.join(d)).expect("mkdir rootfs");
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod");
    let dst = root.join(prog_name);
    fs::copy(prog, &dst).expect("copy program");
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).expect("chmod");

    // A decoy at the secret's absolute path, inside the rootfs.
    let decoy = root.join(secret_path.strip_prefix("/").expect("absolute"));
    fs::create_dir_all(decoy.parent().expect("parent")).expect("mkdir decoy dir");
    fs::write(&decoy, DECOY).expect("write decoy");

    let out_str = outside.to_str().expect("utf-8 path");
    let links: &[(&str, String)] = &[
        ("abs_link", format!("{out_str}/secret.txt")),
        ("abs_dir_link", out_str.to_string()),
        ("rel_up", "../secret.txt".into()),
        ("sub/deeper/up3", "../../../secret.txt".into()),
        ("rel_chain", "../".repeat(10) + "secret.txt"),
        ("dotdot_link", "..".into()),
        ("sub/mid_link", "../..".into()),
        ("host_rel_link", format!("{}{out_str}/secret.txt", "../".repeat(7).trim_end_matches('/'))),
        ("proc_root_link", "/proc/self/root/../secret.txt".into()),
        ("proc1_link", "/proc/1/root/../../secret.txt".into()),
        ("loop_a", "loop_b".into()),
        ("loop_b", "loop_a".into()),
    ];
    for (name, target) in links {
        symlink(target, root.join(name)).expect("symlink");
    }
    fs::write(root.join("inside.txt"), "INSIDE").expect("write");
    fs::hard_link(root.join("inside.txt"), root.join("inside_hardlink")).expect("hard link");
    Setup { _base: base, outside, root, secret_path, secret }
}

fn report(o: &RunOutput) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        o.stdout_str(),
        rvisor_tests::tail(&o.stderr_str(), 8000)
    )
}

/// RVISOR_NATIVE_ONLY (a developer self-check of the corpus) never runs escape programs.
fn skip_native(name: &str) -> bool {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: escape programs only run in the sandbox; skipping {name}");
    }
    native_only()
}

fn run_escape(name: &str, overlay: bool) -> RunOutput {
    run_escape_with(name, if overlay { &["--overlay"] } else { &[] }).1
}

/// Runs escape program `name` with extra `rvisor do` flags and checks what
/// every escape run must show; returns the setup and the output for more checks.
fn run_escape_with(name: &str, flags: &[&str]) -> (Setup, RunOutput) {
    let prog = compile_c(name);
    let s = setup(&prog, name);
    let o = run_in(name, &s, flags);
    check_escape_output(name, &s, &o);
    (s, o)
}

fn run_in(name: &str, s: &Setup, flags: &[&str]) -> RunOutput {
    run_in_env(name, s, flags, &[])
}

/// `run_in` with variables added to rvisor's environment.
fn run_in_env(name: &str, s: &Setup, flags: &[&str], env: &[(&str, &str)]) -> RunOutput {
    let mut run = Run::rvisor();
    for (k, v) in env {
        run = run.env(k, v);
    }
    run.arg("do")
        .arg("--rootfs")
        .arg(&s.root)
        .args(flags)
        .arg("--")
        .arg(format!("/{name}"))
        .arg(&s.secret_path)
        .arg(&s.outside)
        .cwd("/")
        .output()
}

fn check_escape_output(name: &str, s: &Setup, o: &RunOutput) {
    let expected_attempts = expected_attempts(name);
    let out = o.stdout_str();
    let all = format!("{out}{}", o.stderr_str());

    assert!(!all.contains(&s.secret), "{name}: THE SECRET ESCAPED\n{}", report(o));
    assert!(!all.contains("size=61"), "{name}: the secret's size leaked\n{}", report(o));
    let host_root = s.root.to_str().expect("utf-8");
    assert!(
        !out.contains(host_root),
        "{name}: the host path of the rootfs ({host_root}) leaked into the sandbox\n{}",
        report(o)
    );
    assert!(!out.contains("LEAK"), "{name}: LEAK marker\n{}", report(o));

    // Every vector ran and reported, in order.
    let attempts: Vec<&str> = out.lines().filter(|l| l.starts_with("attempt ")).collect();
    for (i, line) in attempts.iter().enumerate() {
        let prefix = format!("attempt {} ", i + 1);
        assert!(line.starts_with(&prefix), "{name}: attempt lines out of order at {line:?}\n{}", report(o));
    }
    assert_eq!(attempts.len(), expected_attempts, "{name}: expected {expected_attempts} attempts\n{}", report(o));
    assert!(out.contains(&format!("attempts: {expected_attempts}\n")), "{name}: missing final count\n{}", report(o));
    assert_eq!(o.status, Status::Exited(0), "{name}\n{}", report(o));

    // The host side is intact: the secret is unchanged, nothing new outside.
    assert_eq!(
        fs::read_to_string(&s.secret_path).ok().as_deref(),
        Some(s.secret.as_str()),
        "{name}: the secret file on the host was modified or removed"
    );
    let entries = rvisor_tests::dir_entries(&s.outside);
    assert_eq!(entries, ["rootfs", "secret.txt"], "{name}: the sandbox created files outside its rootfs");
}

/// The result text of vector `vector` ("attempt N vector: result").
fn result_of<'a>(out: &'a str, vector: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.split_once(&format!(" {vector}: ")).filter(|(a, _)| a.starts_with("attempt ")).map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no result for {vector:?} in:\n{out}"))
}

#[test]
fn escape_list_is_complete() {
    let names: Vec<&str> = ESCAPES.iter().map(|(n, _)| *n).collect();
    assert_list_complete(&names, |n| n.starts_with("escape_"), "ESCAPES in tests/tests/escape.rs");
}

#[test]
fn escape_paths() {
    if skip_native("escape_paths") {
        return;
    }
    run_escape("escape_paths", false);
}

#[test]
fn escape_paths_overlay() {
    if skip_native("escape_paths_overlay") {
        return;
    }
    run_escape("escape_paths", true);
}

#[test]
fn escape_proc() {
    if skip_native("escape_proc") {
        return;
    }
    run_escape("escape_proc", false);
}

#[test]
fn escape_proc_overlay() {
    if skip_native("escape_proc_overlay") {
        return;
    }
    run_escape("escape_proc", true);
}

#[test]
fn escape_chroot() {
    if skip_native("escape_chroot") {
        return;
    }
    run_escape("escape_chroot", false);
}

#[test]
fn escape_chroot_overlay() {
    if skip_native("escape_chroot_overlay") {
        return;
    }
    run_escape("escape_chroot", true);
}

/// Kernel interfaces, raw numbers, other processes, fds across exec.
fn check_syscalls(o: &RunOutput) {
    let out = o.stdout_str();
    // The i386 entry point is not in the filter's architecture: the kernel kills.
    assert_eq!(result_of(&out, "int 0x80 (i386 ABI)"), "killed by signal 31", "{}", report(o));
    // A child of the same user may write its parent's memory, as on Linux:
    // the write lands in the sandbox's own process.
    assert_eq!(result_of(&out, "process_vm_writev into the parent"), "wrote", "{}", report(o));
    assert_eq!(result_of(&out, "parent canary after the attacks"), "changed (in-sandbox write)", "{}", report(o));
    assert_eq!(
        result_of(&out, "process_vm_readv of pids outside the sandbox"),
        "2147483632:ESRCH 99999:ESRCH 4194303:ESRCH ",
        "{}",
        report(o)
    );
    // Only the fd opened without O_CLOEXEC (7) survives exec, besides stdio.
    assert_eq!(result_of(&out, "fds open after exec"), "[0 1 2 7 ] (child exited 0)", "{}", report(o));
    for nr in ["337", "463", "1000", "-1", "1073741824"] {
        assert!(
            result_of(&out, "syscall numbers outside the table").contains(&format!("{nr}:ENOSYS")),
            "{}",
            report(o)
        );
    }
}

#[test]
fn escape_syscalls() {
    if skip_native("escape_syscalls") {
        return;
    }
    check_syscalls(&run_escape("escape_syscalls", false));
}

#[test]
fn escape_syscalls_overlay() {
    if skip_native("escape_syscalls_overlay") {
        return;
    }
    check_syscalls(&run_escape("escape_syscalls", true));
}

/// --read-only: every write fails and the host tree is unchanged.
#[test]
fn escape_readonly() {
    if skip_native("escape_readonly") {
        return;
    }
    let prog = compile_c("escape_readonly");
    let s = setup(&prog, "escape_readonly");
    let before = rvisor_tests::tree_listing(&s.root);
    let o = run_in("escape_readonly", &s, &["--read-only"]);
    check_escape_output("escape_readonly", &s, &o);
    let out = o.stdout_str();
    for v in ["open O_WRONLY", "open O_RDWR", "open O_CREAT new file", "creat in /tmp", "unlink", "rename", "mkdir"] {
        assert_eq!(result_of(&out, v), "EROFS", "{v}\n{}", report(&o));
    }
    assert_eq!(fs::read_to_string(s.root.join("inside.txt")).expect("read"), "INSIDE");
    let after = rvisor_tests::tree_listing(&s.root);
    assert_eq!(before, after, "the read-only root changed on the host");
}

/// systrap's exec site runs reads and maps on installed files' fds from an
/// app that jumps there, but never with more access than its open file:
/// an unprivileged user holding a read-only open of a root-only file gets
/// no writable map of it, and the file is unchanged. On systrap the read
/// through the site proves the file was installed, so the attack had its
/// target; on ptrace the site is an ordinary trapped call. The stub's
/// batch runner, whose site the filter treats as the exec site, gives the
/// same: reads, no writable map, and no reach into the sentry's shared
/// injection socket (its recvmsg traps and meets the app's own fd table).
#[test]
fn escape_execsite() {
    if skip_native("escape_execsite") {
        return;
    }
    let o = run_escape("escape_execsite", false);
    let out = o.stdout_str();
    let systrap = rvisor_tests::suite_platform() == "systrap";
    assert_eq!(result_of(&out, "open for writing as nobody"), "EACCES", "{}", report(&o));
    let read = if systrap { "read (the file is installed)" } else { "nothing installed" };
    assert_eq!(result_of(&out, "read the installed file through the exec site"), read, "{}", report(&o));
    assert_eq!(result_of(&out, "writable shared map through the exec site"), "refused", "{}", report(&o));
    assert_eq!(result_of(&out, "mprotect the read-only shared map writable"), "EACCES", "{}", report(&o));
    let batch_read = result_of(&out, "read the installed file through the batch runner");
    assert_eq!(batch_read, read, "{}", report(&o));
    assert_eq!(result_of(&out, "writable shared map through the batch runner"), "refused", "{}", report(&o));
    let recv = result_of(&out, "recvmsg on the injection socket through the batch runner");
    assert_eq!(recv, "EBADF", "{}", report(&o));
    assert_eq!(result_of(&out, "file content after the attacks"), "[ORIGINAL]", "{}", report(&o));
}

/// systrap's copy file is its process's alone: an app that jumps to the
/// exec site cannot grow it, its fork child does not hold it, and once the
/// process shares its fd table the sentry stops reading through it. On
/// systrap the marker replaced by a path proves the file was in use, so
/// the attacks had their target; on ptrace there is no file.
#[test]
fn escape_copyfile() {
    if skip_native("escape_copyfile") {
        return;
    }
    // Copies go through the file only while the sentry thread runs apart
    // (a loaded machine may keep it beside): held apart, so the attacks
    // have their target.
    let name = "escape_copyfile";
    let s = setup(&compile_c(name), name);
    let o = run_in_env(name, &s, &[], &[("RVISOR_SYSTRAP_PLACEMENT", "apart")]);
    check_escape_output(name, &s, &o);
    let out = o.stdout_str();
    let systrap = rvisor_tests::suite_platform() == "systrap";
    let (used, grow) = if systrap { ("read through the file", "EPERM") } else { ("EBADF", "EBADF") };
    assert_eq!(result_of(&out, "the sentry reads a path through the copy file"), used, "{}", report(&o));
    assert_eq!(result_of(&out, "grow the copy file"), grow, "{}", report(&o));
    assert_eq!(result_of(&out, "a fork child writes its parent's copy file"), "EBADF", "{}", report(&o));
    let after = if systrap { "not through the file" } else { "EBADF" };
    assert_eq!(result_of(&out, "after sharing the fd table"), after, "{}", report(&o));
}

/// systrap's install socket is its process's alone: an app that jumps to
/// the exec site receives nothing from the socket every process shares,
/// cannot move another fd onto its own socket, and its fork child does not
/// hold it. On systrap the empty socket (EAGAIN) and a file mapped through
/// it show the attacks had their target; on ptrace there is no socket.
#[test]
fn escape_installsock() {
    if skip_native("escape_installsock") {
        return;
    }
    let o = run_escape("escape_installsock", false);
    let out = o.stdout_str();
    let systrap = rvisor_tests::suite_platform() == "systrap";
    let there = if systrap { "mapped EAGAIN" } else { "mapped EBADF" };
    assert_eq!(result_of(&out, "the install socket is in place"), there, "{}", report(&o));
    assert_eq!(
        result_of(&out, "receive from the shared injection socket through the exec site"),
        "EBADF",
        "{}",
        report(&o)
    );
    let after = if systrap { "refused, then EAGAIN" } else { "refused, then EBADF" };
    assert_eq!(result_of(&out, "move another fd onto the install socket"), after, "{}", report(&o));
    assert_eq!(result_of(&out, "a fork child receives on its parent's install socket"), "EBADF", "{}", report(&o));
}

/// systrap's shared memory: an app that takes, from another thread, the fd
/// the sentry passes for a new thread's chunk (it sits at a low number
/// until mapped and closed) reaches that chunk alone, not the region every
/// process's slots live in. On systrap the chunk fds taken show the race
/// was won, so the attack had its target; on ptrace there is no region.
#[test]
fn escape_region() {
    let Some((o, line)) = race("escape_region", "take a new thread's chunk fd at its set-up", "no fd past 1 MiB (")
    else {
        return;
    };
    assert_raced(&o, &line, " set-ups raced", 100);
    if rvisor_tests::suite_platform() == "systrap" {
        // The race was won: the attack had its target.
        assert_raced(&o, &line, " chunk fds", 1);
    }
}

/// A fork child never holds what the sentry was handing to another of its
/// parent's threads: an fd passed at a low number, or a chunk mapped before
/// it is MADV_DONTFORK. Every child looks for both while the parent's
/// threads are set up; on systrap each must find neither.
#[test]
fn escape_forkwindow() {
    let vector = "take a passed fd or a mapped chunk through a fork in its window";
    let Some((o, line)) = race("escape_forkwindow", vector, "nothing taken (") else { return };
    assert_raced(&o, &line, " set-ups and", 100);
    assert_raced(&o, &line, " file maps raced", 100);
    assert_raced(&o, &line, " forks", 100);
    if rvisor_tests::suite_platform() == "systrap" {
        // Each child's calls at the site ran and found every low fd closed.
        assert_eq!(count_before(&line, " forks"), count_before(&line, " found nothing"), "{}", report(&o));
    }
}

/// A process sharing another's fd table (CLONE_FILES) never sees a chunk's
/// fd pass through it: the sentry keeps both processes' new threads traced.
#[test]
fn escape_sharedfds() {
    let vector = "take a chunk fd through a shared fd table";
    let Some((o, line)) = race("escape_sharedfds", vector, "nothing taken (") else { return };
    assert!(line.ends_with("child ok)"), "{}", report(&o));
    assert_raced(&o, &line, " threads started", 100);
    assert_raced(&o, &line, " tries", 100);
}

/// Runs escape program `name`, one race for `vector`, and returns its
/// output and result line, which must start with `clean` (nothing taken).
/// None where programs do not run in the sandbox (RVISOR_NATIVE_ONLY).
fn race(name: &str, vector: &str, clean: &str) -> Option<(RunOutput, String)> {
    if skip_native(name) {
        return None;
    }
    let o = run_escape(name, false);
    let line = result_of(&o.stdout_str(), vector).to_string();
    assert!(line.starts_with(clean), "{}", report(&o));
    Some((o, line))
}

/// The race had its material: the result line counts at least `min` `what`.
fn assert_raced(o: &RunOutput, line: &str, what: &str, min: u64) {
    let n = count_before(line, what);
    assert!(n >= min, "{n}{what}, fewer than {min}: {}", report(o));
}

/// The number written just before `what` in a result line (0 if none).
fn count_before(line: &str, what: &str) -> u64 {
    let before = line.split(what).next().unwrap_or_default();
    before.rsplit([' ', '(', ':']).find(|w| !w.is_empty()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Absolute paths resolve inside the rootfs: the decoy, never the secret.
#[test]
fn escape_abs_paths_resolve_inside_rootfs() {
    let prog = compile_c("escape_paths");
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only test");
        return;
    }
    let s = setup(&prog, "escape_paths");
    let o = Run::rvisor()
        .arg("do")
        .arg("--rootfs")
        .arg(&s.root)
        .arg("--")
        .arg("/escape_paths")
        .arg(&s.secret_path)
        .arg(&s.outside)
        .cwd("/")
        .output();
    let out = o.stdout_str();
    for vector in ["direct host path", "abs symlink", "abs dir symlink"] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!(" {vector}: ")))
            .unwrap_or_else(|| panic!("no line for {vector}\n{}", report(&o)));
        assert!(
            line.ends_with(&format!("read [{DECOY}]")),
            "{vector} should read the decoy inside the rootfs: {line}\n{}",
            report(&o)
        );
    }
    assert!(out.contains(" hard link made in rootfs: read [INSIDE]"), "{}", report(&o));
}

/// Host-root overlay mode: writes succeed inside, never reach the host, and
/// vanish at exit; deletions and modifications of host files stay virtual.
#[test]
fn host_overlay_writes_stay_in_sandbox() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only test");
        return;
    }
    let host = TempDir::new("overlay");
    let existing = host.path().join("existing");
    let doomed = host.path().join("doomed");
    fs::write(&existing, "original\n").expect("write");
    fs::write(&doomed, "keep me\n").expect("write");
    let unique = Path::new("/tmp").join(format!("rvisor-overlay-{}", random_hex(8)));
    let u = unique.to_str().expect("utf-8");
    let e = existing.to_str().expect("utf-8");
    let d = doomed.to_str().expect("utf-8");
    let script = format!(
        "set -e
mkdir -p {u}/sub
echo data > {u}/sub/file
cat {u}/sub/file
echo modified > {e}
cat {e}
rm {d}
test -e {d} && echo doomed-still-there || echo doomed-gone
mkdir {u}/dir2 && rmdir {u}/dir2
ls {u}"
    );
    let o = Run::rvisor().args(["do", "--", "/bin/sh", "-c", &script]).cwd(host.path()).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "data\nmodified\ndoomed-gone\nsub\n", "{}", report(&o));
    assert!(!unique.exists(), "{u} was created on the host by a sandboxed write");
    assert_eq!(
        fs::read_to_string(&existing).expect("read"),
        "original\n",
        "a host file was modified through the overlay"
    );
    assert!(doomed.exists(), "a host file was deleted through the overlay");

    // A new sandbox starts from the host state again.
    let o = Run::rvisor()
        .args(["do", "--", "/bin/sh", "-c", &format!("test -e {u} && echo present || echo absent; cat {e}; cat {d}")])
        .output();
    assert_eq!(o.stdout_str(), "absent\noriginal\nkeep me\n", "{}", report(&o));
}

/// Writes in the sandbox's cwd (a host directory) stay virtual too.
#[test]
fn host_overlay_cwd_writes_stay_in_sandbox() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only test");
        return;
    }
    let host = TempDir::new("overlay-cwd");
    let o = Run::rvisor()
        .args(["do", "--", "/bin/sh", "-c", "echo x > f && mkdir d && ln -s f l && cat l && ls"])
        .cwd(host.path())
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "x\nd\nf\nl\n", "{}", report(&o));
    assert!(rvisor_tests::dir_entries(host.path()).is_empty(), "sandbox writes reached the host cwd");
}
