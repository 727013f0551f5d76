//! Bad input: execve of broken executables (errno from a small C program and
//! bash's messages and exit statuses, compared with a native run), and a fork
//! bomb bounded by RLIMIT_NPROC that must stay killable.

use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rvisor_tests::workloads::{child_pid_namespace, compile_c_source, pids_in_namespace, require, Workload, BASH};
use rvisor_tests::{dir_entries, native_only, tail, Run, RunOutput, Status, TempDir};

/// Makes broken executables in the current directory, execs each from a
/// forked child and prints how that went: the errno name, or how the child
/// ended if the exec succeeded.
const EXEC_ERRORS_C: &str = r##"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case ENOEXEC: return "ENOEXEC";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EIO: return "EIO";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case ETXTBSY: return "ETXTBSY";
    default: return "other";
    }
}

static char *slurp(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { perror(path); exit(1); }
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc(st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, st.st_size - got);
        if (n <= 0) { perror("read"); exit(1); }
        got += n;
    }
    close(fd);
    *len = got;
    return buf;
}

static void put(const char *path, const void *data, size_t len, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) { perror(path); exit(1); }
    close(fd);
    chmod(path, mode);
}

static void text(const char *path, const char *s, mode_t mode) { put(path, s, strlen(s), mode); }

/* Exec `path` in a child; report the errno or how the child ended. */
static void try_exec(const char *what, const char *path) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) { perror("pipe2"); exit(1); }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)path, NULL};
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execve(path, argv, envp);
        int e = errno;
        if (write(p[1], &e, sizeof e) < 0) _exit(126);
        _exit(127);
    }
    close(p[1]);
    int e = 0;
    ssize_t n = read(p[0], &e, sizeof e);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    if (n == sizeof e)
        printf("%-28s execve: %s\n", what, errname(e));
    else if (WIFEXITED(status))
        printf("%-28s ran, exit %d\n", what, WEXITSTATUS(status));
    else
        printf("%-28s ran, killed by signal %d\n", what, WTERMSIG(status));
}

int main(void) {
    size_t len;
    char *elf = slurp("/bin/true", &len);
    put("ident-only", elf, 16, 0755);
    put("header-only", elf, 64, 0755);
    put("phdrs-cut", elf, 100, 0755);
    put("segments-cut", elf, 4096, 0755);
    put("true-copy", elf, len, 0755);
    char *bad = malloc(len);
    memcpy(bad, elf, len);
    bad[18] = 40; /* e_machine = EM_ARM */
    put("wrong-machine", bad, len, 0755);
    memcpy(bad, elf, len);
    bad[4] = 1; /* ELFCLASS32 */
    put("wrong-class", bad, len, 0755);
    put("empty", "", 0, 0755);
    text("no-shebang", "echo hi\n", 0755);
    text("shebang-nowhere", "#!/nonexistent/interpreter\necho hi\n", 0755);
    text("shebang-dir", "#!/usr\necho hi\n", 0755);
    text("shebang-noexec", "#!/etc/hostname\necho hi\n", 0755);
    text("shebang-empty", "#!\necho hi\n", 0755);
    text("shebang-spaces", "#!   \necho hi\n", 0755);
    text("shebang-ok", "#!/bin/sh\nexit 3\n", 0755);
    text("shebang-args", "#! /bin/sh -e\nfalse\nexit 0\n", 0755);
    char longline[400] = "#!/";
    memset(longline + 3, 'a', 300);
    strcpy(longline + 303, "\n");
    text("shebang-too-long", longline, 0755);
    text("nested-1", "#!/bin/sh\nexit 4\n", 0755);
    text("nested-2", "#!./nested-1\n", 0755);
    text("nested-3", "#!./nested-2\n", 0755);
    text("nested-4", "#!./nested-3\n", 0755);
    text("nested-5", "#!./nested-4\n", 0755);
    text("nested-6", "#!./nested-5\n", 0755);
    text("not-executable", "#!/bin/sh\nexit 0\n", 0644);
    mkdir("dir", 0755);
    char toolong[5000];
    memset(toolong, 'x', sizeof toolong - 1);
    toolong[sizeof toolong - 1] = 0;

    try_exec("ELF ident only (16 bytes)", "./ident-only");
    try_exec("ELF header only (64 bytes)", "./header-only");
    try_exec("program headers cut", "./phdrs-cut");
    try_exec("segments cut", "./segments-cut");
    try_exec("intact copy", "./true-copy");
    try_exec("wrong machine", "./wrong-machine");
    try_exec("wrong class", "./wrong-class");
    try_exec("empty file", "./empty");
    try_exec("text without #!", "./no-shebang");
    try_exec("#! to nowhere", "./shebang-nowhere");
    try_exec("#! to a directory", "./shebang-dir");
    try_exec("#! to a non-executable", "./shebang-noexec");
    try_exec("#! with nothing", "./shebang-empty");
    try_exec("#! with spaces only", "./shebang-spaces");
    try_exec("#! ok", "./shebang-ok");
    try_exec("#! with an argument", "./shebang-args");
    try_exec("#! line too long", "./shebang-too-long");
    try_exec("#! nested 2 deep", "./nested-2");
    try_exec("#! nested 5 deep", "./nested-5");
    try_exec("#! nested 6 deep", "./nested-6");
    try_exec("not executable", "./not-executable");
    try_exec("directory", "./dir");
    try_exec("directory with slash", "./dir/");
    try_exec("missing", "./missing");
    try_exec("through a file", "./empty/x");
    try_exec("name too long", toolong);
    try_exec("empty path", "");
    return 0;
}
"##;

/// bash's view of the same broken files: messages (stderr folded into
/// stdout) and exit statuses 126/127.
const SHELL_ERRORS: &str = r#"
head -c 100 /bin/true > phdrs-cut
printf '#!/nonexistent/interpreter\necho hi\n' > shebang-nowhere
printf '#!/usr\n' > shebang-dir
printf 'echo "run by the shell: $0"\nexit 6\n' > no-shebang
: > empty
printf '#!/bin/sh\nexit 0\n' > not-executable
chmod 755 phdrs-cut shebang-nowhere shebang-dir no-shebang empty
mkdir dir
for f in ./phdrs-cut ./shebang-nowhere ./shebang-dir ./no-shebang ./empty ./not-executable ./dir ./missing \
         no-such-command-anywhere ./empty/x; do
  "$f"; echo "$f: status $?"
done
bash ./dir; echo "bash ./dir: status $?"
bash -c 'exec ./shebang-nowhere'; echo "exec: status $?"
bash -c 'exec ./dir'; echo "exec dir: status $?"
sh -c './shebang-nowhere'; echo "sh: status $?"
env ./shebang-nowhere; echo "env: status $?"
/usr/bin/python3 -c 'import subprocess
for f in ["./phdrs-cut", "./shebang-nowhere", "./dir", "./not-executable"]:
    try:
        subprocess.run([f])
    except OSError as e:
        print(f, type(e).__name__, e.errno)'
"#;

#[test]
fn exec_errors_errno() {
    let build = TempDir::new("wl-exec-errors-build");
    let prog = compile_c_source(build.path(), "exec_errors", EXEC_ERRORS_C, &["-static"]);
    let prog = prog.to_str().expect("utf-8 path");
    Workload::new("exec-errors", [prog]).check();
}

#[test]
fn exec_errors_shell() {
    require(&[(BASH, "bash"), ("/usr/bin/python3", "python3")]);
    Workload::bash("exec-errors-shell", &format!("exec 2>&1\n{SHELL_ERRORS}")).check();
}

fn report(o: &RunOutput) -> String {
    format!("status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", o.status, o.stdout_str(), o.stderr_str())
}

/// Fail if host processes in pid namespace `ns` outlive the sandbox by `grace`.
fn assert_namespace_empties(ns: &str, grace: Duration) {
    let deadline = Instant::now() + grace;
    loop {
        let left = pids_in_namespace(ns);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            // Don't leave them running for the rest of the suite.
            for p in &left {
                // SAFETY: plain kill(2) of processes this test started.
                unsafe { libc::kill(*p, libc::SIGKILL) };
            }
            panic!("{} host processes of the sandbox ({ns}) outlived it: {left:?}", left.len());
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// `rvisor do -- bash -c SCRIPT` started directly (not through `Run`), so the
/// test knows the launcher's pid; stdout and stderr go to files in `dir`.
fn spawn_rvisor_bash(dir: &Path, script: &str) -> (Child, String) {
    let out = fs::File::create(dir.join("stdout")).expect("create stdout file");
    let err = fs::File::create(dir.join("stderr")).expect("create stderr file");
    let work = dir.join("work");
    fs::create_dir(&work).expect("create the working directory");
    let mut child = Command::new(rvisor_tests::rvisor_bin())
        .args(["do", "--", BASH, "-c", script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir(&work)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn rvisor");
    let Some(ns) = child_pid_namespace(child.id() as i32, Duration::from_secs(10)) else {
        let _ = child.kill();
        panic!("rvisor started no sentry in a new pid namespace");
    };
    (child, ns)
}

fn read_output(dir: &Path) -> String {
    format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        fs::read_to_string(dir.join("stdout")).unwrap_or_default(),
        tail(&fs::read_to_string(dir.join("stderr")).unwrap_or_default(), 4000)
    )
}

/// Forks until fork fails; reports the errno, then kills and reaps them all.
const FORK_LIMIT_C: &str = r#"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NPROC, &rl);
    printf("RLIMIT_NPROC %llu\n", (unsigned long long)rl.rlim_cur);
    pid_t kids[4096];
    int n = 0, err = 0;
    while (n < 4096) {
        pid_t p = fork();
        if (p == 0) { pause(); _exit(0); }
        if (p < 0) { err = errno; break; }
        kids[n++] = p;
    }
    printf("fork failed: %s\n", err == EAGAIN ? "EAGAIN" : strerror(err));
    printf("forked below the limit: %s\n", n > 0 && (rlim_t)n < rl.rlim_cur ? "yes" : "no");
    for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
    int reaped = 0;
    while (wait(NULL) > 0) reaped++;
    printf("reaped all: %s\n", reaped == n ? "yes" : "no");
    pid_t p = fork();
    if (p == 0) _exit(5);
    int st;
    waitpid(p, &st, 0);
    printf("fork works again: %s\n", p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 5 ? "yes" : "no");
    return 0;
}
"#;

/// A C program forking under `ulimit -u 40` hits EAGAIN, and fork works again
/// once its children are gone. (Sandbox only: natively root is exempt from
/// RLIMIT_NPROC.)
#[test]
fn fork_limit_eagain() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only test");
        return;
    }
    let build = TempDir::new("wl-fork-limit");
    let prog = compile_c_source(build.path(), "fork_limit", FORK_LIMIT_C, &["-static"]);
    let script = format!("ulimit -u 40 && {}", prog.display());
    let o = Run::rvisor().args(["do", "--", BASH, "-c", &script]).timeout(Duration::from_secs(60)).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(
        o.stdout_str(),
        "RLIMIT_NPROC 40\nfork failed: EAGAIN\nforked below the limit: yes\nreaped all: yes\nfork works again: yes\n",
        "{}",
        report(&o)
    );
}

/// A bash fork bomb under `ulimit -u`: it hits EAGAIN, stays bounded, the
/// sandbox stays responsive and can kill it, and exits promptly.
const BOMB_CONTROLLER: &str = r#"
( ulimit -u 48; bomb() { bomb | bomb & }; bomb ) 2> bomb.err &
sleep 3
procs=(/proc/[0-9]*)
[ ${#procs[@]} -le 60 ] && echo "bounded" || echo "unbounded: ${#procs[@]} processes"
echo "responsive: $(echo yes)"
grep -q 'Resource temporarily unavailable' bomb.err && echo "bomb hit EAGAIN"
for i in 1 2 3 4 5 6 7 8 9 10; do
  kill -KILL -1 2>/dev/null
  procs=(/proc/[0-9]*)
  [ ${#procs[@]} -eq 1 ] && break
  sleep 0.2
done
echo "left after kill -1: ${#procs[@]}"
echo done
"#;

#[test]
fn fork_bomb_is_bounded_and_killable() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only test");
        return;
    }
    let dir = TempDir::new("wl-fork-bomb");
    let start = Instant::now();
    let (mut child, ns) = spawn_rvisor_bash(dir.path(), BOMB_CONTROLLER);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for rvisor") {
            break st;
        }
        if start.elapsed() > Duration::from_secs(60) {
            // SAFETY: plain kill(2) of the process group this test started.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            panic!("the sandbox did not finish in 60 s\n{}", read_output(dir.path()));
        }
        thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    let output = read_output(dir.path());
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.starts_with(
            "--- stdout ---\nbounded\nresponsive: yes\nbomb hit EAGAIN\nleft after kill -1: 1\ndone\n--- stderr"
        ),
        "{output}"
    );
    assert!(took < Duration::from_secs(30), "the sandbox took {took:?} to finish");
    assert_namespace_empties(&ns, Duration::from_secs(5));
    assert!(dir_entries(&dir.path().join("work")).is_empty(), "sandbox writes reached the host directory");
}

/// Killing `rvisor` itself (SIGKILL to the launcher only) while a fork bomb
/// runs must take every sandboxed process with it.
#[test]
fn fork_bomb_dies_with_rvisor() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only test");
        return;
    }
    let dir = TempDir::new("wl-fork-bomb-kill");
    // The bomb orphans itself at once; init stays up as `sleep`.
    let script = "ulimit -u 48; bomb() { bomb | bomb & }; bomb; exec /bin/sleep 1000";
    let (mut child, ns) = spawn_rvisor_bash(dir.path(), script);
    thread::sleep(Duration::from_secs(3));
    let running = pids_in_namespace(&ns).len();
    // SAFETY: plain kill(2) of the rvisor launcher this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    let st = child.wait().expect("wait for rvisor");
    assert_eq!(st.signal(), Some(libc::SIGKILL), "rvisor ended otherwise: {st:?}\n{}", read_output(dir.path()));
    assert!(running > 10, "the bomb never got going ({running} processes in the sandbox)\n{}", read_output(dir.path()));
    assert_namespace_empties(&ns, Duration::from_secs(10));
}
