//! `rvisor do -- CMD ARGS...`: run one command in a throwaway sandbox.
//!
//! The same launch sequence as an OCI container ([`crate::launcher`]), run
//! in this process: gofer (serves the root) -> new network (by default),
//! uts and ipc namespaces -> sentry as pid 1 of a new pid namespace (its
//! death takes every app process with it) -> wait and propagate the exit
//! status. Before that: re-exec from a protected binary, and a cgroup with the
//! requested limits (joined by the gofer and the sentry, and watched by a
//! janitor that removes it if this process dies).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rvisor_sentry::control::ProcessSpec;

use crate::cgroups::{self, janitor::Janitor, Cgroup, Limits};
use crate::confine;
use crate::launcher::{self, Plan};
use crate::oci::{Namespaces, Ns};
use crate::GlobalArgs;

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
    /// Memory limit for the whole sandbox (app, sentry and gofer), e.g. 512M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Limit on processes and threads (the sentry's own threads count too).
    #[arg(long, value_name = "N")]
    pub pids: Option<u64>,
    /// CPU time limit, in CPUs (e.g. 0.5).
    #[arg(long, value_name = "CPUS")]
    pub cpus: Option<f64>,
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
    /// With --platform systrap: rewrite the app's `mov eax, NR; syscall`
    /// sites into jumps to a trampoline (experimental; also
    /// RVISOR_SYSTRAP_PATCH=1). See docs/systrap-status.md.
    #[arg(long = "systrap-patch")]
    pub systrap_patch: bool,
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

fn lossy(s: &std::ffi::OsStr) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

pub fn run(args: DoArgs, g: &GlobalArgs) -> i32 {
    confine::set_process_name(c"rvisor");
    let (root, gofer_readonly, overlay) = match &args.rootfs {
        None if args.read_only => (PathBuf::from("/"), true, false),
        None => (PathBuf::from("/"), true, true),
        Some(dir) => {
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return die(&format!("--rootfs {}: not a directory", dir.display())),
                Err(e) => return die(&format!("--rootfs {}: {e}", dir.display())),
            }
            (dir.clone(), args.overlay || args.read_only, args.overlay)
        }
    };
    let net = match g.network.as_deref() {
        None | Some("none") => Ns::New,
        Some("host") => Ns::Host,
        Some(other) => return die(&format!("--network {other} is for OCI containers; use none or host")),
    };
    let systrap = match super::systrap_chosen(g) {
        Ok(s) => s,
        Err(e) => return die(&e),
    };
    // The sentry (this process's child) reads RVISOR_SYSTRAP_PATCH.
    if args.systrap_patch {
        if !systrap {
            return die("--systrap-patch needs --platform systrap");
        }
        std::env::set_var("RVISOR_SYSTRAP_PATCH", "1");
    }
    // Rootless (an unprivileged caller, or --rootless=true): the sandbox runs in a user
    // namespace where the caller is root, and its processes run as root too, as
    // files the caller owns appear owned by root there.
    let rootless = confine::userns::wanted(g.rootless.as_deref());
    if rootless {
        if let Err(e) = confine::userns::enter() {
            return die(&e.to_string());
        }
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let cwd = std::env::current_dir().map(|p| lossy(p.as_os_str())).unwrap_or_else(|_| "/".into());
    let process = ProcessSpec {
        args: args.command.iter().map(|a| lossy(a)).collect(),
        // RVISOR_PLATFORM configures rvisor, not the app.
        env: std::env::vars_os()
            .filter(|(k, _)| k != "RVISOR_PLATFORM" && k != "RVISOR_SYSTRAP_PATCH")
            .map(|(k, v)| format!("{}={}", lossy(&k), lossy(&v)))
            .collect(),
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
        systrap,
        ns: Namespaces { net, uts: Ns::New, ipc: Ns::New },
        control: None,
        tty: None,
        autostart: true,
        ready: None,
        detach_stdio: false,
        cgroup: None,
        joined: None,
        enter_userns: false,
    };
    let limits = Limits { memory: args.memory, pids: args.pids, cpus: args.cpus };
    if let Err(e) = limits.validate() {
        return die(&e.to_string());
    }
    // SAFETY: getpid has no preconditions.
    let name = format!("rvisor-{}", unsafe { libc::getpid() });
    // --ignore-cgroups (as for the OCI commands): no cgroup at all.
    let candidates = if g.ignore_cgroups {
        if !limits.is_empty() {
            return die("--ignore-cgroups: --memory, --pids and --cpus need the sandbox's cgroup");
        }
        Vec::new()
    } else {
        match Cgroup::candidates(&name) {
            Ok(c) => c,
            Err(e) if limits.is_empty() => {
                tracing::warn!(error = %e, "no cgroup for the sandbox");
                Vec::new()
            }
            Err(e) => return die(&limits_error(&e.to_string(), rootless)),
        }
    };
    // The janitor comes first: no cgroup ever exists without one watching.
    let janitor = match (!candidates.is_empty()).then(|| Janitor::spawn(&candidates)).transpose() {
        Ok(j) => j,
        Err(e) => return die(&format!("starting the cgroup janitor: {e}")),
    };
    plan.cgroup = match sandbox_cgroup(&candidates, &limits) {
        Ok(c) => c,
        Err(e) => {
            let e = limits_error(&e, rootless);
            if let Some(j) = janitor {
                j.dismiss();
            }
            return die(&e);
        }
    };
    let code = match launcher::supervise(&mut plan) {
        Ok(outcome) => outcome.code(),
        Err(e) => die(&e),
    };
    let mut removed = true;
    if let Some(cg) = plan.cgroup.take() {
        report_limits(&cg, &limits);
        cg.kill_all();
        for e in cg.destroy() {
            eprintln!("rvisor: removing the sandbox cgroup: {e}");
            removed = false;
        }
    }
    match janitor {
        Some(j) if !removed => {
            eprintln!("rvisor: the cgroup janitor keeps trying to remove it");
            j.hand_over();
        }
        Some(j) => j.dismiss(),
        None => {}
    }
    code
}

/// A failure to set up limits, with a hint for the rootless case.
fn limits_error(e: &str, rootless: bool) -> String {
    let e = if e.starts_with("resource limits") { e.to_string() } else { format!("resource limits: {e}") };
    if rootless {
        format!("{e} (rootless mode: limits need a cgroup delegated to this user)")
    } else {
        e
    }
}

/// The sandbox's cgroup: always when possible (membership makes teardown
/// complete); without limits a failure only loses that.
fn sandbox_cgroup(candidates: &[Cgroup], limits: &Limits) -> Result<Option<Cgroup>, String> {
    if candidates.is_empty() {
        return Ok(None);
    }
    match Cgroup::create_limited(candidates, limits) {
        Ok(cg) => Ok(Some(cg)),
        Err(e) if !limits.is_empty() => Err(format!("resource limits: {e}")),
        Err(e) => {
            tracing::warn!(error = %e, "no cgroup for the sandbox");
            Ok(None)
        }
    }
}

/// Says when the sandbox ran into a limit (the program itself may only
/// have seen a SIGKILL or EAGAIN).
fn report_limits(cg: &Cgroup, limits: &Limits) {
    let hits = cg.limit_hits();
    tracing::debug!(?hits, "sandbox cgroup at exit");
    if let (Some(_), Some(n)) = (limits.memory, hits.oom_kills.filter(|&n| n > 0)) {
        eprintln!("rvisor: the sandbox reached its memory limit: {n} process(es) killed");
    }
    if let (Some(_), Some(n)) = (limits.pids, hits.pids_refused.filter(|&n| n > 0)) {
        eprintln!("rvisor: the sandbox reached its pids limit: {n} fork(s) refused");
    }
}
