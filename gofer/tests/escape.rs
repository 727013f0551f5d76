//! Nothing outside the served root is ever reached: not through symlinks
//! (absolute, relative, chains, magic links), not through "..", not through
//! races that swap path components for symlinks. A read-only server refuses
//! every change.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::{read_all, uid_gid, Served, TempDir};
use rvisor_gofer::protocol::{Fid, SetAttrReq, RENAME_EXCHANGE};
use rvisor_syscalls::Errno;

const SECRET: &[u8] = b"outside secret\n";

/// base/outside/secret (not served) and base/root (served).
fn layout() -> (TempDir, std::path::PathBuf) {
    let t = TempDir::new("escape");
    fs::create_dir_all(t.path().join("outside")).unwrap();
    fs::write(t.path().join("outside/secret"), SECRET).unwrap();
    let root = t.path().join("root");
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::write(root.join("sub/inside"), b"inside\n").unwrap();
    (t, root)
}

/// Walks `path` component by component and, if that reaches something,
/// opens and reads it. Returns the contents or the first error.
fn try_read(s: &Served, root: Fid, path: &str) -> Result<Vec<u8>, Errno> {
    let (fid, _) = s.walk_path(root, path)?;
    let fd = s.c().open(fid, libc::O_RDONLY);
    s.c().release(fid)?;
    Ok(read_all(fd?))
}

fn is_symlink(s: &Served, root: Fid, path: &str) -> bool {
    let Ok((fid, attr)) = s.walk_path(root, path) else {
        return false;
    };
    s.c().release(fid).is_ok() && attr.mode & libc::S_IFMT == libc::S_IFLNK
}

#[test]
fn symlinks_are_never_followed_out() {
    let (t, root) = layout();
    let secret = t.path().join("outside/secret");
    symlink("/etc/passwd", root.join("abs")).unwrap();
    symlink("../../../../etc/passwd", root.join("rel")).unwrap();
    symlink(&secret, root.join("abs-secret")).unwrap();
    symlink("../outside/secret", root.join("rel-secret")).unwrap();
    symlink("/", root.join("slash")).unwrap();
    symlink("..", root.join("up")).unwrap();
    // A relative chain: each hop climbs one level.
    symlink("../..", root.join("sub/deeper/c1")).unwrap();
    symlink("deeper/c1/..", root.join("sub/c2")).unwrap();
    symlink("sub/c2/outside/secret", root.join("c3")).unwrap();
    symlink("/proc/self/root/etc/passwd", root.join("magic")).unwrap();
    let s = Served::start(&root, false);
    let (r, _) = s.c().attach().unwrap();

    let mut attempts = 0;
    for path in ["abs", "rel", "abs-secret", "rel-secret", "c3", "sub/c2", "sub/deeper/c1", "magic", "slash", "up"] {
        attempts += 1;
        assert!(is_symlink(&s, r, path), "{path} is a symlink node");
        assert_eq!(try_read(&s, r, path).unwrap_err(), Errno::ELOOP, "{path}");
    }
    for path in ["slash/etc/passwd", "up/outside/secret", "sub/c2/outside/secret", "sub/deeper/c1/outside/secret"] {
        attempts += 1;
        assert_eq!(try_read(&s, r, path).unwrap_err(), Errno::ENOTDIR, "{path}");
    }
    assert_eq!(attempts, 14);
    // The link text is still readable: the sentry follows it in its own VFS.
    let (abs, _) = s.c().walk(r, b"abs").unwrap();
    assert_eq!(s.c().readlink(abs).unwrap(), b"/etc/passwd");
    assert_eq!(try_read(&s, r, "sub/inside").unwrap(), b"inside\n");
}

#[test]
fn dot_dot_and_bad_names_rejected() {
    let (_t, root) = layout();
    let s = Served::start(&root, false);
    let (r, _) = s.c().attach().unwrap();
    let (sub, _) = s.c().walk(r, b"sub").unwrap();
    for name in [&b".."[..], b".", b"../outside", b"sub/inside", b"a\0b"] {
        assert_eq!(s.c().walk(sub, name).unwrap_err(), Errno::EINVAL, "{name:?}");
        assert_eq!(s.c().walk(r, name).unwrap_err(), Errno::EINVAL, "{name:?}");
    }
    assert_eq!(s.c().walk(r, b"").unwrap_err(), Errno::ENOENT);
    assert_eq!(s.c().walk(r, &[b'x'; 256]).unwrap_err(), Errno::ENAMETOOLONG);
    let (uid, gid) = uid_gid();
    assert_eq!(s.c().mkdir(r, b"..", 0o755, uid, gid).unwrap_err(), Errno::EINVAL);
    assert_eq!(s.c().create(r, b"../x", libc::O_RDWR, 0o644, uid, gid).unwrap_err(), Errno::EINVAL);
    assert_eq!(s.c().rename(sub, b"inside", r, b"../stolen", 0).unwrap_err(), Errno::EINVAL);
    assert_eq!(s.c().symlink(r, b"l", &[b'x'; 4096], uid, gid).unwrap_err(), Errno::ENAMETOOLONG);
}

#[test]
fn hard_link_inside_root_is_readable() {
    let (t, root) = layout();
    // Made by the host, inside the root: it is part of the served tree.
    fs::hard_link(t.path().join("outside/secret"), root.join("hl")).unwrap();
    let s = Served::start(&root, false);
    let (r, _) = s.c().attach().unwrap();
    assert_eq!(try_read(&s, r, "hl").unwrap(), SECRET);
    // But a symlink named like it still is not followed.
    symlink(t.path().join("outside/secret"), root.join("sl")).unwrap();
    assert_eq!(try_read(&s, r, "sl").unwrap_err(), Errno::ELOOP);
}

#[test]
fn proc_magic_links_are_not_followed() {
    // Serving /proc itself: its magic links (self, N/root, N/cwd, N/fd/*)
    // must come back as link nodes that can be neither walked nor opened.
    let s = Served::start(Path::new("/proc"), true);
    let (r, _) = s.c().attach().unwrap();
    assert!(is_symlink(&s, r, "self"));
    assert_eq!(try_read(&s, r, "self/root/etc/passwd").unwrap_err(), Errno::ENOTDIR);
    let (one, _) = s.c().walk(r, b"1").unwrap();
    for link in ["root", "cwd", "exe"] {
        // Walking the link itself may be refused (EACCES/ELOOP) or give a link node.
        if let Ok((fid, attr)) = s.c().walk(one, link.as_bytes()) {
            assert_eq!(attr.mode & libc::S_IFMT, libc::S_IFLNK, "{link}");
            assert_eq!(s.c().walk(fid, b"etc").unwrap_err(), Errno::ENOTDIR);
            assert_eq!(s.c().open(fid, libc::O_RDONLY).unwrap_err(), Errno::ELOOP);
        }
    }
    assert!(try_read(&s, r, "1/root/etc/passwd").is_err());
}

#[test]
fn readonly_server_refuses_writes() {
    let (_t, root) = layout();
    let s = Served::start(&root, true);
    let (uid, gid) = uid_gid();
    let (r, _) = s.c().attach().unwrap();
    let (sub, _) = s.c().walk(r, b"sub").unwrap();
    let (f, _) = s.c().walk(sub, b"inside").unwrap();
    let rofs = Err(Errno::EROFS);
    assert_eq!(s.c().create(r, b"n", libc::O_RDWR, 0o644, uid, gid).map(|_| ()), rofs);
    assert_eq!(s.c().mkdir(r, b"n", 0o755, uid, gid).map(|_| ()), rofs);
    assert_eq!(s.c().mknod(r, b"n", libc::S_IFIFO | 0o644, uid, gid).map(|_| ()), rofs);
    assert_eq!(s.c().symlink(r, b"n", b"x", uid, gid).map(|_| ()), rofs);
    assert_eq!(s.c().link(r, b"n", f).map(|_| ()), rofs);
    assert_eq!(s.c().unlink(sub, b"inside", 0), rofs);
    assert_eq!(s.c().unlink(r, b"sub", libc::AT_REMOVEDIR as u32), rofs);
    assert_eq!(s.c().rename(sub, b"inside", r, b"moved", 0), rofs);
    assert_eq!(s.c().setattr(f, &SetAttrReq { mode: Some(0o777), ..Default::default() }).map(|_| ()), rofs);
    assert_eq!(s.c().setattr(f, &SetAttrReq { size: Some(0), ..Default::default() }).map(|_| ()), rofs);
    for flags in [libc::O_WRONLY, libc::O_RDWR, libc::O_RDONLY | libc::O_TRUNC] {
        assert_eq!(s.c().open(f, flags).map(|_| ()), rofs, "flags {flags:#x}");
    }
    // Reading still works, and nothing changed on disk.
    assert_eq!(read_all(s.c().open(f, libc::O_RDONLY).unwrap()), b"inside\n");
    assert!(s.c().stat(f).is_ok() && s.c().statfs(r).is_ok());
    assert_eq!(fs::read(root.join("sub/inside")).unwrap(), b"inside\n");
    assert!(!root.join("n").exists() && !root.join("moved").exists());
}

/// Runs `swap` in a loop on another thread while `attempt` runs at least `n` times;
/// returns (swaps done, attempts that read the inside file, attempts refused).
fn race(
    n: usize,
    swap: impl Fn() + Send + 'static,
    attempt: impl Fn() -> Result<Vec<u8>, Errno>,
) -> (usize, usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (stop, swaps) = (stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                swap();
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let (mut ok, mut refused, mut attempts) = (0, 0, 0);
    let passwd = fs::read("/etc/passwd").unwrap_or_default();
    // At least `n` attempts; more (up to 10x) if a loaded machine has not yet
    // let the swapper interleave enough to see both outcomes.
    while attempts < n || (attempts < 10 * n && (ok == 0 || refused == 0)) {
        attempts += 1;
        match attempt() {
            Ok(data) => {
                assert_ne!(data, SECRET, "read the outside file");
                assert!(passwd.is_empty() || data != passwd, "read the host's /etc/passwd");
                assert_eq!(data, b"inside\n");
                ok += 1;
            }
            Err(_) => refused += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(attempts >= n);
    assert_eq!(ok + refused, attempts);
    (swaps.load(Ordering::Relaxed), ok, refused)
}

/// renameat2(RENAME_EXCHANGE) of two host paths: atomically swaps them.
fn exchange(a: &Path, b: &Path) {
    let ca = std::ffi::CString::new(a.as_os_str().as_encoded_bytes()).unwrap();
    let cb = std::ffi::CString::new(b.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: both paths are NUL-terminated.
    let r = unsafe {
        libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), RENAME_EXCHANGE)
    };
    assert_eq!(r, 0, "exchange failed: {}", std::io::Error::last_os_error());
}

#[test]
fn directory_swapped_for_symlink_to_slash_race() {
    let (t, root) = layout();
    // root/d1 is alternately a real directory holding etc/passwd and a
    // symlink to "/"; root/d2 alternately a real directory holding
    // outside/secret and a symlink to the directory above the root.
    for (dir, file, alt_target) in [("d1", "etc/passwd", Path::new("/")), ("d2", "outside/secret", t.path())] {
        let real = root.join(dir).join(file);
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, b"inside\n").unwrap();
        symlink(alt_target, root.join(format!("{dir}-alt"))).unwrap();
    }
    let s = Served::start(&root, false);
    let (r, _) = s.c().attach().unwrap();
    for (dir, file) in [("d1", "etc/passwd"), ("d2", "outside/secret")] {
        let (d, alt) = (root.join(dir), root.join(format!("{dir}-alt")));
        let path = format!("{dir}/{file}");
        let (swaps, ok, refused) = race(2000, move || exchange(&d, &alt), || try_read(&s, r, &path));
        eprintln!("{path} race: {swaps} swaps, {ok} inside reads, {refused} refused");
        assert!(swaps > 0 && ok > 0 && refused > 0, "race not exercised: {swaps} {ok} {refused}");
    }
}

#[test]
fn final_component_swapped_for_symlink_race() {
    let (t, root) = layout();
    symlink(t.path().join("outside/secret"), root.join("sub/alt")).unwrap();
    let s = Served::start(&root, false);
    let (r, _) = s.c().attach().unwrap();
    // A fid walked while "inside" was the real file: every reopen of it must
    // give that file or fail, whatever the name points at meanwhile.
    let (held, _) = s.walk_path(r, "sub/inside").unwrap();
    let (a, b) = (root.join("sub/inside"), root.join("sub/alt"));
    let (swaps, ok, refused) = race(
        2000,
        move || exchange(&a, &b),
        || {
            if let Ok(data) = try_read(&s, r, "sub/inside") {
                return Ok(data);
            }
            Ok(read_all(s.c().open(held, libc::O_RDONLY)?))
        },
    );
    eprintln!("final-component race: {swaps} swaps, {ok} inside reads, {refused} refused");
    assert!(swaps > 0 && ok > 0, "race not exercised: {swaps} {ok} {refused}");
}
