//! Cgroups through cgroupfs: v1 (one directory per mounted hierarchy), v2
//! (one unified directory), and the hybrid layout (v1 controllers with a
//! cgroup2 mount beside them, which is then left alone).
//!
//! The whole sandbox (its supervising process, gofer, sentry and every app
//! process) lives in the container's cgroup, so limits and statistics cover
//! what the container really uses.
//!
//! One API serves the OCI commands (create from the spec's resources,
//! update, stats, freeze, kill_all, destroy, directories kept in the state
//! file) and `rvisor do` ([`Limits`] from its flags, a cgroup nested under
//! rvisor's own, and a [`janitor`] that removes it if the launcher dies).

pub mod janitor;
mod limits;
mod v1;
mod v2;
#[cfg(test)]
mod v2_tests;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

pub use limits::{parse_bytes, LimitHits, Limits};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("no cgroup hierarchy is mounted")]
    NoHierarchy,
    #[error("invalid cgroupsPath {0:?}")]
    BadPath(String),
    #[error("the container has no cgroup (created with --ignore-cgroups or without cgroup access)")]
    None,
    #[error("cgroup {path}: freezing did not complete")]
    FreezeTimeout { path: String },
    #[error("cgroup controller {0} is not available on this host")]
    MissingController(&'static str),
    #[error("invalid limit: {0}")]
    Invalid(String),
    #[error("cgroup {path}: still busy (tasks: {tasks:?})")]
    Busy { path: String, tasks: Vec<i32> },
    #[error(
        "cgroup {path} already holds processes ({pids:?}), another container's or another program's: \
         give this container a cgroupsPath of its own"
    )]
    InUse { path: String, pids: Vec<i32> },
}

fn io_err(path: &Path, source: std::io::Error) -> CgroupError {
    CgroupError::Io { path: path.display().to_string(), source }
}

/// Reads a cgroup file, trimmed.
fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|e| io_err(path, e))
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    tracing::debug!(file = %path.display(), value, "cgroup write");
    std::fs::write(path, value).map_err(|e| io_err(path, e))
}

/// Which cgroup version a directory belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A mounted hierarchy: where, which version, and (v1) its controllers.
#[derive(Clone, Debug)]
pub struct Hierarchy {
    pub mount: PathBuf,
    pub version: Version,
    pub controllers: Vec<String>,
}

/// The host's cgroup layout, from /proc/self/mountinfo. Hybrid hosts (v1
/// controllers plus a cgroup2 mount) are driven through v1 only.
pub fn hierarchies() -> Vec<Hierarchy> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else { continue };
        let mount = pre.split(' ').nth(4).unwrap_or("");
        let mut post = post.split(' ');
        let fstype = post.next().unwrap_or("");
        let opts = post.nth(1).unwrap_or("");
        match fstype {
            "cgroup" => {
                let controllers = opts
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent") && *o != "clone_children")
                    .map(str::to_string)
                    .collect();
                v1.push(Hierarchy { mount: PathBuf::from(mount), version: Version::V1, controllers });
            }
            "cgroup2" => {
                v2.push(Hierarchy { mount: PathBuf::from(mount), version: Version::V2, controllers: Vec::new() })
            }
            _ => {}
        }
    }
    if v1.is_empty() {
        v2
    } else {
        v1
    }
}

/// The cgroup path (relative to each hierarchy's root) for a spec's
/// cgroupsPath: absolute paths as they are, "slice:prefix:name" (systemd
/// style) as systemd would lay it out, relative ones under the runtime's own
/// cgroup, and none at all as /rvisor/<id>.
pub fn resolve_path(spec_path: Option<&str>, id: &str, systemd: bool) -> Result<PathBuf, CgroupError> {
    let p = match spec_path {
        None | Some("") => return Ok(PathBuf::from(format!("/rvisor/{id}"))),
        Some(p) => p,
    };
    let parts: Vec<&str> = p.split(':').collect();
    if parts.len() == 3 && (systemd || !p.starts_with('/')) {
        let slice = if parts[0].is_empty() { "system.slice" } else { parts[0] };
        let mut path = PathBuf::from("/");
        // "a-b.slice" lives in "a.slice/a-b.slice".
        let stem = slice.strip_suffix(".slice").unwrap_or(slice);
        let mut acc = String::new();
        for (i, piece) in stem.split('-').enumerate() {
            if i > 0 {
                acc.push('-');
            }
            acc.push_str(piece);
            if acc != "-" {
                path.push(format!("{acc}.slice"));
            }
        }
        let unit = if parts[1].is_empty() {
            format!("{}.scope", parts[2])
        } else {
            format!("{}-{}.scope", parts[1], parts[2])
        };
        path.push(unit);
        return Ok(path);
    }
    let path = PathBuf::from(p);
    if path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(CgroupError::BadPath(p.into()));
    }
    if path.is_absolute() {
        return Ok(path);
    }
    // Relative: under this process's own cgroup (first hierarchy that says).
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.splitn(3, ':').nth(2).map(str::to_string)))
        .unwrap_or_else(|| "/".into());
    Ok(PathBuf::from(own).join(path))
}

/// A container's cgroup: its directory in every hierarchy.
#[derive(Clone, Debug, Default)]
pub struct Cgroup {
    pub dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// The cgroup recorded in a container's state.
    pub fn from_dirs(dirs: Vec<PathBuf>) -> Cgroup {
        Cgroup { dirs }
    }

    /// Creates `rel` in every hierarchy. A cgroup that already holds
    /// processes is refused (`InUse`), as runc refuses one: two containers
    /// there would share limits and statistics, and deleting either would
    /// kill the other's processes.
    pub fn create(rel: &Path) -> Result<Cgroup, CgroupError> {
        let hs = hierarchies();
        if hs.is_empty() {
            return Err(CgroupError::NoHierarchy);
        }
        let rel = rel.strip_prefix("/").unwrap_or(rel);
        let cg = Cgroup { dirs: hs.iter().map(|h| h.mount.join(rel)).collect() };
        for d in &cg.dirs {
            let pids = listed(d, "cgroup.procs");
            if !pids.is_empty() {
                return Err(CgroupError::InUse { path: d.display().to_string(), pids });
            }
        }
        cg.make(&hs)?;
        Ok(cg)
    }

    /// Where `name` goes below the calling process's own cgroup in each
    /// hierarchy (so the sandbox stays accounted to whoever runs rvisor);
    /// nothing is created yet (see [`Cgroup::make`]).
    pub fn nested(name: &str) -> Result<Cgroup, CgroupError> {
        let hs = hierarchies();
        if hs.is_empty() {
            return Err(CgroupError::NoHierarchy);
        }
        let own =
            std::fs::read_to_string("/proc/self/cgroup").map_err(|e| io_err(Path::new("/proc/self/cgroup"), e))?;
        let dirs = hs
            .iter()
            .map(|h| {
                let rel = own_path(&own, h).unwrap_or_default();
                h.mount.join(rel.trim_start_matches('/')).join(name)
            })
            .collect();
        Ok(Cgroup { dirs })
    }

    /// Creates the directories (one per hierarchy, as [`hierarchies`] lists
    /// them); on failure, what was made so far goes away again.
    pub fn make(&self, hs: &[Hierarchy]) -> Result<(), CgroupError> {
        for (i, (h, dir)) in hs.iter().zip(&self.dirs).enumerate() {
            let res = match h.version {
                V1 if h.controllers.iter().any(|c| c == "cpuset") => v1::create_cpuset(&h.mount, dir),
                V1 => std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e)),
                V2 => v2::create(&h.mount, dir),
            };
            if let Err(e) = res {
                Cgroup { dirs: self.dirs[..i].to_vec() }.destroy();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Where `rvisor do`'s cgroup `name` may go, in order of preference:
    /// nested under rvisor's own cgroup, else `/rvisor/NAME` (on v2 a
    /// cgroup that holds processes cannot hand controllers to children, so
    /// limits may be impossible below the caller's own).
    pub fn candidates(name: &str) -> Result<Vec<Cgroup>, CgroupError> {
        let nested = Cgroup::nested(name)?;
        let top = Cgroup { dirs: hierarchies().iter().map(|h| h.mount.join("rvisor").join(name)).collect() };
        Ok(if top.dirs == nested.dirs { vec![nested] } else { vec![nested, top] })
    }

    /// Creates `rvisor do`'s cgroup at the first of `candidates` where
    /// every limit asked for has its controller, and applies `limits`.
    pub fn create_limited(candidates: &[Cgroup], limits: &Limits) -> Result<Cgroup, CgroupError> {
        let hs = hierarchies();
        let mut last = CgroupError::NoHierarchy;
        for cg in candidates {
            if let Err(e) = cg.make(&hs) {
                last = e;
                continue;
            }
            match cg.check_controllers(limits).and_then(|()| cg.apply(&limits.to_resources()?)) {
                Ok(()) => return Ok(cg.clone()),
                Err(e) => {
                    cg.destroy();
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn check_controllers(&self, limits: &Limits) -> Result<(), CgroupError> {
        for (ctrl, [f1, f2]) in limits.needed_files() {
            if !self.dirs.iter().any(|d| d.join(f1).exists() || d.join(f2).exists()) {
                return Err(CgroupError::MissingController(ctrl));
            }
        }
        Ok(())
    }

    /// How often the processes ran into the memory and pids limits.
    pub fn limit_hits(&self) -> LimitHits {
        let mut h = LimitHits::default();
        for d in &self.dirs {
            limits::read_hits(d, &mut h);
        }
        h
    }

    fn version(dir: &Path) -> Version {
        if dir.join("cgroup.controllers").exists() {
            V2
        } else {
            V1
        }
    }

    /// Moves the calling process, which must be single-threaded, into the
    /// v1 hierarchies. Writing "0" to `tasks` moves the calling thread alone,
    /// which takes no RCU grace period (a `cgroup.procs` write waits for one,
    /// 10-20 ms here, after a quiet spell); in a one-thread process the
    /// thread is the process. The v2 hierarchy is [`Cgroup::add_v2`]'s.
    pub fn enter_v1(&self) -> Result<(), CgroupError> {
        for d in self.dirs.iter().filter(|d| Self::version(d) == V1) {
            write(&d.join("tasks"), "0")?;
        }
        Ok(())
    }

    /// Moves process `pid` into the v2 hierarchy, if the cgroup has one.
    pub fn add_v2(&self, pid: i32) -> Result<(), CgroupError> {
        for d in self.dirs.iter().filter(|d| Self::version(d) == V2) {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Applies memory, cpu, cpuset and pids limits.
    pub fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        for d in &self.dirs {
            match Self::version(d) {
                V1 => v1::apply(d, r)?,
                V2 => v2::apply(d, r)?,
            }
        }
        Ok(())
    }

    /// Host pids in the cgroup, in any of its hierarchies.
    pub fn pids(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.dirs.iter().flat_map(|d| listed(d, "cgroup.procs")).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn freezer(&self) -> Option<&PathBuf> {
        self.dirs.iter().find(|d| d.join("freezer.state").exists() || d.join("cgroup.freeze").exists())
    }

    /// Freezes (or thaws) every process in the cgroup and waits until done.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let d = self.freezer().ok_or(CgroupError::None)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let done = match Self::version(d) {
                V1 => {
                    write(&d.join("freezer.state"), if frozen { "FROZEN" } else { "THAWED" })?;
                    read(&d.join("freezer.state"))? == if frozen { "FROZEN" } else { "THAWED" }
                }
                V2 => {
                    write(&d.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
                    read(&d.join("cgroup.events"))?.lines().any(|l| l == if frozen { "frozen 1" } else { "frozen 0" })
                }
            };
            if done {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(CgroupError::FreezeTimeout { path: d.display().to_string() });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Statistics as runc's `events --stats` reports them.
    pub fn stats(&self) -> serde_json::Value {
        let mut out = serde_json::json!({});
        for d in &self.dirs {
            match Self::version(d) {
                V1 => v1::stats(d, &mut out),
                V2 => v2::stats(d, &mut out),
            }
        }
        out
    }

    /// SIGKILLs everything in the cgroup (thawing it first) until it is empty.
    pub fn kill_all(&self) {
        if self.dirs.is_empty() {
            return;
        }
        let _ = self.set_frozen(false);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pids = self.pids();
            if pids.is_empty() || Instant::now() > deadline {
                return;
            }
            for p in pids {
                // SAFETY: kill by pid; these processes are in the container's cgroup.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the directories (waiting up to 2 s in all for dying
    /// processes to leave them).
    pub fn destroy(&self) -> Vec<CgroupError> {
        let mut errs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        for d in &self.dirs {
            loop {
                match std::fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        errs.push(CgroupError::Busy { path: d.display().to_string(), tasks: listed(d, "tasks") });
                        break;
                    }
                    Err(e) => {
                        errs.push(io_err(d, e));
                        break;
                    }
                }
            }
        }
        errs
    }
}

/// The ids a cgroup directory's `file` lists (`cgroup.procs`, `tasks`).
fn listed(dir: &Path, file: &str) -> Vec<i32> {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}

use Version::{V1, V2};

/// The caller's cgroup in hierarchy `h`, from /proc/self/cgroup's text
/// ("0::/path" for v2, "N:ctrl,ctrl:/path" for v1).
fn own_path(self_cgroup: &str, h: &Hierarchy) -> Option<String> {
    self_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = match h.version {
            V2 => ctrls.is_empty(),
            V1 => {
                let mut a: Vec<&str> = ctrls.split(',').collect();
                let mut b: Vec<&str> = h.controllers.iter().map(String::as_str).collect();
                a.sort_unstable();
                b.sort_unstable();
                a == b
            }
        };
        matches.then(|| path.to_string())
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{own_path, resolve_path, Hierarchy, Version};

    #[test]
    fn cgroup_paths() {
        assert_eq!(resolve_path(None, "c1", false).unwrap(), PathBuf::from("/rvisor/c1"));
        assert_eq!(resolve_path(Some("/docker/abc"), "c1", false).unwrap(), PathBuf::from("/docker/abc"));
        assert_eq!(
            resolve_path(Some("system.slice:docker:abc"), "c1", true).unwrap(),
            PathBuf::from("/system.slice/docker-abc.scope")
        );
        assert_eq!(
            resolve_path(Some("machine-libpod.slice:libpod:xyz"), "c1", true).unwrap(),
            PathBuf::from("/machine.slice/machine-libpod.slice/libpod-xyz.scope")
        );
        assert_eq!(resolve_path(Some(":crio:x"), "c1", true).unwrap(), PathBuf::from("/system.slice/crio-x.scope"));
        assert!(resolve_path(Some("/a/../../etc"), "c1", false).is_err());
    }

    #[test]
    fn own_cgroup_per_hierarchy() {
        let text = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/x\n0::/u\n";
        let h = |v, c: &[&str]| Hierarchy {
            mount: PathBuf::from("/sys/fs/cgroup/x"),
            version: v,
            controllers: c.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(own_path(text, &h(Version::V1, &["memory"])).as_deref(), Some("/process_api/abc"));
        assert_eq!(own_path(text, &h(Version::V1, &["cpuacct", "cpu"])).as_deref(), Some("/x"));
        assert_eq!(own_path(text, &h(Version::V1, &["name=systemd"])).as_deref(), Some("/"));
        assert_eq!(own_path(text, &h(Version::V2, &[])).as_deref(), Some("/u"));
        assert_eq!(own_path(text, &h(Version::V1, &["pids"])), None);
    }
}
