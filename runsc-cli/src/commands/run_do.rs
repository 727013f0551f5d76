//! `rvisor do -- CMD ARGS...`: run one command in a throwaway sandbox.
//!
//! Launch sequence: re-exec from a sealed memfd -> validate -> cgroup with
//! limits (and a janitor that removes it if we die) -> gofer process
//! (confined to the root it serves) -> sentry process in new pid/ipc/uts/
//! mount (and, by default, network) namespaces, pid 1 there so its death
//! takes every app process with it, pivoted into an empty root with few
//! capabilities and its seccomp filter -> wait, stop the other half if one
//! dies, remove the cgroup, and propagate the exit status.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use rvisor_sentry::boot::{self, BootConfig, BootError};
use rvisor_sentry::kernel::{InitExit, KernelOptions};
use rvisor_syscalls::Errno;

use crate::cgroups::{self, janitor::Janitor, Cgroup, Limits, Placement};
use crate::confine;

#[derive(clap::Args, Debug)]
pub struct DoArgs {
    /// Root file system directory (default: the host root, read-only, with an in-memory upper layer).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// With --rootfs: keep DIR untouched; writes go to an in-memory upper layer.
    #[arg(long, conflicts_with = "read_only")]
    pub overlay: bool,
    /// Make the root file system read-only, with no upper layer (enforced by
    /// the sentry, the gofer and a read-only mount).
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Print every syscall with its arguments and result.
    #[arg(long)]
    pub strace: bool,
    /// At exit, print the unsupported syscalls/flags/ioctls the workload hit.
    #[arg(long = "compat-report")]
    pub compat_report: bool,
    /// Platform to trap syscalls with.
    #[arg(long, default_value = "ptrace", value_parser = ["ptrace"])]
    pub platform: String,
    /// Sandbox hostname.
    #[arg(long, default_value = "rvisor")]
    pub hostname: String,
    /// Network: "none" gives the sandbox its own network namespace with only
    /// loopback; "host" shares the host's network (less isolated: sandboxed
    /// programs can reach and serve on every host interface).
    #[arg(long, default_value = "none", value_parser = ["none", "host"])]
    pub network: String,
    /// Allow raw and packet sockets (they see and forge all traffic of the
    /// sandbox's network namespace).
    #[arg(long = "net-raw")]
    pub net_raw: bool,
    /// Memory limit for the whole sandbox (app, sentry and gofer), e.g. 512M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Limit on processes and threads (the sentry's own threads count too).
    #[arg(long, value_name = "N")]
    pub pids: Option<u64>,
    /// CPU time limit, in CPUs (e.g. 0.5).
    #[arg(long, value_name = "CPUS")]
    pub cpus: Option<f64>,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    cgroups::parse_bytes(s).map_err(|e| e.to_string())
}

fn die(msg: &str) -> i32 {
    eprintln!("rvisor: {msg}");
    1
}

/// How the root file system is served.
struct RootSetup {
    dir: PathBuf,
    /// The gofer refuses writes (and serves a read-only mount).
    gofer_readonly: bool,
    /// Writes go to an in-memory upper layer.
    overlay: bool,
    /// The sandbox's root mount is read-only.
    readonly: bool,
}

fn root_setup(args: &DoArgs) -> Result<RootSetup, String> {
    let dir = match &args.rootfs {
        None => PathBuf::from("/"),
        Some(dir) => {
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(format!("--rootfs {}: not a directory", dir.display())),
                Err(e) => return Err(format!("--rootfs {}: {e}", dir.display())),
            }
            dir.clone()
        }
    };
    let overlay = !args.read_only && (args.rootfs.is_none() || args.overlay);
    Ok(RootSetup { dir, gofer_readonly: overlay || args.read_only, overlay, readonly: args.read_only })
}

pub fn run(args: DoArgs) -> i32 {
    if let Err(e) = confine::memfd_reexec::ensure() {
        return die(&format!("re-executing from a sealed memfd: {e}"));
    }
    confine::set_process_name(c"rvisor");
    let root = match root_setup(&args) {
        Ok(r) => r,
        Err(e) => return die(&e),
    };
    let limits = Limits { memory: args.memory, pids: args.pids, cpus: args.cpus };
    if let Err(e) = limits.validate() {
        return die(&e.to_string());
    }
    // SAFETY: getpid has no preconditions.
    let place = Placement::Nested(format!("rvisor-{}", unsafe { libc::getpid() }));
    // The janitor comes first: no cgroup ever exists without one watching.
    let janitor = match Janitor::spawn(&place) {
        Ok(j) => j,
        Err(e) => return die(&format!("starting the cgroup janitor: {e}")),
    };
    let cgroup = match sandbox_cgroup(&place, &limits) {
        Ok(c) => c,
        Err(e) => {
            janitor.dismiss();
            return die(&e);
        }
    };
    let code = launch(&args, &root, cgroup.as_ref());
    if let Some(cg) = &cgroup {
        report_limits(cg, &limits);
        if let Err(e) = cg.destroy() {
            eprintln!("rvisor: removing the sandbox cgroup: {e}");
        }
    }
    janitor.dismiss();
    code
}

/// Says when the sandbox ran into a limit (the program itself may only
/// have seen a SIGKILL or EAGAIN).
fn report_limits(cg: &Cgroup, limits: &Limits) {
    let Ok(stats) = cg.stats() else { return };
    tracing::debug!(?stats, "sandbox cgroup at exit");
    if let (Some(_), Some(n)) = (limits.memory, stats.oom_kills.filter(|&n| n > 0)) {
        eprintln!("rvisor: the sandbox reached its memory limit: {n} process(es) killed");
    }
    if let (Some(_), Some(n)) = (limits.pids, stats.pids_refused.filter(|&n| n > 0)) {
        eprintln!("rvisor: the sandbox reached its pids limit: {n} fork(s) refused");
    }
}

/// The sandbox's cgroup: always as root (membership makes teardown
/// complete); otherwise only when limits were asked for (and then it must work).
fn sandbox_cgroup(place: &Placement, limits: &Limits) -> Result<Option<Cgroup>, String> {
    match Cgroup::create(place, limits) {
        Ok(cg) => Ok(Some(cg)),
        Err(e) if !limits.is_empty() => Err(format!("resource limits: {e}")),
        Err(e) => {
            tracing::warn!(error = %e, "no cgroup for the sandbox");
            Ok(None)
        }
    }
}

fn launch(args: &DoArgs, root: &RootSetup, cgroup: Option<&Cgroup>) -> i32 {
    let (gofer_sock, sentry_sock) = match rvisor_gofer::transport::socketpair() {
        Ok(p) => p,
        Err(e) => return die(&format!("socketpair: {e}")),
    };
    let me = match confine::own_pidfd() {
        Ok(fd) => fd,
        Err(e) => return die(&format!("pidfd_open: {e}")),
    };
    let gofer_pid = match spawn_gofer(root, gofer_sock, &sentry_sock, cgroup, me.as_fd()) {
        Ok(p) => p,
        Err(e) => return die(&format!("starting the gofer: {e}")),
    };
    let code = match spawn_sentry(args, sentry_sock, root, cgroup, me.as_fd()) {
        Ok(sentry_pid) => wait_sandbox(sentry_pid, gofer_pid),
        Err(msg) => die(&msg),
    };
    // SAFETY: the gofer is our child; kill and reap it (harmless if already reaped).
    unsafe {
        libc::kill(gofer_pid, libc::SIGKILL);
        libc::waitpid(gofer_pid, std::ptr::null_mut(), 0);
    }
    code
}

/// Joins the sandbox's cgroup from a freshly forked child, or exits it.
fn join_cgroup(cgroup: Option<&Cgroup>, who: &str) {
    if let Some(cg) = cgroup {
        if let Err(e) = cg.add_self() {
            eprintln!("rvisor: {who}: joining the sandbox cgroup: {e}");
            // SAFETY: leave the forked child without unwinding.
            unsafe { libc::_exit(1) };
        }
    }
}

fn spawn_gofer(
    root: &RootSetup,
    sock: OwnedFd,
    other: &OwnedFd,
    cgroup: Option<&Cgroup>,
    parent: BorrowedFd<'_>,
) -> std::io::Result<i32> {
    // SAFETY: single-threaded at this point; the child runs the gofer and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        confine::set_process_name(c"rvisor-gofer");
        confine::die_with_parent(parent);
        // SAFETY: the sentry's end is not the gofer's to hold (its EOF ends the gofer).
        unsafe { libc::close(other.as_raw_fd()) };
        join_cgroup(cgroup, "gofer");
        let code = match confine::gofer::enter(&root.dir, root.gofer_readonly) {
            Err(e) => {
                eprintln!("rvisor: confining the gofer: {e}");
                1
            }
            Ok(root_fd) => match rvisor_gofer::serve(sock, root_fd, root.gofer_readonly) {
                Ok(()) => 0,
                Err(e) => {
                    tracing::error!(error = %e, "gofer failed");
                    1
                }
            },
        };
        // SAFETY: leave without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    drop(sock);
    Ok(pid)
}

fn spawn_sentry(
    args: &DoArgs,
    sock: OwnedFd,
    root: &RootSetup,
    cgroup: Option<&Cgroup>,
    parent: BorrowedFd<'_>,
) -> Result<i32, String> {
    // New pid namespace for children: the sentry becomes its pid 1.
    let mut flags = libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if args.network == "none" {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: unshare affects only this (single-threaded) process and its future children.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(format!("unshare: {}", std::io::Error::last_os_error()));
    }
    if args.network == "none" {
        loopback_up().map_err(|e| format!("bringing up loopback: {e}"))?;
    }
    // SAFETY: single-threaded; the child becomes the sentry.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        confine::set_process_name(c"rvisor-sentry");
        confine::die_with_parent(parent);
        join_cgroup(cgroup, "sentry");
        let code = sentry_main(args, sock, root);
        // SAFETY: exit without unwinding into the parent's state.
        unsafe { libc::_exit(code) };
    }
    drop(sock);
    Ok(pid)
}

/// Waits for the sentry; if the gofer dies first, the sandbox cannot go on
/// (its files are gone): the sentry is killed too. Returns the exit code.
fn wait_sandbox(sentry: i32, gofer: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own children.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == sentry {
            break;
        }
        if r == gofer {
            // A gofer that exits 0 saw the sentry hang up: the sentry is ending anyway.
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                continue;
            }
            eprintln!("rvisor: the gofer died ({}); stopping the sandbox", describe(status));
            // SAFETY: kills our own child.
            unsafe { libc::kill(sentry, libc::SIGKILL) };
            continue;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return die("lost the sentry process");
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        if libc::WTERMSIG(status) == libc::SIGSYS {
            eprintln!(
                "rvisor: the sentry was killed by its seccomp filter (the kernel log names the syscall; \
                 RVISOR_SECCOMP=log only logs)"
            );
        }
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

fn describe(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("exit status {}", libc::WEXITSTATUS(status))
    }
}

/// Sets IFF_UP on "lo" in the (new) network namespace: the sandbox's
/// loopback, which is all `--network none` offers.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket call; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned from here on.
    let sock = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: a zeroed ifreq is valid; the name is copied in within bounds.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write one ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn sentry_main(args: &DoArgs, sock: OwnedFd, setup: &RootSetup) -> i32 {
    let client = Arc::new(rvisor_gofer::client::GoferClient::new(sock));
    let lower = match rvisor_sentry::fs::gofer::new_root(client) {
        Ok(r) => r,
        Err(e) => return die(&format!("attaching to the gofer: {e}")),
    };
    let (root, fstype): (Arc<dyn rvisor_sentry::vfs::Inode>, &str) = if setup.overlay {
        (rvisor_sentry::fs::overlay::new_overlay(lower, rvisor_sentry::fs::tmpfs::new_tmpfs(0o755, 0, 0)), "overlay")
    } else {
        (lower, "9p")
    };
    rvisor_sentry::syscalls::socket::allow_raw_sockets(args.net_raw);
    raise_fd_limit();
    let cwd = std::env::current_dir().map(|p| p.as_os_str().as_bytes().to_vec()).unwrap_or_else(|_| b"/".to_vec());
    let envp = std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            e
        })
        .collect();
    let argv: Vec<Vec<u8>> = args.command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let shown = String::from_utf8_lossy(&argv[0]).into_owned();
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // Everything read from the host is read: confine the sentry before boot.
    match confine::sentry::enter(confine::sentry::SentryOptions { net_raw: args.net_raw }) {
        Ok(proc_dir) => {
            confine::sentry::register_after_start(proc_dir.as_raw_fd());
            if rvisor_sentry::confine::set_host_proc(proc_dir).is_err() {
                return die("the sentry's procfs was set twice");
            }
        }
        Err(e) => return die(&format!("confining the sentry: {e}")),
    }
    let cfg = BootConfig {
        root,
        root_readonly: setup.readonly,
        root_fstype: fstype.to_string(),
        argv,
        envp,
        cwd,
        uid,
        gid,
        options: KernelOptions {
            strace: args.strace,
            compat_report: args.compat_report,
            hostname: args.hostname.clone(),
        },
    };
    match boot::run(cfg) {
        Ok(InitExit::Code(c)) => c,
        Ok(InitExit::Signal(s)) => 128 + s,
        Err(BootError::Exec(e)) => {
            eprintln!("rvisor: {shown}: {}", errno_text(e));
            if e == Errno::ENOENT {
                127
            } else {
                126
            }
        }
        Err(BootError::Internal(m)) => die(&m),
    }
}

/// The sentry holds the host fds behind every sandbox file, pipe and socket
/// of every process: let it use all the descriptors it may.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on this process with a valid struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn errno_text(e: Errno) -> String {
    match e {
        Errno::ENOENT => "No such file or directory".into(),
        Errno::EACCES => "Permission denied".into(),
        Errno::ENOEXEC => "Exec format error".into(),
        other => other.description(),
    }
}
