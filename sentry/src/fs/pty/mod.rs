//! Emulated pseudo-terminals: /dev/ptmx allocates a master/slave pair
//! whose line discipline runs in the sentry (as gVisor does), and the
//! slave appears as /dev/pts/N while the master is open.
//!
//! * [`ldisc`]: termios processing and both directions' queues.
//! * [`master`] / [`slave`]: the two ends' file operations.
//! * [`devpts`]: the devpts directory, /dev/ptmx and the pts nodes.
//!
//! Controlling terminals follow Linux: a pty belongs to at most one
//! session (`State::session`, set by TIOCSCTTY or by a session leader's
//! open without O_NOCTTY) and has its own foreground process group. A
//! process's controlling terminal is the pty owned by its session, so
//! setsid(2) leaves the old one behind without any bookkeeping here.

pub mod devpts;
mod ldisc;
pub mod master;
pub mod relay;
pub mod slave;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rvisor_syscalls::abi::{KernelTermios, Pod, Winsize};

use crate::kernel::wait::WaitQueue;
use crate::vfs::{Attr, Errno, OpenFile, UserMemory, VfsResult, S_IFCHR};
use ldisc::{Effects, Ldisc};

use super::dev::NodeMeta;
pub use master::PtyMaster;
pub use slave::PtySlave;

pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
pub const TCSBRK: u32 = 0x5409;
pub const TCXONC: u32 = 0x540a;
pub const TCFLSH: u32 = 0x540b;
pub const TIOCEXCL: u32 = 0x540c;
pub const TIOCNXCL: u32 = 0x540d;
pub const TIOCSCTTY: u32 = 0x540e;
pub const TIOCGPGRP: u32 = 0x540f;
pub const TIOCSPGRP: u32 = 0x5410;
pub const TIOCOUTQ: u32 = 0x5411;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;
pub const FIONREAD: u32 = 0x541b;
pub const TIOCPKT: u32 = 0x5420;
pub const TIOCNOTTY: u32 = 0x5422;
pub const TIOCGETD: u32 = 0x5424;
pub const TIOCSETD: u32 = 0x5423;
pub const TCSBRKP: u32 = 0x5425;
pub const TIOCGSID: u32 = 0x5429;
pub const TIOCGPTN: u32 = 0x8004_5430;
pub const TIOCSPTLCK: u32 = 0x4004_5431;
pub const TIOCGPTLCK: u32 = 0x8004_5439;
pub const TIOCGPTPEER: u32 = 0x5441;

/// Major number of the pty slaves (UNIX98_PTY_SLAVE_MAJOR).
pub const PTS_MAJOR: u32 = 136;
/// Group "tty": owner group of the pts nodes (devpts' usual gid=5).
const TTY_GID: u32 = 5;
/// Capability number of CAP_SYS_ADMIN (stealing a controlling terminal).
const CAP_SYS_ADMIN: u32 = 21;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything about one pair, under one lock.
struct State {
    ld: Ldisc,
    winsize: Winsize,
    /// TIOCSPTLCK: slave opens fail with EIO while set (set at allocation).
    locked: bool,
    /// False once the master is closed: the slave is hung up.
    master_open: bool,
    /// Open slave files.
    slaves: usize,
    /// The last slave file was closed: master reads give EIO once drained.
    other_closed: bool,
    /// The session this terminal controls, and its foreground group.
    session: Option<i32>,
    pgrp: Option<i32>,
    /// The session leader the hang-up's SIGHUP interrupts (not ignored).
    hup_pid: Option<i32>,
    meta: NodeMeta,
    /// The host terminal wired behind this pair ([`relay`]), while the
    /// relay runs: its window size is the pair's.
    host: Option<Weak<std::os::fd::OwnedFd>>,
}

/// One master/slave pair.
pub struct Pty {
    index: u32,
    state: Mutex<State>,
    /// Notified on every change of either end's readiness.
    queue: WaitQueue,
}

/// Live pairs by index: each stays listed (its index taken) while any
/// end is open.
static PTYS: Mutex<BTreeMap<u32, Weak<Pty>>> = Mutex::new(BTreeMap::new());

/// The device number shared by every devpts view of the pairs.
fn devpts_dev() -> u64 {
    static DEV: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *DEV.get_or_init(super::tmpfs::new_anon_dev)
}

/// Indices /dev/ptmx hands out: 0 stays the sandbox's own terminal (an
/// inherited one, or the host terminal wired behind pair 0, see [`relay`]).
const FIRST_INDEX: u32 = 1;
/// Linux's default /proc/sys/kernel/pty/max.
const MAX_PTYS: u32 = 4096;

/// Allocates a pair (opening /dev/ptmx): the master file, slave locked.
pub fn allocate() -> VfsResult<Arc<PtyMaster>> {
    allocate_from(FIRST_INDEX)
}

/// Allocates a pair with the lowest free index from `first` on.
fn allocate_from(first: u32) -> VfsResult<Arc<PtyMaster>> {
    // Owned by the opener, group tty (devpts mounted gid=5,mode=620).
    let uid = crate::kernel::current_task().map_or(0, |t| t.creds().euid);
    let mut map = lock(&PTYS);
    map.retain(|_, w| w.strong_count() > 0);
    let index = (first..FIRST_INDEX + MAX_PTYS).find(|i| !map.contains_key(i)).ok_or(Errno::ENOSPC)?;
    let pty = Arc::new(Pty {
        index,
        state: Mutex::new(State {
            ld: Ldisc::new(),
            winsize: Winsize::default(),
            locked: true,
            master_open: true,
            slaves: 0,
            other_closed: false,
            session: None,
            pgrp: None,
            hup_pid: None,
            host: None,
            meta: NodeMeta::new(S_IFCHR | 0o620, uid, TTY_GID),
        }),
        queue: WaitQueue::new(),
    });
    map.insert(index, Arc::downgrade(&pty));
    Ok(Arc::new(PtyMaster::new(pty)))
}

/// The pair whose slave is /dev/pts/`index`, while its master is open.
pub fn lookup(index: u32) -> Option<Arc<Pty>> {
    let p = lock(&PTYS).get(&index)?.upgrade()?;
    let open = p.lock().master_open;
    open.then_some(p)
}

/// Indices of the pairs /dev/pts lists.
pub fn indices() -> Vec<u32> {
    let all: Vec<Arc<Pty>> = lock(&PTYS).values().filter_map(|w| w.upgrade()).collect();
    all.into_iter().filter(|p| p.lock().master_open).map(|p| p.index).collect()
}

/// The calling process: (tgid, pgid, sid).
fn caller() -> Option<(i32, i32, i32)> {
    let t = crate::kernel::current_task()?;
    let st = t.tg.lock();
    Some((t.tg.tgid, st.pgid, st.sid))
}

/// Whether session `sid`'s leader is still alive (its exit ends the
/// session's hold on a terminal).
fn session_alive(sid: i32) -> bool {
    let Some(k) = crate::kernel::current_kernel() else { return false };
    k.group_by_vpid(sid).is_some_and(|g| {
        let st = g.lock();
        st.sid == sid && st.exit.is_none()
    })
}

/// The pty that is session `sid`'s controlling terminal.
pub fn ctty_of_session(sid: i32) -> Option<Arc<Pty>> {
    let all: Vec<Arc<Pty>> = lock(&PTYS).values().filter_map(|w| w.upgrade()).collect();
    all.into_iter().find(|p| p.session() == Some(sid))
}

/// /proc/[pid]/stat's tty_nr and tpgid for a process of session `sid`: its
/// controlling pty's device number in Linux's encoding and the pty's
/// foreground group (0, -1 without a pty terminal).
pub fn stat_tty(sid: i32) -> (u32, i32) {
    let Some(pty) = ctty_of_session(sid) else { return (0, -1) };
    let minor = pty.index;
    let nr = (minor & 0xff) | (PTS_MAJOR << 8) | ((minor & !0xff) << 12);
    let fg = pty.lock().pgrp.unwrap_or(0);
    (nr, fg)
}

/// Opens /dev/tty for the caller when its controlling terminal is a pty
/// (None: it has none, so the caller falls back to the inherited console).
pub fn open_ctty(flags: i32) -> Option<VfsResult<Arc<dyn crate::vfs::FileOps>>> {
    let (_, _, sid) = caller()?;
    let pty = ctty_of_session(sid)?;
    Some(slave::open(&pty, flags | libc::O_NOCTTY, true).map(|s| s as Arc<dyn crate::vfs::FileOps>))
}

/// Raises the signals `sigs` together in every live process of group `pgid`.
fn signal_pgrp(pgid: i32, sigs: &[i32]) {
    let Some(k) = crate::kernel::current_kernel() else { return };
    let me = crate::kernel::current_task();
    use crate::kernel::signal::send_all_to_group;
    for g in k.all_groups() {
        let member = {
            let st = g.lock();
            st.pgid == pgid && st.exit.is_none()
        };
        if member {
            send_all_to_group(&k, &g, &kernel_infos(&g, sigs), me.as_ref());
        }
    }
}

/// The terminal's signals `sigs` as the kernel sends them to process `g`,
/// without those its init drops.
fn kernel_infos(g: &crate::kernel::ThreadGroup, sigs: &[i32]) -> Vec<rvisor_syscalls::abi::Siginfo> {
    use crate::kernel::signal::{sender_info, SI_KERNEL};
    sigs.iter().filter(|&&sig| !init_drops(g, sig)).map(|&sig| sender_info(sig, SI_KERNEL, 0, 0)).collect()
}

/// Linux drops a signal whose action is the default for a pid namespace's
/// init (the sandbox's pid 1), the terminal's too, unless it is SIGKILL or
/// SIGSTOP: ^C does not stop a container's `sleep` running as pid 1.
fn init_drops(g: &crate::kernel::ThreadGroup, sig: i32) -> bool {
    g.tgid == 1
        && sig != libc::SIGKILL
        && sig != libc::SIGSTOP
        && g.action(sig).handler == crate::kernel::signal::SIG_DFL
}

/// Whether process group `pgid` of session `sid` is orphaned: no member
/// has a parent in another group of the same session (POSIX; such groups
/// are not stopped by terminal job-control signals).
fn pgrp_orphaned(k: &crate::kernel::Kernel, pgid: i32, sid: i32) -> bool {
    !k.all_groups().iter().any(|g| {
        let parent = {
            let st = g.lock();
            if st.pgid != pgid || st.exit.is_some() {
                return false;
            }
            st.parent.as_ref().and_then(|w| w.upgrade())
        };
        parent.is_some_and(|p| {
            let ps = p.lock();
            ps.pgid != pgid && ps.sid == sid
        })
    })
}

/// Raises the signals `sigs` together in process `pid`.
fn signal_process(pid: i32, sigs: &[i32]) {
    let Some(k) = crate::kernel::current_kernel() else { return };
    use crate::kernel::signal::send_all_to_group;
    if let Some(g) = k.group_by_vpid(pid) {
        let me = crate::kernel::current_task();
        send_all_to_group(&k, &g, &kernel_infos(&g, sigs), me.as_ref());
    }
}

impl Pty {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// The session this terminal controls, if its leader still lives.
    fn session(&self) -> Option<i32> {
        let sid = self.lock().session?;
        session_alive(sid).then_some(sid)
    }

    /// /dev/pts/N's attributes.
    fn node_attr(&self) -> Attr {
        let m = self.lock().meta;
        Attr {
            ino: self.index as u64 + 3,
            dev: devpts_dev(),
            mode: S_IFCHR | (m.mode & 0o7777),
            nlink: 1,
            uid: m.uid,
            gid: m.gid,
            rdev: super::tmpfs::makedev(PTS_MAJOR, self.index),
            blksize: 1024,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
            ..Default::default()
        }
    }

    /// TIOCSWINSZ: a new size raises SIGWINCH in the foreground group.
    fn set_winsize(&self, w: Winsize) {
        let pgrp = {
            let mut st = self.lock();
            if st.winsize == w {
                return;
            }
            st.winsize = w;
            st.pgrp
        };
        if let Some(pg) = pgrp {
            signal_pgrp(pg, &[libc::SIGWINCH]);
        }
    }

    /// Sends the signals input processing asked for to the foreground group.
    fn deliver(&self, fx: Effects) {
        if fx.signals.is_empty() {
            return;
        }
        let pgrp = self.lock().pgrp;
        if let (Some(pg), true) = (pgrp, self.session().is_some()) {
            for sig in fx.signals {
                signal_pgrp(pg, &[sig]);
            }
        }
    }

    /// The master went away: hang up the slave, as Linux's pty_close does
    /// (the session leader gets SIGHUP and SIGCONT and loses the terminal).
    fn hang_up(&self) {
        let sid = self.session();
        let hup_pid = sid.filter(|&sid| {
            crate::kernel::current_kernel().and_then(|k| k.group_by_vpid(sid)).is_some_and(|g| {
                !crate::kernel::signal::is_ignored(&g.action(libc::SIGHUP), libc::SIGHUP)
                    && !init_drops(&g, libc::SIGHUP)
            })
        });
        // As Linux's __tty_hangup: the session loses the terminal, its
        // leader gets SIGHUP and SIGCONT, and only then do reads see the end
        // of file and readers wake, so a reader takes both signals first.
        {
            let mut st = self.lock();
            st.hup_pid = hup_pid;
            st.session = None;
            st.pgrp = None;
        }
        if let Some(sid) = sid {
            signal_process(sid, &[libc::SIGHUP, libc::SIGCONT]);
        }
        self.lock().master_open = false;
        tracing::debug!(index = self.index, ?sid, "pty master closed: slave hung up");
        self.queue.notify();
    }

    /// Makes this terminal the caller's controlling terminal if the caller
    /// is a session leader without one and the terminal is free (an open
    /// without O_NOCTTY).
    fn maybe_acquire(&self) {
        let Some((tgid, pgid, sid)) = caller() else { return };
        if tgid != sid || ctty_of_session(sid).is_some() || self.session().is_some() {
            return;
        }
        tracing::debug!(index = self.index, sid, "pty becomes a controlling terminal on open");
        let mut st = self.lock();
        st.session = Some(sid);
        st.pgrp = Some(pgid);
    }

    /// Job control for a read of this terminal: a process of a background
    /// group of the session it controls gets SIGTTIN (sent to its whole
    /// group; the read restarts after the handler), or EIO when SIGTTIN is
    /// ignored or its group is orphaned, as in Linux's __tty_check_change.
    /// Blocked SIGTTIN is not seen here (it is treated like a caught one).
    fn check_background_read(&self) -> VfsResult<()> {
        let Some((tgid, pgid, sid)) = caller() else { return Ok(()) };
        let fg = {
            let st = self.lock();
            if st.session != Some(sid) {
                return Ok(());
            }
            st.pgrp
        };
        if fg.is_none_or(|fg| fg == pgid) {
            return Ok(());
        }
        let k = crate::kernel::current_kernel().ok_or(Errno::EIO)?;
        let me = k.group_by_vpid(tgid).ok_or(Errno::EIO)?;
        let act = me.action(libc::SIGTTIN);
        // SIG_DFL would stop the group, but the host drops default-stop
        // SIGTTIN for app processes (their host process group is orphaned),
        // so the read would only restart forever: fail it as Linux does for
        // an orphaned group.
        if act.handler == crate::kernel::signal::SIG_DFL
            || crate::kernel::signal::is_ignored(&act, libc::SIGTTIN)
            || pgrp_orphaned(&k, pgid, sid)
        {
            return Err(Errno::EIO);
        }
        signal_pgrp(pgid, &[libc::SIGTTIN]);
        Err(Errno::ERESTARTSYS)
    }

    /// Whether the caller's controlling terminal is this one.
    fn is_callers_ctty(&self) -> bool {
        caller().is_some_and(|(_, _, sid)| self.session() == Some(sid))
    }

    /// Terminal ioctls either end answers (for the master, about its slave,
    /// as Linux's tty_mode_ioctl does).
    fn common_ioctl(&self, master: bool, cmd: u32, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        match cmd {
            TCGETS => {
                let t = self.lock().ld.termios;
                mem.write_bytes(arg, t.as_bytes())?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let mut buf = [0u8; std::mem::size_of::<KernelTermios>()];
                mem.read_bytes(arg, &mut buf)?;
                let t = KernelTermios::from_bytes(&buf).ok_or(Errno::EFAULT)?;
                {
                    let mut st = self.lock();
                    if cmd == TCSETSF {
                        st.ld.flush_input();
                    }
                    st.ld.set_termios(t);
                }
                self.queue.notify();
                Ok(0)
            }
            TIOCGWINSZ => {
                relay::refresh_winsize(self);
                let w = self.lock().winsize;
                mem.write_bytes(arg, w.as_bytes())?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut buf = [0u8; 8];
                mem.read_bytes(arg, &mut buf)?;
                let w = Winsize::from_bytes(&buf).ok_or(Errno::EFAULT)?;
                self.set_winsize(w);
                Ok(0)
            }
            FIONREAD => {
                let st = self.lock();
                let n = if master { st.ld.master_len() } else { st.ld.readable() };
                drop(st);
                mem.write_bytes(arg, &(n as i32).to_ne_bytes())?;
                Ok(0)
            }
            TIOCOUTQ => {
                // Output moves to the other end at once: nothing waits in a driver queue.
                mem.write_bytes(arg, &0i32.to_ne_bytes())?;
                Ok(0)
            }
            TCFLSH => {
                // This end's input, and what it wrote that the other end has not read.
                let (mine_in, mine_out) = match arg {
                    0 => (true, false),
                    1 => (false, true),
                    2 => (true, true),
                    _ => return Err(Errno::EINVAL),
                };
                {
                    let mut st = self.lock();
                    if (mine_in && !master) || (mine_out && master) {
                        st.ld.flush_input();
                    }
                    if (mine_in && master) || (mine_out && !master) {
                        st.ld.flush_output();
                    }
                }
                self.queue.notify();
                Ok(0)
            }
            TCSBRK | TCSBRKP | TCXONC | TIOCEXCL | TIOCNXCL => Ok(0),
            TIOCGETD => {
                mem.write_bytes(arg, &0i32.to_ne_bytes())?;
                Ok(0)
            }
            TIOCSETD => {
                let mut b = [0u8; 4];
                mem.read_bytes(arg, &mut b)?;
                // Only N_TTY exists here.
                if i32::from_ne_bytes(b) != 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(0)
            }
            TIOCGPGRP => {
                if !master && !self.is_callers_ctty() {
                    return Err(Errno::ENOTTY);
                }
                let pg = self.lock().pgrp.unwrap_or(0);
                mem.write_bytes(arg, &pg.to_ne_bytes())?;
                Ok(0)
            }
            TIOCGSID => {
                if !master && !self.is_callers_ctty() {
                    return Err(Errno::ENOTTY);
                }
                let sid = self.session().ok_or(Errno::ENOTTY)?;
                mem.write_bytes(arg, &sid.to_ne_bytes())?;
                Ok(0)
            }
            TIOCSPGRP => self.set_pgrp(arg, mem),
            TIOCSCTTY => self.set_ctty(arg),
            TIOCNOTTY => {
                if !self.is_callers_ctty() {
                    return Err(Errno::ENOTTY);
                }
                let (tgid, _, sid) = caller().ok_or(Errno::ENOTTY)?;
                if tgid == sid {
                    // The leader gives the terminal up for the whole session.
                    let pgrp = {
                        let mut st = self.lock();
                        st.session = None;
                        st.pgrp.take()
                    };
                    if let Some(pg) = pgrp {
                        signal_pgrp(pg, &[libc::SIGHUP, libc::SIGCONT]);
                    }
                }
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn set_pgrp(&self, arg: u64, mem: &dyn UserMemory) -> VfsResult<i64> {
        let mut b = [0u8; 4];
        mem.read_bytes(arg, &mut b)?;
        let pg = i32::from_ne_bytes(b);
        let (_, _, sid) = caller().ok_or(Errno::ENOTTY)?;
        if self.session() != Some(sid) {
            return Err(Errno::ENOTTY);
        }
        if pg < 0 {
            return Err(Errno::EINVAL);
        }
        let k = crate::kernel::current_kernel().ok_or(Errno::ENOTTY)?;
        let groups: Vec<(i32, i32)> = k
            .all_groups()
            .iter()
            .filter_map(|g| {
                // A zombie is still in its group until it is reaped (a
                // shell sets a finished job's group in the foreground).
                let st = g.lock();
                (st.pgid == pg && !st.reaped).then_some((st.pgid, st.sid))
            })
            .collect();
        if groups.is_empty() {
            return Err(Errno::ESRCH);
        }
        if !groups.iter().any(|&(_, s)| s == sid) {
            return Err(Errno::EPERM);
        }
        self.lock().pgrp = Some(pg);
        Ok(0)
    }

    fn set_ctty(&self, arg: u64) -> VfsResult<i64> {
        let (tgid, pgid, sid) = caller().ok_or(Errno::EPERM)?;
        if tgid == sid && self.session() == Some(sid) {
            return Ok(0);
        }
        if tgid != sid || ctty_of_session(sid).is_some() {
            return Err(Errno::EPERM);
        }
        if self.session().is_some() {
            // Stealing another session's terminal takes arg 1 and CAP_SYS_ADMIN.
            let admin = crate::kernel::current_task().is_some_and(|t| t.creds().has_cap(CAP_SYS_ADMIN));
            if arg != 1 || !admin {
                return Err(Errno::EPERM);
            }
        }
        let mut st = self.lock();
        st.session = Some(sid);
        st.pgrp = Some(pgid);
        Ok(0)
    }
}

/// TIOCGPTPEER: opens the slave of `file`'s pty master as a new file
/// (None: `file` is not a pty master). Returns the file and whether it
/// is close-on-exec.
pub fn open_peer(file: &OpenFile, flags: u64) -> Option<VfsResult<(Arc<OpenFile>, bool)>> {
    let master = file.ops().as_any().downcast_ref::<PtyMaster>()?;
    // Linux takes the flags as open(2)'s, without further checks.
    let flags = flags as i32;
    let pty = master.pty();
    Some(slave::open(pty, flags, false).map(|s| {
        let name = format!("/dev/pts/{}", pty.index);
        let status = flags & (libc::O_ACCMODE | libc::O_NONBLOCK) | crate::vfs::file::O_LARGEFILE;
        (OpenFile::new_anon(s, None, status, name), flags & libc::O_CLOEXEC != 0)
    }))
}
