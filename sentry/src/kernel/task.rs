//! Tasks (threads) and thread groups (processes).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rvisor_syscalls::abi::{KernelSigaction, Rlimit};
use rvisor_syscalls::Errno;

use super::creds::Creds;
use super::signal::SigInfoQueue;
use super::wait::EventFd;
use crate::vfs::{FdTable, Location};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Root, working directory and umask: shared by CLONE_FS tasks.
pub struct FsContext {
    state: Mutex<FsState>,
}

#[derive(Clone)]
pub struct FsState {
    pub root: Location,
    pub cwd: Location,
    pub umask: u32,
}

impl FsContext {
    pub fn new(root: Location, cwd: Location, umask: u32) -> Arc<FsContext> {
        Arc::new(FsContext { state: Mutex::new(FsState { root, cwd, umask }) })
    }

    pub fn get(&self) -> FsState {
        lock(&self.state).clone()
    }

    pub fn set_cwd(&self, cwd: Location) {
        lock(&self.state).cwd = cwd;
    }

    pub fn set_root(&self, root: Location) {
        lock(&self.state).root = root;
    }

    /// Sets the umask, returning the old one.
    pub fn swap_umask(&self, mask: u32) -> u32 {
        std::mem::replace(&mut lock(&self.state).umask, mask & 0o777)
    }

    pub fn umask(&self) -> u32 {
        lock(&self.state).umask
    }

    /// A copy for a task created without CLONE_FS.
    pub fn fork(&self) -> Arc<FsContext> {
        Arc::new(FsContext { state: Mutex::new(self.get()) })
    }
}

/// Where the loader put the image's parts, as Linux's mm_struct records them
/// (for /proc/[pid]/stat, cmdline and environ).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmLayout {
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_stack: u64,
    /// The argv strings: /proc/[pid]/cmdline reads this live memory, so a
    /// program that rewrites its argv (setproctitle) is shown as it wants.
    pub arg_start: u64,
    pub arg_end: u64,
    /// The environment strings, for /proc/[pid]/environ.
    pub env_start: u64,
    pub env_end: u64,
}

/// What the loader recorded about the running image.
#[derive(Clone, Default)]
pub struct ImageInfo {
    /// Sandbox path of the executable (for /proc/[pid]/exe).
    pub exe: Option<Location>,
    /// Keeps the executable from being written while the process runs it.
    pub exe_access: Option<Arc<crate::vfs::writecount::ExecAccess>>,
    pub layout: MmLayout,
    /// The auxiliary vector given at exec, AT_NULL included (/proc/[pid]/auxv).
    pub auxv: Vec<(u64, u64)>,
    pub brk_start: u64,
    pub brk: u64,
    /// Host-mapped ranges -> sandbox path, for /proc/[pid]/maps.
    pub file_maps: Vec<(u64, u64, Vec<u8>)>,
}

/// Memory locked with mlock/mlockall. The sandbox does not pin host memory
/// (the app process's host RLIMIT_MEMLOCK could not cover what the
/// sandbox's root may lock); it keeps Linux's accounting and errors.
#[derive(Clone, Debug, Default)]
pub struct MlockState {
    /// Locked page ranges [start, end), sorted and disjoint.
    pub ranges: Vec<(u64, u64)>,
    /// mlockall(MCL_CURRENT): everything mapped counts as locked.
    pub all: bool,
    /// mlockall(MCL_FUTURE).
    pub future: bool,
}

/// Scheduling attributes kept for sched_getattr/sched_getscheduler (never
/// applied on the host).
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedExtra {
    /// SCHED_DEADLINE runtime, deadline and period (ns).
    pub dl: (u64, u64, u64),
    /// SCHED_RESET_ON_FORK: children start with the default policy.
    pub reset_on_fork: bool,
}

/// How a process ended, as wait(2) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32, bool),
}

impl ExitStatus {
    /// The Linux wait status word.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => (code & 0xff) << 8,
            ExitStatus::Signaled(sig, core) => (sig & 0x7f) | if core { 0x80 } else { 0 },
        }
    }
}

/// Mutable per-process state.
pub struct GroupState {
    pub exit: Option<ExitStatus>,
    /// Reaped by the parent's wait.
    pub reaped: bool,
    /// The parent has been told of the exit (SIGCHLD sent): until then wait
    /// does not report it, as on Linux, where both happen under one lock.
    pub exit_reported: bool,
    pub children: Vec<Arc<ThreadGroup>>,
    pub parent: Option<Weak<ThreadGroup>>,
    pub pgid: i32,
    pub sid: i32,
    pub live_threads: usize,
    pub image: ImageInfo,
    pub rlimits: [Rlimit; 16],
    /// Job-control state change not yet collected by the parent's wait.
    pub job: Option<JobEvent>,
    /// Whether the process is currently group-stopped.
    pub stopped: bool,
    /// A default-action SIGTSTP/SIGTTIN/SIGTTOU delivered as a host SIGSTOP
    /// (the host would discard it: app processes' host groups are orphaned);
    /// the stop is reported as this signal.
    pub stop_as: Option<i32>,
    /// Real uid at exit (the SIGCHLD sender uid).
    pub exit_uid: u32,
    /// Signal sent to the parent when this process ends (clone's low byte; 0 = none).
    pub exit_signal: i32,
    /// Signal dispositions, mirrored from the app's rt_sigaction calls (the
    /// host holds the real ones and delivers); index = signal - 1.
    pub actions: [KernelSigaction; 64],
    /// PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here.
    pub subreaper: bool,
    /// PR_SET_PDEATHSIG: signal raised in this process when its parent exits.
    pub pdeath_signal: i32,
    /// PR_SET_DUMPABLE.
    pub dumpable: bool,
    /// PR_SET_NO_NEW_PRIVS (the app's view; the host flag is always set).
    pub no_new_privs: bool,
    /// personality(2) persona.
    pub personality: u32,
    /// Nice value (getpriority/setpriority); not applied on the host.
    pub nice: i32,
    /// Resources this process used, known once it has ended (from the host's wait4).
    pub usage: Usage,
    /// Resources used by its reaped children and their reaped descendants.
    pub children_usage: Usage,
    /// Set when the leader thread has exited: what /proc still shows of it.
    pub leader_exit: Option<LeaderExit>,
    /// mlock(2) state: not inherited by children, dropped at exec.
    pub mlock: MlockState,
    /// The process has run execve since it was forked (Linux's cleared
    /// PF_FORKNOEXEC): its parent may no longer setpgid it (EACCES).
    pub execed: bool,
    /// Another process shares its signal handlers on the host (clone with
    /// CLONE_SIGHAND but not CLONE_THREAD): `actions` may lag behind them.
    pub shares_sighand: bool,
    /// When the host fires the timers it runs for this process (its
    /// real-time timer and POSIX timers).
    pub timer_wakes: crate::kernel::timer_wakes::TimerWakes,
}

/// CPU time and counters as getrusage(2) reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub utime_us: u64,
    pub stime_us: u64,
    pub maxrss_kb: i64,
    pub minflt: i64,
    pub majflt: i64,
    pub nvcsw: i64,
    pub nivcsw: i64,
}

impl Usage {
    pub fn from_host(r: &libc::rusage) -> Usage {
        let us = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64;
        Usage {
            utime_us: us(r.ru_utime),
            stime_us: us(r.ru_stime),
            maxrss_kb: r.ru_maxrss,
            minflt: r.ru_minflt,
            majflt: r.ru_majflt,
            nvcsw: r.ru_nvcsw,
            nivcsw: r.ru_nivcsw,
        }
    }

    /// Adds a reaped child's usage (maxrss is the largest, as Linux keeps it).
    pub fn add(&mut self, o: &Usage) {
        self.utime_us += o.utime_us;
        self.stime_us += o.stime_us;
        self.maxrss_kb = self.maxrss_kb.max(o.maxrss_kb);
        self.minflt += o.minflt;
        self.majflt += o.majflt;
        self.nvcsw += o.nvcsw;
        self.nivcsw += o.nivcsw;
    }

    /// `struct rusage` (144 bytes).
    pub fn to_bytes(self) -> [u8; 144] {
        let mut b = [0u8; 144];
        let longs: [i64; 18] = [
            (self.utime_us / 1_000_000) as i64,
            (self.utime_us % 1_000_000) as i64,
            (self.stime_us / 1_000_000) as i64,
            (self.stime_us % 1_000_000) as i64,
            self.maxrss_kb,
            0,
            0,
            0,
            self.minflt,
            self.majflt,
            0,
            0,
            0,
            0,
            0,
            0,
            self.nvcsw,
            self.nivcsw,
        ];
        for (i, v) in longs.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }
}

/// A process whose leader thread is gone (a zombie, or a leader that called
/// pthread_exit) still has a name and owner in /proc.
#[derive(Clone, Debug)]
pub struct LeaderExit {
    pub comm: Vec<u8>,
    pub creds: Creds,
}

/// A stop or continue the parent can collect with WUNTRACED/WCONTINUED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEvent {
    Stopped(i32),
    Continued,
}

/// A process: a set of tasks sharing an address space and a pid.
pub struct ThreadGroup {
    pub tgid: i32,
    /// Host pid of the leader thread.
    pub host_pid: AtomicI32,
    pub state: Mutex<GroupState>,
    /// Notified when a child changes state. Each wait4 waiter registers its
    /// own eventfd (several threads may wait at once: one draining a shared
    /// eventfd could swallow another's wake-up).
    pub child_event: crate::kernel::wait::WaitQueue,
    /// Virtual siginfos of process-directed signals raised by the sentry.
    pub sig_info: SigInfoQueue,
    /// SIGKILL was sent: its threads' waits in the sentry end at once, even
    /// where the host thread, already gone, can no longer say so.
    pub killed: std::sync::atomic::AtomicBool,
    /// Held by a systrap thread's set-up, whose chunk is shared memory until
    /// it is marked MADV_DONTFORK, and by a fork: a fork in between would
    /// give the child the parent thread's slot (kernel/systrap, `set_up`).
    pub fork_guard: Mutex<()>,
}

impl ThreadGroup {
    pub fn new(tgid: i32, host_pid: i32, parent: Option<&Arc<ThreadGroup>>) -> Result<Arc<ThreadGroup>, Errno> {
        let (pgid, sid, rlimits, image, actions, no_new_privs, personality, nice) = match parent {
            Some(p) => {
                let s = lock(&p.state);
                (s.pgid, s.sid, s.rlimits, s.image.clone(), s.actions, s.no_new_privs, s.personality, s.nice)
            }
            None => {
                (tgid, tgid, default_rlimits(), ImageInfo::default(), [KernelSigaction::default(); 64], false, 0, 0)
            }
        };
        Ok(Arc::new(ThreadGroup {
            tgid,
            host_pid: AtomicI32::new(host_pid),
            killed: Default::default(),
            state: Mutex::new(GroupState {
                exit: None,
                reaped: false,
                exit_reported: false,
                children: Vec::new(),
                parent: parent.map(Arc::downgrade),
                pgid,
                sid,
                live_threads: 0,
                image,
                rlimits,
                job: None,
                stopped: false,
                stop_as: None,
                exit_uid: 0,
                exit_signal: libc::SIGCHLD,
                actions,
                subreaper: false,
                pdeath_signal: 0,
                dumpable: true,
                no_new_privs,
                personality,
                nice,
                usage: Usage::default(),
                children_usage: Usage::default(),
                leader_exit: None,
                mlock: MlockState::default(),
                execed: false,
                shares_sighand: false,
                timer_wakes: Default::default(),
            }),
            child_event: crate::kernel::wait::WaitQueue::new(),
            sig_info: SigInfoQueue::default(),
            fork_guard: Mutex::new(()),
        }))
    }

    pub fn lock(&self) -> MutexGuard<'_, GroupState> {
        lock(&self.state)
    }

    pub fn host_pid(&self) -> i32 {
        self.host_pid.load(Ordering::Relaxed)
    }

    pub fn parent(&self) -> Option<Arc<ThreadGroup>> {
        self.lock().parent.as_ref().and_then(|w| w.upgrade())
    }

    /// The disposition of `sig` (1..=64).
    pub fn action(&self, sig: i32) -> KernelSigaction {
        self.lock().actions.get((sig - 1) as usize).copied().unwrap_or_default()
    }

    pub fn rlimit(&self, res: usize) -> Rlimit {
        self.lock().rlimits.get(res).copied().unwrap_or(Rlimit { rlim_cur: u64::MAX, rlim_max: u64::MAX })
    }
}

/// Default resource limits, like a fresh Linux login.
pub fn default_rlimits() -> [Rlimit; 16] {
    let inf = Rlimit { rlim_cur: u64::MAX, rlim_max: u64::MAX };
    let mut r = [inf; 16];
    r[libc::RLIMIT_STACK as usize] = Rlimit { rlim_cur: 8 << 20, rlim_max: u64::MAX };
    r[libc::RLIMIT_CORE as usize] = Rlimit { rlim_cur: 0, rlim_max: u64::MAX };
    r[libc::RLIMIT_NOFILE as usize] = Rlimit { rlim_cur: 1024, rlim_max: 4096 };
    r[libc::RLIMIT_NPROC as usize] = Rlimit { rlim_cur: 4096, rlim_max: 4096 };
    r[libc::RLIMIT_MEMLOCK as usize] = Rlimit { rlim_cur: 8 << 20, rlim_max: 8 << 20 };
    r[libc::RLIMIT_SIGPENDING as usize] = Rlimit { rlim_cur: 63_000, rlim_max: 63_000 };
    r[libc::RLIMIT_MSGQUEUE as usize] = Rlimit { rlim_cur: 819_200, rlim_max: 819_200 };
    // Linux's defaults: no raising of nice or real-time priority without privilege.
    r[libc::RLIMIT_NICE as usize] = Rlimit { rlim_cur: 0, rlim_max: 0 };
    r[libc::RLIMIT_RTPRIO as usize] = Rlimit { rlim_cur: 0, rlim_max: 0 };
    r
}

/// A thread of a sandboxed process.
pub struct Task {
    pub tid: i32,
    pub host_tid: AtomicI32,
    pub tg: Arc<ThreadGroup>,
    pub fs: Mutex<Arc<FsContext>>,
    pub files: Mutex<Arc<FdTable>>,
    pub creds: Mutex<Creds>,
    /// Written to interrupt a blocking syscall of this task.
    pub interrupt: EventFd,
    pub comm: Mutex<Vec<u8>>,
    /// CLONE_CHILD_CLEARTID / set_tid_address pointer.
    pub clear_child_tid: Mutex<u64>,
    /// Set while a vfork parent waits for this task to exec or exit.
    pub vfork_done: Mutex<Option<Arc<EventFd>>>,
    /// Virtual siginfos of thread-directed signals raised by the sentry.
    pub sig_info: SigInfoQueue,
    /// sched_setaffinity's CPUs (empty: all the sandbox's CPUs); not applied on the host.
    pub cpus: Mutex<Vec<usize>>,
    /// Scheduling policy and static priority (sched_setscheduler); not applied on the host.
    pub policy: Mutex<(i32, i32)>,
    /// The scheduling attributes beyond policy and priority.
    pub sched_extra: Mutex<SchedExtra>,
    /// Set once the thread is taken out of its process's thread list (at its
    /// exit stop): whether it was the last one.
    pub detached: std::sync::OnceLock<bool>,
    /// The app's own seccomp mode (0, SECCOMP_MODE_STRICT or _FILTER), as
    /// PR_GET_SECCOMP reports it: the host's is always "filter" (the sandbox's).
    pub seccomp_mode: std::sync::atomic::AtomicU8,
    /// [`SYSCALL_SLEEPING`] while a trapped call waits in the sentry (the
    /// host thread is stopped meanwhile): /proc shows the task sleeping.
    pub syscall_state: std::sync::atomic::AtomicU8,
}

/// No wait in the sentry: the host thread's state tells.
pub const SYSCALL_IDLE: u8 = 0;
/// A trapped call waits in the sentry (`SyscallCtx::block`): the task sleeps.
pub const SYSCALL_SLEEPING: u8 = 2;

/// Sets a task's [`Task::syscall_state`] and restores the previous one when dropped.
pub struct SyscallStateGuard<'a>(&'a Task, u8);

impl<'a> SyscallStateGuard<'a> {
    pub fn enter(task: &'a Task, state: u8) -> SyscallStateGuard<'a> {
        SyscallStateGuard(task, task.syscall_state.swap(state, std::sync::atomic::Ordering::SeqCst))
    }
}

impl Drop for SyscallStateGuard<'_> {
    fn drop(&mut self) {
        self.0.syscall_state.store(self.1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Task {
    /// A new task; fails (EMFILE/ENFILE) only if the sentry is out of descriptors.
    pub fn new(
        tid: i32,
        host_tid: i32,
        tg: Arc<ThreadGroup>,
        fs: Arc<FsContext>,
        files: Arc<FdTable>,
        creds: Creds,
        comm: Vec<u8>,
    ) -> Result<Arc<Task>, Errno> {
        Ok(Arc::new(Task {
            tid,
            host_tid: host_tid.into(),
            tg,
            fs: Mutex::new(fs),
            files: Mutex::new(files),
            creds: Mutex::new(creds),
            interrupt: EventFd::new()?,
            comm: Mutex::new(comm),
            clear_child_tid: Default::default(),
            vfork_done: Default::default(),
            sig_info: SigInfoQueue::default(),
            cpus: Mutex::default(),
            policy: Mutex::default(),
            sched_extra: Mutex::default(),
            detached: std::sync::OnceLock::new(),
            seccomp_mode: Default::default(),
            syscall_state: Default::default(),
        }))
    }

    pub fn host_tid(&self) -> i32 {
        self.host_tid.load(Ordering::Relaxed)
    }

    pub fn fs(&self) -> Arc<FsContext> {
        lock(&self.fs).clone()
    }

    pub fn files(&self) -> Arc<FdTable> {
        lock(&self.files).clone()
    }

    pub fn creds(&self) -> Creds {
        lock(&self.creds).clone()
    }

    pub fn set_comm(&self, name: &[u8]) {
        let mut c = lock(&self.comm);
        *c = name.iter().copied().take(15).collect();
    }

    pub fn comm(&self) -> Vec<u8> {
        lock(&self.comm).clone()
    }

    /// Arms the vfork hand-shake: `ev` fires when this task execs or exits.
    pub fn arm_vfork(&self, ev: &Arc<EventFd>) {
        *lock(&self.vfork_done) = Some(ev.clone());
    }

    /// Releases a waiting vfork parent (at exec or exit).
    pub fn vfork_release(&self) {
        if let Some(ev) = lock(&self.vfork_done).take() {
            ev.notify();
        }
    }

    /// The CPUs this task may run on, as the app sees them.
    pub fn affinity(&self) -> Vec<usize> {
        let own = lock(&self.cpus).clone();
        if own.is_empty() {
            crate::kernel::sandbox_cpus().to_vec()
        } else {
            own
        }
    }

    pub fn set_affinity(&self, cpus: Vec<usize>) {
        *lock(&self.cpus) = cpus;
    }

    /// (policy, priority).
    pub fn sched(&self) -> (i32, i32) {
        *lock(&self.policy)
    }

    pub fn set_sched(&self, policy: i32, prio: i32) {
        *lock(&self.policy) = (policy, prio);
    }

    /// Called as the task's thread ends: a leader leaves its name and owner
    /// for /proc, which can no longer look the task up.
    pub fn record_exit(&self) {
        if self.tid == self.tg.tgid {
            let snap = LeaderExit { comm: self.comm(), creds: self.creds() };
            self.tg.lock().leader_exit = Some(snap);
        }
    }

    pub fn nofile_limit(&self) -> u64 {
        self.tg.rlimit(libc::RLIMIT_NOFILE as usize).rlim_cur
    }
}
