//! The sentry's side of the control socket: a thread accepts connections and
//! a thread per connection answers its requests.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::proto::{ExitInfo, ProcInfo, ProcessSpec, Request, Response};
use super::wire;
use crate::boot::{BootError, Sandbox};
use crate::kernel::signal;
use crate::kernel::task::ExitStatus;
use crate::kernel::ThreadGroup;
use crate::vfs::OpenFile;

/// Requests being answered: the sentry waits for them before it exits, so
/// a request that ended the sandbox (a SIGKILL to init) still gets its answer.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits (at most `limit`) until no request is being answered.
pub fn drain(limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while IN_FLIGHT.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Serves `listener` (a listening SOCK_SEQPACKET socket) for `sandbox` on a
/// background thread, for the sentry's lifetime.
pub fn spawn(listener: OwnedFd, sandbox: Arc<Sandbox>) -> std::io::Result<()> {
    std::thread::Builder::new().name("control".into()).spawn(move || accept_loop(listener, sandbox))?;
    Ok(())
}

fn accept_loop(listener: OwnedFd, sandbox: Arc<Sandbox>) {
    loop {
        // SAFETY: accept4 on our listening socket; the result is owned below.
        let fd = unsafe {
            libc::accept4(listener.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ECONNABORTED | libc::EMFILE | libc::ENFILE)) {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            tracing::error!(error = %e, "control socket: accept failed; no more requests are served");
            return;
        }
        // SAFETY: fd is fresh from accept4 and owned from here on.
        let conn = unsafe { OwnedFd::from_raw_fd(fd) };
        let sb = sandbox.clone();
        let spawned = std::thread::Builder::new().name("control-conn".into()).stack_size(256 << 10).spawn(move || {
            if let Err(e) = serve_conn(&conn, &sb) {
                tracing::debug!(error = %e, "control connection ended");
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "control socket: cannot start a connection thread");
        }
    }
}

/// Most fds one connection may keep for a process (runc has no limit; the
/// sandbox's RLIMIT_NOFILE default is 1024).
const MAX_KEPT: usize = 1000;

/// A host fd received for a sandbox process: regular files keep positional
/// I/O and seeking, anything else (pipes, sockets, ttys) is a stream.
fn received_file(fd: OwnedFd, n: usize) -> Arc<OpenFile> {
    // SAFETY: F_GETFL only reads the received descriptor's flags.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: zeroed stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable struct stat.
    let regular = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG;
    let ops: Arc<dyn crate::vfs::FileOps> = if regular {
        Arc::new(crate::fs::host::HostFile::new(fd))
    } else {
        Arc::new(crate::fs::host::HostStream::owned(fd))
    };
    OpenFile::new_anon(ops, None, fl & (libc::O_ACCMODE | libc::O_APPEND), format!("host:[{n}]"))
}

fn serve_conn(conn: &OwnedFd, sb: &Sandbox) -> std::io::Result<()> {
    let mut kept: Vec<OwnedFd> = Vec::new();
    while let Some((req, fds)) = wire::recv::<Request>(conn.as_fd())? {
        let _busy = InFlight::enter();
        let resp = match req {
            Request::KeepFiles if kept.len() + fds.len() > MAX_KEPT => {
                Response::Error { msg: format!("more than {MAX_KEPT} preserved fds") }
            }
            Request::KeepFiles => {
                kept.extend(fds);
                Response::Ok
            }
            Request::InitFiles => {
                let files = std::mem::take(&mut kept)
                    .into_iter()
                    .enumerate()
                    .map(|(i, fd)| (3 + i as i32, received_file(fd, 3 + i)))
                    .collect();
                match sb.add_init_files(files) {
                    Ok(()) => Response::Ok,
                    Err(e) => Response::Error { msg: e.to_string() },
                }
            }
            Request::Start => match sb.start() {
                Ok(()) => Response::Ok,
                Err(e) => Response::Error { msg: e.to_string() },
            },
            Request::Kill { signal, all } => kill(sb, signal, all),
            Request::Ps => Response::Ps { processes: ps(sb) },
            Request::Signal { pid, signal } => signal_one(sb, pid, signal),
            Request::Exec { process } => return exec(conn, sb, &process, fds, kept),
        };
        wire::send(conn.as_fd(), &resp, &[])?;
    }
    Ok(())
}

fn kill(sb: &Sandbox, sig: i32, all: bool) -> Response {
    if !(0..=64).contains(&sig) {
        return Response::Error { msg: format!("invalid signal {sig}") };
    }
    let kernel = sb.kernel();
    if !sb.started() || kernel.group_by_vpid(1).is_none() {
        // Nothing runs yet: a signal that would end init ends the sandbox.
        if sig != 0
            && !signal::ignored_by_default(sig)
            && !matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
        {
            sb.abort(sig);
        }
        return Response::Ok;
    }
    let targets: Vec<Arc<ThreadGroup>> =
        if all { kernel.all_groups() } else { kernel.group_by_vpid(1).into_iter().collect() };
    for tg in targets {
        if tg.lock().exit.is_some() {
            continue;
        }
        // A pid namespace's init ignores signals it has no handler for,
        // unless they are SIGKILL or SIGSTOP (sent from outside), as on Linux.
        let unkillable = tg.tgid == 1
            && sig != libc::SIGKILL
            && sig != libc::SIGSTOP
            && tg.action(sig.max(1)).handler == signal::SIG_DFL;
        if sig == 0 || unkillable {
            continue;
        }
        signal::send_to_group(kernel, &tg, signal::sender_info(sig, signal::SI_USER, 0, 0), None);
    }
    Response::Ok
}

fn signal_one(sb: &Sandbox, pid: i32, sig: i32) -> Response {
    if !(0..=64).contains(&sig) {
        return Response::Error { msg: format!("invalid signal {sig}") };
    }
    match sb.kernel().group_by_vpid(pid) {
        Some(tg) if tg.lock().exit.is_none() => {
            signal::send_to_group(sb.kernel(), &tg, signal::sender_info(sig, signal::SI_USER, 0, 0), None);
            Response::Ok
        }
        _ => Response::Error { msg: format!("no process {pid}") },
    }
}

fn ps(sb: &Sandbox) -> Vec<ProcInfo> {
    let kernel = sb.kernel();
    kernel
        .all_groups()
        .into_iter()
        .filter(|tg| tg.lock().exit.is_none() && tg.host_pid() > 0)
        .map(|tg| {
            let ppid = tg.parent().map(|p| p.tgid).unwrap_or(0);
            let raw = crate::fs::proc::cmdline_of(&tg);
            let cmd = raw
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(" ");
            let uid = kernel.task_by_vtid(tg.tgid).map(|t| t.creds().euid).unwrap_or(0);
            ProcInfo { pid: tg.tgid, ppid, host_pid: tg.host_pid(), uid, cmd }
        })
        .collect()
}

/// Runs an exec request to its end: answers `Started`, waits for the process,
/// answers `Exited`.
fn exec(conn: &OwnedFd, sb: &Sandbox, p: &ProcessSpec, fds: Vec<OwnedFd>, kept: Vec<OwnedFd>) -> std::io::Result<()> {
    if fds.len() != 3 {
        let msg = format!("exec needs 3 stdio fds, got {}", fds.len());
        return wire::send(conn.as_fd(), &Response::Error { msg }, &[]);
    }
    if p.terminal {
        return exec_terminal(conn, sb, p, fds, kept);
    }
    let mut files = Vec::new();
    for (n, fd) in fds.into_iter().enumerate() {
        // SAFETY: F_GETFL only reads the received descriptor's flags.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        let stream = Arc::new(crate::fs::host::HostStream::owned(fd));
        files.push((
            n as i32,
            OpenFile::new_anon(stream, None, fl & (libc::O_ACCMODE | libc::O_APPEND), format!("host:[{n}]")),
        ));
    }
    add_kept(&mut files, kept);
    let spawned = sb.spawn(&p.to_config(), files);
    run_exec(conn, sb, p, spawned, None)
}

/// The preserved fds as the process's fds 3, 4, ...
fn add_kept(files: &mut Vec<(i32, Arc<OpenFile>)>, kept: Vec<OwnedFd>) {
    for (i, fd) in kept.into_iter().enumerate() {
        files.push((3 + i as i32, received_file(fd, 3 + i)));
    }
}

/// exec --tty: the first stdio fd is the host terminal; the process gets a
/// sandbox pty wired to it (fs::pty::relay) as its stdio and controlling
/// terminal, so the terminal has a name in the sandbox (/dev/pts/N).
fn exec_terminal(
    conn: &OwnedFd,
    sb: &Sandbox,
    p: &ProcessSpec,
    fds: Vec<OwnedFd>,
    kept: Vec<OwnedFd>,
) -> std::io::Result<()> {
    let Some(host) = fds.into_iter().next() else {
        return wire::send(conn.as_fd(), &Response::Error { msg: "exec --tty needs its terminal".into() }, &[]);
    };
    let term = match crate::fs::pty::relay::attach(sb.kernel(), host) {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("the exec terminal: {}", e.description());
            return wire::send(conn.as_fd(), &Response::Error { msg }, &[]);
        }
    };
    let mut files: Vec<(i32, Arc<OpenFile>)> = (0..3).map(|n| (n, term.file())).collect();
    add_kept(&mut files, kept);
    let spawned = sb.spawn_with(&p.to_config(), files, |task| term.control(task));
    run_exec(conn, sb, p, spawned, Some(&term))
}

/// Answers `Started` (or the error), waits for the process, answers `Exited`
/// once its terminal output, if any, has reached the host.
fn run_exec(
    conn: &OwnedFd,
    sb: &Sandbox,
    p: &ProcessSpec,
    spawned: Result<Arc<crate::kernel::Task>, BootError>,
    term: Option<&crate::fs::pty::relay::HostTerminal>,
) -> std::io::Result<()> {
    let task = match spawned {
        Ok(t) => t,
        Err(e) => {
            let msg = match &e {
                BootError::Exec(errno) => exec_error(p.args.first().map(String::as_str).unwrap_or(""), *errno),
                BootError::Internal(m) => m.clone(),
            };
            return wire::send(conn.as_fd(), &Response::Error { msg }, &[]);
        }
    };
    let tg = task.tg.clone();
    drop(task);
    wire::send(conn.as_fd(), &Response::Started { pid: tg.tgid, host_pid: tg.host_pid() }, &[])?;
    let exit = wait_exit(sb, &tg);
    if let Some(t) = term {
        t.flush(TERMINAL_FLUSH);
    }
    wire::send(conn.as_fd(), &Response::Exited { exit }, &[])
}

/// How long an ended exec waits for its terminal output to reach the host
/// (the engine may have stopped reading).
const TERMINAL_FLUSH: Duration = Duration::from_secs(2);

/// An exec failure in runc's words, which engines map to exit codes 127 and 126.
fn exec_error(cmd: &str, e: rvisor_syscalls::Errno) -> String {
    match e {
        rvisor_syscalls::Errno::ENOENT => {
            format!("exec: {cmd:?}: executable file not found in $PATH: no such file or directory")
        }
        rvisor_syscalls::Errno::EACCES => format!("exec: {cmd:?}: permission denied"),
        other => format!("exec: {cmd:?}: {}", other.description()),
    }
}

/// Waits until `tg` has ended (the host process exits first; the sentry
/// records its status a moment later).
fn wait_exit(sb: &Sandbox, tg: &ThreadGroup) -> ExitInfo {
    let host = tg.host_pid();
    // SAFETY: pidfd_open takes a pid and flags; the result is owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, host, 0) } as i32;
    // SAFETY: a non-negative result is a fresh fd.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    loop {
        if let Some(st) = tg.lock().exit {
            return match st {
                ExitStatus::Exited(c) => ExitInfo::Code(c),
                ExitStatus::Signaled(s, _) => ExitInfo::Signal(s),
            };
        }
        if sb.kernel().shutting_down() {
            return ExitInfo::Signal(libc::SIGKILL);
        }
        match &pidfd {
            Some(fd) => {
                let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: polls one valid pollfd.
                let r = unsafe { libc::poll(&mut p, 1, 200) };
                if r > 0 {
                    // Exited on the host: the status is recorded shortly.
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}
