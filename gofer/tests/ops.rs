//! Each request against a real temporary tree.

mod common;

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{read_all, uid_gid, Served, TempDir};
use rvisor_gofer::client::RELEASE_BATCH;
use rvisor_gofer::protocol::{
    Fid, Request, Response, SetAttrReq, AT_REMOVEDIR, MAX_MESSAGE, RENAME_EXCHANGE, RENAME_NOREPLACE, UTIME_NOW,
    UTIME_OMIT,
};
use rvisor_gofer::transport;
use rvisor_syscalls::abi::Timespec;
use rvisor_syscalls::Errno;

const S_IFMT: u32 = libc::S_IFMT;

fn tree() -> TempDir {
    let t = TempDir::new("ops");
    fs::create_dir(t.path().join("a")).unwrap();
    fs::write(t.path().join("a/hello"), b"hi there").unwrap();
    t
}

#[test]
fn walk_open_read() {
    let t = tree();
    let s = Served::start(t.path(), false);
    let (root, rattr) = s.c().attach().unwrap();
    assert_eq!(rattr.mode & S_IFMT, libc::S_IFDIR);
    let (a, aattr) = s.c().walk(root, b"a").unwrap();
    assert_eq!(aattr.mode & S_IFMT, libc::S_IFDIR);
    let (f, fattr) = s.c().walk(a, b"hello").unwrap();
    assert_eq!(fattr.size, 8);
    assert_eq!(fattr.ino, fs::metadata(t.path().join("a/hello")).unwrap().ino());
    assert_eq!(read_all(s.c().open(f, libc::O_RDONLY).unwrap()), b"hi there");
    assert_eq!(s.c().walk(a, b"missing").unwrap_err(), Errno::ENOENT);
    assert_eq!(s.c().walk(f, b"x").unwrap_err(), Errno::ENOTDIR);
    // A directory opens read-only as a directory fd.
    let dfd = s.c().open(a, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
    assert!(fs::metadata(format!("/proc/self/fd/{}", dfd.as_raw_fd())).unwrap().is_dir());
    assert_eq!(s.c().open(a, libc::O_RDWR).unwrap_err(), Errno::EISDIR);
    assert_eq!(s.c().open(f, libc::O_RDONLY | libc::O_DIRECTORY).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(s.c().open(f, libc::O_ACCMODE).unwrap_err(), Errno::EINVAL);
    assert_eq!(s.c().open(f, libc::O_RDWR | libc::O_CREAT).unwrap_err(), Errno::EINVAL);
    // O_TRUNC truncates, O_APPEND appends.
    let mut w = fs::File::from(s.c().open(f, libc::O_WRONLY | libc::O_APPEND).unwrap());
    w.write_all(b"!").unwrap();
    assert_eq!(fs::read(t.path().join("a/hello")).unwrap(), b"hi there!");
    drop(s.c().open(f, libc::O_WRONLY | libc::O_TRUNC).unwrap());
    assert_eq!(s.c().stat(f).unwrap().size, 0);
}

#[test]
fn create_mkdir_mknod() {
    let t = tree();
    let s = Served::start(t.path(), false);
    let (uid, gid) = uid_gid();
    let (root, _) = s.c().attach().unwrap();
    // Mode is exactly as asked: the gofer's umask does not apply.
    let (f, attr, fd) = s.c().create(root, b"new", libc::O_RDWR, 0o666, uid, gid).unwrap();
    assert_eq!(attr.mode, libc::S_IFREG | 0o666);
    fs::File::from(fd).write_all(b"12345").unwrap();
    assert_eq!(s.c().stat(f).unwrap().size, 5);
    assert_eq!(fs::read(t.path().join("new")).unwrap(), b"12345");
    assert_eq!(s.c().create(root, b"new", libc::O_RDWR, 0o600, uid, gid).unwrap_err(), Errno::EEXIST);
    std::os::unix::fs::symlink("/tmp/nowhere-gofer-test", t.path().join("dangling")).unwrap();
    assert_eq!(s.c().create(root, b"dangling", libc::O_RDWR, 0o600, uid, gid).unwrap_err(), Errno::EEXIST);
    assert!(!std::path::Path::new("/tmp/nowhere-gofer-test").exists());

    let (d, dattr) = s.c().mkdir(root, b"dir", 0o777, uid, gid).unwrap();
    assert_eq!(dattr.mode, libc::S_IFDIR | 0o777);
    let (_, cattr, _) = s.c().create(d, b"inner", libc::O_WRONLY, 0o600, uid, gid).unwrap();
    assert_eq!(cattr.mode, libc::S_IFREG | 0o600);
    assert!(t.path().join("dir/inner").is_file());

    let (_, fifo) = s.c().mknod(root, b"fifo", libc::S_IFIFO | 0o640, uid, gid).unwrap();
    assert_eq!(fifo.mode, libc::S_IFIFO | 0o640);
    let (_, sock) = s.c().mknod(root, b"sock", libc::S_IFSOCK | 0o600, uid, gid).unwrap();
    assert_eq!(sock.mode & S_IFMT, libc::S_IFSOCK);
    let (reg, _) = s.c().mknod(root, b"plain", 0o644, uid, gid).unwrap();
    assert_eq!(s.c().stat(reg).unwrap().mode, libc::S_IFREG | 0o644);
    assert_eq!(s.c().mknod(root, b"dev", libc::S_IFCHR | 0o600, uid, gid).unwrap_err(), Errno::EPERM);
    assert!(!t.path().join("dev").exists());

    // Owner is the caller's (the gofer runs as root in CI; otherwise only our own ids work).
    if uid == 0 {
        let (_, oattr, _) = s.c().create(root, b"owned", libc::O_RDONLY, 0o644, 1234, 5678).unwrap();
        assert_eq!((oattr.uid, oattr.gid), (1234, 5678));
        assert_eq!(fs::metadata(t.path().join("owned")).unwrap().uid(), 1234);
        let (_, dattr) = s.c().mkdir(root, b"owned-dir", 0o2755, 1234, 5678).unwrap();
        assert_eq!((dattr.uid, dattr.gid, dattr.mode & 0o7777), (1234, 5678, 0o2755));
    }
}

#[test]
fn symlink_readlink_link() {
    let t = tree();
    let s = Served::start(t.path(), false);
    let (uid, gid) = uid_gid();
    let (root, _) = s.c().attach().unwrap();
    let (l, lattr) = s.c().symlink(root, b"ln", b"a/hello", uid, gid).unwrap();
    assert_eq!(lattr.mode & S_IFMT, libc::S_IFLNK);
    assert_eq!(s.c().readlink(l).unwrap(), b"a/hello");
    assert_eq!(fs::read_link(t.path().join("ln")).unwrap().to_str(), Some("a/hello"));
    // The gofer never follows it, even when the target is inside.
    assert_eq!(s.c().open(l, libc::O_RDONLY).unwrap_err(), Errno::ELOOP);
    let (w, _) = s.c().walk(root, b"ln").unwrap();
    assert_eq!(s.c().readlink(w).unwrap(), b"a/hello");
    assert_eq!(s.c().readlink(root).unwrap_err(), Errno::EINVAL);
    assert_eq!(s.c().symlink(root, b"ln", b"x", uid, gid).unwrap_err(), Errno::EEXIST);

    let (a, _) = s.c().walk(root, b"a").unwrap();
    let (f, _) = s.c().walk(a, b"hello").unwrap();
    let attr = s.c().link(root, b"hard", f).unwrap();
    assert_eq!(attr.nlink, 2);
    assert_eq!(fs::read(t.path().join("hard")).unwrap(), b"hi there");
    assert_eq!(s.c().link(root, b"dirlink", a).unwrap_err(), Errno::EPERM);
    // A hard link to a symlink links the symlink itself.
    s.c().link(root, b"ln2", l).unwrap();
    assert_eq!(fs::read_link(t.path().join("ln2")).unwrap().to_str(), Some("a/hello"));
}

#[test]
fn rename_and_unlink_keep_fids_right() {
    let t = tree();
    let s = Served::start(t.path(), false);
    let (root, _) = s.c().attach().unwrap();
    let (a, _) = s.c().walk(root, b"a").unwrap();
    let (f, _) = s.c().walk(a, b"hello").unwrap();
    // Renamed through another fid of the same directory: the old fid follows it.
    let (a2, _) = s.c().walk(root, b"a").unwrap();
    s.c().rename(a2, b"hello", root, b"moved", 0).unwrap();
    assert!(t.path().join("moved").is_file());
    assert_eq!(read_all(s.c().open(f, libc::O_RDONLY).unwrap()), b"hi there");

    fs::write(t.path().join("other"), b"other").unwrap();
    assert_eq!(s.c().rename(root, b"moved", root, b"other", RENAME_NOREPLACE).unwrap_err(), Errno::EEXIST);
    s.c().rename(root, b"moved", root, b"other", RENAME_EXCHANGE).unwrap();
    assert_eq!(fs::read(t.path().join("other")).unwrap(), b"hi there");
    assert_eq!(read_all(s.c().open(f, libc::O_RDONLY).unwrap()), b"hi there");
    assert_eq!(s.c().rename(root, b"moved", root, b"x", 0x4 /* RENAME_WHITEOUT */).unwrap_err(), Errno::EINVAL);

    // Overwritten by a rename: the victim's fid can no longer be opened.
    let (victim, _) = s.c().walk(root, b"moved").unwrap();
    s.c().rename(root, b"other", root, b"moved", 0).unwrap();
    assert_eq!(s.c().open(victim, libc::O_RDONLY).unwrap_err(), Errno::ENOENT);
    assert_eq!(read_all(s.c().open(f, libc::O_RDONLY).unwrap()), b"hi there");

    // Unlinked: its fid still stats (nlink 0) but cannot be reopened.
    s.c().unlink(root, b"moved", 0).unwrap();
    assert!(!t.path().join("moved").exists());
    assert_eq!(s.c().stat(f).unwrap().nlink, 0);
    assert_eq!(s.c().open(f, libc::O_RDONLY).unwrap_err(), Errno::ENOENT);
    assert_eq!(s.c().unlink(root, b"a", 0).unwrap_err(), Errno::EISDIR);
    assert_eq!(s.c().unlink(root, b"a", 0x1000).unwrap_err(), Errno::EINVAL);
    s.c().unlink(root, b"a", AT_REMOVEDIR).unwrap();
    assert!(!t.path().join("a").exists());
    assert_eq!(s.c().unlink(root, b"a", AT_REMOVEDIR).unwrap_err(), Errno::ENOENT);
}

#[test]
fn setattr_and_statfs() {
    let t = tree();
    let s = Served::start(t.path(), false);
    let (root, _) = s.c().attach().unwrap();
    let (a, _) = s.c().walk(root, b"a").unwrap();
    let (f, _) = s.c().walk(a, b"hello").unwrap();
    let path = t.path().join("a/hello");

    let attr = s.c().setattr(f, &SetAttrReq { mode: Some(0o4711), ..Default::default() }).unwrap();
    assert_eq!(attr.mode, libc::S_IFREG | 0o4711);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o4711);
    let attr = s.c().setattr(a, &SetAttrReq { mode: Some(0o700), ..Default::default() }).unwrap();
    assert_eq!(attr.mode, libc::S_IFDIR | 0o700);
    assert!(s.c().setattr(f, &SetAttrReq { mode: Some(0o100644), ..Default::default() }).is_err());

    let attr = s.c().setattr(f, &SetAttrReq { size: Some(3), ..Default::default() }).unwrap();
    assert_eq!(attr.size, 3);
    assert_eq!(fs::read(&path).unwrap(), b"hi ");
    assert_eq!(s.c().setattr(a, &SetAttrReq { size: Some(0), ..Default::default() }).unwrap_err(), Errno::EISDIR);

    let t1 = Timespec { tv_sec: 1_000_000, tv_nsec: 5 };
    let t2 = Timespec { tv_sec: 2_000_000, tv_nsec: 7 };
    let attr = s.c().setattr(f, &SetAttrReq { atime: t1, mtime: t2, ..Default::default() }).unwrap();
    assert_eq!((attr.atime, attr.mtime), (t1, t2));
    let omit = Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT };
    let now = Timespec { tv_sec: 0, tv_nsec: UTIME_NOW };
    let attr = s.c().setattr(f, &SetAttrReq { atime: omit, mtime: now, ..Default::default() }).unwrap();
    assert_eq!(attr.atime, t1);
    assert!(attr.mtime.tv_sec > t2.tv_sec);

    let (uid, gid) = uid_gid();
    if uid == 0 {
        let attr = s.c().setattr(f, &SetAttrReq { uid: Some(42), gid: Some(43), ..Default::default() }).unwrap();
        assert_eq!((attr.uid, attr.gid), (42, 43));
        let attr = s.c().setattr(f, &SetAttrReq { gid: Some(gid), ..Default::default() }).unwrap();
        assert_eq!((attr.uid, attr.gid), (42, gid));
    }
    // Symlinks: times and owner change the link itself, never its target.
    let target_before = fs::metadata("/etc/passwd").unwrap().mtime();
    let (l, _) = s.c().symlink(root, b"l", b"/etc/passwd", uid, gid).unwrap();
    let attr = s.c().setattr(l, &SetAttrReq { mtime: t1, ..Default::default() }).unwrap();
    assert_eq!(attr.mtime, t1);
    assert_eq!(fs::metadata("/etc/passwd").unwrap().mtime(), target_before);
    assert_eq!(s.c().setattr(l, &SetAttrReq { size: Some(0), ..Default::default() }).unwrap_err(), Errno::EINVAL);

    let st = s.c().statfs(root).unwrap();
    assert!(st.f_bsize > 0 && st.f_namelen > 0);
}

#[test]
fn release_and_clean_exit() {
    let t = tree();
    let mut s = Served::start(t.path(), false);
    let (root, _) = s.c().attach().unwrap();
    let (a, _) = s.c().walk(root, b"a").unwrap();
    // Releases wait for a batch: the fid works until the batch goes.
    s.c().release(a).unwrap();
    assert!(s.c().stat(a).is_ok());
    s.c().flush_releases().unwrap();
    assert_eq!(s.c().stat(a).unwrap_err(), Errno::EBADF);
    s.c().release(a).unwrap();
    assert_eq!(s.c().flush_releases().unwrap_err(), Errno::EBADF);
    assert_eq!(s.c().walk(Fid(999_999), b"a").unwrap_err(), Errno::EBADF);
    // A full batch goes at once; an unknown fid in it does not keep the
    // others from being released.
    let fids: Vec<Fid> = (0..RELEASE_BATCH).map(|_| s.c().walk(root, b"a").unwrap().0).collect();
    s.c().release(Fid(999_998)).unwrap();
    let mut last = Ok(());
    for f in &fids[..RELEASE_BATCH - 1] {
        last = s.c().release(*f);
    }
    assert_eq!(last.unwrap_err(), Errno::EBADF);
    assert!(fids[..RELEASE_BATCH - 1].iter().all(|f| s.c().stat(*f).unwrap_err() == Errno::EBADF));
    assert!(s.c().stat(fids[RELEASE_BATCH - 1]).is_ok());
    // The root fid stays usable after another root fid is released.
    let (root2, _) = s.c().attach().unwrap();
    s.c().release(root2).unwrap();
    s.c().flush_releases().unwrap();
    assert!(s.c().walk(root, b"a").is_ok());
    assert!(s.stop().is_ok());
}

#[test]
fn hostile_messages_get_errors_and_server_survives() {
    let t = tree();
    let (ours, theirs) = transport::socketpair().unwrap();
    let root = rvisor_gofer::open_root(t.path()).unwrap();
    let server = std::thread::spawn(move || rvisor_gofer::serve(theirs, root, false));
    let ask = |bytes: &[u8], fd: Option<std::os::fd::BorrowedFd<'_>>| {
        transport::send(ours.as_fd(), bytes, fd.as_slice()).unwrap();
        let mut buf = vec![0; MAX_MESSAGE + 1];
        let msg = transport::recv(ours.as_fd(), &mut buf).unwrap();
        assert!(msg.fds.is_empty());
        Response::decode(&buf[..msg.len]).unwrap()
    };
    // Garbage, a lone byte, an unknown opcode, a truncated walk.
    assert_eq!(ask(&[7, 0, 0, 0, 200], None), (7, Response::Error(Errno::ENOSYS)));
    assert_eq!(ask(&[1], None).1, Response::Error(Errno::EINVAL));
    let walk = Request::Walk { fid: Fid(1), name: b"a".to_vec() }.encode(9).unwrap();
    assert_eq!(ask(&walk[..walk.len() - 1], None), (9, Response::Error(Errno::EINVAL)));
    // ".." and a name with '/' encoded by hand (the client refuses to send them).
    for bad in [&b".."[..], b"a/../..", b"."] {
        let mut m = vec![3, 0, 0, 0, 2];
        m.extend_from_slice(&1u64.to_le_bytes());
        m.extend_from_slice(&(bad.len() as u16).to_le_bytes());
        m.extend_from_slice(bad);
        assert_eq!(ask(&m, None), (3, Response::Error(Errno::EINVAL)));
    }
    // A name length beyond 255.
    let mut m = vec![4, 0, 0, 0, 2];
    m.extend_from_slice(&1u64.to_le_bytes());
    m.extend_from_slice(&300u16.to_le_bytes());
    m.extend_from_slice(&[b'a'; 300]);
    assert_eq!(ask(&m, None), (4, Response::Error(Errno::ENAMETOOLONG)));
    // Oversized message.
    let big = vec![0u8; MAX_MESSAGE * 2];
    assert_eq!(ask(&big, None).1, Response::Error(Errno::EMSGSIZE));
    // A request carrying an fd: answered normally, the fd is closed by the server.
    let devnull = fs::File::open("/dev/null").unwrap();
    let attach = Request::Attach.encode(11).unwrap();
    assert!(matches!(ask(&attach, Some(devnull.as_fd())), (11, Response::Node { .. })));
    // Still serving real requests.
    let walk = Request::Walk { fid: Fid(1), name: b"a".to_vec() }.encode(12).unwrap();
    assert!(matches!(ask(&walk, None), (12, Response::Node { .. })));
    drop(ours);
    assert!(server.join().unwrap().is_ok());
}

#[test]
fn open_refuses_devices_and_handles_fifos() {
    let t = tree();
    let s = Served::start(t.path(), false);
    let (uid, gid) = uid_gid();
    let (root, _) = s.c().attach().unwrap();
    let (fifo, _) = s.c().mknod(root, b"fifo", libc::S_IFIFO | 0o600, uid, gid).unwrap();
    // Would block forever if the server opened it blocking.
    drop(s.c().open(fifo, libc::O_RDONLY).unwrap());
    if uid == 0 {
        // A device node placed in the tree from outside is never opened.
        let c = std::ffi::CString::new(t.path().join("null").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: c is NUL-terminated; makedev(1, 3) is /dev/null.
        let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        if r == 0 {
            let (dev, _) = s.c().walk(root, b"null").unwrap();
            assert_eq!(s.c().open(dev, libc::O_RDONLY).unwrap_err(), Errno::EACCES);
        }
    }
}
