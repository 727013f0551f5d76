//! Cgroups for sandboxes: memory, pids and CPU limits, membership, stats
//! and clean teardown, on cgroup v1, v2 and hybrid hosts (v1 controllers
//! with a controller-less v2 hierarchy beside them).
//!
//! The API is small and shared by `rvisor do` and the OCI runtime:
//!
//! ```ignore
//! let cg = Cgroup::create(&Placement::Nested("rvisor-123".into()), &limits)?;
//! cg.add_self()?;               // in the sentry/gofer child, before confining it
//! let s = cg.stats()?;          // memory, pids, cpu, oom kills
//! cg.update(&new_limits)?;      // `rvisor update`
//! cg.destroy()?;                // kill what is left, remove every directory
//! ```
//!
//! A sandbox's cgroup is one directory per hierarchy it uses: each v1
//! hierarchy with a controller rvisor limits or reads (memory, pids, cpu,
//! cpuacct) and the v2 hierarchy when mounted (membership, `cgroup.kill`,
//! and whichever controllers it has). [`Cgroup::paths`] and
//! [`Cgroup::from_paths`] let the OCI state file remember them.
//! [`janitor`] removes the cgroup when the launcher dies abruptly.

mod hierarchy;
pub mod janitor;
mod limits;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use hierarchy::{Hierarchy, Version};
pub use limits::{parse_bytes, Limits, Stats};

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup file system is mounted")]
    NoCgroups,
    #[error("cgroup controller {0} is not available on this host")]
    MissingController(&'static str),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cgroup {} still has processes", .0.display())]
    Busy(PathBuf),
    #[error("invalid limit: {0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, CgroupError>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io { path: path.to_path_buf(), source }
}

/// Where a sandbox's cgroup goes in each hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A child of the calling process's own cgroup (so the sandbox stays
    /// accounted to whoever runs rvisor). On v2, where controllers cannot be
    /// enabled below a cgroup that holds processes, it falls back to
    /// `/rvisor/<name>`.
    Nested(String),
    /// A path from each hierarchy's root (OCI `linux.cgroupsPath`).
    #[allow(dead_code)] // for the OCI runtime
    Absolute(PathBuf),
}

/// One directory of a sandbox's cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dir {
    path: PathBuf,
    version: Version,
    /// Whether rvisor made it (and so removes it).
    created: bool,
}

/// A sandbox's cgroup.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<Dir>,
}

/// Controllers whose v1 hierarchies a sandbox joins.
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct"];
/// Controllers enabled for a sandbox on v2 (when the hierarchy has them).
const V2_CONTROLLERS: &[&str] = &["memory", "pids", "cpu"];

fn write_file(path: &Path, value: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).map_err(io_err(path))?;
    f.write_all(value.as_bytes()).map_err(io_err(path))
}

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(io_err(path))
}

fn mkdir(path: &Path) -> Result<bool> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

impl Cgroup {
    /// Creates the sandbox's cgroup with `limits`. Fails if a limit is asked
    /// for whose controller no hierarchy offers.
    pub fn create(place: &Placement, limits: &Limits) -> Result<Cgroup> {
        let hs = hierarchy::mounted()?;
        let mut cg = Cgroup { dirs: Vec::new() };
        let res =
            cg.create_dirs(&hs, place).and_then(|()| cg.check_controllers(limits)).and_then(|()| cg.update(limits));
        if let Err(e) = res {
            let _ = cg.remove_dirs(Duration::from_millis(100));
            return Err(e);
        }
        Ok(cg)
    }

    fn create_dirs(&mut self, hs: &[Hierarchy], place: &Placement) -> Result<()> {
        for h in hs {
            let wanted = match &h.version {
                Version::V1(ctrls) => ctrls.iter().any(|c| V1_CONTROLLERS.contains(&c.as_str())),
                Version::V2 => true,
            };
            if !wanted {
                continue;
            }
            let rel = match place {
                Placement::Nested(name) => h.own.join(name),
                Placement::Absolute(p) => p.strip_prefix("/").unwrap_or(p).to_path_buf(),
            };
            let rel = if h.version == Version::V2 { self.v2_placement(h, &rel, place)? } else { rel };
            let mut path = h.mount.clone();
            let mut created = false;
            for comp in rel.components() {
                path.push(comp);
                created = mkdir(&path)?;
            }
            self.dirs.push(Dir { path, version: h.version.clone(), created });
        }
        if self.dirs.is_empty() {
            return Err(CgroupError::NoCgroups);
        }
        Ok(())
    }

    /// Enables the v2 controllers a sandbox uses on every ancestor of `rel`;
    /// when the caller's own cgroup refuses (it holds processes), moves the
    /// nested placement to /rvisor/NAME.
    fn v2_placement(&self, h: &Hierarchy, rel: &Path, place: &Placement) -> Result<PathBuf> {
        let available = hierarchy::v2_controllers(&h.mount);
        let ctrls: Vec<&str> = V2_CONTROLLERS.iter().copied().filter(|c| available.iter().any(|a| a == c)).collect();
        if ctrls.is_empty() {
            return Ok(rel.to_path_buf());
        }
        match hierarchy::enable_v2(&h.mount, rel, &ctrls) {
            Ok(()) => Ok(rel.to_path_buf()),
            Err(_) if matches!(place, Placement::Nested(_)) => {
                let name = rel.file_name().map(PathBuf::from).unwrap_or_default();
                let fallback = Path::new("rvisor").join(name);
                hierarchy::enable_v2(&h.mount, &fallback, &ctrls)?;
                Ok(fallback)
            }
            Err(e) => Err(e),
        }
    }

    fn check_controllers(&self, limits: &Limits) -> Result<()> {
        let need =
            [("memory", limits.memory.is_some()), ("pids", limits.pids.is_some()), ("cpu", limits.cpus.is_some())];
        for (ctrl, needed) in need {
            if needed && self.dir_with(ctrl).is_none() {
                return Err(CgroupError::MissingController(ctrl));
            }
        }
        Ok(())
    }

    /// The directories that exist for `place` (wherever [`Cgroup::create`]
    /// may have put them), for cleaning up after a launcher that died.
    pub fn existing(place: &Placement) -> Result<Cgroup> {
        let hs = hierarchy::mounted()?;
        let mut dirs = Vec::new();
        for h in &hs {
            let mut candidates = Vec::new();
            match place {
                Placement::Nested(name) => {
                    candidates.push(h.mount.join(&h.own).join(name));
                    candidates.push(h.mount.join("rvisor").join(name));
                }
                Placement::Absolute(p) => candidates.push(h.mount.join(p.strip_prefix("/").unwrap_or(p))),
            }
            if let Some(path) = candidates.into_iter().find(|p| p.is_dir()) {
                dirs.push(Dir { path, version: h.version.clone(), created: true });
            }
        }
        Ok(Cgroup { dirs })
    }

    /// Re-opens a cgroup from [`Cgroup::paths`] (e.g. from OCI state).
    #[allow(dead_code)] // for the OCI runtime's state file
    pub fn from_paths(paths: &[PathBuf]) -> Result<Cgroup> {
        let hs = hierarchy::mounted()?;
        let dirs = paths
            .iter()
            .filter_map(|p| {
                let h = hs.iter().filter(|h| p.starts_with(&h.mount)).max_by_key(|h| h.mount.as_os_str().len())?;
                Some(Dir { path: p.clone(), version: h.version.clone(), created: true })
            })
            .collect();
        Ok(Cgroup { dirs })
    }

    /// The directories, one per hierarchy.
    #[allow(dead_code)] // for the OCI runtime's state file
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    /// The directory holding `controller`'s files.
    fn dir_with(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| match &d.version {
                Version::V1(c) => c.iter().any(|x| x == controller),
                Version::V2 => hierarchy::v2_controllers(&d.path).iter().any(|x| x == controller),
            })
            .map(|d| d.path.as_path())
    }

    /// Moves `pid` (in the caller's pid namespace; 0 = the caller) into every directory.
    pub fn add_pid(&self, pid: libc::pid_t) -> Result<()> {
        for d in &self.dirs {
            write_file(&d.path.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Moves the calling process into the cgroup (its children follow).
    pub fn add_self(&self) -> Result<()> {
        self.add_pid(0)
    }

    /// Applies `limits` (fields left `None` are unchanged).
    pub fn update(&self, limits: &Limits) -> Result<()> {
        for d in &self.dirs {
            limits::apply(&d.path, &d.version, limits)?;
        }
        Ok(())
    }

    /// Current usage and counters.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        for d in &self.dirs {
            limits::read_stats(&d.path, &d.version, &mut s);
        }
        Ok(s)
    }

    /// Every process in the cgroup (host pids as the caller sees them).
    pub fn procs(&self) -> Vec<libc::pid_t> {
        let mut v: Vec<libc::pid_t> = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.path.join("cgroup.procs")).ok())
            .flat_map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<_>>())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// SIGKILLs every process in the cgroup (v2 `cgroup.kill` where the
    /// kernel has it, else each listed process, until none is left).
    pub fn kill_all(&self) {
        for d in &self.dirs {
            if d.version == Version::V2 {
                let _ = write_file(&d.path.join("cgroup.kill"), "1");
            }
        }
        for pid in self.procs() {
            // SAFETY: kill with a pid read from the cgroup; SIGKILL has no handler.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Kills what is left, waits for it to go, and removes the directories
    /// rvisor created. Safe to call twice (also from the janitor).
    pub fn destroy(&self) -> Result<()> {
        self.remove_dirs(Duration::from_secs(10))
    }

    fn remove_dirs(&self, patience: Duration) -> Result<()> {
        let deadline = Instant::now() + patience;
        loop {
            self.kill_all();
            let mut busy = None;
            for d in self.dirs.iter().filter(|d| d.created) {
                match std::fs::remove_dir(&d.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => busy = Some(d.path.clone()),
                    Err(e) => return Err(io_err(&d.path)(e)),
                }
            }
            match busy {
                None => return Ok(()),
                Some(p) if Instant::now() >= deadline => return Err(CgroupError::Busy(p)),
                Some(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

#[cfg(test)]
mod tests;
