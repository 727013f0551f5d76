//! /proc in the sandbox reveals nothing of the host: a program in a rootfs
//! (`rvisor do --rootfs ROOT`) dumps every file and link under /proc while
//! it runs. Neither the host path of ROOT nor the launcher's working
//! directory, nor the host pids of the sandbox's processes, nor the name
//! "rvisor" may appear; every pid field must be one of the sandbox's pids.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rvisor_tests::{compile_c, native_only, random_hex, rvisor_bin, TempDir, BASE_ENV, SANDBOX_TIMEOUT};

/// Host pids of `root` and all its descendants, from the host's /proc.
fn descendants(root: u32) -> BTreeSet<u32> {
    let mut parent_of = Vec::new();
    for e in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else { continue };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
            parent_of.push((pid, ppid));
        }
    }
    let mut set = BTreeSet::from([root]);
    loop {
        let before = set.len();
        for &(pid, ppid) in &parent_of {
            if set.contains(&ppid) {
                set.insert(pid);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

/// The dump split into (header, body lines) per file or link.
fn sections(dump: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in dump.lines() {
        if let Some(h) = line.strip_prefix("== ") {
            out.push((h.to_string(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line.to_string());
        }
    }
    out
}

/// Runs `proc_links dump` in a fresh rootfs; returns (dump, host pids, rootfs path, launcher cwd).
fn dump_proc() -> (String, BTreeSet<u32>, String, String) {
    let prog = compile_c("proc_links");
    let base = TempDir::new("proc-leak");
    let root = base.path().join(format!("rootfs-{}", random_hex(6)));
    for d in ["proc", "dev", "tmp"] {
        fs::create_dir_all(root.join(d)).expect("mkdir rootfs");
    }
    let dst = root.join("proc_links");
    fs::copy(&prog, &dst).expect("copy program");
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).expect("chmod");

    let mut child = Command::new(rvisor_bin())
        .arg("do")
        // The default host name is the sandbox's own name: not a leak.
        .args(["--hostname", "box"])
        .arg("--rootfs")
        .arg(&root)
        .args(["--", "/proc_links", "dump"])
        .current_dir(base.path())
        .env_clear()
        .envs(BASE_ENV.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rvisor");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let _ = tx.send(first);
        // Binary files (auxv) are in there too.
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest);
        String::from_utf8_lossy(&rest).into_owned()
    });
    let first = rx.recv_timeout(SANDBOX_TIMEOUT).unwrap_or_default();
    if first != "ready\n" {
        let _ = child.kill();
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        panic!("the sandboxed program did not start: {first:?}\n{err}");
    }
    // While the sandbox runs: every host process it consists of.
    let host_pids = descendants(child.id());
    child.stdin.take().expect("stdin").write_all(b"go\n").expect("write to sandbox");
    let deadline = std::time::Instant::now() + SANDBOX_TIMEOUT;
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the dump did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let dump = reader.join().expect("reader thread");
    let root_str = root.to_string_lossy().into_owned();
    let cwd = base.path().to_string_lossy().into_owned();
    (dump, host_pids, root_str, cwd)
}

#[test]
fn proc_reveals_nothing_of_the_host() {
    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: skipping a sandbox-only test");
        return;
    }
    let (dump, host_pids, root, cwd) = dump_proc();
    let secs = sections(&dump);
    let names: BTreeSet<&str> = secs.iter().map(|(h, _)| h.as_str()).collect();
    for want in ["/proc/1/status", "/proc/1/stat", "/proc/1/task/1/status", "/proc/sys/kernel/osrelease"] {
        assert!(names.contains(want), "the dump has no {want}; got {} sections", secs.len());
    }
    // Paths are the sandbox's own.
    assert!(names.contains("/proc/1/exe -> /proc_links"), "exe link is not the sandbox path");
    assert!(names.contains("/proc/1/cwd -> /"), "cwd link is not the sandbox path");
    let maps = secs.iter().find(|(h, _)| h == "/proc/1/maps").expect("maps");
    assert!(maps.1.iter().any(|l| l.ends_with(" /proc_links")), "maps does not name the program by its sandbox path");

    for needle in [root.as_str(), cwd.as_str()] {
        if let Some(l) = dump.lines().find(|l| l.contains(needle)) {
            panic!("host path {needle} shows in /proc: {l}");
        }
    }
    // As a word ("hypervisor" in cpuinfo's flags is fine).
    let names_sandbox =
        |l: &str| l.to_ascii_lowercase().split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w.starts_with("rvisor"));
    if let Some(l) = dump.lines().find(|l| names_sandbox(l)) {
        panic!("\"rvisor\" shows in /proc: {l}");
    }

    // Every pid field is a sandbox pid.
    let sandbox: BTreeSet<i64> =
        names.iter().filter_map(|h| h.strip_prefix("/proc/")?.split('/').next()?.parse().ok()).chain([0]).collect();
    assert!(sandbox.contains(&1) && sandbox.len() >= 2, "no pid directories in the dump");
    let pid_keys = ["Tgid", "Ngid", "Pid", "PPid", "TracerPid", "NStgid", "NSpid", "NSpgid", "NSsid"];
    let mut checked = 0;
    for (h, body) in &secs {
        if h.ends_with("/status") && h.starts_with("/proc/") {
            for l in body {
                let Some((k, v)) = l.split_once(":\t") else { continue };
                if pid_keys.contains(&k) {
                    let v: i64 = v.trim().parse().unwrap_or(-1);
                    assert!(sandbox.contains(&v), "{h}: {k} {v} is not a sandbox pid");
                    checked += 1;
                }
            }
            assert!(body.iter().any(|l| l == "TracerPid:\t0"), "{h}: TracerPid is not 0");
        }
        if h.ends_with("/stat") && h.starts_with("/proc/") && h != "/proc/stat" {
            let line = body.first().map(String::as_str).unwrap_or("");
            let after = line.rfind(')').map(|i| &line[i + 2..]).unwrap_or("");
            let pid: i64 = line.split(' ').next().and_then(|p| p.parse().ok()).unwrap_or(-1);
            let f: Vec<i64> = after.split(' ').take(4).map(|x| x.parse().unwrap_or(-1)).collect();
            for v in
                [pid, f.get(1).copied().unwrap_or(-1), f.get(2).copied().unwrap_or(-1), f.get(3).copied().unwrap_or(-1)]
            {
                assert!(sandbox.contains(&v), "{h}: pid field {v} is not a sandbox pid: {line}");
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "too few pid fields checked ({checked})");

    // No host pid in what names processes: links, command lines, mounts,
    // pid fields. (Sizes and counters elsewhere are left out: any number
    // may equal a pid by chance.)
    let numeric = |h: &str| {
        ["/meminfo", "/cpuinfo", "/proc/stat", "/uptime", "/maps", "/statm", "/limits", "/loadavg"]
            .iter()
            .any(|s| h.ends_with(s))
            || h.contains("/fdinfo/")
            || (h.ends_with("/stat") || h.ends_with("/status"))
    };
    for (h, body) in &secs {
        let mut text: Vec<&str> = vec![h.as_str()];
        if !numeric(h) {
            text.extend(body.iter().map(String::as_str));
        }
        for t in text {
            for tok in t.split(|c: char| !c.is_ascii_alphanumeric()) {
                if let Ok(n) = tok.parse::<u32>() {
                    assert!(!host_pids.contains(&n), "host pid {n} shows in {h}: {t}");
                }
            }
        }
    }
}
