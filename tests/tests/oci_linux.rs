//! The linux parts of config.json the OCI runtime applies inside the
//! sandbox: the sentry's devpts, mqueue, cgroup and sysfs mounts, masked and
//! read-only paths, device nodes, and fds passed on with --preserve-fds.

mod oci_support;

use std::fs;

use oci_support::{report, Bundle, Root};
use rvisor_tests::{rvisor_bin, Run, Status, TempDir};
use serde_json::json;

/// The CPUs this process may use, in Linux's list format ("0-1").
fn own_cpu_list() -> String {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")).expect("Cpus_allowed_list");
    line.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn devpts_mqueue_cgroup_and_sysfs_mounts() {
    let root = Root::new();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "echo pts:$(ls /dev/pts | tr '\\n' ,); readlink /dev/ptmx; oci_probe open /dev/ptmx; \
         oci_probe mq q1; \
         cat /sys/devices/system/cpu/online /sys/devices/system/cpu/possible; nproc; \
         ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l; ls /sys/class/net | wc -l; \
         cat /sys/fs/cgroup/memory.max; touch /sys/fs/cgroup/x 2>&1; { echo 1 > /sys/kernel/x; } 2>&1; \
         for t in devpts mqueue sysfs cgroup2; do grep -c \" $t \" /proc/mounts; done",
    ])
    .with_probe();
    let o = root.run(&["run", "--bundle", b.path().to_str().unwrap(), "mounts"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let cpus = own_cpu_list();
    let n = std::thread::available_parallelism().unwrap().get();
    let expected = format!(
        "pts:ptmx,\npts/ptmx\nopen /dev/ptmx ok\n\
         entry q1\nstatus QSIZE:5    \nunlink ok\nreopen ENOENT\n\
         {cpus}\n{cpus}\n{n}\n{n}\n0\n\
         max\ntouch: /sys/fs/cgroup/x: Read-only file system\nsh: can't create /sys/kernel/x: Read-only file system\n\
         1\n1\n1\n1\n"
    );
    assert_eq!(o.stdout_str(), expected, "{}", report(&o));
}

#[test]
fn masked_and_readonly_paths_hold_against_writes_and_umount() {
    let root = Root::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /etc/secret; echo overwrite > /etc/secret && echo secret-write-swallowed; stat -c '%F %t:%T' /etc/secret; \
         cat /etc/other; ls -A /secretdir | wc -l; touch /secretdir/new 2>&1; \
         wc -c < /proc/cpuinfo; ls /sys/firmware | wc -l; \
         touch /guarded/new 2>&1; { echo x > /guarded/file; } 2>&1; cat /guarded/file /guarded/hidden; \
         { echo h > /proc/sys/kernel/hostname; } 2>&1; touch /tmp/free && echo tmp-writable; \
         umount /etc/secret 2>/dev/null || echo umount-refused; umount /proc/sys 2>/dev/null || echo umount-refused; \
         cat /etc/secret; grep -c ' /etc/secret ' /proc/mounts; \
         cat /guarded/sub/data && echo more >> /guarded/sub/data && echo sub-writable; \
         ln /etc/secret /tmp/hard 2>&1; rm /etc/secret 2>&1; mv /guarded /g2 2>&1; \
         mv /etc /etc2 && cat /etc2/secret /proc/1/root/etc2/secret && mv /etc2 /etc && echo renamed-still-masked",
    ]);
    let rootfs = b.path().join("rootfs");
    fs::write(rootfs.join("etc/secret"), "top secret\n").unwrap();
    fs::write(rootfs.join("etc/other"), "visible\n").unwrap();
    fs::create_dir(rootfs.join("secretdir")).unwrap();
    fs::write(rootfs.join("secretdir/inside"), "hidden\n").unwrap();
    fs::create_dir(rootfs.join("guarded")).unwrap();
    fs::write(rootfs.join("guarded/file"), "kept\n").unwrap();
    fs::write(rootfs.join("guarded/hidden"), "masked below a read-only path\n").unwrap();
    fs::create_dir(rootfs.join("guarded/sub")).unwrap();
    let bound = TempDir::new("oci-below-ro");
    fs::write(bound.path().join("data"), "bound below\n").unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/guarded/sub", "type": "bind", "source": bound.path(), "options": ["rbind", "rw"]}),
    );
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["maskedPaths"] = json!([
        "/etc/secret",
        "/secretdir",
        "/proc/cpuinfo",
        "/sys/firmware",
        "/proc/kcore",
        "/no/such/path",
        "/guarded/hidden"
    ]);
    b.config["linux"]["readonlyPaths"] = json!(["/guarded", "/proc/sys", "/proc/sysrq-trigger"]);
    b.save();
    let o = root.run(&["run", "--bundle", b.path().to_str().unwrap(), "masks"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(
        o.stdout_str(),
        "secret-write-swallowed\ncharacter special file 1:3\nvisible\n0\n\
         touch: /secretdir/new: Read-only file system\n0\n0\n\
         touch: /guarded/new: Read-only file system\nsh: can't create /guarded/file: Read-only file system\nkept\n\
         sh: can't create /proc/sys/kernel/hostname: Read-only file system\ntmp-writable\n\
         umount-refused\numount-refused\n1\nbound below\nsub-writable\n\
         ln: /tmp/hard: Invalid cross-device link\nrm: can't remove '/etc/secret': Device or resource busy\n\
         mv: can't rename '/guarded': Device or resource busy\nrenamed-still-masked\n",
        "{}",
        report(&o)
    );
    // The host files are untouched and nothing was created beside them.
    assert_eq!(fs::read_to_string(rootfs.join("etc/secret")).unwrap(), "top secret\n");
    assert_eq!(fs::read_to_string(rootfs.join("guarded/file")).unwrap(), "kept\n");
    assert!(!rootfs.join("guarded/new").exists() && !rootfs.join("secretdir/new").exists());
    assert!(!rootfs.join("no").exists(), "a mask of a missing path must not create it");
    assert_eq!(fs::read_to_string(bound.path().join("data")).unwrap(), "bound below\nmore\n");
}

#[test]
fn devices_are_made_in_the_sandbox_and_bad_ones_refused() {
    let root = Root::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/net/tun /dev/null /dev/myfifo; oci_probe open /dev/fuse; \
         echo through-null > /dev/null && echo null-ok",
    ])
    .with_probe();
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
        {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 0o600, "uid": 7, "gid": 8},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o20666},
        {"path": "/dev/myfifo", "type": "p", "fileMode": 0o640}
    ]);
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}
    ]);
    b.save();
    let bp = b.path().to_str().unwrap().to_string();
    let o = root.run(&["run", "--bundle", &bp, "devs"]);
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(
        o.stdout_str(),
        "/dev/fuse character special file a:e5 666 0:0\n/dev/net/tun character special file a:c8 600 7:8\n\
         /dev/null character special file 1:3 666 0:0\n/dev/myfifo fifo 0:0 640 0:0\n\
         open /dev/fuse ENXIO\nnull-ok\n",
        "{}",
        report(&o)
    );
    // The nodes exist only in the sandbox.
    assert!(!b.path().join("rootfs/dev/fuse").exists() && !b.path().join("rootfs/dev/net").exists());

    let bad = |devices: serde_json::Value, rules: serde_json::Value, needle: &str| {
        let mut c = b.config.clone();
        c["linux"]["devices"] = devices;
        c["linux"]["resources"]["devices"] = rules;
        fs::write(b.path().join("config.json"), c.to_string()).unwrap();
        let o = root.run(&["create", "--bundle", &bp, "bad"]);
        assert_eq!(o.status, Status::Exited(1), "{needle}: {}", report(&o));
        assert!(o.stderr_str().contains(needle), "expected {needle:?}: {}", report(&o));
        assert!(root.ids().is_empty(), "{needle}: state left behind: {:?}", root.ids());
    };
    let none = json!([]);
    bad(json!([{"path": "dev/rel", "type": "c", "major": 1, "minor": 3}]), none.clone(), "dev/rel: path must be");
    bad(json!([{"path": "/dev/../x", "type": "c", "major": 1, "minor": 3}]), none.clone(), "path must be absolute");
    bad(json!([{"path": "/dev/all", "type": "a"}]), none.clone(), "only valid in device cgroup rules");
    bad(json!([{"path": "/dev/big", "type": "c", "major": 5000, "minor": 1}]), none.clone(), "out of range");
    bad(
        json!([{"path": "/dev/odd", "type": "c", "major": 1, "minor": 3, "fileMode": 0o60666}]),
        none.clone(),
        "fileMode does not match",
    );
    // /dev/null is the sentry's: another device number there cannot be honoured.
    bad(json!([{"path": "/dev/null", "type": "c", "major": 1, "minor": 5}]), none.clone(), "device /dev/null");
    bad(json!([]), json!([{"allow": true, "access": "rwx"}]), "is not made of r, w and m");
}

/// `sh -c SCRIPT` with rvisor as $R and the state root as $ROOT, so the
/// script can open the fds rvisor should pass on.
fn shell(root: &Root, script: &str) -> rvisor_tests::RunOutput {
    Run::new("sh").arg("-c").arg(script).env("R", rvisor_bin()).env("ROOT", root.path()).output()
}

#[test]
fn preserve_fds_and_socket_activation_reach_the_process() {
    let root = Root::new();
    let files = TempDir::new("oci-fds");
    let f = |n: &str| files.path().join(n).to_str().unwrap().to_string();
    fs::write(f("in"), "via fd 3\n").unwrap();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "cat <&3; echo via fd 4 >&4; ls /proc/self/fd | tr '\\n' ,; echo; echo L=$LISTEN_FDS/$LISTEN_PID",
    ]);
    let bp = b.path().to_str().unwrap().to_string();
    let o = shell(
        &root,
        &format!("exec \"$R\" --root \"$ROOT\" run --bundle {bp} --preserve-fds 2 p1 3<{} 4>{}", f("in"), f("out")),
    );
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "via fd 3\n0,1,2,3,4,5,\nL=/\n", "{}", report(&o));
    assert_eq!(fs::read_to_string(f("out")).unwrap(), "via fd 4\n");

    // Socket activation: LISTEN_FDS meant for rvisor's pid become init's, first.
    let o = shell(
        &root,
        &format!(
            "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$R\" --root \"$ROOT\" run --bundle {bp} --preserve-fds 1 p2 3<{} 4>{}",
            f("in"),
            f("out2")
        ),
    );
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "via fd 3\n0,1,2,3,4,5,\nL=1/1\n", "{}", report(&o));
    assert_eq!(fs::read_to_string(f("out2")).unwrap(), "via fd 4\n");

    // A missing fd is refused before anything is made.
    let o = shell(&root, &format!("exec \"$R\" --root \"$ROOT\" run --bundle {bp} --preserve-fds 2 p3 3<{}", f("in")));
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    assert!(o.stderr_str().contains("--preserve-fds: fd 4 is not open"), "{}", report(&o));
    assert!(root.ids().is_empty(), "state left behind: {:?}", root.ids());

    // exec passes them too.
    let b = Bundle::new(&["sleep", "100"]);
    assert_eq!(root.create(&b, "ex", &[]).status, Status::Exited(0), "{}", b.stderr());
    assert_eq!(root.run(&["start", "ex"]).status, Status::Exited(0));
    let o = shell(&root, &format!("exec \"$R\" --root \"$ROOT\" exec --preserve-fds 1 ex sh -c 'cat <&3; ls /proc/self/fd | tr \"\\n\" ,' 3<{}", f("in")));
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "via fd 3\n0,1,2,3,4,", "{}", report(&o));
    let o = shell(&root, "exec \"$R\" --root \"$ROOT\" exec --preserve-fds 1 ex true 3<&-");
    assert_eq!(o.status, Status::Exited(1), "{}", report(&o));
    assert!(o.stderr_str().contains("fd 3 is not open"), "{}", report(&o));
    assert_eq!(root.run(&["delete", "--force", "ex"]).status, Status::Exited(0));
}
