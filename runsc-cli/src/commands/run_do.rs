//! `rvisor do -- CMD ARGS...`: run one command in a throwaway sandbox.
//!
//! The same launch sequence as an OCI container ([`crate::launcher`]), run
//! in this process: gofer (serves the root) -> new network (by default),
//! uts and ipc namespaces -> sentry as pid 1 of a new pid namespace (its
//! death takes every app process with it) -> wait and propagate the exit
//! status.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rvisor_sentry::control::ProcessSpec;

use crate::launcher::{self, Plan};
use crate::oci::{Namespaces, Ns};
use crate::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct DoArgs {
    /// Root file system directory (default: the host root, read-only, with an in-memory upper layer).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// With --rootfs: keep DIR untouched; writes go to an in-memory upper layer.
    #[arg(long)]
    pub overlay: bool,
    /// At exit, print the unsupported syscalls/flags/ioctls the workload hit.
    #[arg(long = "compat-report")]
    pub compat_report: bool,
    /// Sandbox hostname.
    #[arg(long, default_value = "rvisor")]
    pub hostname: String,
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

fn lossy(s: &std::ffi::OsStr) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

pub fn run(args: DoArgs, g: &GlobalArgs) -> i32 {
    let (root, gofer_readonly, overlay) = match &args.rootfs {
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
    let net = match g.network.as_deref() {
        None | Some("none") => Ns::New,
        Some("host") => Ns::Host,
        Some(other) => return die(&format!("--network {other} is for OCI containers; use none or host")),
    };
    if g.platform.as_deref().is_some_and(|p| p != "ptrace") {
        return die("--platform: only ptrace is available");
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let cwd = std::env::current_dir().map(|p| lossy(p.as_os_str())).unwrap_or_else(|_| "/".into());
    let process = ProcessSpec {
        args: args.command.iter().map(|a| lossy(a)).collect(),
        env: std::env::vars_os().map(|(k, v)| format!("{}={}", lossy(&k), lossy(&v))).collect(),
        cwd,
        uid,
        gid,
        ..Default::default()
    };
    let mut plan = Plan {
        rootfs: root,
        gofer_readonly,
        overlay,
        root_readonly: gofer_readonly && !overlay,
        mounts: None,
        process,
        hostname: args.hostname.clone(),
        strace: g.strace,
        compat_report: args.compat_report,
        net_raw: args.net_raw,
        ns: Namespaces { net, uts: Ns::New, ipc: Ns::New },
        control: None,
        tty: None,
        autostart: true,
        ready: None,
        detach_stdio: false,
    };
    match launcher::supervise(&mut plan) {
        Ok(outcome) => outcome.code(),
        Err(e) => die(&e),
    }
}
