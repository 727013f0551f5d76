//! The C corpus: every program in tests/c (except escape_* and net_*) runs natively and
//! under `rvisor do`, and the stdout and exit status must be identical.

use rvisor_tests::{assert_list_complete, compare_corpus};

macro_rules! corpus {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                compare_corpus(stringify!($name));
            }
        )*
        /// Every program covered by this file.
        const CORPUS: &[&str] = &[$(stringify!($name)),*];
    };
}

corpus!(
    access,
    append_fork,
    caps_sched,
    big_read,
    big_read_offsets,
    seek_holes,
    chdir,
    chmod,
    chown,
    clone3_args,
    close_badfd,
    close_range,
    copy_file_range,
    deep_tree,
    dev_files,
    dnotify,
    etxtbsy,
    ev_epoll_et,
    ev_epoll_fair,
    ev_epoll_state,
    ev_epoll_targets,
    ev_inotify,
    ev_inotify_self,
    ev_signalfd,
    ev_sigio,
    ev_timerfd,
    ev_unix_backlog,
    ev_vectored,
    ev_wakeup,
    dir_read,
    dup,
    execve,
    fallocate,
    fcntl_fd,
    fcntl_lease,
    fcntl_lock,
    fd_limits,
    flock,
    fork_fd,
    fork_wait,
    fsync,
    futex_robust,
    futex_robust_exit,
    getdents,
    ioctl,
    ipc_mqueue,
    ipc_kill_waiter,
    ipc_msg,
    ipc_sem,
    ipc_sem_undo,
    ipc_shm,
    kcmp_vm,
    large_file,
    link,
    lseek,
    madvise_advice,
    many_files,
    mkdir,
    mknod,
    mmap_file,
    memfd_seals,
    mlock,
    mmap_sigbus,
    mseal,
    o_tmpfile,
    open_flags,
    open_path,
    openat,
    openat2,
    patch_sites,
    path_edge,
    perm_edges,
    pgrp_zombie,
    pidfd,
    pipe,
    pipe_fork,
    poll_pipe,
    prctl_reaper,
    pread_pwrite,
    proc_cmdline,
    proc_fd_reopen,
    proc_info,
    proc_links,
    proc_self,
    proc_state,
    proc_stat,
    proc_sysvipc,
    robust_list_access,
    sock_connect_state,
    proc_task,
    pty_alloc,
    pty_hangup,
    pty_jobctl,
    pty_line,
    readv_writev,
    rename,
    rmdir,
    rw_basic,
    sched_attr,
    seccomp_filter,
    sendfile,
    shm,
    sig_ignored,
    sig_jobstop,
    sig_info,
    sig_newborn,
    sig_onstack_fork,
    sig_restart,
    sig_restart_waits,
    sig_sighand_shared,
    sig_oneshot,
    sig_suspend_mask,
    sig_sysown,
    sig_timer_wait,
    sig_waitmask,
    smaps,
    splice_tee,
    sock_ifaddrs,
    sock_poll,
    sock_scm,
    sock_tcp,
    sock_udp,
    sock_unix_dgram,
    sock_unix_stream,
    stat,
    statfs,
    statx,
    symlink,
    timers,
    truncate,
    umask,
    unlink,
    utimensat,
    xattr,
);

/// Job-control signals on a pty. On ptrace only for now: on systrap the
/// SIGCONT that follows a hang-up's SIGHUP is sometimes lost for a session
/// leader opened without O_NOCTTY (docs/systrap-status.md, "Known gaps").
#[test]
fn pty_signals() {
    rvisor_tests::compare_corpus_with("pty_signals", &["--platform", "ptrace"]);
}

/// No program in tests/c may be silently skipped (escape_* run in
/// tests/escape.rs, net_* in tests/net.rs).
#[test]
fn corpus_list_is_complete() {
    assert_list_complete(
        CORPUS,
        |n| !n.starts_with("escape_") && !n.starts_with("net_") && n != "pty_signals",
        "corpus! list in tests/tests/corpus.rs",
    );
}
