//! /proc/[pid]/smaps and smaps_rollup: the host's per-mapping memory
//! accounting of the app process, under the names and the mapping list that
//! maps shows (the stub's page left out), with mlock as the sandbox keeps it:
//! the sentry never pins app memory on the host (mlock is accounted only), so
//! `Locked` and the `lo` flag come from the process's virtual lock state.

use super::host_read;
use super::maps::{host_file, parse_line, sandbox_line};
use super::pid::Target;
use crate::kernel::task::MlockState;
use crate::vfs::VfsResult;

/// One mapping's block of a host smaps file.
struct Block<'a> {
    header: &'a str,
    /// "Key: value" lines, in order.
    fields: Vec<&'a str>,
}

fn blocks(host: &str) -> Vec<Block<'_>> {
    let mut out: Vec<Block<'_>> = Vec::new();
    for line in host.lines() {
        // Field lines start with a key and a colon; headers with a hex range.
        let is_field = line.split_once(':').is_some_and(|(k, _)| !k.contains(' ') && !k.contains('-'));
        match out.last_mut() {
            Some(b) if is_field => b.fields.push(line),
            _ if !is_field => out.push(Block { header: line, fields: Vec::new() }),
            _ => {}
        }
    }
    out
}

/// The kB value of a "Key:   N kB" line.
fn kb(line: &str) -> Option<u64> {
    line.split_once(':')?.1.split_whitespace().next()?.parse().ok()
}

fn key(line: &str) -> &str {
    line.split_once(':').map_or(line, |(k, _)| k)
}

/// Bytes of [start, end) the process has locked.
fn locked_bytes(lock: &MlockState, start: u64, end: u64) -> u64 {
    if lock.all {
        return end - start;
    }
    lock.ranges.iter().map(|&(s, e)| e.min(end).saturating_sub(s.max(start))).sum()
}

/// A field line in Linux's layout ("Key:" padded to 16 columns, then the value).
fn kb_line(k: &str, v: u64) -> String {
    format!("{:<16}{v:>8} kB\n", format!("{k}:"))
}

/// The sandbox's blocks: (start, end, text with the fields rewritten).
fn sandbox_blocks(t: &Target) -> VfsResult<Vec<(u64, u64, String)>> {
    let Some((g, host)) = host_file(t, "smaps")? else { return Ok(Vec::new()) };
    let st = g.lock();
    let mut out = Vec::new();
    for b in blocks(&host) {
        let Some(m) = parse_line(b.header) else { continue };
        let Some(line) = sandbox_line(&m, &st) else { continue };
        let mut text = String::from_utf8_lossy(&line).into_owned();
        let locked = locked_bytes(&st.mlock, m.start, m.end);
        let rss = b.fields.iter().find(|l| key(l) == "Rss").and_then(|l| kb(l)).unwrap_or(0);
        for f in &b.fields {
            match key(f) {
                "Locked" => text.push_str(&kb_line("Locked", (locked >> 10).min(rss))),
                "VmFlags" if locked > 0 && !f.split_whitespace().any(|w| w == "lo") => {
                    text.push_str(f.trim_end());
                    text.push_str(" lo \n");
                }
                _ => {
                    text.push_str(f);
                    text.push('\n');
                }
            }
        }
        out.push((m.start, m.end, text));
    }
    Ok(out)
}

pub(super) fn smaps_text(t: &Target) -> VfsResult<Vec<u8>> {
    Ok(sandbox_blocks(t)?.into_iter().flat_map(|(_, _, text)| text.into_bytes()).collect())
}

/// The sums over the sandbox's mappings. The host's rollup also counts the
/// stub's page: its share is taken out of each sum (Pss_Shmem for Pss, as
/// the stub is a memfd).
pub(super) fn smaps_rollup_text(t: &Target) -> VfsResult<Vec<u8>> {
    let blocks = sandbox_blocks(t)?;
    let (Some(first), Some(last)) = (blocks.first(), blocks.iter().rev().find(|b| b.0 < 1 << 47)) else {
        return Ok(Vec::new());
    };
    let mut sums: Vec<(String, u64)> = Vec::new();
    for (_, _, text) in &blocks {
        for line in text.lines().skip(1) {
            let Some(v) = kb(line).filter(|_| line.ends_with("kB")) else { continue };
            let k = key(line);
            if matches!(k, "Size" | "KernelPageSize" | "MMUPageSize") {
                continue;
            }
            match sums.iter_mut().find(|(name, _)| name == k) {
                Some(s) => s.1 += v,
                None => sums.push((k.to_string(), v)),
            }
        }
    }
    // Anonymous/file/shmem shares of Pss, which only the host's rollup has.
    let g = t.group()?;
    let host = host_read(&format!("{}/smaps_rollup", g.host_pid())).unwrap_or_default();
    let host = String::from_utf8_lossy(&host);
    let host_sum = |k: &str| host.lines().find(|l| key(l) == k).and_then(kb).unwrap_or(0);
    let pss: u64 = sums.iter().find(|(k, _)| k == "Pss").map_or(0, |s| s.1);
    let stub_pss = host_sum("Pss").saturating_sub(pss);
    let mut out = format!("{:x}-{:x} ---p 00000000 00:00 0", first.0, last.1);
    let pad = 72usize.saturating_sub(out.len());
    out.push_str(&" ".repeat(pad));
    out.push_str(" [rollup]\n");
    for (k, v) in &sums {
        out.push_str(&kb_line(k, *v));
        if k == "Pss_Dirty" {
            out.push_str(&kb_line("Pss_Anon", host_sum("Pss_Anon")));
            out.push_str(&kb_line("Pss_File", host_sum("Pss_File")));
            out.push_str(&kb_line("Pss_Shmem", host_sum("Pss_Shmem").saturating_sub(stub_pss)));
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_at_headers_and_keep_their_fields() {
        let host =
            "55a3-55a4 r--p 00000000 fe:00 247030      /usr/bin/cat\nSize:                  8 kB\nVmFlags: rd mr \n\
                    7f00-7f01 rw-p 00000000 00:00 0\nRss:                   4 kB\nLocked:                0 kB\n";
        let b = blocks(host);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].fields, vec!["Size:                  8 kB", "VmFlags: rd mr "]);
        assert_eq!(kb(b[1].fields[0]), Some(4));
        assert_eq!(key(b[1].fields[1]), "Locked");
    }

    #[test]
    fn locked_bytes_count_the_overlap_with_locked_ranges() {
        let lock = MlockState { ranges: vec![(0x1000, 0x3000), (0x8000, 0x9000)], all: false, future: false };
        assert_eq!(locked_bytes(&lock, 0x2000, 0x8800), 0x1800);
        assert_eq!(locked_bytes(&lock, 0x4000, 0x5000), 0);
        let all = MlockState { ranges: vec![], all: true, future: false };
        assert_eq!(locked_bytes(&all, 0x4000, 0x5000), 0x1000);
        assert_eq!(kb_line("Locked", 16), "Locked:               16 kB\n");
    }
}
