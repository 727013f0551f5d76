//! Kernel objects: the sandbox-wide [`Kernel`], thread groups (processes),
//! tasks (threads), credentials and the per-task run loop.

pub mod creds;
pub mod forward;
pub mod robust;
pub mod run;
pub mod signal;
mod start;
pub mod systrap;
pub mod task;
mod task_threads;
pub mod timer_wakes;
pub mod wait;
pub mod zygote;

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

use rvisor_syscalls::Errno;

use crate::vfs::{Location, MountTable};

pub use creds::Creds;
pub use task::{FsContext, Task, ThreadGroup};

/// Options fixed at boot.
#[derive(Clone, Debug, Default)]
pub struct KernelOptions {
    /// Print every syscall (--strace).
    pub strace: bool,
    /// Count unsupported syscalls for --compat-report.
    pub compat_report: bool,
    pub hostname: String,
}

/// How the sandbox's init ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitExit {
    Code(i32),
    Signal(i32),
}

/// Sandbox-wide state.
pub struct Kernel {
    pub options: KernelOptions,
    pub mounts: MountTable,
    /// The sandbox's root directory.
    pub root: Location,
    /// Sealed memfd with the stub image; every app process holds it at `STUB_FD`.
    pub stub_fd: OwnedFd,
    /// Sentry end of the fd-injection socket; app processes hold the other end at `INJECT_FD`.
    pub inject_sock: OwnedFd,
    /// App end of the fd-injection socket, inherited by the init process.
    pub inject_app: OwnedFd,
    /// Serialises fd injections: all app processes share one socket.
    pub inject_lock: Mutex<()>,
    pub pids: Mutex<PidTable>,
    pub hostname: Mutex<Vec<u8>>,
    /// Unsupported syscalls, flags and ioctls hit, with counts.
    pub unsupported: Mutex<BTreeMap<String, u64>>,
    init_exit: Mutex<Option<InitExit>>,
    init_exit_cv: Condvar,
    shutting_down: AtomicBool,
    pub boot_time: std::time::Instant,
    /// The sentry's own pid as app processes see it: the sender of every
    /// host signal the sentry raises (see [`signal`]).
    pub sentry_pid: i32,
    /// CPU numbers 0..=highest usable (sizes the masks sched_getaffinity returns).
    pub cpus: Vec<usize>,
    /// The foreground process group of the sandbox's terminal (TIOCSPGRP).
    pub tty_foreground: Mutex<Option<i32>>,
}

/// Host fd number at which every app process holds the stub memfd.
pub const STUB_FD: RawFd = 1000;
/// Host fd number at which every app process holds its end of the injection socket.
pub const INJECT_FD: RawFd = 1001;
/// Host fd numbers `APP_FD_BASE..APP_FD_BASE + APP_FD_SLOTS` of an app
/// process hold the sandbox files installed for reads and maps in its own
/// context (syscalls/appfds.rs), and nothing else.
pub const APP_FD_BASE: RawFd = INJECT_FD + 1;
pub const APP_FD_SLOTS: RawFd = 16;
/// Host fd number of an app process's copy file under systrap
/// (kernel/systrap/copy.rs), if it has one.
pub const COPY_FD: RawFd = APP_FD_BASE + APP_FD_SLOTS;
/// Host fd number of an app process's install socket under systrap
/// (kernel/systrap/fdpass.rs), if it has one: the sentry passes the fds it
/// installs for a detached thread through it.
pub const INSTALL_FD: RawFd = COPY_FD + 1;

/// Virtual pid allocation and lookup.
#[derive(Default)]
pub struct PidTable {
    next: i32,
    pub tasks: HashMap<i32, Weak<Task>>,
    pub groups: HashMap<i32, Weak<ThreadGroup>>,
    /// Forks past the RLIMIT_NPROC check whose task is not registered yet:
    /// counted so concurrent forks cannot all pass the check together.
    pub forking: usize,
}

impl PidTable {
    pub fn alloc(&mut self) -> i32 {
        loop {
            self.next = if self.next >= 4_194_303 { 1 } else { self.next + 1 };
            if !self.tasks.contains_key(&self.next) && !self.groups.contains_key(&self.next) {
                return self.next;
            }
        }
    }
}

impl Kernel {
    /// Creates the kernel: seals the stub image into a memfd and opens the injection socket.
    pub fn new(options: KernelOptions, mounts: MountTable, root: Location) -> Result<Arc<Kernel>, Errno> {
        let hostname = options.hostname.clone().into_bytes();
        let stub_fd = make_stub_memfd()?;
        let mut sv = [0 as RawFd; 2];
        // SAFETY: sv is a valid 2-element array for socketpair's out-parameter.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) } < 0 {
            return Err(Errno::last());
        }
        // SAFETY: both fds are fresh and owned by us from here on.
        let (inject_sock, inject_app) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
        let kernel = Arc::new(Kernel {
            options,
            mounts,
            root,
            stub_fd,
            inject_sock,
            inject_app,
            inject_lock: Mutex::new(()),
            pids: Mutex::new(PidTable::default()),
            hostname: Mutex::new(hostname),
            unsupported: Mutex::new(BTreeMap::new()),
            init_exit: Mutex::new(None),
            init_exit_cv: Condvar::new(),
            shutting_down: AtomicBool::new(false),
            boot_time: std::time::Instant::now(),
            // SAFETY: getpid has no preconditions.
            sentry_pid: unsafe { libc::getpid() },
            cpus: {
                let c = sandbox_cpus();
                // Mask sizes follow the highest CPU number, as nr_cpu_ids does.
                (0..=c.iter().copied().max().unwrap_or(0)).collect()
            },
            tty_foreground: Mutex::new(None),
        });
        *LATEST.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&kernel);
        Ok(kernel)
    }

    pub fn stub_raw_fd(&self) -> RawFd {
        self.stub_fd.as_raw_fd()
    }

    /// Records an unsupported syscall/flag/ioctl; logs the first occurrence.
    pub fn note_unsupported(&self, what: &str) {
        let mut map = self.unsupported.lock().unwrap_or_else(|e| e.into_inner());
        let count = map.entry(what.to_string()).or_insert(0);
        if *count == 0 {
            tracing::warn!(unsupported = what, "unsupported syscall or feature");
        }
        *count += 1;
    }

    pub fn task_by_vtid(&self, tid: i32) -> Option<Arc<Task>> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).tasks.get(&tid).and_then(|w| w.upgrade())
    }

    pub fn group_by_vpid(&self, pid: i32) -> Option<Arc<ThreadGroup>> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).groups.get(&pid).and_then(|w| w.upgrade())
    }

    /// The live threads of process `tgid`.
    pub fn threads_of(&self, tgid: i32) -> Vec<Arc<Task>> {
        let pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        pids.tasks.values().filter_map(|w| w.upgrade()).filter(|t| t.tg.tgid == tgid).collect()
    }

    /// Any live task of process `tgid` (for its credentials, or to signal it).
    pub fn live_task_of(&self, tgid: i32) -> Option<Arc<Task>> {
        let pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        pids.tasks.values().filter_map(|w| w.upgrade()).find(|t| t.tg.tgid == tgid)
    }

    /// Whether a live task outside `tg` uses fd table `files` (CLONE_FILES).
    pub fn files_shared_outside(&self, tg: &Arc<ThreadGroup>, files: &Arc<crate::vfs::FdTable>) -> bool {
        let tasks: Vec<_> =
            self.pids.lock().unwrap_or_else(|e| e.into_inner()).tasks.values().filter_map(|w| w.upgrade()).collect();
        tasks.iter().any(|t| !Arc::ptr_eq(&t.tg, tg) && Arc::ptr_eq(&t.files(), files))
    }

    pub fn all_groups(&self) -> Vec<Arc<ThreadGroup>> {
        let pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = pids.groups.values().filter_map(|w| w.upgrade()).collect();
        v.sort_by_key(|g| g.tgid);
        v
    }

    /// Called when the sandbox's init (pid 1) has exited.
    pub fn set_init_exit(&self, how: InitExit) {
        let mut e = self.init_exit.lock().unwrap_or_else(|e| e.into_inner());
        if e.is_none() {
            *e = Some(how);
        }
        self.shutting_down.store(true, Ordering::SeqCst);
        self.init_exit_cv.notify_all();
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Blocks until init exits.
    pub fn wait_init_exit(&self) -> InitExit {
        let mut e = self.init_exit.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(how) = *e {
                return how;
            }
            e = self.init_exit_cv.wait(e).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Writes the stub image into a sealed memfd (the app can neither change nor grow it).
fn make_stub_memfd() -> Result<OwnedFd, Errno> {
    let image = crate::platform::stub::build_image();
    // SAFETY: name is a valid C string; flags are constants.
    let fd = unsafe { libc::memfd_create(c"rvisor-stub".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd is fresh and ours.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: writes from a valid buffer of image.len() bytes.
    let n = unsafe { libc::write(fd, image.as_ptr().cast(), image.len()) };
    if n != image.len() as isize {
        return Err(Errno::EIO);
    }
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own fd.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } < 0 {
        return Err(Errno::last());
    }
    Ok(owned)
}

/// Tells a parent process that a child changed state: `info` (its SIGCHLD,
/// if one is due) first, then a wake-up for its waiters. In that order, as on Linux: by the time a
/// wait returns the change, SIGCHLD is already pending and its handler runs
/// before the app sees wait's result.
pub fn notify_parent(kernel: &Kernel, parent: &ThreadGroup, info: Option<rvisor_syscalls::abi::Siginfo>) {
    if let Some(info) = info {
        signal::send_to_group(kernel, parent, info, None);
    }
    parent.child_event.notify();
}

/// The CPUs the sandbox may use: the sentry's affinity when first asked
/// (at boot, before any tracer thread pins itself).
pub fn sandbox_cpus() -> &'static [usize] {
    static CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    CPUS.get_or_init(|| {
        // SAFETY: zeroed cpu_set_t is valid; sched_getaffinity fills it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: set is a valid cpu_set_t of the given size.
        if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
            return vec![0];
        }
        // SAFETY: CPU_ISSET reads within the set.
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
    })
}

/// Pins thread `tid` (0: the calling thread; else one of the sentry's
/// tracees) to `cpu`; returns whether the host agreed.
pub(crate) fn pin_thread(tid: i32, cpu: usize) -> bool {
    // SAFETY: zeroed cpu_set_t is valid; CPU_SET writes within bounds.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::CPU_SET(cpu, &mut one) };
    // SAFETY: sets the affinity of this thread or of our own tracee from a
    // valid set.
    unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &one) == 0 }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Arc<Task>>> = const { std::cell::RefCell::new(None) };
}

/// Marks `task` as the one this sentry thread serves (for /proc/self).
pub fn set_current_task(task: &Arc<Task>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(task.clone()));
}

/// This sentry thread serves no task any more.
pub fn clear_current_task() {
    CURRENT.with(|c| *c.borrow_mut() = None);
}

/// The most recently booted kernel (one per sentry process).
static LATEST: Mutex<Weak<Kernel>> = Mutex::new(Weak::new());

/// The sandbox's kernel, for code reached without one in hand (file ops).
pub fn current_kernel() -> Option<Arc<Kernel>> {
    LATEST.lock().unwrap_or_else(|e| e.into_inner()).upgrade()
}

/// The task whose syscall this thread is handling.
pub fn current_task() -> Option<Arc<Task>> {
    CURRENT.with(|c| c.borrow().clone())
}
