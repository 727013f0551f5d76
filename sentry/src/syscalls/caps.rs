//! capget/capset: the sentry's own capability sets (kernel::creds::Caps);
//! the host process's capabilities are never changed or revealed.

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;
use crate::kernel::creds::{Caps, CAP_SETPCAP};

const VERSION_1: u32 = 0x1998_0330;
const VERSION_2: u32 = 0x2007_1026;
const VERSION_3: u32 = 0x2008_0522;

/// Validates the header's version; returns how many 32-bit words per set the caller uses.
/// An unknown version is answered with the preferred one written back, as Linux does.
fn words(ctx: &SyscallCtx<'_>, hdr: u64) -> Result<usize, Errno> {
    let version: u32 = ctx.mem.read_val(hdr)?;
    match version {
        VERSION_1 => Ok(1),
        VERSION_2 | VERSION_3 => Ok(2),
        _ => {
            ctx.mem.write_val(hdr, &VERSION_3)?;
            Err(Errno::EINVAL)
        }
    }
}

pub fn sys_capget(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (hdr, data) = (a[0], a[1]);
    let n = match words(ctx, hdr) {
        // Probing the version with no data buffer is not an error.
        Err(e) if e == Errno::EINVAL && data == 0 => return Ok(0),
        r => r?,
    };
    let pid: i32 = ctx.mem.read_val(hdr + 4)?;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let caps = if pid == 0 || pid == ctx.task.tid {
        ctx.task.creds().caps
    } else {
        ctx.kernel.task_by_vtid(pid).ok_or(Errno::ESRCH)?.creds().caps
    };
    if data == 0 {
        return Ok(0);
    }
    let mut out = Vec::with_capacity(12 * n);
    for i in 0..n {
        for set in [caps.effective, caps.permitted, caps.inheritable] {
            out.extend_from_slice(&((set >> (32 * i)) as u32).to_ne_bytes());
        }
    }
    ctx.mem.write(data, &out)?;
    Ok(0)
}

pub fn sys_capset(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (hdr, data) = (a[0], a[1]);
    let n = words(ctx, hdr)?;
    let pid: i32 = ctx.mem.read_val(hdr + 4)?;
    if pid != 0 && pid != ctx.task.tid {
        return Err(Errno::EPERM);
    }
    let mut raw = vec![0u8; 12 * n];
    ctx.mem.read(data, &mut raw)?;
    let word = |i: usize| u32::from_ne_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]) as u64;
    let (mut e, mut p, mut inh) = (0u64, 0u64, 0u64);
    for i in 0..n {
        e |= word(3 * i) << (32 * i);
        p |= word(3 * i + 1) << (32 * i);
        inh |= word(3 * i + 2) << (32 * i);
    }
    let mut creds = ctx.task.creds.lock().unwrap_or_else(|e| e.into_inner());
    let old = creds.caps;
    // Version 1 callers cannot see the upper sets: those stay as they are.
    if n == 1 {
        e |= old.effective & !0xffff_ffff;
        p |= old.permitted & !0xffff_ffff;
        inh |= old.inheritable & !0xffff_ffff;
    }
    let inh_limit = old.inheritable | if creds.has_cap(CAP_SETPCAP) { old.bounding } else { old.permitted };
    if inh & !inh_limit != 0 || inh & !(old.inheritable | old.bounding) != 0 || p & !old.permitted != 0 || e & !p != 0 {
        return Err(Errno::EPERM);
    }
    creds.caps = Caps { effective: e, permitted: p, inheritable: inh, bounding: old.bounding };
    Ok(0)
}
