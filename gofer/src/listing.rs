//! Directory listings with attributes (the ReadDir request): one round
//! trip gives the sentry a batch of names and their lstat, so a program that
//! lists a directory and then stats its entries (find, ls -l, du, an import
//! system) needs no walk per entry.

use std::os::fd::{AsFd, BorrowedFd};

use rvisor_syscalls::Errno;

use crate::protocol::{entry_size, Attr, DirEntryPlus, ENTRIES_HEADER, MAX_MESSAGE};
use crate::sys::{self, SysResult};

/// linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
const NAME_OFF: usize = 19;

/// Bytes of dirents read at a time. A batch ends where its message is full
/// (`MAX_MESSAGE`: ~230 entries with their attributes), and the next batch
/// reads on from that entry's cookie, so whatever a read returned past it
/// was read for nothing. A dirent is a quarter or less of its entry in the
/// message, so a 32 KiB read held ~3.5 batches' worth and a large directory
/// was read ~3.5 times over; 4 KiB (~100 dirents) wastes at most that.
const READ_CHUNK: usize = 4 * 1024;

/// Lists `dir` (an O_PATH directory fd) from `cookie` (0 or a d_off the
/// previous batch ended at) into one `Entries` batch; returns the entries and
/// the cookie to continue from, None at the end.
pub fn list(dir: BorrowedFd<'_>, cookie: u64) -> SysResult<(Vec<DirEntryPlus>, Option<u64>)> {
    let fd = sys::open_dir_itself(dir)?;
    if cookie != 0 {
        sys::seek_dir(fd.as_fd(), cookie)?;
    }
    let budget = MAX_MESSAGE - ENTRIES_HEADER;
    let (mut out, mut used, mut resume) = (Vec::new(), 0, cookie);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = sys::getdents(fd.as_fd(), &mut buf)?;
        if n == 0 {
            return Ok((out, None));
        }
        let mut off = 0;
        while off + NAME_OFF <= n {
            let rec = &buf[off..n];
            let reclen = usize::from(u16::from_ne_bytes([rec[16], rec[17]]));
            if reclen < NAME_OFF || reclen > rec.len() {
                return Err(Errno::EIO);
            }
            let raw = &rec[NAME_OFF..reclen];
            let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
            let field = |at: usize| u64::from_ne_bytes(rec[at..at + 8].try_into().unwrap_or_default());
            if name != b"." && name != b".." {
                let size = entry_size(name);
                if used + size > budget {
                    return Ok((out, Some(resume)));
                }
                used += size;
                let attr = sys::stat_child(fd.as_fd(), name).ok().map(|st| Attr::from_stat(&st));
                out.push(DirEntryPlus { ino: field(0), d_type: rec[18], name: name.to_vec(), attr });
            }
            resume = field(8);
            off += reclen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Response, MAX_NAME};
    use std::collections::BTreeMap;
    use std::os::fd::OwnedFd;

    fn open_path(p: &std::path::Path) -> OwnedFd {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is NUL-terminated.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY) };
        assert!(fd >= 0);
        // SAFETY: fd was just opened and is owned by nobody else.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
    }

    #[test]
    fn batches_cover_a_large_directory_once_each_with_lstat() {
        let dir = std::env::temp_dir().join(format!("rvisor-gofer-listing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Long names so the listing needs several batches.
        let mut want = BTreeMap::new();
        for i in 0..600 {
            let name = format!("{i:0>width$}", width = MAX_NAME - 10);
            std::fs::write(dir.join(&name), vec![b'x'; i]).unwrap();
            want.insert(name.into_bytes(), i as u64);
        }
        std::os::unix::fs::symlink("/nowhere", dir.join("link")).unwrap();
        let fd = open_path(&dir);
        let (mut got, mut cookie, mut batches) = (BTreeMap::new(), 0, 0);
        let mut link_mode = 0;
        loop {
            let (entries, next) = list(fd.as_fd(), cookie).unwrap();
            batches += 1;
            // Every batch fits one message.
            let resp = Response::Entries { entries: entries.clone(), next };
            assert!(resp.encode(u32::MAX).is_ok());
            for e in entries {
                let attr = e.attr.expect("lstat of a listed entry");
                if e.name == b"link" {
                    link_mode = attr.mode;
                    continue;
                }
                assert!(got.insert(e.name, attr.size).is_none(), "an entry came twice");
            }
            match next {
                Some(c) => cookie = c,
                None => break,
            }
        }
        assert!(batches > 2, "{batches} batches");
        assert_eq!(got, want);
        // The symlink itself, not its (missing) target.
        assert_eq!(link_mode & libc::S_IFMT, libc::S_IFLNK);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
