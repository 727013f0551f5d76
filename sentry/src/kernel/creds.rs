//! Task credentials.

use crate::vfs::FsCreds;

/// A task's user and group identities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub ruid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
}

impl Creds {
    /// All identities set to `uid`/`gid`.
    pub fn new(uid: u32, gid: u32) -> Creds {
        Creds {
            ruid: uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            rgid: gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups: Vec::new(),
        }
    }

    /// The identity file operations use.
    pub fn fs(&self) -> FsCreds {
        FsCreds { uid: self.fsuid, gid: self.fsgid, groups: self.groups.clone() }
    }
}
