//! The sentry process: attaches to the gofer, builds the sandbox's mounts,
//! boots the kernel, serves the control socket, runs init and reports how
//! it ended to the supervisor.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use rvisor_sentry::boot::{self, BootConfig, BootError, MountEntry, MountSource};
use rvisor_sentry::fs::pty::relay::{self, HostTerminal};
use rvisor_sentry::kernel::{InitExit, KernelOptions};
use rvisor_sentry::vfs::dentry::MountFlags;
use rvisor_sentry::vfs::Inode;
use rvisor_syscalls::Errno;

use super::{write_line, Plan};
use crate::oci::mounts::Kind;

/// Says why the sandbox could not be built: on the ready pipe (OCI, where
/// the CLI prints it) or on stderr (`rvisor do`).
fn report_error(plan: &Plan, msg: &str) {
    match &plan.ready {
        Some(r) => write_line(r, &format!("error {msg}")),
        None => eprintln!("rvisor: {msg}"),
    }
}

/// Descriptors the sentry's fd table is sized for at start.
const SENTRY_FDS: usize = 4096;

fn gofer_root(sock: OwnedFd, readonly: bool) -> Result<Arc<dyn Inode>, String> {
    let client = Arc::new(rvisor_gofer::client::GoferClient::new(sock));
    rvisor_sentry::fs::gofer::new_root(client, readonly).map_err(|e| format!("attaching to the gofer: {e}"))
}

fn flags(m: &crate::oci::mounts::Planned) -> MountFlags {
    MountFlags { readonly: m.readonly, nosuid: m.nosuid, nodev: m.nodev, noexec: m.noexec }
}

/// The sandbox's mounts from the plan; `socks` are the gofer sockets of the
/// bind mounts, in order.
fn mounts(plan: &Plan, socks: &mut impl Iterator<Item = OwnedFd>) -> Result<Option<Vec<MountEntry>>, String> {
    let Some(list) = &plan.mounts else { return Ok(None) };
    let mut out = Vec::new();
    for m in list {
        let source = match &m.kind {
            Kind::Bind { source, file } => {
                let sock = socks.next().ok_or("gofer socket missing")?;
                let mut inode = gofer_root(sock, m.readonly)?;
                if *file {
                    let name = source.file_name().ok_or("bind mount source has no name")?;
                    use std::os::unix::ffi::OsStrExt;
                    inode = inode
                        .lookup(name.as_bytes())
                        .map_err(|e| format!("bind mount source {}: {}", source.display(), e.description()))?;
                }
                MountSource::Inode { inode, fstype: "bind".into(), source: source.display().to_string() }
            }
            other => other.sentry_source().ok_or("mount kind without a sentry source")?,
        };
        out.push(MountEntry { dest: m.dest.clone().into_bytes(), source, flags: flags(m) });
    }
    Ok(Some(out))
}

/// The sentry's own start-up and run; returns its exit code.
pub fn main(plan: &mut Plan, socks: Vec<OwnedFd>, status: OwnedFd) -> i32 {
    let tty = plan.tty.take();
    if tty.is_some() {
        // The terminal goes behind a sandbox pty (init's stdio, below); the
        // sentry's own stdio holds nothing of the caller's.
        if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
            for fd in 0..3 {
                // SAFETY: replaces this process's stdio with /dev/null.
                unsafe { libc::dup2(null.as_raw_fd(), fd) };
            }
        }
    }
    if let Err(e) = super::confine_sentry(plan) {
        report_error(plan, &format!("confining the sentry: {e}"));
        return 1;
    }
    let mut socks = socks.into_iter();
    let Some(root_sock) = socks.next() else {
        report_error(plan, "no gofer socket for the root");
        return 1;
    };
    let lower = match gofer_root(root_sock, plan.gofer_readonly) {
        Ok(r) => r,
        Err(e) => {
            report_error(plan, &e);
            return 1;
        }
    };
    let (root, fstype): (Arc<dyn Inode>, &str) = if plan.overlay {
        (rvisor_sentry::fs::overlay::new_overlay(lower, rvisor_sentry::fs::tmpfs::new_tmpfs(0o755, 0, 0)), "overlay")
    } else {
        (lower, "9p")
    };
    let mounts = match mounts(plan, &mut socks) {
        Ok(m) => m,
        Err(e) => {
            report_error(plan, &e);
            return 1;
        }
    };
    rvisor_sentry::syscalls::socket::allow_raw_sockets(plan.net_raw);
    if plan.systrap {
        if let Err(e) = rvisor_sentry::platform::systrap::select() {
            report_error(plan, &format!("--platform systrap: {e:?} (this CPU lacks rdtscp, or no memory)"));
            return 1;
        }
    }
    // It holds the host fds behind every sandbox file, pipe and socket.
    let limit = crate::confine::use_descriptors(SENTRY_FDS);
    let needed = (rvisor_sentry::kernel::APP_FD_BASE + rvisor_sentry::kernel::APP_FD_SLOTS) as u64;
    if limit < needed {
        report_error(
            plan,
            &format!("the descriptor limit (RLIMIT_NOFILE) is {limit}; app processes need fds up to {needed} (raise it with ulimit -n)"),
        );
        return 1;
    }
    let shown = plan.process.args.first().cloned().unwrap_or_default();
    let cfg = BootConfig {
        root,
        root_readonly: plan.root_readonly,
        root_fstype: fstype.to_string(),
        mounts,
        process: plan.process.to_config(),
        options: KernelOptions {
            strace: plan.strace,
            compat_report: plan.compat_report,
            hostname: plan.hostname.clone(),
        },
    };
    let sandbox = match boot::prepare(cfg) {
        Ok(s) => Arc::new(s),
        Err(e) => return boot_failed(plan, &shown, e),
    };
    // Held for the sandbox's life: the relay ends on its own.
    let _terminal = match tty.map(|t| init_terminal(&sandbox, t)).transpose() {
        Ok(t) => t,
        Err(e) => {
            report_error(plan, &e);
            return 1;
        }
    };
    if let Some(listener) = plan.control.take() {
        sandbox.serve_exec();
        if let Err(e) = rvisor_sentry::control::server::spawn(listener, sandbox.clone()) {
            report_error(plan, &format!("control socket: {e}"));
            return 1;
        }
    }
    if let Some(joined) = plan.joined.take() {
        // Init and every process after it must start in the sandbox's cgroup.
        let mut byte = [0u8; 1];
        // SAFETY: reads into a valid 1-byte buffer from our own pipe.
        if unsafe { libc::read(joined.as_raw_fd(), byte.as_mut_ptr().cast(), 1) } != 1 {
            report_error(plan, "the sandbox could not be moved into its cgroup");
            return 1;
        }
    }
    if plan.autostart {
        if let Err(e) = sandbox.start() {
            return boot_failed(plan, &shown, e);
        }
    }
    if let Some(r) = plan.ready.take() {
        write_line(&r, "ok");
    }
    // Boot's temporaries (the image, the mount set-up) are freed by now.
    crate::confine::release_free_heap();
    let exit = sandbox.wait();
    rvisor_sentry::fs::pty::relay::flush_all(std::time::Duration::from_secs(2));
    rvisor_sentry::control::server::drain(std::time::Duration::from_secs(2));
    if plan.compat_report {
        boot::print_compat_report(sandbox.kernel());
    }
    let (line, code) = match exit {
        InitExit::Code(c) => (format!("code {c}"), c),
        InitExit::Signal(s) => (format!("signal {s}"), 128 + s),
    };
    write_line(&status, &line);
    code
}

/// process.terminal: the host pty's slave behind the sandbox's /dev/pts/0,
/// which becomes init's stdio and the controlling terminal of its session.
fn init_terminal(sandbox: &boot::Sandbox, tty: OwnedFd) -> Result<HostTerminal, String> {
    let term =
        relay::attach(sandbox.kernel(), tty).map_err(|e| format!("the container's terminal: {}", e.description()))?;
    let files = (0..3).map(|fd| (fd, term.file())).collect();
    sandbox.add_init_files(files).map_err(|e| format!("the container's terminal: {e}"))?;
    if let Some(init) = sandbox.init_task() {
        term.control(&init);
    }
    Ok(term)
}

/// Reports a failed boot; the exit code is a shell's (127: not found, 126: not executable).
fn boot_failed(plan: &Plan, shown: &str, e: BootError) -> i32 {
    match e {
        BootError::Exec(errno) => {
            // Engines map these words to exit codes 127 and 126 (as runc words them).
            let msg = match (&plan.ready, errno) {
                (None, _) => format!("{shown}: {}", errno_text(errno)),
                (Some(_), Errno::ENOENT) => {
                    format!("exec: {shown:?}: executable file not found in $PATH: no such file or directory")
                }
                (Some(_), Errno::EACCES) => format!("exec: {shown:?}: permission denied"),
                (Some(_), e) => format!("exec: {shown:?}: {}", errno_text(e)),
            };
            report_error(plan, &msg);
            if errno == Errno::ENOENT {
                127
            } else {
                126
            }
        }
        BootError::Internal(m) => {
            report_error(plan, &m);
            1
        }
    }
}

pub fn errno_text(e: Errno) -> String {
    match e {
        Errno::ENOENT => "No such file or directory".into(),
        Errno::EACCES => "Permission denied".into(),
        Errno::ENOEXEC => "Exec format error".into(),
        other => other.description(),
    }
}
