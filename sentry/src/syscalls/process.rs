//! Processes: pids, execve, clone/fork/vfork, exit_group, process groups
//! and sessions, rlimits, prctl, rusage. Credentials are in creds.rs, wait
//! in wait.rs.

use std::sync::Arc;

use rvisor_syscalls::abi::Rlimit;
use rvisor_syscalls::{Errno, SysResult};

use super::{Outcome, SyscallCtx};
use crate::kernel::run::{self, new_child_task, Start};
use crate::kernel::task::Usage;
use crate::kernel::wait::{wait_fds, Woken};
use crate::kernel::{ThreadGroup, STUB_FD};
use crate::platform::stub::STUB_EMPTY_STRING;

pub fn sys_getpid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.tg.tgid as i64)
}

pub fn sys_getppid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.tg.parent().map(|p| p.tgid as i64).unwrap_or(0))
}

/// exit_group(2): the host runs it, after the sentry hands over the robust
/// mutexes of the other threads, which die with no exit stop the sentry can
/// count on (kernel/robust.rs). Not a passthrough for that reason. systrap
/// runs it at the stub's site before any dispatch (kernel/systrap).
pub fn sys_exit_group(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    crate::kernel::robust::hand_over_process(ctx.kernel, &ctx.task.tg, Some(ctx.task.host_tid()));
    if ctx.let_through() {
        return Ok(0);
    }
    ctx.inject(libc::SYS_exit_group, [a[0], 0, 0, 0, 0, 0])
}

pub fn sys_gettid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.tid as i64)
}

pub fn sys_set_tid_address(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    // The host must clear and wake this address at thread exit, so set it there too.
    ctx.inject(libc::SYS_set_tid_address, [a[0], 0, 0, 0, 0, 0])?;
    *ctx.task.clear_child_tid.lock().unwrap_or_else(|e| e.into_inner()) = a[0];
    Ok(ctx.task.tid as i64)
}

/// Most bytes of argv+envp accepted (Linux: a quarter of the stack limit, capped).
const MAX_ARG_BYTES: usize = 2 << 20;

fn exec_common(ctx: &mut SyscallCtx<'_>, dirfd: i32, pathp: u64, argvp: u64, envp: u64, flags: i32) -> SysResult {
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = ctx.mem.read_path(pathp)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    let mut argv = ctx.mem.read_string_array(argvp, MAX_ARG_BYTES)?;
    // An empty argv gets "" as argv[0], as Linux adds since 5.18 (CVE-2021-4034).
    if argv.is_empty() {
        argv.push(Vec::new());
    }
    let envv = ctx.mem.read_string_array(envp, MAX_ARG_BYTES)?;
    let plan = crate::loader::prepare(ctx, dirfd, &path, argv, envv, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    // Point of no return: replace the image with the stub, then load.
    let r = ctx.inject(libc::SYS_execveat, [STUB_FD as u64, STUB_EMPTY_STRING, 0, 0, libc::AT_EMPTY_PATH as u64, 0])?;
    Errno::result(r)?;
    let stub_regs = ctx.tracee.get_regs()?;
    ctx.set_regs(stub_regs);
    crate::kernel::signal::reset_on_exec(&ctx.task.tg);
    ctx.task.creds.lock().unwrap_or_else(|e| e.into_inner()).caps_after_exec();
    super::fd::release_locks(ctx.task.tg.tgid, &ctx.task.files().close_on_exec());
    ctx.task.tg.lock().mlock = Default::default();
    if let Err(e) = crate::loader::load(ctx, plan) {
        // Past the point of no return: like Linux, the process dies.
        tracing::warn!(tid = ctx.task.tid, error = ?e, "exec failed after the point of no return");
        // Linux forces SIGSEGV here (bprm_execve); the stub has no handlers, so it is fatal.
        // SAFETY: signals our own tracee.
        unsafe { libc::syscall(libc::SYS_tgkill, ctx.task.tg.host_pid(), ctx.task.host_tid(), libc::SIGSEGV) };
        return Err(e);
    }
    ctx.task.vfork_release();
    ctx.outcome = Outcome::RegsSet;
    Ok(0)
}

pub fn sys_execve(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    exec_common(ctx, super::AT_FDCWD, a[0], a[1], a[2], 0)
}

pub fn sys_execveat(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    exec_common(ctx, a[0] as i32, a[1], a[2], a[3], a[4] as i32)
}

const CLONE_NS_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// Arguments of clone in clone(2) register order.
struct CloneArgs {
    flags: u64,
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
    /// Where CLONE_PIDFD stores the pidfd: clone(2) uses `parent_tid`,
    /// clone3 a field of its own.
    pidfd: u64,
}

fn do_clone(ctx: &mut SyscallCtx<'_>, c: CloneArgs) -> SysResult {
    let flags = c.flags;
    let thread = flags & libc::CLONE_THREAD as u64 != 0;
    if thread && flags & libc::CLONE_SIGHAND as u64 == 0
        || flags & libc::CLONE_SIGHAND as u64 != 0 && flags & libc::CLONE_VM as u64 == 0
    {
        return Err(Errno::EINVAL);
    }
    let pidfd = flags & libc::CLONE_PIDFD as u64 != 0;
    if pidfd
        && (thread
            || flags & libc::CLONE_DETACHED as u64 != 0
            || flags & libc::CLONE_PARENT_SETTID as u64 != 0 && c.pidfd == c.parent_tid)
    {
        return Err(Errno::EINVAL);
    }
    // A new mount or user namespace cannot share the filesystem context:
    // these combinations are invalid before namespaces are refused.
    if flags & libc::CLONE_FS as u64 != 0 && flags & (libc::CLONE_NEWNS | libc::CLONE_NEWUSER) as u64 != 0
        || flags & (libc::CLONE_NEWPID | libc::CLONE_NEWUSER) as u64 != 0
            && flags & (libc::CLONE_THREAD | libc::CLONE_PARENT) as u64 != 0
    {
        return Err(Errno::EINVAL);
    }
    // Linux stores the pidfd before the child runs and fails the clone
    // (EFAULT) if it cannot: probe the address first.
    if pidfd {
        ctx.mem.write_val(c.pidfd, &-1i32)?;
    }
    if flags & CLONE_NS_FLAGS != 0 {
        return ctx.unsupported("clone(namespace flags)", Errno::EPERM);
    }
    // The sandbox's init has no parent to share (Linux: its pid namespace's init may not).
    if flags & libc::CLONE_PARENT as u64 != 0 && ctx.task.tg.tgid == 1 {
        return Err(Errno::EINVAL);
    }
    let nproc = ctx.task.tg.rlimit(libc::RLIMIT_NPROC as usize).rlim_cur;
    let _slot = if thread { None } else { Some(ForkSlot::take(ctx.kernel, nproc)?) };
    // Ids are virtual: the sentry writes them itself instead of the kernel.
    let strip = (libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_SETTID
        | libc::CLONE_VFORK
        | libc::CLONE_PTRACE
        | libc::CLONE_UNTRACED
        | libc::CLONE_PIDFD
        | libc::CLONE_PARENT) as u64;
    let mut host_flags = flags & !strip;
    if !thread {
        // The sentry, not an app process, is every process's host parent.
        host_flags |= libc::CLONE_PARENT as u64;
    }
    let csig = flags & 0xff;
    if csig > 64 {
        return Err(Errno::EINVAL);
    }
    host_flags = (host_flags & !0xff) | if thread { 0 } else { libc::SIGCHLD as u64 };
    let vfork = flags & libc::CLONE_VFORK as u64 != 0;
    // Made before the clone, so nothing can fail once the child exists.
    let done = if vfork { Some(Arc::new(crate::kernel::wait::EventFd::new()?)) } else { None };
    let fork_site = crate::kernel::systrap::fork_site(host_flags);
    let tg = ctx.task.tg.clone();
    // Not while another thread's systrap chunk is mapped but not yet
    // MADV_DONTFORK, nor its fd in flight, until systrap knows what the new
    // process shares (`note_clone_owned` below).
    let no_set_up = (!thread).then(|| tg.fork_guard.lock().unwrap_or_else(|e| e.into_inner()));
    let (host_tid, sigmask) =
        ctx.inject_clone(libc::SYS_clone, [host_flags, c.stack, 0, c.child_tid, c.tls, 0], fork_site)?;
    let host_tid = Errno::result(host_tid)? as i32;
    let child = match new_child_task(ctx.kernel, ctx.task, host_tid, flags) {
        Ok(c) => c,
        Err(e) => {
            // The parked child never ran app code: kill and reap it.
            // SAFETY: signals and reaps our own (CLONE_PARENT) child.
            unsafe {
                libc::kill(host_tid, libc::SIGKILL);
                libc::waitpid(host_tid, std::ptr::null_mut(), libc::__WALL);
            }
            return Err(e);
        }
    };
    if !thread && flags & libc::CLONE_SIGHAND as u64 != 0 {
        ctx.task.tg.lock().shares_sighand = true;
        child.tg.lock().shares_sighand = true;
    }
    if !thread {
        // A CLONE_PARENT child signals its parent as the caller does.
        let sig = if flags & libc::CLONE_PARENT as u64 != 0 { ctx.task.tg.lock().exit_signal } else { csig as i32 };
        child.tg.lock().exit_signal = sig;
    }
    if flags & libc::CLONE_CHILD_CLEARTID as u64 != 0 {
        *child.clear_child_tid.lock().unwrap_or_else(|e| e.into_inner()) = c.child_tid;
    }
    if flags & libc::CLONE_PARENT_SETTID as u64 != 0 {
        let _ = ctx.mem.write_val(c.parent_tid, &child.tid);
    }
    if flags & libc::CLONE_PIDFD as u64 != 0 {
        let file = super::pidfd::new_pidfd(child.tg.clone(), None, false);
        if let Ok(fd) = ctx.task.files().install(file, true, 0, ctx.task.nofile_limit()) {
            let _ = ctx.mem.write_val(c.pidfd, &fd);
        }
    }
    let mut regs = *ctx.regs()?;
    regs.rax = 0;
    if c.stack != 0 {
        regs.rsp = c.stack;
    }
    let child_tid_addr = if flags & libc::CLONE_CHILD_SETTID as u64 != 0 { Some(c.child_tid) } else { None };
    if let Some(ev) = &done {
        child.arm_vfork(ev);
    }
    // systrap: what the child inherits of the virtual signal state, and a
    // copy of the chunk a fork child may be born on.
    crate::kernel::systrap::note_clone(ctx.task.host_tid(), host_tid, flags, regs.rsp);
    crate::kernel::systrap::note_clone_owned(&ctx.task.tg, &child.tg, flags);
    crate::kernel::systrap::note_clone_chunks(&ctx.task.tg, &child.tg, flags);
    drop(no_set_up);
    let vtid = child.tid;
    run::spawn(ctx.kernel.clone(), child, Start::Cloned { regs: Box::new(regs), child_tid_addr, sigmask }, None);
    if let Some(ev) = done {
        // The parent sleeps until the child execs or exits (its memory is shared meanwhile).
        let _state = crate::kernel::task::SyscallStateGuard::enter(ctx.task, crate::kernel::task::SYSCALL_SLEEPING);
        loop {
            if wait_fds(&[(ev.raw(), libc::POLLIN)], -1, 1000) == Woken::Ready && ev.drain() {
                break;
            }
            if ctx.kernel.shutting_down() {
                break;
            }
        }
    }
    Ok(vtid as i64)
}

/// A process slot under RLIMIT_NPROC, held from the check until the new
/// task is registered (or the fork failed).
struct ForkSlot<'a>(&'a crate::kernel::Kernel);

impl<'a> ForkSlot<'a> {
    fn take(kernel: &'a crate::kernel::Kernel, nproc: u64) -> Result<ForkSlot<'a>, Errno> {
        let mut pids = kernel.pids.lock().unwrap_or_else(|e| e.into_inner());
        if (pids.tasks.len() + pids.forking) as u64 >= nproc {
            return Err(Errno::EAGAIN);
        }
        pids.forking += 1;
        Ok(ForkSlot(kernel))
    }
}

impl Drop for ForkSlot<'_> {
    fn drop(&mut self) {
        self.0.pids.lock().unwrap_or_else(|e| e.into_inner()).forking -= 1;
    }
}

pub fn sys_clone(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    // x86_64 order: flags, stack, parent_tid, child_tid, tls.
    do_clone(ctx, CloneArgs { flags: a[0], stack: a[1], parent_tid: a[2], child_tid: a[3], tls: a[4], pidfd: a[2] })
}

pub fn sys_fork(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    do_clone(ctx, CloneArgs { flags: libc::SIGCHLD as u64, stack: 0, parent_tid: 0, child_tid: 0, tls: 0, pidfd: 0 })
}

pub fn sys_vfork(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    let flags = (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64;
    do_clone(ctx, CloneArgs { flags, stack: 0, parent_tid: 0, child_tid: 0, tls: 0, pidfd: 0 })
}

pub fn sys_clone3(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (argp, size) = (a[0], a[1] as usize);
    if !(64..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; size];
    ctx.mem.read(argp, &mut raw)?;
    let word = |i: usize| u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls) =
        (word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7));
    if size > 64 && raw[64..].iter().any(|&b| b != 0) {
        return ctx.unsupported("clone3(set_tid/cgroup)", Errno::EINVAL);
    }
    if exit_signal > 64 || flags & 0xff != 0 {
        return Err(Errno::EINVAL);
    }
    // A stack comes with its size, and a size with a stack.
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let sp = if stack != 0 { stack.checked_add(stack_size).ok_or(Errno::EFAULT)? } else { 0 };
    do_clone(ctx, CloneArgs { flags: flags | exit_signal, stack: sp, parent_tid, child_tid, tls, pidfd })
}

fn group_of(ctx: &SyscallCtx<'_>, pid: i32) -> Result<Arc<ThreadGroup>, Errno> {
    if pid == 0 {
        return Ok(ctx.task.tg.clone());
    }
    ctx.kernel.group_by_vpid(pid).filter(|g| !g.lock().reaped).ok_or(Errno::ESRCH)
}

pub fn sys_getpgid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    Ok(group_of(ctx, a[0] as i32)?.lock().pgid as i64)
}

pub fn sys_getpgrp(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    Ok(ctx.task.tg.lock().pgid as i64)
}

pub fn sys_getsid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    Ok(group_of(ctx, a[0] as i32)?.lock().sid as i64)
}

pub fn sys_setpgid(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, pgid) = (a[0] as i32, a[1] as i32);
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let target = group_of(ctx, pid)?;
    let me = &ctx.task.tg;
    let is_self = Arc::ptr_eq(&target, me);
    let is_child = target.parent().is_some_and(|p| Arc::ptr_eq(&p, me));
    if !is_self && !is_child {
        return Err(Errno::ESRCH);
    }
    let my_sid = me.lock().sid;
    let new = if pgid == 0 { target.tgid } else { pgid };
    // Joining another group: it must exist in the caller's session. A
    // zombie is still in its group until it is reaped (a shell puts a
    // pipeline's second process into the group of a first that has finished).
    let group_ok = new == target.tgid
        || ctx.kernel.all_groups().iter().any(|g| {
            let st = g.lock();
            !st.reaped && st.pgid == new && st.sid == my_sid
        });
    let mut t = target.lock();
    if t.sid != my_sid {
        return Err(Errno::EPERM);
    }
    if is_child && t.execed {
        return Err(Errno::EACCES);
    }
    if t.sid == target.tgid || !group_ok {
        return Err(Errno::EPERM);
    }
    t.pgid = new;
    Ok(0)
}

pub fn sys_setsid(ctx: &mut SyscallCtx<'_>, _a: [u64; 6]) -> SysResult {
    let tg = &ctx.task.tg;
    let tgid = tg.tgid;
    let leader_of_group = ctx.kernel.all_groups().iter().any(|g| g.tgid != tgid && g.lock().pgid == tgid);
    let mut st = tg.lock();
    if st.pgid == tgid || leader_of_group {
        return Err(Errno::EPERM);
    }
    st.pgid = tgid;
    st.sid = tgid;
    Ok(tgid as i64)
}

fn check_resource(res: u32) -> Result<usize, Errno> {
    if res >= 16 {
        return Err(Errno::EINVAL);
    }
    Ok(res as usize)
}

pub fn sys_prlimit64(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, res, newp, oldp) = (a[0] as i32, a[1] as u32, a[2], a[3]);
    let res = check_resource(res)?;
    let tg = group_of(ctx, pid)?;
    let new = if newp != 0 { Some(ctx.mem.read_val::<Rlimit>(newp)?) } else { None };
    if let Some(n) = new {
        if n.rlim_cur > n.rlim_max {
            return Err(Errno::EINVAL);
        }
    }
    let mut st = tg.lock();
    let old = st.rlimits[res];
    if let Some(n) = new {
        if n.rlim_max > old.rlim_max && ctx.task.creds().euid != 0 {
            return Err(Errno::EPERM);
        }
        if res == libc::RLIMIT_NOFILE as usize && n.rlim_max > crate::vfs::fdtable::MAX_FDS as u64 {
            return Err(Errno::EPERM);
        }
        st.rlimits[res] = n;
    }
    drop(st);
    if oldp != 0 {
        ctx.mem.write_val(oldp, &old)?;
    }
    Ok(0)
}

pub fn sys_getrlimit(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let res = check_resource(a[0] as u32)?;
    let r = ctx.task.tg.rlimit(res);
    ctx.mem.write_val(a[1], &r)?;
    Ok(0)
}

pub fn sys_setrlimit(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    sys_prlimit64(ctx, [0, a[0], a[1], 0, 0, 0])
}

pub fn sys_prctl(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (op, arg2) = (a[0] as i32, a[1]);
    match op {
        libc::PR_SET_NAME => {
            let name = ctx.mem.read_cstring(arg2, 4096).or_else(|e| {
                if e == Errno::ENAMETOOLONG {
                    Ok(Vec::new())
                } else {
                    Err(e)
                }
            })?;
            ctx.task.set_comm(&name);
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let mut name = ctx.task.comm();
            name.resize(16, 0);
            ctx.mem.write(arg2, &name)?;
            Ok(0)
        }
        libc::PR_SET_PDEATHSIG => {
            if arg2 > 64 {
                return Err(Errno::EINVAL);
            }
            ctx.task.tg.lock().pdeath_signal = arg2 as i32;
            Ok(0)
        }
        libc::PR_GET_PDEATHSIG => {
            let sig = ctx.task.tg.lock().pdeath_signal;
            ctx.mem.write_val(arg2, &sig)?;
            Ok(0)
        }
        libc::PR_GET_DUMPABLE => Ok(ctx.task.tg.lock().dumpable as i64),
        libc::PR_SET_DUMPABLE => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            ctx.task.tg.lock().dumpable = arg2 == 1;
            Ok(0)
        }
        libc::PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL);
            }
            ctx.task.tg.lock().no_new_privs = true;
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => {
            if arg2 != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL);
            }
            Ok(ctx.task.tg.lock().no_new_privs as i64)
        }
        libc::PR_SET_CHILD_SUBREAPER => {
            ctx.task.tg.lock().subreaper = arg2 != 0;
            Ok(0)
        }
        libc::PR_GET_CHILD_SUBREAPER => {
            let on = ctx.task.tg.lock().subreaper as i32;
            ctx.mem.write_val(arg2, &on)?;
            Ok(0)
        }
        libc::PR_SET_SECCOMP => super::seccomp::prctl_set(ctx, arg2, a[2]),
        libc::PR_GET_SECCOMP => super::seccomp::prctl_get(ctx),
        libc::PR_GET_SECUREBITS => Ok(0),
        libc::PR_SET_SECUREBITS => {
            if !ctx.task.creds().has_cap(crate::kernel::creds::CAP_SETPCAP) {
                return Err(Errno::EPERM);
            }
            // No securebits are supported: only "none" can be set.
            if arg2 == 0 {
                Ok(0)
            } else {
                ctx.unsupported("prctl(PR_SET_SECUREBITS)", Errno::EINVAL)
            }
        }
        libc::PR_CAPBSET_READ => {
            if arg2 > 40 {
                return Err(Errno::EINVAL);
            }
            Ok((ctx.task.creds().caps.bounding >> arg2 & 1) as i64)
        }
        libc::PR_CAPBSET_DROP => {
            if arg2 > 40 {
                return Err(Errno::EINVAL);
            }
            let mut c = ctx.task.creds.lock().unwrap_or_else(|e| e.into_inner());
            if !c.has_cap(crate::kernel::creds::CAP_SETPCAP) {
                return Err(Errno::EPERM);
            }
            c.caps.bounding &= !(1 << arg2);
            Ok(0)
        }
        libc::PR_CAP_AMBIENT => {
            // Ambient capabilities are not supported: the set is always empty.
            // Argument checks as Linux's: unused arguments must be 0, caps valid.
            let (cap, rest) = (a[2], a[3] | a[4]);
            match arg2 as i32 {
                libc::PR_CAP_AMBIENT_CLEAR_ALL if cap | rest == 0 => Ok(0),
                libc::PR_CAP_AMBIENT_CLEAR_ALL => Err(Errno::EINVAL),
                _ if rest != 0 || cap > 40 => Err(Errno::EINVAL),
                libc::PR_CAP_AMBIENT_IS_SET => Ok(0),
                libc::PR_CAP_AMBIENT_RAISE => Err(Errno::EPERM),
                libc::PR_CAP_AMBIENT_LOWER => Ok(0),
                _ => Err(Errno::EINVAL),
            }
        }
        // Settings of the calling thread or its memory alone, with nothing to
        // virtualize: the host applies (and checks) them in the app's context.
        libc::PR_SET_TIMERSLACK
        | libc::PR_GET_TIMERSLACK
        | libc::PR_SET_TSC
        | libc::PR_GET_TSC
        | libc::PR_SET_THP_DISABLE
        | libc::PR_GET_THP_DISABLE
        | libc::PR_SET_TIMING
        | libc::PR_GET_TIMING
        | libc::PR_GET_SPECULATION_CTRL
        | libc::PR_SET_SPECULATION_CTRL => Errno::result(ctx.inject(libc::SYS_prctl, a)?),
        _ => ctx.unsupported(&format!("prctl({op})"), Errno::EINVAL),
    }
}

pub fn sys_getrusage(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let who = a[0] as i32;
    if who != libc::RUSAGE_SELF && who != libc::RUSAGE_CHILDREN && who != libc::RUSAGE_THREAD {
        return Err(Errno::EINVAL);
    }
    let used = match who {
        libc::RUSAGE_CHILDREN => ctx.task.tg.lock().children_usage,
        libc::RUSAGE_THREAD => thread_cpu(ctx.task.host_tid()),
        _ => process_cpu(ctx.task.tg.host_pid()),
    };
    ctx.mem.write(a[1], &used.to_bytes())?;
    Ok(0)
}

/// Microseconds on a host CPU-time clock.
fn cpu_clock_us(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer; the clock names one of our own tasks.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// A live process's or thread's user and system time from the host's CPU
/// clocks (`~id << 3 | kind`: 0 = user+system, 1 = user; 4 = per thread).
fn cpu_usage(id: i32, thread: bool) -> Usage {
    let base = (!id) << 3 | if thread { 4 } else { 0 };
    let total = cpu_clock_us(base);
    let user = cpu_clock_us(base | 1).min(total);
    Usage { utime_us: user, stime_us: total - user, ..Default::default() }
}

pub fn process_cpu(host_pid: i32) -> Usage {
    cpu_usage(host_pid, false)
}

fn thread_cpu(host_tid: i32) -> Usage {
    cpu_usage(host_tid, true)
}
