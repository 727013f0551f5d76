//! SCM_RIGHTS between sandbox sockets. Application fds are virtual, so what
//! travels through the host socket is a token per file: the write end of a
//! fresh host pipe, keyed by the pipe's inode number. The sentry keeps the
//! read end beside the open file description it stands for. The token rides
//! in the host message, so the file arrives with exactly the bytes it was sent
//! with; a message destroyed unread closes its tokens, which shows as POLLHUP
//! on the kept read ends and lets the registry drop those files.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use crate::fs::host::host_fstat;
use crate::vfs::{Errno, OpenFile, VfsResult};

/// Most fds one message may carry (Linux SCM_MAX_FD).
pub const MAX_FDS: usize = 253;

struct InFlight {
    /// Read end of the token pipe: hangs up once every token copy is closed.
    reader: OwnedFd,
    file: Arc<OpenFile>,
}

static INFLIGHT: Mutex<Option<HashMap<u64, InFlight>>> = Mutex::new(None);

fn with_map<R>(f: impl FnOnce(&mut HashMap<u64, InFlight>) -> R) -> R {
    let mut g = INFLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(HashMap::new))
}

/// Tokens for `files`; the caller sends them and then drops them.
pub fn pack(files: &[Arc<OpenFile>]) -> VfsResult<Tokens> {
    collect_garbage();
    let mut tokens = Tokens { fds: Vec::new(), keys: Vec::new() };
    for file in files {
        let mut p = [0 as RawFd; 2];
        // SAFETY: p is a valid out-array of two ints.
        if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(Errno::last());
        }
        // SAFETY: both fds are fresh and owned from here on.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        let key = host_fstat(r.as_raw_fd())?.ino;
        with_map(|m| m.insert(key, InFlight { reader: r, file: file.clone() }));
        tokens.fds.push(w);
        tokens.keys.push(key);
    }
    Ok(tokens)
}

/// Tokens made by [`pack`]. Dropping them unsent forgets their files.
pub struct Tokens {
    fds: Vec<OwnedFd>,
    keys: Vec<u64>,
}

impl Tokens {
    pub fn raw(&self) -> Vec<RawFd> {
        self.fds.iter().map(|f| f.as_raw_fd()).collect()
    }

    /// The host message now holds copies: the files stay registered.
    pub fn sent(mut self) {
        self.keys.clear();
    }
}

impl Drop for Tokens {
    fn drop(&mut self) {
        if !self.keys.is_empty() {
            with_map(|m| {
                for k in &self.keys {
                    m.remove(k);
                }
            });
        }
    }
}

/// The file a received token stands for. A peek leaves it registered (the
/// message is still queued); a real receive takes it out.
pub fn unpack(token: RawFd, peek: bool) -> Option<Arc<OpenFile>> {
    // SAFETY: the token was just received by the sentry and is owned by it.
    let token = unsafe { OwnedFd::from_raw_fd(token) };
    let key = host_fstat(token.as_raw_fd()).ok()?.ino;
    with_map(|m| if peek { m.get(&key).map(|e| e.file.clone()) } else { m.remove(&key).map(|e| e.file) })
}

/// Drops files whose messages were destroyed without being received.
fn collect_garbage() {
    with_map(|m| {
        if m.is_empty() {
            return;
        }
        let mut pfds: Vec<libc::pollfd> =
            m.values().map(|e| libc::pollfd { fd: e.reader.as_raw_fd(), events: 0, revents: 0 }).collect();
        // SAFETY: pfds is a valid pollfd array; timeout 0 never blocks.
        if unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0) } <= 0 {
            return;
        }
        let dead: Vec<RawFd> = pfds.iter().filter(|p| p.revents & libc::POLLHUP != 0).map(|p| p.fd).collect();
        m.retain(|_, e| !dead.contains(&e.reader.as_raw_fd()));
    });
}
