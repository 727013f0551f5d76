//! Round trips and hostile input for the wire encoding.

use super::wire::op;
use super::*;

fn all_requests() -> Vec<Request> {
    let n = |s: &str| s.as_bytes().to_vec();
    let change = SetAttrReq {
        mode: Some(0o644),
        uid: None,
        gid: Some(7),
        size: Some(99),
        atime: Timespec { tv_sec: 5, tv_nsec: UTIME_NOW },
        mtime: Timespec { tv_sec: 1, tv_nsec: 2 },
    };
    vec![
        Request::Attach,
        Request::Walk { fid: Fid(1), name: n("a") },
        Request::Open { fid: Fid(2), flags: 2 },
        Request::Create { dir: Fid(3), name: n("b"), flags: 1, mode: 0o600, uid: 1, gid: 2 },
        Request::Mkdir { dir: Fid(3), name: n("c"), mode: 0o755, uid: 1, gid: 2 },
        Request::Mknod { dir: Fid(3), name: n("d"), mode: 0o10644, uid: 1, gid: 2 },
        Request::Symlink { dir: Fid(3), name: n("e"), target: vec![b'x'; MAX_PATH - 1], uid: 0, gid: 0 },
        Request::Link { dir: Fid(3), name: n("f"), target: Fid(9) },
        Request::Unlink { dir: Fid(3), name: n("g"), flags: AT_REMOVEDIR },
        Request::Rename { old_dir: Fid(3), old_name: n("h"), new_dir: Fid(4), new_name: n("i"), flags: 1 },
        Request::Readlink { fid: Fid(5) },
        Request::Stat { fid: Fid(5) },
        Request::SetAttr { fid: Fid(5), change },
        Request::StatFs { fid: Fid(5) },
        Request::Release { fids: vec![Fid(u64::MAX)] },
        Request::Release { fids: (1..=crate::protocol::MAX_RELEASE as u64).map(Fid).collect() },
        Request::ReadDir { fid: Fid(6), cookie: 0 },
        Request::ReadDir { fid: Fid(6), cookie: u64::MAX },
    ]
}

#[test]
fn requests_round_trip() {
    for (i, req) in all_requests().into_iter().enumerate() {
        let buf = req.encode(i as u32).expect("encode");
        assert!(buf.len() <= MAX_MESSAGE);
        let (tag, got) = Request::decode(&buf);
        assert_eq!(tag, i as u32);
        assert_eq!(got, Ok(req));
    }
}

#[test]
fn responses_round_trip() {
    let attr = Attr { ino: 1, dev: 2, mode: 0o100644, nlink: 3, size: 4, ..Default::default() };
    let statfs = StatFs { f_type: 0xEF53, f_bsize: 4096, f_fsid: [-1, 2], f_namelen: 255, ..Default::default() };
    let all = [
        Response::Error(Errno::ENOENT),
        Response::Ok,
        Response::Node { fid: Fid(7), attr },
        Response::Attr(attr),
        Response::Target(b"/etc/passwd".to_vec()),
        Response::StatFs(statfs),
        Response::Entries { entries: vec![], next: None },
        Response::Entries { entries: entries(3), next: Some(77) },
    ];
    for resp in all {
        let buf = resp.encode(42).expect("encode");
        assert_eq!(Response::decode(&buf), Ok((42, resp)));
    }
}

fn entries(n: usize) -> Vec<DirEntryPlus> {
    let attr = Attr { ino: 9, mode: 0o40755, nlink: 2, ..Default::default() };
    (0..n)
        .map(|i| DirEntryPlus {
            ino: i as u64,
            d_type: 4,
            name: format!("entry{i}").into_bytes(),
            attr: (i % 2 == 0).then_some(attr),
        })
        .collect()
}

#[test]
fn entry_sizes_match_the_encoding() {
    // The server packs batches by these sizes: they must be exact.
    let mut all = entries(1);
    all[0].name = vec![b'n'; MAX_NAME];
    let one = Response::Entries { entries: all.clone(), next: Some(1) }.encode(0).unwrap();
    assert_eq!(one.len(), ENTRIES_HEADER + entry_size(&all[0].name));
    assert_eq!(Response::Entries { entries: vec![], next: None }.encode(0).unwrap().len(), ENTRIES_HEADER);
}

#[test]
fn entries_reject_bad_counts_and_names() {
    let mut buf = Response::Entries { entries: entries(2), next: None }.encode(1).unwrap();
    // The count sits after the tag and kind: claim far more entries than fit.
    buf[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Response::decode(&buf).is_err());
    let bad = vec![DirEntryPlus { ino: 1, d_type: 0, name: b"a/b".to_vec(), attr: None }];
    assert!(Response::Entries { entries: bad, next: None }.encode(1).is_err());
    let dots = vec![DirEntryPlus { ino: 1, d_type: 0, name: b"..".to_vec(), attr: None }];
    assert!(Response::Entries { entries: dots, next: None }.encode(1).is_err());
}

#[test]
fn every_truncation_is_an_error() {
    for req in all_requests() {
        let buf = req.encode(1).expect("encode");
        for len in 0..buf.len() {
            assert!(Request::decode(&buf[..len]).1.is_err(), "{req:?} cut at {len}");
        }
        let mut longer = buf.clone();
        longer.push(0);
        assert_eq!(Request::decode(&longer).1, Err(ProtocolError::Trailing(1)));
    }
}

#[test]
fn bad_names_rejected() {
    for (name, err) in [
        (&b""[..], ProtocolError::Empty),
        (b".", ProtocolError::BadName),
        (b"..", ProtocolError::BadName),
        (b"a/b", ProtocolError::BadName),
        (b"a\0b", ProtocolError::BadName),
    ] {
        let req = Request::Walk { fid: Fid(1), name: name.to_vec() };
        assert_eq!(req.encode(0), Err(err.clone()));
        // A hostile encoder bypasses the check: the decoder must catch it.
        let mut buf = vec![0, 0, 0, 0, op::WALK];
        buf.extend_from_slice(&1u64.to_le_bytes());
        buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
        buf.extend_from_slice(name);
        assert_eq!(Request::decode(&buf).1, Err(err));
    }
    let long = Request::Walk { fid: Fid(1), name: vec![b'a'; MAX_NAME + 1] };
    assert_eq!(long.encode(0), Err(ProtocolError::NameTooLong));
    assert_eq!(ProtocolError::NameTooLong.errno(), Errno::ENAMETOOLONG);
    let long = Request::Symlink { dir: Fid(1), name: b"a".to_vec(), target: vec![b'a'; MAX_PATH], uid: 0, gid: 0 };
    assert_eq!(long.encode(0), Err(ProtocolError::PathTooLong));
}

#[test]
fn garbage_never_panics() {
    // A simple xorshift generator: deterministic, no dependency.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len > 4 {
            buf[4] = (next() % 17) as u8;
        }
        let _ = Request::decode(&buf);
        let _ = Response::decode(&buf);
    }
    assert!(Request::decode(&vec![0; MAX_MESSAGE + 1]).1 == Err(ProtocolError::TooLarge));
}

#[test]
fn setattr_times_validated() {
    let change = SetAttrReq { atime: Timespec { tv_sec: 0, tv_nsec: 2_000_000_000 }, ..Default::default() };
    assert!(Request::SetAttr { fid: Fid(1), change }.encode(0).is_err());
}

#[test]
fn release_counts_are_bounded() {
    assert_eq!(Request::Release { fids: vec![] }.encode(1), Err(ProtocolError::BadValue("release count")));
    let too_many = Request::Release { fids: (0..=MAX_RELEASE as u64).map(Fid).collect() };
    assert_eq!(too_many.encode(1), Err(ProtocolError::BadValue("release count")));
    for count in [0u16, MAX_RELEASE as u16 + 1] {
        let mut buf = 9u32.to_le_bytes().to_vec();
        buf.push(op::RELEASE);
        buf.extend_from_slice(&count.to_le_bytes());
        buf.extend(std::iter::repeat_n(0u8, 8 * count as usize));
        assert_eq!(Request::decode(&buf), (9, Err(ProtocolError::BadValue("release count"))));
    }
    // A count larger than the fids that follow is a truncated message.
    let mut buf = 9u32.to_le_bytes().to_vec();
    buf.push(op::RELEASE);
    buf.extend_from_slice(&3u16.to_le_bytes());
    buf.extend_from_slice(&1u64.to_le_bytes());
    assert_eq!(Request::decode(&buf), (9, Err(ProtocolError::Truncated)));
}
