//! Unix permission checks (owner/group/other bits; root bypasses as with
//! CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH).

use super::{Attr, FsCreds};

pub const MAY_EXEC: u32 = 1;
pub const MAY_WRITE: u32 = 2;
pub const MAY_READ: u32 = 4;

/// Whether `creds` may access a file with `attr` for `mask` (MAY_* bits).
pub fn may_access(attr: &Attr, creds: &FsCreds, mask: u32) -> bool {
    if creds.uid == 0 {
        // Root may do anything except execute a non-directory with no x bit at all.
        if mask & MAY_EXEC != 0 && !attr.is_dir() && attr.mode & 0o111 == 0 {
            return false;
        }
        return true;
    }
    let bits = if attr.uid == creds.uid {
        (attr.mode >> 6) & 7
    } else if creds.in_group(attr.gid) {
        (attr.mode >> 3) & 7
    } else {
        attr.mode & 7
    };
    bits & mask == mask
}

/// Search (x) permission on a directory.
pub fn may_search(attr: &Attr, creds: &FsCreds) -> bool {
    may_access(attr, creds, MAY_EXEC)
}

/// Whether `creds` owns the file or is root (chmod, utimes with explicit times).
pub fn is_owner(attr: &Attr, creds: &FsCreds) -> bool {
    creds.uid == 0 || attr.uid == creds.uid
}

/// Sticky-directory rule for unlink/rename: may `creds` remove `victim` from `dir`?
pub fn may_delete_in_sticky(dir: &Attr, victim: &Attr, creds: &FsCreds) -> bool {
    if dir.mode & 0o1000 == 0 || creds.uid == 0 {
        return true;
    }
    victim.uid == creds.uid || dir.uid == creds.uid
}
