//! Byte-level encoding of [`Request`] and [`Response`].

use rvisor_syscalls::abi::{StatFs, Timespec};
use rvisor_syscalls::Errno;

use super::{
    check_name, check_target, check_time, Attr, DirEntryPlus, Fid, ProtocolError, Request, Response, SetAttrReq,
    MAX_MESSAGE, MAX_NAME, MAX_PATH, MAX_RELEASE,
};

pub(super) mod op {
    pub const ATTACH: u8 = 1;
    pub const WALK: u8 = 2;
    pub const OPEN: u8 = 3;
    pub const CREATE: u8 = 4;
    pub const MKDIR: u8 = 5;
    pub const MKNOD: u8 = 6;
    pub const SYMLINK: u8 = 7;
    pub const LINK: u8 = 8;
    pub const UNLINK: u8 = 9;
    pub const RENAME: u8 = 10;
    pub const READLINK: u8 = 11;
    pub const STAT: u8 = 12;
    pub const SETATTR: u8 = 13;
    pub const STATFS: u8 = 14;
    pub const RELEASE: u8 = 15;
    pub const READDIR: u8 = 16;
}

mod kind {
    pub const ERROR: u8 = 0;
    pub const OK: u8 = 1;
    pub const NODE: u8 = 2;
    pub const ATTR: u8 = 3;
    pub const TARGET: u8 = 4;
    pub const STATFS: u8 = 5;
    pub const ENTRIES: u8 = 6;
}

/// Bits of the SetAttr "which fields are set" mask.
mod set {
    pub const MODE: u8 = 1;
    pub const UID: u8 = 2;
    pub const GID: u8 = 4;
    pub const SIZE: u8 = 8;
    pub const ALL: u8 = MODE | UID | GID | SIZE;
}

/// Encoded size of an entry with a one-byte name and no attributes.
const ENTRY_MIN: usize = 8 + 1 + 2 + 1 + 1;
/// Encoded size of an `Attr`.
pub(crate) const ATTR_SIZE: usize = 8 * 2 + 4 + 8 + 4 * 2 + 8 * 4 + 16 * 3;
/// Encoded size of an entry named `name` with attributes.
pub(crate) fn entry_size(name: &[u8]) -> usize {
    8 + 1 + 2 + name.len() + 1 + ATTR_SIZE
}
/// Encoded size of an `Entries` response with no entries.
pub(crate) const ENTRIES_HEADER: usize = 4 + 1 + 4 + 1 + 8;

struct Writer(Vec<u8>);

impl Writer {
    fn new(tag: u32, code: u8) -> Writer {
        let mut w = Writer(Vec::with_capacity(64));
        w.u32(tag);
        w.u8(code);
        w
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn fid(&mut self, f: Fid) {
        self.u64(f.0);
    }
    fn time(&mut self, t: &Timespec) {
        self.i64(t.tv_sec);
        self.i64(t.tv_nsec);
    }
    /// Length-prefixed bytes; callers have checked the length bound.
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u16).to_le_bytes());
        self.0.extend_from_slice(b);
    }
    fn name(&mut self, name: &[u8]) -> Result<(), ProtocolError> {
        check_name(name)?;
        self.bytes(name);
        Ok(())
    }
    fn attr(&mut self, a: &Attr) {
        self.u64(a.ino);
        self.u64(a.dev);
        self.u32(a.mode);
        self.u64(a.nlink);
        self.u32(a.uid);
        self.u32(a.gid);
        self.u64(a.rdev);
        self.u64(a.size);
        self.u64(a.blksize);
        self.u64(a.blocks);
        self.time(&a.atime);
        self.time(&a.mtime);
        self.time(&a.ctime);
    }
    fn entry(&mut self, e: &DirEntryPlus) -> Result<(), ProtocolError> {
        self.u64(e.ino);
        self.u8(e.d_type);
        self.name(&e.name)?;
        self.u8(e.attr.is_some().into());
        if let Some(a) = &e.attr {
            self.attr(a);
        }
        Ok(())
    }
    fn finish(self) -> Result<Vec<u8>, ProtocolError> {
        if self.0.len() > MAX_MESSAGE {
            return Err(ProtocolError::TooLarge);
        }
        Ok(self.0)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(ProtocolError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ProtocolError> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, ProtocolError> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, ProtocolError> {
        self.array().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Result<i64, ProtocolError> {
        self.array().map(i64::from_le_bytes)
    }
    fn fid(&mut self) -> Result<Fid, ProtocolError> {
        self.u64().map(Fid)
    }
    fn time(&mut self) -> Result<Timespec, ProtocolError> {
        Ok(Timespec { tv_sec: self.i64()?, tv_nsec: self.i64()? })
    }
    /// Length-prefixed bytes of at most `max` bytes.
    fn bytes(&mut self, max: usize, too_long: ProtocolError) -> Result<Vec<u8>, ProtocolError> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(too_long);
        }
        Ok(self.take(len)?.to_vec())
    }
    fn name(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let name = self.bytes(MAX_NAME, ProtocolError::NameTooLong)?;
        check_name(&name)?;
        Ok(name)
    }
    fn target(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let target = self.bytes(MAX_PATH, ProtocolError::PathTooLong)?;
        check_target(&target)?;
        Ok(target)
    }
    fn attr(&mut self) -> Result<Attr, ProtocolError> {
        Ok(Attr {
            ino: self.u64()?,
            dev: self.u64()?,
            mode: self.u32()?,
            nlink: self.u64()?,
            uid: self.u32()?,
            gid: self.u32()?,
            rdev: self.u64()?,
            size: self.u64()?,
            blksize: self.u64()?,
            blocks: self.u64()?,
            atime: self.time()?,
            mtime: self.time()?,
            ctime: self.time()?,
        })
    }
    fn entry(&mut self) -> Result<DirEntryPlus, ProtocolError> {
        let (ino, d_type, name) = (self.u64()?, self.u8()?, self.name()?);
        let attr = match self.u8()? {
            0 => None,
            1 => Some(self.attr()?),
            _ => return Err(ProtocolError::BadValue("entry attributes")),
        };
        Ok(DirEntryPlus { ino, d_type, name, attr })
    }
    fn end(&self) -> Result<(), ProtocolError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(ProtocolError::Trailing(n)),
        }
    }
}

/// Splits off the tag; a message too short to carry one gets tag 0.
fn split_tag(buf: &[u8]) -> (u32, Reader<'_>) {
    let mut r = Reader { buf };
    match r.u32() {
        Ok(tag) => (tag, r),
        Err(_) => (0, Reader { buf: &[] }),
    }
}

impl Request {
    /// Encodes the request, checking names and bounds first.
    pub fn encode(&self, tag: u32) -> Result<Vec<u8>, ProtocolError> {
        let mut w;
        match self {
            Request::Attach => w = Writer::new(tag, op::ATTACH),
            Request::Walk { fid, name } => {
                w = Writer::new(tag, op::WALK);
                w.fid(*fid);
                w.name(name)?;
            }
            Request::Open { fid, flags } => {
                w = Writer::new(tag, op::OPEN);
                w.fid(*fid);
                w.u32(*flags);
            }
            Request::Create { dir, name, flags, mode, uid, gid } => {
                w = Writer::new(tag, op::CREATE);
                w.fid(*dir);
                w.name(name)?;
                for v in [*flags, *mode, *uid, *gid] {
                    w.u32(v);
                }
            }
            Request::Mkdir { dir, name, mode, uid, gid } | Request::Mknod { dir, name, mode, uid, gid } => {
                let code = if matches!(self, Request::Mkdir { .. }) { op::MKDIR } else { op::MKNOD };
                w = Writer::new(tag, code);
                w.fid(*dir);
                w.name(name)?;
                for v in [*mode, *uid, *gid] {
                    w.u32(v);
                }
            }
            Request::Symlink { dir, name, target, uid, gid } => {
                w = Writer::new(tag, op::SYMLINK);
                w.fid(*dir);
                w.name(name)?;
                check_target(target)?;
                w.bytes(target);
                w.u32(*uid);
                w.u32(*gid);
            }
            Request::Link { dir, name, target } => {
                w = Writer::new(tag, op::LINK);
                w.fid(*dir);
                w.name(name)?;
                w.fid(*target);
            }
            Request::Unlink { dir, name, flags } => {
                w = Writer::new(tag, op::UNLINK);
                w.fid(*dir);
                w.name(name)?;
                w.u32(*flags);
            }
            Request::Rename { old_dir, old_name, new_dir, new_name, flags } => {
                w = Writer::new(tag, op::RENAME);
                w.fid(*old_dir);
                w.name(old_name)?;
                w.fid(*new_dir);
                w.name(new_name)?;
                w.u32(*flags);
            }
            Request::SetAttr { fid, change } => {
                check_time(&change.atime)?;
                check_time(&change.mtime)?;
                w = Writer::new(tag, op::SETATTR);
                w.fid(*fid);
                let mask = [
                    (change.mode.is_some(), set::MODE),
                    (change.uid.is_some(), set::UID),
                    (change.gid.is_some(), set::GID),
                    (change.size.is_some(), set::SIZE),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .fold(0, |m, (_, bit)| m | bit);
                w.u8(mask);
                w.u32(change.mode.unwrap_or(0));
                w.u32(change.uid.unwrap_or(0));
                w.u32(change.gid.unwrap_or(0));
                w.u64(change.size.unwrap_or(0));
                w.time(&change.atime);
                w.time(&change.mtime);
            }
            Request::Readlink { fid } | Request::Stat { fid } | Request::StatFs { fid } => {
                let code = match self {
                    Request::Readlink { .. } => op::READLINK,
                    Request::Stat { .. } => op::STAT,
                    _ => op::STATFS,
                };
                w = Writer::new(tag, code);
                w.fid(*fid);
            }
            Request::Release { fids } => {
                if fids.is_empty() || fids.len() > MAX_RELEASE {
                    return Err(ProtocolError::BadValue("release count"));
                }
                w = Writer::new(tag, op::RELEASE);
                w.0.extend_from_slice(&(fids.len() as u16).to_le_bytes());
                for f in fids {
                    w.fid(*f);
                }
            }
            Request::ReadDir { fid, cookie } => {
                w = Writer::new(tag, op::READDIR);
                w.fid(*fid);
                w.u64(*cookie);
            }
        }
        w.finish()
    }

    /// Decodes a request. The tag is returned even when the body is bad, so
    /// the error reply can carry it.
    pub fn decode(buf: &[u8]) -> (u32, Result<Request, ProtocolError>) {
        let (tag, mut r) = split_tag(buf);
        if buf.len() > MAX_MESSAGE {
            return (tag, Err(ProtocolError::TooLarge));
        }
        let req = Self::decode_body(&mut r).and_then(|req| r.end().map(|()| req));
        (tag, req)
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Request, ProtocolError> {
        let req = match r.u8()? {
            op::ATTACH => Request::Attach,
            op::WALK => Request::Walk { fid: r.fid()?, name: r.name()? },
            op::OPEN => Request::Open { fid: r.fid()?, flags: r.u32()? },
            op::CREATE => Request::Create {
                dir: r.fid()?,
                name: r.name()?,
                flags: r.u32()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            op::MKDIR => {
                Request::Mkdir { dir: r.fid()?, name: r.name()?, mode: r.u32()?, uid: r.u32()?, gid: r.u32()? }
            }
            op::MKNOD => {
                Request::Mknod { dir: r.fid()?, name: r.name()?, mode: r.u32()?, uid: r.u32()?, gid: r.u32()? }
            }
            op::SYMLINK => {
                Request::Symlink { dir: r.fid()?, name: r.name()?, target: r.target()?, uid: r.u32()?, gid: r.u32()? }
            }
            op::LINK => Request::Link { dir: r.fid()?, name: r.name()?, target: r.fid()? },
            op::UNLINK => Request::Unlink { dir: r.fid()?, name: r.name()?, flags: r.u32()? },
            op::RENAME => Request::Rename {
                old_dir: r.fid()?,
                old_name: r.name()?,
                new_dir: r.fid()?,
                new_name: r.name()?,
                flags: r.u32()?,
            },
            op::READLINK => Request::Readlink { fid: r.fid()? },
            op::STAT => Request::Stat { fid: r.fid()? },
            op::SETATTR => {
                let fid = r.fid()?;
                let mask = r.u8()?;
                if mask & !set::ALL != 0 {
                    return Err(ProtocolError::BadValue("setattr mask"));
                }
                let (mode, uid, gid, size) = (r.u32()?, r.u32()?, r.u32()?, r.u64()?);
                let (atime, mtime) = (r.time()?, r.time()?);
                check_time(&atime)?;
                check_time(&mtime)?;
                let pick = |bit: u8| mask & bit != 0;
                let change = SetAttrReq {
                    mode: pick(set::MODE).then_some(mode),
                    uid: pick(set::UID).then_some(uid),
                    gid: pick(set::GID).then_some(gid),
                    size: pick(set::SIZE).then_some(size),
                    atime,
                    mtime,
                };
                Request::SetAttr { fid, change }
            }
            op::STATFS => Request::StatFs { fid: r.fid()? },
            op::RELEASE => {
                let n = r.u16()? as usize;
                if n == 0 || n > MAX_RELEASE {
                    return Err(ProtocolError::BadValue("release count"));
                }
                Request::Release { fids: (0..n).map(|_| r.fid()).collect::<Result<_, _>>()? }
            }
            op::READDIR => Request::ReadDir { fid: r.fid()?, cookie: r.u64()? },
            other => return Err(ProtocolError::UnknownOp(other)),
        };
        Ok(req)
    }
}

impl Response {
    pub fn encode(&self, tag: u32) -> Result<Vec<u8>, ProtocolError> {
        let mut w;
        match self {
            Response::Error(e) => {
                w = Writer::new(tag, kind::ERROR);
                w.u32(e.raw() as u32);
            }
            Response::Ok => w = Writer::new(tag, kind::OK),
            Response::Node { fid, attr } => {
                w = Writer::new(tag, kind::NODE);
                w.fid(*fid);
                w.attr(attr);
            }
            Response::Attr(attr) => {
                w = Writer::new(tag, kind::ATTR);
                w.attr(attr);
            }
            Response::Target(t) => {
                check_target(t)?;
                w = Writer::new(tag, kind::TARGET);
                w.bytes(t);
            }
            Response::StatFs(s) => {
                w = Writer::new(tag, kind::STATFS);
                for v in [s.f_type, s.f_bsize] {
                    w.i64(v);
                }
                for v in [s.f_blocks, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree] {
                    w.u64(v);
                }
                w.u32(s.f_fsid[0] as u32);
                w.u32(s.f_fsid[1] as u32);
                for v in [s.f_namelen, s.f_frsize, s.f_flags] {
                    w.i64(v);
                }
            }
            Response::Entries { entries, next } => {
                w = Writer::new(tag, kind::ENTRIES);
                w.u32(u32::try_from(entries.len()).map_err(|_| ProtocolError::TooLarge)?);
                for e in entries {
                    w.entry(e)?;
                }
                w.u8(next.is_some().into());
                w.u64(next.unwrap_or(0));
            }
        }
        w.finish()
    }

    /// Decodes a response and its tag.
    pub fn decode(buf: &[u8]) -> Result<(u32, Response), ProtocolError> {
        if buf.len() > MAX_MESSAGE {
            return Err(ProtocolError::TooLarge);
        }
        let mut r = Reader { buf };
        let tag = r.u32()?;
        let resp = match r.u8()? {
            kind::ERROR => {
                let raw = r.u32()?;
                if raw == 0 || raw >= 4096 {
                    return Err(ProtocolError::BadValue("errno"));
                }
                Response::Error(Errno::new(raw as i32))
            }
            kind::OK => Response::Ok,
            kind::NODE => Response::Node { fid: r.fid()?, attr: r.attr()? },
            kind::ATTR => Response::Attr(r.attr()?),
            kind::TARGET => Response::Target(r.target()?),
            kind::STATFS => Response::StatFs(StatFs {
                f_type: r.i64()?,
                f_bsize: r.i64()?,
                f_blocks: r.u64()?,
                f_bfree: r.u64()?,
                f_bavail: r.u64()?,
                f_files: r.u64()?,
                f_ffree: r.u64()?,
                f_fsid: [r.u32()? as i32, r.u32()? as i32],
                f_namelen: r.i64()?,
                f_frsize: r.i64()?,
                f_flags: r.i64()?,
                f_spare: [0; 4],
            }),
            kind::ENTRIES => {
                let n = r.u32()? as usize;
                // Each entry takes at least ENTRY_MIN bytes: a bad count
                // fails here instead of reserving memory for it.
                if n > r.buf.len() / ENTRY_MIN {
                    return Err(ProtocolError::Truncated);
                }
                let entries = (0..n).map(|_| r.entry()).collect::<Result<_, _>>()?;
                let more = r.u8()?;
                let next = r.u64()?;
                let next = match more {
                    0 => None,
                    1 => Some(next),
                    _ => return Err(ProtocolError::BadValue("entries continuation")),
                };
                Response::Entries { entries, next }
            }
            other => return Err(ProtocolError::UnknownKind(other)),
        };
        r.end()?;
        Ok((tag, resp))
    }
}
