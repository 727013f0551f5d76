use super::hierarchy::parse;
use super::*;

const HYBRID_MOUNTINFO: &str = "\
25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
35 30 0:31 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
36 30 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const HYBRID_SELF: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
";

#[test]
fn parses_a_hybrid_host() {
    let hs = parse(HYBRID_MOUNTINFO, HYBRID_SELF);
    let mounts: Vec<_> = hs.iter().map(|h| h.mount.to_str().unwrap()).collect();
    assert_eq!(
        mounts,
        [
            "/sys/fs/cgroup/cpu",
            "/sys/fs/cgroup/cpuacct",
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/unified"
        ]
    );
    let mem = hs.iter().find(|h| h.mount.ends_with("memory")).unwrap();
    assert_eq!(mem.own, Path::new("process_api/abc"));
    assert_eq!(mem.version, Version::V1(vec!["memory".into()]));
    assert_eq!(hs.last().unwrap().version, Version::V2);
}

#[test]
fn parses_combined_v1_controllers_and_pure_v2() {
    let mi = "40 30 0:40 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
    let hs = parse(mi, "3:cpuacct,cpu:/user.slice\n");
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].version, Version::V1(vec!["cpu".into(), "cpuacct".into()]));
    assert_eq!(hs[0].own, Path::new("user.slice"));
    let mi = "40 30 0:40 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    let hs = parse(mi, "0::/user.slice/session-1.scope\n");
    assert_eq!(hs.len(), 1);
    assert_eq!((hs[0].version.clone(), hs[0].own.clone()), (Version::V2, PathBuf::from("user.slice/session-1.scope")));
    // Inside a cgroup namespace the mount root is stripped.
    let mi = "40 30 0:40 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    assert_eq!(parse(mi, "0::/ctr/sub\n")[0].own, PathBuf::from("sub"));
}

#[test]
fn sizes_and_limits_are_validated() {
    assert_eq!(parse_bytes("64M").unwrap(), 64 << 20);
    assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
    assert_eq!(parse_bytes("4096").unwrap(), 4096);
    assert!(parse_bytes("12x").is_err() && parse_bytes("").is_err() && parse_bytes("99999999999T").is_err());
    assert!(Limits { memory: Some(1 << 20), ..Default::default() }.validate().is_err());
    assert!(Limits { pids: Some(0), ..Default::default() }.validate().is_err());
    assert!(Limits { cpus: Some(f64::NAN), ..Default::default() }.validate().is_err());
    assert!(Limits { memory: Some(64 << 20), pids: Some(10), cpus: Some(0.5) }.validate().is_ok());
}

/// On the real host (as root): create with limits, join, read stats, destroy.
#[test]
fn lifecycle_on_this_host() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the cgroup lifecycle is tested as root only");
        return;
    }
    let name = format!("rvisor-unit-{}", std::process::id());
    let limits = Limits { memory: Some(256 << 20), pids: Some(50), cpus: Some(0.5) };
    let cg = Cgroup::create(&Placement::Nested(name.clone()), &limits).expect("create");
    assert!(cg.paths().iter().all(|p| p.ends_with(&name) && p.is_dir()), "{:?}", cg.paths());
    // SAFETY: the child only sleeps until killed.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: pause in the forked test child.
        unsafe {
            libc::pause();
            libc::_exit(0);
        }
    }
    cg.add_pid(pid).expect("add");
    assert_eq!(cg.procs(), vec![pid]);
    let s = cg.stats().expect("stats");
    assert_eq!(s.pids, Some(1));
    assert!(s.memory_bytes.is_some() && s.cpu_usage_ns.is_some(), "{s:?}");
    let mem = cg.dir_with("memory").unwrap();
    let limit_file = if mem.join("memory.max").exists() { "memory.max" } else { "memory.limit_in_bytes" };
    assert_eq!(read_file(&mem.join(limit_file)).unwrap().trim(), (256u64 << 20).to_string());
    cg.update(&Limits { pids: Some(7), ..Default::default() }).expect("update");
    assert_eq!(read_file(&cg.dir_with("pids").unwrap().join("pids.max")).unwrap().trim(), "7");
    // Reopened from its paths (as the janitor and OCI state do), it destroys cleanly.
    let again = Cgroup::from_paths(&cg.paths()).unwrap();
    again.destroy().expect("destroy");
    let mut st = 0;
    // SAFETY: reaps our own child, killed by destroy.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    assert!(libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL);
    assert!(cg.paths().iter().all(|p| !p.exists()));
}
