//! Sentry start-up: build the mount tree, the kernel and the init task, run
//! until init exits, and report how it ended.

use std::sync::Arc;

use rvisor_syscalls::Errno;

use crate::fs;
use crate::kernel::run::{self, new_init_task, Start};
use crate::kernel::{Creds, FsContext, InitExit, Kernel, KernelOptions};
use crate::vfs::dentry::MountFlags;
use crate::vfs::path::Resolver;
use crate::vfs::{Dentry, FdTable, Inode, Location, Mount, MountTable, OpenFile};

/// What the sandbox runs and sees.
pub struct BootConfig {
    /// Root file system inode (gofer-backed, possibly wrapped in an overlay).
    pub root: Arc<dyn Inode>,
    pub root_readonly: bool,
    pub root_fstype: String,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// Initial working directory inside the sandbox ("/" if it does not exist there).
    pub cwd: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub options: KernelOptions,
}

/// Why boot failed before the program started.
#[derive(Debug)]
pub enum BootError {
    /// The program could not be executed (ENOENT, EACCES, ENOEXEC...).
    Exec(Errno),
    Internal(String),
}

fn mount_at(mounts: &MountTable, root: &Location, path: &[u8], inode: Arc<dyn Inode>, fstype: &str, flags: MountFlags) {
    let creds = crate::vfs::FsCreds::root();
    let r = Resolver::new(root, mounts, &creds);
    match r.resolve(root, path, true) {
        Ok(at) if at.attr().map(|a| a.is_dir()).unwrap_or(false) => {
            let m =
                Mount::new(Dentry::new_root(inode), Some((at.mount.clone(), at.dentry.clone())), flags, fstype, fstype);
            mounts.add(m);
        }
        _ => tracing::debug!(path = %String::from_utf8_lossy(path), "mount point missing; not mounted"),
    }
}

/// Runs the sandbox to completion; returns init's exit.
pub fn run(cfg: BootConfig) -> Result<InitExit, BootError> {
    // SAFETY: ignoring SIGPIPE so writes to closed pipes return EPIPE to the handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
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

    let shm = fs::tmpfs::new_tmpfs(0o1777, 0, 0);
    let tty: Option<fs::dev::TtyOpener> = Some(Arc::new(|| {
        // The controlling terminal: the host stdin when it is a tty.
        let s = fs::host::HostStream::new(0);
        if s.is_tty() {
            Ok(Arc::new(s) as Arc<dyn crate::vfs::FileOps>)
        } else {
            Err(Errno::ENXIO)
        }
    }));
    mount_at(
        &mounts,
        &root,
        b"/dev",
        fs::dev::new_devfs(tty, shm),
        "devtmpfs",
        MountFlags { nosuid: true, ..Default::default() },
    );
    mount_at(
        &mounts,
        &root,
        b"/proc",
        fs::proc::new_procfs(),
        "proc",
        MountFlags { nosuid: true, nodev: true, noexec: true, ..Default::default() },
    );

    let kernel =
        Kernel::new(cfg.options, mounts, root.clone()).map_err(|e| BootError::Internal(format!("kernel: {e}")))?;
    fs::proc::set_kernel(&kernel);

    let creds = Creds::new(cfg.uid, cfg.gid);
    let cwd = {
        let fs_creds = creds.fs();
        let r = Resolver::new(&root, &kernel.mounts, &fs_creds);
        r.resolve(&root, &cfg.cwd, true)
            .ok()
            .filter(|l| l.attr().map(|a| a.is_dir()).unwrap_or(false))
            .unwrap_or_else(|| root.clone())
    };
    let fsctx = FsContext::new(root.clone(), cwd, 0o022);
    let files = Arc::new(FdTable::new());
    for fd in 0..3 {
        let stream = Arc::new(fs::host::HostStream::new(fd));
        // SAFETY: F_GETFL only reads the inherited descriptor's flags.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl < 0 {
            continue;
        }
        let file = OpenFile::new_anon(stream, None, fl & (libc::O_ACCMODE | libc::O_APPEND), format!("host:[{fd}]"));
        let _ = files.install_at(fd, file, false, 1024);
    }
    let cmd = cfg.argv.first().cloned().unwrap_or_default();
    let path = search_path(&kernel, &root, &fsctx, &creds, &cmd, &cfg.envp);
    let task =
        new_init_task(&kernel, fsctx, files, creds).map_err(|e| BootError::Internal(format!("init task: {e}")))?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    run::spawn(kernel.clone(), task, Start::Initial { path, argv: cfg.argv, envp: cfg.envp }, Some(tx));
    match rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(BootError::Exec(e)),
        Err(_) => return Err(BootError::Internal("init task thread died".into())),
    }
    // Init exists (forked unconfined by the sentry's filter): confine the sentry now.
    crate::confine::run_after_start().map_err(BootError::Internal)?;
    let exit = kernel.wait_init_exit();
    if kernel.options.compat_report {
        print_compat_report(&kernel);
    }
    Ok(exit)
}

fn print_compat_report(kernel: &Kernel) {
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
