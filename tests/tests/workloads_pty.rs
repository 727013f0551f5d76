//! Programs that allocate pseudo-terminals, from the host root: `script`
//! (util-linux) running commands and an interactive bash with job control
//! on a pty, and python's `pty.fork` driving a child through the master
//! (line editing, echo, ^C). The same script runs natively and under
//! `rvisor do`; stdout and exit status must match (see `rvisor_tests::workloads`).

use rvisor_tests::workloads::{require, Workload};

/// Tty numbers and pids differ between the runs: they are masked.
const SCRIPT: &str = r#"
script -qc 'tty | sed "s/[0-9]*$/N/"; echo hi; stty -a' /dev/null < /dev/null | tr -d '\r'
echo "script status $?"
script -qec 'bash --norc --noprofile -ic "sleep 0.2 & jobs; wait; echo waited; kill -INT \$\$; echo not reached"' /dev/null < /dev/null | tr -d '\r' | sed 's/^\[1\] [0-9]*$/[1] PID/'
echo "interactive bash status ${PIPESTATUS[0]}"
printf 'line one\nsecret\n' | script -qec 'read -r a; echo "got [$a]"; stty -echo; read -r b; stty echo; echo "then [$b]"' /dev/null | tr -d '\r'
echo "status $?"
"#;

const PYTHON_PTY: &str = r#"
import os, pty, signal, sys, time

pid, fd = pty.fork()
if pid == 0:
    print("child isatty", os.isatty(0), "pgrp is fg", os.tcgetpgrp(0) == os.getpgrp(), flush=True)
    print("child tty", os.ttyname(0).rstrip("0123456789"), flush=True)
    line = sys.stdin.readline()
    # Before the report: the parent's ^C follows it at once.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    print("child read", repr(line), flush=True)
    time.sleep(30)
    os._exit(0)

def read_until(marker):
    buf = b""
    while marker not in buf:
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        buf += chunk
    return buf

print("parent saw", read_until(b"child tty /dev/pts/\r\n"))
os.write(fd, b"hello\x7fO wor\x17world\n")
print("parent saw", read_until(b"child read 'hellO world\\n'\r\n"))
os.write(fd, b"\x03")
_, status = os.waitpid(pid, 0)
print("child killed by", signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else status)
print("after exit", os.read(fd, 1024))
try:
    os.read(fd, 1024)
except OSError as e:
    print("then", os.strerror(e.errno))
"#;

#[test]
fn script_runs_commands_on_a_pty() {
    require(&[("/usr/bin/script", "bsdutils"), ("/usr/bin/stty", "coreutils")]);
    Workload::bash("pty-script", SCRIPT).check();
}

#[test]
fn python_pty_fork_drives_a_child() {
    require(&[(rvisor_tests::workloads::PYTHON, "python3")]);
    Workload::python("pty-python", PYTHON_PTY).check();
}
