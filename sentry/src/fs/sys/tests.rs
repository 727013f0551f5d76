use super::*;
use crate::fs::tmpfs::makedev;
use crate::vfs::{S_IFCHR, S_IFMT};

fn read_all(i: &Arc<dyn Inode>) -> Vec<u8> {
    let f = i.open(libc::O_RDONLY).expect("open");
    let mut buf = vec![0u8; 4096];
    let n = f.read(&mut buf, 0).expect("read");
    buf.truncate(n);
    buf
}

fn walk(root: &Arc<dyn Inode>, path: &str) -> VfsResult<Arc<dyn Inode>> {
    let mut cur = root.clone();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        cur = cur.lookup(c.as_bytes())?;
    }
    Ok(cur)
}

#[test]
fn cpu_lists_use_linux_ranges() {
    assert_eq!(cpu_list(&[0]), "0");
    assert_eq!(cpu_list(&[0, 1, 2, 3]), "0-3");
    assert_eq!(cpu_list(&[0, 2, 3, 4, 7]), "0,2-4,7");
    assert_eq!(cpu_list(&[]), "");
}

#[test]
fn sysfs_describes_the_given_cpus() {
    let sys = new_sysfs(&[1, 2, 5]);
    for f in ["online", "possible", "present"] {
        let i = walk(&sys, &format!("devices/system/cpu/{f}")).unwrap();
        assert_eq!(read_all(&i), b"1-2,5\n", "{f}");
    }
    let cpu = walk(&sys, "devices/system/cpu").unwrap();
    let mut names: Vec<String> =
        cpu.readdir().unwrap().into_iter().map(|e| String::from_utf8(e.name).unwrap()).collect();
    names.sort();
    assert_eq!(names, ["cpu1", "cpu2", "cpu5", "offline", "online", "possible", "present"]);
    assert!(walk(&sys, "fs/cgroup").unwrap().attr().unwrap().is_dir());
    assert_eq!(walk(&sys, "devices/system/cpu/cpu3").err(), Some(Errno::ENOENT));
    assert_eq!(sys.statfs().unwrap().f_type, SYSFS_MAGIC);
}

#[test]
fn synthetic_files_are_read_only() {
    let sys = new_sysfs(&[0]);
    let online = walk(&sys, "devices/system/cpu/online").unwrap();
    assert_eq!(online.open(libc::O_WRONLY).err(), Some(Errno::EACCES));
    assert_eq!(online.open(libc::O_RDWR).err(), Some(Errno::EACCES));
    assert_eq!(online.attr().unwrap().mode, S_IFREG | 0o444);
    let cg = new_cgroupfs();
    assert_eq!(walk(&cg, "memory.max").unwrap().open(libc::O_WRONLY).err(), Some(Errno::EACCES));
    assert_eq!(cg.statfs().unwrap().f_type, CGROUP2_SUPER_MAGIC);
}

#[test]
fn devpts_allocates_through_ptmx_and_has_the_console_when_given() {
    let pts = new_devpts(None);
    let ptmx = pts.lookup(b"ptmx").unwrap();
    let a = ptmx.attr().unwrap();
    assert_eq!(a.mode & S_IFMT, S_IFCHR);
    assert_eq!(a.rdev, makedev(5, 2));
    assert_eq!(pts.lookup(b"0").err(), Some(Errno::ENOENT));
    let master = ptmx.open(libc::O_RDWR).expect("ptmx allocates a pair");
    let pty = master.as_any().downcast_ref::<crate::fs::pty::PtyMaster>().expect("a pty master").pty().clone();
    let name = pty.index().to_string();
    assert_ne!(pty.index(), 0, "index 0 stays the console's");
    let node = pts.lookup(name.as_bytes()).expect("the slave appears");
    assert_eq!(node.attr().unwrap().rdev, makedev(136, pty.index()));
    assert_eq!(node.open(libc::O_RDWR | libc::O_NOCTTY).err(), Some(Errno::EIO), "locked until TIOCSPTLCK");
    assert!(pts.readdir().unwrap().iter().any(|e| e.name == name.as_bytes()));
    drop(master);
    assert_eq!(pts.lookup(name.as_bytes()).err(), Some(Errno::ENOENT), "gone with its master");

    let opener: ConsoleOpener = Arc::new(|| Err(Errno::EIO));
    let pts = new_devpts(Some(opener));
    let console = pts.lookup(b"0").unwrap();
    assert_eq!(console.attr().unwrap().rdev, makedev(136, 0));
    assert_eq!(console.open(libc::O_RDWR).err(), Some(Errno::EIO), "the console node must use the opener");
}
