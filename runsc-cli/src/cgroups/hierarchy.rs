//! Finding the mounted cgroup hierarchies and the caller's place in each.

use std::path::{Path, PathBuf};

use super::{io_err, write_file, CgroupError, Result};

/// A hierarchy's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// cgroup v1 with these controllers (e.g. `["cpu", "cpuacct"]`).
    V1(Vec<String>),
    /// The unified hierarchy.
    V2,
}

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    pub version: Version,
    /// The calling process's cgroup in it, relative to `mount`.
    pub own: PathBuf,
}

/// (mount point, mount root, fstype, super options) of each cgroup mount.
fn cgroup_mounts(mountinfo: &str) -> Vec<(PathBuf, String, String, String)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            let (root, mnt) = (pre.get(3)?, pre.get(4)?);
            let (fstype, opts) = (post.first()?, post.get(2).copied().unwrap_or(""));
            (*fstype == "cgroup" || *fstype == "cgroup2")
                .then(|| (PathBuf::from(unescape(mnt)), unescape(root), fstype.to_string(), opts.to_string()))
        })
        .collect()
}

/// mountinfo escapes spaces and a few other bytes as \ooo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo and /proc/self/cgroup texts into hierarchies.
pub(super) fn parse(mountinfo: &str, self_cgroup: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for (mount, root, fstype, opts) in cgroup_mounts(mountinfo) {
        let version = if fstype == "cgroup2" {
            Version::V2
        } else {
            let ctrls: Vec<String> = opts
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('=') && !o.starts_with("no") && !o.is_empty())
                .filter(|o| !matches!(*o, "relatime" | "noatime" | "xattr" | "clone_children" | "cpuset_v2_mode"))
                .map(str::to_string)
                .collect();
            if ctrls.is_empty() {
                continue; // a named hierarchy (name=systemd): no controllers, not ours to touch
            }
            Version::V1(ctrls)
        };
        // The caller's line: "0::/path" for v2, "N:ctrl,ctrl:/path" for v1.
        let own = self_cgroup.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let matches = match &version {
                Version::V2 => ctrls.is_empty(),
                Version::V1(c) => {
                    let mut a: Vec<&str> = ctrls.split(',').collect();
                    let mut b: Vec<&str> = c.iter().map(String::as_str).collect();
                    a.sort_unstable();
                    b.sort_unstable();
                    a == b
                }
            };
            matches.then(|| path.to_string())
        });
        let Some(own) = own else { continue };
        // Inside a cgroup namespace the mount root may be below "/".
        let rel = Path::new(&own).strip_prefix(&root).map(Path::to_path_buf).unwrap_or_else(|_| PathBuf::new());
        let rel = rel.strip_prefix("/").map(Path::to_path_buf).unwrap_or(rel);
        out.push(Hierarchy { mount, version, own: rel });
    }
    out
}

/// The hierarchies mounted in the caller's mount namespace.
pub fn mounted() -> Result<Vec<Hierarchy>> {
    let mi = Path::new("/proc/self/mountinfo");
    let cg = Path::new("/proc/self/cgroup");
    let hs =
        parse(&std::fs::read_to_string(mi).map_err(io_err(mi))?, &std::fs::read_to_string(cg).map_err(io_err(cg))?);
    if hs.is_empty() {
        return Err(CgroupError::NoCgroups);
    }
    Ok(hs)
}

/// The controllers a v2 cgroup directory offers its processes.
pub fn v2_controllers(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Enables `ctrls` in `cgroup.subtree_control` of every ancestor of `rel`
/// (creating the intermediate directories).
pub(super) fn enable_v2(mount: &Path, rel: &Path, ctrls: &[&str]) -> Result<()> {
    let value: Vec<String> = ctrls.iter().map(|c| format!("+{c}")).collect();
    let mut dir = mount.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for (i, comp) in comps.iter().enumerate() {
        write_file(&dir.join("cgroup.subtree_control"), &value.join(" "))?;
        dir.push(comp);
        if i + 1 < comps.len() {
            super::mkdir(&dir)?;
        }
    }
    Ok(())
}
