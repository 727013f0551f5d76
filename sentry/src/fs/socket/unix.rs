//! AF_UNIX sockets, emulated in the sentry over host AF_UNIX socketpairs.
//!
//! * Stream and seqpacket: connect() makes a host socketpair of the same
//!   type; one end becomes the client, the other a new server-side socket
//!   queued on the listener until accept(). Listeners are sentry objects
//!   whose readiness is an eventfd (readable while the queue is non-empty).
//! * Datagram: each socket owns a host pair (`rx`, `inbox`): it reads `rx`,
//!   senders write `inbox`. Every datagram starts with a fixed header the
//!   sentry writes (sender address and credentials), stripped on receipt.
//!   socketpair() cross-wires two sockets so each one's inbox is the other's rx.
//!
//! Names live in a per-sandbox registry keyed by the bound file's (dev, ino)
//! or the abstract name; host sockets are never bound to anything.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::host::{self, Control};
use super::{rights, Blocker, Dest, Received, SendArgs, Ucred};
use crate::kernel::wait::{EventFd, WaitQueue};
use crate::vfs::{host_poll, Errno, OpenFile, VfsResult};

/// Where a name lives: a socket file (its dev, ino) or the abstract namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixKey {
    Inode(u64, u64),
    Abstract(Vec<u8>),
}

/// Bound sockets of this sandbox.
static BOUND: Mutex<Option<HashMap<UnixKey, Weak<Inner>>>> = Mutex::new(None);

fn registry() -> MutexGuard<'static, Option<HashMap<UnixKey, Weak<Inner>>>> {
    BOUND.lock().unwrap_or_else(|e| e.into_inner())
}

/// The socket bound to `key`, which must be of type `stype`. Like Linux, a
/// type mismatch is EPROTOTYPE through a socket file but ECONNREFUSED in
/// the abstract namespace (where names of other types are simply not found).
fn lookup(key: &UnixKey, stype: i32) -> VfsResult<Arc<Inner>> {
    let found = registry().as_ref().and_then(|m| m.get(key)).and_then(|w| w.upgrade());
    match found {
        Some(s) if s.stype == stype => Ok(s),
        Some(_) if matches!(key, UnixKey::Inode(..)) => Err(Errno::EPROTOTYPE),
        _ => Err(Errno::ECONNREFUSED),
    }
}

/// Datagram header: magic (0..4), pid, uid, gid (4..16), flags (16..20),
/// address length (20..22), sender address (24..).
const HDR: usize = 136;
const HDR_ADDR: usize = 24;
const HDR_MAGIC: u32 = 0x5256_5344;
const HDR_EXPLICIT_CREDS: u32 = 1;
/// Longest socket address (family + sun_path).
pub const ADDR_MAX: usize = 110;

enum Conn {
    /// Stream/seqpacket, not connected.
    Idle,
    Listening {
        queue: VecDeque<Arc<Inner>>,
        backlog: usize,
        ready: Arc<EventFd>,
    },
    Stream {
        fd: Arc<OwnedFd>,
        link: Link,
    },
    /// Datagram: the default destination set by connect().
    Dgram {
        peer: Option<Weak<Inner>>,
    },
}

/// Credentials of the last writer on each side of a stream connection, for
/// SCM_CREDENTIALS (the host socket only knows the sentry as its sender).
#[derive(Clone)]
struct Link {
    mine: Arc<Mutex<Ucred>>,
    theirs: Arc<Mutex<Ucred>>,
}

impl Link {
    fn pair(a: Ucred, b: Ucred) -> (Link, Link) {
        let (ca, cb) = (Arc::new(Mutex::new(a)), Arc::new(Mutex::new(b)));
        (Link { mine: ca.clone(), theirs: cb.clone() }, Link { mine: cb, theirs: ca })
    }
}

struct State {
    /// sockaddr bytes for getsockname (empty: unnamed).
    name: Vec<u8>,
    /// The registry entry this socket owns.
    key: Option<UnixKey>,
    conn: Conn,
    peer_name: Vec<u8>,
    peer_cred: Option<Ucred>,
    passcred: bool,
    shut_rd: bool,
    shut_wr: bool,
}

struct Inner {
    stype: i32,
    state: Mutex<State>,
    /// Datagram sockets only: (rx, inbox).
    dgram: Option<(Arc<OwnedFd>, Arc<OwnedFd>)>,
    /// Listeners: connects waiting for room in a full backlog (notified by
    /// accept, shutdown and close).
    room: WaitQueue,
}

impl Inner {
    fn new(stype: i32, conn: Conn, dgram: Option<(Arc<OwnedFd>, Arc<OwnedFd>)>) -> Arc<Inner> {
        Arc::new(Inner {
            stype,
            state: Mutex::new(State {
                name: Vec::new(),
                key: None,
                conn,
                peer_name: Vec::new(),
                peer_cred: None,
                passcred: false,
                shut_rd: false,
                shut_wr: false,
            }),
            dgram,
            room: WaitQueue::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rx(&self) -> Option<&Arc<OwnedFd>> {
        self.dgram.as_ref().map(|d| &d.0)
    }
}

/// One sandbox AF_UNIX socket (one per open file description).
pub struct UnixSocket {
    inner: Arc<Inner>,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        // A closed listener refuses the connects still waiting for room.
        let listening = {
            let mut st = self.inner.lock();
            let l = matches!(st.conn, Conn::Listening { .. });
            if l {
                st.conn = Conn::Idle;
            }
            l
        };
        if listening {
            self.inner.room.notify();
        }
        let key = self.inner.lock().key.take();
        if let Some(key) = key {
            let mut g = registry();
            if let Some(m) = g.as_mut() {
                if m.get(&key).is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.inner))) {
                    m.remove(&key);
                }
            }
        }
    }
}

fn new_dgram_fds() -> VfsResult<(Arc<OwnedFd>, Arc<OwnedFd>)> {
    let (rx, inbox) = host::socketpair(libc::SOCK_DGRAM)?;
    Ok((Arc::new(rx), Arc::new(inbox)))
}

/// sockaddr bytes with only the family: an unnamed socket.
fn unnamed() -> Vec<u8> {
    (libc::AF_UNIX as u16).to_ne_bytes().to_vec()
}

impl UnixSocket {
    /// socket(AF_UNIX, stype, 0).
    pub fn new(stype: i32) -> VfsResult<UnixSocket> {
        let inner = if stype == libc::SOCK_DGRAM {
            Inner::new(stype, Conn::Dgram { peer: None }, Some(new_dgram_fds()?))
        } else {
            Inner::new(stype, Conn::Idle, None)
        };
        Ok(UnixSocket { inner })
    }

    /// socketpair(AF_UNIX, stype, 0): both ends carry the creator's credentials.
    pub fn pair(stype: i32, cred: Ucred) -> VfsResult<(UnixSocket, UnixSocket)> {
        let (a, b) = if stype == libc::SOCK_DGRAM {
            let (x, y) = host::socketpair(libc::SOCK_DGRAM)?;
            let (x, y) = (Arc::new(x), Arc::new(y));
            let a = Inner::new(stype, Conn::Dgram { peer: None }, Some((x.clone(), y.clone())));
            let b = Inner::new(stype, Conn::Dgram { peer: None }, Some((y, x)));
            a.lock().conn = Conn::Dgram { peer: Some(Arc::downgrade(&b)) };
            b.lock().conn = Conn::Dgram { peer: Some(Arc::downgrade(&a)) };
            (a, b)
        } else {
            let (x, y) = host::socketpair(stype)?;
            let (la, lb) = Link::pair(cred, cred);
            (
                Inner::new(stype, Conn::Stream { fd: Arc::new(x), link: la }, None),
                Inner::new(stype, Conn::Stream { fd: Arc::new(y), link: lb }, None),
            )
        };
        for s in [&a, &b] {
            let mut st = s.lock();
            st.peer_cred = Some(cred);
            st.peer_name = unnamed();
        }
        Ok((UnixSocket { inner: a }, UnixSocket { inner: b }))
    }

    pub fn stype(&self) -> i32 {
        self.inner.stype
    }

    /// bind(): `key` names the socket, `addr` is what getsockname reports.
    /// For paths the caller has just created the socket file.
    pub fn bind(&self, key: UnixKey, addr: Vec<u8>) -> VfsResult<()> {
        let mut st = self.inner.lock();
        if st.key.is_some() || st.name.len() > 2 {
            return Err(Errno::EINVAL);
        }
        let mut g = registry();
        let m = g.get_or_insert_with(HashMap::new);
        if m.get(&key).is_some_and(|w| w.strong_count() > 0) {
            return Err(Errno::EADDRINUSE);
        }
        m.insert(key.clone(), Arc::downgrade(&self.inner));
        st.key = Some(key);
        st.name = addr;
        Ok(())
    }

    /// Whether bind() may still be called (path binds check before creating the file).
    pub fn is_bound(&self) -> bool {
        let st = self.inner.lock();
        st.key.is_some()
    }

    /// Binds to a kernel-chosen abstract name ("\0" + five hex digits).
    pub fn autobind(&self) -> VfsResult<()> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        for _ in 0..0x10_0000 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed) & 0xf_ffff;
            let name = format!("\0{n:05x}").into_bytes();
            let mut addr = unnamed();
            addr.extend_from_slice(&name);
            match self.bind(UnixKey::Abstract(name[1..].to_vec()), addr) {
                Err(e) if e == Errno::EADDRINUSE => continue,
                r => return r,
            }
        }
        Err(Errno::ENOSPC)
    }

    /// listen(): clients see `cred` as their peer's credentials.
    pub fn listen(&self, backlog: i32, cred: Ucred) -> VfsResult<()> {
        if self.inner.stype == libc::SOCK_DGRAM {
            return Err(Errno::EOPNOTSUPP);
        }
        let backlog = backlog.clamp(0, 4096) as usize;
        let mut st = self.inner.lock();
        if st.key.is_none() {
            return Err(Errno::EINVAL);
        }
        match &mut st.conn {
            Conn::Idle => {
                let ready = Arc::new(EventFd::new()?);
                st.conn = Conn::Listening { queue: VecDeque::new(), backlog, ready };
                st.peer_cred = Some(cred);
                Ok(())
            }
            Conn::Listening { backlog: b, .. } => {
                *b = backlog;
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// connect(). Stream/seqpacket: queue a new connection on the listener.
    /// Datagram: set the default destination (None: dissolve it, AF_UNSPEC).
    pub fn connect(&self, key: Option<&UnixKey>, cred: Ucred, block: Blocker<'_>) -> VfsResult<()> {
        let target = match key {
            Some(k) => Some(lookup(k, self.inner.stype)?),
            None => None,
        };
        if self.inner.stype == libc::SOCK_DGRAM {
            // The peer's name is read before taking our own lock: two sockets
            // connecting to each other must not wait on each other.
            let peer_name = target.as_ref().map(|t| t.lock().name.clone());
            let mut st = self.inner.lock();
            match target {
                Some(t) => {
                    let peer_name = peer_name.unwrap_or_default();
                    st.conn = Conn::Dgram { peer: Some(Arc::downgrade(&t)) };
                    st.peer_name = peer_name;
                }
                None => {
                    st.conn = Conn::Dgram { peer: None };
                    st.peer_name.clear();
                }
            }
            return Ok(());
        }
        let target = target.ok_or(Errno::EINVAL)?;
        loop {
            // Registered before the check: an accept in between still wakes us.
            let room = target.room.register()?;
            match self.try_connect(&target, cred) {
                Err(e) if e == Errno::EAGAIN => block(room.raw(), libc::POLLIN)?,
                r => return r,
            }
        }
    }

    fn try_connect(&self, target: &Arc<Inner>, cred: Ucred) -> VfsResult<()> {
        if Arc::ptr_eq(target, &self.inner) {
            return match self.inner.lock().conn {
                Conn::Stream { .. } => Err(Errno::EISCONN),
                Conn::Listening { .. } => Err(Errno::EINVAL),
                _ => Err(Errno::ECONNREFUSED),
            };
        }
        let mut st = self.inner.lock();
        match st.conn {
            Conn::Idle => {}
            Conn::Stream { .. } => return Err(Errno::EISCONN),
            _ => return Err(Errno::EINVAL),
        }
        let mut ts = target.lock();
        let listen_cred = ts.peer_cred.unwrap_or_default();
        let listen_name = ts.name.clone();
        let Conn::Listening { queue, backlog, ready } = &mut ts.conn else {
            return Err(Errno::ECONNREFUSED);
        };
        if queue.len() > *backlog {
            return Err(Errno::EAGAIN);
        }
        let (mine, theirs) = host::socketpair(self.inner.stype)?;
        let (lc, ls) = Link::pair(cred, listen_cred);
        let server = Inner::new(self.inner.stype, Conn::Stream { fd: Arc::new(theirs), link: ls }, None);
        {
            let mut ss = server.lock();
            ss.name = listen_name.clone();
            ss.peer_name = if st.name.is_empty() { unnamed() } else { st.name.clone() };
            ss.peer_cred = Some(cred);
        }
        queue.push_back(server);
        ready.notify();
        st.conn = Conn::Stream { fd: Arc::new(mine), link: lc };
        st.peer_name = listen_name;
        st.peer_cred = Some(listen_cred);
        Ok(())
    }

    /// accept(): the next queued connection.
    pub fn accept(&self, block: Blocker<'_>) -> VfsResult<UnixSocket> {
        loop {
            let ready = {
                let mut st = self.inner.lock();
                let shut = st.shut_rd;
                let Conn::Listening { queue, ready, .. } = &mut st.conn else {
                    return Err(Errno::EINVAL);
                };
                // A shut-down listener accepts nothing more (and wakes its waiters).
                if shut {
                    return Err(Errno::EINVAL);
                }
                if let Some(s) = queue.pop_front() {
                    if queue.is_empty() {
                        ready.clear();
                    }
                    drop(st);
                    self.inner.room.notify();
                    return Ok(UnixSocket { inner: s });
                }
                ready.clone()
            };
            block(ready.raw(), libc::POLLIN)?;
        }
    }

    pub fn shutdown(&self, how: i32) -> VfsResult<()> {
        let mut st = self.inner.lock();
        if how != libc::SHUT_WR {
            st.shut_rd = true;
        }
        if how != libc::SHUT_RD {
            st.shut_wr = true;
        }
        match &st.conn {
            Conn::Stream { fd, .. } => host::shutdown(fd.as_raw_fd(), how),
            Conn::Listening { ready, .. } => {
                ready.notify();
                self.inner.room.notify();
                Ok(())
            }
            // Only the receiving side of a datagram socket is the host's to shut.
            Conn::Dgram { .. } if how != libc::SHUT_WR => match self.inner.rx() {
                Some(rx) => host::shutdown(rx.as_raw_fd(), libc::SHUT_RD),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    pub fn name(&self, peer: bool) -> VfsResult<Vec<u8>> {
        let st = self.inner.lock();
        if !peer {
            return Ok(if st.name.is_empty() { unnamed() } else { st.name.clone() });
        }
        let connected = match &st.conn {
            Conn::Stream { .. } => true,
            Conn::Dgram { peer } => peer.as_ref().is_some_and(|p| p.strong_count() > 0),
            _ => false,
        };
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        Ok(if st.peer_name.is_empty() { unnamed() } else { st.peer_name.clone() })
    }

    pub fn peer_cred(&self) -> Option<Ucred> {
        self.inner.lock().peer_cred
    }

    pub fn passcred(&self) -> bool {
        self.inner.lock().passcred
    }

    pub fn set_passcred(&self, on: bool) {
        self.inner.lock().passcred = on;
    }

    pub fn is_listening(&self) -> bool {
        matches!(self.inner.lock().conn, Conn::Listening { .. })
    }

    /// The host fd buffer options apply to, if the socket has one yet.
    pub fn buffer_fd(&self) -> Option<Arc<OwnedFd>> {
        match &self.inner.lock().conn {
            Conn::Stream { fd, .. } => Some(fd.clone()),
            _ => self.inner.rx().cloned(),
        }
    }

    /// The host fd that becomes ready for `events` (poll/epoll and blocking).
    pub fn wait_fd(&self, events: i16) -> Option<RawFd> {
        let st = self.inner.lock();
        match &st.conn {
            Conn::Stream { fd, .. } => Some(fd.as_raw_fd()),
            Conn::Listening { ready, .. } => Some(ready.raw()),
            Conn::Dgram { peer } => {
                let peer = peer.as_ref().and_then(|p| p.upgrade());
                match peer.as_ref().and_then(|p| p.dgram.as_ref()) {
                    Some(d) if events & libc::POLLOUT != 0 && events & libc::POLLIN == 0 => Some(d.1.as_raw_fd()),
                    _ => self.inner.rx().map(|r| r.as_raw_fd()),
                }
            }
            Conn::Idle => None,
        }
    }

    pub fn poll(&self, events: i16) -> i16 {
        let st = self.inner.lock();
        let hup_bits = |st: &State| {
            let mut m = 0;
            if st.shut_rd && st.shut_wr {
                m |= libc::POLLHUP;
            }
            if st.shut_rd {
                m |= libc::POLLIN | libc::POLLRDNORM | libc::POLLRDHUP;
            }
            m
        };
        let out = libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
        let m = match &st.conn {
            Conn::Stream { fd, .. } => host_poll(fd.as_raw_fd(), events),
            Conn::Listening { queue, .. } => {
                let pending = if queue.is_empty() { 0 } else { libc::POLLIN | libc::POLLRDNORM };
                pending | hup_bits(&st)
            }
            Conn::Idle => libc::POLLHUP | out | hup_bits(&st),
            Conn::Dgram { peer } => {
                let rx = self.inner.rx().map(|r| host_poll(r.as_raw_fd(), events & !out)).unwrap_or(0);
                let peer = peer.as_ref().and_then(|p| p.upgrade());
                let w = match peer.as_ref().and_then(|p| p.dgram.as_ref()) {
                    Some(d) if !st.shut_wr => host_poll(d.1.as_raw_fd(), libc::POLLOUT) & out,
                    _ => out,
                };
                rx | w | hup_bits(&st)
            }
        };
        m & (events | libc::POLLHUP | libc::POLLERR)
    }

    /// FIONREAD (`out` false) or SIOCOUTQ (true).
    pub fn pending(&self, out: bool) -> VfsResult<i32> {
        let st = self.inner.lock();
        match &st.conn {
            Conn::Stream { fd, .. } => {
                host::ioctl_int(fd.as_raw_fd(), if out { libc::TIOCOUTQ } else { libc::FIONREAD })
            }
            Conn::Dgram { .. } if !out => {
                let rx = self.inner.rx().ok_or(Errno::EINVAL)?;
                let n = host::ioctl_int(rx.as_raw_fd(), libc::FIONREAD)?;
                Ok((n - HDR as i32).max(0))
            }
            Conn::Listening { .. } => Err(Errno::EINVAL),
            _ => Ok(0),
        }
    }

    pub fn send(&self, args: SendArgs<'_>, block: Blocker<'_>) -> VfsResult<usize> {
        if self.inner.stype == libc::SOCK_DGRAM {
            return self.send_dgram(args, block);
        }
        let (fd, link) = {
            let st = self.inner.lock();
            match &st.conn {
                Conn::Stream { .. } if args.dest.is_some() && self.inner.stype == libc::SOCK_STREAM => {
                    return Err(Errno::EISCONN)
                }
                Conn::Stream { fd, link } => {
                    if st.shut_wr {
                        return Err(Errno::EPIPE);
                    }
                    (fd.clone(), link.clone())
                }
                _ if args.dest.is_some() && self.inner.stype == libc::SOCK_STREAM => return Err(Errno::EOPNOTSUPP),
                _ => return Err(Errno::ENOTCONN),
            }
        };
        *link.mine.lock().unwrap_or_else(|e| e.into_inner()) = args.explicit_creds.unwrap_or(args.creds);
        let tokens = rights::pack(&args.rights)?;
        let mut control = Control::rights(&tokens.raw());
        let eor = args.flags & libc::MSG_EOR;
        let mut done = 0;
        loop {
            match host::sendmsg(fd.as_raw_fd(), &[&args.data[done..]], None, &mut control, eor) {
                Ok(n) => {
                    if done == 0 && !args.rights.is_empty() {
                        control = Control::with_capacity(0);
                    }
                    done += n;
                    if done >= args.data.len() || self.inner.stype == libc::SOCK_SEQPACKET {
                        break;
                    }
                }
                Err(e) if e == Errno::EAGAIN => {
                    if let Err(e) = block(fd.as_raw_fd(), libc::POLLOUT) {
                        if done > 0 {
                            break;
                        }
                        return Err(e);
                    }
                }
                Err(e) if done > 0 && e != Errno::EPIPE => break,
                Err(e) => return Err(e),
            }
        }
        if done > 0 || args.rights.is_empty() {
            tokens.sent();
        }
        Ok(done)
    }

    fn send_dgram(&self, args: SendArgs<'_>, block: Blocker<'_>) -> VfsResult<usize> {
        let (name, default_peer, shut_wr) = {
            let st = self.inner.lock();
            let peer = match &st.conn {
                Conn::Dgram { peer } => peer.clone(),
                _ => None,
            };
            (st.name.clone(), peer, st.shut_wr)
        };
        if shut_wr {
            return Err(Errno::EPIPE);
        }
        let target = match &args.dest {
            Some(Dest::Unix(k)) => lookup(k, libc::SOCK_DGRAM)?,
            Some(Dest::Raw(_)) => return Err(Errno::EINVAL),
            None => {
                let p = default_peer.ok_or(Errno::ENOTCONN)?;
                match p.upgrade() {
                    Some(t) => t,
                    None => {
                        // The peer is gone: report it once, then act unconnected.
                        let mut st = self.inner.lock();
                        st.conn = Conn::Dgram { peer: None };
                        return Err(Errno::ECONNREFUSED);
                    }
                }
            }
        };
        let Some((_, inbox)) = target.dgram.clone() else {
            return Err(Errno::EPROTOTYPE);
        };
        if !Arc::ptr_eq(&target, &self.inner) {
            let ts = target.lock();
            if let Conn::Dgram { peer: Some(p) } = &ts.conn {
                if p.strong_count() > 0 && !std::ptr::eq(p.as_ptr(), Arc::as_ptr(&self.inner)) {
                    return Err(Errno::EPERM);
                }
            }
        }
        let mut hdr = [0u8; HDR];
        let cred = args.explicit_creds.unwrap_or(args.creds);
        let flags = if args.explicit_creds.is_some() { HDR_EXPLICIT_CREDS } else { 0 };
        hdr[0..4].copy_from_slice(&HDR_MAGIC.to_ne_bytes());
        hdr[4..16].copy_from_slice(&cred.to_bytes());
        hdr[16..20].copy_from_slice(&flags.to_ne_bytes());
        let addr = if name.len() > 2 { &name[..name.len().min(ADDR_MAX)] } else { &[][..] };
        hdr[20..22].copy_from_slice(&(addr.len() as u16).to_ne_bytes());
        hdr[HDR_ADDR..HDR_ADDR + addr.len()].copy_from_slice(addr);
        let tokens = rights::pack(&args.rights)?;
        let mut control = Control::rights(&tokens.raw());
        loop {
            match host::sendmsg(inbox.as_raw_fd(), &[&hdr, args.data], None, &mut control, 0) {
                Ok(n) => {
                    tokens.sent();
                    return Ok(n.saturating_sub(HDR));
                }
                Err(e) if e == Errno::EAGAIN => block(inbox.as_raw_fd(), libc::POLLOUT)?,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn recv(&self, len: usize, flags: i32, block: Blocker<'_>) -> VfsResult<Received> {
        let passcred = self.passcred();
        if self.inner.stype == libc::SOCK_DGRAM {
            return self.recv_dgram(len, flags, passcred, block);
        }
        let (fd, link) = {
            let st = self.inner.lock();
            match &st.conn {
                Conn::Stream { fd, link } => (fd.clone(), link.clone()),
                _ if self.inner.stype == libc::SOCK_SEQPACKET => return Err(Errno::ENOTCONN),
                _ => return Err(Errno::EINVAL),
            }
        };
        let peek = flags & libc::MSG_PEEK != 0;
        let waitall = flags & libc::MSG_WAITALL != 0 && !peek && self.inner.stype == libc::SOCK_STREAM;
        let host_flags = flags & (libc::MSG_PEEK | libc::MSG_TRUNC);
        let mut out = Received { data: vec![0u8; len], ..Default::default() };
        let mut done = 0;
        loop {
            let mut control = Control::with_capacity(host::cmsg_space(4 * rights::MAX_FDS));
            let r = host::recvmsg(fd.as_raw_fd(), &mut [&mut out.data[done..]], &mut [], &mut control, host_flags);
            match r {
                Ok(r) => {
                    take_rights(&control, r.control_len, peek, &mut out.rights);
                    out.flags |= r.flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC | libc::MSG_EOR);
                    if self.inner.stype == libc::SOCK_SEQPACKET {
                        out.ret = r.n;
                        done = r.n.min(len);
                        break;
                    }
                    done += r.n;
                    out.ret = done;
                    if r.n == 0 || !waitall || done >= len {
                        break;
                    }
                }
                Err(e) if e == Errno::EAGAIN => {
                    if let Err(e) = block(fd.as_raw_fd(), libc::POLLIN) {
                        if done > 0 {
                            break;
                        }
                        return Err(e);
                    }
                }
                Err(e) if done > 0 => {
                    let _ = e;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        out.data.truncate(done);
        if passcred {
            out.creds = Some(*link.theirs.lock().unwrap_or_else(|e| e.into_inner()));
        }
        // recvmsg reports the sending socket's name when it has one.
        let peer_name = self.inner.lock().peer_name.clone();
        out.addr = Some(if peer_name.len() > 2 { peer_name } else { Vec::new() });
        Ok(out)
    }

    fn recv_dgram(&self, len: usize, flags: i32, passcred: bool, block: Blocker<'_>) -> VfsResult<Received> {
        let rx = self.inner.rx().cloned().ok_or(Errno::EINVAL)?;
        let peek = flags & libc::MSG_PEEK != 0;
        let mut hdr = [0u8; HDR];
        let mut out = Received { data: vec![0u8; len], ..Default::default() };
        loop {
            let mut control = Control::with_capacity(host::cmsg_space(4 * rights::MAX_FDS));
            let host_flags = flags & (libc::MSG_PEEK | libc::MSG_TRUNC);
            match host::recvmsg(rx.as_raw_fd(), &mut [&mut hdr, &mut out.data], &mut [], &mut control, host_flags) {
                Ok(r) => {
                    take_rights(&control, r.control_len, peek, &mut out.rights);
                    if r.n == 0 && r.flags & libc::MSG_TRUNC == 0 {
                        // Receive side shut down: end of file.
                        out.data.clear();
                        return Ok(out);
                    }
                    if u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) != HDR_MAGIC || r.n < HDR {
                        tracing::warn!("malformed datagram on a sentry socket");
                        return Err(Errno::EIO);
                    }
                    let body = r.n - HDR;
                    out.ret = body;
                    out.data.truncate(body.min(len));
                    out.flags = r.flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC);
                    let alen = u16::from_ne_bytes([hdr[20], hdr[21]]) as usize;
                    out.addr = Some(hdr[HDR_ADDR..HDR_ADDR + alen.min(ADDR_MAX)].to_vec());
                    if passcred {
                        out.creds = Ucred::from_bytes(&hdr[4..16]);
                    }
                    return Ok(out);
                }
                Err(e) if e == Errno::EAGAIN => block(rx.as_raw_fd(), libc::POLLIN)?,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Turns the tokens in a host control buffer into the files they stand for.
fn take_rights(control: &Control, len: usize, peek: bool, out: &mut Vec<Arc<OpenFile>>) {
    for (level, kind, data) in host::parse_cmsgs(&control.bytes()[..len]) {
        if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
            continue;
        }
        for c in data.chunks_exact(4) {
            let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
            if let Some(f) = rights::unpack(fd, peek) {
                out.push(f);
            }
        }
    }
}
