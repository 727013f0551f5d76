//! The dispatch table: syscall number -> handler, as data. The same list
//! generates the compatibility document (`rvisor compat-doc`).

use rvisor_syscalls::{Errno, SysResult};

use super::{
    caps, creds, dir, epoll, fd, file, futex, inotify, inspect, io, ipc, mm, pidfd, process, sched, seccomp, signal,
    signalfd, socket, splice, stat, sys, time, timerfd, wait, xattr, SyscallCtx,
};

pub type Handler = fn(&mut SyscallCtx<'_>, [u64; 6]) -> SysResult;

/// One implemented syscall.
#[derive(Clone, Copy)]
pub struct Entry {
    /// libc constant name, e.g. "SYS_read".
    const_name: &'static str,
    pub handler: Handler,
}

impl Entry {
    pub fn name(&self) -> &'static str {
        self.const_name.trim_start_matches("SYS_")
    }
}

pub const TABLE_SIZE: usize = 512;

macro_rules! table {
    ($($nr:ident => $handler:path,)*) => {
        /// Implemented syscalls indexed by number.
        pub static TABLE: [Option<Entry>; TABLE_SIZE] = {
            let mut t: [Option<Entry>; TABLE_SIZE] = [None; TABLE_SIZE];
            $( t[libc::$nr as usize] = Some(Entry { const_name: stringify!($nr), handler: $handler }); )*
            t
        };
    };
}

table! {
    // fd.rs: descriptors
    SYS_close => fd::sys_close,
    SYS_close_range => fd::sys_close_range,
    SYS_dup => fd::sys_dup,
    SYS_dup2 => fd::sys_dup2,
    SYS_dup3 => fd::sys_dup3,
    SYS_fcntl => fd::sys_fcntl,
    SYS_ioctl => fd::sys_ioctl,
    SYS_pipe => fd::sys_pipe,
    SYS_pipe2 => fd::sys_pipe2,
    SYS_flock => fd::sys_flock,
    SYS_memfd_create => fd::sys_memfd_create,
    // io.rs: data transfer
    SYS_read => io::sys_read,
    SYS_write => io::sys_write,
    SYS_pread64 => io::sys_pread64,
    SYS_pwrite64 => io::sys_pwrite64,
    SYS_readv => io::sys_readv,
    SYS_writev => io::sys_writev,
    SYS_preadv => io::sys_preadv,
    SYS_pwritev => io::sys_pwritev,
    SYS_preadv2 => io::sys_preadv2,
    SYS_pwritev2 => io::sys_pwritev2,
    SYS_lseek => io::sys_lseek,
    SYS_sendfile => io::sys_sendfile,
    SYS_copy_file_range => io::sys_copy_file_range,
    SYS_fsync => io::sys_fsync,
    SYS_fdatasync => io::sys_fdatasync,
    SYS_sync_file_range => io::sys_sync_file_range,
    SYS_sync => io::sys_sync,
    SYS_syncfs => io::sys_syncfs,
    SYS_ftruncate => io::sys_ftruncate,
    SYS_fallocate => io::sys_fallocate,
    SYS_getdents64 => io::sys_getdents64,
    SYS_getdents => io::sys_getdents,
    SYS_fadvise64 => io::sys_fadvise64,
    SYS_readahead => io::sys_readahead,
    // file.rs: opening and attributes
    SYS_open => file::sys_open,
    SYS_openat => file::sys_openat,
    SYS_openat2 => file::sys_openat2,
    SYS_creat => file::sys_creat,
    SYS_truncate => file::sys_truncate,
    SYS_access => file::sys_access,
    SYS_faccessat => file::sys_faccessat,
    SYS_faccessat2 => file::sys_faccessat2,
    SYS_chmod => file::sys_chmod,
    SYS_fchmod => file::sys_fchmod,
    SYS_fchmodat => file::sys_fchmodat,
    SYS_fchmodat2 => file::sys_fchmodat2,
    SYS_chown => file::sys_chown,
    SYS_fchown => file::sys_fchown,
    SYS_lchown => file::sys_lchown,
    SYS_fchownat => file::sys_fchownat,
    SYS_utimensat => file::sys_utimensat,
    SYS_utime => file::sys_utime,
    SYS_utimes => file::sys_utimes,
    SYS_futimesat => file::sys_futimesat,
    SYS_umask => file::sys_umask,
    // stat.rs
    SYS_stat => stat::sys_stat,
    SYS_lstat => stat::sys_lstat,
    SYS_fstat => stat::sys_fstat,
    SYS_newfstatat => stat::sys_newfstatat,
    SYS_statx => stat::sys_statx,
    SYS_statfs => stat::sys_statfs,
    SYS_fstatfs => stat::sys_fstatfs,
    // dir.rs: namespace operations
    SYS_mkdir => dir::sys_mkdir,
    SYS_mkdirat => dir::sys_mkdirat,
    SYS_mknod => dir::sys_mknod,
    SYS_mknodat => dir::sys_mknodat,
    SYS_rmdir => dir::sys_rmdir,
    SYS_unlink => dir::sys_unlink,
    SYS_unlinkat => dir::sys_unlinkat,
    SYS_rename => dir::sys_rename,
    SYS_renameat => dir::sys_renameat,
    SYS_renameat2 => dir::sys_renameat2,
    SYS_link => dir::sys_link,
    SYS_linkat => dir::sys_linkat,
    SYS_symlink => dir::sys_symlink,
    SYS_symlinkat => dir::sys_symlinkat,
    SYS_readlink => dir::sys_readlink,
    SYS_readlinkat => dir::sys_readlinkat,
    SYS_chdir => dir::sys_chdir,
    SYS_fchdir => dir::sys_fchdir,
    SYS_getcwd => dir::sys_getcwd,
    SYS_chroot => dir::sys_chroot,
    // mm.rs
    SYS_brk => mm::sys_brk,
    SYS_mmap => mm::sys_mmap,
    SYS_madvise => mm::sys_madvise,
    SYS_mseal => mm::sys_mseal,
    SYS_membarrier => mm::sys_membarrier,
    SYS_mlock => mm::sys_mlock,
    SYS_mlock2 => mm::sys_mlock2,
    SYS_munlock => mm::sys_munlock,
    SYS_mlockall => mm::sys_mlockall,
    SYS_munlockall => mm::sys_munlockall,
    // process.rs
    SYS_getpid => process::sys_getpid,
    SYS_getppid => process::sys_getppid,
    SYS_gettid => process::sys_gettid,
    SYS_exit_group => process::sys_exit_group,
    SYS_set_tid_address => process::sys_set_tid_address,
    SYS_execve => process::sys_execve,
    SYS_execveat => process::sys_execveat,
    SYS_clone => process::sys_clone,
    SYS_clone3 => process::sys_clone3,
    SYS_fork => process::sys_fork,
    SYS_vfork => process::sys_vfork,
    SYS_wait4 => wait::sys_wait4,
    SYS_waitid => wait::sys_waitid,
    SYS_getuid => creds::sys_getuid,
    SYS_geteuid => creds::sys_geteuid,
    SYS_getgid => creds::sys_getgid,
    SYS_getegid => creds::sys_getegid,
    SYS_getresuid => creds::sys_getresuid,
    SYS_getresgid => creds::sys_getresgid,
    SYS_getgroups => creds::sys_getgroups,
    SYS_setuid => creds::sys_setuid,
    SYS_setgid => creds::sys_setgid,
    SYS_setgroups => creds::sys_setgroups,
    SYS_setresuid => creds::sys_setresuid,
    SYS_setresgid => creds::sys_setresgid,
    SYS_setreuid => creds::sys_setreuid,
    SYS_setregid => creds::sys_setregid,
    SYS_setfsuid => creds::sys_setfsuid,
    SYS_setfsgid => creds::sys_setfsgid,
    SYS_getpgid => process::sys_getpgid,
    SYS_getpgrp => process::sys_getpgrp,
    SYS_setpgid => process::sys_setpgid,
    SYS_getsid => process::sys_getsid,
    SYS_setsid => process::sys_setsid,
    SYS_prlimit64 => process::sys_prlimit64,
    SYS_getrlimit => process::sys_getrlimit,
    SYS_setrlimit => process::sys_setrlimit,
    SYS_prctl => process::sys_prctl,
    // seccomp.rs
    SYS_seccomp => seccomp::sys_seccomp,
    SYS_getrusage => process::sys_getrusage,
    // caps.rs
    SYS_capget => caps::sys_capget,
    SYS_capset => caps::sys_capset,
    // signal.rs
    SYS_kill => signal::sys_kill,
    SYS_tgkill => signal::sys_tgkill,
    SYS_tkill => signal::sys_tkill,
    SYS_rt_sigqueueinfo => signal::sys_rt_sigqueueinfo,
    SYS_rt_tgsigqueueinfo => signal::sys_rt_tgsigqueueinfo,
    SYS_rt_sigaction => signal::sys_rt_sigaction,
    SYS_rt_sigtimedwait => signal::sys_rt_sigtimedwait,
    // splice.rs
    SYS_splice => splice::sys_splice,
    SYS_tee => splice::sys_tee,
    SYS_vmsplice => splice::sys_vmsplice,
    // futex.rs
    SYS_get_robust_list => futex::sys_get_robust_list,
    // sched.rs
    SYS_sched_getaffinity => sched::sys_sched_getaffinity,
    SYS_sched_setaffinity => sched::sys_sched_setaffinity,
    SYS_getcpu => sched::sys_getcpu,
    SYS_sched_get_priority_max => sched::sys_sched_get_priority_max,
    SYS_sched_get_priority_min => sched::sys_sched_get_priority_min,
    SYS_sched_getscheduler => sched::sys_sched_getscheduler,
    SYS_sched_setscheduler => sched::sys_sched_setscheduler,
    SYS_sched_getparam => sched::sys_sched_getparam,
    SYS_sched_setparam => sched::sys_sched_setparam,
    SYS_sched_rr_get_interval => sched::sys_sched_rr_get_interval,
    SYS_sched_setattr => sched::sys_sched_setattr,
    SYS_sched_getattr => sched::sys_sched_getattr,
    SYS_getpriority => sched::sys_getpriority,
    SYS_setpriority => sched::sys_setpriority,
    // time.rs (the rest of the clock and timer calls are passthrough)
    SYS_clock_gettime => time::sys_clock_gettime,
    SYS_clock_getres => time::sys_clock_getres,
    SYS_clock_nanosleep => time::sys_clock_nanosleep,
    SYS_timer_create => time::sys_timer_create,
    SYS_alarm => time::sys_alarm,
    SYS_setitimer => time::sys_setitimer,
    SYS_timer_settime => time::sys_timer_settime,
    SYS_timer_delete => time::sys_timer_delete,
    // sys.rs: system information
    SYS_personality => sys::sys_personality,
    SYS_uname => sys::sys_uname,
    SYS_sethostname => sys::sys_sethostname,
    SYS_sysinfo => sys::sys_sysinfo,
    SYS_times => sys::sys_times,
    SYS_poll => sys::sys_poll,
    SYS_ppoll => sys::sys_ppoll,
    SYS_select => sys::sys_select,
    SYS_pselect6 => sys::sys_pselect6,
    // epoll.rs
    SYS_epoll_create => epoll::sys_epoll_create,
    SYS_epoll_create1 => epoll::sys_epoll_create1,
    SYS_epoll_ctl => epoll::sys_epoll_ctl,
    SYS_epoll_wait => epoll::sys_epoll_wait,
    SYS_epoll_pwait => epoll::sys_epoll_pwait,
    SYS_epoll_pwait2 => epoll::sys_epoll_pwait2,
    SYS_eventfd => epoll::sys_eventfd,
    SYS_eventfd2 => epoll::sys_eventfd2,
    // inotify.rs
    SYS_inotify_init => inotify::sys_inotify_init,
    SYS_inotify_init1 => inotify::sys_inotify_init1,
    SYS_inotify_add_watch => inotify::sys_inotify_add_watch,
    SYS_inotify_rm_watch => inotify::sys_inotify_rm_watch,
    // signalfd.rs
    SYS_signalfd => signalfd::sys_signalfd,
    SYS_signalfd4 => signalfd::sys_signalfd4,
    // timerfd.rs
    SYS_timerfd_create => timerfd::sys_timerfd_create,
    SYS_timerfd_settime => timerfd::sys_timerfd_settime,
    SYS_timerfd_gettime => timerfd::sys_timerfd_gettime,
    // ipc/: System V IPC and POSIX message queues
    SYS_msgget => ipc::msg::sys_msgget,
    SYS_msgsnd => ipc::msg::sys_msgsnd,
    SYS_msgrcv => ipc::msg::sys_msgrcv,
    SYS_msgctl => ipc::msg::sys_msgctl,
    SYS_semget => ipc::sem::sys_semget,
    SYS_semop => ipc::sem::sys_semop,
    SYS_semtimedop => ipc::sem::sys_semtimedop,
    SYS_semctl => ipc::sem::sys_semctl,
    SYS_shmget => ipc::shm::sys_shmget,
    SYS_shmat => ipc::shm::sys_shmat,
    SYS_shmdt => ipc::shm::sys_shmdt,
    SYS_shmctl => ipc::shm::sys_shmctl,
    SYS_mq_open => ipc::mqueue::sys_mq_open,
    SYS_mq_unlink => ipc::mqueue::sys_mq_unlink,
    SYS_mq_timedsend => ipc::mqueue::sys_mq_timedsend,
    SYS_mq_timedreceive => ipc::mqueue::sys_mq_timedreceive,
    SYS_mq_notify => ipc::mqueue::sys_mq_notify,
    SYS_mq_getsetattr => ipc::mqueue::sys_mq_getsetattr,
    // socket/: sockets (mod.rs set-up, msg.rs data, opt.rs options)
    SYS_socket => socket::sys_socket,
    SYS_socketpair => socket::sys_socketpair,
    SYS_bind => socket::sys_bind,
    SYS_listen => socket::sys_listen,
    SYS_accept => socket::sys_accept,
    SYS_accept4 => socket::sys_accept4,
    SYS_connect => socket::sys_connect,
    SYS_getsockname => socket::sys_getsockname,
    SYS_getpeername => socket::sys_getpeername,
    SYS_shutdown => socket::sys_shutdown,
    SYS_sendto => socket::msg::sys_sendto,
    SYS_recvfrom => socket::msg::sys_recvfrom,
    SYS_sendmsg => socket::msg::sys_sendmsg,
    SYS_recvmsg => socket::msg::sys_recvmsg,
    SYS_sendmmsg => socket::msg::sys_sendmmsg,
    SYS_recvmmsg => socket::msg::sys_recvmmsg,
    SYS_setsockopt => socket::opt::sys_setsockopt,
    SYS_getsockopt => socket::opt::sys_getsockopt,
    // pidfd.rs
    SYS_pidfd_open => pidfd::sys_pidfd_open,
    SYS_pidfd_send_signal => pidfd::sys_pidfd_send_signal,
    SYS_pidfd_getfd => pidfd::sys_pidfd_getfd,
    // inspect.rs
    SYS_kcmp => inspect::sys_kcmp,
    SYS_process_vm_readv => inspect::sys_process_vm_readv,
    SYS_process_vm_writev => inspect::sys_process_vm_writev,
    // xattr.rs
    SYS_getxattr => xattr::sys_getxattr,
    SYS_lgetxattr => xattr::sys_lgetxattr,
    SYS_fgetxattr => xattr::sys_fgetxattr,
    SYS_listxattr => xattr::sys_listxattr,
    SYS_llistxattr => xattr::sys_llistxattr,
    SYS_flistxattr => xattr::sys_flistxattr,
    SYS_setxattr => xattr::sys_setxattr,
    SYS_lsetxattr => xattr::sys_lsetxattr,
    SYS_fsetxattr => xattr::sys_fsetxattr,
    SYS_removexattr => xattr::sys_removexattr,
    SYS_lremovexattr => xattr::sys_lremovexattr,
    SYS_fremovexattr => xattr::sys_fremovexattr,
}

/// Runs the handler for syscall `nr`, or ENOSYS (logged once per name).
pub fn dispatch(ctx: &mut SyscallCtx<'_>, nr: u64, args: [u64; 6]) -> SysResult {
    match usize::try_from(nr).ok().and_then(|i| TABLE.get(i)).and_then(|e| *e) {
        Some(entry) => (entry.handler)(ctx, args),
        None => {
            let name = rvisor_syscalls::syscall_name(nr).map(str::to_string).unwrap_or_else(|| format!("syscall_{nr}"));
            ctx.kernel.note_unsupported(&name);
            Err(Errno::ENOSYS)
        }
    }
}

/// Names of all implemented syscalls, sorted (for the compatibility doc).
pub fn implemented() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TABLE.iter().flatten().map(|e| e.name()).collect();
    v.sort_unstable();
    v
}

/// The compatibility document generated from the table (docs/syscalls.md).
pub fn compat_doc() -> String {
    let passthrough: Vec<&str> = crate::platform::filter::PASSTHROUGH
        .iter()
        .filter_map(|p| rvisor_syscalls::syscall_name(p.nr as u64))
        .collect();
    let mut out = String::from(
        "# Syscall support\n\nGenerated from the dispatch table (`sentry/src/syscalls/table.rs`) and the app filter\n\
         (`sentry/src/platform/filter.rs`); `UPDATE_DOCS=1 cargo test -p rvisor-sentry compat_doc` rewrites it.\n\n\
         | syscall | number | handled by |\n| --- | --- | --- |\n",
    );
    let mut handled = 0;
    for nr in 0..TABLE_SIZE as u64 {
        let Some(name) = rvisor_syscalls::syscall_name(nr) else { continue };
        let how = if TABLE[nr as usize].is_some() {
            "sentry"
        } else if passthrough.contains(&name) {
            "host (passthrough)"
        } else {
            "ENOSYS"
        };
        if how != "ENOSYS" {
            handled += 1;
        }
        out.push_str(&format!("| `{name}` | {nr} | {how} |\n"));
    }
    out.push_str(&format!("\n{handled} syscalls handled.\n"));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn compat_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/syscalls.md");
        let want = super::compat_doc();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).expect("write docs/syscalls.md");
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(have == want, "docs/syscalls.md is stale: run UPDATE_DOCS=1 cargo test -p rvisor-sentry compat_doc");
    }

    #[test]
    fn every_entry_is_a_real_syscall() {
        for (nr, e) in super::TABLE.iter().enumerate() {
            if let Some(e) = e {
                assert_eq!(rvisor_syscalls::syscall_name(nr as u64), Some(e.name()));
            }
        }
    }
}
