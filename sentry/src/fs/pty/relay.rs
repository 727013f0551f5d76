//! A host terminal wired behind one of the sandbox's own ptys, for OCI
//! `process.terminal` and `exec --tty`.
//!
//! The engine holds the master of a host pty; the sentry gets its slave.
//! Rather than handing that host file to the process (which would then
//! have a terminal with no name in the sandbox: `tty` says "not a tty"),
//! the sentry allocates a pair of its own (/dev/pts/N, 0 for init's
//! console) and a relay thread copies bytes between the host slave, put in
//! raw mode, and the pair's master. The line discipline, sessions, job
//! control and the name are then the sentry's pty driver's, exactly as for
//! a pair the sandbox allocated itself; the host terminal only carries
//! bytes. The window size the engine sets on its master is read from the
//! host slave every [`WINSIZE_POLL`] and applied with TIOCSWINSZ semantics
//! (SIGWINCH to the foreground group). The engine closing its master hangs
//! up the pair (SIGHUP to the session leader), as closing a master does;
//! the last sandbox file of the slave closing (the process exited) ends the
//! relay once its output is written, so the engine's master reads EIO.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rvisor_syscalls::abi::Winsize;

use super::{lock, slave, Pty, PtyMaster, FIRST_INDEX};
use crate::kernel::wait::EventFd;
use crate::kernel::{Creds, Kernel, Task};
use crate::vfs::path::Resolver;
use crate::vfs::{Errno, FileOps, OpenFile, VfsResult};

/// How often the host terminal's window size is compared with the pair's.
pub const WINSIZE_POLL: Duration = Duration::from_millis(100);
const BUF: usize = 4096;

/// What the relay thread shares with the sandbox side.
struct Shared {
    pty: Arc<Pty>,
    /// Bytes taken from the master and not yet written to the host. Held
    /// while bytes move, so master + pending together never miss any.
    pending: Mutex<usize>,
    /// The relay ended (host hang-up, or every slave file closed).
    done: AtomicBool,
}

impl Shared {
    /// Whether everything the sandbox wrote has reached the host (or never will).
    fn drained(&self) -> bool {
        let pending = lock(&self.pending);
        self.done.load(Ordering::SeqCst) || (*pending == 0 && self.pty.lock().ld.master_len() == 0)
    }
}

/// Live relays, for [`flush_all`] when the sandbox ends.
static RELAYS: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// One host terminal behind a sandbox pty.
pub struct HostTerminal {
    shared: Arc<Shared>,
    file: Arc<OpenFile>,
}

/// Wires host terminal `host` behind a new pair with the lowest free index
/// (so init's terminal is /dev/pts/0 and an exec's the next, as with runc,
/// whose devpts is the container's own), and starts the relay.
pub fn attach(kernel: &Kernel, host: OwnedFd) -> VfsResult<HostTerminal> {
    let fd = host.as_raw_fd();
    // SAFETY: isatty only inspects the fd.
    if unsafe { libc::isatty(fd) } != 1 {
        return Err(Errno::ENOTTY);
    }
    make_raw(fd)?;
    let master = super::allocate_from(if super::devpts::has_console() { FIRST_INDEX } else { 0 })?;
    let pty = master.pty().clone();
    let host = Arc::new(host);
    {
        let mut st = pty.lock();
        st.locked = false;
        st.winsize = host_winsize(fd).unwrap_or_default();
        st.host = Some(Arc::downgrade(&host));
    }
    let ops = slave::open(&pty, libc::O_RDWR | libc::O_NOCTTY, false)?;
    let file = slave_file(kernel, &pty, ops);
    let shared = Arc::new(Shared { pty: pty.clone(), pending: Mutex::new(0), done: AtomicBool::new(false) });
    let ev = Arc::new(EventFd::new()?);
    pty.queue.add(&ev);
    let s = shared.clone();
    std::thread::Builder::new()
        .name("pty-relay".into())
        .stack_size(128 << 10)
        .spawn(move || relay(&s, &master, &host, &ev))
        .map_err(|_| Errno::EAGAIN)?;
    let mut all = lock(&RELAYS);
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(&shared));
    drop(all);
    tracing::debug!(index = pty.index, "host terminal wired behind a sandbox pty");
    Ok(HostTerminal { shared, file })
}

/// The slave as an open file at /dev/pts/N when devpts is mounted there
/// (so /proc/self/fd/N leads to that node and reopens it), else unattached
/// with that name.
fn slave_file(kernel: &Kernel, pty: &Arc<Pty>, ops: Arc<slave::PtySlave>) -> Arc<OpenFile> {
    let path = format!("/dev/pts/{}", pty.index);
    let flags = libc::O_RDWR | crate::vfs::file::O_LARGEFILE;
    let creds = Creds::new(0, 0).fs();
    let r = Resolver::new(&kernel.root, &kernel.mounts, &creds);
    let want = pty.node_attr();
    match r.resolve(&kernel.root, path.as_bytes(), true) {
        Ok(loc) if loc.attr().is_ok_and(|a| a.dev == want.dev && a.ino == want.ino && a.rdev == want.rdev) => {
            OpenFile::new(ops, loc, flags)
        }
        _ => OpenFile::new_anon(ops, None, flags, path),
    }
}

impl HostTerminal {
    /// The slave: the process's stdin, stdout and stderr.
    pub fn file(&self) -> Arc<OpenFile> {
        self.file.clone()
    }

    /// The N of /dev/pts/N.
    pub fn index(&self) -> u32 {
        self.shared.pty.index
    }

    /// Makes this the controlling terminal of `task`'s session (a new
    /// session's leader, before it runs), its group in the foreground:
    /// what runc's setsid + TIOCSCTTY in the container process does.
    pub fn control(&self, task: &Task) {
        let (sid, pgid) = {
            let st = task.tg.lock();
            (st.sid, st.pgid)
        };
        let mut st = self.shared.pty.lock();
        st.session = Some(sid);
        st.pgrp = Some(pgid);
    }

    /// Waits (at most `limit`) until what the sandbox wrote to the terminal
    /// has been written to the host terminal.
    pub fn flush(&self, limit: Duration) {
        flush_one(&self.shared, Instant::now() + limit);
    }
}

fn flush_one(s: &Shared, deadline: Instant) {
    while !s.drained() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (at most `limit` in all) until every relay has written out what
/// the sandbox wrote: called when the sandbox ends, before the sentry exits.
pub fn flush_all(limit: Duration) {
    let deadline = Instant::now() + limit;
    let all: Vec<Arc<Shared>> = lock(&RELAYS).iter().filter_map(Weak::upgrade).collect();
    for s in all {
        flush_one(&s, deadline);
    }
}

/// Raw mode on the host side: the sandbox pair's line discipline does all
/// the processing (echo, editing, signals, output translation).
fn make_raw(fd: RawFd) -> VfsResult<()> {
    // SAFETY: zeroed termios is a valid out-buffer for tcgetattr.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: t is a valid termios; fd is a terminal.
    if unsafe { libc::tcgetattr(fd, &mut t) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: cfmakeraw only edits the struct.
    unsafe { libc::cfmakeraw(&mut t) };
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    // SAFETY: t is a valid termios; fd is a terminal.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: F_GETFL/F_SETFL on an fd this relay owns.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if fl < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Takes the host terminal's window size when `pty` has one behind it: a
/// size the engine set is seen at once, before the relay's next look.
pub(super) fn refresh_winsize(pty: &Pty) {
    let host = pty.lock().host.as_ref().and_then(Weak::upgrade);
    if let Some(w) = host.and_then(|h| host_winsize(h.as_raw_fd())) {
        pty.set_winsize(w);
    }
}

fn host_winsize(fd: RawFd) -> Option<Winsize> {
    let mut w = Winsize::default();
    // SAFETY: TIOCGWINSZ writes one winsize at a valid pointer.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut w as *mut Winsize) } == 0).then_some(w)
}

/// One host read or write: bytes moved, or None when it would block.
enum Io {
    Moved(usize),
    WouldBlock,
    HungUp,
}

fn host_io(r: isize) -> Io {
    if r > 0 {
        return Io::Moved(r as usize);
    }
    if r == 0 {
        return Io::HungUp;
    }
    match Errno::last() {
        Errno::EAGAIN | Errno::EINTR => Io::WouldBlock,
        _ => Io::HungUp,
    }
}

fn relay(s: &Shared, master: &Arc<PtyMaster>, host: &Arc<OwnedFd>, ev: &EventFd) {
    let fd = host.as_raw_fd();
    let mut out = Vec::with_capacity(BUF); // sandbox -> host
    let mut inp = Vec::with_capacity(BUF); // host -> sandbox
    let mut buf = [0u8; BUF];
    let mut next_winsize = Instant::now() + WINSIZE_POLL;
    let hung_up = loop {
        ev.drain();
        let mut progress = false;
        // Sandbox output to the host.
        {
            let mut pending = lock(&s.pending);
            if out.is_empty() {
                if let Ok(n) = master.read(&mut buf, 0) {
                    out.extend_from_slice(&buf[..n]);
                }
            }
            if !out.is_empty() {
                // SAFETY: writes from a live buffer to the fd the relay owns.
                match host_io(unsafe { libc::write(fd, out.as_ptr().cast(), out.len()) }) {
                    Io::Moved(n) => {
                        out.drain(..n);
                        progress = true;
                    }
                    Io::WouldBlock => {}
                    Io::HungUp => break true,
                }
            }
            *pending = out.len();
        }
        // Host input to the sandbox.
        if inp.is_empty() {
            // SAFETY: reads into a live buffer from the fd the relay owns.
            match host_io(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }) {
                Io::Moved(n) => inp.extend_from_slice(&buf[..n]),
                Io::WouldBlock => {}
                Io::HungUp => break true,
            }
        }
        if !inp.is_empty() {
            if let Ok(n) = master.write(&inp, 0) {
                inp.drain(..n);
                progress = true;
            }
        }
        if Instant::now() >= next_winsize {
            next_winsize = Instant::now() + WINSIZE_POLL;
            if let Some(w) = host_winsize(fd) {
                s.pty.set_winsize(w);
            }
        }
        // Every slave file closed and the output written: the process is gone.
        if out.is_empty() {
            let st = s.pty.lock();
            if st.other_closed && st.ld.master_len() == 0 {
                break false;
            }
        }
        if progress {
            continue;
        }
        let mut events = 0;
        if inp.is_empty() {
            events |= libc::POLLIN;
        }
        if !out.is_empty() {
            events |= libc::POLLOUT;
        }
        let left = next_winsize.saturating_duration_since(Instant::now()).as_millis().clamp(1, 1000) as i32;
        let mut fds =
            [libc::pollfd { fd, events, revents: 0 }, libc::pollfd { fd: ev.raw(), events: libc::POLLIN, revents: 0 }];
        // SAFETY: polls two valid pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, left) };
    };
    s.done.store(true, Ordering::SeqCst);
    tracing::debug!(index = s.pty.index, hung_up, "pty relay ended");
    // Dropping the last master reference hangs the pair up (SIGHUP to the
    // session leader when the engine went away).
}
