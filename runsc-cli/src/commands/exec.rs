//! `rvisor exec`: run a new process in a running container.
//!
//! The process lives in the sandbox; on the host a stand-in process (this
//! one, or with --detach a child whose pid goes to --pid-file) waits for it,
//! forwards signals to it and exits with its status, because engines'
//! shims wait on that pid.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use rvisor_sentry::control::client::{Client, ControlError};
use rvisor_sentry::control::{ExitInfo, ProcessSpec, Request, Response};
use rvisor_sentry::kernel::InitExit;

use crate::container::Status;
use crate::launcher::{self, Outcome};
use crate::oci::{self, Bundle};
use crate::{console, GlobalArgs};

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// An OCI process JSON file describing what to run.
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Return once the process has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the host pid that stands for the process here.
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Give the process a terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Unix socket to send the terminal's master to.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Extra environment variables (NAME=VALUE).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// User as UID[:GID].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Supplementary group ids.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Extra capabilities.
    #[arg(short = 'c', long = "cap")]
    pub caps: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass this many fds after stdio (3, 4, ...) on to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Container id.
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The process to run: --process, or the container's own process with the
/// command line's arguments and overrides.
fn process(a: &ExecArgs, bundle: &std::path::Path) -> anyhow::Result<(ProcessSpec, bool)> {
    if let Some(f) = &a.process {
        let text = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let p: oci_spec::runtime::Process =
            serde_json::from_slice(&text).with_context(|| format!("{}: invalid process JSON", f.display()))?;
        return Ok((oci::process_spec(&p)?, p.terminal().unwrap_or(false) || a.tty));
    }
    anyhow::ensure!(!a.command.is_empty(), "exec needs a command or --process");
    let mut p = Bundle::load(bundle).ok().and_then(|b| b.process().ok()).unwrap_or_default();
    p.args = a.command.clone();
    p.env.extend(a.env.iter().cloned());
    if let Some(c) = &a.cwd {
        p.cwd = c.clone();
    }
    if p.cwd.is_empty() {
        p.cwd = "/".into();
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        p.uid = uid.parse().with_context(|| format!("--user {u}: numeric UID[:GID] expected"))?;
        p.gid = gid.parse().with_context(|| format!("--user {u}: numeric UID[:GID] expected"))?;
    }
    if !a.additional_gids.is_empty() {
        p.groups = a.additional_gids.clone();
    }
    for c in &a.caps {
        let bit = oci::cap_bit(c).ok_or_else(|| anyhow!("unknown capability {c}"))?;
        let caps = p.caps.get_or_insert([0; 4]);
        for set in caps.iter_mut() {
            *set |= 1 << bit;
        }
    }
    p.no_new_privs |= a.no_new_privs;
    Ok((p, a.tty))
}

pub fn run(g: &GlobalArgs, a: ExecArgs) -> anyhow::Result<i32> {
    // Before this process opens anything that could land in the range.
    let (preserved, _) = super::preserved_fds(a.preserve_fds, false)?;
    let (dir, st) = super::open(&g.root, &a.id)?;
    super::require(&st, &[Status::Running, Status::Created], "exec needs a running container")?;
    // The process is cloned inside the container's sentry (kernel::zygote),
    // so it runs on the platform the container was created with.
    if let Some(p) = g.platform.as_deref().filter(|p| !st.platform.is_empty() && *p != st.platform) {
        tracing::warn!(platform = p, container = st.platform, "exec runs on the container's platform");
    }
    let (mut spec, terminal) = process(&a, &st.bundle)?;
    let client = super::connect(&dir)?;
    dir.unlock();
    super::keep_files(&client, &preserved)?;
    drop(preserved);
    let pty = match (terminal, &a.console_socket) {
        (true, Some(_)) => Some(console::open_pty()?),
        (true, None) if a.detach => anyhow::bail!("--tty with --detach needs --console-socket"),
        _ => None,
    };
    // The sentry wires the pty's slave behind a terminal of its own; a
    // terminal without a console socket is the caller's stdio, used as is.
    spec.terminal = pty.is_some();
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
    let stdio: Vec<BorrowedFd<'_>> = match &pty {
        Some(p) => vec![p.slave.as_fd(); 3],
        None => (0..3)
            .map(|fd| {
                // SAFETY: F_GETFD only checks that the fd is open.
                if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
                    // SAFETY: an open stdio fd stays open for this process's life.
                    unsafe { BorrowedFd::borrow_raw(fd) }
                } else {
                    null.as_fd()
                }
            })
            .collect(),
    };
    if !a.detach {
        start(&client, &spec, &stdio)?;
        drop(stdio);
        if let Some(path) = &a.pid_file {
            // SAFETY: getpid has no preconditions.
            super::write_pid_file(path, unsafe { libc::getpid() })?;
        }
        send_console(&a, pty)?;
        launcher::exit_like(wait(&client, &dir_control(g, &a.id)));
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: single-threaded; the child becomes the stand-in.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    if child == 0 {
        drop(r);
        let mut w = std::fs::File::from(w);
        match start(&client, &spec, &stdio) {
            Ok(()) => {
                let _ = writeln!(w, "ok");
            }
            Err(e) => {
                let _ = writeln!(w, "error {}", format!("{e:#}").replace('\n', " "));
                // SAFETY: leave at once; the parent reports the error.
                unsafe { libc::_exit(1) };
            }
        }
        drop(w);
        drop(stdio);
        drop(pty);
        launcher::stdio_to_null();
        launcher::exit_like(wait(&client, &dir_control(g, &a.id)));
    }
    drop(w);
    let line = BufReader::new(std::fs::File::from(r)).lines().next().transpose()?.unwrap_or_default();
    if let Some(msg) = line.strip_prefix("error ") {
        // SAFETY: reap the stand-in, which already exited.
        unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
        anyhow::bail!("{msg}");
    }
    anyhow::ensure!(line == "ok", "the exec'd process did not start");
    if let Some(path) = &a.pid_file {
        super::write_pid_file(path, child)?;
    }
    send_console(&a, pty)?;
    Ok(0)
}

fn dir_control(g: &GlobalArgs, id: &str) -> PathBuf {
    g.root.join(id).join("control.sock")
}

fn send_console(a: &ExecArgs, pty: Option<console::Pty>) -> anyhow::Result<()> {
    if let (Some(p), Some(sock)) = (pty, &a.console_socket) {
        console::send_master(sock, &p.master)?;
    }
    Ok(())
}

/// The pid (inside the sandbox) of the process this stand-in waits for.
static EXEC_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

fn start(client: &Client, spec: &ProcessSpec, stdio: &[BorrowedFd<'_>]) -> anyhow::Result<()> {
    match client.call(&Request::Exec { process: spec.clone() }, stdio)? {
        Response::Started { pid, .. } => {
            EXEC_PID.store(pid, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        other => Err(anyhow!("unexpected answer {other:?}")),
    }
}

/// Waits for the exec'd process to end, forwarding the signals this stand-in
/// receives to it.
fn wait(client: &Client, control: &std::path::Path) -> Outcome {
    let sigfd = forwarded_signals();
    loop {
        let mut fds = vec![libc::pollfd { fd: client.raw_fd(), events: libc::POLLIN, revents: 0 }];
        if let Some(s) = &sigfd {
            fds.push(libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        // SAFETY: polls valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            continue;
        }
        if fds.get(1).is_some_and(|f| f.revents != 0) {
            if let Some(sig) = sigfd.as_ref().and_then(read_signal) {
                let pid = EXEC_PID.load(std::sync::atomic::Ordering::Relaxed);
                if let Ok(c) = Client::connect(control) {
                    let _ = c.call(&Request::Signal { pid, signal: sig }, &[]);
                }
            }
        }
        if fds[0].revents != 0 {
            return match client.next() {
                Ok(Response::Exited { exit: ExitInfo::Code(c) }) => Outcome::Init(InitExit::Code(c)),
                Ok(Response::Exited { exit: ExitInfo::Signal(s) }) => Outcome::Init(InitExit::Signal(s)),
                Ok(_) => continue,
                // The sandbox went away: its processes were killed.
                Err(ControlError::Closed) | Err(_) => Outcome::Init(InitExit::Signal(libc::SIGKILL)),
            };
        }
    }
}

const FORWARDED: [i32; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

/// Blocks the forwarded signals and returns a signalfd for them.
fn forwarded_signals() -> Option<OwnedFd> {
    // SAFETY: building and applying a signal mask; signalfd returns a fresh fd.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        (fd >= 0).then(|| <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd))
    }
}

fn read_signal(fd: &OwnedFd) -> Option<i32> {
    // SAFETY: a zeroed signalfd_siginfo is valid; read fills at most its size.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let want = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: reads into our own struct.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&mut info as *mut libc::signalfd_siginfo).cast(), want) };
    (n as usize == want).then_some(info.ssi_signo as i32)
}
