//! The sandbox seen from the host while it runs: its processes are confined
//! (namespaces, capabilities, no_new_privs, seccomp, cgroup, a sealed
//! binary, two host fds per app process), and tests/c/escape_hostpids.c,
//! handed the host pids of the launcher, sentry, gofer, janitor and an
//! unrelated host process, reaches none of them.

mod sandbox_procs;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rvisor_tests::{compile_c, native_only, random_hex, Run, RunOutput, Status, TempDir};
use sandbox_procs::{status_field, Sandbox};

/// Host fds of every app process: the stub image and the injection socket.
const APP_FDS: [i32; 2] = [1000, 1001];
/// Host fds an app process may hold besides: files it has open, installed
/// for reads and maps in its own context (sentry/src/syscalls/appfds.rs).
const INSTALLED_FDS: std::ops::Range<i32> = 1002..1018;
/// Under systrap besides: the process's copy file and install socket
/// (sentry/src/kernel/systrap/owned.rs).
const SYSTRAP_FDS: [i32; 2] = [1018, 1019];

/// CAP_NET_BIND_SERVICE only.
const SENTRY_CAPS: &str = "0000000000000400";
/// CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID.
const GOFER_CAPS: &str = "000000000000001f";

fn report(o: &RunOutput) -> String {
    format!("status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", o.status, o.stdout_str(), o.stderr_str())
}

/// What the host sees of a running sandbox's processes.
fn check_confinement(sb: &Sandbox) {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    for kind in ["pid", "mnt", "net", "ipc", "uts"] {
        let ours = sandbox_procs::ns(me, kind);
        assert!(ours.is_some());
        assert_ne!(sandbox_procs::ns(sb.sentry, kind), ours, "the sentry shares our {kind} namespace");
    }
    for kind in ["mnt", "net", "ipc", "uts"] {
        assert_ne!(sandbox_procs::ns(sb.gofer, kind), sandbox_procs::ns(me, kind), "the gofer shares our {kind} ns");
    }
    for (who, pid, caps) in [("sentry", sb.sentry, SENTRY_CAPS), ("gofer", sb.gofer, GOFER_CAPS)] {
        assert_eq!(status_field(pid, "CapEff").as_deref(), Some(caps), "{who} capabilities");
        assert_eq!(status_field(pid, "CapPrm").as_deref(), Some(caps), "{who} permitted capabilities");
        assert_eq!(status_field(pid, "CapBnd").as_deref(), Some(caps), "{who} bounding set");
        assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"), "{who} no_new_privs");
        assert_eq!(status_field(pid, "Seccomp").as_deref(), Some("2"), "{who} seccomp filter");
        let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        assert!(cg.contains(&format!("/rvisor-{}\n", sb.launcher)), "{who} is not in the sandbox cgroup:\n{cg}");
    }
    // The sentry runs pivoted into an empty root.
    let root: Vec<_> = fs::read_dir(format!("/proc/{}/root", sb.sentry)).expect("sentry root").flatten().collect();
    assert!(root.is_empty(), "the sentry's root is not empty: {root:?}");
    // CVE-2019-5736: the binary behind /proc/PID/exe cannot be written
    // through that link (a read-only detached bind, or a sealed memfd).
    let exe = format!("/proc/{}/exe", sb.launcher);
    let link = fs::read_link(&exe).expect("launcher exe");
    let f = fs::File::open(&exe).expect("open the launcher's exe");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    // SAFETY: zeroed statvfs is a valid out-buffer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs on an fd we own into a local buffer.
    let read_only = unsafe { libc::fstatvfs(fd, &mut st) } == 0 && st.f_flag & libc::ST_RDONLY != 0;
    // SAFETY: fcntl on an fd we own.
    let sealed = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) } & libc::F_SEAL_WRITE != 0;
    assert!(read_only || sealed, "rvisor's binary {link:?} is writable through /proc/PID/exe");
    // The attack itself: a write open through the link is refused.
    assert!(fs::OpenOptions::new().write(true).open(&exe).is_err(), "{link:?} opened for writing");
    let apps = sb.apps();
    assert!(!apps.is_empty(), "no app process under the sentry");
    for app in apps {
        assert_eq!(status_field(app, "CapEff").as_deref(), Some("0000000000000000"), "app capabilities");
        assert_eq!(status_field(app, "CapPrm").as_deref(), Some("0000000000000000"), "app capabilities");
        assert_eq!(status_field(app, "Seccomp").as_deref(), Some("2"), "app seccomp");
        // Anything else would be an fd installed for the moment of an injection: sample.
        for _ in 0..20 {
            let fds = sandbox_procs::fds(app);
            let systrap = rvisor_tests::suite_platform() == "systrap";
            let expected =
                |f: &i32| APP_FDS.contains(f) || INSTALLED_FDS.contains(f) || systrap && SYSTRAP_FDS.contains(f);
            assert!(fds.iter().all(expected), "app {app} holds host fds {fds:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        let app_root: Vec<_> = fs::read_dir(format!("/proc/{app}/root")).expect("app root").flatten().collect();
        assert!(app_root.is_empty(), "an app process's host root is not empty: {app_root:?}");
    }
}

#[test]
fn escape_hostpids() {
    let name = "escape_hostpids";
    let prog = compile_c(name);
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: escape programs only run in the sandbox; skipping {name}");
        return;
    }
    let base = TempDir::new("escape-host");
    let secret = format!("SECRET-{}", random_hex(16));
    let secret_path = base.path().join("secret.txt");
    fs::write(&secret_path, &secret).expect("write secret");
    let root = base.path().join("rootfs");
    for d in ["tmp", "proc", "dev"] {
        fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    fs::copy(&prog, root.join(name)).expect("copy program");
    fs::set_permissions(root.join(name), fs::Permissions::from_mode(0o755)).expect("chmod");

    let mut victim = Command::new("sleep").arg("300").spawn().expect("start a host victim");
    let run = {
        let (root, secret_path, outside) = (root.clone(), secret_path.clone(), base.path().to_path_buf());
        std::thread::spawn(move || {
            Run::rvisor()
                .arg("do")
                .arg("--rootfs")
                .arg(&root)
                .arg("--")
                .arg(format!("/{name}"))
                .arg(&secret_path)
                .arg(&outside)
                .cwd("/")
                .timeout(Duration::from_secs(90))
                .output()
        })
    };
    let marker = root.to_str().expect("utf-8").to_string();
    let sb = sandbox_procs::find(&marker, Duration::from_secs(30));
    let sb = match sb {
        Some(sb) => sb,
        None => {
            let _ = victim.kill();
            let o = run.join().expect("runner");
            panic!("the sandbox's processes were not found\n{}", report(&o));
        }
    };
    // Confinement is complete once the app runs and the sentry's filter is in.
    let up = sandbox_procs::wait_until(Duration::from_secs(20), || {
        !sb.apps().is_empty() && status_field(sb.sentry, "Seccomp").as_deref() == Some("2")
    });
    assert!(up, "the sandbox never started its app");
    check_confinement(&sb);
    let janitor = sb.janitor.expect("a janitor runs beside the sandbox");
    let targets = [
        ("launcher", sb.launcher),
        ("sentry", sb.sentry),
        ("gofer", sb.gofer),
        ("janitor", janitor),
        ("victim", victim.id() as i32),
    ];
    assert!(targets.iter().all(|(_, p)| *p > 100), "host pids too small to tell from sandbox pids: {targets:?}");
    let list: String = targets.iter().map(|(n, p)| format!("{n} {p}\n")).collect();
    let tmp: PathBuf = root.join(".hostpids.tmp");
    fs::write(&tmp, list).expect("write host pids");
    fs::rename(&tmp, root.join("hostpids")).expect("publish host pids");

    let o = run.join().expect("runner thread");
    let victim_alive = victim.try_wait().expect("try_wait").is_none();
    let tracer = status_field(victim.id() as i32, "TracerPid");
    let _ = victim.kill();
    let _ = victim.wait();
    let out = o.stdout_str();
    assert!(!format!("{out}{}", o.stderr_str()).contains(&secret), "THE SECRET ESCAPED\n{}", report(&o));
    assert!(!out.contains("LEAK"), "a host process was reached\n{}", report(&o));
    assert!(out.contains("targets: 5\n"), "{}", report(&o));
    for (n, _) in targets {
        let line = out.lines().find(|l| l.contains(&format!(" {n}: "))).unwrap_or_else(|| panic!("no {n}\n{out}"));
        // Twenty calls per target, each refused.
        assert_eq!(line.matches('=').count(), 20, "{n}: {line}");
    }
    assert!(out.contains("attempts: 6\n"), "{}", report(&o));
    assert_eq!(o.status, Status::Exited(0), "{}", report(&o));
    assert!(victim_alive, "the host victim process was killed from the sandbox");
    assert_eq!(tracer.as_deref(), Some("0"), "the host victim is being traced");
    // Everything of the sandbox is gone once rvisor returned.
    for (n, p) in [("sentry", sb.sentry), ("gofer", sb.gofer), ("janitor", janitor)] {
        assert!(!sandbox_procs::alive(p), "the {n} ({p}) outlived rvisor");
    }
    assert!(
        sandbox_procs::cgroup_dirs_named(&format!("rvisor-{}", sb.launcher)).is_empty(),
        "the sandbox's cgroup outlived rvisor"
    );
}
