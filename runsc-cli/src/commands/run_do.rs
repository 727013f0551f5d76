//! `rvisor do -- CMD ARGS...`: run one command in a throwaway sandbox.
//!
//! Launch sequence: validate -> gofer process (serves the root) -> sentry
//! process in new pid/ipc/uts/mount (and, by default, network) namespaces
//! (pid 1 there, so its death takes every app process with it) -> wait and
//! propagate the exit status.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use rvisor_sentry::boot::{self, BootConfig, BootError};
use rvisor_sentry::kernel::{InitExit, KernelOptions};
use rvisor_syscalls::Errno;

#[derive(clap::Args, Debug)]
pub struct DoArgs {
    /// Root file system directory (default: the host root, read-only, with an in-memory upper layer).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// With --rootfs: keep DIR untouched; writes go to an in-memory upper layer.
    #[arg(long)]
    pub overlay: bool,
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
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

fn die(msg: &str) -> i32 {
    eprintln!("rvisor: {msg}");
    1
}

pub fn run(args: DoArgs) -> i32 {
    let (root, readonly_host, overlay) = match &args.rootfs {
        None => (PathBuf::from("/"), true, true),
        Some(dir) => {
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return die(&format!("--rootfs {}: not a directory", dir.display())),
                Err(e) => return die(&format!("--rootfs {}: {e}", dir.display())),
            }
            (dir.clone(), args.overlay, args.overlay)
        }
    };
    let (gofer_sock, sentry_sock) = match rvisor_gofer::transport::socketpair() {
        Ok(p) => p,
        Err(e) => return die(&format!("socketpair: {e}")),
    };
    let gofer_pid = match spawn_gofer(&root, readonly_host, gofer_sock) {
        Ok(p) => p,
        Err(e) => return die(&format!("starting the gofer: {e}")),
    };
    let code = spawn_sentry_and_wait(&args, sentry_sock, overlay, readonly_host && !overlay);
    // SAFETY: the gofer is our child; kill and reap it.
    unsafe {
        libc::kill(gofer_pid, libc::SIGKILL);
        libc::waitpid(gofer_pid, std::ptr::null_mut(), 0);
    }
    code
}

fn spawn_gofer(root: &std::path::Path, readonly: bool, sock: OwnedFd) -> std::io::Result<i32> {
    // SAFETY: single-threaded at this point; the child runs the gofer and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: dies with the launcher.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        // The launcher ends the gofer itself; terminal and kill signals meant for
        // the sandbox must not take its file server down first.
        for &sig in FORWARDED {
            // SAFETY: setting a disposition in this single-threaded child.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
        let fd = sock.into_raw_fd();
        let code = match rvisor_gofer::run_gofer_main(root, readonly, fd) {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(error = %e, "gofer failed");
                1
            }
        };
        // SAFETY: leave without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    drop(sock);
    Ok(pid)
}

fn spawn_sentry_and_wait(args: &DoArgs, sock: OwnedFd, overlay: bool, root_readonly: bool) -> i32 {
    // New pid namespace for children: the sentry becomes its pid 1.
    let mut flags = libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if args.network == "none" {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: unshare affects only this (single-threaded) process and its future children.
    if unsafe { libc::unshare(flags) } != 0 {
        return die(&format!("unshare: {}", std::io::Error::last_os_error()));
    }
    if args.network == "none" {
        if let Err(e) = loopback_up() {
            return die(&format!("bringing up loopback: {e}"));
        }
    }
    // SAFETY: single-threaded; the child becomes the sentry.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return die(&format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: dies with the launcher.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        let code = sentry_main(args, sock, overlay, root_readonly);
        // SAFETY: exit without unwinding into the parent's state.
        unsafe { libc::_exit(code) };
    }
    drop(sock);
    forward_signals_to(pid);
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return die("lost the sentry process");
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// Signals a `kill` of the launcher passes to the sandbox (the sentry forwards
/// them to the sandbox's init; terminal-generated ones reach the sentry directly).
const FORWARDED: &[i32] = &[libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2];

static SENTRY_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    // A terminal signals the whole foreground group, the sentry included.
    if code != libc::SI_KERNEL {
        let pid = SENTRY_PID.load(std::sync::atomic::Ordering::Relaxed);
        // SAFETY: kill is async-signal-safe; pid is our own child.
        unsafe { libc::kill(pid, sig) };
    }
}

/// While the launcher waits, it passes signals sent to it on to the sentry
/// instead of dying and taking the sandbox with it.
fn forward_signals_to(sentry: i32) {
    SENTRY_PID.store(sentry, std::sync::atomic::Ordering::Relaxed);
    for &sig in FORWARDED {
        // SAFETY: installs an async-signal-safe handler; sa is fully initialised.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
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

/// A private mount namespace with a /proc for this pid namespace, so the
/// sentry can read its tracees' host memory maps.
fn private_proc() -> Result<(), String> {
    // SAFETY: namespace and mount syscalls with constant, valid arguments.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(format!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error()));
        }
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!("making / private: {}", std::io::Error::last_os_error()));
        }
        if libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!("mounting /proc: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn sentry_main(args: &DoArgs, sock: OwnedFd, overlay: bool, root_readonly: bool) -> i32 {
    if let Err(e) = private_proc() {
        return die(&e);
    }
    let _ = sock.as_raw_fd();
    let client = Arc::new(rvisor_gofer::client::GoferClient::new(sock));
    let lower = match rvisor_sentry::fs::gofer::new_root(client) {
        Ok(r) => r,
        Err(e) => return die(&format!("attaching to the gofer: {e}")),
    };
    let (root, fstype): (Arc<dyn rvisor_sentry::vfs::Inode>, &str) = if overlay {
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
    let cfg = BootConfig {
        root,
        root_readonly,
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
