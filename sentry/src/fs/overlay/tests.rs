use super::*;
use crate::fs::tmpfs::new_tmpfs;
use crate::vfs::{Timespec, S_IFIFO};

fn creds(uid: u32, gid: u32) -> FsCreds {
    FsCreds { uid, gid, groups: vec![] }
}

fn args(mode: u32, c: &FsCreds) -> CreateArgs<'_> {
    CreateArgs { mode, rdev: 0, flags: libc::O_RDWR, creds: c }
}

fn mkfile(dir: &Arc<dyn Inode>, name: &str, data: &[u8]) -> Arc<dyn Inode> {
    let c = creds(0, 0);
    let (inode, ops) = dir.create(name.as_bytes(), &args(S_IFREG | 0o644, &c)).unwrap();
    assert_eq!(ops.write(data, 0).unwrap(), data.len());
    inode
}

fn mkdir(dir: &Arc<dyn Inode>, name: &str) -> Arc<dyn Inode> {
    let c = creds(0, 0);
    dir.mkdir(name.as_bytes(), &args(S_IFDIR | 0o755, &c)).unwrap()
}

fn contents(inode: &Arc<dyn Inode>) -> Vec<u8> {
    let ops = inode.open(libc::O_RDONLY).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 5];
    loop {
        let n = ops.read(&mut buf, out.len() as u64).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn names(dir: &Arc<dyn Inode>) -> Vec<String> {
    let mut v: Vec<String> = dir.readdir().unwrap().into_iter().map(|e| String::from_utf8(e.name).unwrap()).collect();
    v.sort();
    v
}

fn walk(root: &Arc<dyn Inode>, path: &str) -> VfsResult<Arc<dyn Inode>> {
    let mut cur = root.clone();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        cur = cur.lookup(c.as_bytes())?;
    }
    Ok(cur)
}

const OLD: Timespec = Timespec { tv_sec: 1_000_000, tv_nsec: 0 };

/// lower: etc/{passwd,hosts}, dir/{a,b}, empty/, deep/x/y/file, link -> etc/passwd, secret (uid 1000, 0600)
struct Fixture {
    lower: Arc<dyn Inode>,
    upper: Arc<dyn Inode>,
    ov: Arc<dyn Inode>,
}

fn fixture() -> Fixture {
    let lower = new_tmpfs(0o755, 0, 0);
    let etc = mkdir(&lower, "etc");
    mkfile(&etc, "passwd", b"root:x:0:0");
    mkfile(&etc, "hosts", b"127.0.0.1 localhost");
    let dir = mkdir(&lower, "dir");
    mkfile(&dir, "a", b"A");
    mkfile(&dir, "b", b"B");
    mkdir(&lower, "empty");
    let deep = mkdir(&lower, "deep");
    let x = mkdir(&deep, "x");
    x.setattr(&SetAttr { mode: Some(0o700), uid: Some(7), gid: Some(8), ..Default::default() }).unwrap();
    let y = mkdir(&x, "y");
    mkfile(&y, "file", b"deep data");
    let c = creds(0, 0);
    lower.symlink(b"link", b"etc/passwd", &c).unwrap();
    let s = mkfile(&lower, "secret", b"s3cret");
    s.setattr(&SetAttr {
        mode: Some(0o600),
        uid: Some(1000),
        gid: Some(1000),
        mtime: Some(TimeSet::At(OLD)),
        ..Default::default()
    })
    .unwrap();
    for d in [&x, &y] {
        d.setattr(&SetAttr { mtime: Some(TimeSet::At(OLD)), ..Default::default() }).unwrap();
    }
    let upper = new_tmpfs(0o755, 0, 0);
    let ov = new_overlay(lower.clone(), upper.clone());
    Fixture { lower, upper, ov }
}

#[test]
fn reads_lower_without_copy_up() {
    let f = fixture();
    assert_eq!(names(&f.ov), vec!["deep", "dir", "empty", "etc", "link", "secret"]);
    let pw = walk(&f.ov, "etc/passwd").unwrap();
    assert_eq!(contents(&pw), b"root:x:0:0");
    let ops = pw.open(libc::O_RDONLY).unwrap();
    assert!(ops.host_fd().is_some());
    assert_eq!(ops.attr().unwrap().ino, pw.attr().unwrap().ino);
    assert_eq!(ops.attr().unwrap().dev, pw.attr().unwrap().dev);
    assert!(f.upper.readdir().unwrap().is_empty());
    let a = walk(&f.ov, "secret").unwrap().attr().unwrap();
    assert_eq!((a.mode, a.uid, a.gid, a.mtime), (S_IFREG | 0o600, 1000, 1000, OLD));
    assert_eq!(walk(&f.ov, "link").unwrap().readlink().unwrap(), b"etc/passwd");
    assert_eq!(walk(&f.ov, "etc/nope").err(), Some(Errno::ENOENT));
    assert_eq!(f.ov.statfs().unwrap().f_type, OVERLAYFS_SUPER_MAGIC);
    // Lookups are stable: the same object each time.
    assert!(Arc::ptr_eq(&walk(&f.ov, "etc/passwd").unwrap(), &pw));
}

#[test]
fn write_copies_up_and_leaves_lower_alone() {
    let f = fixture();
    let pw = walk(&f.ov, "etc/passwd").unwrap();
    let ino_before = pw.attr().unwrap().ino;
    let ops = pw.open(libc::O_RDWR).unwrap();
    assert_eq!(ops.write(b"R", 0).unwrap(), 1);
    assert_eq!(contents(&pw), b"Root:x:0:0");
    assert_eq!(contents(&walk(&f.lower, "etc/passwd").unwrap()), b"root:x:0:0");
    assert_eq!(contents(&walk(&f.upper, "etc/passwd").unwrap()), b"Root:x:0:0");
    assert_eq!(pw.attr().unwrap().ino, ino_before);
    assert_eq!(ops.attr().unwrap().ino, ino_before);
    assert_eq!(ops.attr().unwrap().dev, pw.attr().unwrap().dev);
    // Only the path to the file was copied: hosts stays lower-only.
    assert_eq!(names(&walk(&f.upper, "etc").unwrap()), vec!["passwd"]);
    assert_eq!(names(&walk(&f.ov, "etc").unwrap()), vec!["hosts", "passwd"]);
}

#[test]
fn copy_up_keeps_attributes_and_parents() {
    let f = fixture();
    let file = walk(&f.ov, "deep/x/y/file").unwrap();
    let before = file.attr().unwrap();
    let x_before = walk(&f.ov, "deep/x").unwrap().attr().unwrap();
    let s = walk(&f.ov, "secret").unwrap();
    s.open(libc::O_WRONLY).unwrap();
    let a = walk(&f.upper, "secret").unwrap().attr().unwrap();
    assert_eq!((a.mode, a.uid, a.gid, a.mtime), (S_IFREG | 0o600, 1000, 1000, OLD));
    file.open(libc::O_WRONLY).unwrap();
    let ux = walk(&f.upper, "deep/x").unwrap().attr().unwrap();
    assert_eq!((ux.mode, ux.uid, ux.gid), (S_IFDIR | 0o700, 7, 8));
    // Parents keep their times across the copy-up of a child.
    assert_eq!(ux.mtime, OLD);
    assert_eq!(walk(&f.upper, "deep/x/y").unwrap().attr().unwrap().mtime, OLD);
    assert_eq!(contents(&walk(&f.upper, "deep/x/y/file").unwrap()), b"deep data");
    let after = file.attr().unwrap();
    assert_eq!((after.ino, after.dev, after.mode, after.size), (before.ino, before.dev, before.mode, before.size));
    assert_eq!(walk(&f.ov, "deep/x").unwrap().attr().unwrap().ino, x_before.ino);
}

#[test]
fn truncate_copies_up_without_data() {
    let f = fixture();
    let h = walk(&f.ov, "etc/hosts").unwrap();
    h.setattr(&SetAttr { size: Some(0), ..Default::default() }).unwrap();
    assert_eq!(h.attr().unwrap().size, 0);
    assert_eq!(contents(&h), b"");
    assert_eq!(contents(&walk(&f.lower, "etc/hosts").unwrap()), b"127.0.0.1 localhost");
    // Partial truncation keeps the head.
    let pw = walk(&f.ov, "etc/passwd").unwrap();
    pw.setattr(&SetAttr { size: Some(4), ..Default::default() }).unwrap();
    assert_eq!(contents(&pw), b"root");
    // chmod copies up too.
    let a = walk(&f.ov, "dir/a").unwrap();
    a.setattr(&SetAttr { mode: Some(0o600), ..Default::default() }).unwrap();
    assert_eq!(a.attr().unwrap().mode, S_IFREG | 0o600);
    assert_eq!(walk(&f.lower, "dir/a").unwrap().attr().unwrap().mode, S_IFREG | 0o644);
}

#[test]
fn whiteout_hides_lower() {
    let f = fixture();
    let etc = walk(&f.ov, "etc").unwrap();
    etc.unlink(b"hosts").unwrap();
    assert_eq!(etc.lookup(b"hosts").err(), Some(Errno::ENOENT));
    assert_eq!(names(&etc), vec!["passwd"]);
    assert_eq!(etc.unlink(b"hosts").err(), Some(Errno::ENOENT));
    assert_eq!(names(&walk(&f.lower, "etc").unwrap()), vec!["hosts", "passwd"]);
    // A new file may take the name; the lower one stays hidden after it goes too.
    let n = mkfile(&etc, "hosts", b"new");
    assert_eq!(contents(&n), b"new");
    assert_eq!(names(&etc), vec!["hosts", "passwd"]);
    etc.unlink(b"hosts").unwrap();
    assert_eq!(etc.lookup(b"hosts").err(), Some(Errno::ENOENT));
    // Unlinking a copied-up file also leaves a whiteout.
    let pw = walk(&f.ov, "etc/passwd").unwrap();
    pw.open(libc::O_WRONLY).unwrap();
    etc.unlink(b"passwd").unwrap();
    assert!(names(&etc).is_empty());
    assert!(f.upper.lookup(b"etc").unwrap().readdir().unwrap().is_empty());
    assert_eq!(etc.rmdir(b"passwd").err(), Some(Errno::ENOENT));
}

#[test]
fn unlink_while_open_lower_file() {
    let f = fixture();
    let dir = walk(&f.ov, "dir").unwrap();
    let a = dir.lookup(b"a").unwrap();
    let ops = a.open(libc::O_RDONLY).unwrap();
    dir.unlink(b"a").unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ops.read(&mut buf, 0).unwrap(), 1);
    assert_eq!(&buf[..1], b"A");
}

#[test]
fn merged_readdir() {
    let f = fixture();
    let etc = walk(&f.ov, "etc").unwrap();
    mkfile(&etc, "new", b"n");
    walk(&f.ov, "etc/passwd").unwrap().open(libc::O_RDWR).unwrap();
    let list = etc.readdir().unwrap();
    let mut got: Vec<&[u8]> = list.iter().map(|e| e.name.as_slice()).collect();
    got.sort();
    assert_eq!(got, vec![&b"hosts"[..], b"new", b"passwd"]);
    // d_ino agrees with stat for upper, lower and copied-up entries.
    for e in &list {
        assert_eq!(etc.lookup(&e.name).unwrap().attr().unwrap().ino, e.ino, "{:?}", e.name);
    }
    assert_eq!(names(&walk(&f.upper, "etc").unwrap()), vec!["new", "passwd"]);
    // Merged directories report nlink 1.
    assert_eq!(etc.attr().unwrap().nlink, 1);
}

#[test]
fn opaque_after_rmdir_and_mkdir() {
    let f = fixture();
    assert_eq!(f.ov.rmdir(b"dir").err(), Some(Errno::ENOTEMPTY));
    let dir = walk(&f.ov, "dir").unwrap();
    dir.unlink(b"a").unwrap();
    assert_eq!(f.ov.rmdir(b"dir").err(), Some(Errno::ENOTEMPTY));
    dir.unlink(b"b").unwrap();
    f.ov.rmdir(b"dir").unwrap();
    assert_eq!(f.ov.lookup(b"dir").err(), Some(Errno::ENOENT));
    assert!(!names(&f.ov).contains(&"dir".to_string()));
    let d2 = mkdir(&f.ov, "dir");
    assert!(d2.readdir().unwrap().is_empty());
    assert_eq!(d2.lookup(b"a").err(), Some(Errno::ENOENT));
    assert_eq!(walk(&f.ov, "dir/a").err(), Some(Errno::ENOENT));
    assert_eq!(names(&walk(&f.lower, "dir").unwrap()), vec!["a", "b"]);
    // The removed directory object is dead.
    assert_eq!(dir.lookup(b"a").err(), Some(Errno::ENOENT));
    // A lower-only empty directory can go directly, and a file can take its place.
    f.ov.rmdir(b"empty").unwrap();
    mkfile(&f.ov, "empty", b"");
    assert!(walk(&f.ov, "empty").unwrap().attr().unwrap().is_regular());
}

#[test]
fn rename_lower_directory_is_exdev() {
    let f = fixture();
    assert_eq!(f.ov.rename(b"dir", &f.ov, b"dir2", 0).err(), Some(Errno::EXDEV));
    assert_eq!(f.ov.rename(b"empty", &f.ov, b"e2", 0).err(), Some(Errno::EXDEV));
    // Copied-up (merged) directories too.
    let etc = walk(&f.ov, "etc").unwrap();
    mkfile(&etc, "x", b"");
    assert_eq!(f.ov.rename(b"etc", &f.ov, b"etc2", 0).err(), Some(Errno::EXDEV));
    // Upper-only directories move freely, with their contents.
    let n = mkdir(&f.ov, "newdir");
    mkfile(&n, "inside", b"i");
    f.ov.rename(b"newdir", &etc, b"moved", 0).unwrap();
    assert_eq!(contents(&walk(&f.ov, "etc/moved/inside").unwrap()), b"i");
    assert_eq!(f.ov.lookup(b"newdir").err(), Some(Errno::ENOENT));
    assert_eq!(etc.rename(b"moved", &walk(&f.ov, "etc/moved").unwrap(), b"x", 0).err(), Some(Errno::EINVAL));
}

#[test]
fn rename_lower_file_copies_up_and_whiteouts() {
    let f = fixture();
    let etc = walk(&f.ov, "etc").unwrap();
    let pw = etc.lookup(b"passwd").unwrap();
    let ino = pw.attr().unwrap().ino;
    etc.rename(b"passwd", &f.ov, b"pw", 0).unwrap();
    assert_eq!(etc.lookup(b"passwd").err(), Some(Errno::ENOENT));
    let moved = f.ov.lookup(b"pw").unwrap();
    assert!(Arc::ptr_eq(&moved, &pw));
    assert_eq!(contents(&moved), b"root:x:0:0");
    assert_eq!(moved.attr().unwrap().ino, ino);
    assert_eq!(names(&walk(&f.lower, "etc").unwrap()), vec!["hosts", "passwd"]);
    // Over an existing lower file: the lower one stays hidden afterwards.
    f.ov.rename(b"pw", &etc, b"hosts", 0).unwrap();
    assert_eq!(contents(&walk(&f.ov, "etc/hosts").unwrap()), b"root:x:0:0");
    etc.unlink(b"hosts").unwrap();
    assert_eq!(etc.lookup(b"hosts").err(), Some(Errno::ENOENT));
    assert!(names(&etc).is_empty());
    // Errors mirror tmpfs.
    mkfile(&etc, "f", b"");
    assert_eq!(f.ov.rename(b"secret", &f.ov, b"dir", 0).err(), Some(Errno::EISDIR));
    assert_eq!(f.ov.rename(b"secret", &etc, b"f", RENAME_NOREPLACE).err(), Some(Errno::EEXIST));
    let n = mkdir(&f.ov, "n");
    assert_eq!(f.ov.rename(b"n", &f.ov, b"dir", 0).err(), Some(Errno::ENOTEMPTY));
    assert_eq!(f.ov.rename(b"n", &f.ov, b"secret", 0).err(), Some(Errno::ENOTDIR));
    drop(n);
}

#[test]
fn rename_exchange_with_lower_file() {
    let f = fixture();
    let etc = walk(&f.ov, "etc").unwrap();
    mkfile(&f.ov, "mine", b"M");
    f.ov.rename(b"mine", &etc, b"hosts", RENAME_EXCHANGE).unwrap();
    assert_eq!(contents(&walk(&f.ov, "etc/hosts").unwrap()), b"M");
    assert_eq!(contents(&walk(&f.ov, "mine").unwrap()), b"127.0.0.1 localhost");
    assert_eq!(contents(&walk(&f.lower, "etc/hosts").unwrap()), b"127.0.0.1 localhost");
    etc.unlink(b"hosts").unwrap();
    assert_eq!(etc.lookup(b"hosts").err(), Some(Errno::ENOENT));
    assert_eq!(f.ov.rename(b"mine", &f.ov, b"dir", RENAME_EXCHANGE).err(), Some(Errno::EXDEV));
}

#[test]
fn hard_link_of_lower_file() {
    let f = fixture();
    let pw = walk(&f.ov, "etc/passwd").unwrap();
    f.ov.link(b"pw", &pw).unwrap();
    let l = f.ov.lookup(b"pw").unwrap();
    assert_eq!(l.attr().unwrap().ino, pw.attr().unwrap().ino);
    assert_eq!(l.attr().unwrap().nlink, 2);
    let ops = l.open(libc::O_WRONLY).unwrap();
    ops.write(b"R", 0).unwrap();
    assert_eq!(contents(&pw), b"Root:x:0:0");
    assert_eq!(contents(&walk(&f.lower, "etc/passwd").unwrap()), b"root:x:0:0");
    assert_eq!(f.ov.link(b"pw", &pw).err(), Some(Errno::EEXIST));
    assert_eq!(f.ov.link(b"d", &walk(&f.ov, "dir").unwrap()).err(), Some(Errno::EPERM));
}

#[test]
fn create_special_and_symlink_in_lower_dir() {
    let f = fixture();
    let etc = walk(&f.ov, "etc").unwrap();
    let c = creds(5, 6);
    let s = etc.symlink(b"sl", b"/x", &c).unwrap();
    assert_eq!(s.readlink().unwrap(), b"/x");
    let p = etc.mknod(b"pipe", &args(S_IFIFO | 0o600, &c)).unwrap();
    assert_eq!(p.attr().unwrap().uid, 5);
    assert_eq!(etc.mkdir(b"passwd", &args(S_IFDIR | 0o755, &c)).err(), Some(Errno::EEXIST));
    assert_eq!(etc.create(b"hosts", &args(S_IFREG | 0o644, &c)).err(), Some(Errno::EEXIST));
    let (_, ops) = etc.create(b"fresh", &args(S_IFREG | 0o644, &c)).unwrap();
    assert_eq!(ops.attr().unwrap().ino, walk(&f.ov, "etc/fresh").unwrap().attr().unwrap().ino);
    // Symlinks copy up as symlinks.
    let link = f.ov.lookup(b"link").unwrap();
    link.setattr(&SetAttr { uid: Some(3), ..Default::default() }).unwrap();
    assert_eq!(f.upper.lookup(b"link").unwrap().readlink().unwrap(), b"etc/passwd");
    assert_eq!(link.attr().unwrap().uid, 3);
}

#[test]
fn cache_pins_only_objects_with_upper_copies() {
    let f = fixture();
    let pw = walk(&f.ov, "etc/passwd").unwrap();
    let hosts = Arc::downgrade(&walk(&f.ov, "etc/hosts").unwrap());
    assert!(hosts.upgrade().is_none(), "lower-only objects are not pinned");
    // A lower-only object keeps its parent alive, so it can still be copied up.
    let ino = pw.attr().unwrap().ino;
    pw.open(libc::O_WRONLY).unwrap().write(b"R", 0).unwrap();
    let weak_pw = Arc::downgrade(&pw);
    drop(pw);
    let again = walk(&f.ov, "etc/passwd").unwrap();
    assert!(weak_pw.upgrade().is_some(), "copied-up objects stay cached");
    assert_eq!(again.attr().unwrap().ino, ino);
    assert_eq!(contents(&again), b"Root:x:0:0");
    let ovl = again.as_any().downcast_ref::<OvlInode>().unwrap();
    assert!(ovl.upper().is_some() && ovl.lower().is_some());
}

#[test]
fn concurrent_changes_and_lookups() {
    let f = fixture();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let ov = f.ov.clone();
            std::thread::spawn(move || {
                let c = creds(0, 0);
                for i in 0..200 {
                    let etc = walk(&ov, "etc").unwrap();
                    let name = format!("n{t}_{i}");
                    let _ = etc.create(name.as_bytes(), &args(S_IFREG | 0o644, &c));
                    let _ = etc.rename(name.as_bytes(), &ov, b"moved", 0);
                    let _ = walk(&ov, "etc/passwd").and_then(|p| p.open(libc::O_RDWR));
                    let _ = walk(&ov, "deep/x/y/file").and_then(|p| p.setattr(&SetAttr::default()));
                    let _ = ov.unlink(b"moved");
                    let _ = ov.mkdir(format!("d{t}").as_bytes(), &args(S_IFDIR | 0o755, &c));
                    let _ = ov.rename(format!("d{t}").as_bytes(), &etc, format!("d{t}").as_bytes(), 0);
                    let _ = etc.rmdir(format!("d{t}").as_bytes());
                    let _ = ov.readdir();
                    let _ = etc.readdir();
                    let _ = walk(&ov, "dir/a").map(|a| a.attr());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(names(&walk(&f.ov, "etc").unwrap()), vec!["hosts", "passwd"]);
    assert_eq!(contents(&walk(&f.lower, "etc/passwd").unwrap()), b"root:x:0:0");
    assert!(!names(&f.ov).contains(&"moved".to_string()));
}
