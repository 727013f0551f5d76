//! The C corpus: every program in tests/c (except escape_*) runs natively and
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
    chdir,
    chmod,
    chown,
    close_badfd,
    close_range,
    copy_file_range,
    deep_tree,
    dev_files,
    dir_read,
    dup,
    execve,
    fallocate,
    fcntl_fd,
    fcntl_lock,
    fd_limits,
    flock,
    fork_fd,
    fork_wait,
    fsync,
    getdents,
    ioctl,
    large_file,
    link,
    lseek,
    many_files,
    mkdir,
    mknod,
    mmap_file,
    mmap_sigbus,
    o_tmpfile,
    open_flags,
    open_path,
    openat,
    openat2,
    path_edge,
    pipe,
    pipe_fork,
    poll_pipe,
    pread_pwrite,
    proc_cmdline,
    proc_info,
    proc_links,
    proc_self,
    proc_stat,
    proc_task,
    readv_writev,
    rename,
    rmdir,
    rw_basic,
    sendfile,
    shm,
    stat,
    statfs,
    statx,
    symlink,
    truncate,
    umask,
    unlink,
    utimensat,
);

/// No program in tests/c may be silently skipped.
#[test]
fn corpus_list_is_complete() {
    assert_list_complete(CORPUS, |n| !n.starts_with("escape_"), "corpus! list in tests/tests/corpus.rs");
}
