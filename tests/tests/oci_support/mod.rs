//! Shared by the OCI runtime tests: busybox bundles, a private `--root`
//! per test, and helpers to read container state.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rvisor_tests::{Run, RunOutput, TempDir};
use serde_json::{json, Value};

pub const BUSYBOX: &str = "/bin/busybox";

/// Fills `root` with a static busybox and its applets, /etc/passwd and the
/// usual mount points.
pub fn busybox_rootfs(root: &Path) {
    let meta = fs::metadata(BUSYBOX)
        .unwrap_or_else(|e| panic!("{BUSYBOX}: {e} (install busybox-static; scripts/test.sh does)"));
    assert!(meta.is_file());
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "root"] {
        fs::create_dir_all(root.join(d)).expect("mkdir in rootfs");
    }
    fs::copy(BUSYBOX, root.join("bin/busybox")).expect("copy busybox");
    let list = Run::new(BUSYBOX).arg("--list").output();
    for applet in list.stdout_str().lines().filter(|l| !l.is_empty() && *l != "busybox") {
        let _ = symlink("busybox", root.join("bin").join(applet));
    }
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n")
        .expect("passwd");
    fs::write(root.join("etc/group"), "root:x:0:\ntty:x:5:\nuser:x:1000:\n").expect("group");
}

/// A bundle directory with a busybox rootfs and a config.json from
/// `rvisor spec`, adjusted to run `args` without a terminal.
pub struct Bundle {
    pub dir: TempDir,
    pub config: Value,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("oci-bundle");
        busybox_rootfs(&dir.path().join("rootfs"));
        let o = Run::rvisor().args(["spec", "--bundle"]).arg(dir.path()).output();
        assert_eq!(o.status.code(), Some(0), "rvisor spec failed: {}", o.stderr_str());
        let text = fs::read_to_string(dir.path().join("config.json")).expect("config.json written by rvisor spec");
        let mut config: Value = serde_json::from_str(&text).expect("rvisor spec writes JSON");
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        // A cgroup of its own: tests running at once reuse container ids
        // ("ex"), whose default cgroup, /rvisor/<id>, is one per host.
        static BUNDLES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = BUNDLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        config["linux"]["cgroupsPath"] = json!(format!("/rvisor-tests/{}-{n}", std::process::id()));
        let b = Bundle { dir, config };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn save(&self) {
        fs::write(self.path().join("config.json"), serde_json::to_string_pretty(&self.config).expect("json"))
            .expect("write config.json");
    }

    /// Where `create` sends the container's stdout and stderr.
    pub fn stdout(&self) -> String {
        fs::read_to_string(self.path().join("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(self.path().join("stderr")).unwrap_or_default()
    }
}

/// A private state root for one test.
pub struct Root {
    pub dir: TempDir,
}

impl Root {
    pub fn new() -> Root {
        Root { dir: TempDir::new("oci-root") }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `rvisor --root <root> ARGS`.
    pub fn rvisor(&self, args: &[&str]) -> Run {
        Run::rvisor().arg("--root").arg(self.path()).args(args)
    }

    pub fn run(&self, args: &[&str]) -> RunOutput {
        self.rvisor(args).output()
    }

    /// `create` with the container's stdio going to files in the bundle (a
    /// pipe would stay open as long as the container runs).
    pub fn create(&self, b: &Bundle, id: &str, extra: &[&str]) -> RunOutput {
        let out = fs::File::create(b.path().join("stdout")).expect("stdout file");
        let err = fs::File::create(b.path().join("stderr")).expect("stderr file");
        let mut args = vec!["create", "--bundle"];
        let bp = b.path().to_str().expect("utf-8 path").to_string();
        args.push(&bp);
        args.extend_from_slice(extra);
        args.push(id);
        self.rvisor(&args).stdout_file(out).stderr_file(err).output()
    }

    /// The container's state, parsed.
    pub fn state(&self, id: &str) -> Value {
        let o = self.run(&["state", id]);
        assert_eq!(o.status.code(), Some(0), "state {id}: {}", o.stderr_str());
        serde_json::from_str(&o.stdout_str()).unwrap_or_else(|e| panic!("state {id}: {e}: {}", o.stdout_str()))
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or_default().to_string()
    }

    /// Waits (up to 20s) until the container reports `want`.
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(Instant::now() < deadline, "container {id} stayed {s}, expected {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The runtime's private record of a container (pids, cgroups).
    pub fn record(&self, id: &str) -> Value {
        let text = fs::read_to_string(self.path().join(id).join("state.json")).expect("state.json");
        serde_json::from_str(&text).expect("state.json is JSON")
    }

    /// Container ids with state on disk.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        v.sort();
        v
    }
}

pub fn alive(pid: i64) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    match stat.rfind(')') {
        Some(i) => !stat[i + 2..].starts_with('Z'),
        None => false,
    }
}

/// Waits (up to 10s) until none of `pids` is alive.
pub fn wait_dead(pids: &[i64]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

pub fn report(o: &RunOutput) -> String {
    format!("status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", o.status, o.stdout_str(), o.stderr_str())
}

/// `oci_support/oci_probe.c` compiled statically (once per test process).
pub fn probe() -> PathBuf {
    static DONE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let src = rvisor_tests::tests_dir().join("tests/oci_support/oci_probe.c");
        let dir = TempDir::new("oci-probe");
        let out = dir.path().join("oci_probe");
        let o = Run::new("cc").args(["-static", "-O1", "-Wall", "-o"]).arg(&out).arg(&src).output();
        assert_eq!(o.status.code(), Some(0), "compiling {}: {}", src.display(), o.stderr_str());
        // Kept for the whole test process: the TempDir is leaked on purpose.
        std::mem::forget(dir);
        out
    })
    .clone()
}

impl Bundle {
    /// Puts the probe program at /bin/oci_probe in the rootfs.
    pub fn with_probe(self) -> Bundle {
        fs::copy(probe(), self.path().join("rootfs/bin/oci_probe")).expect("copy oci_probe");
        self
    }
}

/// Receives the pty master sent to a console socket.
pub fn recv_fd(listener: &UnixListener) -> OwnedFd {
    // A runtime that fails before it connects must fail the test, not hang it.
    let deadline = Instant::now() + Duration::from_secs(60);
    listener.set_nonblocking(true).expect("non-blocking console socket");
    let conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("no connection on the console socket: {e}"),
        }
    };
    conn.set_nonblocking(false).expect("blocking console connection");
    conn.set_read_timeout(Some(Duration::from_secs(60))).expect("console connection timeout");
    let mut buf = [0u8; 256];
    let mut cmsg = [0u64; 8];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: a zeroed msghdr is valid; it points at live buffers for recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: see above.
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: the kernel filled the control buffer; one SCM_RIGHTS fd is expected.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(!c.is_null() && (*c).cmsg_type == libc::SCM_RIGHTS, "no fd on the console socket");
        OwnedFd::from_raw_fd(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>()))
    }
}

/// Reads a terminal's master until `needle` shows (or 20s, or its end).
pub fn read_until(f: &mut fs::File, needle: &str) -> String {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(needle) && Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

// Not every test binary that includes this module uses both.
#[allow(unused_imports)]
pub use rvisor_tests::{cpu_has_rdtscp, suite_platform};

/// What `grep -c ^6000 /proc/self/maps` prints in a container on `platform`:
/// systrap maps a chunk of its region (at 0x6000_0000_0000) into each
/// process, ptrace nothing.
pub fn region_count(platform: &str) -> &'static str {
    if platform == "systrap" {
        "1"
    } else {
        "0"
    }
}
