//! Task credentials.

use rvisor_syscalls::Errno;

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
    pub caps: Caps,
}

/// Capability sets (bit n = capability n).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
}

/// Capabilities up to CAP_CHECKPOINT_RESTORE (40), Linux 6.x's last.
pub const ALL_CAPS: u64 = (1 << 41) - 1;
pub const CAP_CHOWN: u32 = 0;
pub const CAP_FSETID: u32 = 4;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_SYS_CHROOT: u32 = 18;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_NICE: u32 = 23;
/// Capabilities a fsuid change to or from 0 toggles (Linux's CAP_FS_MASK).
const CAP_FS_MASK: u64 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 9 | 1 << 27 | 1 << 32;

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
            caps: if uid == 0 {
                Caps { effective: ALL_CAPS, permitted: ALL_CAPS, inheritable: 0, bounding: ALL_CAPS }
            } else {
                Caps { bounding: ALL_CAPS, ..Default::default() }
            },
        }
    }

    pub fn has_cap(&self, cap: u32) -> bool {
        self.caps.effective & (1 << cap) != 0
    }

    /// Linux's capability fix-ups after uids change (no SECBIT_KEEP_CAPS):
    /// leaving uid 0 everywhere drops permitted, leaving euid 0 drops
    /// effective, regaining euid 0 restores it; fsuid toggles the fs caps.
    pub fn fix_caps_after_setuid(&mut self, old: IdSet) {
        let new = self.ids(IdKind::User);
        let c = &mut self.caps;
        if (old.r == 0 || old.e == 0 || old.s == 0) && new.r != 0 && new.e != 0 && new.s != 0 {
            c.permitted = 0;
            c.effective = 0;
        }
        if old.e == 0 && new.e != 0 {
            c.effective = 0;
        }
        if old.e != 0 && new.e == 0 {
            c.effective = c.permitted;
        }
        if old.fs == 0 && new.fs != 0 {
            c.effective &= !CAP_FS_MASK;
        }
        if old.fs != 0 && new.fs == 0 {
            c.effective |= c.permitted & CAP_FS_MASK;
        }
    }

    /// execve of a file without file capabilities: root keeps (gets) the
    /// bounding set, everyone else loses permitted and effective.
    pub fn caps_after_exec(&mut self) {
        let c = &mut self.caps;
        if self.euid == 0 || self.ruid == 0 {
            c.permitted = c.inheritable | c.bounding;
            c.effective = if self.euid == 0 { c.permitted } else { 0 };
        } else {
            c.permitted = 0;
            c.effective = 0;
        }
    }

    /// The identity file operations use.
    pub fn fs(&self) -> FsCreds {
        FsCreds { uid: self.fsuid, gid: self.fsgid, groups: self.groups.clone() }
    }
}

/// Which identity an id call changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    User,
    Group,
}

/// The real, effective, saved and file-system ids of one kind. The set*id
/// rules are the same for users and groups; `privileged` is CAP_SETUID /
/// CAP_SETGID, which in the sandbox means effective uid 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdSet {
    pub r: u32,
    pub e: u32,
    pub s: u32,
    pub fs: u32,
}

impl IdSet {
    fn holds(&self, v: u32) -> bool {
        v == self.r || v == self.e || v == self.s
    }

    /// setuid/setgid.
    pub fn set(mut self, v: u32, privileged: bool) -> Result<IdSet, Errno> {
        if privileged {
            self.r = v;
            self.s = v;
        } else if v != self.r && v != self.s {
            return Err(Errno::EPERM);
        }
        self.e = v;
        self.fs = v;
        Ok(self)
    }

    /// setresuid/setresgid; `None` leaves an id unchanged.
    pub fn set_res(mut self, r: Option<u32>, e: Option<u32>, s: Option<u32>, privileged: bool) -> Result<IdSet, Errno> {
        if !privileged && [r, e, s].iter().any(|v| v.is_some_and(|v| !self.holds(v))) {
            return Err(Errno::EPERM);
        }
        self.r = r.unwrap_or(self.r);
        self.e = e.unwrap_or(self.e);
        self.s = s.unwrap_or(self.s);
        self.fs = self.e;
        Ok(self)
    }

    /// setreuid/setregid; `None` leaves an id unchanged.
    pub fn set_re(mut self, r: Option<u32>, e: Option<u32>, privileged: bool) -> Result<IdSet, Errno> {
        if !privileged && (r.is_some_and(|v| v != self.r && v != self.e) || e.is_some_and(|v| !self.holds(v))) {
            return Err(Errno::EPERM);
        }
        let old_r = self.r;
        self.r = r.unwrap_or(self.r);
        self.e = e.unwrap_or(self.e);
        // The saved id follows the new effective id when the real id was set
        // or the effective id differs from the old real id.
        if r.is_some() || e.is_some_and(|v| v != old_r) {
            self.s = self.e;
        }
        self.fs = self.e;
        Ok(self)
    }

    /// setfsuid/setfsgid: never fails; an unpermitted id leaves things as they are.
    pub fn set_fs(mut self, v: u32, privileged: bool) -> IdSet {
        if privileged || self.holds(v) || v == self.fs {
            self.fs = v;
        }
        self
    }
}

impl Creds {
    pub fn ids(&self, kind: IdKind) -> IdSet {
        match kind {
            IdKind::User => IdSet { r: self.ruid, e: self.euid, s: self.suid, fs: self.fsuid },
            IdKind::Group => IdSet { r: self.rgid, e: self.egid, s: self.sgid, fs: self.fsgid },
        }
    }

    pub fn set_ids(&mut self, kind: IdKind, ids: IdSet) {
        let (r, e, s, fs) = match kind {
            IdKind::User => (&mut self.ruid, &mut self.euid, &mut self.suid, &mut self.fsuid),
            IdKind::Group => (&mut self.rgid, &mut self.egid, &mut self.sgid, &mut self.fsgid),
        };
        (*r, *e, *s, *fs) = (ids.r, ids.e, ids.s, ids.fs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: IdSet = IdSet { r: 1000, e: 1000, s: 1000, fs: 1000 };

    #[test]
    fn unprivileged_may_only_pick_held_ids() {
        assert_eq!(USER.set(0, false), Err(Errno::EPERM));
        assert_eq!(USER.set_res(Some(0), None, None, false), Err(Errno::EPERM));
        assert_eq!(USER.set_re(None, Some(0), false), Err(Errno::EPERM));
        assert_eq!(USER.set_fs(0, false), USER);
        let root = IdSet { r: 0, e: 0, s: 0, fs: 0 };
        assert_eq!(root.set(1000, true), Ok(USER));
    }

    #[test]
    fn leaving_root_drops_capabilities() {
        let mut c = Creds::new(0, 0);
        let old = c.ids(IdKind::User);
        c.set_ids(IdKind::User, IdSet { r: 0, e: 1000, s: 0, fs: 1000 });
        c.fix_caps_after_setuid(old);
        assert_eq!(c.caps.effective, 0);
        assert_eq!(c.caps.permitted, ALL_CAPS);
        let old = c.ids(IdKind::User);
        c.set_ids(IdKind::User, IdSet { r: 0, e: 0, s: 0, fs: 0 });
        c.fix_caps_after_setuid(old);
        assert_eq!(c.caps.effective, ALL_CAPS);
        let old = c.ids(IdKind::User);
        c.set_ids(IdKind::User, USER);
        c.fix_caps_after_setuid(old);
        assert_eq!((c.caps.effective, c.caps.permitted), (0, 0));
    }

    #[test]
    fn setre_moves_the_saved_id_like_linux() {
        let mixed = IdSet { r: 0, e: 1000, s: 0, fs: 1000 };
        // Effective back to the real id: saved id untouched.
        assert_eq!(mixed.set_re(None, Some(0), false), Ok(IdSet { r: 0, e: 0, s: 0, fs: 0 }));
        // Setting the real id makes the saved id follow the effective one.
        let root = IdSet { r: 0, e: 0, s: 0, fs: 0 };
        assert_eq!(root.set_re(Some(1000), Some(1000), true), Ok(USER));
    }
}
