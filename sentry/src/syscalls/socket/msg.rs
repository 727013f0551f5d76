//! Socket data transfer: send/recv in all their forms (sendto, recvfrom,
//! sendmsg, recvmsg, sendmmsg, recvmmsg), read/write on sockets, and the
//! translation of ancillary data: SCM_RIGHTS between sandbox fds and the
//! sentry's open files, SCM_CREDENTIALS checked against the sender's
//! sandbox identity.

use std::sync::Arc;

use rvisor_syscalls::abi::{Iovec, MsgHdr};
use rvisor_syscalls::{Errno, SysResult};

use super::unix::{parse, resolve, UnixAddr};
use super::{as_sock, blocker, read_addr, scm_cred, write_addr};
use crate::fs::socket::host::{cmsg_len, cmsg_space, parse_cmsgs};
use crate::fs::socket::{rights, Dest, Kind, Received, SendArgs, SocketFile, Ucred};
use crate::syscalls::SyscallCtx;
use crate::vfs::OpenFile;

/// Most data one call moves (as read/write do).
const CHUNK: usize = 8 << 20;
/// Most one receive asks the host for: more than any socket buffer holds,
/// so a short read costs no more than the data it returns (MSG_WAITALL aside).
const RECV_MAX: usize = 1 << 20;
/// Most ancillary data accepted (Linux's optmem_max is of this order).
const CONTROL_MAX: usize = 64 << 10;
/// struct mmsghdr: a msghdr and the byte count, padded to 64.
const MMSGHDR: u64 = 64;

/// read(2) on a socket: recv with no flags.
pub fn read(ctx: &SyscallCtx<'_>, file: &Arc<OpenFile>, len: usize) -> Result<Vec<u8>, Errno> {
    let s = as_sock(file)?;
    Ok(recv_common(ctx, file, s, len.min(CHUNK), 0, 0)?.data)
}

/// write(2) on a socket: send with no flags (SIGPIPE on a broken stream).
pub fn write(ctx: &SyscallCtx<'_>, file: &Arc<OpenFile>, data: &[u8]) -> SysResult {
    let s = as_sock(file)?;
    send_common(ctx, file, s, data, 0, None, &[])
}

fn send_common(
    ctx: &SyscallCtx<'_>,
    file: &Arc<OpenFile>,
    s: &SocketFile,
    data: &[u8],
    flags: i32,
    dest: Option<Vec<u8>>,
    control: &[u8],
) -> SysResult {
    let dest = match dest {
        Some(a) if !a.is_empty() => Some(match &s.kind {
            Kind::Unix(_) => match parse(&a)? {
                UnixAddr::Unspec | UnixAddr::Unnamed => return Err(Errno::EINVAL),
                parsed => Dest::Unix(resolve(ctx, &parsed)?),
            },
            _ => Dest::Raw(a),
        }),
        _ => None,
    };
    let mut args = SendArgs {
        data,
        flags,
        dest,
        rights: Vec::new(),
        creds: scm_cred(ctx),
        explicit_creds: None,
        raw_control: Vec::new(),
    };
    if matches!(s.kind, Kind::Unix(_)) {
        parse_unix_control(ctx, control, &mut args)?;
    } else {
        args.raw_control = control.to_vec();
    }
    let nonblock = file.nonblocking() || flags & libc::MSG_DONTWAIT != 0;
    let mut block = blocker(ctx, nonblock, s.timeout(true));
    match s.send(args, &mut block) {
        Err(e) if e == Errno::EPIPE && s.stype == libc::SOCK_STREAM && flags & libc::MSG_NOSIGNAL == 0 => {
            crate::syscalls::signal::send_to_self(ctx, libc::SIGPIPE);
            Err(e)
        }
        r => r.map(|n| n as i64),
    }
}

/// SCM_RIGHTS and SCM_CREDENTIALS from the sender's control buffer.
fn parse_unix_control(ctx: &SyscallCtx<'_>, control: &[u8], args: &mut SendArgs<'_>) -> Result<(), Errno> {
    let cmsgs = parse_cmsgs(control);
    let used: usize = cmsgs.iter().map(|(_, _, d)| cmsg_space(d.len())).sum();
    if used < control.len() && control.len() - used >= 16 {
        return Err(Errno::EINVAL);
    }
    for (level, kind, data) in cmsgs {
        match (level, kind) {
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                if args.rights.len() + data.len() / 4 > rights::MAX_FDS {
                    return Err(Errno::EINVAL);
                }
                for c in data.chunks_exact(4) {
                    let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                    let f = ctx.file(fd)?;
                    if f.is_path_only() {
                        return Err(Errno::EBADF);
                    }
                    args.rights.push(f);
                }
            }
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) => {
                let c = Ucred::from_bytes(data).ok_or(Errno::EINVAL)?;
                check_creds(ctx, c)?;
                args.explicit_creds = Some(c);
            }
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok(())
}

/// Linux's rules for SCM_CREDENTIALS a sender may claim (root may claim any
/// existing process and any ids).
fn check_creds(ctx: &SyscallCtx<'_>, c: Ucred) -> Result<(), Errno> {
    let cr = ctx.task.creds();
    let root = cr.euid == 0;
    if c.pid != ctx.task.tg.tgid {
        if !root {
            return Err(Errno::EPERM);
        }
        if ctx.kernel.group_by_vpid(c.pid).is_none() {
            return Err(Errno::ESRCH);
        }
    }
    if !root && ![cr.ruid, cr.euid, cr.suid].contains(&c.uid) {
        return Err(Errno::EPERM);
    }
    if !root && ![cr.rgid, cr.egid, cr.sgid].contains(&c.gid) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn recv_common(
    ctx: &SyscallCtx<'_>,
    file: &Arc<OpenFile>,
    s: &SocketFile,
    len: usize,
    flags: i32,
    control_len: usize,
) -> Result<Received, Errno> {
    let nonblock = file.nonblocking() || flags & libc::MSG_DONTWAIT != 0;
    let mut block = blocker(ctx, nonblock, s.timeout(false));
    let cap = if flags & libc::MSG_WAITALL != 0 { CHUNK } else { RECV_MAX };
    s.recv(len.min(cap), flags, control_len, &mut block)
}

pub fn sys_sendto(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, buf, len, flags, addr, alen) = (a[0] as i32, a[1], a[2] as usize, a[3] as i32, a[4], a[5]);
    let f = ctx.file(fd)?;
    let s = as_sock(&f)?;
    let mut data = vec![0u8; len.min(CHUNK)];
    ctx.mem.read(buf, &mut data)?;
    let dest = if addr != 0 { Some(read_addr(&ctx.mem, addr, alen)?) } else { None };
    send_common(ctx, &f, s, &data, flags, dest, &[])
}

pub fn sys_recvfrom(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, buf, len, flags, addr, alen) = (a[0] as i32, a[1], a[2] as usize, a[3] as i32, a[4], a[5]);
    let f = ctx.file(fd)?;
    let s = as_sock(&f)?;
    let r = recv_common(ctx, &f, s, len, flags, 0)?;
    if !discarded(s, flags) {
        ctx.mem.write(buf, &r.data)?;
    }
    if addr != 0 {
        write_addr(&ctx.mem, addr, alen, r.addr.as_deref().unwrap_or(&[]))?;
    }
    Ok(r.ret as i64)
}

/// MSG_TRUNC on a TCP stream discards the data instead of copying it.
fn discarded(s: &SocketFile, flags: i32) -> bool {
    flags & libc::MSG_TRUNC != 0 && s.stype == libc::SOCK_STREAM && matches!(s.kind, Kind::Inet(_))
}

/// One sendmsg on the msghdr at `hdr_addr`.
fn sendmsg_one(ctx: &SyscallCtx<'_>, f: &Arc<OpenFile>, s: &SocketFile, hdr_addr: u64, flags: i32) -> SysResult {
    let hdr: MsgHdr = ctx.mem.read_val(hdr_addr)?;
    let iovs: Vec<Iovec> = ctx.mem.read_iovecs(hdr.msg_iov, hdr.msg_iovlen)?;
    let mut data = Vec::new();
    for v in &iovs {
        let n = (v.iov_len as usize).min(CHUNK.saturating_sub(data.len()));
        let start = data.len();
        data.resize(start + n, 0);
        ctx.mem.read(v.iov_base, &mut data[start..])?;
    }
    let dest = if hdr.msg_name != 0 && hdr.msg_namelen > 0 {
        Some(read_addr(&ctx.mem, hdr.msg_name, hdr.msg_namelen as u64)?)
    } else {
        None
    };
    if hdr.msg_controllen > CONTROL_MAX as u64 {
        return Err(Errno::ENOBUFS);
    }
    let mut control = vec![0u8; if hdr.msg_control == 0 { 0 } else { hdr.msg_controllen as usize }];
    ctx.mem.read(hdr.msg_control, &mut control)?;
    send_common(ctx, f, s, &data, flags, dest, &control)
}

/// One recvmsg into the msghdr at `hdr_addr`; updates its name, control and flags.
fn recvmsg_one(ctx: &SyscallCtx<'_>, f: &Arc<OpenFile>, s: &SocketFile, hdr_addr: u64, flags: i32) -> SysResult {
    let mut hdr: MsgHdr = ctx.mem.read_val(hdr_addr)?;
    let iovs: Vec<Iovec> = ctx.mem.read_iovecs(hdr.msg_iov, hdr.msg_iovlen)?;
    let total: u64 = iovs.iter().map(|v| v.iov_len).sum();
    let control_cap = if hdr.msg_control == 0 { 0 } else { (hdr.msg_controllen as usize).min(CONTROL_MAX) };
    let r = recv_common(ctx, f, s, total as usize, flags, control_cap)?;
    if !discarded(s, flags) {
        let mut done = 0;
        for v in &iovs {
            if done >= r.data.len() {
                break;
            }
            let n = (v.iov_len as usize).min(r.data.len() - done);
            ctx.mem.write(v.iov_base, &r.data[done..done + n])?;
            done += n;
        }
    }
    if hdr.msg_name != 0 {
        let addr = r.addr.as_deref().unwrap_or(&[]);
        let n = (hdr.msg_namelen as usize).min(addr.len());
        ctx.mem.write(hdr.msg_name, &addr[..n])?;
        hdr.msg_namelen = addr.len() as u32;
    } else {
        hdr.msg_namelen = 0;
    }
    let (control, ctrunc) = if matches!(s.kind, Kind::Unix(_)) {
        unix_control(ctx, &r, control_cap, flags)
    } else {
        let n = r.raw_control.len().min(control_cap);
        (r.raw_control[..n].to_vec(), false)
    };
    if !control.is_empty() {
        ctx.mem.write(hdr.msg_control, &control)?;
    }
    hdr.msg_controllen = control.len() as u64;
    hdr.msg_flags = r.flags | if ctrunc { libc::MSG_CTRUNC } else { 0 };
    ctx.mem.write_val(hdr_addr, &hdr)?;
    Ok(r.ret as i64)
}

/// Builds the receiver's control data: SCM_CREDENTIALS, then SCM_RIGHTS with
/// the files installed as new fds. What does not fit is dropped (and closed)
/// with MSG_CTRUNC, as Linux does.
fn unix_control(ctx: &SyscallCtx<'_>, r: &Received, cap: usize, flags: i32) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut ctrunc = false;
    let put = |out: &mut Vec<u8>, kind: i32, data: &[u8]| -> bool {
        let room = cap - out.len();
        if room < 16 {
            return false;
        }
        let len = cmsg_len(data.len());
        let mut rec = Vec::with_capacity(cmsg_space(data.len()));
        rec.extend_from_slice(&(len as u64).to_ne_bytes());
        rec.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        rec.extend_from_slice(&kind.to_ne_bytes());
        rec.extend_from_slice(data);
        rec.resize(cmsg_space(data.len()), 0);
        let fits = len <= room;
        rec.truncate(rec.len().min(room));
        out.extend_from_slice(&rec);
        fits
    };
    if let Some(c) = r.creds {
        if !put(&mut out, libc::SCM_CREDENTIALS, &c.to_bytes()) {
            ctrunc = true;
        }
    }
    if !r.rights.is_empty() {
        let room = cap.saturating_sub(out.len());
        let fit = if room > 16 { (room - 16) / 4 } else { 0 };
        let cloexec = flags & libc::MSG_CMSG_CLOEXEC != 0;
        let mut fds = Vec::new();
        for file in r.rights.iter().take(fit) {
            match ctx.task.files().install(file.clone(), cloexec, 0, ctx.task.nofile_limit()) {
                Ok(fd) => fds.push(fd),
                Err(_) => break,
            }
        }
        if fds.len() < r.rights.len() {
            ctrunc = true;
        }
        if !fds.is_empty() {
            let data: Vec<u8> = fds.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
            put(&mut out, libc::SCM_RIGHTS, &data);
        }
    }
    (out, ctrunc)
}

pub fn sys_sendmsg(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let s = as_sock(&f)?;
    sendmsg_one(ctx, &f, s, a[1], a[2] as i32)
}

pub fn sys_recvmsg(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let f = ctx.file(a[0] as i32)?;
    let s = as_sock(&f)?;
    recvmsg_one(ctx, &f, s, a[1], a[2] as i32)
}

pub fn sys_sendmmsg(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, vec, vlen, flags) = (a[0] as i32, a[1], (a[2] as u32).min(1024), a[3] as i32);
    let f = ctx.file(fd)?;
    let s = as_sock(&f)?;
    let mut sent = 0u32;
    while sent < vlen {
        let entry = vec.wrapping_add(sent as u64 * MMSGHDR);
        match sendmsg_one(ctx, &f, s, entry, flags) {
            Ok(n) => ctx.mem.write_val(entry + 56, &(n as u32))?,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
        sent += 1;
    }
    Ok(sent as i64)
}

pub fn sys_recvmmsg(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, vec, vlen, flags) = (a[0] as i32, a[1], (a[2] as u32).min(1024), a[3] as i32);
    let f = ctx.file(fd)?;
    let s = as_sock(&f)?;
    // The timeout is checked only between datagrams, as on Linux.
    let deadline = match a[4] {
        0 => None,
        p => {
            let ms = super::super::sys::timeout_ms(ctx, p, false)?;
            Some(std::time::Instant::now() + std::time::Duration::from_millis(ms as u64))
        }
    };
    let mut got = 0u32;
    while got < vlen {
        let entry = vec.wrapping_add(got as u64 * MMSGHDR);
        let fl = if got > 0 && flags & libc::MSG_WAITFORONE != 0 { flags | libc::MSG_DONTWAIT } else { flags };
        match recvmsg_one(ctx, &f, s, entry, fl & !libc::MSG_WAITFORONE) {
            Ok(n) => ctx.mem.write_val(entry + 56, &(n as u32))?,
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        got += 1;
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break;
        }
    }
    Ok(got as i64)
}
