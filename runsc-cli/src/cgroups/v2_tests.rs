//! cgroup v2 without a v2-only host: the limit files are checked on a
//! directory laid out like a v2 cgroup, and the core operations (create,
//! add, freeze, kill, destroy) on the host's real cgroup2 mount, which
//! every supported host has (pure v2, or hybrid like the CI machines).

use std::path::{Path, PathBuf};

use super::{v2, Cgroup, Limits};

/// A directory shaped like a v2 cgroup with every controller file we set.
fn fake_v2_dir() -> PathBuf {
    let d =
        std::env::temp_dir().join(format!("rvisor-fake-v2-{}-{:?}", std::process::id(), std::thread::current().id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["cgroup.controllers", "memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max"] {
        std::fs::write(d.join(f), "").unwrap();
    }
    for f in ["cpuset.cpus", "cpuset.mems", "pids.max"] {
        std::fs::write(d.join(f), "").unwrap();
    }
    d
}

fn file(d: &Path, f: &str) -> String {
    std::fs::read_to_string(d.join(f)).unwrap().trim().to_string()
}

#[test]
fn v2_limit_files_follow_runc() {
    let d = fake_v2_dir();
    let json = r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
                  "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
                  "pids": {"limit": 100}, "unified": {"memory.high": "60000000"}}"#;
    let r: oci_spec::runtime::LinuxResources = serde_json::from_str(json).unwrap();
    let cg = Cgroup::from_dirs(vec![d.clone()]);
    cg.apply(&r).unwrap();
    assert_eq!(file(&d, "memory.max"), "67108864");
    // v1's swap limit counts memory too; v2's is swap alone.
    assert_eq!(file(&d, "memory.swap.max"), "67108864");
    assert_eq!(file(&d, "memory.low"), "33554432");
    // runc's shares -> weight conversion: 1024 shares is weight 39.
    assert_eq!(file(&d, "cpu.weight"), "39");
    assert_eq!(file(&d, "cpu.max"), "50000 100000");
    assert_eq!(file(&d, "cpuset.cpus"), "0");
    assert_eq!(file(&d, "pids.max"), "100");
    assert_eq!(file(&d, "memory.high"), "60000000");

    // `rvisor do --memory 64M --pids 32 --cpus 0.5` on a v2 host.
    let l = Limits { memory: Some(64 << 20), pids: Some(32), cpus: Some(0.5) };
    cg.apply(&l.to_resources().unwrap()).unwrap();
    assert_eq!(file(&d, "memory.max"), (64u64 << 20).to_string());
    assert_eq!(file(&d, "memory.swap.max"), "0", "no swap beyond the memory limit");
    assert_eq!(file(&d, "pids.max"), "32");
    assert_eq!(file(&d, "cpu.max"), "50000 100000");

    // A unified key naming another directory is never written.
    let r: oci_spec::runtime::LinuxResources =
        serde_json::from_str(r#"{"unified": {"../escape": "1", ".hidden": "1"}}"#).unwrap();
    cg.apply(&r).unwrap();
    assert!(!d.parent().unwrap().join("escape").exists() && !d.join(".hidden").exists());

    // Statistics in runc's shape.
    std::fs::write(d.join("memory.current"), "1048576\n").unwrap();
    std::fs::write(d.join("memory.stat"), "anon 4096\nfile 8192\n").unwrap();
    std::fs::write(d.join("pids.current"), "3\n").unwrap();
    std::fs::write(d.join("cpu.stat"), "usage_usec 10\nuser_usec 7\nsystem_usec 3\n").unwrap();
    let s = cg.stats();
    assert_eq!(s["memory"]["usage"]["usage"], 1048576);
    assert_eq!(s["memory"]["cache"], 8192);
    assert_eq!(s["pids"]["current"], 3);
    assert_eq!(s["pids"]["limit"], 32);
    assert_eq!(s["cpu"]["usage"]["total"], 10_000);
    std::fs::remove_dir_all(&d).unwrap();
}

/// The host's cgroup2 mount point, from /proc/self/mountinfo.
fn cgroup2_mount() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let point = pre.split_whitespace().nth(4)?;
            (post.split_whitespace().next() == Some("cgroup2")).then(|| PathBuf::from(point))
        })
        .expect("no cgroup2 mount on this host: these tests need one (pure v2 or hybrid)")
}

#[test]
fn v2_core_operations_on_the_hosts_cgroup2_mount() {
    let mount = cgroup2_mount();
    let dir = mount.join(format!("rvisor-v2-test-{}", std::process::id()));
    v2::create(&mount, &dir).unwrap();
    let cg = Cgroup::from_dirs(vec![dir.clone()]);
    let mut child = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id() as i32;
    cg.add_v2(pid).unwrap();
    assert_eq!(cg.pids(), vec![pid]);

    cg.set_frozen(true).unwrap();
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
    assert!(events.lines().any(|l| l == "frozen 1"), "{events}");
    cg.set_frozen(false).unwrap();
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
    assert!(events.lines().any(|l| l == "frozen 0"), "{events}");

    cg.kill_all();
    let st = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(libc::SIGKILL));
    assert!(cg.pids().is_empty());
    assert!(cg.destroy().is_empty());
    assert!(!dir.exists());
}
