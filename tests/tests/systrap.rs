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
