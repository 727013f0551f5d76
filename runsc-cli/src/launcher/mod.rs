//! The sandbox's processes, shared by `rvisor do` and the OCI commands.
//!
//! Launch is one linear sequence run by the *supervising process* (the
//! container's pid for OCI, the `rvisor do` process itself otherwise):
//! gofer process (serves the rootfs and bind mounts) -> host namespaces
//! (network, uts, ipc: new or joined) -> new pid namespace -> sentry process
//! (pid 1 there; a private mount namespace; builds the sandbox, reports
//! readiness, runs init) -> wait -> the sentry's report of how init ended.
//!
//! The supervisor exists because a pid namespace's init cannot kill itself
//! with a signal: it re-raises the signal init died of, so whoever waits on
//! the container's pid sees the same status. Both children enter the
//! sandbox's v1 cgroup hierarchies themselves at their start, and the
//! supervisor moves them into a v2 one while they start (`rvisor do`; the
//! sentry forks init only after that); they confine themselves
//! ([`confine_gofer`], [`confine_sentry`]: namespaces, pivot_root,
//! capabilities, no_new_privs, seccomp). If the gofer dies, the sentry is
//! stopped: the sandbox cannot go on without its files.

mod gofer;
mod ns;
mod sentry;
mod signals;

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use rvisor_sentry::control::ProcessSpec;
use rvisor_sentry::kernel::InitExit;

use crate::cgroups::Cgroup;
use crate::confine;
use crate::oci::mounts::{Kind, Planned};
use crate::oci::Namespaces;

/// Everything the sandbox processes need, decided before any of them starts.
pub struct Plan {
    pub rootfs: PathBuf,
    /// The gofer refuses writes to the rootfs.
    pub gofer_readonly: bool,
    /// Writes go to an in-memory upper layer over the rootfs.
    pub overlay: bool,
    /// The sandbox sees its root mounted read-only.
    pub root_readonly: bool,
    /// Mounts over the root (`None`: the default /dev and /proc).
    pub mounts: Option<Vec<Planned>>,
    pub process: ProcessSpec,
    pub hostname: String,
    pub strace: bool,
    pub compat_report: bool,
    pub net_raw: bool,
    /// Run the app under the systrap platform instead of ptrace.
    pub systrap: bool,
    pub ns: Namespaces,
    /// Listening control socket (OCI): the sentry serves start/exec/kill/ps on it.
    pub control: Option<OwnedFd>,
    /// A terminal (pty slave) to use as the sandbox's stdin, stdout and stderr.
    pub tty: Option<OwnedFd>,
    /// Start init as soon as the sandbox is built (`rvisor do`, `run`
    /// without a separate start); otherwise wait for a control `start`.
    pub autostart: bool,
    /// Where the sentry reports readiness ("ok" or "error ...") and the
    /// supervisor the pids of its children ("pids GOFER SENTRY").
    pub ready: Option<OwnedFd>,
    /// Detach stdio from the caller's once the sentry has its copies (OCI).
    pub detach_stdio: bool,
    /// A cgroup the supervisor moves the gofer and the sentry into while
    /// they start (`rvisor do`; an OCI supervisor is in the container's
    /// cgroup already).
    pub cgroup: Option<Cgroup>,
    /// In the sentry: a byte arrives here once it is in `cgroup`, which it
    /// waits for before it forks init (see `supervise`).
    pub joined: Option<OwnedFd>,
    /// Rootless OCI container: the supervisor enters a user namespace of its
    /// own first (`rvisor do` enters it before anything else instead).
    pub enter_userns: bool,
}

/// How the sandbox ended, from the supervisor's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Init ran and ended so.
    Init(InitExit),
    /// The sandbox failed before init ran; the sentry exited with this code
    /// after reporting why.
    Failed(i32),
}

impl Outcome {
    /// A shell-style exit code (128+n for signal n).
    pub fn code(self) -> i32 {
        match self {
            Outcome::Init(InitExit::Code(c)) | Outcome::Failed(c) => c,
            Outcome::Init(InitExit::Signal(s)) => 128 + s,
        }
    }
}

/// The gofer's confinement, in the freshly forked (single-threaded) gofer:
/// private namespaces that see only `roots`, pivot_root, file capabilities
/// only, no_new_privs and its seccomp filter. Returns the roots' fds.
pub fn confine_gofer(_plan: &Plan, roots: &[(PathBuf, bool)]) -> Result<Vec<OwnedFd>, String> {
    confine::set_process_name(c"rvisor-gofer");
    confine::release_free_heap();
    confine::gofer::enter(roots).map_err(|e| e.to_string())
}

/// The sentry's confinement, called in the sentry (pid 1 of its pid
/// namespace) before it builds the sandbox: a private mount namespace with
/// a procfs for its pid namespace (handed to the sentry as its only way to
/// host files), pivot_root into an empty read-only tmpfs, capabilities cut
/// down, no_new_privs. Boot then makes it non-dumpable and installs its
/// seccomp filter once init (and, for OCI exec, the zygote) exists.
pub fn confine_sentry(plan: &Plan) -> Result<(), String> {
    confine::set_process_name(c"rvisor-sentry");
    confine::release_free_heap();
    rvisor_sentry::confine::preload_host_files();
    let proc_dir =
        confine::sentry::enter(confine::sentry::SentryOptions { net_raw: plan.net_raw }).map_err(|e| e.to_string())?;
    confine::sentry::register_after_start(proc_dir.as_raw_fd());
    rvisor_sentry::confine::set_host_proc(proc_dir).map_err(|_| "the sentry's procfs was set twice".to_string())
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut p = [0 as RawFd; 2];
    // SAFETY: p is a valid 2-int array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds are fresh and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) })
}

/// Writes one short line (atomic on a pipe).
pub fn write_line(fd: &OwnedFd, line: &str) {
    let mut s = line.replace('\n', " ");
    s.push('\n');
    // SAFETY: writes from a valid buffer to our own pipe.
    unsafe { libc::write(fd.as_raw_fd(), s.as_ptr().cast(), s.len()) };
}

/// Points fds 0, 1 and 2 at /dev/null.
pub fn stdio_to_null() {
    // SAFETY: open/dup2/close on constant paths and fd numbers.
    unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            for t in 0..3 {
                libc::dup2(fd, t);
            }
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}

/// Moves the calling process, a single-threaded child just forked, into
/// the sandbox cgroup's v1 hierarchies (a thread's own move, which needs no
/// RCU grace period); the supervisor moves it into a v2 hierarchy.
fn enter_cgroup(plan: &Plan) -> Result<(), String> {
    match &plan.cgroup {
        Some(cg) => cg.enter_v1().map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

/// The gofer roots: the rootfs first, then one per bind mount (a file bind
/// mount serves the file's directory).
fn gofer_roots(plan: &Plan) -> Vec<(PathBuf, bool)> {
    let mut roots = vec![(plan.rootfs.clone(), plan.gofer_readonly)];
    for m in plan.mounts.iter().flatten() {
        if let Kind::Bind { source, file } = &m.kind {
            let dir =
                if *file { source.parent().map(PathBuf::from).unwrap_or_else(|| "/".into()) } else { source.clone() };
            roots.push((dir, m.readonly));
        }
    }
    roots
}

/// Runs the sandbox from the supervising process; returns how it ended.
/// Errors are about the supervisor's own steps (fork, namespaces).
pub fn supervise(plan: &mut Plan) -> Result<Outcome, String> {
    let roots = gofer_roots(plan);
    let mut sentry_socks = Vec::new();
    let mut gofer_socks = Vec::new();
    for _ in &roots {
        let (g, s) = rvisor_gofer::transport::socketpair().map_err(|e| format!("socketpair: {e}"))?;
        gofer_socks.push(g);
        sentry_socks.push(s);
    }
    // Children die with the supervisor; its pidfd closes the race where it
    // died before they asked (and works across pid namespaces).
    let me = confine::own_pidfd().map_err(|e| format!("pidfd_open: {e}"))?;
    let gofer_pid =
        gofer::spawn(plan, roots, gofer_socks, me.as_fd()).map_err(|e| format!("starting the gofer: {e}"))?;
    let kill_gofer = || {
        // SAFETY: the gofer is our child; kill and reap it.
        unsafe {
            libc::kill(gofer_pid, libc::SIGKILL);
            libc::waitpid(gofer_pid, std::ptr::null_mut(), 0);
        }
    };
    if let Err(e) = ns::enter(&plan.ns) {
        kill_gofer();
        return Err(e);
    }
    // SAFETY: unshare affects only this (single-threaded) process's future children.
    if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
        kill_gofer();
        return Err(format!("unshare(CLONE_NEWPID): {}", std::io::Error::last_os_error()));
    }
    let (status_r, status_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut joined_w = None;
    if plan.cgroup.is_some() {
        let (r, w) = pipe().map_err(|e| format!("pipe: {e}"))?;
        plan.joined = Some(r);
        joined_w = Some(w);
    }
    // SAFETY: single-threaded; the child becomes the sentry.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        kill_gofer();
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(status_r);
        drop(joined_w);
        confine::die_with_parent(me.as_fd());
        let code = match enter_cgroup(plan) {
            Ok(()) => sentry::main(plan, sentry_socks, status_w),
            Err(e) => {
                eprintln!("rvisor: moving the sentry into the sandbox cgroup: {e}");
                1
            }
        };
        // SAFETY: exit without unwinding into the parent's state.
        unsafe { libc::_exit(code) };
    }
    drop(status_w);
    drop(sentry_socks);
    plan.joined = None;
    signals::forward_to(pid);
    // The gofer and the sentry entered the v1 hierarchies themselves (no
    // grace period, see enter_cgroup). A v2 move waits for an RCU grace
    // period (10-20 ms on these VMs) after a quiet spell: it is made here
    // while they start up; the sentry waits only before it forks init, and
    // children inherit the cgroup from there on.
    if let (Some(cg), Some(w)) = (&plan.cgroup, joined_w) {
        if let Err(e) = cg.add_v2(gofer_pid).and_then(|_| cg.add_v2(pid)) {
            kill_gofer();
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return Err(format!("moving the sandbox into its cgroup: {e}"));
        }
        write_line(&w, "joined");
    }
    if plan.control.is_some() {
        // OCI: engines look at the container pid's /proc (`podman top`).
        if let Err(e) = ns::sandbox_proc(pid) {
            tracing::warn!(error = %e, "the container pid's /proc stays the host's");
        }
    }
    if let Some(r) = &plan.ready {
        write_line(r, &format!("pids {gofer_pid} {pid}"));
    }
    plan.ready = None;
    plan.control = None;
    plan.tty = None;
    if plan.detach_stdio {
        stdio_to_null();
    }
    let mut status = 0;
    let mut gofer_alive = true;
    loop {
        // SAFETY: waiting for our own children (the gofer and the sentry).
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid {
            break;
        }
        if r == gofer_pid {
            gofer_alive = false;
            // A gofer that exits 0 saw the sentry hang up: the sentry is ending anyway.
            if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                // The sandbox cannot go on without its files.
                tracing::error!(status, "the gofer died; stopping the sandbox");
                // SAFETY: kills our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            continue;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            if gofer_alive {
                kill_gofer();
            }
            return Err("lost the sentry process".into());
        }
    }
    if gofer_alive {
        kill_gofer();
    }
    if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS {
        eprintln!(
            "rvisor: the sentry was killed by its seccomp filter (the kernel log names the syscall; \
             RVISOR_SECCOMP=log only logs)"
        );
    }
    let mut report = String::new();
    let _ = std::fs::File::from(status_r).read_to_string(&mut report);
    Ok(parse_report(&report).unwrap_or(if libc::WIFSIGNALED(status) {
        Outcome::Init(InitExit::Signal(libc::WTERMSIG(status)))
    } else if libc::WIFEXITED(status) {
        Outcome::Failed(libc::WEXITSTATUS(status))
    } else {
        Outcome::Failed(1)
    }))
}

fn parse_report(s: &str) -> Option<Outcome> {
    let mut it = s.split_whitespace();
    let kind = it.next()?;
    let n: i32 = it.next()?.parse().ok()?;
    match kind {
        "code" => Some(Outcome::Init(InitExit::Code(n))),
        "signal" => Some(Outcome::Init(InitExit::Signal(n))),
        _ => None,
    }
}

/// Ends the calling process with `outcome`'s status: the same exit code, or
/// death by the same signal (no core file).
pub fn exit_like(outcome: Outcome) -> ! {
    if let Outcome::Init(InitExit::Signal(sig)) = outcome {
        // SAFETY: reset the disposition, unblock and raise the signal in this
        // process; RLIMIT_CORE 0 keeps a core-dumping signal from writing one.
        unsafe {
            let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
        }
    }
    std::process::exit(outcome.code())
}

/// Lets a forked supervisor proceed.
pub struct Go(OwnedFd);

impl Go {
    pub fn go(self) {
        // SAFETY: one byte from a valid buffer to our own pipe.
        unsafe { libc::write(self.0.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }
}

/// Forks the OCI sandbox process: it waits for a byte on the returned pipe
/// (sent once the CLI has set up `cgroup` and moved it into a v2 hierarchy),
/// enters `cgroup`'s v1 hierarchies itself, supervises the sandbox, records the
/// exit code in `exit_file` and exits like the container's init. Returns
/// its pid and the pipe.
pub fn fork_supervisor(mut plan: Plan, exit_file: PathBuf, cgroup: &Cgroup) -> std::io::Result<(i32, Go)> {
    let (go_r, go_w) = pipe()?;
    // SAFETY: the CLI is single-threaded here; the child runs the supervisor.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok((pid, Go(go_w)));
    }
    // Only the CLI may hold the write end, so its death reads as EOF here.
    drop(go_w);
    let mut b = [0u8; 1];
    let mut go = std::fs::File::from(go_r);
    if !matches!(go.read(&mut b), Ok(1)) {
        // SAFETY: the CLI gave up on this sandbox; leave at once.
        unsafe { libc::_exit(1) };
    }
    drop(go);
    // Its own move into the v1 hierarchies needs no grace period (see
    // Cgroup::enter_v1); the CLI made the v2 one before the go.
    let entered = cgroup.enter_v1().map_err(|e| format!("joining the container's cgroup: {e}"));
    let userns = if plan.enter_userns { confine::userns::enter().map_err(|e| e.to_string()) } else { Ok(()) };
    let outcome = match entered.and(userns).and_then(|()| supervise(&mut plan)) {
        Ok(o) => o,
        Err(e) => {
            if let Some(r) = &plan.ready {
                write_line(r, &format!("error {e}"));
            }
            tracing::error!("{e}");
            Outcome::Failed(1)
        }
    };
    drop(plan);
    let _ = std::fs::write(&exit_file, format!("{}\n", outcome.code()));
    exit_like(outcome)
}
