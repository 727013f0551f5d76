//! OCI bundles: load and validate config.json (runtime-spec 1.1, via the
//! oci-spec crate) and turn its process, mounts and namespaces into the
//! launcher's terms.

pub mod mounts;

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use rvisor_sentry::control::ProcessSpec;

/// Why a bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("bundle {0}: no such directory")]
    NoBundle(PathBuf),
    #[error("{0}: config.json is missing")]
    Missing(PathBuf),
    #[error("{path}: invalid config.json: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("config.json has no root.path")]
    NoRoot,
    #[error("rootfs {0}: no such directory")]
    RootfsMissing(PathBuf),
    #[error("config.json has no process")]
    NoProcess,
    #[error("process.args is empty")]
    NoArgs,
    #[error("process.cwd {0:?} is not an absolute path")]
    RelativeCwd(PathBuf),
    #[error("unknown capability {0}")]
    UnknownCapability(String),
    #[error("unknown rlimit {0}")]
    UnknownRlimit(String),
    #[error("mount {dest}: {reason}")]
    BadMount { dest: String, reason: String },
    #[error("device {path}: {reason}")]
    BadDevice { path: String, reason: String },
    #[error("namespace {kind}: {reason}")]
    BadNamespace { kind: String, reason: String },
}

/// A loaded, validated bundle.
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute rootfs directory.
    pub rootfs: PathBuf,
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Bundle, SpecError> {
        let dir = std::fs::canonicalize(dir).map_err(|_| SpecError::NoBundle(dir.to_path_buf()))?;
        let path = dir.join("config.json");
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SpecError::Missing(dir)),
            Err(e) => return Err(SpecError::Malformed { path, reason: e.to_string() }),
        };
        let spec: Spec = serde_json::from_slice(&text)
            .map_err(|e| SpecError::Malformed { path: path.clone(), reason: e.to_string() })?;
        let root = spec.root().as_ref().ok_or(SpecError::NoRoot)?;
        let rootfs = if root.path().is_absolute() { root.path().clone() } else { dir.join(root.path()) };
        if !rootfs.is_dir() {
            return Err(SpecError::RootfsMissing(rootfs));
        }
        let bundle = Bundle { dir, spec, rootfs };
        bundle.validate()?;
        Ok(bundle)
    }

    fn validate(&self) -> Result<(), SpecError> {
        let p = self.spec.process().as_ref().ok_or(SpecError::NoProcess)?;
        process_spec(p)?;
        mounts::plan(self)?;
        self.namespaces()?;
        Ok(())
    }

    pub fn process(&self) -> Result<ProcessSpec, SpecError> {
        process_spec(self.spec.process().as_ref().ok_or(SpecError::NoProcess)?)
    }

    pub fn terminal(&self) -> bool {
        self.spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false)
    }

    /// The sandbox's hostname: the spec's, else the host's (a new UTS
    /// namespace starts as a copy of its parent's).
    pub fn hostname(&self) -> String {
        match self.spec.hostname() {
            Some(h) => h.clone(),
            None => nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        }
    }

    pub fn readonly_root(&self) -> bool {
        self.spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false)
    }

    pub fn annotations(&self) -> std::collections::BTreeMap<String, String> {
        self.spec.annotations().clone().unwrap_or_default().into_iter().collect()
    }

    /// The namespaces the spec asks for.
    pub fn namespaces(&self) -> Result<Namespaces, SpecError> {
        let mut ns = Namespaces::default();
        let list = self.spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
        for n in list {
            let want = match n.path() {
                Some(p) => {
                    if !p.exists() {
                        return Err(SpecError::BadNamespace {
                            kind: n.typ().to_string(),
                            reason: format!("{} does not exist", p.display()),
                        });
                    }
                    Ns::Join(p.clone())
                }
                None => Ns::New,
            };
            match n.typ() {
                LinuxNamespaceType::Network => ns.net = want,
                LinuxNamespaceType::Uts => ns.uts = want,
                LinuxNamespaceType::Ipc => ns.ipc = want,
                // The sentry always has its own pid and mount namespaces;
                // user, cgroup and time namespaces are the sentry's business
                // (it virtualises ids, /proc/self/cgroup and clocks).
                _ => {}
            }
        }
        Ok(ns)
    }
}

/// A namespace the sandbox processes get.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Ns {
    /// The runtime's own.
    #[default]
    Host,
    New,
    Join(PathBuf),
}

/// Host namespaces for the sandbox (pid and mount ones are always new).
#[derive(Clone, Debug, Default)]
pub struct Namespaces {
    pub net: Ns,
    pub uts: Ns,
    pub ipc: Ns,
}

/// Capability names in bit order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The bit of capability `name` ("CAP_SYS_ADMIN" or "SYS_ADMIN").
pub fn cap_bit(name: &str) -> Option<u32> {
    let n = name.trim().to_ascii_uppercase();
    let n = n.strip_prefix("CAP_").unwrap_or(&n);
    CAP_NAMES.iter().position(|c| *c == n).map(|i| i as u32)
}

pub fn cap_names() -> impl Iterator<Item = String> {
    CAP_NAMES.iter().map(|c| format!("CAP_{c}"))
}

/// Resource number of rlimit `name` ("RLIMIT_NOFILE").
pub fn rlimit_number(name: &str) -> Option<u32> {
    const NAMES: [&str; 16] = [
        "CPU",
        "FSIZE",
        "DATA",
        "STACK",
        "CORE",
        "RSS",
        "NPROC",
        "NOFILE",
        "MEMLOCK",
        "AS",
        "LOCKS",
        "SIGPENDING",
        "MSGQUEUE",
        "NICE",
        "RTPRIO",
        "RTTIME",
    ];
    let n = name.strip_prefix("RLIMIT_").unwrap_or(name);
    NAMES.iter().position(|c| *c == n).map(|i| i as u32)
}

/// A serde enum's wire name ("CAP_KILL", "RLIMIT_NOFILE").
fn wire_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn cap_set<T: serde::Serialize>(set: &Option<std::collections::HashSet<T>>) -> Result<u64, SpecError> {
    let mut bits = 0u64;
    for c in set.iter().flatten() {
        let name = wire_name(c);
        let bit = cap_bit(&name).ok_or(SpecError::UnknownCapability(name))?;
        bits |= 1 << bit;
    }
    Ok(bits)
}

/// The sentry's form of an OCI process.
pub fn process_spec(p: &Process) -> Result<ProcessSpec, SpecError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(SpecError::NoArgs);
    }
    if !p.cwd().is_absolute() {
        return Err(SpecError::RelativeCwd(p.cwd().clone()));
    }
    let user = p.user();
    let caps = match p.capabilities() {
        Some(c) => {
            Some([cap_set(c.effective())?, cap_set(c.permitted())?, cap_set(c.inheritable())?, cap_set(c.bounding())?])
        }
        None => None,
    };
    let mut rlimits = Vec::new();
    for r in p.rlimits().iter().flatten() {
        let name = wire_name(&r.typ());
        let n = rlimit_number(&name).ok_or(SpecError::UnknownRlimit(name))?;
        rlimits.push((n, r.soft(), r.hard()));
    }
    Ok(ProcessSpec {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().to_string_lossy().into_owned(),
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        caps,
        no_new_privs: p.no_new_privileges().unwrap_or(false),
        rlimits,
        terminal: p.terminal().unwrap_or(false),
    })
}
