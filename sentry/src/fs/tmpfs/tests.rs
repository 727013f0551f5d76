use super::*;

fn root() -> Arc<dyn Inode> {
    new_tmpfs(0o755, 0, 0)
}

fn creds() -> FsCreds {
    FsCreds { uid: 1000, gid: 100, groups: vec![] }
}

fn args(mode: u32, creds: &FsCreds) -> CreateArgs<'_> {
    CreateArgs { mode, rdev: 0, flags: libc::O_RDWR, creds }
}

fn mkfile(dir: &Arc<dyn Inode>, name: &str, data: &[u8]) -> Arc<dyn Inode> {
    let c = creds();
    let (inode, ops) = dir.create(name.as_bytes(), &args(S_IFREG | 0o644, &c)).unwrap();
    assert_eq!(ops.write(data, 0).unwrap(), data.len());
    inode
}

fn mkdir(dir: &Arc<dyn Inode>, name: &str) -> Arc<dyn Inode> {
    let c = creds();
    dir.mkdir(name.as_bytes(), &args(S_IFDIR | 0o755, &c)).unwrap()
}

fn read_all(ops: &Arc<dyn FileOps>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = ops.read(&mut buf, out.len() as u64).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn contents(inode: &Arc<dyn Inode>) -> Vec<u8> {
    read_all(&inode.open(libc::O_RDONLY).unwrap())
}

fn names(dir: &Arc<dyn Inode>) -> Vec<String> {
    dir.readdir().unwrap().into_iter().map(|e| String::from_utf8(e.name).unwrap()).collect()
}

fn nlink(i: &Arc<dyn Inode>) -> u64 {
    i.attr().unwrap().nlink
}

fn old_time() -> Timespec {
    Timespec { tv_sec: 1_000_000, tv_nsec: 5 }
}

#[test]
fn create_write_read_stat() {
    let r = root();
    let f = mkfile(&r, "a", b"hello world");
    assert_eq!(contents(&f), b"hello world");
    let a = f.attr().unwrap();
    assert!(a.is_regular());
    assert_eq!(a.mode, S_IFREG | 0o644);
    assert_eq!(a.size, 11);
    assert_eq!(a.nlink, 1);
    assert_eq!((a.uid, a.gid), (1000, 100));
    assert!(a.blocks > 0);
    assert_eq!(a.dev, r.attr().unwrap().dev);
    // fstat of an open file answers from the inode, not the host memfd.
    let ops = f.open(libc::O_RDONLY).unwrap();
    assert_eq!(ops.attr().unwrap(), f.attr().unwrap());
    assert!(ops.host_fd().is_some());
    assert!(Arc::ptr_eq(&r.lookup(b"a").unwrap(), &f));
    assert_eq!(r.lookup(b"b").err(), Some(Errno::ENOENT));
    let c = creds();
    assert_eq!(r.create(b"a", &args(S_IFREG | 0o644, &c)).err(), Some(Errno::EEXIST));
    assert_eq!(f.lookup(b"x").err(), Some(Errno::ENOTDIR));
    assert_eq!(r.create(b"x/y", &args(S_IFREG, &c)).err(), Some(Errno::EINVAL));
}

#[test]
fn unique_inodes_and_devices() {
    let (r1, r2) = (root(), root());
    assert_ne!(r1.attr().unwrap().dev, r2.attr().unwrap().dev);
    let a = mkfile(&r1, "a", b"");
    let b = mkfile(&r1, "b", b"");
    assert_ne!(a.attr().unwrap().ino, b.attr().unwrap().ino);
    assert_ne!(a.attr().unwrap().ino, r1.attr().unwrap().ino);
    let s = r1.statfs().unwrap();
    assert_eq!(s.f_type, TMPFS_MAGIC);
    assert!(s.f_files >= s.f_ffree && s.f_files - s.f_ffree >= 3);
}

#[test]
fn setattr_truncate_mode_times() {
    let r = root();
    let f = mkfile(&r, "f", b"0123456789");
    f.setattr(&SetAttr { size: Some(4), ..Default::default() }).unwrap();
    assert_eq!(contents(&f), b"0123");
    f.setattr(&SetAttr { size: Some(6), ..Default::default() }).unwrap();
    assert_eq!(contents(&f), b"0123\0\0");
    f.setattr(&SetAttr { mode: Some(0o4711), ..Default::default() }).unwrap();
    assert_eq!(f.attr().unwrap().mode, S_IFREG | 0o4711);
    // chown drops set-user-ID.
    f.setattr(&SetAttr { uid: Some(5), gid: Some(6), ..Default::default() }).unwrap();
    let a = f.attr().unwrap();
    assert_eq!((a.mode, a.uid, a.gid), (S_IFREG | 0o711, 5, 6));
    let t = old_time();
    f.setattr(&SetAttr { atime: Some(TimeSet::At(t)), mtime: Some(TimeSet::At(t)), ..Default::default() }).unwrap();
    let a = f.attr().unwrap();
    assert_eq!((a.atime, a.mtime), (t, t));
    assert!(a.ctime > t);
    f.setattr(&SetAttr { mtime: Some(TimeSet::Now), ..Default::default() }).unwrap();
    let a = f.attr().unwrap();
    assert_eq!(a.atime, t);
    assert!(a.mtime > t);
    let d = mkdir(&r, "d");
    assert_eq!(d.setattr(&SetAttr { size: Some(0), ..Default::default() }).err(), Some(Errno::EISDIR));
    d.setattr(&SetAttr { mtime: Some(TimeSet::At(t)), ..Default::default() }).unwrap();
    assert_eq!(d.attr().unwrap().mtime, t);
}

#[test]
fn parent_times_follow_namespace_changes() {
    let r = root();
    let t = old_time();
    let old = SetAttr { atime: Some(TimeSet::At(t)), mtime: Some(TimeSet::At(t)), ..Default::default() };
    r.setattr(&old).unwrap();
    mkfile(&r, "a", b"");
    assert!(r.attr().unwrap().mtime > t);
    r.setattr(&old).unwrap();
    r.unlink(b"a").unwrap();
    let a = r.attr().unwrap();
    assert!(a.mtime > t && a.ctime > t);
    let d = mkdir(&r, "d");
    mkfile(&r, "b", b"");
    r.setattr(&old).unwrap();
    d.setattr(&old).unwrap();
    r.rename(b"b", &d, b"b", 0).unwrap();
    assert!(r.attr().unwrap().mtime > t);
    assert!(d.attr().unwrap().mtime > t);
}

#[test]
fn unlink_while_open_keeps_data() {
    let r = root();
    let f = mkfile(&r, "f", b"still here");
    let ops = f.open(libc::O_RDWR).unwrap();
    r.unlink(b"f").unwrap();
    assert_eq!(r.lookup(b"f").err(), Some(Errno::ENOENT));
    drop(f);
    assert_eq!(read_all(&ops), b"still here");
    assert_eq!(ops.write(b"S", 0).unwrap(), 1);
    assert_eq!(read_all(&ops), b"Still here");
    assert_eq!(ops.attr().unwrap().nlink, 0);
    assert_eq!(r.unlink(b"f").err(), Some(Errno::ENOENT));
}

#[test]
fn hard_links_share_inode() {
    let r = root();
    let d = mkdir(&r, "d");
    let f = mkfile(&r, "f", b"data");
    d.link(b"g", &f).unwrap();
    let g = d.lookup(b"g").unwrap();
    assert_eq!(g.attr().unwrap().ino, f.attr().unwrap().ino);
    assert_eq!(nlink(&f), 2);
    r.unlink(b"f").unwrap();
    assert_eq!(nlink(&g), 1);
    assert_eq!(contents(&g), b"data");
    assert_eq!(d.link(b"g", &g).err(), Some(Errno::EEXIST));
    assert_eq!(r.link(b"dd", &d).err(), Some(Errno::EPERM));
    let other = root();
    let o = mkfile(&other, "o", b"");
    assert_eq!(r.link(b"o", &o).err(), Some(Errno::EXDEV));
    d.unlink(b"g").unwrap();
    // An inode with no names left cannot get one back.
    assert_eq!(r.link(b"again", &g).err(), Some(Errno::ENOENT));
}

#[test]
fn directory_nlink_and_rmdir() {
    let r = root();
    assert_eq!(nlink(&r), 2);
    let a = mkdir(&r, "a");
    mkdir(&r, "b");
    mkfile(&r, "f", b"");
    assert_eq!(nlink(&r), 4);
    assert_eq!(nlink(&a), 2);
    mkdir(&a, "sub");
    assert_eq!(nlink(&a), 3);
    assert_eq!(r.rmdir(b"a").err(), Some(Errno::ENOTEMPTY));
    assert_eq!(r.rmdir(b"f").err(), Some(Errno::ENOTDIR));
    assert_eq!(r.unlink(b"b").err(), Some(Errno::EISDIR));
    assert_eq!(r.rmdir(b"zz").err(), Some(Errno::ENOENT));
    a.rmdir(b"sub").unwrap();
    r.rmdir(b"a").unwrap();
    assert_eq!(nlink(&r), 3);
    assert_eq!(nlink(&a), 0);
    // Nothing can be created in a removed directory.
    let c = creds();
    assert_eq!(a.mkdir(b"x", &args(S_IFDIR | 0o755, &c)).err(), Some(Errno::ENOENT));
    assert_eq!(a.create(b"x", &args(S_IFREG | 0o644, &c)).err(), Some(Errno::ENOENT));
}

#[test]
fn readdir_sorted_with_types() {
    let r = root();
    mkfile(&r, "b", b"");
    mkdir(&r, "a");
    let c = creds();
    r.symlink(b"c", b"/target", &c).unwrap();
    r.mknod(b"d", &args(S_IFIFO | 0o600, &c)).unwrap();
    let list = r.readdir().unwrap();
    let got: Vec<(&[u8], u8)> = list.iter().map(|e| (e.name.as_slice(), e.d_type)).collect();
    assert_eq!(
        got,
        vec![
            (&b"a"[..], crate::vfs::DT_DIR),
            (&b"b"[..], crate::vfs::DT_REG),
            (&b"c"[..], crate::vfs::DT_LNK),
            (&b"d"[..], crate::vfs::DT_FIFO)
        ]
    );
    for e in &list {
        assert_eq!(r.lookup(&e.name).unwrap().attr().unwrap().ino, e.ino);
    }
    assert_eq!(r.attr().unwrap().size, 6 * 20);
}

#[test]
fn symlinks_and_special_nodes() {
    let r = root();
    let c = creds();
    let l = r.symlink(b"l", b"../x/y", &c).unwrap();
    assert_eq!(l.readlink().unwrap(), b"../x/y");
    let a = l.attr().unwrap();
    assert_eq!((a.mode, a.size), (S_IFLNK | 0o777, 6));
    assert_eq!(r.symlink(b"e", b"", &c).err(), Some(Errno::ENOENT));
    let fifo = r.mknod(b"p", &args(S_IFIFO | 0o644, &c)).unwrap();
    assert_eq!(fifo.attr().unwrap().mode, S_IFIFO | 0o644);
    assert_eq!(fifo.open(libc::O_RDONLY).err(), Some(Errno::ENXIO));
    let sock = r.mknod(b"s", &args(S_IFSOCK | 0o755, &c)).unwrap();
    assert_eq!(sock.open(libc::O_RDONLY).err(), Some(Errno::ENXIO));
    let null =
        r.mknod(b"null", &CreateArgs { mode: S_IFCHR | 0o666, rdev: makedev(1, 3), flags: 0, creds: &c }).unwrap();
    assert_eq!(null.attr().unwrap().rdev, makedev(1, 3));
    let ops = null.open(libc::O_RDWR).unwrap();
    assert_eq!(ops.write(b"xyz", 0).unwrap(), 3);
    assert_eq!(ops.read(&mut [0u8; 4], 0).unwrap(), 0);
    let reg = r.mknod(b"r", &args(0o600, &c)).unwrap();
    assert!(reg.attr().unwrap().is_regular());
    assert_eq!(r.mknod(b"dir", &args(S_IFDIR | 0o755, &c)).err(), Some(Errno::EPERM));
}

#[test]
fn setgid_directory_inheritance() {
    let r = new_tmpfs(0o2775, 0, 50);
    let c = creds();
    let d = r.mkdir(b"d", &args(S_IFDIR | 0o755, &c)).unwrap();
    let a = d.attr().unwrap();
    assert_eq!((a.gid, a.mode & 0o7777), (50, 0o2755));
    let (f, _) = r.create(b"f", &args(S_IFREG | 0o2755, &c)).unwrap();
    let a = f.attr().unwrap();
    // Not in group 50: the set-group-ID bit is dropped.
    assert_eq!((a.uid, a.gid, a.mode & 0o7777), (1000, 50, 0o755));
}

#[test]
fn rename_file_over_file() {
    let r = root();
    let a = mkfile(&r, "a", b"A");
    let b = mkfile(&r, "b", b"B");
    let b_ops = b.open(libc::O_RDONLY).unwrap();
    r.rename(b"a", &r, b"b", 0).unwrap();
    assert_eq!(names(&r), vec!["b"]);
    assert_eq!(contents(&r.lookup(b"b").unwrap()), b"A");
    assert!(Arc::ptr_eq(&r.lookup(b"b").unwrap(), &a));
    assert_eq!(nlink(&b), 0);
    assert_eq!(read_all(&b_ops), b"B");
}

#[test]
fn rename_matrix_errors() {
    let r = root();
    mkfile(&r, "f", b"");
    mkfile(&r, "g", b"");
    let d = mkdir(&r, "d");
    mkdir(&r, "e");
    mkdir(&d, "sub");
    assert_eq!(r.rename(b"f", &r, b"e", 0).err(), Some(Errno::EISDIR));
    assert_eq!(r.rename(b"e", &r, b"f", 0).err(), Some(Errno::ENOTDIR));
    assert_eq!(r.rename(b"e", &r, b"d", 0).err(), Some(Errno::ENOTEMPTY));
    assert_eq!(r.rename(b"f", &r, b"g", RENAME_NOREPLACE).err(), Some(Errno::EEXIST));
    assert_eq!(r.rename(b"f", &r, b"zz", RENAME_EXCHANGE).err(), Some(Errno::ENOENT));
    assert_eq!(r.rename(b"nope", &r, b"zz", 0).err(), Some(Errno::ENOENT));
    assert_eq!(r.rename(b"f", &r, b"g", RENAME_EXCHANGE | RENAME_NOREPLACE).err(), Some(Errno::EINVAL));
    assert_eq!(r.rename(b"f", &r, b"g", 0x100).err(), Some(Errno::EINVAL));
    let sub = d.lookup(b"sub").unwrap();
    assert_eq!(r.rename(b"d", &sub, b"x", 0).err(), Some(Errno::EINVAL));
    assert_eq!(r.rename(b"d", &d, b"x", 0).err(), Some(Errno::EINVAL));
    let f = r.lookup(b"f").unwrap();
    assert_eq!(r.rename(b"g", &f, b"x", 0).err(), Some(Errno::ENOTDIR));
    let other = root();
    assert_eq!(r.rename(b"g", &other, b"x", 0).err(), Some(Errno::EXDEV));
    // Renaming onto another name of the same inode does nothing.
    r.link(b"f2", &f).unwrap();
    r.rename(b"f", &r, b"f2", 0).unwrap();
    assert_eq!(names(&r), vec!["d", "e", "f", "f2", "g"]);
    // Nothing changed after all the failures.
    assert_eq!(nlink(&r), 4);
    assert_eq!(names(&d), vec!["sub"]);
}

#[test]
fn rename_directories() {
    let r = root();
    let a = mkdir(&r, "a");
    let b = mkdir(&r, "b");
    mkdir(&r, "empty");
    mkfile(&a, "inner", b"x");
    // Cross-directory move of a directory moves a link count with it.
    r.rename(b"a", &b, b"a", 0).unwrap();
    assert_eq!(nlink(&r), 4);
    assert_eq!(nlink(&b), 3);
    // Now b/a cannot move beneath itself...
    assert_eq!(b.rename(b"a", &a, b"x", 0).err(), Some(Errno::EINVAL));
    // ...but it can replace an empty directory.
    let empty = r.lookup(b"empty").unwrap();
    b.rename(b"a", &r, b"empty", 0).unwrap();
    assert_eq!(nlink(&empty), 0);
    assert_eq!(nlink(&b), 2);
    assert_eq!(nlink(&r), 4);
    assert_eq!(names(&r.lookup(b"empty").unwrap()), vec!["inner"]);
    // Same-directory rename keeps the count.
    r.rename(b"empty", &r, b"c", 0).unwrap();
    assert_eq!(nlink(&r), 4);
    assert_eq!(names(&r), vec!["b", "c"]);
}

#[test]
fn rename_exchange() {
    let r = root();
    let d = mkdir(&r, "d");
    let f = mkfile(&r, "f", b"F");
    let sub = mkdir(&d, "sub");
    mkfile(&sub, "deep", b"");
    // Swap a file in r with a directory in d.
    r.rename(b"f", &d, b"sub", RENAME_EXCHANGE).unwrap();
    assert!(Arc::ptr_eq(&d.lookup(b"sub").unwrap(), &f));
    assert!(Arc::ptr_eq(&r.lookup(b"f").unwrap(), &sub));
    assert_eq!(nlink(&d), 2);
    assert_eq!(nlink(&r), 4);
    // The directory now lives in r, so it may be moved into d again.
    r.rename(b"f", &d, b"back", 0).unwrap();
    assert_eq!(nlink(&d), 3);
    // A directory may not be exchanged with one of its own descendants.
    let back = d.lookup(b"back").unwrap();
    assert_eq!(r.rename(b"d", &back, b"deep", RENAME_EXCHANGE).err(), Some(Errno::EINVAL));
    assert_eq!(back.rename(b"deep", &r, b"d", RENAME_EXCHANGE).err(), Some(Errno::EINVAL));
}

#[test]
fn deep_tree_drops_without_recursion() {
    let r = root();
    let mut cur = r.clone();
    for _ in 0..20_000 {
        cur = mkdir(&cur, "d");
    }
    drop(cur);
    drop(r);
}

#[test]
fn concurrent_namespace_changes() {
    let r = root();
    let a = mkdir(&r, "a");
    let b = mkdir(&r, "b");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (r, a, b) = (r.clone(), a.clone(), b.clone());
            std::thread::spawn(move || {
                let c = creds();
                for i in 0..300 {
                    let name = format!("f{t}_{i}");
                    let (src, dst) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
                    let (f, _) = src.create(name.as_bytes(), &args(S_IFREG | 0o644, &c)).unwrap();
                    src.rename(name.as_bytes(), dst, b"shared", 0).unwrap_or(());
                    let _ = dst.link(format!("l{t}").as_bytes(), &f);
                    let _ = dst.unlink(format!("l{t}").as_bytes());
                    let _ = src.mkdir(format!("d{t}").as_bytes(), &args(S_IFDIR | 0o755, &c));
                    let _ = src.rename(format!("d{t}").as_bytes(), dst, format!("d{t}").as_bytes(), 0);
                    let _ = r.rename(b"a", &r, b"a", RENAME_EXCHANGE);
                    let _ = dst.rmdir(format!("d{t}").as_bytes());
                    let _ = src.unlink(name.as_bytes());
                    let _ = r.readdir();
                    let _ = a.readdir();
                    let _ = b.lookup(b"shared").map(|i| i.attr());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for d in [&a, &b] {
        let subdirs = d.readdir().unwrap().iter().filter(|e| e.d_type == crate::vfs::DT_DIR).count() as u64;
        assert_eq!(nlink(d), 2 + subdirs);
    }
    assert_eq!(nlink(&r), 4);
}

fn tmpfs_inode(i: &Arc<dyn Inode>) -> &TmpfsInode {
    i.as_any().downcast_ref::<TmpfsInode>().unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn small_files_stay_in_memory() {
    let r = root();
    let before = open_fds();
    let files: Vec<_> = (0..3000).map(|i| mkfile(&r, &format!("f{i}"), b"tiny")).collect();
    let opened: Vec<_> = files.iter().map(|f| f.open(libc::O_RDWR).unwrap()).collect();
    // Other tests run in parallel and open fds of their own: allow slack.
    assert!(open_fds() < before + 500, "small files must not hold host fds");
    assert!(files.iter().all(|f| !tmpfs_inode(f).uses_memfd()));
    assert_eq!(read_all(&opened[17]), b"tiny");
}

#[test]
fn growth_and_host_fd_move_data_to_memfd() {
    let r = root();
    let f = mkfile(&r, "f", b"head");
    let ops = f.open(libc::O_RDWR).unwrap();
    let chunk = vec![b'x'; 4096];
    let mut off = 4u64;
    while off < SMALL_FILE_MAX {
        assert_eq!(ops.write(&chunk, off).unwrap(), chunk.len());
        off += chunk.len() as u64;
    }
    assert!(tmpfs_inode(&f).uses_memfd());
    let data = read_all(&ops);
    assert_eq!(data.len() as u64, off);
    assert_eq!(&data[..5], b"headx");
    assert_eq!(f.attr().unwrap().size, off);

    // A sparse write far away promotes immediately.
    let g = mkfile(&r, "g", b"ab");
    let gops = g.open(libc::O_RDWR).unwrap();
    gops.write(b"z", 1 << 20).unwrap();
    assert!(tmpfs_inode(&g).uses_memfd());
    let a = g.attr().unwrap();
    assert_eq!(a.size, (1 << 20) + 1);
    let mut buf = [9u8; 3];
    assert_eq!(gops.read(&mut buf, 0).unwrap(), 3);
    assert_eq!(buf, [b'a', b'b', 0]);

    // Truncation within the limit stays in memory; beyond it promotes.
    let h = mkfile(&r, "h", b"0123456789");
    h.setattr(&SetAttr { size: Some(3), ..Default::default() }).unwrap();
    assert_eq!(contents(&h), b"012");
    assert!(!tmpfs_inode(&h).uses_memfd());
    h.setattr(&SetAttr { size: Some(SMALL_FILE_MAX + 1), ..Default::default() }).unwrap();
    assert!(tmpfs_inode(&h).uses_memfd());
    assert_eq!(h.attr().unwrap().size, SMALL_FILE_MAX + 1);
    assert_eq!(&contents(&h)[..4], b"012\0");
}

#[test]
fn promotion_keeps_times() {
    let r = root();
    let f = mkfile(&r, "f", b"data");
    let t = old_time();
    f.setattr(&SetAttr { atime: Some(TimeSet::At(t)), mtime: Some(TimeSet::At(t)), ..Default::default() }).unwrap();
    let before = f.attr().unwrap();
    let ops = f.open(libc::O_RDONLY).unwrap();
    assert!(ops.host_fd().is_some());
    assert!(tmpfs_inode(&f).uses_memfd());
    let after = f.attr().unwrap();
    assert_eq!((after.atime, after.mtime, after.ctime, after.size), (t, t, before.ctime, 4));
    assert_eq!(read_all(&ops), b"data");
    // Later data changes move mtime and ctime again.
    // Past the host clock's coarse tick, so the change is visible in the times.
    std::thread::sleep(std::time::Duration::from_millis(30));
    f.open(libc::O_WRONLY).unwrap().write(b"D", 0).unwrap();
    let a = f.attr().unwrap();
    assert!(a.mtime > t && a.ctime > before.ctime);
    assert_eq!(read_all(&ops), b"Data");
}

#[test]
fn small_file_edge_cases() {
    let r = root();
    let f = mkfile(&r, "f", b"");
    let ops = f.open(libc::O_RDWR).unwrap();
    let t = old_time();
    f.setattr(&SetAttr { mtime: Some(TimeSet::At(t)), ..Default::default() }).unwrap();
    // Empty writes change nothing.
    assert_eq!(ops.write(b"", 10).unwrap(), 0);
    assert_eq!(f.attr().unwrap().mtime, t);
    assert_eq!(ops.write(b"x", 5).unwrap(), 1);
    assert_eq!(read_all(&ops), b"\0\0\0\0\0x");
    assert!(f.attr().unwrap().mtime > t);
    assert_eq!(ops.read(&mut [0u8; 4], 100).unwrap(), 0);
    assert_eq!(ops.write(b"x", u64::MAX - 1).err(), Some(Errno::EFBIG));
    assert_eq!(ops.read(&mut [0u8; 4], u64::MAX).err(), Some(Errno::EINVAL));
    assert_eq!(ops.poll(libc::POLLIN), libc::POLLIN);
    ops.sync(false).unwrap();
    assert!(!tmpfs_inode(&f).uses_memfd());
    ops.allocate(0, 0, 8192).unwrap();
    assert!(tmpfs_inode(&f).uses_memfd());
    assert_eq!(f.attr().unwrap().size, 8192);
}
