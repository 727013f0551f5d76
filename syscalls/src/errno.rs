//! Linux errno values.

use std::fmt;

/// A Linux errno value, as returned (negated) by a failed system call.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(i32);

impl Errno {
    /// Wraps a raw positive errno number.
    pub const fn new(raw: i32) -> Errno {
        Errno(raw)
    }

    /// The positive errno number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The value a syscall returns in `rax` for this error.
    pub const fn as_return(self) -> i64 {
        -(self.0 as i64)
    }

    /// The errno of the last failed libc call on this thread.
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }

    /// Converts an I/O error from a host operation into the errno it carries.
    pub fn from_io(err: &std::io::Error) -> Errno {
        Errno(err.raw_os_error().unwrap_or(libc::EIO))
    }

    /// Decodes a raw syscall return value: negative values in the errno range are errors.
    pub fn result(ret: i64) -> Result<i64, Errno> {
        if (-4095..0).contains(&ret) {
            Err(Errno((-ret) as i32))
        } else {
            Ok(ret)
        }
    }

    pub const EPERM: Errno = Errno(libc::EPERM);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const ESRCH: Errno = Errno(libc::ESRCH);
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const EIO: Errno = Errno(libc::EIO);
    pub const ENXIO: Errno = Errno(libc::ENXIO);
    pub const E2BIG: Errno = Errno(libc::E2BIG);
    pub const ENOEXEC: Errno = Errno(libc::ENOEXEC);
    pub const EBADF: Errno = Errno(libc::EBADF);
    pub const ECHILD: Errno = Errno(libc::ECHILD);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    pub const ENOTBLK: Errno = Errno(libc::ENOTBLK);
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    pub const EXDEV: Errno = Errno(libc::EXDEV);
    pub const ENODEV: Errno = Errno(libc::ENODEV);
    pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);
    pub const EISDIR: Errno = Errno(libc::EISDIR);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ENFILE: Errno = Errno(libc::ENFILE);
    pub const EMFILE: Errno = Errno(libc::EMFILE);
    pub const ENOTTY: Errno = Errno(libc::ENOTTY);
    pub const ETXTBSY: Errno = Errno(libc::ETXTBSY);
    pub const EFBIG: Errno = Errno(libc::EFBIG);
    pub const ENOSPC: Errno = Errno(libc::ENOSPC);
    pub const ESPIPE: Errno = Errno(libc::ESPIPE);
    pub const EROFS: Errno = Errno(libc::EROFS);
    pub const EMLINK: Errno = Errno(libc::EMLINK);
    pub const EPIPE: Errno = Errno(libc::EPIPE);
    pub const EDOM: Errno = Errno(libc::EDOM);
    pub const ERANGE: Errno = Errno(libc::ERANGE);
    pub const EDEADLK: Errno = Errno(libc::EDEADLK);
    pub const ENAMETOOLONG: Errno = Errno(libc::ENAMETOOLONG);
    pub const ENOLCK: Errno = Errno(libc::ENOLCK);
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    pub const ENOTEMPTY: Errno = Errno(libc::ENOTEMPTY);
    pub const ELOOP: Errno = Errno(libc::ELOOP);
    pub const ENOMSG: Errno = Errno(libc::ENOMSG);
    pub const EIDRM: Errno = Errno(libc::EIDRM);
    pub const ENOSTR: Errno = Errno(libc::ENOSTR);
    pub const ENODATA: Errno = Errno(libc::ENODATA);
    pub const ETIME: Errno = Errno(libc::ETIME);
    pub const ENOSR: Errno = Errno(libc::ENOSR);
    pub const EREMOTE: Errno = Errno(libc::EREMOTE);
    pub const ENOLINK: Errno = Errno(libc::ENOLINK);
    pub const EPROTO: Errno = Errno(libc::EPROTO);
    pub const EBADMSG: Errno = Errno(libc::EBADMSG);
    pub const EOVERFLOW: Errno = Errno(libc::EOVERFLOW);
    pub const EILSEQ: Errno = Errno(libc::EILSEQ);
    pub const EUSERS: Errno = Errno(libc::EUSERS);
    pub const ENOTSOCK: Errno = Errno(libc::ENOTSOCK);
    pub const EDESTADDRREQ: Errno = Errno(libc::EDESTADDRREQ);
    pub const EMSGSIZE: Errno = Errno(libc::EMSGSIZE);
    pub const EPROTOTYPE: Errno = Errno(libc::EPROTOTYPE);
    pub const ENOPROTOOPT: Errno = Errno(libc::ENOPROTOOPT);
    pub const EPROTONOSUPPORT: Errno = Errno(libc::EPROTONOSUPPORT);
    pub const ESOCKTNOSUPPORT: Errno = Errno(libc::ESOCKTNOSUPPORT);
    pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
    pub const EPFNOSUPPORT: Errno = Errno(libc::EPFNOSUPPORT);
    pub const EAFNOSUPPORT: Errno = Errno(libc::EAFNOSUPPORT);
    pub const EADDRINUSE: Errno = Errno(libc::EADDRINUSE);
    pub const EADDRNOTAVAIL: Errno = Errno(libc::EADDRNOTAVAIL);
    pub const ENETDOWN: Errno = Errno(libc::ENETDOWN);
    pub const ENETUNREACH: Errno = Errno(libc::ENETUNREACH);
    pub const ENETRESET: Errno = Errno(libc::ENETRESET);
    pub const ECONNABORTED: Errno = Errno(libc::ECONNABORTED);
    pub const ECONNRESET: Errno = Errno(libc::ECONNRESET);
    pub const ENOBUFS: Errno = Errno(libc::ENOBUFS);
    pub const EISCONN: Errno = Errno(libc::EISCONN);
    pub const ENOTCONN: Errno = Errno(libc::ENOTCONN);
    pub const ESHUTDOWN: Errno = Errno(libc::ESHUTDOWN);
    pub const ETOOMANYREFS: Errno = Errno(libc::ETOOMANYREFS);
    pub const ETIMEDOUT: Errno = Errno(libc::ETIMEDOUT);
    pub const ECONNREFUSED: Errno = Errno(libc::ECONNREFUSED);
    pub const EHOSTDOWN: Errno = Errno(libc::EHOSTDOWN);
    pub const EHOSTUNREACH: Errno = Errno(libc::EHOSTUNREACH);
    pub const EALREADY: Errno = Errno(libc::EALREADY);
    pub const EINPROGRESS: Errno = Errno(libc::EINPROGRESS);
    pub const ESTALE: Errno = Errno(libc::ESTALE);
    pub const EDQUOT: Errno = Errno(libc::EDQUOT);
    pub const ECANCELED: Errno = Errno(libc::ECANCELED);
    pub const EOWNERDEAD: Errno = Errno(libc::EOWNERDEAD);
    pub const ENOTRECOVERABLE: Errno = Errno(libc::ENOTRECOVERABLE);
    pub const ENOKEY: Errno = Errno(libc::ENOKEY);
    pub const EKEYEXPIRED: Errno = Errno(libc::EKEYEXPIRED);
    pub const EKEYREVOKED: Errno = Errno(libc::EKEYREVOKED);
    pub const EKEYREJECTED: Errno = Errno(libc::EKEYREJECTED);
    pub const ERFKILL: Errno = Errno(libc::ERFKILL);
    pub const EHWPOISON: Errno = Errno(libc::EHWPOISON);
    pub const EBADFD: Errno = Errno(libc::EBADFD);
    pub const ENOTUNIQ: Errno = Errno(libc::ENOTUNIQ);
    pub const EREMCHG: Errno = Errno(libc::EREMCHG);
    pub const ELIBACC: Errno = Errno(libc::ELIBACC);
    pub const ELIBBAD: Errno = Errno(libc::ELIBBAD);
    pub const ELIBSCN: Errno = Errno(libc::ELIBSCN);
    pub const ELIBMAX: Errno = Errno(libc::ELIBMAX);
    pub const ELIBEXEC: Errno = Errno(libc::ELIBEXEC);
    pub const ERESTART: Errno = Errno(libc::ERESTART);
    pub const ESTRPIPE: Errno = Errno(libc::ESTRPIPE);
    pub const EUCLEAN: Errno = Errno(libc::EUCLEAN);
    pub const ENOTNAM: Errno = Errno(libc::ENOTNAM);
    pub const ENAVAIL: Errno = Errno(libc::ENAVAIL);
    pub const EISNAM: Errno = Errno(libc::EISNAM);
    pub const EREMOTEIO: Errno = Errno(libc::EREMOTEIO);
    pub const ENOMEDIUM: Errno = Errno(libc::ENOMEDIUM);
    pub const EMEDIUMTYPE: Errno = Errno(libc::EMEDIUMTYPE);
    pub const ENOANO: Errno = Errno(libc::ENOANO);
    pub const EBADR: Errno = Errno(libc::EBADR);
    pub const EBADE: Errno = Errno(libc::EBADE);
    pub const EBADRQC: Errno = Errno(libc::EBADRQC);
    pub const EBADSLT: Errno = Errno(libc::EBADSLT);
    pub const EBFONT: Errno = Errno(libc::EBFONT);
    pub const ENONET: Errno = Errno(libc::ENONET);
    pub const ENOPKG: Errno = Errno(libc::ENOPKG);
    pub const EADV: Errno = Errno(libc::EADV);
    pub const ESRMNT: Errno = Errno(libc::ESRMNT);
    pub const ECOMM: Errno = Errno(libc::ECOMM);
    pub const EDOTDOT: Errno = Errno(libc::EDOTDOT);
    pub const ECHRNG: Errno = Errno(libc::ECHRNG);
    pub const EL2NSYNC: Errno = Errno(libc::EL2NSYNC);
    pub const EL3HLT: Errno = Errno(libc::EL3HLT);
    pub const EL3RST: Errno = Errno(libc::EL3RST);
    pub const ELNRNG: Errno = Errno(libc::ELNRNG);
    pub const EUNATCH: Errno = Errno(libc::EUNATCH);
    pub const ENOCSI: Errno = Errno(libc::ENOCSI);
    pub const EL2HLT: Errno = Errno(libc::EL2HLT);
    pub const EXFULL: Errno = Errno(libc::EXFULL);
    /// Kernel-internal: restart the syscall if the signal handler has SA_RESTART.
    pub const ERESTARTSYS: Errno = Errno(512);
    /// Kernel-internal: restart the syscall, whatever the handler.
    pub const ERESTARTNOINTR: Errno = Errno(513);
    /// Kernel-internal: restart the syscall unless a handler ran.
    pub const ERESTARTNOHAND: Errno = Errno(514);
    /// Kernel-internal: restart through restart_syscall(2).
    pub const ERESTART_RESTARTBLOCK: Errno = Errno(516);

    /// The symbolic name, e.g. `"ENOENT"`.
    pub fn name(self) -> &'static str {
        match self.0 {
            x if x == libc::EPERM => "EPERM",
            x if x == libc::ENOENT => "ENOENT",
            x if x == libc::ESRCH => "ESRCH",
            x if x == libc::EINTR => "EINTR",
            x if x == libc::EIO => "EIO",
            x if x == libc::ENXIO => "ENXIO",
            x if x == libc::E2BIG => "E2BIG",
            x if x == libc::ENOEXEC => "ENOEXEC",
            x if x == libc::EBADF => "EBADF",
            x if x == libc::ECHILD => "ECHILD",
            x if x == libc::EAGAIN => "EAGAIN",
            x if x == libc::ENOMEM => "ENOMEM",
            x if x == libc::EACCES => "EACCES",
            x if x == libc::EFAULT => "EFAULT",
            x if x == libc::ENOTBLK => "ENOTBLK",
            x if x == libc::EBUSY => "EBUSY",
            x if x == libc::EEXIST => "EEXIST",
            x if x == libc::EXDEV => "EXDEV",
            x if x == libc::ENODEV => "ENODEV",
            x if x == libc::ENOTDIR => "ENOTDIR",
            x if x == libc::EISDIR => "EISDIR",
            x if x == libc::EINVAL => "EINVAL",
            x if x == libc::ENFILE => "ENFILE",
            x if x == libc::EMFILE => "EMFILE",
            x if x == libc::ENOTTY => "ENOTTY",
            x if x == libc::ETXTBSY => "ETXTBSY",
            x if x == libc::EFBIG => "EFBIG",
            x if x == libc::ENOSPC => "ENOSPC",
            x if x == libc::ESPIPE => "ESPIPE",
            x if x == libc::EROFS => "EROFS",
            x if x == libc::EMLINK => "EMLINK",
            x if x == libc::EPIPE => "EPIPE",
            x if x == libc::EDOM => "EDOM",
            x if x == libc::ERANGE => "ERANGE",
            x if x == libc::EDEADLK => "EDEADLK",
            x if x == libc::ENAMETOOLONG => "ENAMETOOLONG",
            x if x == libc::ENOLCK => "ENOLCK",
            x if x == libc::ENOSYS => "ENOSYS",
            x if x == libc::ENOTEMPTY => "ENOTEMPTY",
            x if x == libc::ELOOP => "ELOOP",
            x if x == libc::ENOMSG => "ENOMSG",
            x if x == libc::EIDRM => "EIDRM",
            x if x == libc::ENOSTR => "ENOSTR",
            x if x == libc::ENODATA => "ENODATA",
            x if x == libc::ETIME => "ETIME",
            x if x == libc::ENOSR => "ENOSR",
            x if x == libc::EREMOTE => "EREMOTE",
            x if x == libc::ENOLINK => "ENOLINK",
            x if x == libc::EPROTO => "EPROTO",
            x if x == libc::EBADMSG => "EBADMSG",
            x if x == libc::EOVERFLOW => "EOVERFLOW",
            x if x == libc::EILSEQ => "EILSEQ",
            x if x == libc::EUSERS => "EUSERS",
            x if x == libc::ENOTSOCK => "ENOTSOCK",
            x if x == libc::EDESTADDRREQ => "EDESTADDRREQ",
            x if x == libc::EMSGSIZE => "EMSGSIZE",
            x if x == libc::EPROTOTYPE => "EPROTOTYPE",
            x if x == libc::ENOPROTOOPT => "ENOPROTOOPT",
            x if x == libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
            x if x == libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
            x if x == libc::EOPNOTSUPP => "EOPNOTSUPP",
            x if x == libc::EPFNOSUPPORT => "EPFNOSUPPORT",
            x if x == libc::EAFNOSUPPORT => "EAFNOSUPPORT",
            x if x == libc::EADDRINUSE => "EADDRINUSE",
            x if x == libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
            x if x == libc::ENETDOWN => "ENETDOWN",
            x if x == libc::ENETUNREACH => "ENETUNREACH",
            x if x == libc::ENETRESET => "ENETRESET",
            x if x == libc::ECONNABORTED => "ECONNABORTED",
            x if x == libc::ECONNRESET => "ECONNRESET",
            x if x == libc::ENOBUFS => "ENOBUFS",
            x if x == libc::EISCONN => "EISCONN",
            x if x == libc::ENOTCONN => "ENOTCONN",
            x if x == libc::ESHUTDOWN => "ESHUTDOWN",
            x if x == libc::ETOOMANYREFS => "ETOOMANYREFS",
            x if x == libc::ETIMEDOUT => "ETIMEDOUT",
            x if x == libc::ECONNREFUSED => "ECONNREFUSED",
            x if x == libc::EHOSTDOWN => "EHOSTDOWN",
            x if x == libc::EHOSTUNREACH => "EHOSTUNREACH",
            x if x == libc::EALREADY => "EALREADY",
            x if x == libc::EINPROGRESS => "EINPROGRESS",
            x if x == libc::ESTALE => "ESTALE",
            x if x == libc::EDQUOT => "EDQUOT",
            x if x == libc::ECANCELED => "ECANCELED",
            x if x == libc::EOWNERDEAD => "EOWNERDEAD",
            x if x == libc::ENOTRECOVERABLE => "ENOTRECOVERABLE",
            x if x == libc::ENOKEY => "ENOKEY",
            x if x == libc::EKEYEXPIRED => "EKEYEXPIRED",
            x if x == libc::EKEYREVOKED => "EKEYREVOKED",
            x if x == libc::EKEYREJECTED => "EKEYREJECTED",
            x if x == libc::ERFKILL => "ERFKILL",
            x if x == libc::EHWPOISON => "EHWPOISON",
            x if x == libc::EBADFD => "EBADFD",
            x if x == libc::ENOTUNIQ => "ENOTUNIQ",
            x if x == libc::EREMCHG => "EREMCHG",
            x if x == libc::ELIBACC => "ELIBACC",
            x if x == libc::ELIBBAD => "ELIBBAD",
            x if x == libc::ELIBSCN => "ELIBSCN",
            x if x == libc::ELIBMAX => "ELIBMAX",
            x if x == libc::ELIBEXEC => "ELIBEXEC",
            x if x == libc::ERESTART => "ERESTART",
            x if x == libc::ESTRPIPE => "ESTRPIPE",
            x if x == libc::EUCLEAN => "EUCLEAN",
            x if x == libc::ENOTNAM => "ENOTNAM",
            x if x == libc::ENAVAIL => "ENAVAIL",
            x if x == libc::EISNAM => "EISNAM",
            x if x == libc::EREMOTEIO => "EREMOTEIO",
            x if x == libc::ENOMEDIUM => "ENOMEDIUM",
            x if x == libc::EMEDIUMTYPE => "EMEDIUMTYPE",
            x if x == libc::ENOANO => "ENOANO",
            x if x == libc::EBADR => "EBADR",
            x if x == libc::EBADE => "EBADE",
            x if x == libc::EBADRQC => "EBADRQC",
            x if x == libc::EBADSLT => "EBADSLT",
            x if x == libc::EBFONT => "EBFONT",
            x if x == libc::ENONET => "ENONET",
            x if x == libc::ENOPKG => "ENOPKG",
            x if x == libc::EADV => "EADV",
            x if x == libc::ESRMNT => "ESRMNT",
            x if x == libc::ECOMM => "ECOMM",
            x if x == libc::EDOTDOT => "EDOTDOT",
            x if x == libc::ECHRNG => "ECHRNG",
            x if x == libc::EL2NSYNC => "EL2NSYNC",
            x if x == libc::EL3HLT => "EL3HLT",
            x if x == libc::EL3RST => "EL3RST",
            x if x == libc::ELNRNG => "ELNRNG",
            x if x == libc::EUNATCH => "EUNATCH",
            x if x == libc::ENOCSI => "ENOCSI",
            x if x == libc::EL2HLT => "EL2HLT",
            x if x == libc::EXFULL => "EXFULL",
            512 => "ERESTARTSYS",
            513 => "ERESTARTNOINTR",
            514 => "ERESTARTNOHAND",
            516 => "ERESTART_RESTARTBLOCK",
            _ => "E?",
        }
    }

    /// The message strerror(3) gives.
    pub fn description(self) -> String {
        std::io::Error::from_raw_os_error(self.0).to_string()
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.description())
    }
}

impl std::error::Error for Errno {}

impl From<std::io::Error> for Errno {
    fn from(err: std::io::Error) -> Errno {
        Errno::from_io(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_returns() {
        assert_eq!(Errno::ENOENT.name(), "ENOENT");
        assert_eq!(Errno::ENOENT.as_return(), -2);
        assert_eq!(Errno::result(-13), Err(Errno::EACCES));
        assert_eq!(Errno::result(5), Ok(5));
        assert_eq!(Errno::result(-4096), Ok(-4096));
    }
}
