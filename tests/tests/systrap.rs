//! The systrap platform (`--platform systrap`) on a part of the C corpus that
//! exercises what it changes: threads, fork, exec, wait, signals (delivery,
//! restart, temporary masks, siginfo of self-sent signals), job control,
//! robust futexes (also of threads that die with their process while
//! detached), the app's own SIGSYS and seccomp filters, procfs signal
//! masks, blocking reads and plain file I/O. Each program must
//! print what it prints natively, as in tests/corpus.rs. The whole corpus
//! runs on systrap with `RVISOR_PLATFORM=systrap` (docs/systrap-status.md).

use rvisor_tests::compare_corpus_with;

macro_rules! on_systrap {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                compare_corpus_with(stringify!($name), &["--platform", "systrap"]);
            }
        )*
    };
}

on_systrap!(
    execve,
    fork_wait,
    thread_churn,
    fork_fd,
    pipe_fork,
    append_fork,
    futex_robust,
    futex_robust_exit,
    sig_restart,
    sig_waitmask,
    sig_suspend_mask,
    sig_sysown,
    sig_onstack_fork,
    seccomp_filter,
    proc_stat,
    timers,
    proc_cmdline,
    proc_task,
    rw_basic,
    big_read,
    many_files,
    openat,
    stat,
    getdents,
    mmap_file,
    ev_epoll_et,
    sock_unix_stream,
);

/// How many chunks of the systrap region (at 0x6000_0000_0000) `rvisor
/// <args>` maps into `grep` run in the sandbox: the platform as the app's
/// own memory shows it. RVISOR_PLATFORM is `platform_env` (unset if None).
fn region_mappings(args: &[&str], platform_env: Option<&str>) -> String {
    let mut run = rvisor_tests::Run::new(rvisor_tests::rvisor_bin())
        .timeout(rvisor_tests::SANDBOX_TIMEOUT)
        .args(args)
        .args(["--", "/bin/grep", "-c", "^6000", "/proc/self/maps"]);
    if let Some(p) = platform_env {
        run = run.env("RVISOR_PLATFORM", p);
    }
    let o = run.output();
    o.stdout_str().trim().to_string()
}

/// systrap is `rvisor do`'s default where the CPU can run the stub's
/// handler (rdtscp), ptrace otherwise; `--platform ptrace` and
/// RVISOR_PLATFORM=ptrace choose ptrace, `--platform systrap` systrap.
#[test]
fn default_platform_is_systrap_with_ptrace_as_fallback() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
    let rdtscp = cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "rdtscp"));
    let default = region_mappings(&["do"], None);
    assert_eq!(default, if rdtscp { "1" } else { "0" }, "default platform (rdtscp: {rdtscp})");
    assert_eq!(region_mappings(&["--platform", "ptrace", "do"], None), "0", "--platform ptrace");
    assert_eq!(region_mappings(&["do"], Some("ptrace")), "0", "RVISOR_PLATFORM=ptrace");
    if rdtscp {
        assert_eq!(region_mappings(&["--platform", "systrap", "do"], Some("ptrace")), "1", "--platform wins");
    }
}

/// Go's runtime runs every signal handler on its threads' own alternate
/// stacks and aborts when one is not ("signal 23 received but handler not
/// on signal stack"): on systrap such threads keep their stack on the host.
/// containerd (a Go program scripts/test.sh installs) prints its version
/// as it does natively, after the runtime's start-up signals.
#[test]
fn go_programs_run_their_handlers_on_their_own_stacks() {
    let bin = "/usr/bin/containerd";
    assert!(std::path::Path::new(bin).exists(), "{bin} missing: scripts/test.sh installs containerd");
    let native = rvisor_tests::Run::new(bin).arg("--version").output();
    for _ in 0..3 {
        let sandboxed =
            rvisor_tests::Run::rvisor().args(["--platform", "systrap", "do", "--", bin, "--version"]).output();
        assert_eq!(sandboxed.status, native.status, "stderr: {}", sandboxed.stderr_str());
        assert_eq!(sandboxed.stdout_str(), native.stdout_str());
    }
}

/// Large reads of a host file and moves of the break run detached: the
/// stub's handler runs the positional read (through the file's fd the
/// app holds) and brk's maps on the sentry's command, where each used to
/// go back to ptrace. Only the read that installs the fd needs ptrace.
/// The data read must be the file's.
#[test]
fn large_reads_and_brk_moves_are_served_detached() {
    let dir = rvisor_tests::TempDir::new("systrap-exec");
    let file = dir.path().join("data");
    let data: Vec<u8> = (0..32u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write data");
    let log = dir.path().join("debug.log");
    // busybox's md5sum reads in 4 KiB chunks: dd with 1 MiB blocks into
    // a pipe, and awk's allocations move the break.
    let script = format!(
        "/bin/busybox dd if={} bs=1048576 2>/dev/null | /bin/busybox md5sum; /bin/busybox awk 'BEGIN {{ for (i = 0; i < 20000; i++) s = s \"x\"; print length(s) }}'",
        file.display()
    );
    let o = rvisor_tests::Run::rvisor()
        .args(["--platform", "systrap", "do", "--strace", "--debug", "--log"])
        .arg(&log)
        .args(["--", "/bin/busybox", "sh", "-c", &script])
        .output();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", rvisor_tests::tail(&o.stderr_str(), 3000));
    let native = rvisor_tests::Run::new("/bin/busybox").args(["sh", "-c", &script]).output();
    assert_eq!(o.stdout_str(), native.stdout_str(), "the data read and awk's output");
    let strace = o.stderr_str();
    let big_reads = strace.lines().filter(|l| l.contains("] read(") && l.ends_with("= 1048576")).count();
    let brk_moves = strace.lines().filter(|l| l.contains("] brk(0x")).count();
    assert!(big_reads >= 32, "dd made {big_reads} reads of 1 MiB");
    assert!(brk_moves >= 1, "awk moved the break {brk_moves} times");
    let log = std::fs::read_to_string(&log).expect("debug log");
    let handed_back =
        |call: &str| log.lines().filter(|l| l.contains("handed back") && l.ends_with(&format!("call={call}"))).count();
    assert!(handed_back("read") <= 1, "{} of {big_reads} large reads went back to ptrace", handed_back("read"));
    assert_eq!(handed_back("brk"), 0, "of {brk_moves} brk moves");
}

/// Runs `argv` on systrap with the debug log on; returns the run's output
/// and the log.
fn run_logged(name: &str, argv: &[&std::ffi::OsStr]) -> (rvisor_tests::RunOutput, String) {
    let dir = rvisor_tests::TempDir::new(name);
    let log = dir.path().join("debug.log");
    let o = rvisor_tests::Run::rvisor()
        .args(["--platform", "systrap", "do", "--debug", "--log"])
        .arg(&log)
        .arg("--")
        .args(argv)
        .output();
    (o, std::fs::read_to_string(&log).expect("debug log"))
}

/// Lines of `log` with `what` about call `call`.
fn log_count(log: &str, what: &str, call: &str) -> usize {
    log.lines().filter(|l| l.contains(what) && l.ends_with(&format!("call={call}"))).count()
}

/// An action whose sa_mask holds SIGSYS (shells fill theirs) is installed
/// detached: it used to go back to ptrace to learn the stack pointer the
/// request already carries.
#[test]
fn actions_with_sigsys_in_their_mask_are_set_detached() {
    let prog = rvisor_tests::compile_c("sig_fullmask");
    let (o, log) = run_logged("systrap-fullmask", &[prog.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", rvisor_tests::tail(&o.stderr_str(), 3000));
    assert!(o.stdout_str().contains("installed, failures: 0"), "{}", o.stdout_str());
    let back = log_count(&log, "handed back", "rt_sigaction");
    assert_eq!(back, 0, "of 21 rt_sigaction calls with SIGSYS in the mask");
}

/// A new image is set up for systrap at its entry, inside the execve's own
/// stop, and leaves detached: its first trapped call (ld.so's brk) is served
/// through the slot, not at a SIGSYS stop of its own.
#[test]
fn a_new_image_starts_detached() {
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; echo done";
    let (o, log) = run_logged("systrap-exec-detached", &["/bin/sh".as_ref(), "-c".as_ref(), script.as_ref()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", rvisor_tests::tail(&o.stderr_str(), 3000));
    assert_eq!(o.stdout_str().trim(), "done");
    let at_stop = |call: &str| log_count(&log, "served at a SIGSYS stop", call);
    // The execs themselves are hand-backs: they show the log line works.
    assert!(at_stop("execve") >= 10, "execve at SIGSYS stops: {}", at_stop("execve"));
    // The sandbox's first image, loaded before the platform's loop starts,
    // is still set up at its first call: at most that one.
    assert!(at_stop("brk") <= 1, "brk calls served at SIGSYS stops after 11 execs: {}", at_stop("brk"));
}

/// A single-threaded process's exit_group is served detached: the sentry
/// notes the status, hands over robust futexes and has the handler run the
/// call, instead of seizing the thread to let it end traced. The exit
/// status still comes through.
#[test]
fn a_single_threaded_exit_is_not_handed_back() {
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; /bin/sh -c 'exit 3'; exit $(($? + 4))";
    let (o, log) = run_logged("systrap-exit-detached", &["/bin/sh".as_ref(), "-c".as_ref(), script.as_ref()]);
    assert_eq!(o.status.code(), Some(7), "stderr: {}", rvisor_tests::tail(&o.stderr_str(), 3000));
    let handed_back = |call: &str| log_count(&log, "handed back", call);
    // The execs are hand-backs: they show the log line works.
    assert!(handed_back("execve") >= 11, "execve hand-backs: {}", handed_back("execve"));
    assert_eq!(handed_back("exit_group"), 0, "exit_group hand-backs of 12 single-threaded processes");
}

/// Copies of app memory take the copy file only where a command to the
/// waiting handler is cheap (the sentry thread apart); beside, they go
/// through process_vm_readv/writev, and only a copy-out that rides with the
/// reply uses the file. Both routes must give Linux's bytes and EFAULTs.
#[test]
fn copies_are_right_beside_and_apart() {
    let prog = rvisor_tests::compile_c("copy_out_faults");
    let d_native = rvisor_tests::TempDir::new("copies-native");
    let native = rvisor_tests::run_native(&prog, &[], d_native.path());
    for placement in ["beside", "apart"] {
        let d = rvisor_tests::TempDir::new(&format!("copies-{placement}"));
        let o = rvisor_tests::Run::rvisor()
            .env("RVISOR_SYSTRAP_PLACEMENT", placement)
            .args(["do", "--platform", "systrap", "--"])
            .arg(&prog)
            .cwd(d.path())
            .output();
        if let Err(r) = rvisor_tests::compare_runs("copy_out_faults", "native", &native, placement, &o) {
            panic!("{r}");
        }
    }
}
