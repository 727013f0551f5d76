//! config.json mounts in the sandbox's terms, and their mount points in the
//! bundle's rootfs.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rvisor_sentry::boot::MountSource;

use super::{Bundle, SpecError};

/// What one spec mount becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A host file or directory served by the gofer.
    Bind {
        source: PathBuf,
        file: bool,
    },
    Proc,
    /// The sentry's /dev (standard devices), for a tmpfs or devtmpfs at /dev.
    Dev,
    Tmpfs {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// sysfs: the sentry's read-only sysfs describing the sandbox's CPUs.
    Sys,
    /// devpts: ptmx (no pty driver) and the sandbox's terminal as "0".
    Devpts,
    /// mqueue: the sandbox's POSIX message queues.
    Mqueue,
    /// cgroup/cgroup2: a read-only directory showing no limits.
    Cgroup,
    /// linux.maskedPaths entry.
    Masked,
    /// linux.readonlyPaths entry.
    ReadonlyPath,
    /// linux.devices entry: `mode` holds the file type and permissions.
    Device {
        mode: u32,
        major: u32,
        minor: u32,
        uid: u32,
        gid: u32,
    },
}

impl Kind {
    /// Whether a mount point is made in the host rootfs for it (as runc
    /// does): not for masks, read-only remounts and device nodes, which
    /// only exist in the sandbox.
    pub fn needs_host_mountpoint(&self) -> bool {
        !matches!(self, Kind::Masked | Kind::ReadonlyPath | Kind::Device { .. })
    }

    /// What the sentry mounts for a kind other than a bind mount (whose
    /// source is a gofer connection the launcher makes).
    pub fn sentry_source(&self) -> Option<MountSource> {
        Some(match *self {
            Kind::Bind { .. } => return None,
            Kind::Proc => MountSource::Proc,
            Kind::Dev => MountSource::Dev,
            Kind::Tmpfs { mode, uid, gid } => MountSource::Tmpfs { mode, uid, gid },
            Kind::Sys => MountSource::Sysfs,
            Kind::Devpts => MountSource::Devpts,
            Kind::Mqueue => MountSource::Mqueue,
            Kind::Cgroup => MountSource::Cgroup,
            Kind::Masked => MountSource::Mask,
            Kind::ReadonlyPath => MountSource::ReadonlyAgain,
            Kind::Device { mode, major, minor, uid, gid } => {
                MountSource::Node { mode, rdev: libc::makedev(major, minor), uid, gid }
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// Absolute, normalised path inside the sandbox.
    pub dest: String,
    pub kind: Kind,
    pub readonly: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
}

/// Normalises an absolute sandbox path; rejects ".." (it could leave the rootfs).
fn clean_dest(p: &Path) -> Option<String> {
    if !p.is_absolute() {
        return None;
    }
    let mut out = String::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => {
                out.push('/');
                out.push_str(n.to_str()?);
            }
            _ => return None,
        }
    }
    Some(if out.is_empty() { "/".into() } else { out })
}

fn octal_opt(opts: &[String], key: &str) -> Option<u32> {
    opts.iter().find_map(|o| o.strip_prefix(key).and_then(|v| u32::from_str_radix(v, 8).ok()))
}

fn num_opt(opts: &[String], key: &str) -> Option<u32> {
    opts.iter().find_map(|o| o.strip_prefix(key).and_then(|v| v.parse().ok()))
}

/// The mounts the sandbox gets, in spec order; kinds the sentry has no file
/// system for (devpts, mqueue, cgroup) are left out with a log line.
pub fn plan(b: &Bundle) -> Result<Vec<Planned>, SpecError> {
    let mut out = Vec::new();
    for m in b.spec.mounts().iter().flatten() {
        let shown = m.destination().display().to_string();
        let bad = |reason: &str| SpecError::BadMount { dest: shown.clone(), reason: reason.to_string() };
        let dest =
            clean_dest(m.destination()).ok_or_else(|| bad("destination must be an absolute path without \"..\""))?;
        let opts = m.options().clone().unwrap_or_default();
        let has = |o: &str| opts.iter().any(|x| x == o);
        let typ = m.typ().clone().unwrap_or_default();
        let kind = if has("bind") || has("rbind") || typ == "bind" {
            let src = m.source().clone().ok_or_else(|| bad("bind mount without a source"))?;
            let src = if src.is_absolute() { src } else { b.dir.join(src) };
            let meta = std::fs::metadata(&src).map_err(|e| bad(&format!("source {}: {e}", src.display())))?;
            Kind::Bind { source: src, file: !meta.is_dir() }
        } else {
            match typ.as_str() {
                "proc" => Kind::Proc,
                "tmpfs" | "devtmpfs" if dest == "/dev" => Kind::Dev,
                "tmpfs" => Kind::Tmpfs {
                    mode: octal_opt(&opts, "mode=").unwrap_or(0o1777) & 0o7777,
                    uid: num_opt(&opts, "uid=").unwrap_or(0),
                    gid: num_opt(&opts, "gid=").unwrap_or(0),
                },
                "sysfs" => Kind::Sys,
                "devpts" => Kind::Devpts,
                "mqueue" => Kind::Mqueue,
                "cgroup" | "cgroup2" => Kind::Cgroup,
                "securityfs" | "debugfs" => {
                    tracing::debug!(dest, typ, "mount type not provided by the sentry; skipped");
                    continue;
                }
                "" => return Err(bad("mount has no type")),
                other => return Err(bad(&format!("unsupported mount type {other:?}"))),
            }
        };
        out.push(Planned {
            dest,
            readonly: has("ro") || matches!(kind, Kind::Sys | Kind::Cgroup),
            nosuid: has("nosuid"),
            nodev: has("nodev"),
            noexec: has("noexec"),
            kind,
        });
    }
    plan_linux(b, &mut out)?;
    Ok(out)
}

/// Device nodes, then read-only and masked paths (after all mounts, as runc
/// applies them), from the spec's linux section.
fn plan_linux(b: &Bundle, out: &mut Vec<Planned>) -> Result<(), SpecError> {
    let Some(linux) = b.spec.linux() else { return Ok(()) };
    let plain =
        |dest: String, kind: Kind| Planned { dest, kind, readonly: false, nosuid: false, nodev: false, noexec: false };
    for d in linux.devices().iter().flatten() {
        let shown = d.path().display().to_string();
        let bad = |reason: &str| SpecError::BadDevice { path: shown.clone(), reason: reason.to_string() };
        let dest = clean_dest(d.path()).ok_or_else(|| bad("path must be absolute without \"..\""))?;
        if dest == "/" {
            return Err(bad("path must name a file"));
        }
        use oci_spec::runtime::LinuxDeviceType as T;
        let ftype = match d.typ() {
            T::C | T::U => libc::S_IFCHR,
            T::B => libc::S_IFBLK,
            T::P => libc::S_IFIFO,
            T::A => return Err(bad("type \"a\" is only valid in device cgroup rules")),
        };
        let (major, minor) = (d.major(), d.minor());
        if ftype != libc::S_IFIFO && (!(0..=0xfff).contains(&major) || !(0..=0xf_ffff).contains(&minor)) {
            return Err(bad("major or minor number out of range"));
        }
        let mode = d.file_mode().unwrap_or(0o666);
        // Some engines send the file type bits too; they must agree with type.
        let tbits = mode & libc::S_IFMT;
        if tbits != 0 && tbits != ftype || mode & !(libc::S_IFMT | 0o7777) != 0 {
            return Err(bad("fileMode does not match the device type"));
        }
        let perm = mode & 0o7777;
        let kind = Kind::Device {
            mode: ftype | perm,
            major: major as u32,
            minor: minor as u32,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        out.push(plain(dest, kind));
    }
    // Device cgroup rules: validated, not applied (docs/oci.md: the sandbox
    // reaches no host device; its devices are the sentry's emulations).
    let rules = linux.resources().as_ref().and_then(|r| r.devices().clone()).unwrap_or_default();
    for r in rules {
        let access = r.access().clone().unwrap_or_default();
        if access.chars().any(|c| !"rwm".contains(c)) {
            return Err(SpecError::BadDevice {
                path: "linux.resources.devices".into(),
                reason: format!("access {access:?} is not made of r, w and m"),
            });
        }
    }
    // Read-only remounts first, as runc does: a mask below a read-only
    // path must go on the remount, or the remount would cover it.
    for (list, kind) in [(linux.readonly_paths(), Kind::ReadonlyPath), (linux.masked_paths(), Kind::Masked)] {
        for p in list.iter().flatten() {
            let dest = clean_dest(Path::new(p)).ok_or_else(|| SpecError::BadMount {
                dest: p.clone(),
                reason: "masked and read-only paths must be absolute without \"..\"".into(),
            })?;
            if dest == "/" {
                return Err(SpecError::BadMount { dest: p.clone(), reason: "cannot mask or remount /".into() });
            }
            out.push(plain(dest, kind.clone()));
        }
    }
    Ok(())
}

fn cstr(s: &str) -> std::io::Result<CString> {
    CString::new(s).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

/// openat2(root, rel, O_PATH, RESOLVE_IN_ROOT): symlinks in the rootfs
/// resolve inside it, never to the host.
fn open_in_root(root: &OwnedFd, rel: &str, extra: u64) -> std::io::Result<OwnedFd> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_IN_ROOT: u64 = 0x10;
    const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
    let c = cstr(if rel.is_empty() { "." } else { rel })?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64 | extra,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: c is NUL-terminated and how is a valid open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    } as i32;
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates a missing mount point `dest` (a directory, or an empty file for a
/// file bind mount) in the host rootfs, as runc does. Symlinks resolve
/// inside the rootfs.
pub fn ensure_mountpoint(rootfs: &Path, dest: &str, dir: bool) -> std::io::Result<()> {
    let root = {
        let c = cstr(&rootfs.to_string_lossy())?;
        // SAFETY: c is NUL-terminated.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is fresh and ours.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    let comps: Vec<&str> = dest.split('/').filter(|c| !c.is_empty()).collect();
    for i in 1..=comps.len() {
        let rel = comps[..i].join("/");
        match open_in_root(&root, &rel, 0) {
            Ok(_) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let parent = open_in_root(&root, &comps[..i - 1].join("/"), libc::O_DIRECTORY as u64)?;
        let name = cstr(comps[i - 1])?;
        let last = i == comps.len();
        // SAFETY: *at calls relative to our O_PATH directory fd with a NUL-terminated name.
        let r = unsafe {
            if last && !dir {
                let fd = libc::openat(
                    parent.as_raw_fd(),
                    name.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                    0o644,
                );
                if fd >= 0 {
                    libc::close(fd);
                }
                fd.min(0)
            } else {
                libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), 0o755)
            }
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(e);
            }
        }
    }
    Ok(())
}
