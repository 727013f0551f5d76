//! Sentry start-up: build the mount tree, the kernel and the init task, run
//! until init exits, and report how it ended.
//!
//! Two ways in: [`run`] does everything at once (`rvisor do`); [`prepare`]
//! stops after the sandbox is built and init's executable is found, so an OCI
//! `create` can report "created" and let a later `start` ([`Sandbox::start`])
//! begin the program.

use std::sync::{Arc, Mutex};

use rvisor_syscalls::abi::Rlimit;
use rvisor_syscalls::Errno;

use crate::fs;
use crate::kernel::creds::Caps;
use crate::kernel::run::{self, new_init_task, Start};
use crate::kernel::zygote::Zygote;
use crate::kernel::{Creds, FsContext, InitExit, Kernel, KernelOptions, Task};
use crate::vfs::dentry::MountFlags;
use crate::vfs::path::Resolver;
use crate::vfs::{Attr, CreateArgs, Dentry, FdTable, FsCreds, Inode, Location, Mount, MountTable, OpenFile};

/// What the sandbox runs and sees.
pub struct BootConfig {
    /// Root file system inode (gofer-backed, possibly wrapped in an overlay).
    pub root: Arc<dyn Inode>,
    pub root_readonly: bool,
    pub root_fstype: String,
    /// File systems mounted over the root, in order. `None`: the default
    /// /dev and /proc.
    pub mounts: Option<Vec<MountEntry>>,
    pub process: ProcessConfig,
    pub options: KernelOptions,
}

/// The identity and environment of a sandboxed process (init or exec'd).
#[derive(Clone, Debug)]
pub struct ProcessConfig {
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// Initial working directory inside the sandbox ("/" if it does not exist there).
    pub cwd: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    pub umask: u32,
    /// Capability sets; `None`: all of them for uid 0, none otherwise.
    pub caps: Option<Caps>,
    pub no_new_privs: bool,
    /// (resource, limit) pairs replacing the defaults.
    pub rlimits: Vec<(u32, Rlimit)>,
}

impl ProcessConfig {
    /// A process running `argv` as `uid`/`gid` with defaults for the rest.
    pub fn new(argv: Vec<Vec<u8>>, uid: u32, gid: u32) -> ProcessConfig {
        ProcessConfig {
            argv,
            envp: Vec::new(),
            cwd: b"/".to_vec(),
            uid,
            gid,
            groups: Vec::new(),
            umask: 0o022,
            caps: None,
            no_new_privs: false,
            rlimits: Vec::new(),
        }
    }

    pub fn creds(&self) -> Creds {
        let mut c = Creds::new(self.uid, self.gid);
        c.groups = self.groups.clone();
        if let Some(caps) = self.caps {
            c.caps = caps;
        }
        c
    }
}

/// One file system to mount in the sandbox.
pub struct MountEntry {
    /// Absolute path inside the sandbox.
    pub dest: Vec<u8>,
    pub source: MountSource,
    pub flags: MountFlags,
}

/// What a [`MountEntry`] mounts.
pub enum MountSource {
    /// An existing inode (a gofer-served bind mount), with its type and
    /// source names for /proc/mounts.
    Inode { inode: Arc<dyn Inode>, fstype: String, source: String },
    /// The sentry's /dev (standard devices and /dev/shm).
    Dev,
    /// A procfs for this sandbox.
    Proc,
    /// An empty in-memory file system with this root mode, uid and gid.
    Tmpfs { mode: u32, uid: u32, gid: u32 },
    /// A sysfs describing the sandbox's CPUs (fs::sys).
    Sysfs,
    /// A read-only cgroup2-looking directory without limits.
    Cgroup,
    /// devpts: ptmx (no pty driver) and the sandbox's terminal as "0".
    Devpts,
    /// The sandbox's POSIX message queues.
    Mqueue,
    /// linux.maskedPaths: hides what is at `dest` (a directory behind an
    /// empty read-only tmpfs, a file behind a null device); nothing if
    /// `dest` does not exist.
    Mask,
    /// linux.readonlyPaths: what is at `dest` again, read-only; nothing if
    /// `dest` does not exist.
    ReadonlyAgain,
    /// linux.devices: a device node or fifo at `dest` (mode includes the
    /// file type); parent directories are created.
    Node { mode: u32, rdev: u64, uid: u32, gid: u32 },
}

/// Why boot failed before the program started.
#[derive(Debug)]
pub enum BootError {
    /// The program could not be executed (ENOENT, EACCES, ENOEXEC...).
    Exec(Errno),
    Internal(String),
}

impl std::fmt::Display for BootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootError::Exec(e) => write!(f, "cannot execute the program: {}", e.description()),
            BootError::Internal(m) => f.write_str(m),
        }
    }
}

/// Mounts `inode` at `path`. The mount point must exist and be a directory,
/// except that a non-directory may be mounted over a non-directory (a file
/// bind mount). A missing directory mount point is created when its parent
/// allows it (e.g. /dev/mqueue in the sentry's /dev).
fn mount_at(
    mounts: &MountTable,
    root: &Location,
    path: &[u8],
    inode: Arc<dyn Inode>,
    fstype: &str,
    source: &str,
    flags: MountFlags,
) -> bool {
    let creds = FsCreds::root();
    let r = Resolver::new(root, mounts, &creds);
    let want_dir = inode.attr().map(|a| a.is_dir()).unwrap_or(true);
    let at = match r.resolve(root, path, true) {
        Ok(at) => Some(at),
        Err(Errno::ENOENT) if want_dir => r.resolve_parent(root, path).ok().and_then(|pn| {
            let args = CreateArgs { mode: libc::S_IFDIR | 0o755, rdev: 0, flags: 0, creds: &creds };
            pn.parent.inode().mkdir(&pn.name, &args).ok()?;
            r.resolve(root, path, true).ok()
        }),
        Err(_) => None,
    };
    match at {
        Some(at) if at.attr().map(|a| a.is_dir() == want_dir).unwrap_or(false) => {
            let m =
                Mount::new(Dentry::new_root(inode), Some((at.mount.clone(), at.dentry.clone())), flags, fstype, source);
            mounts.add(m);
            true
        }
        _ => {
            tracing::warn!(path = %String::from_utf8_lossy(path), "mount point missing or of the wrong type; not mounted");
            false
        }
    }
}

/// What is at `path` now, following symlinks; None if nothing.
fn existing(mounts: &MountTable, root: &Location, path: &[u8]) -> Option<(Location, Attr)> {
    let creds = FsCreds::root();
    let at = Resolver::new(root, mounts, &creds).resolve(root, path, true).ok()?;
    let attr = at.attr().ok()?;
    Some((at, attr))
}

/// Hides `path` as runc does: a directory behind an empty read-only tmpfs,
/// anything else behind a null device (reads end at once, writes vanish).
fn mask_path(mounts: &MountTable, root: &Location, path: &[u8]) {
    let Some((_, attr)) = existing(mounts, root, path) else { return };
    if attr.is_dir() {
        let flags = MountFlags { readonly: true, ..Default::default() };
        mount_at(mounts, root, path, fs::tmpfs::new_tmpfs(0o555, 0, 0), "tmpfs", "tmpfs", flags);
        return;
    }
    let holder = fs::tmpfs::new_tmpfs(0o755, 0, 0);
    let creds = FsCreds::root();
    let args = CreateArgs { mode: libc::S_IFCHR | 0o666, rdev: fs::dev::DevKind::Null.rdev(), flags: 0, creds: &creds };
    match holder.mknod(b"null", &args) {
        Ok(null) => {
            mount_at(mounts, root, path, null, "devtmpfs", "udev", MountFlags::default());
        }
        Err(e) => tracing::warn!(error = %e.description(), "cannot make the null node of a mask"),
    }
}

/// Mounts what is at `path` over itself, read-only (linux.readonlyPaths).
/// Mounts below `path` stay visible, mounted again on the new mount, as
/// runc's recursive remount keeps them.
fn readonly_again(mounts: &MountTable, root: &Location, path: &[u8]) {
    let Some((at, _)) = existing(mounts, root, path) else { return };
    let below = mounts.all();
    let flags = MountFlags { readonly: true, ..at.mount.flags };
    let new = Mount::new(
        Dentry::new_root(at.inode().clone()),
        Some((at.mount.clone(), at.dentry.clone())),
        flags,
        &at.mount.fstype,
        &at.mount.source,
    );
    mounts.add(new.clone());
    // (old mount, its copy): mounts on an old one go on its copy.
    let mut moved: Vec<(Arc<Mount>, Arc<Mount>)> = Vec::new();
    for m in below {
        let Some((pm, pd)) = &m.mountpoint else { continue };
        let target = if Arc::ptr_eq(pm, &at.mount) && at.dentry.is_ancestor_of(pd) {
            match same_path_under(&at.dentry, pd, &new.root) {
                Some(d) => (new.clone(), d),
                None => continue,
            }
        } else if let Some((_, copy)) = moved.iter().find(|(old, _)| Arc::ptr_eq(old, pm)) {
            // The copy shares the old mount's root dentry, so the same dentry.
            (copy.clone(), pd.clone())
        } else {
            continue;
        };
        let copy = Mount::new(m.root.clone(), Some(target), m.flags, &m.fstype, &m.source);
        mounts.add(copy.clone());
        moved.push((m, copy));
    }
}

/// The dentry under `new_top` at the place `d` has under `top` (same file
/// system, another root dentry).
fn same_path_under(top: &Arc<Dentry>, d: &Arc<Dentry>, new_top: &Arc<Dentry>) -> Option<Arc<Dentry>> {
    let mut names = Vec::new();
    let mut cur = d.clone();
    while !Arc::ptr_eq(&cur, top) {
        names.push(cur.name());
        cur = cur.parent()?;
    }
    let mut out = new_top.clone();
    for name in names.iter().rev() {
        out = out.lookup_child(name).ok()?;
    }
    Some(out)
}

/// Creates device node (or fifo) `path` with its parent directories, as the
/// sandbox's root would (linux.devices). A node already there with the same
/// type and number is kept (the sentry's /dev has the standard ones).
fn make_node(
    mounts: &MountTable,
    root: &Location,
    path: &[u8],
    mode: u32,
    rdev: u64,
    uid: u32,
    gid: u32,
) -> Result<(), Errno> {
    if let Some((_, a)) = existing(mounts, root, path) {
        let same =
            a.mode & libc::S_IFMT == mode & libc::S_IFMT && (a.rdev == rdev || mode & libc::S_IFMT == libc::S_IFIFO);
        return if same { Ok(()) } else { Err(Errno::EEXIST) };
    }
    let creds = FsCreds::root();
    let r = Resolver::new(root, mounts, &creds);
    // Parent directories first, like `mkdir -p`.
    let mut upto = Vec::new();
    let comps: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        upto.push(b'/');
        upto.extend_from_slice(c);
        if r.resolve(root, &upto, true).is_err() {
            let pn = r.resolve_parent(root, &upto)?;
            let args = CreateArgs { mode: libc::S_IFDIR | 0o755, rdev: 0, flags: 0, creds: &creds };
            pn.parent.inode().mkdir(&pn.name, &args)?;
        }
    }
    let pn = r.resolve_parent(root, path)?;
    let args = CreateArgs { mode, rdev, flags: 0, creds: &creds };
    let node = pn.parent.inode().mknod(&pn.name, &args)?;
    node.setattr(&crate::vfs::SetAttr { uid: Some(uid), gid: Some(gid), ..Default::default() })
}

/// /dev/ptmx -> pts/ptmx beside a devpts mounted at /dev/pts, as runc makes it.
fn link_ptmx(mounts: &MountTable, root: &Location, pts: &[u8]) {
    if pts != b"/dev/pts" || existing(mounts, root, b"/dev/ptmx").is_some() {
        return;
    }
    let creds = FsCreds::root();
    if let Ok(pn) = Resolver::new(root, mounts, &creds).resolve_parent(root, b"/dev/ptmx") {
        let _ = pn.parent.inode().symlink(&pn.name, b"pts/ptmx", &creds);
    }
}

fn default_mounts() -> Vec<MountEntry> {
    vec![
        MountEntry {
            dest: b"/dev".to_vec(),
            source: MountSource::Dev,
            flags: MountFlags { nosuid: true, ..Default::default() },
        },
        MountEntry {
            dest: b"/proc".to_vec(),
            source: MountSource::Proc,
            flags: MountFlags { nosuid: true, nodev: true, noexec: true, ..Default::default() },
        },
    ]
}

/// A built sandbox whose init has not started yet, or is running.
pub struct Sandbox {
    kernel: Arc<Kernel>,
    pending: Mutex<Option<PendingInit>>,
    /// Whether processes will be started from outside ([`Sandbox::spawn`]).
    serves_exec: std::sync::atomic::AtomicBool,
    /// Where those processes are cloned from, made at [`Sandbox::start`].
    zygote: std::sync::OnceLock<Zygote>,
}

struct PendingInit {
    task: Arc<Task>,
    path: Vec<u8>,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
}

/// Runs the sandbox to completion; returns init's exit.
pub fn run(cfg: BootConfig) -> Result<InitExit, BootError> {
    let sb = prepare(cfg)?;
    sb.start()?;
    let exit = sb.wait();
    if sb.kernel.options.compat_report {
        print_compat_report(&sb.kernel);
    }
    Ok(exit)
}

/// Builds the kernel, the mount tree and init's task, and checks that init's
/// program exists and is executable; the program does not run yet.
pub fn prepare(cfg: BootConfig) -> Result<Sandbox, BootError> {
    // SAFETY: ignoring SIGPIPE so writes to closed pipes return EPIPE to the handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    crate::kernel::forward::block_forwarded();
    let mounts = MountTable::new();
    let root_mount = Mount::new(
        Dentry::new_root(cfg.root.clone()),
        None,
        MountFlags { readonly: cfg.root_readonly, ..Default::default() },
        &cfg.root_fstype,
        "rootfs",
    );
    mounts.add(root_mount.clone());
    let root = Location::new(root_mount.clone(), root_mount.root.clone());

    // Masks, read-only remounts and device nodes apply once every mount is
    // in place and /proc can list (it needs the kernel).
    let mut later = Vec::new();
    for m in cfg.mounts.unwrap_or_else(default_mounts) {
        let (inode, fstype, source): (Arc<dyn Inode>, String, String) = match m.source {
            MountSource::Inode { inode, fstype, source } => (inode, fstype, source),
            MountSource::Dev => (new_dev(), "tmpfs".into(), "tmpfs".into()),
            MountSource::Proc => (fs::proc::new_procfs(), "proc".into(), "proc".into()),
            MountSource::Tmpfs { mode, uid, gid } => {
                (fs::tmpfs::new_tmpfs(mode, uid, gid), "tmpfs".into(), "tmpfs".into())
            }
            MountSource::Sysfs => (fs::sys::new_sysfs(crate::kernel::sandbox_cpus()), "sysfs".into(), "sysfs".into()),
            MountSource::Cgroup => (fs::sys::new_cgroupfs(), "cgroup2".into(), "cgroup".into()),
            MountSource::Devpts => {
                let pts = fs::sys::new_devpts(console_opener());
                if mount_at(&mounts, &root, &m.dest, pts, "devpts", "devpts", m.flags) {
                    link_ptmx(&mounts, &root, &m.dest);
                }
                continue;
            }
            MountSource::Mqueue => (fs::sys::new_mqueuefs(), "mqueue".into(), "mqueue".into()),
            MountSource::Mask | MountSource::ReadonlyAgain | MountSource::Node { .. } => {
                later.push(m);
                continue;
            }
        };
        mount_at(&mounts, &root, &m.dest, inode, &fstype, &source, m.flags);
    }

    let kernel =
        Kernel::new(cfg.options, mounts, root.clone()).map_err(|e| BootError::Internal(format!("kernel: {e}")))?;
    fs::proc::set_kernel(&kernel);
    for m in later {
        match m.source {
            MountSource::Mask => mask_path(&kernel.mounts, &root, &m.dest),
            MountSource::ReadonlyAgain => readonly_again(&kernel.mounts, &root, &m.dest),
            MountSource::Node { mode, rdev, uid, gid } => {
                make_node(&kernel.mounts, &root, &m.dest, mode, rdev, uid, gid).map_err(|e| {
                    BootError::Internal(format!("device {}: {}", String::from_utf8_lossy(&m.dest), e.description()))
                })?
            }
            _ => {}
        }
    }
    crate::kernel::forward::spawn(kernel.clone());
    let pending = new_process(&kernel, &cfg.process, host_stdio())?;
    Ok(Sandbox {
        kernel,
        pending: Mutex::new(Some(pending)),
        serves_exec: Default::default(),
        zygote: Default::default(),
    })
}

/// Opens the sandbox's terminal: the sentry's stdin when that is one.
fn open_terminal() -> crate::vfs::VfsResult<Arc<dyn crate::vfs::FileOps>> {
    let s = fs::host::HostStream::new(0);
    if s.is_tty() {
        Ok(Arc::new(s) as Arc<dyn crate::vfs::FileOps>)
    } else {
        Err(Errno::ENXIO)
    }
}

/// The sentry's /dev: the standard devices, /dev/tty as the host stdin when
/// that is a terminal, and an in-memory /dev/shm.
fn new_dev() -> Arc<dyn Inode> {
    let shm = fs::tmpfs::new_tmpfs(0o1777, 0, 0);
    fs::dev::new_devfs(Some(Arc::new(open_terminal)), shm)
}

/// /dev/pts/0 when the sandbox has a terminal (decided at boot, as the
/// terminal is the sentry's stdin for the sandbox's whole life).
fn console_opener() -> Option<fs::sys::ConsoleOpener> {
    fs::host::HostStream::new(0).is_tty().then(|| Arc::new(open_terminal) as fs::sys::ConsoleOpener)
}

/// The sentry's own stdin, stdout and stderr as sandbox files.
fn host_stdio() -> Vec<(i32, Arc<OpenFile>)> {
    let mut v = Vec::new();
    for fd in 0..3 {
        // SAFETY: F_GETFL only reads the inherited descriptor's flags.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl < 0 {
            continue;
        }
        let stream = Arc::new(fs::host::HostStream::new(fd));
        v.push((fd, OpenFile::new_anon(stream, None, fl & (libc::O_ACCMODE | libc::O_APPEND), format!("host:[{fd}]"))));
    }
    v
}

/// Creates the task for a new session-leader process (no parent inside the
/// sandbox) with `files` as its descriptors, and finds its program.
fn new_process(
    kernel: &Arc<Kernel>,
    p: &ProcessConfig,
    files: Vec<(i32, Arc<OpenFile>)>,
) -> Result<PendingInit, BootError> {
    let root = kernel.root.clone();
    let creds = p.creds();
    let cwd = {
        let fs_creds = creds.fs();
        let r = Resolver::new(&root, &kernel.mounts, &fs_creds);
        r.resolve(&root, &p.cwd, true)
            .ok()
            .filter(|l| l.attr().map(|a| a.is_dir()).unwrap_or(false))
            .unwrap_or_else(|| root.clone())
    };
    let fsctx = FsContext::new(root.clone(), cwd, p.umask & 0o777);
    let table = Arc::new(FdTable::new());
    for (fd, file) in files {
        let _ = table.install_at(fd, file, false, 1024);
    }
    let cmd = p.argv.first().cloned().unwrap_or_default();
    let path = search_path(kernel, &root, &fsctx, &creds, &cmd, &p.envp);
    check_executable(kernel, &root, &fsctx, &creds, &path)?;
    let task = new_init_task(kernel, fsctx, table, creds).map_err(|e| BootError::Internal(format!("task: {e}")))?;
    {
        let mut st = task.tg.lock();
        for (res, lim) in &p.rlimits {
            if let Some(slot) = st.rlimits.get_mut(*res as usize) {
                *slot = *lim;
            }
        }
        st.no_new_privs = p.no_new_privs;
    }
    Ok(PendingInit { task, path, argv: p.argv.clone(), envp: p.envp.clone() })
}

/// Fails early, as execve would, when `path` is missing, not a regular file
/// or not executable for `creds`.
fn check_executable(
    kernel: &Kernel,
    root: &Location,
    fs: &FsContext,
    creds: &Creds,
    path: &[u8],
) -> Result<(), BootError> {
    if path.is_empty() {
        return Err(BootError::Exec(Errno::ENOENT));
    }
    let fs_creds = creds.fs();
    let r = Resolver::new(root, &kernel.mounts, &fs_creds);
    let loc = r.resolve(&fs.get().cwd, path, true).map_err(BootError::Exec)?;
    let a = loc.attr().map_err(BootError::Exec)?;
    if !a.is_regular() || !crate::vfs::perm::may_access(&a, &fs_creds, crate::vfs::perm::MAY_EXEC) {
        return Err(BootError::Exec(Errno::EACCES));
    }
    Ok(())
}

/// Starts a prepared process's task thread and waits until its program is
/// loaded (or failed to load). `parked`: cloned from the zygote, else forked.
fn launch(kernel: &Arc<Kernel>, p: PendingInit, parked: bool) -> Result<Arc<Task>, BootError> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let task = p.task.clone();
    let (path, argv, envp) = (p.path, p.argv, p.envp);
    let start = if parked { Start::Parked { path, argv, envp } } else { Start::Initial { path, argv, envp } };
    run::spawn(kernel.clone(), p.task, start, Some(tx));
    match rx.recv() {
        Ok(Ok(())) => Ok(task),
        Ok(Err(e)) => Err(BootError::Exec(e)),
        Err(_) => Err(BootError::Internal("task thread died".into())),
    }
}

impl Sandbox {
    pub fn kernel(&self) -> &Arc<Kernel> {
        &self.kernel
    }

    /// Whether init has been started (or the sandbox ended before it was).
    pub fn started(&self) -> bool {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    /// Starts init. Fails if it was already started or cannot be executed
    /// (the sandbox then ends with status 127 or 126, as a shell reports it).
    pub fn start(&self) -> Result<(), BootError> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(p) = p else { return Err(BootError::Internal("the sandbox was already started".into())) };
        match launch(&self.kernel, p, false) {
            Ok(_) => {
                if self.serves_exec.load(std::sync::atomic::Ordering::SeqCst) {
                    // Forked now, while the sentry may still fork.
                    match Zygote::start(&self.kernel) {
                        Ok(z) => drop(self.zygote.set(z)),
                        Err(e) => tracing::error!(error = ?e, "cannot start the zygote; exec will fail"),
                    }
                }
                // Init exists (forked before the sentry's filter): confine the sentry now.
                crate::confine::run_after_start().map_err(BootError::Internal)
            }
            Err(e) => {
                let code = if matches!(e, BootError::Exec(Errno::ENOENT)) { 127 } else { 126 };
                self.kernel.set_init_exit(InitExit::Code(code));
                Err(e)
            }
        }
    }

    /// Ends a sandbox whose init never started, as if init had been killed by `sig`.
    /// Returns false if init is already running (signal it instead).
    pub fn abort(&self, sig: i32) -> bool {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner()).take();
        if p.is_none() {
            return false;
        }
        self.kernel.set_init_exit(InitExit::Signal(sig));
        true
    }

    /// Starts another process in the running sandbox, with `files` (fd
    /// number, file) as its descriptors; returns its task once its program is loaded.
    pub fn spawn(&self, p: &ProcessConfig, files: Vec<(i32, Arc<OpenFile>)>) -> Result<Arc<Task>, BootError> {
        self.spawn_with(p, files, |_| {})
    }

    /// [`Sandbox::spawn`], with `before` run on the new task before its
    /// program runs (to give it a controlling terminal).
    pub fn spawn_with(
        &self,
        p: &ProcessConfig,
        files: Vec<(i32, Arc<OpenFile>)>,
        before: impl FnOnce(&Arc<Task>),
    ) -> Result<Arc<Task>, BootError> {
        if self.kernel.shutting_down() {
            return Err(BootError::Internal("the sandbox is shutting down".into()));
        }
        let zygote = self
            .zygote
            .get()
            .ok_or_else(|| BootError::Internal("this sandbox does not start processes from outside".into()))?;
        let pending = new_process(&self.kernel, p, files)?;
        before(&pending.task);
        match zygote.clone_process() {
            Ok(pid) => {
                pending.task.host_tid.store(pid, std::sync::atomic::Ordering::Relaxed);
                pending.task.tg.host_pid.store(pid, std::sync::atomic::Ordering::Relaxed);
                launch(&self.kernel, pending, true)
            }
            Err(e) => {
                run::abandon(&self.kernel, &pending.task);
                Err(BootError::Internal(format!("cannot create the process: {}", e.description())))
            }
        }
    }

    /// Arranges for [`Sandbox::spawn`] to work once started (OCI exec);
    /// call before [`Sandbox::start`].
    pub fn serve_exec(&self) {
        self.serves_exec.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Installs `files` in init's descriptor table (runc's --preserve-fds);
    /// only before init starts.
    pub fn add_init_files(&self, files: Vec<(i32, Arc<OpenFile>)>) -> Result<(), BootError> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some(p) = pending.as_ref() else {
            return Err(BootError::Internal("init has started already".into()));
        };
        let table = p.task.files();
        for (fd, file) in files {
            table
                .install_at(fd, file, false, 1024)
                .map_err(|e| BootError::Internal(format!("fd {fd}: {}", e.description())))?;
        }
        Ok(())
    }

    /// Init's task while it has not started (to give it a terminal).
    pub fn init_task(&self) -> Option<Arc<Task>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|p| p.task.clone())
    }

    /// Blocks until init exits.
    pub fn wait(&self) -> InitExit {
        self.kernel.wait_init_exit()
    }
}

pub fn print_compat_report(kernel: &Kernel) {
    let map = kernel.unsupported.lock().unwrap_or_else(|e| e.into_inner());
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "rvisor: compatibility report: {} unsupported syscall(s)/feature(s) hit", map.len());
    if !map.is_empty() {
        let _ = writeln!(err, "{:<40} {:>10}", "syscall/feature", "count");
        for (k, v) in map.iter() {
            let _ = writeln!(err, "{k:<40} {v:>10}");
        }
    }
}

/// Finds a command without a '/' in the sandbox's PATH, as execvp would.
/// Returns the command unchanged if it has a '/' or is found nowhere (the
/// exec then reports ENOENT).
fn search_path(
    kernel: &Kernel,
    root: &Location,
    fs: &FsContext,
    creds: &Creds,
    cmd: &[u8],
    envp: &[Vec<u8>],
) -> Vec<u8> {
    if cmd.is_empty() || cmd.contains(&b'/') {
        return cmd.to_vec();
    }
    let path = envp
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let fs_creds = creds.fs();
    let cwd = fs.get().cwd;
    let r = Resolver::new(root, &kernel.mounts, &fs_creds);
    for dir in path.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut cand = dir.to_vec();
        cand.push(b'/');
        cand.extend_from_slice(cmd);
        if let Ok(loc) = r.resolve(&cwd, &cand, true) {
            if let Ok(a) = loc.attr() {
                if a.is_regular() && crate::vfs::perm::may_access(&a, &fs_creds, crate::vfs::perm::MAY_EXEC) {
                    return cand;
                }
            }
        }
    }
    cmd.to_vec()
}
