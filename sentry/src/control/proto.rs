//! Control-socket messages.

use rvisor_syscalls::abi::Rlimit;
use serde::{Deserialize, Serialize};

use crate::boot::ProcessConfig;
use crate::kernel::creds::Caps;

/// A request from the CLI to the sentry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Start the container's init (once).
    Start,
    /// Signal init, or every process with `all`.
    Kill { signal: i32, all: bool },
    /// Start a new process; three fds (stdin, stdout, stderr) come with the
    /// message. The sentry answers `Started`, then `Exited` when it ends.
    Exec { process: ProcessSpec },
    /// List the sandbox's processes.
    Ps,
    /// Signal one process (by its pid inside the sandbox).
    Signal { pid: i32, signal: i32 },
    /// The fds attached (at most three) are kept on this connection for
    /// the next `InitFiles` or `Exec`, which install the kept fds, in order,
    /// as fds 3, 4, ... of the process (runc's --preserve-fds).
    KeepFiles,
    /// Gives the kept fds to init; only before `Start`.
    InitFiles,
}

/// A process to run in the sandbox.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    /// Effective, permitted, inheritable, bounding (bit n = capability n).
    pub caps: Option<[u64; 4]>,
    pub no_new_privs: bool,
    /// (resource, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    /// The stdio fds are one host terminal (exec --tty): the process gets a
    /// sandbox pty wired to it as its stdio and controlling terminal.
    #[serde(default)]
    pub terminal: bool,
}

impl ProcessSpec {
    /// The sentry's form of this process.
    pub fn to_config(&self) -> ProcessConfig {
        let mut c = ProcessConfig::new(self.args.iter().map(|a| a.clone().into_bytes()).collect(), self.uid, self.gid);
        c.envp = self.env.iter().map(|e| e.clone().into_bytes()).collect();
        c.cwd = if self.cwd.is_empty() { b"/".to_vec() } else { self.cwd.clone().into_bytes() };
        c.groups = self.groups.clone();
        if let Some(m) = self.umask {
            c.umask = m;
        }
        c.caps = self.caps.map(|[effective, permitted, inheritable, bounding]| Caps {
            effective,
            permitted,
            inheritable,
            bounding,
        });
        c.no_new_privs = self.no_new_privs;
        c.rlimits = self.rlimits.iter().map(|&(r, cur, max)| (r, Rlimit { rlim_cur: cur, rlim_max: max })).collect();
        c
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExitInfo {
    Code(i32),
    Signal(i32),
}

/// One sandboxed process, for `ps`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcInfo {
    /// Pid inside the sandbox.
    pub pid: i32,
    pub ppid: i32,
    /// The host process running it.
    pub host_pid: i32,
    pub uid: u32,
    pub cmd: String,
}

/// The sentry's answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    Ok,
    Error {
        msg: String,
    },
    /// An exec'd process runs with this pid inside the sandbox (host pid beside it).
    Started {
        pid: i32,
        host_pid: i32,
    },
    Exited {
        exit: ExitInfo,
    },
    Ps {
        processes: Vec<ProcInfo>,
    },
}
