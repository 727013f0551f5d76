//! One file per CLI command; each is a thin layer over the library modules.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod install;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod run_do;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;
pub mod wait;

use std::path::Path;

use anyhow::Context;

use crate::container::{ContainerDir, ContainerError, State, Status};
use rvisor_sentry::control::client::Client;

/// A command that takes only a container id.
#[derive(clap::Args, Debug)]
pub struct IdArg {
    /// Container id.
    pub id: String,
}

/// Opens (and locks) a container and loads its state.
pub fn open(root: &Path, id: &str) -> Result<(ContainerDir, State), ContainerError> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    Ok((dir, st))
}

/// Fails unless the container's current status is one of `ok`.
pub fn require(st: &State, ok: &[Status], need: &'static str) -> Result<Status, ContainerError> {
    let s = st.current_status();
    if ok.contains(&s) {
        Ok(s)
    } else {
        Err(ContainerError::WrongStatus { id: st.id.clone(), status: s, need })
    }
}

/// Connects to a container's sandbox.
pub fn connect(dir: &ContainerDir) -> anyhow::Result<Client> {
    Client::connect(&dir.control_path()).with_context(|| format!("container {}", dir.id))
}

/// Writes `pid` to `path` atomically (temp file + rename), as engines expect
/// to read either nothing or the whole number.
pub fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().context("--pid-file has no file name")?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, pid.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Whether a new sandbox (`do`, `create`, `run`) runs on systrap: as
/// --platform says, else RVISOR_PLATFORM (so the test suite can run
/// everything on either platform), else systrap unless this CPU cannot run
/// its SIGSYS handler (it needs rdtscp).
pub fn systrap_chosen(g: &crate::GlobalArgs) -> Result<bool, String> {
    let platform = g.platform.clone().or_else(|| std::env::var("RVISOR_PLATFORM").ok());
    match platform.as_deref() {
        None => {
            let ok = rvisor_sentry::platform::systrap::cpu_supported();
            if !ok {
                tracing::debug!("this CPU lacks rdtscp: the ptrace platform instead of systrap");
            }
            Ok(ok)
        }
        Some("ptrace") => Ok(false),
        Some("systrap") => Ok(true),
        Some(other) => {
            let what =
                if g.platform.is_some() { format!("--platform {other}") } else { format!("RVISOR_PLATFORM={other}") };
            Err(format!("{what}: unknown platform (use ptrace or systrap)"))
        }
    }
}

/// The name of a platform, as --platform takes it.
pub fn platform_name(systrap: bool) -> &'static str {
    if systrap {
        "systrap"
    } else {
        "ptrace"
    }
}

/// Most fds --preserve-fds may pass (the sandbox's default RLIMIT_NOFILE is 1024).
const MAX_PRESERVED: u32 = 1000;

/// The fds a container process gets after stdio, as runc passes them:
/// `listen` systemd socket-activation fds (LISTEN_FDS, when LISTEN_PID is
/// this process) then `n` more (--preserve-fds), i.e. this process's fds
/// 3, 4, ... in order. Returns copies and the socket-activation count.
pub fn preserved_fds(n: u32, listen: bool) -> anyhow::Result<(Vec<std::os::fd::OwnedFd>, u32)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let activation = if listen { listen_fds() } else { 0 };
    let total = activation.checked_add(n).filter(|&t| t <= MAX_PRESERVED);
    let total = total.with_context(|| format!("--preserve-fds: at most {MAX_PRESERVED} fds"))?;
    let end = 3 + total as i32;
    let mut out = Vec::new();
    for fd in 3..end {
        // Copies land above the range, so they are never mistaken for it.
        // SAFETY: F_DUPFD_CLOEXEC makes a new fd (or fails if `fd` is not open).
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, end) };
        if dup < 0 {
            anyhow::bail!("--preserve-fds: fd {fd} is not open");
        }
        // SAFETY: dup is a fresh fd owned by nobody else.
        out.push(unsafe { OwnedFd::from_raw_fd(dup) });
    }
    Ok((out, activation))
}

/// LISTEN_FDS of systemd socket activation, if meant for this process.
fn listen_fds() -> u32 {
    let for_us = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let n = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    if for_us {
        n
    } else {
        0
    }
}

/// Hands `fds` to the sandbox on `client`'s connection, for the next
/// process started on it (init with `InitFiles`, or an exec).
pub fn keep_files(client: &Client, fds: &[std::os::fd::OwnedFd]) -> anyhow::Result<()> {
    use std::os::fd::AsFd;
    for chunk in fds.chunks(3) {
        let borrowed: Vec<_> = chunk.iter().map(|f| f.as_fd()).collect();
        client.call(&rvisor_sentry::control::Request::KeepFiles, &borrowed).context("passing preserved fds")?;
    }
    Ok(())
}

/// A signal by number or name ("9", "KILL", "SIGKILL", "sigterm").
pub fn parse_signal(s: &str) -> anyhow::Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        anyhow::ensure!((0..=64).contains(&n), "invalid signal {s}");
        return Ok(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
        "WINCH", "IO", "PWR", "SYS",
    ];
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Ok(i as i32 + 1);
    }
    match name {
        "IOT" => Ok(libc::SIGABRT),
        "POLL" => Ok(libc::SIGIO),
        "CLD" => Ok(libc::SIGCHLD),
        _ => {
            if let Some(rest) = name.strip_prefix("RTMIN") {
                let off: i32 = if rest.is_empty() { 0 } else { rest.trim_start_matches('+').parse()? };
                return Ok(libc::SIGRTMIN() + off);
            }
            if let Some(rest) = name.strip_prefix("RTMAX") {
                let off: i32 = if rest.is_empty() { 0 } else { rest.trim_start_matches('-').parse()? };
                return Ok(libc::SIGRTMAX() - off);
            }
            anyhow::bail!("unknown signal {s:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("sigusr1").unwrap(), 10);
        assert_eq!(parse_signal("WINCH").unwrap(), 28);
        assert_eq!(parse_signal("SYS").unwrap(), 31);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
