//! /proc/[pid]/maps: the host's mappings of the app process, with every
//! name replaced by what the sandbox knows (the sandbox path the loader or
//! mmap recorded, [heap], [stack]) and the stub's page left out.

use std::sync::Arc;

use super::host_read;
use super::pid::Target;
use crate::kernel::task::{GroupState, ThreadGroup};
use crate::platform::stub::STUB_BASE;
use crate::vfs::VfsResult;

/// Column where Linux starts the name: 25 + 6 * sizeof(void *) - 1, then a space.
const NAME_COLUMN: usize = 73;

/// One line of a host maps file, its host name dropped.
pub(crate) struct HostMap<'a> {
    pub start: u64,
    pub end: u64,
    pub range: &'a str,
    pub perms: &'a str,
    pub offset: &'a str,
    pub dev: &'a str,
    pub ino: &'a str,
    /// What the host calls it: only whether there is a name, and the
    /// kernel's own "[vdso]"-style names, are used.
    pub host_name: &'a str,
}

pub(crate) fn parse_line(line: &str) -> Option<HostMap<'_>> {
    let mut rest = line;
    let mut col = || {
        let t = rest.trim_start();
        let end = t.find(' ').unwrap_or(t.len());
        let (c, r) = t.split_at(end);
        rest = r;
        c
    };
    let (range, perms, offset, dev, ino) = (col(), col(), col(), col(), col());
    let host_name = rest.trim();
    let (s, e) = range.split_once('-')?;
    let start = u64::from_str_radix(s, 16).ok()?;
    let end = u64::from_str_radix(e, 16).ok()?;
    Some(HostMap { start, end, range, perms, offset, dev, ino, host_name })
}

/// The name the app sees for a mapping, given what was recorded.
pub(super) fn shown_name(m: &HostMap<'_>, recorded: Option<&[u8]>, heap: (u64, u64)) -> Vec<u8> {
    let file_backed = !m.host_name.is_empty() && !m.host_name.starts_with('[');
    match recorded {
        // The loader's and mmap's paths name only file-backed pages: the
        // zero-filled tail of a segment (bss) is anonymous, as on Linux.
        Some(p) if !p.starts_with(b"[") && file_backed => p.to_vec(),
        Some(p) if p.starts_with(b"[") => p.to_vec(),
        _ if !file_backed && heap.0 < heap.1 && m.start < heap.1 && m.end > heap.0 => b"[heap]".to_vec(),
        // The kernel's special mappings keep their names.
        _ if m.host_name.starts_with("[v") => m.host_name.as_bytes().to_vec(),
        _ => Vec::new(),
    }
}

/// Formats one maps line in Linux's layout.
pub(super) fn format_line(m: &HostMap<'_>, name: &[u8], file_backed: bool) -> Vec<u8> {
    let (dev, ino) =
        if file_backed && !name.is_empty() && !name.starts_with(b"[") { (m.dev, m.ino) } else { ("00:00", "0") };
    let mut out = format!("{} {} {} {} {}", m.range, m.perms, m.offset, dev, ino).into_bytes();
    if !name.is_empty() {
        let pad = (NAME_COLUMN - 1).saturating_sub(out.len());
        out.extend(std::iter::repeat_n(b' ', pad));
        out.push(b' ');
        out.extend_from_slice(name);
    }
    out.push(b'\n');
    out
}

/// The host's `file` ("maps" or "smaps") of the process behind `t`, with
/// its thread group; None once the process has no memory.
pub(super) fn host_file(t: &Target, file: &str) -> VfsResult<Option<(Arc<ThreadGroup>, String)>> {
    let g = t.group()?;
    if t.memory().is_none() {
        return Ok(None);
    }
    let host = host_read(&format!("{}/{file}", g.host_pid())).unwrap_or_default();
    Ok(Some((g, String::from_utf8_lossy(&host).into_owned())))
}

/// The maps line the sandbox shows for host mapping `m`; None for the
/// stub's page, which the sandbox does not see.
pub(super) fn sandbox_line(m: &HostMap<'_>, st: &GroupState) -> Option<Vec<u8>> {
    if m.start == STUB_BASE {
        return None;
    }
    let heap = (st.image.brk_start, (st.image.brk + 4095) & !4095);
    let recorded = st.image.file_maps.iter().find(|(s, e, _)| m.start >= *s && m.start < *e).map(|f| f.2.as_slice());
    let name = shown_name(m, recorded, heap);
    let file_backed = !m.host_name.is_empty() && !m.host_name.starts_with('[');
    Some(format_line(m, &name, file_backed))
}

pub(super) fn maps_text(t: &Target) -> VfsResult<Vec<u8>> {
    let Some((g, host)) = host_file(t, "maps")? else { return Ok(Vec::new()) };
    let st = g.lock();
    Ok(host.lines().filter_map(parse_line).filter_map(|m| sandbox_line(&m, &st)).flatten().collect())
}
