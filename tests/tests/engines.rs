//! Real container engines drive rvisor unmodified: Podman (through conmon),
//! containerd with ctr (through the runc shim v2) and dockerd, each with a
//! busybox image loaded from a tarball. scripts/test.sh installs them.
//! The containers run on the suite's platform (`oci_support::suite_platform`):
//! containerd and dockerd inherit RVISOR_PLATFORM and run rvisor with it
//! (its --platform's default); Podman passes it as a runtime flag.

mod oci_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_support::{region_count, suite_platform};
use rvisor_tests::{rvisor_bin, Input, Run, RunOutput, Status, TempDir};

const IMAGE: &str = "localhost/rvisor-busybox:latest";

fn report(o: &RunOutput) -> String {
    format!("status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", o.status, o.stdout_str(), o.stderr_str())
}

/// An engine binary, or a loud failure naming the package.
fn need(bin: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(bin);
    assert!(p.is_file(), "{bin} is missing: install {package} (scripts/test.sh does)");
    p
}

fn sh(cmd: &str, cwd: &Path) {
    let o = Run::new("/bin/sh").args(["-c", cmd]).cwd(cwd).output();
    assert_eq!(o.status, Status::Exited(0), "{cmd}: {}", report(&o));
}

/// A docker-archive image (what `docker save` writes) of a busybox rootfs:
/// Podman, containerd and Docker all load it.
fn image_tar(dir: &Path) -> PathBuf {
    let build = dir.join("image");
    let rootfs = build.join("rootfs");
    oci_support::busybox_rootfs(&rootfs);
    sh("tar -C rootfs -cf layer.tar . && rm -rf rootfs", &build);
    sh(
        r#"d=$(sha256sum layer.tar | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$d" > config.json
printf '[{"Config":"config.json","RepoTags":["localhost/rvisor-busybox:latest"],"Layers":["layer.tar"]}]' > manifest.json
tar -cf ../image.tar manifest.json config.json layer.tar"#,
        &build,
    );
    dir.join("image.tar")
}

/// A daemon this test started; stopped (SIGTERM, then SIGKILL) on drop.
struct Daemon {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &'static str, cmd: &mut Command, log: PathBuf, ready: &Path) -> Daemon {
        let f = fs::File::create(&log).expect("daemon log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("log fd"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut d = Daemon { child, name, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!("{name} exited ({st}) while starting:\n{}", d.log_text());
            }
            assert!(Instant::now() < deadline, "{name} did not come up:\n{}", d.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signals the daemon this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` in a pseudo-terminal (script(1)) with `input` typed into it.
fn in_terminal(cmd: &str, input: &str) -> RunOutput {
    // The typed input waits until the shell's prompt can be there.
    let feed = format!("sleep 2; printf '{input}'; sleep 2");
    Run::new("/bin/sh")
        .args(["-c", &format!("({feed}) | script -qfec \"{cmd}\" /dev/null")])
        .timeout(Duration::from_secs(120))
        .output()
}

#[test]
fn podman_runs_containers_with_rvisor() {
    let podman = need("/usr/bin/podman", "podman");
    // Podman refuses a runroot longer than 50 characters.
    let tmp = TempDir::new_in(Path::new("/tmp"), "rvpm");
    let conf = tmp.path().join("containers.conf");
    // This machine's hard RLIMIT_NOFILE is 20000 and Podman's default
    // (1048576) cannot be set without CAP_SYS_RESOURCE.
    fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\nnetns = \"none\"\n\
         [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )
    .unwrap();
    // Podman does not hand its environment to the runtime: the suite's
    // platform goes as a runtime flag (rvisor's global --platform).
    let platform = match std::env::var("RVISOR_PLATFORM") {
        Ok(p) => format!(" --runtime-flag platform={p}"),
        Err(_) => String::new(),
    };
    let base = format!(
        "{} --root {t}/root --runroot {t}/run --storage-driver vfs --runtime {}{platform}",
        podman.display(),
        rvisor_bin().display(),
        t = tmp.path().display()
    );
    let pm = |args: &str| -> RunOutput {
        Run::new("/bin/sh")
            .args(["-c", &format!("{base} {args}")])
            .env("CONTAINERS_CONF", &conf)
            .timeout(Duration::from_secs(120))
            .output()
    };
    let image = image_tar(tmp.path());
    let o = pm(&format!("load -i {}", image.display()));
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));

    let o = pm(&format!("run --rm {IMAGE} sh -c 'echo hello from podman; exit 3'"));
    assert_eq!(o.status, Status::Exited(3), "{}", report(&o));
    assert_eq!(o.stdout_str(), "hello from podman\n", "{}", report(&o));

    let o = pm(&format!("run --rm {IMAGE} /no/such/program"));
    assert_eq!(o.status, Status::Exited(127), "{}", report(&o));

    let o = pm(&format!("run -d --name pd1 {IMAGE} sh -c 'echo up; while true; do sleep 0.1; done'"));
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = pm("exec pd1 sh -c 'echo in exec; exit 4'");
    assert_eq!(o.status, Status::Exited(4), "{}", report(&o));
    assert_eq!(o.stdout_str(), "in exec\n", "{}", report(&o));
    let o = pm("exec pd1 grep -c ^6000 /proc/self/maps");
    assert_eq!(o.stdout_str().trim(), region_count(suite_platform()), "{}", report(&o));
    let o = pm("logs pd1");
    assert_eq!(o.stdout_str(), "up\n", "{}", report(&o));
    // ps(1)-style options: podman runs ps in the container, which sees the
    // sandbox's own processes (init is pid 1) and nothing of the host.
    let o = pm("top pd1 -ef");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let first = o.stdout_str().lines().nth(1).unwrap_or_default().split_whitespace().next().map(str::to_string);
    assert_eq!(first.as_deref(), Some("1"), "{}", report(&o));
    assert!(o.stdout_str().contains("while true"), "{}", report(&o));
    assert!(!o.stdout_str().contains("conmon") && !o.stdout_str().contains("rvisor"), "{}", report(&o));
    // Plain `podman top` reads the /proc of the container pid's mount
    // namespace: the sandbox's host processes (the sentry is pid 1 there;
    // init, the zygote and init's children beside it), none of the host's.
    let o = pm("top pd1");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let out = o.stdout_str();
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(rows.first().is_some_and(|r| r.split_whitespace().nth(1) == Some("1")), "{}", report(&o));
    assert!((3..10).contains(&rows.len()), "{}", report(&o));
    for host_only in ["conmon", "kthreadd", "podman", "rvisor-gofer"] {
        assert!(!o.stdout_str().contains(host_only), "{host_only}: {}", report(&o));
    }
    // podman exec -t: the terminal is the sandbox's /dev/pts/0, stat as the fd.
    let o = Run::new("/bin/sh")
        .args(["-c", &format!("script -qfec \"{base} exec -t pd1 sh -c 'tty; stat -c %d:%i:%t:%T \\$(tty); stat -L -c %d:%i:%t:%T /proc/self/fd/0'\" /dev/null </dev/null")])
        .env("CONTAINERS_CONF", &conf)
        .timeout(Duration::from_secs(120))
        .output();
    let out = o.stdout_str();
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines.first().copied(), Some("/dev/pts/0"), "{}", report(&o));
    assert!(lines.len() == 3 && lines[1] == lines[2] && lines[1].ends_with(":88:0"), "{}", report(&o));
    let o = pm("stop -t 1 pd1");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = pm("inspect -f '{{.State.ExitCode}}' pd1");
    assert_eq!(o.stdout_str().trim(), "137", "{}", report(&o));
    let o = pm("rm pd1");
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));

    let o = Run::new("/bin/sh")
        .args(["-c", &format!("(sleep 2; printf 'tty; echo $((6*7))x; exit 6\\n'; sleep 2) | script -qfec \"{base} run -it --rm {IMAGE} sh\" /dev/null")])
        .env("CONTAINERS_CONF", &conf)
        .timeout(Duration::from_secs(120))
        .output();
    assert!(o.stdout_str().contains("42x"), "{}", report(&o));
    assert!(o.stdout_str().contains("\n/dev/pts/0\r"), "podman run -it: tty names /dev/pts/0: {}", report(&o));
    assert_eq!(o.status, Status::Exited(6), "{}", report(&o));
    let _ = pm("rm -af");
}

#[test]
fn containerd_ctr_runs_containers_with_rvisor() {
    let containerd = need("/usr/bin/containerd", "containerd");
    let ctr_bin = need("/usr/bin/ctr", "containerd");
    let tmp = TempDir::new("engine-ctd");
    let sock = tmp.path().join("ctd.sock");
    let t = tmp.path().display().to_string();
    let _daemon = Daemon::start(
        "containerd",
        Command::new(&containerd)
            .args(["--root", &format!("{t}/root"), "--state", &format!("{t}/state")])
            .arg("--address")
            .arg(&sock),
        tmp.path().join("containerd.log"),
        &sock,
    );
    let ctr = |args: &[&str]| -> Run {
        Run::new(&ctr_bin).arg("--address").arg(&sock).args(args).timeout(Duration::from_secs(120))
    };
    let image = image_tar(tmp.path());
    let o = ctr(&["images", "import"]).arg(&image).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let rv = rvisor_bin().display().to_string();

    let o =
        ctr(&["run", "--rm", "--runc-binary", &rv, IMAGE, "c1", "sh", "-c", "echo hello from ctr; exit 4"]).output();
    assert_eq!(o.status, Status::Exited(4), "{}", report(&o));
    assert_eq!(o.stdout_str(), "hello from ctr\n", "{}", report(&o));

    let o =
        ctr(&["run", "-d", "--runc-binary", &rv, IMAGE, "c2", "sh", "-c", "while true; do sleep 0.1; done"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = ctr(&["task", "exec", "--exec-id", "e1", "c2", "sh", "-c", "echo exec; exit 9"]).output();
    assert_eq!(o.status, Status::Exited(9), "{}", report(&o));
    assert_eq!(o.stdout_str(), "exec\n", "{}", report(&o));
    let o = ctr(&["task", "exec", "--exec-id", "e2", "c2", "grep", "-c", "^6000", "/proc/self/maps"]).output();
    assert_eq!(o.stdout_str().trim(), region_count(suite_platform()), "{}", report(&o));
    let o = ctr(&["task", "ps", "c2"]).output();
    assert!(o.stdout_str().lines().count() >= 2, "{}", report(&o));
    let o = ctr(&["task", "pause", "c2"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert!(ctr(&["task", "ls"]).output().stdout_str().contains("PAUSED"));
    let o = ctr(&["task", "resume", "c2"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = ctr(&["task", "kill", "-s", "SIGKILL", "c2"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ctr(&["task", "ls"]).output().stdout_str().contains("STOPPED") {
        assert!(Instant::now() < deadline, "c2 did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = ctr(&["task", "rm", "c2"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = ctr(&["containers", "rm", "c2"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));

    let o = in_terminal(
        &format!("{} --address {} run -t --rm --runc-binary {rv} {IMAGE} c3 sh", ctr_bin.display(), sock.display()),
        "tty; echo $((6*7))x; exit 5\\n",
    );
    assert!(o.stdout_str().contains("42x"), "{}", report(&o));
    assert!(o.stdout_str().contains("\n/dev/pts/0\r"), "ctr run -t: tty names /dev/pts/0: {}", report(&o));
    assert_eq!(o.status, Status::Exited(5), "{}", report(&o));
}

#[test]
fn dockerd_runs_containers_with_rvisor() {
    let dockerd = need("/usr/sbin/dockerd", "docker.io");
    let docker_bin = need("/usr/bin/docker", "docker.io");
    let tmp = TempDir::new("engine-dk");
    let t = tmp.path().display().to_string();
    let sock = tmp.path().join("docker.sock");
    let _daemon = Daemon::start(
        "dockerd",
        Command::new(&dockerd)
            .args(["--storage-driver", "vfs", "--iptables=false", "--bridge=none"])
            .args(["--data-root", &format!("{t}/root"), "--exec-root", &format!("{t}/exec")])
            .args(["--pidfile", &format!("{t}/docker.pid"), "-H", &format!("unix://{}", sock.display())])
            .arg("--add-runtime")
            .arg(format!("rvisor={}", rvisor_bin().display())),
        tmp.path().join("dockerd.log"),
        &sock,
    );
    let docker = |args: &[&str]| -> Run {
        Run::new(&docker_bin)
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args(args)
            .timeout(Duration::from_secs(120))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while docker(&["version"]).output().status != Status::Exited(0) {
        assert!(Instant::now() < deadline, "dockerd does not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
    let image = image_tar(tmp.path());
    let o = docker(&["load", "-i"]).arg(&image).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let run = ["run", "--runtime", "rvisor", "--network", "none"];

    let o = docker(&run).args(["--rm", IMAGE, "sh", "-c", "echo hello from docker; exit 5"]).output();
    assert_eq!(o.status, Status::Exited(5), "{}", report(&o));
    assert_eq!(o.stdout_str(), "hello from docker\n", "{}", report(&o));

    // Docker's masked and read-only paths, its cgroup mount, and a --device node.
    let o = docker(&run)
        .args(["--rm", "--device", "/dev/fuse", IMAGE, "sh", "-c"])
        .arg(
            "stat -c %t:%T /dev/fuse; ls /sys/firmware | wc -l; grep -c ' /proc/sys proc ro' /proc/mounts; \
             { echo x > /proc/sys/kernel/domainname; } 2>&1; cat /sys/fs/cgroup/pids.max",
        )
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(
        o.stdout_str(),
        "a:e5\n0\n1\nsh: can't create /proc/sys/kernel/domainname: Read-only file system\nmax\n",
        "{}",
        report(&o)
    );
    // --privileged lists every host device: each becomes a node in the sandbox.
    let o = docker(&run)
        .args(["--rm", "--privileged", IMAGE, "sh", "-c", "test -c /dev/null && echo privileged-ok"])
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert_eq!(o.stdout_str(), "privileged-ok\n", "{}", report(&o));

    let o = docker(&run)
        .args(["-d", "--name", "dk1", IMAGE, "sh", "-c", "echo up; while true; do sleep 0.1; done"])
        .output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = docker(&["exec", "dk1", "sh", "-c", "echo in exec; exit 3"]).output();
    assert_eq!(o.status, Status::Exited(3), "{}", report(&o));
    assert_eq!(o.stdout_str(), "in exec\n", "{}", report(&o));
    let o = docker(&["exec", "-i", "dk1", "cat"]).input(Input::Bytes(b"through stdin\n".to_vec())).output();
    assert_eq!(o.stdout_str(), "through stdin\n", "{}", report(&o));
    let o = docker(&["exec", "dk1", "grep", "-c", "^6000", "/proc/self/maps"]).output();
    assert_eq!(o.stdout_str().trim(), region_count(suite_platform()), "{}", report(&o));
    let o = docker(&["logs", "dk1"]).output();
    assert_eq!(o.stdout_str(), "up\n", "{}", report(&o));
    let o = docker(&["stop", "-t", "1", "dk1"]).output();
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    let o = docker(&["inspect", "-f", "{{.State.ExitCode}}", "dk1"]).output();
    assert_eq!(o.stdout_str().trim(), "137", "{}", report(&o));
    assert_eq!(docker(&["rm", "dk1"]).output().status, Status::Exited(0));

    let o = in_terminal(
        &format!(
            "{} -H unix://{} run -it --rm --runtime rvisor --network none {IMAGE} sh",
            docker_bin.display(),
            sock.display()
        ),
        "tty; echo $((6*7))x; exit 4\\n",
    );
    assert!(o.stdout_str().contains("42x"), "{}", report(&o));
    assert!(o.stdout_str().contains("\n/dev/pts/0\r"), "docker run -it: tty names /dev/pts/0: {}", report(&o));
    assert_eq!(o.status, Status::Exited(4), "{}", report(&o));
}
