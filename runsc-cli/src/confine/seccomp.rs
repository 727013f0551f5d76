//! Compiles the policies of [`super::seccomp_policy`] with seccompiler and
//! installs them.
//!
//! Filters are stacked: when a role has refusals, one that answers those
//! syscalls with an errno, then the allowlist (anything else kills the
//! process), installed last so that nothing after it needs prctl or seccomp. The kernel runs both and takes the stricter answer, so a
//! refused syscall must also be on the allowlist.
//!
//! `RVISOR_SECCOMP=log` makes the allowlist log instead of kill (the kernel
//! writes `type=1326 ... syscall=N` lines to its log): that is how the lists
//! were derived, and how to find a missing entry.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

use super::seccomp_policy::{self as policy, Cond, Refusal, Rule};
use super::ConfineError;

/// Which process a filter is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `proc_dir`: the sentry's pre-opened procfs directory fd.
    Sentry {
        proc_dir: RawFd,
    },
    Gofer,
}

/// What a filter does with a syscall that is not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Kill the whole process (the default).
    Enforce,
    /// Log it to the kernel log and let it run (`RVISOR_SECCOMP=log`).
    Log,
}

impl Mode {
    /// The mode asked for in the environment.
    pub fn from_env() -> Mode {
        match std::env::var("RVISOR_SECCOMP").as_deref() {
            Ok("log") => Mode::Log,
            _ => Mode::Enforce,
        }
    }
}

fn seccomp_err(e: impl std::fmt::Display) -> ConfineError {
    ConfineError::Seccomp(e.to_string())
}

fn condition(c: Cond, role: Role) -> Result<SeccompCondition, ConfineError> {
    let (idx, op, val) = match c {
        Cond::Eq(i, v) => (i, SeccompCmpOp::Eq, v),
        Cond::Masked(i, mask, v) => (i, SeccompCmpOp::MaskedEq(mask as u64), v),
        Cond::ProcDir(i) | Cond::NotProcDir(i) => match role {
            Role::Sentry { proc_dir } if proc_dir >= 0 => {
                let op = if matches!(c, Cond::ProcDir(_)) { SeccompCmpOp::Eq } else { SeccompCmpOp::Ne };
                (i, op, proc_dir as u32)
            }
            _ => return Err(seccomp_err("a ProcDir condition needs the sentry's procfs fd")),
        },
    };
    SeccompCondition::new(idx, SeccompCmpArgLen::Dword, op, val as u64).map_err(seccomp_err)
}

/// The allowlist of a role, grouped by syscall number.
fn allow_map(role: Role) -> Result<BTreeMap<i64, Vec<SeccompRule>>, ConfineError> {
    let rules: &[Rule] = match role {
        Role::Sentry { .. } => policy::SENTRY,
        Role::Gofer => policy::GOFER,
    };
    let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // An entry without conditions allows every call of that number.
    let mut unconditional = Vec::new();
    for r in rules {
        if r.when.is_empty() {
            unconditional.push(r.nr);
            map.insert(r.nr, Vec::new());
            continue;
        }
        if unconditional.contains(&r.nr) {
            continue;
        }
        let conds = r.when.iter().map(|c| condition(*c, role)).collect::<Result<Vec<_>, _>>()?;
        map.entry(r.nr).or_default().push(SeccompRule::new(conds).map_err(seccomp_err)?);
    }
    if let Role::Sentry { .. } = role {
        let ioctls = map.entry(libc::SYS_ioctl).or_default();
        for (req, _) in policy::sentry_ioctls() {
            let c =
                SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, req as u64).map_err(seccomp_err)?;
            ioctls.push(SeccompRule::new(vec![c]).map_err(seccomp_err)?);
        }
    }
    Ok(map)
}

/// The BPF programs for `role`, in installation order.
pub fn build(role: Role, mode: Mode) -> Result<Vec<BpfProgram>, ConfineError> {
    log_policy(role);
    let arch = TargetArch::x86_64;
    let mismatch = match mode {
        Mode::Enforce => SeccompAction::KillProcess,
        Mode::Log => SeccompAction::Log,
    };
    let mut progs = Vec::new();
    let refusals: &[Refusal] = match role {
        Role::Sentry { .. } => policy::SENTRY_REFUSALS,
        Role::Gofer => policy::GOFER_REFUSALS,
    };
    // One errno filter per distinct errno (a filter has a single match action).
    let mut by_errno: BTreeMap<i32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
    for r in refusals {
        let rules = by_errno.entry(r.errno).or_default().entry(r.nr).or_default();
        if !r.when.is_empty() {
            let conds = r.when.iter().map(|c| condition(*c, role)).collect::<Result<Vec<_>, _>>()?;
            rules.push(SeccompRule::new(conds).map_err(seccomp_err)?);
        }
    }
    for (errno, map) in by_errno {
        let f = SeccompFilter::new(map, SeccompAction::Allow, SeccompAction::Errno(errno as u32), arch)
            .map_err(seccomp_err)?;
        progs.push(BpfProgram::try_from(f).map_err(seccomp_err)?);
    }
    // The allowlist goes last: installing it is the last prctl/seccomp call.
    let allow = SeccompFilter::new(allow_map(role)?, mismatch, SeccompAction::Allow, arch).map_err(seccomp_err)?;
    progs.push(BpfProgram::try_from(allow).map_err(seccomp_err)?);
    Ok(progs)
}

/// Lists the policy at debug level (`--debug`), with each entry's reason.
fn log_policy(role: Role) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let (rules, refusals): (&[Rule], &[Refusal]) = match role {
        Role::Sentry { .. } => (policy::SENTRY, policy::SENTRY_REFUSALS),
        Role::Gofer => (policy::GOFER, policy::GOFER_REFUSALS),
    };
    for r in rules {
        let name = rvisor_syscalls::syscall_name(r.nr as u64).unwrap_or("?");
        tracing::debug!(role = ?role, syscall = name, when = ?r.when, why = r.why, "seccomp allows");
    }
    for r in refusals {
        let name = rvisor_syscalls::syscall_name(r.nr as u64).unwrap_or("?");
        tracing::debug!(role = ?role, syscall = name, errno = r.errno, why = r.why, "seccomp refuses");
    }
}

/// Installs `role`'s filters: on every thread of the process for the
/// sentry (TSYNC), on the calling thread for the single-threaded gofer.
/// Sets no_new_privs first.
pub fn install(role: Role, mode: Mode) -> Result<(), ConfineError> {
    apply(role, &build(role, mode)?)
}

/// Installs programs made by [`build`] (no allocation: usable after fork).
pub fn apply(role: Role, progs: &[BpfProgram]) -> Result<(), ConfineError> {
    for p in progs {
        let r = match role {
            Role::Sentry { .. } => seccompiler::apply_filter_all_threads(p),
            Role::Gofer => seccompiler::apply_filter(p),
        };
        r.map_err(seccomp_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_in_child(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the test child makes syscalls only and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = f();
            // SAFETY: leaves the forked child without unwinding.
            unsafe { libc::_exit(code) };
        }
        let mut st = 0;
        // SAFETY: reaps our own child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        st
    }

    #[test]
    fn policies_compile_and_every_entry_has_a_reason() {
        for role in [Role::Sentry { proc_dir: 5 }, Role::Gofer] {
            let progs = build(role, Mode::Enforce).expect("compiles");
            assert!(!progs.is_empty() && progs.iter().all(|p| p.len() < 4096));
        }
        for r in policy::SENTRY.iter().chain(policy::GOFER) {
            assert!(!r.why.is_empty(), "syscall {} has no reason", r.nr);
        }
        for r in policy::SENTRY_REFUSALS.iter().chain(policy::GOFER_REFUSALS) {
            assert!(policy::SENTRY.iter().any(|a| a.nr == r.nr), "refused {} must also be allowed", r.nr);
        }
    }

    /// docs/security.md names every syscall of both policies.
    #[test]
    fn security_doc_lists_every_policy_syscall() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md"))
            .expect("docs/security.md");
        let (sentry, gofer) = doc.split_once("**Gofer**").expect("a **Gofer** paragraph");
        let sentry = sentry.split_once("**Sentry**").expect("a **Sentry** paragraph").1;
        for (text, rules) in [(sentry, policy::SENTRY), (gofer, policy::GOFER)] {
            let words: Vec<&str> = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
            for r in rules {
                let name = rvisor_syscalls::syscall_name(r.nr as u64).expect("known syscall");
                assert!(words.contains(&name), "docs/security.md does not list {name}");
            }
        }
    }

    /// Builds the sentry filter around a fresh procfs fd, then runs `f` in a
    /// child that installs it first.
    fn confined_child(f: fn(RawFd) -> i32) -> i32 {
        // SAFETY: literal path; the fd is closed when the test process exits.
        let proc_dir = unsafe { libc::open(c"/proc".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        assert!(proc_dir >= 0);
        let role = Role::Sentry { proc_dir };
        let progs = build(role, Mode::Enforce).expect("compiles");
        run_in_child(move || if apply(role, &progs).is_err() { 10 } else { f(proc_dir) })
    }

    fn killed_by_seccomp(st: i32) -> bool {
        libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGSYS
    }

    #[test]
    fn sentry_filter_allows_procfs_reopens_and_refuses_clone3() {
        let st = confined_child(|proc_dir| {
            // SAFETY: raw syscalls with valid literal paths.
            unsafe {
                if libc::openat(proc_dir, c"self/maps".as_ptr(), libc::O_RDONLY) < 0 {
                    return 11;
                }
                if libc::syscall(libc::SYS_clone3, 0, 0) != -1 || *libc::__errno_location() != libc::ENOSYS {
                    return 12;
                }
                // Paths are refused, not fatal (glibc's malloc probes one).
                if libc::open(c"/etc/passwd".as_ptr(), libc::O_RDONLY) != -1
                    || *libc::__errno_location() != libc::ENOENT
                {
                    return 13;
                }
                if libc::openat(libc::AT_FDCWD, c"/etc/passwd".as_ptr(), libc::O_RDONLY) != -1 {
                    return 14;
                }
            }
            0
        });
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "status {st:#x}");
    }

    #[test]
    fn sentry_filter_kills_on_foreign_socket_fork_create_and_tiocsti() {
        let st = confined_child(|_| {
            // SAFETY: a socket call with constant arguments, killed before it acts.
            unsafe { libc::socket(libc::AF_BLUETOOTH, libc::SOCK_STREAM, 0) }
        });
        assert!(killed_by_seccomp(st), "AF_BLUETOOTH socket: status {st:#x}");
        let st = confined_child(|_| {
            // SAFETY: a fork-like clone, killed before it acts.
            unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) as i32 }
        });
        assert!(killed_by_seccomp(st), "fork: status {st:#x}");
        let st = confined_child(|d| {
            // SAFETY: literal path, killed before it acts.
            unsafe { libc::openat(d, c"x".as_ptr(), libc::O_RDWR | libc::O_CREAT, 0o600) }
        });
        assert!(killed_by_seccomp(st), "O_CREAT: status {st:#x}");
        let st = confined_child(|_| {
            // SAFETY: one byte from a literal, killed before it acts.
            unsafe { libc::ioctl(0, libc::TIOCSTI, c"x".as_ptr()) }
        });
        assert!(killed_by_seccomp(st), "TIOCSTI: status {st:#x}");
    }

    #[test]
    fn gofer_filter_kills_on_exec_and_socket() {
        let progs = build(Role::Gofer, Mode::Enforce).expect("compiles");
        let st = run_in_child(move || {
            if apply(Role::Gofer, &progs).is_err() {
                return 10;
            }
            // SAFETY: killed before it acts.
            unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) }
        });
        assert!(killed_by_seccomp(st), "socket: status {st:#x}");
    }
}
