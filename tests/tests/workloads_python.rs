//! Debian python3 from the host root: the same program runs natively and
//! under `rvisor do`; stdout and exit status must match and the sandbox's
//! writes must not reach the host (see `rvisor_tests::workloads`).

use rvisor_tests::workloads::{require, Workload, PYTHON};
use rvisor_tests::{Run, Status};

fn check_python(name: &str, code: &str) {
    require(&[(PYTHON, "python3")]);
    Workload::python(name, code).check();
}

/// `python3 -m venv` needs ensurepip, which Debian ships in python3-venv.
fn check_venv(name: &str, script: &str) {
    require(&[(PYTHON, "python3")]);
    let o = Run::new(PYTHON).args(["-c", "import ensurepip"]).env("PYTHONDONTWRITEBYTECODE", "1").output();
    assert_eq!(
        o.status,
        Status::Exited(0),
        "python3 cannot import ensurepip (install the Debian package python3-venv):\n{}",
        o.stderr_str()
    );
    Workload::bash(name, script).check();
}

/// os, json, tempfile, shutil, hashlib, fork + pipe.
const FILES: &str = r#"
import hashlib, json, os, shutil, stat, sys, tempfile
d = tempfile.mkdtemp(prefix="py-")
print("mkdtemp in TMPDIR:", os.path.dirname(d) == os.getcwd())
os.makedirs(os.path.join(d, "a/b/c"))
data = os.path.join(d, "a/data.json")
with open(data, "w") as f:
    json.dump({"k": [1, 2, {"x": None}], "s": "\u00e9t\u00e9", "f": 1.5}, f, sort_keys=True)
with open(data) as f:
    print(json.load(f))
print(json.dumps({"b": 1, "a": [True, False, None]}, sort_keys=True, indent=1))
os.symlink("data.json", os.path.join(d, "a/link"))
print(os.readlink(os.path.join(d, "a/link")), os.path.islink(os.path.join(d, "a/link")))
print(os.path.realpath(os.path.join(d, "a/b/c/../../link")) == data)
shutil.copytree(os.path.join(d, "a"), os.path.join(d, "copy"), symlinks=True)
shutil.copy2(data, os.path.join(d, "copy/b/data2.json"))
shutil.move(os.path.join(d, "copy/b/c"), os.path.join(d, "moved"))
for root, dirs, files in os.walk(d):
    dirs.sort()
    print(os.path.relpath(root, d), sorted(files))
st = os.lstat(os.path.join(d, "copy/link"))
print(stat.filemode(st.st_mode), stat.S_ISLNK(st.st_mode))
os.chmod(data, 0o640)
os.utime(data, (1000000000, 1000000000))
st = os.stat(data)
print(oct(st.st_mode), st.st_size, st.st_nlink, st.st_mtime, st.st_uid)
with tempfile.NamedTemporaryFile(dir=d) as t:
    t.write(b"x" * 100000)
    t.flush()
    print("named temp size", os.path.getsize(t.name), os.fstat(t.fileno()).st_size)
with tempfile.TemporaryDirectory() as td:
    open(os.path.join(td, "f"), "w").write("x")
    print("temp dir", os.listdir(td))
print("temp dir removed", not os.path.exists(td))
with tempfile.TemporaryFile() as t:
    t.write(b"spooled")
    t.seek(0)
    print(t.read())
print("disk usage ok", shutil.disk_usage(d).total > 0)
shutil.make_archive(os.path.join(d, "arch"), "gztar", d, "a")
shutil.unpack_archive(os.path.join(d, "arch.tar.gz"), os.path.join(d, "unpacked"))
print(sorted(os.listdir(os.path.join(d, "unpacked/a"))))
print(hashlib.sha256(open(data, "rb").read()).hexdigest())
fd = os.open(os.path.join(d, "raw"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"0123456789")
os.lseek(fd, 2, os.SEEK_SET)
print(os.read(fd, 3), os.pread(fd, 2, 8))
os.ftruncate(fd, 4)
os.fsync(fd)
print(os.fstat(fd).st_size)
os.close(fd)
try:
    os.open(os.path.join(d, "raw"), os.O_CREAT | os.O_EXCL)
except FileExistsError as e:
    print("FileExistsError", e.errno)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b"from child")
    os._exit(7)
os.close(w)
print(os.read(r, 100))
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status))
print(os.getuid(), os.getgid(), os.uname().sysname, os.uname().nodename, os.cpu_count() >= 1)
print(sorted(k for k in os.environ if k in ("HOME", "LC_ALL", "PATH", "TMPDIR", "TZ")))
shutil.rmtree(d)
print("removed", not os.path.exists(d), os.listdir("."))
sys.exit(3)
"#;

/// subprocess: run, pipe one program into another, shell, timeouts, signals.
const SUBPROCESS: &str = r#"
import subprocess, sys
from subprocess import PIPE
r = subprocess.run(["/bin/echo", "hello"], capture_output=True, text=True)
print(r.returncode, r.stdout.strip())
print(subprocess.run(["/bin/sh", "-c", "exit 5"]).returncode)
print(subprocess.run("seq 1 5 | tac", shell=True, capture_output=True, text=True).stdout.split())
p1 = subprocess.Popen(["/usr/bin/seq", "1", "10000"], stdout=PIPE)
p2 = subprocess.Popen(["/bin/grep", "7"], stdin=p1.stdout, stdout=PIPE)
p1.stdout.close()
out = p2.communicate()[0]
print("piped", len(out.splitlines()), p1.wait(), p2.returncode)
p = subprocess.Popen(["/bin/cat"], stdin=PIPE, stdout=PIPE)
out, _ = p.communicate(b"x" * 300000)
print("cat echoed", len(out), p.returncode)
r = subprocess.run([sys.executable, "-c", "import sys; print(sys.argv[1:]); sys.exit(4)", "a", "b"],
                   capture_output=True, text=True)
print(r.returncode, r.stdout.strip())
try:
    subprocess.run(["/nonexistent"])
except FileNotFoundError as e:
    print("FileNotFoundError", e.errno)
try:
    subprocess.run(["/bin/sleep", "5"], timeout=0.5)
except subprocess.TimeoutExpired:
    print("timeout expired")
p = subprocess.Popen(["/bin/sleep", "10"])
p.terminate()
print("terminated", p.wait())
print(subprocess.check_output(["/usr/bin/env"], env={"X": "1"}, text=True).strip())
r = subprocess.run(["/bin/sh", "-c", "echo out; echo err >&2"], stdout=PIPE, stderr=subprocess.STDOUT)
print(sorted(r.stdout.split()))
try:
    subprocess.check_call(["/bin/false"])
except subprocess.CalledProcessError as e:
    print("CalledProcessError", e.returncode)
print(subprocess.run(["/bin/pwd"], cwd="/usr/lib", capture_output=True, text=True).stdout.strip())
"#;

/// threading, a concurrent.futures thread pool, queue, events, barriers.
const THREADS: &str = r#"
import concurrent.futures, os, queue, subprocess, threading, time
counter = 0
lock = threading.Lock()
def work(n):
    global counter
    for _ in range(n):
        with lock:
            counter += 1
ts = [threading.Thread(target=work, args=(5000,)) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print("counter", counter)
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
    print(list(ex.map(lambda x: x * x, range(20))))
    futs = [ex.submit(sum, range(i * 1000)) for i in range(10)]
    print([f.result() for f in futs])
    outs = ex.map(lambda i: subprocess.run(["/bin/echo", str(i)], capture_output=True).stdout, range(8))
    print(b"".join(outs).split())
q = queue.Queue()
def producer():
    for i in range(100):
        q.put(i)
    q.put(None)
got = []
def consumer():
    while (item := q.get()) is not None:
        got.append(item)
tp, tc = threading.Thread(target=producer), threading.Thread(target=consumer)
tc.start(); tp.start(); tp.join(); tc.join()
print("queue", len(got), sum(got))
b = threading.Barrier(4)
order = []
def at_barrier(i):
    b.wait()
    with lock:
        order.append(i)
ts = [threading.Thread(target=at_barrier, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("barrier", sorted(order))
e = threading.Event()
print("event timeout", e.wait(0.05))
threading.Timer(0.1, e.set).start()
print("event set by timer", e.wait(5))
cv = threading.Condition()
ready = []
def notifier():
    time.sleep(0.05)
    with cv:
        ready.append(1)
        cv.notify_all()
threading.Thread(target=notifier).start()
with cv:
    print("condition", cv.wait_for(lambda: ready, timeout=5))
r, w = os.pipe()
t = threading.Thread(target=lambda: (time.sleep(0.1), os.write(w, b"from thread")))
t.start()
print(os.read(r, 100))
t.join()
local = threading.local()
def set_local(v, out):
    local.v = v
    time.sleep(0.01)
    out.append(local.v == v)
res = []
ts = [threading.Thread(target=set_local, args=(i, res)) for i in range(5)]
for t in ts: t.start()
for t in ts: t.join()
print("thread-local", res)
print("threads left", threading.active_count())
"#;

/// multiprocessing with the fork start method.
const MULTIPROCESSING: &str = r#"
import multiprocessing as mp, os, sys, time
def square(x):
    return x * x
def report(q, n):
    q.put((n, os.getppid() == parent))
def add(v, lock):
    for _ in range(500):
        with lock:
            v.value += 1
if __name__ == "__main__":
    parent = os.getpid()
    mp.set_start_method("fork")
    with mp.Pool(4) as pool:
        print(pool.map(square, range(20)))
        print(pool.apply_async(square, (12,)).get(timeout=30))
    q = mp.Queue()
    ps = [mp.Process(target=report, args=(q, i)) for i in range(4)]
    for p in ps: p.start()
    print(sorted(q.get(timeout=30) for _ in ps))
    for p in ps: p.join()
    print("exit codes", [p.exitcode for p in ps])
    v, lock = mp.Value("i", 0), mp.Lock()
    ps = [mp.Process(target=add, args=(v, lock)) for _ in range(4)]
    for p in ps: p.start()
    for p in ps: p.join()
    print("shared value", v.value)
    a, b = mp.Pipe(duplex=False)
    p = mp.Process(target=b.send, args=(21,))
    p.start()
    print("one-way pipe", a.recv() * 2)
    p.join()
    p = mp.Process(target=os._exit, args=(3,))
    p.start(); p.join()
    print("os._exit", p.exitcode)
    p = mp.Process(target=time.sleep, args=(10,))
    p.start(); p.terminate(); p.join()
    print("terminated", p.exitcode)
    print("children left", mp.active_children())
"#;

/// multiprocessing's duplex Pipe (a socketpair) and a Manager (a server
/// process reached over a unix socket).
const MULTIPROCESSING_SOCKETS: &str = r#"
import multiprocessing as mp
def echo(conn):
    conn.send(conn.recv() * 2)
    conn.close()
def fill(d, l, i):
    d[i] = i * i
    l.append(i)
if __name__ == "__main__":
    mp.set_start_method("fork")
    a, b = mp.Pipe()
    p = mp.Process(target=echo, args=(b,))
    p.start()
    a.send(21)
    print("duplex pipe", a.recv())
    p.join()
    with mp.Manager() as m:
        d, l = m.dict(), m.list()
        ps = [mp.Process(target=fill, args=(d, l, i)) for i in range(4)]
        for p in ps: p.start()
        for p in ps: p.join()
        print("manager", sorted(d.items()), sorted(l))
"#;

/// Signal handlers, signal masks, time.sleep.
const SIGNALS: &str = r#"
import os, signal, subprocess, sys, time
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(signal.Signals(s).name))
os.kill(os.getpid(), signal.SIGUSR1)
print("handled", got)
t0 = time.monotonic()
time.sleep(0.2)
dt = time.monotonic() - t0
print("slept", 0.2 <= dt < 3)
# A signal arriving during sleep runs the handler; sleep then resumes (PEP 475).
child = subprocess.Popen([sys.executable, "-c",
    f"import os, signal, time; time.sleep(0.2); os.kill({os.getpid()}, signal.SIGUSR1)"])
t0 = time.monotonic()
time.sleep(1)
dt = time.monotonic() - t0
child.wait()
print("sleep resumed after handler", dt >= 1, got)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
os.kill(os.getpid(), signal.SIGUSR2)
print("pending", sorted(s.name for s in signal.sigpending()))
print("sigwait", signal.sigwait([signal.SIGUSR2]).name)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR2])
signal.signal(signal.SIGCHLD, lambda s, f: got.append("SIGCHLD"))
p = subprocess.Popen(["/bin/true"])
p.wait()
time.sleep(0.1)
print("sigchld", "SIGCHLD" in got)
signal.signal(signal.SIGCHLD, signal.SIG_DFL)
p = subprocess.Popen(["/bin/sleep", "10"])
p.send_signal(signal.SIGTERM)
print("child TERM", p.wait())
# bash runs the trap once its foreground sleep ends, wherever the signal lands.
p = subprocess.Popen(["/bin/bash", "-c", "trap 'echo trapped; exit 4' INT; echo ready; while :; do sleep 0.05; done"],
                     stdout=subprocess.PIPE, text=True)
print(p.stdout.readline().strip())
p.send_signal(signal.SIGINT)
print(p.stdout.read().strip(), p.wait())
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
r, w = os.pipe()
os.close(r)
try:
    os.write(w, b"x")
except BrokenPipeError as e:
    print("BrokenPipeError", e.errno)
rfd, wfd = os.pipe()
os.set_blocking(wfd, False)
signal.set_wakeup_fd(wfd)
signal.signal(signal.SIGUSR1, lambda s, f: None)
os.kill(os.getpid(), signal.SIGUSR1)
print("wakeup fd byte", os.read(rfd, 1) == bytes([signal.SIGUSR1]))
signal.signal(signal.SIGTERM, signal.SIG_DFL)
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
print("not reached")
"#;

/// SIGALRM from alarm() and setitimer().
const ALARM: &str = r#"
import signal, time
fired = []
signal.signal(signal.SIGALRM, lambda s, f: fired.append(time.monotonic()))
def wait_for_alarm(limit):
    while not fired and time.monotonic() - t0 < limit:
        time.sleep(0.02)
t0 = time.monotonic()
signal.alarm(1)
wait_for_alarm(5)
print("alarm fired", len(fired), 0.9 <= fired[0] - t0 < 4 if fired else None)
fired.clear()
t0 = time.monotonic()
signal.setitimer(signal.ITIMER_REAL, 0.2)
wait_for_alarm(5)
print("itimer fired", len(fired), 0.15 <= fired[0] - t0 < 4 if fired else None)
print("remaining", signal.getitimer(signal.ITIMER_REAL))
print("alarm cancelled", signal.alarm(0))
"#;

/// os.walk over the standard library (read-only host files).
const WALK: &str = r#"
import glob, os
for top in sorted(glob.glob("/usr/lib/python3*")):
    ndirs = nfiles = nlinks = size = 0
    for root, dirs, files in os.walk(top):
        # Other root processes may add bytecode caches at any time.
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        ndirs += len(dirs)
        for f in files:
            st = os.lstat(os.path.join(root, f))
            nfiles += 1
            nlinks += os.path.islink(os.path.join(root, f))
            size += st.st_size
    print(top, ndirs, nfiles, nlinks, size)
"#;

/// `python3 -m venv` (with pip) and `python3 -m compileall`.
const VENV_COMPILEALL: &str = r#"
set -e
/usr/bin/python3 -m venv venv
ls venv venv/bin
grep -v '^version' venv/pyvenv.cfg
venv/bin/python -c 'import sys; print(sys.prefix == sys.base_prefix, sys.prefix)'
venv/bin/python -m pip --version | cut -d' ' -f3-
venv/bin/pip list --disable-pip-version-check --format=freeze | cut -d= -f1
mkdir -p pkg/sub
echo 'VALUE = 41' > pkg/__init__.py
printf 'def f():\n    return 1\n' > pkg/sub/__init__.py
printf 'import pkg\nprint(pkg.VALUE + 1)\n' > main.py
echo 'this is not python(' > pkg/broken.py
/usr/bin/python3 -m compileall -q pkg main.py || echo "compileall status $?"
rm pkg/broken.py
/usr/bin/python3 -m compileall -b pkg main.py | sort
find . -path ./venv -prune -o -name '*.pyc' -print | sort
rm pkg/__init__.py main.py
/usr/bin/python3 main.pyc
"#;

#[test]
fn python_files() {
    check_python("python-files", FILES);
}

#[test]
fn python_subprocess() {
    check_python("python-subprocess", SUBPROCESS);
}

#[test]
fn python_threads() {
    check_python("python-threads", THREADS);
}

#[test]
fn python_multiprocessing() {
    check_python("python-multiprocessing", MULTIPROCESSING);
}

#[test]
fn python_multiprocessing_sockets() {
    check_python("python-multiprocessing-sockets", MULTIPROCESSING_SOCKETS);
}

#[test]
fn python_signals() {
    check_python("python-signals", SIGNALS);
}

#[test]
fn python_alarm() {
    check_python("python-alarm", ALARM);
}

#[test]
fn python_walk_stdlib() {
    check_python("python-walk-stdlib", WALK);
}

#[test]
fn python_venv_compileall() {
    check_venv("python-venv-compileall", VENV_COMPILEALL);
}
