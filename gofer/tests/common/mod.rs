//! Shared test fixture: a temporary tree served by `serve` on a thread.

#![allow(dead_code)]

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use rvisor_gofer::protocol::{Attr, Fid};
use rvisor_gofer::{open_root, serve, transport, GoferClient, GoferError};

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("rvisor-gofer-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A gofer serving `root` on a thread, and a client connected to it.
pub struct Served {
    pub client: Option<GoferClient>,
    pub thread: Option<JoinHandle<Result<(), GoferError>>>,
}

impl Served {
    pub fn start(root: &Path, readonly: bool) -> Served {
        let (a, b) = transport::socketpair().expect("socketpair");
        let root_fd = open_root(root).expect("open root");
        let thread = std::thread::spawn(move || serve(b, root_fd, readonly));
        Served { client: Some(GoferClient::new(a)), thread: Some(thread) }
    }

    pub fn c(&self) -> &GoferClient {
        self.client.as_ref().expect("client")
    }

    /// Closes the client side and returns how the server loop ended.
    pub fn stop(&mut self) -> Result<(), GoferError> {
        self.client.take();
        self.thread.take().map(|t| t.join().expect("server thread panicked")).unwrap_or(Ok(()))
    }

    /// Walks a '/'-separated relative path from `start`, one component at a
    /// time, releasing the intermediate fids.
    pub fn walk_path(&self, start: Fid, path: &str) -> Result<(Fid, Attr), rvisor_syscalls::Errno> {
        let mut cur = (start, self.c().stat(start)?);
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let next = self.c().walk(cur.0, comp.as_bytes());
            if cur.0 != start {
                self.c().release(cur.0)?;
            }
            cur = next?;
        }
        Ok(cur)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

pub fn read_all(fd: OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    File::from(fd).read_to_end(&mut out).expect("read");
    out
}

pub fn uid_gid() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}
