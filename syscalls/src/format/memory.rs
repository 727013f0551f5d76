//! Rendering arguments that point into the app's memory: strings, buffers,
//! arrays and the structs strace shows field by field.

use super::*;

/// Reads up to `len` bytes, stopping at the first unreadable byte. Never asks
/// for more than the page it is on, so a short string at the end of a mapping
/// still reads; a refused read is retried with half the length, for readers
/// with finer granularity than pages.
pub(super) fn read_upto(mem: &dyn MemReader, addr: u64, len: usize, stop_at_nul: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cur = addr;
    while out.len() < len {
        let page_left = PAGE - cur % PAGE;
        let mut want = (len - out.len()).min(page_left as usize);
        let chunk = loop {
            match mem.read(cur, want) {
                Some(c) if !c.is_empty() => break Some(c),
                _ if want > 1 => want /= 2,
                _ => break None,
            }
        };
        let Some(chunk) = chunk else { break };
        let chunk = &chunk[..chunk.len().min(want)];
        if stop_at_nul {
            if let Some(pos) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..=pos]);
                break;
            }
        }
        out.extend_from_slice(chunk);
        if chunk.len() < want {
            break;
        }
        match cur.checked_add(chunk.len() as u64) {
            Some(next) => cur = next,
            None => break,
        }
    }
    out
}

/// Reads exactly `len` bytes or nothing.
pub(super) fn read_exact(mem: &dyn MemReader, addr: u64, len: usize) -> Option<Vec<u8>> {
    if addr == 0 {
        return None;
    }
    let v = read_upto(mem, addr, len, false);
    (v.len() == len).then_some(v)
}

pub(super) fn read_u64(mem: &dyn MemReader, addr: u64) -> Option<u64> {
    let b = read_exact(mem, addr, 8)?;
    Some(u64::from_ne_bytes(b.try_into().ok()?))
}

/// The native-endian u64s in `bytes`.
pub(super) fn words(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks_exact(8).map(|c| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
}

/// A C string: `"abc"`, `"abc..."...` if longer than `max`, or the address if unreadable.
pub(super) fn cstring(mem: &dyn MemReader, addr: u64, max: usize) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    let bytes = read_upto(mem, addr, max + 1, true);
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return quote(&bytes[..pos], false);
    }
    if bytes.len() > max {
        return quote(&bytes[..max], true);
    }
    // Ran into unreadable memory before the terminator: the kernel would fault.
    format!("{addr:#x}")
}

/// A buffer of `len` bytes, showing at most [`STR_SHOWN`].
pub(super) fn buffer(mem: &dyn MemReader, addr: u64, len: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    let want = len.min(STR_SHOWN as u64) as usize;
    let bytes = read_upto(mem, addr, want, false);
    if bytes.len() < want {
        return format!("{addr:#x}");
    }
    quote(&bytes, len > want as u64)
}

/// Quotes and escapes bytes the way strace does; `more` appends `...`.
pub(super) fn quote(bytes: &[u8], more: bool) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                // Short octal unless the next byte is a digit that would extend it.
                let next_digit = bytes.get(i + 1).is_some_and(|c| (b'0'..=b'7').contains(c));
                if next_digit {
                    let _ = write!(s, "\\{b:03o}");
                } else {
                    let _ = write!(s, "\\{b:o}");
                }
            }
        }
    }
    s.push('"');
    if more {
        s.push_str("...");
    }
    s
}

/// `["ls", "-l"]` from a NULL-terminated pointer array.
pub(super) fn str_array(mem: &dyn MemReader, addr: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    let mut items = Vec::new();
    for i in 0..=ELEMS_SHOWN {
        let Some(p) = addr.checked_add(i * 8).and_then(|a| read_u64(mem, a)) else {
            return format!("{addr:#x}");
        };
        if p == 0 {
            return format!("[{}]", items.join(", "));
        }
        if i == ELEMS_SHOWN {
            items.push("...".to_string());
            break;
        }
        items.push(cstring(mem, p, STR_SHOWN));
    }
    format!("[{}]", items.join(", "))
}

/// `0x7ffd... /* 23 vars */` from a NULL-terminated pointer array.
pub(super) fn env_array(mem: &dyn MemReader, addr: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    const MAX: u64 = 4096;
    for i in 0..MAX {
        match addr.checked_add(i * 8).and_then(|a| read_u64(mem, a)) {
            Some(0) => return format!("{addr:#x} /* {i} vars */"),
            Some(_) => {}
            None => break,
        }
    }
    format!("{addr:#x}")
}

/// `[{iov_base="abc", iov_len=3}, ...]`; at most `data` bytes of content in total.
pub(super) fn iovecs(mem: &dyn MemReader, addr: u64, count: u64, data: u64) -> String {
    let count = count & 0xffff_ffff;
    let shown = count.min(ELEMS_SHOWN);
    let Some(bytes) = read_exact(mem, addr, shown as usize * 16) else {
        return ptr(addr);
    };
    let mut left = data;
    let w = words(&bytes);
    let mut items: Vec<String> = w
        .chunks_exact(2)
        .map(|iov| {
            let (base, len) = (iov[0], iov[1]);
            let content = len.min(left);
            left -= content;
            let b = if content == 0 && len != 0 { ptr(base) } else { buffer(mem, base, content) };
            format!("{{iov_base={b}, iov_len={len}}}")
        })
        .collect();
    if count > shown {
        items.push("...".to_string());
    }
    format!("[{}]", items.join(", "))
}

pub(super) fn fd_pair(mem: &dyn MemReader, addr: u64) -> String {
    match read_exact(mem, addr, 8) {
        Some(b) => {
            let a = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let c = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            format!("[{a}, {c}]")
        }
        None => ptr(addr),
    }
}

pub(super) fn timespec(mem: &dyn MemReader, addr: u64) -> String {
    match read_exact(mem, addr, 16) {
        Some(b) => {
            let w = words(&b);
            format!("{{tv_sec={}, tv_nsec={}}}", w[0] as i64, w[1] as i64)
        }
        None => ptr(addr),
    }
}

pub(super) fn rlimit(mem: &dyn MemReader, addr: u64) -> String {
    let lim = |v: u64| if v == u64::MAX { "RLIM64_INFINITY".to_string() } else { v.to_string() };
    match read_exact(mem, addr, 16) {
        Some(b) => {
            let w = words(&b);
            format!("{{rlim_cur={}, rlim_max={}}}", lim(w[0]), lim(w[1]))
        }
        None => ptr(addr),
    }
}

pub(super) fn sigaction(mem: &dyn MemReader, addr: u64) -> String {
    // Kernel layout: handler, flags, restorer, mask.
    let Some(b) = read_exact(mem, addr, 32) else {
        return ptr(addr);
    };
    let w = words(&b);
    let handler = match w[0] {
        0 => "SIG_DFL".to_string(),
        1 => "SIG_IGN".to_string(),
        h => format!("{h:#x}"),
    };
    let mut s =
        format!("{{sa_handler={handler}, sa_mask={}, sa_flags={}", sigset(w[3]), flags(w[1], names::SA_FLAGS, "0"));
    if w[1] & 0x0400_0000 != 0 {
        let _ = write!(s, ", sa_restorer={:#x}", w[2]);
    }
    s.push('}');
    s
}

pub(super) fn pollfds(mem: &dyn MemReader, addr: u64, count: u64) -> String {
    let count = count & 0xffff_ffff;
    let shown = count.min(ELEMS_SHOWN);
    let Some(b) = read_exact(mem, addr, shown as usize * 8) else {
        return ptr(addr);
    };
    let mut items: Vec<String> = b
        .chunks_exact(8)
        .map(|p| {
            let fd = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
            let events = u16::from_ne_bytes([p[4], p[5]]) as u64;
            format!("{{fd={fd}, events={}}}", flags(events, names::POLL_EVENTS, "0"))
        })
        .collect();
    if count > shown {
        items.push("...".to_string());
    }
    format!("[{}]", items.join(", "))
}

pub(super) fn open_how(mem: &dyn MemReader, addr: u64) -> String {
    let Some(b) = read_exact(mem, addr, 24) else {
        return ptr(addr);
    };
    let w = words(&b);
    let mut s = format!("{{flags={}", open_flags(w[0]));
    if w[0] & (0o100 | 0o20000000) != 0 || w[1] != 0 {
        let _ = write!(s, ", mode={}", mode(w[1]));
    }
    let _ = write!(s, ", resolve={}}}", flags(w[2], names::RESOLVE_FLAGS, "0"));
    s
}
