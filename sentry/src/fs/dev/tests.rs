use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::fs::tmpfs::new_tmpfs;
use crate::vfs::{S_IFDIR, S_IFREG};

fn devfs() -> Arc<dyn Inode> {
    new_devfs(None, new_tmpfs(0o1777, 0, 0))
}

fn open(dev: &Arc<dyn Inode>, name: &str) -> Arc<dyn FileOps> {
    dev.lookup(name.as_bytes()).unwrap().open(libc::O_RDWR).unwrap()
}

struct NoMem;

impl UserMemory for NoMem {
    fn read_bytes(&self, _addr: u64, _buf: &mut [u8]) -> VfsResult<()> {
        Err(Errno::EFAULT)
    }
    fn write_bytes(&self, _addr: u64, _buf: &[u8]) -> VfsResult<()> {
        Err(Errno::EFAULT)
    }
}

struct Capture(Mutex<Vec<u8>>);

impl UserMemory for Capture {
    fn read_bytes(&self, _addr: u64, _buf: &mut [u8]) -> VfsResult<()> {
        Err(Errno::EFAULT)
    }
    fn write_bytes(&self, _addr: u64, buf: &[u8]) -> VfsResult<()> {
        lock(&self.0).extend_from_slice(buf);
        Ok(())
    }
}

#[test]
fn null_device() {
    let d = devfs();
    let f = open(&d, "null");
    let mut buf = [7u8; 16];
    assert_eq!(f.read(&mut buf, 0).unwrap(), 0);
    assert_eq!(f.write(&[1u8; 1000], 0).unwrap(), 1000);
    assert!(f.seekable());
    assert!(!f.mmap_anonymous());
    assert_eq!(f.poll(libc::POLLIN | libc::POLLOUT), libc::POLLIN | libc::POLLOUT);
    assert_eq!(f.ioctl(0x5401, 0, &NoMem).err(), Some(Errno::ENOTTY));
}

#[test]
fn zero_and_full_devices() {
    let d = devfs();
    let z = open(&d, "zero");
    let mut buf = [7u8; 64];
    assert_eq!(z.read(&mut buf, 123).unwrap(), 64);
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(z.write(b"abc", 0).unwrap(), 3);
    assert!(z.mmap_anonymous());
    let full = open(&d, "full");
    buf.fill(9);
    assert_eq!(full.read(&mut buf, 0).unwrap(), 64);
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(full.write(b"x", 0).err(), Some(Errno::ENOSPC));
}

#[test]
fn random_devices() {
    let d = devfs();
    for name in ["random", "urandom"] {
        let r = open(&d, name);
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        assert_eq!(r.read(&mut a, 0).unwrap(), 64);
        assert_eq!(r.read(&mut b, 0).unwrap(), 64);
        assert_ne!(a, b);
        assert_eq!(r.write(b"entropy", 0).unwrap(), 7);
        let mem = Capture(Mutex::new(Vec::new()));
        assert_eq!(r.ioctl(RNDGETENTCNT, 0x1000, &mem).unwrap(), 0);
        assert_eq!(lock(&mem.0).as_slice(), &256i32.to_ne_bytes());
    }
}

#[test]
fn device_attributes() {
    let d = devfs();
    let expect = [
        ("null", makedev(1, 3)),
        ("zero", makedev(1, 5)),
        ("full", makedev(1, 7)),
        ("random", makedev(1, 8)),
        ("urandom", makedev(1, 9)),
        ("tty", makedev(5, 0)),
    ];
    let dev = d.attr().unwrap().dev;
    for (name, rdev) in expect {
        let a = d.lookup(name.as_bytes()).unwrap().attr().unwrap();
        assert_eq!(a.mode, S_IFCHR | 0o666, "{name}");
        assert_eq!(a.rdev, rdev, "{name}");
        assert_eq!(a.dev, dev, "{name}");
    }
    assert_eq!(makedev(1, 3), 0x103);
    assert_eq!(makedev(136, 300), libc::makedev(136, 300));
    assert_eq!(makedev(0x1234, 0x56789), libc::makedev(0x1234, 0x56789));
    let null = d.lookup(b"null").unwrap();
    null.setattr(&SetAttr { mode: Some(0o600), ..Default::default() }).unwrap();
    assert_eq!(null.attr().unwrap().mode, S_IFCHR | 0o600);
    assert_eq!(null.setattr(&SetAttr { size: Some(0), ..Default::default() }).err(), Some(Errno::EINVAL));
}

#[test]
fn tty_uses_opener() {
    let d = devfs();
    assert_eq!(d.lookup(b"tty").unwrap().open(libc::O_RDWR).err(), Some(Errno::ENXIO));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let opener: TtyOpener = Arc::new(move || {
        c.fetch_add(1, Ordering::Relaxed);
        open_char_device(makedev(1, 3), 0)
    });
    let d = new_devfs(Some(opener), new_tmpfs(0o1777, 0, 0));
    // Building /dev probes the terminal once (for /dev/pts/0).
    let before = calls.load(Ordering::Relaxed);
    let f = d.lookup(b"tty").unwrap().open(libc::O_RDWR).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), before + 1);
    assert!(d.lookup(b"pts").unwrap().lookup(b"0").is_ok(), "an opening terminal is also /dev/pts/0");
    assert_eq!(f.write(b"hi", 0).unwrap(), 2);
}

#[test]
fn symlinks_and_shm() {
    let shm = new_tmpfs(0o1777, 0, 0);
    let d = new_devfs(None, shm.clone());
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let l = d.lookup(name.as_bytes()).unwrap();
        assert!(l.attr().unwrap().is_symlink());
        assert_eq!(l.readlink().unwrap(), target.as_bytes());
    }
    assert!(Arc::ptr_eq(&d.lookup(b"shm").unwrap(), &shm));
    assert_eq!(d.lookup(b"ptmx").unwrap().readlink().unwrap(), b"pts/ptmx");
    let pts = d.lookup(b"pts").unwrap();
    let ptmx = pts.lookup(b"ptmx").unwrap().attr().unwrap();
    assert_eq!((ptmx.mode, ptmx.rdev), (S_IFCHR | 0o666, makedev(5, 2)));
    assert!(pts.attr().unwrap().is_dir());
    assert_eq!(pts.lookup(b"0").err(), Some(Errno::ENOENT), "no terminal, no /dev/pts/0");
    let a = d.attr().unwrap();
    assert_eq!(a.mode, S_IFDIR | 0o755);
    assert_eq!(a.nlink, 4);
    assert_eq!(d.statfs().unwrap().f_type, TMPFS_MAGIC);
}

#[test]
fn readdir_and_app_created_entries() {
    let d = devfs();
    let mut names: Vec<String> = d.readdir().unwrap().into_iter().map(|e| String::from_utf8(e.name).unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"
        ]
    );
    let c = FsCreds::root();
    let args = CreateArgs { mode: S_IFREG | 0o644, rdev: 0, flags: libc::O_RDWR, creds: &c };
    assert_eq!(d.create(b"null", &args).err(), Some(Errno::EEXIST));
    assert_eq!(d.unlink(b"null").err(), Some(Errno::EPERM));
    assert_eq!(d.rmdir(b"shm").err(), Some(Errno::EBUSY));
    assert_eq!(d.rmdir(b"pts").err(), Some(Errno::EBUSY));
    let (_, f) = d.create(b"log", &args).unwrap();
    assert_eq!(f.write(b"x", 0).unwrap(), 1);
    d.symlink(b"core", b"/proc/kcore", &c).unwrap();
    d.rename(b"log", &d, b"log2", 0).unwrap();
    assert_eq!(d.rename(b"log2", &d, b"zero", 0).err(), Some(Errno::EPERM));
    let list: Vec<Vec<u8>> = d.readdir().unwrap().into_iter().map(|e| e.name).collect();
    assert!(list.contains(&b"log2".to_vec()) && list.contains(&b"core".to_vec()));
    assert_eq!(d.lookup(b"core").unwrap().readlink().unwrap(), b"/proc/kcore");
    d.unlink(b"log2").unwrap();
    assert_eq!(d.lookup(b"log2").err(), Some(Errno::ENOENT));
    // Opening the directory works and fstat falls back to the inode.
    let dirf = d.open(libc::O_RDONLY).unwrap();
    assert_eq!(dirf.attr().err(), Some(Errno::ENOSYS));
}

#[test]
fn char_device_by_rdev() {
    assert!(open_char_device(makedev(1, 5), 0).unwrap().mmap_anonymous());
    assert_eq!(open_char_device(makedev(5, 0), 0).err(), Some(Errno::ENXIO));
    assert_eq!(open_char_device(makedev(1, 1), 0).err(), Some(Errno::ENXIO));
    let m = open_char_device(makedev(5, 2), 0).expect("a mknod'ed ptmx allocates");
    assert!(m.as_any().is::<crate::fs::pty::PtyMaster>());
}
