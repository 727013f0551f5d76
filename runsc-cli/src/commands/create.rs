//! `rvisor create`: build a container's sandbox with its init waiting for `start`.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use anyhow::{anyhow, Context};

use crate::cgroups::{self, Cgroup, CgroupError};
use crate::container::{self, ContainerDir, HostProc, State, Status};
use crate::launcher::{self, Plan};
use crate::oci::{mounts, Bundle, Namespaces, Ns};
use crate::{console, hooks, GlobalArgs};

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// The bundle directory (config.json and the rootfs).
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the terminal's master to (process.terminal).
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the container's pid here.
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Accepted for runc compatibility.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted for runc compatibility.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many fds after stdio (3, 4, ...) on to init; systemd
    /// socket-activation fds (LISTEN_FDS) come first, as with runc.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
}

/// Everything to undo if creation fails part-way.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Cgroup,
    sandbox: Option<i32>,
}

impl Undo {
    fn run(mut self) {
        if let Some(pid) = self.sandbox.take() {
            // SAFETY: the sandbox process is our child; kill and reap it
            // (its gofer and sentry die with it: PR_SET_PDEATHSIG).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        self.cgroup.kill_all();
        for e in self.cgroup.destroy() {
            tracing::warn!(error = %e, "cleaning up a failed create");
        }
        if let Some(d) = self.dir.take() {
            let _ = d.remove();
        }
    }
}

/// The namespaces the sandbox gets, after the --network override.
fn namespaces(g: &GlobalArgs, bundle: &Bundle) -> anyhow::Result<Namespaces> {
    let mut ns = bundle.namespaces()?;
    match g.network.as_deref() {
        Some("host") => ns.net = Ns::Host,
        Some("none") => ns.net = Ns::New,
        _ => {}
    }
    Ok(ns)
}

/// A created container: its lock is held until dropped.
pub struct Created {
    pub dir: ContainerDir,
    pub state: State,
}

/// Creates the container; with `foreground`, a terminal without a console
/// socket uses the caller's own stdio (`rvisor run`).
pub fn create(g: &GlobalArgs, a: &CreateArgs, foreground: bool) -> anyhow::Result<Created> {
    // Before this process opens anything that could land in the range.
    let (preserved, activation) = super::preserved_fds(a.preserve_fds, true)?;
    let bundle = Bundle::load(&a.bundle)?;
    let mut process = bundle.process()?;
    if activation > 0 {
        // What runc tells the container: the fds are for its pid 1.
        process.env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        process.env.push(format!("LISTEN_FDS={activation}"));
        process.env.push("LISTEN_PID=1".into());
    }
    let systrap = super::systrap_chosen(g).map_err(|e| anyhow!(e))?;
    let terminal = bundle.terminal();
    if terminal && a.console_socket.is_none() && !foreground {
        anyhow::bail!("process.terminal is set but no --console-socket was given");
    }
    let dir = ContainerDir::create(&g.root, &a.id)?;
    let mut undo = Undo { dir: None, cgroup: Cgroup::default(), sandbox: None };
    let mut st = State {
        id: a.id.clone(),
        status: Status::Creating,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        annotations: bundle.annotations(),
        created: container::rfc3339_now(),
        owner: owner(),
        sandbox: HostProc::default(),
        sentry: HostProc::default(),
        gofer: HostProc::default(),
        cgroups: Vec::new(),
        poststop: Vec::new(),
        poststart: Vec::new(),
        start_container: Vec::new(),
        platform: super::platform_name(systrap).into(),
    };
    if let Err(e) = dir.save(&st) {
        let _ = dir.remove();
        return Err(e.into());
    }
    undo.dir = Some(dir);
    match build(g, a, &bundle, process, preserved, terminal, systrap, &mut st, &mut undo) {
        Ok(()) => {
            let dir = undo.dir.take().context("state directory vanished")?;
            Ok(Created { dir, state: st })
        }
        Err(e) => {
            undo.run();
            Err(e)
        }
    }
}

fn owner() -> String {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    if uid == 0 {
        "root".into()
    } else {
        uid.to_string()
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    g: &GlobalArgs,
    a: &CreateArgs,
    bundle: &Bundle,
    process: rvisor_sentry::control::ProcessSpec,
    preserved: Vec<OwnedFd>,
    terminal: bool,
    systrap: bool,
    st: &mut State,
    undo: &mut Undo,
) -> anyhow::Result<()> {
    let dir = undo.dir.as_ref().context("state directory vanished")?;
    let linux = bundle.spec.linux().as_ref();
    if !g.ignore_cgroups {
        let rel = cgroups::resolve_path(
            linux.and_then(|l| l.cgroups_path().as_ref()).map(|p| p.to_string_lossy()).as_deref(),
            &a.id,
            g.systemd_cgroup,
        )?;
        match Cgroup::create(&rel) {
            Ok(cg) => undo.cgroup = cg,
            Err(CgroupError::NoHierarchy) => tracing::warn!("no cgroup hierarchy mounted; running without cgroups"),
            Err(CgroupError::Io { source, path })
                if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EROFS | libc::EPERM)) =>
            {
                tracing::warn!(path, error = %source, "no access to cgroups; running without them");
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(r) = linux.and_then(|l| l.resources().as_ref()) {
            undo.cgroup.apply(r).context("applying resource limits")?;
        }
        st.cgroups = undo.cgroup.dirs.clone();
    }
    let planned = mounts::plan(bundle)?;
    for m in planned.iter().filter(|m| m.kind.needs_host_mountpoint()) {
        let is_dir = !matches!(m.kind, mounts::Kind::Bind { file: true, .. });
        if let Err(e) = mounts::ensure_mountpoint(&bundle.rootfs, &m.dest, is_dir) {
            tracing::debug!(dest = m.dest, error = %e, "cannot create mount point");
        }
    }
    // The master goes to the engine before any sandbox process exists: none
    // may hold a copy, or the engine closing it would not hang the terminal up.
    let tty = match (terminal, &a.console_socket) {
        (true, Some(sock)) => {
            let p = console::open_pty()?;
            console::send_master(sock, &p.master)?;
            Some(p.slave)
        }
        _ => None,
    };
    let control = rvisor_sentry::control::wire::listen(&dir.control_path()).context("control socket")?;
    let (ready_r, ready_w) = pipe()?;
    let readonly = bundle.readonly_root();
    let plan = Plan {
        rootfs: bundle.rootfs.clone(),
        gofer_readonly: readonly,
        overlay: false,
        root_readonly: readonly,
        mounts: Some(planned),
        process,
        hostname: bundle.hostname(),
        strace: g.strace,
        compat_report: false,
        net_raw: false,
        // exec'd processes are cloned inside the sentry (kernel::zygote):
        // they run on this platform too.
        systrap,
        ns: namespaces(g, bundle)?,
        control: Some(control),
        tty,
        autostart: false,
        ready: Some(ready_w),
        detach_stdio: true,
        cgroup: None,
        joined: None,
        enter_userns: crate::confine::userns::wanted(g.rootless.as_deref()),
    };
    let (pid, go) = launcher::fork_supervisor(plan, dir.exit_path(), &undo.cgroup)?;
    undo.sandbox = Some(pid);
    // The supervisor enters the v1 hierarchies itself once it goes.
    undo.cgroup.add_v2(pid).context("joining the container's cgroup")?;
    go.go();
    let (gofer, sentry) = wait_ready(ready_r)?;
    if !preserved.is_empty() {
        let client = super::connect(dir)?;
        super::keep_files(&client, &preserved)?;
        client.call(&rvisor_sentry::control::Request::InitFiles, &[]).context("passing preserved fds")?;
    }
    st.sandbox = HostProc::of(pid);
    st.gofer = HostProc::of(gofer);
    st.sentry = HostProc::of(sentry);
    let hooks = bundle.spec.hooks().as_ref();
    st.poststart = hooks.map(|h| hooks::from_spec(h.poststart())).unwrap_or_default();
    st.poststop = hooks.map(|h| hooks::from_spec(h.poststop())).unwrap_or_default();
    st.start_container = hooks.map(|h| hooks::from_spec(h.start_container())).unwrap_or_default();
    dir.save(st)?;
    if let Some(h) = hooks {
        let json = st.oci_json();
        #[allow(deprecated)]
        let prestart = hooks::from_spec(h.prestart());
        hooks::run("prestart", &prestart, &json)?;
        hooks::run("createRuntime", &hooks::from_spec(h.create_runtime()), &json)?;
        hooks::run("createContainer", &hooks::from_spec(h.create_container()), &json)?;
    }
    st.status = Status::Created;
    dir.save(st)?;
    if let Some(path) = &a.pid_file {
        super::write_pid_file(path, pid)?;
    }
    Ok(())
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    Ok((r, w))
}

/// Reads the sandbox's start-up report: the pids of the gofer and the
/// sentry, then "ok" or "error <why>" (end of file: it died).
fn wait_ready(r: OwnedFd) -> anyhow::Result<(i32, i32)> {
    // The two lines come from two processes, in either order.
    let mut pids = None;
    let mut ok = false;
    for line in BufReader::new(std::fs::File::from(r)).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("pids ") {
            let mut it = rest.split_whitespace().map(|v| v.parse().unwrap_or(0));
            pids = Some((it.next().unwrap_or(0), it.next().unwrap_or(0)));
        } else if line == "ok" {
            ok = true;
        } else if let Some(msg) = line.strip_prefix("error ") {
            return Err(anyhow!("{msg}"));
        }
        if let (true, Some(p)) = (ok, pids) {
            return Ok(p);
        }
    }
    Err(anyhow!("the sandbox exited while starting"))
}

pub fn run(g: &GlobalArgs, a: CreateArgs) -> anyhow::Result<()> {
    create(g, &a, false).map(|_| ())
}
