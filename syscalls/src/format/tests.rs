use super::*;
use std::collections::BTreeMap;

/// Readable regions of a fake address space; reads must lie inside one region.
#[derive(Default)]
struct FakeMem {
    regions: BTreeMap<u64, Vec<u8>>,
}

impl FakeMem {
    fn put(&mut self, addr: u64, bytes: &[u8]) -> u64 {
        self.regions.insert(addr, bytes.to_vec());
        addr
    }

    fn put_u64s(&mut self, addr: u64, words: &[u64]) -> u64 {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        self.put(addr, &bytes)
    }
}

impl MemReader for FakeMem {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let (start, bytes) = self.regions.range(..=addr).next_back()?;
        let off = usize::try_from(addr - start).ok()?;
        let end = off.checked_add(len)?;
        bytes.get(off..end).map(<[u8]>::to_vec)
    }
}

fn nr(s: Sysno) -> u64 {
    s.id() as u64
}

const AT_FDCWD: u64 = -100i64 as u64;

#[test]
fn openat_with_and_without_mode() {
    let mut m = FakeMem::default();
    let p = m.put(0x1000, b"/etc/passwd\0");
    let flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    assert_eq!(
        format_call(nr(Sysno::openat), [AT_FDCWD, p, flags, 0o777, 0, 0], &m),
        r#"openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)"#
    );
    let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u64;
    assert_eq!(
        format_call(nr(Sysno::openat), [5, p, flags, 0o644, 0, 0], &m),
        r#"openat(5, "/etc/passwd", O_WRONLY|O_CREAT|O_TRUNC, 0644)"#
    );
    assert_eq!(
        format_call(nr(Sysno::open), [p, libc::O_TMPFILE as u64 | 2, 0o600, 0, 0, 0], &m),
        r#"open("/etc/passwd", O_RDWR|O_TMPFILE, 0600)"#
    );
}

#[test]
fn returns_and_errors() {
    let m = NoMem;
    let a = [0; 6];
    assert_eq!(format_return(nr(Sysno::openat), 3, a, &m), "= 3");
    assert_eq!(format_return(nr(Sysno::openat), -2, a, &m), "= -1 ENOENT (No such file or directory)");
    assert_eq!(format_return(nr(Sysno::read), -9, a, &m), "= -1 EBADF (Bad file descriptor)");
    assert_eq!(format_return(nr(Sysno::read), -512, a, &m), "= ? ERESTARTSYS (To be restarted if SA_RESTART is set)");
    assert_eq!(format_return(nr(Sysno::mmap), 0x7f00_0000_1000, a, &m), "= 0x7f0000001000");
    assert_eq!(format_return(nr(Sysno::umask), 0o22, a, &m), "= 022");
    assert_eq!(format_return(nr(Sysno::exit_group), 0, a, &m), "= ?");
    assert_eq!(format_return(9999, -38, a, &m), "= -1 ENOSYS (Function not implemented)");
    assert!(format_return(1, -4000, a, &m).starts_with("= -1 errno4000 ("));
    // Not in the errno range: an ordinary (if odd) value.
    assert_eq!(format_return(nr(Sysno::lseek), -5000, a, &m), "= -5000");
}

#[test]
fn mmap_family() {
    let m = NoMem;
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    assert_eq!(
        format_call(nr(Sysno::mmap), [0, 4096, prot, flags, u32::MAX as u64, 0], &m),
        "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
    );
    let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64 | 0x1000_0000;
    assert_eq!(
        format_call(nr(Sysno::mmap), [0x7f00_0000_0000, 8192, 0, flags, 3, 0x2000], &m),
        "mmap(0x7f0000000000, 8192, PROT_NONE, MAP_SHARED|MAP_FIXED|0x10000000, 3, 0x2000)"
    );
    assert_eq!(
        format_call(nr(Sysno::madvise), [0x1000, 4096, libc::MADV_DONTNEED as u64, 0, 0, 0], &m),
        "madvise(0x1000, 4096, MADV_DONTNEED)"
    );
    assert_eq!(
        format_call(nr(Sysno::mremap), [0x1000, 4096, 8192, 1, 0, 0], &m),
        "mremap(0x1000, 4096, 8192, MREMAP_MAYMOVE, NULL)"
    );
}

#[test]
fn unknown_syscalls_print_hex() {
    let m = NoMem;
    assert_eq!(format_call(999, [1, 0, 0x10, 0, 0, 0], &m), "syscall_999(0x1, 0, 0x10, 0, 0, 0)");
    assert_eq!(format_call(u64::MAX, [0; 6], &m), format!("syscall_{}(0, 0, 0, 0, 0, 0)", u64::MAX));
    // Known name, no table entry.
    assert_eq!(format_call(nr(Sysno::kexec_load), [1, 2, 3, 4, 5, 6], &m), "kexec_load(0x1, 0x2, 0x3, 0x4, 0x5, 0x6)");
}

#[test]
fn bad_pointers_print_addresses() {
    let m = NoMem;
    assert_eq!(format_call(nr(Sysno::open), [0xdead_0000, 0, 0, 0, 0, 0], &m), "open(0xdead0000, O_RDONLY)");
    assert_eq!(format_call(nr(Sysno::open), [0, 0, 0, 0, 0, 0], &m), "open(NULL, O_RDONLY)");
    assert_eq!(format_call(nr(Sysno::write), [1, 0x5000, 10, 0, 0, 0], &m), "write(1, 0x5000, 10)");
    assert_eq!(format_call(nr(Sysno::execve), [0x10, 0x20, 0x30, 0, 0, 0], &m), "execve(0x10, 0x20, 0x30)");
}

#[test]
fn paths_are_escaped_and_truncated() {
    let mut m = FakeMem::default();
    let long = [b'a'; 100];
    let mut s = long.to_vec();
    s.push(0);
    let p = m.put(0x1000, &s);
    let want = format!("stat(\"{}\"..., 0x2000)", "a".repeat(PATH_SHOWN));
    assert_eq!(format_call(nr(Sysno::stat), [p, 0x2000, 0, 0, 0, 0], &m), want);

    let q = m.put(0x3000, b"a\"b\\c\nd\x01e\x012\xff\0");
    assert_eq!(format_call(nr(Sysno::unlink), [q, 0, 0, 0, 0, 0], &m), r#"unlink("a\"b\\c\nd\1e\0012\377")"#);

    // Exactly PATH_SHOWN bytes is not truncated.
    let mut exact = vec![b'b'; PATH_SHOWN];
    exact.push(0);
    let r = m.put(0x5000, &exact);
    assert_eq!(format_call(nr(Sysno::chdir), [r, 0, 0, 0, 0, 0], &m), format!("chdir(\"{}\")", "b".repeat(PATH_SHOWN)));
}

#[test]
fn strings_at_the_end_of_a_mapping() {
    let mut m = FakeMem::default();
    // "/x\0" in the last three bytes of a page, nothing mapped after it.
    let p = m.put(0x1ffd, b"/x\0");
    assert_eq!(format_call(nr(Sysno::chdir), [p, 0, 0, 0, 0, 0], &m), r#"chdir("/x")"#);
    // No terminator before the unmapped page: unreadable.
    let q = m.put(0x3ffe, b"ab");
    assert_eq!(format_call(nr(Sysno::chdir), [q, 0, 0, 0, 0, 0], &m), "chdir(0x3ffe)");
    // A string continuing across pages reads.
    let r = m.put(0x5ffe, b"abcd\0");
    assert_eq!(format_call(nr(Sysno::chdir), [r, 0, 0, 0, 0, 0], &m), r#"chdir("abcd")"#);
}

#[test]
fn buffers_in_and_out() {
    let mut m = FakeMem::default();
    let b = m.put(0x1000, b"\x7fELF\x02\x01\x01\0\0\0rest of the header is long enough");
    assert_eq!(format_call(nr(Sysno::write), [1, b, 8, 0, 0, 0], &m), r#"write(1, "\177ELF\2\1\1\0", 8)"#);
    assert_eq!(
        format_call(nr(Sysno::write), [1, b, 40, 0, 0, 0], &m),
        r#"write(1, "\177ELF\2\1\1\0\0\0rest of the header is "..., 40)"#
    );
    let r = m.put(0x4000, b"abcdef");
    assert_eq!(format_call(nr(Sysno::read), [3, r, 4096, 0, 0, 0], &m), "read(3, 0x4000, 4096)");
    assert_eq!(format_line(nr(Sysno::read), [3, r, 4096, 0, 0, 0], 3, &m), r#"read(3, "abc", 4096) = 3"#);
    assert_eq!(
        format_line(nr(Sysno::read), [3, r, 4096, 0, 0, 0], -11, &m),
        "read(3, 0x4000, 4096) = -1 EAGAIN (Resource temporarily unavailable)"
    );
    let cwd = m.put(0x6000, b"/home\0");
    assert_eq!(format_line(nr(Sysno::getcwd), [cwd, 4096, 0, 0, 0, 0], 6, &m), r#"getcwd("/home", 4096) = 6"#);
}

#[test]
fn iovecs_and_pipes() {
    let mut m = FakeMem::default();
    let a = m.put(0x1000, b"hello");
    let b = m.put(0x2000, b"world!");
    let iov = m.put_u64s(0x3000, &[a, 5, b, 6]);
    assert_eq!(
        format_call(nr(Sysno::writev), [1, iov, 2, 0, 0, 0], &m),
        r#"writev(1, [{iov_base="hello", iov_len=5}, {iov_base="world!", iov_len=6}], 2)"#
    );
    assert_eq!(
        format_line(nr(Sysno::readv), [1, iov, 2, 0, 0, 0], 7, &m),
        r#"readv(1, [{iov_base="hello", iov_len=5}, {iov_base="wo", iov_len=6}], 2) = 7"#
    );
    let fds = m.put(0x5000, &[3, 0, 0, 0, 4, 0, 0, 0]);
    assert_eq!(
        format_line(nr(Sysno::pipe2), [fds, libc::O_CLOEXEC as u64, 0, 0, 0, 0], 0, &m),
        "pipe2([3, 4], O_CLOEXEC) = 0"
    );
}

#[test]
fn execve_arrays() {
    let mut m = FakeMem::default();
    let path = m.put(0x1000, b"/bin/ls\0");
    let a0 = m.put(0x2000, b"ls\0");
    let a1 = m.put(0x3000, b"-l\0");
    let argv = m.put_u64s(0x4000, &[a0, a1, 0]);
    let envp = m.put_u64s(0x5000, &[a0, a1, a0, 0]);
    assert_eq!(
        format_call(nr(Sysno::execve), [path, argv, envp, 0, 0, 0], &m),
        r#"execve("/bin/ls", ["ls", "-l"], 0x5000 /* 3 vars */)"#
    );
    // An argv that never ends within the shown limit.
    let many: Vec<u64> = std::iter::repeat_n(a0, 40).collect();
    let argv = m.put_u64s(0x6000, &many);
    let s = format_call(nr(Sysno::execve), [path, argv, 0, 0, 0, 0], &m);
    assert!(s.ends_with(r#""ls", ...], NULL)"#), "{s}");
}

#[test]
fn signals_and_sigaction() {
    let mut m = FakeMem::default();
    let restart = libc::SA_RESTART as u64 | 0x0400_0000;
    let mask = 1u64 << (libc::SIGCHLD - 1);
    let act = m.put_u64s(0x1000, &[0x40_1000, restart, 0x40_2000, mask]);
    assert_eq!(
        format_call(nr(Sysno::rt_sigaction), [libc::SIGINT as u64, act, 0, 8, 0, 0], &m),
        "rt_sigaction(SIGINT, {sa_handler=0x401000, sa_mask=[CHLD], sa_flags=SA_RESTORER|SA_RESTART, \
         sa_restorer=0x402000}, NULL, 8)"
    );
    let all = m.put_u64s(0x2000, &[!(1u64 << 8)]);
    assert_eq!(
        format_call(nr(Sysno::rt_sigprocmask), [libc::SIG_SETMASK as u64, all, 0, 8, 0, 0], &m),
        "rt_sigprocmask(SIG_SETMASK, ~[KILL], NULL, 8)"
    );
    assert_eq!(format_call(nr(Sysno::kill), [1, 15, 0, 0, 0, 0], &m), "kill(1, SIGTERM)");
    assert_eq!(format_call(nr(Sysno::tgkill), [1, 2, 33, 0, 0, 0], &m), "tgkill(1, 2, SIGRT_1)");
    assert_eq!(format_call(nr(Sysno::kill), [1, 0, 0, 0, 0, 0], &m), "kill(1, 0)");
    assert_eq!(format_call(nr(Sysno::kill), [1, 99, 0, 0, 0, 0], &m), "kill(1, 99)");
}

#[test]
fn fcntl_ioctl_and_enums() {
    let m = NoMem;
    assert_eq!(format_call(nr(Sysno::fcntl), [3, 3, 0x1234, 0, 0, 0], &m), "fcntl(3, F_GETFL)");
    assert_eq!(format_return(nr(Sysno::fcntl), 0x8002, [3, 3, 0, 0, 0, 0], &m), "= 0x8002 (flags O_RDWR|O_LARGEFILE)");
    assert_eq!(format_call(nr(Sysno::fcntl), [3, 2, 1, 0, 0, 0], &m), "fcntl(3, F_SETFD, FD_CLOEXEC)");
    assert_eq!(format_call(nr(Sysno::fcntl), [3, 1030, 10, 0, 0, 0], &m), "fcntl(3, F_DUPFD_CLOEXEC, 10)");
    assert_eq!(
        format_call(nr(Sysno::ioctl), [1, libc::TCGETS, 0x7ffc_0000, 0, 0, 0], &m),
        "ioctl(1, TCGETS, 0x7ffc0000)"
    );
    assert_eq!(format_call(nr(Sysno::ioctl), [1, 0xdead, 0, 0, 0, 0], &m), "ioctl(1, 0xdead, 0)");
    assert_eq!(format_call(nr(Sysno::lseek), [3, -1i64 as u64, 2, 0, 0, 0], &m), "lseek(3, -1, SEEK_END)");
    assert_eq!(
        format_call(nr(Sysno::clock_gettime), [1, 0x1000, 0, 0, 0, 0], &m),
        "clock_gettime(CLOCK_MONOTONIC, 0x1000)"
    );
    assert_eq!(
        format_call(nr(Sysno::futex), [0x1000, 128, 1, 0, 0, 0], &m),
        "futex(0x1000, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0)"
    );
    assert_eq!(
        format_call(nr(Sysno::faccessat2), [AT_FDCWD, 0, 6, 0x200, 0, 0], &m),
        "faccessat2(AT_FDCWD, NULL, R_OK|W_OK, AT_EACCESS)"
    );
    assert_eq!(format_call(nr(Sysno::access), [0, 0, 0, 0, 0, 0], &m), "access(NULL, F_OK)");
    assert_eq!(
        format_call(nr(Sysno::socket), [2, 1 | 0o2000000, 0, 0, 0, 0], &m),
        "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)"
    );
    assert_eq!(format_call(nr(Sysno::prctl), [38, 1, 0, 0, 0, 0], &m), "prctl(PR_SET_NO_NEW_PRIVS, 0x1, 0, 0, 0)");
    assert_eq!(format_call(nr(Sysno::arch_prctl), [0x1002, 0x7f00, 0, 0, 0, 0], &m), "arch_prctl(ARCH_SET_FS, 0x7f00)");
    assert_eq!(
        format_call(nr(Sysno::mknodat), [AT_FDCWD, 0, 0o20644, 0x103, 0, 0], &m),
        "mknodat(AT_FDCWD, NULL, S_IFCHR|0644, 0x103)"
    );
}

#[test]
fn process_calls() {
    let m = NoMem;
    let flags = (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_SETTLS | libc::SIGCHLD) as u64;
    assert_eq!(
        format_call(nr(Sysno::clone), [flags, 0, 0, 0, 0x1000, 0], &m),
        "clone(CLONE_VM|CLONE_FS|CLONE_SETTLS|SIGCHLD, NULL, NULL, NULL, 0x1000)"
    );
    assert_eq!(
        format_call(nr(Sysno::unshare), [(libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64, 0, 0, 0, 0, 0], &m),
        "unshare(CLONE_NEWNS|CLONE_NEWPID)"
    );
    assert_eq!(
        format_call(nr(Sysno::wait4), [u32::MAX as u64, 0, 0x4000_0001, 0, 0, 0], &m),
        "wait4(-1, NULL, WNOHANG|__WALL, NULL)"
    );
    assert_eq!(format_call(nr(Sysno::exit_group), [0, 0, 0, 0, 0, 0], &m), "exit_group(0)");
    assert_eq!(format_call(nr(Sysno::getppid), [1, 2, 3, 4, 5, 6], &m), "getppid()");
}

#[test]
fn structs_in() {
    let mut m = FakeMem::default();
    let ts = m.put_u64s(0x1000, &[1, 500_000_000]);
    assert_eq!(
        format_call(nr(Sysno::nanosleep), [ts, 0, 0, 0, 0, 0], &m),
        "nanosleep({tv_sec=1, tv_nsec=500000000}, NULL)"
    );
    assert_eq!(
        format_line(nr(Sysno::clock_gettime), [0, ts, 0, 0, 0, 0], 0, &m),
        "clock_gettime(CLOCK_REALTIME, {tv_sec=1, tv_nsec=500000000}) = 0"
    );
    let rl = m.put_u64s(0x2000, &[1024, u64::MAX]);
    assert_eq!(
        format_call(nr(Sysno::prlimit64), [0, 7, rl, 0, 0, 0], &m),
        "prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=RLIM64_INFINITY}, NULL)"
    );
    let pfd = m.put(0x3000, &[3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0]);
    assert_eq!(
        format_call(nr(Sysno::poll), [pfd, 2, u32::MAX as u64, 0, 0, 0], &m),
        "poll([{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}], 2, -1)"
    );
    let how = m.put_u64s(0x4000, &[0o2000000, 0, 0x8]);
    assert_eq!(
        format_call(nr(Sysno::openat2), [AT_FDCWD, 0, how, 24, 0, 0], &m),
        "openat2(AT_FDCWD, NULL, {flags=O_RDONLY|O_CLOEXEC, resolve=RESOLVE_BENEATH}, 24)"
    );
}

#[test]
fn table_is_broad_and_well_formed() {
    assert!(table::ALL.len() >= 120, "only {} syscalls described", table::ALL.len());
    for s in table::ALL {
        let spec = table::lookup(*s).unwrap();
        assert!(spec.args.len() <= 6, "{}", s.name());
        for kind in spec.args {
            if let ArgKind::InBuf(n)
            | ArgKind::OutBuf(n)
            | ArgKind::IovecIn(n)
            | ArgKind::IovecOut(n)
            | ArgKind::OpenMode(n)
            | ArgKind::PollFds(n) = kind
            {
                assert!((*n as usize) < spec.args.len(), "{}: bad argument index", s.name());
            }
        }
    }
    for name in ["read", "write", "openat", "close", "mmap", "munmap", "execve", "clone", "rt_sigaction", "statx"] {
        assert!(table::ALL.iter().any(|s| s.name() == name), "{name}");
    }
}

/// A deterministic reader that fails, returns short, long or empty reads.
struct ChaosMem;

impl MemReader for ChaosMem {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let h = addr.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17);
        let n = match h % 7 {
            0 => return None,
            1 => 0,
            2 => len / 2,
            3 => len + 5,
            _ => len,
        };
        Some((0..n.min(1 << 16)).map(|i| (h >> (i % 8)) as u8 ^ i as u8).collect())
    }
}

#[test]
fn never_panics() {
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let specials = [0, 1, u64::MAX, u64::MAX - 7, 0xffff_ffff, 0x8000_0000_0000_0000, 4095, 4096];
    for nr in (0..520).chain([u64::MAX, 1 << 32]) {
        for round in 0..12 {
            let mut args = [0u64; 6];
            for a in &mut args {
                *a = if round % 3 == 0 { specials[(next() % 8) as usize] } else { next() >> (next() % 64) };
            }
            let ret = match round % 4 {
                0 => -((next() % 5000) as i64),
                1 => (next() % 1_000_000) as i64,
                _ => next() as i64,
            };
            let _ = format_call(nr, args, &ChaosMem);
            let _ = format_line(nr, args, ret, &ChaosMem);
            let _ = format_return(nr, ret, args, &NoMem);
        }
    }
}
