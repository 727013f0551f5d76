//! Large reads of a host file (served by the gofer, read by the host in the
//! app's context) while the host truncates it: the sandbox must answer as
//! Linux does, short reads and EOF, and the sentry must survive.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use rvisor_tests::{compile_c, native_only, rvisor_bin, TempDir};

/// Runs `cmd` (big_read host-truncate FILE), truncating FILE at each pause.
fn run_with_truncations(mut cmd: Command, file: &Path) -> String {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn big_read");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut text = String::new();
    let mut read_until = |prefix: &str, text: &mut String| loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).expect("read output") > 0, "big_read ended early:\n{text}");
        text.push_str(&line);
        if line.starts_with(prefix) {
            break;
        }
    };
    read_until("first:", &mut text);
    std::fs::OpenOptions::new().write(true).open(file).and_then(|f| f.set_len(3 << 19)).expect("shrink");
    stdin.write_all(b"\n").expect("resume");
    read_until("pread after shrink:", &mut text);
    std::fs::OpenOptions::new().write(true).open(file).and_then(|f| f.set_len(0)).expect("truncate");
    stdin.write_all(b"\n").expect("resume");
    read_until("at the end:", &mut text);
    let status = child.wait().expect("wait");
    assert!(status.success(), "big_read failed ({status}):\n{text}");
    text
}

#[test]
fn host_file_truncated_between_large_reads() {
    let prog = compile_c("big_read");
    let dir = TempDir::new("big-read-host");
    let make = |name: &str| {
        let path = dir.path().join(name);
        let st = Command::new(&prog).arg("make").arg(&path).status().expect("run big_read make");
        assert!(st.success(), "big_read make failed");
        path
    };

    let native_file = make("native");
    let mut native = Command::new(&prog);
    native.arg("host-truncate").arg(&native_file);
    let expected = run_with_truncations(native, &native_file);
    assert!(expected.contains("after shrink: wrong=0"), "native run:\n{expected}");

    if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: checked the native run only (not a sandbox test)");
        return;
    }
    let sandbox_file = make("sandbox");
    let mut sandbox = Command::new(rvisor_bin());
    sandbox.args(["do", "--"]).arg(&prog).arg("host-truncate").arg(&sandbox_file);
    let got = run_with_truncations(sandbox, &sandbox_file);
    assert_eq!(got, expected, "sandbox output differs from native");
}
