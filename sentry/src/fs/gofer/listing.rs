//! Directory listings with attributes. A listing is read in batches from the
//! gofer (each entry with its lstat) and kept by its directory for lookups:
//! while the mount's generation stays what it was when the listing was read,
//! a listed name is answered from it without a walk and an unlisted name is
//! missing. Listings are bounded in total ([`MAX_LISTED`] entries): the
//! oldest are dropped first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use rvisor_gofer::protocol::Attr;
use rvisor_gofer::{Fid, GoferClient};

use super::GoferInode;
use crate::vfs::{DirEntry, Errno, VfsResult};

/// Most listed entries kept over all directories (~150 bytes each).
const MAX_LISTED: usize = 32 * 1024;

/// One directory's complete listing.
pub(super) struct Listing {
    /// The mount generation it was read at.
    gen: u64,
    /// Each entry's attributes; None where the gofer's lstat failed.
    attrs: HashMap<Vec<u8>, Option<Attr>>,
    /// Tells this listing from a later one of the same directory.
    id: u64,
}

/// What a listing says of a name.
pub(super) enum Listed {
    Present(Attr),
    Absent,
    /// Listed without attributes, or the listing is out of date: walk.
    Unknown,
}

impl Listing {
    pub(super) fn find(&self, name: &[u8], gen: u64) -> Listed {
        if gen != self.gen {
            return Listed::Unknown;
        }
        match self.attrs.get(name) {
            Some(Some(attr)) => Listed::Present(*attr),
            Some(None) => Listed::Unknown,
            None => Listed::Absent,
        }
    }
}

/// Reads directory `fid`'s whole listing: its entries, and the listing to
/// keep for generation `gen`.
pub(super) fn read(client: &GoferClient, fid: Fid, gen: u64) -> VfsResult<(Vec<DirEntry>, Listing)> {
    let (mut entries, mut attrs, mut cookie) = (Vec::new(), HashMap::new(), 0);
    loop {
        let (batch, next) = client.read_dir(fid, cookie)?;
        let empty = batch.is_empty();
        for e in batch {
            attrs.insert(e.name.clone(), e.attr);
            entries.push(DirEntry { ino: e.ino, d_type: e.d_type, name: e.name });
        }
        match next {
            None => break,
            // A batch always holds an entry when more follow: anything else
            // would never end.
            Some(_) if empty => return Err(Errno::EIO),
            Some(c) => cookie = c,
        }
    }
    Ok((entries, Listing { gen, attrs, id: 0 }))
}

/// Listings kept, oldest first: (directory, listing id, entries counted).
struct Kept {
    queue: VecDeque<(Weak<GoferInode>, u64, usize)>,
    total: usize,
    next_id: u64,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept { queue: VecDeque::new(), total: 0, next_id: 1 });

/// Stores `listing` as directory `dir`'s, dropping the oldest listings
/// while more than [`MAX_LISTED`] entries are kept.
pub(super) fn keep(dir: &Arc<GoferInode>, mut listing: Listing) {
    let count = listing.attrs.len().max(1);
    if count > MAX_LISTED {
        return;
    }
    let mut evicted = Vec::new();
    {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        listing.id = kept.next_id;
        kept.next_id += 1;
        kept.queue.push_back((Arc::downgrade(dir), listing.id, count));
        kept.total += count;
        while kept.total > MAX_LISTED {
            let Some((old, id, n)) = kept.queue.pop_front() else { break };
            kept.total -= n;
            evicted.push((old, id));
        }
    }
    *dir.listing.lock().unwrap_or_else(|e| e.into_inner()) = Some(listing);
    // Outside KEPT: each directory's own lock, and no listing dropped
    // while the queue is locked.
    for (old, id) in evicted {
        if let Some(d) = old.upgrade() {
            let mut l = d.listing.lock().unwrap_or_else(|e| e.into_inner());
            if l.as_ref().is_some_and(|l| l.id == id) {
                *l = None;
            }
        }
    }
}
