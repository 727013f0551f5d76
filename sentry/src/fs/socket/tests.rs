//! Unit tests of the socket objects (no tasks involved: nothing blocks).

use std::sync::Arc;

use super::unix::{UnixKey, UnixSocket};
use super::{never_block, Dest, Kind, SendArgs, SocketFile, Ucred};
use crate::vfs::{Errno, OpenFile};

const ME: Ucred = Ucred { pid: 7, uid: 1000, gid: 1000 };

fn args(data: &[u8]) -> SendArgs<'_> {
    SendArgs {
        data,
        flags: 0,
        dest: None,
        rights: Vec::new(),
        creds: ME,
        explicit_creds: None,
        raw_control: Vec::new(),
    }
}

fn unique(tag: &str) -> UnixKey {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    UnixKey::Abstract(format!("unit-{tag}-{}", N.fetch_add(1, Ordering::Relaxed)).into_bytes())
}

fn abstract_addr(key: &UnixKey) -> Vec<u8> {
    let UnixKey::Abstract(name) = key else { unreachable!("tests use abstract keys") };
    let mut a = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    a.push(0);
    a.extend_from_slice(name);
    a
}

fn file(sock: UnixSocket) -> Arc<OpenFile> {
    SocketFile::new(libc::AF_UNIX, sock.stype(), 0, Kind::Unix(sock)).into_file(0)
}

#[test]
fn stream_pair_moves_bytes_and_reports_eagain_when_empty() {
    let (a, b) = UnixSocket::pair(libc::SOCK_STREAM, ME).unwrap();
    assert_eq!(b.recv(16, 0, &mut never_block).err(), Some(Errno::EAGAIN));
    assert_eq!(a.send(args(b"hello"), &mut never_block), Ok(5));
    let r = b.recv(16, 0, &mut never_block).unwrap();
    assert_eq!(r.data, b"hello");
    assert_eq!(b.peer_cred(), Some(ME));
}

#[test]
fn rights_carry_the_same_open_file_and_peek_keeps_it_queued() {
    let (a, b) = UnixSocket::pair(libc::SOCK_STREAM, ME).unwrap();
    let (x, _y) = UnixSocket::pair(libc::SOCK_DGRAM, ME).unwrap();
    let passed = file(x);
    let mut m = args(b"f");
    m.rights = vec![passed.clone()];
    assert_eq!(a.send(m, &mut never_block), Ok(1));
    let peeked = b.recv(1, libc::MSG_PEEK, &mut never_block).unwrap();
    assert_eq!(peeked.rights.len(), 1);
    assert!(Arc::ptr_eq(&peeked.rights[0], &passed));
    let got = b.recv(1, 0, &mut never_block).unwrap();
    assert_eq!(got.rights.len(), 1);
    assert!(Arc::ptr_eq(&got.rights[0], &passed));
    // Only the test and the received copy hold it now: the registry let go.
    drop((peeked, got));
    assert_eq!(Arc::strong_count(&passed), 1);
}

#[test]
fn names_are_exclusive_and_connections_queue_until_accepted() {
    let key = unique("listen");
    let l = UnixSocket::new(libc::SOCK_STREAM).unwrap();
    assert_eq!(l.listen(1, ME), Err(Errno::EINVAL), "listen needs a name");
    l.bind(key.clone(), abstract_addr(&key)).unwrap();
    let other = UnixSocket::new(libc::SOCK_STREAM).unwrap();
    assert_eq!(other.bind(key.clone(), abstract_addr(&key)), Err(Errno::EADDRINUSE));
    assert_eq!(other.connect(Some(&key), ME, &mut never_block), Err(Errno::ECONNREFUSED), "not listening yet");
    l.listen(0, Ucred { pid: 1, uid: 0, gid: 0 }).unwrap();
    assert!(l.accept(&mut never_block).is_err());
    other.connect(Some(&key), ME, &mut never_block).unwrap();
    assert_eq!(other.peer_cred(), Some(Ucred { pid: 1, uid: 0, gid: 0 }));
    // Backlog 0 still admits one; the next would wait.
    let third = UnixSocket::new(libc::SOCK_STREAM).unwrap();
    assert_eq!(third.connect(Some(&key), ME, &mut never_block), Err(Errno::EAGAIN));
    let served = l.accept(&mut never_block).unwrap();
    assert_eq!(served.peer_cred(), Some(ME));
    assert_eq!(served.name(false).unwrap(), abstract_addr(&key));
    other.send(args(b"ping"), &mut never_block).unwrap();
    assert_eq!(served.recv(8, 0, &mut never_block).unwrap().data, b"ping");
    drop(l);
    let late = UnixSocket::new(libc::SOCK_STREAM).unwrap();
    assert_eq!(late.connect(Some(&key), ME, &mut never_block), Err(Errno::ECONNREFUSED), "closed listener");
    // The name is free again.
    let again = UnixSocket::new(libc::SOCK_STREAM).unwrap();
    again.bind(key.clone(), abstract_addr(&key)).unwrap();
}

#[test]
fn datagrams_carry_sender_name_and_credentials() {
    let (rk, sk) = (unique("rx"), unique("tx"));
    let rx = UnixSocket::new(libc::SOCK_DGRAM).unwrap();
    rx.bind(rk.clone(), abstract_addr(&rk)).unwrap();
    rx.set_passcred(true);
    let tx = UnixSocket::new(libc::SOCK_DGRAM).unwrap();
    tx.bind(sk.clone(), abstract_addr(&sk)).unwrap();
    let mut m = args(b"datagram");
    m.dest = Some(Dest::Unix(rk.clone()));
    assert_eq!(tx.send(m, &mut never_block), Ok(8));
    let peek = rx.recv(4, libc::MSG_PEEK | libc::MSG_TRUNC, &mut never_block).unwrap();
    assert_eq!(peek.ret, 8, "MSG_TRUNC asks for the datagram's full length");
    let r = rx.recv(4, 0, &mut never_block).unwrap();
    assert_eq!(r.data, b"data");
    assert_eq!(r.ret, 4);
    assert_ne!(r.flags & libc::MSG_TRUNC, 0);
    assert_eq!(r.addr, Some(abstract_addr(&sk)));
    assert_eq!(r.creds, Some(ME));
    // A receiver connected elsewhere refuses strangers.
    let stranger = UnixSocket::new(libc::SOCK_DGRAM).unwrap();
    rx.connect(Some(&sk), ME, &mut never_block).unwrap();
    let mut m = args(b"x");
    m.dest = Some(Dest::Unix(rk));
    assert_eq!(stranger.send(m, &mut never_block), Err(Errno::EPERM));
}

#[test]
fn type_mismatch_errors_depend_on_the_namespace() {
    let key = unique("dg");
    let d = UnixSocket::new(libc::SOCK_DGRAM).unwrap();
    d.bind(key.clone(), abstract_addr(&key)).unwrap();
    let s = UnixSocket::new(libc::SOCK_STREAM).unwrap();
    assert_eq!(s.connect(Some(&key), ME, &mut never_block), Err(Errno::ECONNREFUSED));
    let path = UnixKey::Inode(u64::MAX, u64::MAX - 1);
    let p = UnixSocket::new(libc::SOCK_DGRAM).unwrap();
    p.bind(path.clone(), b"\x01\x00/x\x00".to_vec()).unwrap();
    assert_eq!(s.connect(Some(&path), ME, &mut never_block), Err(Errno::EPROTOTYPE));
}
