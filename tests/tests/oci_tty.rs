//! Terminals of OCI containers (`process.terminal`, `exec --tty`): the
//! engine's pty is wired behind a pty of the sandbox's own devpts, so the
//! process's terminal has a name there (`tty`, ttyname(3)) whose node is
//! the terminal itself, it is the controlling terminal of the process's
//! session, and job control (^C), window size and hang-up behave as under
//! runc. The checks run `oci_probe tty` (tests/tests/oci_support).

mod oci_support;

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oci_support::{recv_fd, report, Bundle, Root};
use rvisor_tests::{RunOutput, Status};
use serde_json::json;

/// A console socket in the bundle and the thread that takes the master sent to it.
fn console_socket(b: &Bundle, name: &str) -> (PathBuf, JoinHandle<OwnedFd>) {
    let sock = b.path().join(name);
    let listener = UnixListener::bind(&sock).expect("console socket");
    (sock, std::thread::spawn(move || recv_fd(&listener)))
}

/// Sets the window size on the master, as engines do on a resize.
fn set_winsize(master: &fs::File, rows: u16, cols: u16) {
    let w = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &w) };
    assert_eq!(r, 0, "TIOCSWINSZ on the master: {}", std::io::Error::last_os_error());
}

/// Reads the terminal until a whole line containing `needle` has arrived.
fn read_line(master: &mut fs::File, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if seen.find(needle).is_some_and(|at| seen[at..].contains("\r\n")) {
            return seen;
        }
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    panic!("no line with {needle:?} on the terminal: {seen:?}");
}

/// Starts `sleep 100` in the terminal's shell and types ^C: the shell then
/// reports status 130 (the job died of SIGINT; the shell did not).
fn interrupt_a_sleep(master: &mut fs::File) {
    master.write_all(b"sleep 100\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    master.write_all(b"\x03").unwrap();
    let seen = type_line(master, "echo st=$? M$((3+4))", "M7");
    assert!(seen.contains("st=130"), "sleep after ^C: {seen:?}");
}

/// Types `line` and returns what the terminal shows until the line with
/// `marker` (which must come from the command's output, not from the echo
/// of the typed line).
fn type_line(master: &mut fs::File, line: &str, marker: &str) -> String {
    master.write_all(format!("{line}\n").as_bytes()).expect("write to the terminal");
    read_line(master, marker)
}

/// `oci_probe tty` run on a terminal that is `/dev/pts/{index}`, as the
/// leader of its session (`leader`) or as a shell's child.
fn assert_tty_probe(seen: &str, index: u32, leader: bool) {
    let name = format!("/dev/pts/{index}");
    for want in [
        format!("ttyname {name}\r\n"),
        "isatty 1\r\n".into(),
        format!("link {name}\r\n"),
        "same-node 1\r\n".into(),
        "major 136\r\n".into(),
        "reopen same\r\n".into(),
        "tcgetattr ok\r\n".into(),
        format!("sid-is-me {}\r\n", u8::from(leader)),
        "fg-is-mine 1\r\n".into(),
        // A slave answers TIOCGPTN with ENOTTY (only a master has a number to give).
        "TIOCGPTN ENOTTY\r\n".into(),
    ] {
        assert!(seen.contains(&want), "missing {want:?} in the probe's output: {seen:?}");
    }
}

/// Creates container `id` from a bundle with process.terminal; returns the
/// pty master it sent to the console socket.
fn create_tty(root: &Root, b: &Bundle, id: &str) -> fs::File {
    let (sock, receiver) = console_socket(b, "console.sock");
    let o = root.create(b, id, &["--console-socket", sock.to_str().unwrap()]);
    assert_eq!(o.status, Status::Exited(0), "{}", b.stderr());
    fs::File::from(receiver.join().expect("console socket receiver"))
}

/// Starts `exec --tty ... CMD` into container `id`; returns its master and the session.
fn exec_tty(root: &Root, b: &Bundle, id: &str, cmd: &[&str]) -> (fs::File, JoinHandle<RunOutput>) {
    let (sock, receiver) = console_socket(b, &format!("exec-{}.sock", cmd.join("-").replace('/', "")));
    let mut args = vec!["exec", "--tty", "--console-socket", sock.to_str().unwrap(), id];
    args.extend_from_slice(cmd);
    let exec = root.rvisor(&args).timeout(Duration::from_secs(60));
    let session = std::thread::spawn(move || exec.output());
    (fs::File::from(receiver.join().expect("console socket receiver")), session)
}

#[test]
fn init_terminal_is_dev_pts_0_with_job_control_and_window_size() {
    let root = Root::new();
    let mut b = Bundle::new(&["sh"]).with_probe();
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let mut master = create_tty(&root, &b, "tty");
    // Engines size the terminal before or right after start.
    set_winsize(&master, 33, 99);
    assert_eq!(root.run(&["start", "tty"]).status, Status::Exited(0));

    let seen = type_line(&mut master, "oci_probe tty; tty; stty size; echo M$((1+1))", "M2");
    assert_tty_probe(&seen, 0, false);
    assert!(seen.contains("\r\n/dev/pts/0\r\n33 99\r\n"), "tty, stty size: {seen:?}");
    // devpts lists the terminal, and it is the node stat sees.
    let seen = type_line(&mut master, "echo /dev/pts/*; echo M$((2+1))", "M3");
    assert!(seen.contains("\r\n/dev/pts/0 /dev/pts/ptmx\r\n"), "/dev/pts: {seen:?}");

    // ^C: SIGINT to the foreground job, not to the shell.
    interrupt_a_sleep(&mut master);

    // A resize on the master: SIGWINCH to the foreground job, the new size.
    type_line(&mut master, "oci_probe winch", "ready\r\n");
    set_winsize(&master, 50, 132);
    let seen = read_line(&mut master, "winch");
    assert!(seen.contains("winch 1 50 132 ok"), "after a resize: {seen:?}");

    // An exec'd terminal is the next pair, its process that session's leader.
    let (mut exec_master, session) = exec_tty(&root, &b, "tty", &["/bin/oci_probe", "tty"]);
    let o = session.join().expect("exec --tty");
    assert_eq!(o.status, Status::Exited(0), "exec --tty: {}", report(&o));
    // All of its output reached the engine's master before the exec ended.
    let seen = read_line(&mut exec_master, "TIOCGPTN");
    assert_tty_probe(&seen, 1, true);

    // Init itself: the session leader, its terminal in the foreground.
    let seen = type_line(&mut master, "exec oci_probe tty", "TIOCGPTN");
    assert_tty_probe(&seen, 0, true);
    root.wait_status("tty", "stopped");
    assert_eq!(fs::read_to_string(root.path().join("tty/exit")).unwrap().trim(), "0");
    assert_eq!(root.run(&["delete", "tty"]).status, Status::Exited(0));
}

#[test]
fn exec_tty_without_an_init_terminal_is_dev_pts_0() {
    let root = Root::new();
    let b = Bundle::new(&["sleep", "100"]).with_probe();
    assert_eq!(root.create(&b, "ex", &[]).status, Status::Exited(0), "{}", b.stderr());
    assert_eq!(root.run(&["start", "ex"]).status, Status::Exited(0));

    let (mut master, session) = exec_tty(&root, &b, "ex", &["/bin/oci_probe", "tty"]);
    let o = session.join().expect("exec --tty");
    assert_eq!(o.status, Status::Exited(0), "exec --tty: {}", report(&o));
    let seen = read_line(&mut master, "TIOCGPTN");
    assert_tty_probe(&seen, 0, true);
    drop(master);

    // A shell: job control and its exit status; the pair is free again.
    let (mut master, session) = exec_tty(&root, &b, "ex", &["sh"]);
    let seen = type_line(&mut master, "tty; [ -t 0 ] && echo is-$((1+1))", "is-2");
    assert!(seen.contains("\r\n/dev/pts/0\r\n"), "tty in the exec'd shell: {seen:?}");
    interrupt_a_sleep(&mut master);
    master.write_all(b"exit 5\n").unwrap();
    let o = session.join().expect("exec --tty");
    assert_eq!(o.status, Status::Exited(5), "exec --tty: {}", report(&o));
    assert_eq!(root.run(&["delete", "--force", "ex"]).status, Status::Exited(0));
}

#[test]
fn closing_the_master_hangs_up_the_terminal() {
    let root = Root::new();
    let mut b = Bundle::new(&["sh"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let mut master = create_tty(&root, &b, "hup");
    assert_eq!(root.run(&["start", "hup"]).status, Status::Exited(0));
    type_line(&mut master, "echo M$((1+1))", "M2");
    // The engine goes away: the terminal hangs up. The session leader's
    // SIGHUP is dropped, as Linux drops a default-action signal for a pid
    // namespace's init; the shell's read then ends and it exits 0 (as under runc).
    drop(master);
    root.wait_status("hup", "stopped");
    assert_eq!(fs::read_to_string(root.path().join("hup/exit")).unwrap().trim(), "0");
    assert_eq!(root.run(&["delete", "hup"]).status, Status::Exited(0));
}
