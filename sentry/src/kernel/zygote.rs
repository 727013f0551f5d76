//! The zygote: an idle app process from which processes started from
//! outside the sandbox (OCI `exec`) are cloned.
//!
//! The sentry's seccomp filter forbids it to fork, and once it is not
//! dumpable a child it forked could not be traced before its exec. So the
//! zygote is forked once, before the sentry confines itself, and stays
//! stopped in the stub under its own tracer thread; each request injects a
//! `clone(CLONE_PARENT)` there. The child parks in the stub exactly like an
//! in-sandbox fork child (same filter, empty root, no capabilities, the
//! sentry as host parent) and is then seized by its own task thread, which
//! loads the program. The zygote has no task: the sandbox never sees it.
//!
//! Under systrap the zygote, like init, is forked without a filter (the
//! RET_TRAP filter would turn the stub's exec into SIGSYS): its tracer
//! thread injects it once the stub runs, so every clone is born with it.
//! The clone injection itself is at a stub site, which that filter sends
//! to the tracer as the ptrace one does.

use std::sync::Arc;

use rvisor_syscalls::Errno;

use super::Kernel;
use crate::platform::ptrace::Tracee;

type Reply = crossbeam_channel::Sender<Result<i32, Errno>>;

/// Handle to the zygote's tracer thread.
pub struct Zygote {
    requests: crossbeam_channel::Sender<Reply>,
}

impl Zygote {
    /// Forks the zygote and starts its tracer thread.
    pub fn start(kernel: &Arc<Kernel>) -> Result<Zygote, Errno> {
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (tx, rx) = crossbeam_channel::unbounded::<Reply>();
        let kernel = kernel.clone();
        std::thread::Builder::new()
            .name("zygote".into())
            .stack_size(256 << 10)
            .spawn(move || {
                // The tracee is bound to the thread that seized it.
                let forked = super::start::fork_stub_process(&kernel).and_then(|(pid, t)| {
                    if crate::platform::systrap::active().is_some() {
                        install_systrap_filter(&t).inspect_err(|_| {
                            // SAFETY: kills and reaps our own child, which never ran app code.
                            unsafe {
                                libc::kill(pid, libc::SIGKILL);
                                libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
                            }
                        })?;
                    }
                    Ok(t)
                });
                let tracee = match forked {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                serve(&tracee, &rx);
            })
            .map_err(|_| Errno::EAGAIN)?;
        ready_rx.recv().map_err(|_| Errno::EIO)??;
        Ok(Zygote { requests: tx })
    }

    /// Clones a new process from the zygote; returns its host pid. The child
    /// is parked in the stub until a task thread seizes it (`Start::Parked`).
    pub fn clone_process(&self) -> Result<i32, Errno> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.requests.send(tx).map_err(|_| Errno::ESRCH)?;
        rx.recv().map_err(|_| Errno::ESRCH)?
    }
}

fn serve(tracee: &Tracee, requests: &crossbeam_channel::Receiver<Reply>) {
    let mut deferred = Vec::new();
    for reply in requests {
        let r = tracee.get_regs().and_then(|base| {
            let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as u64;
            let r = tracee.inject_clone(&base, libc::SYS_clone, [flags, 0, 0, 0, 0, 0], false, &mut deferred);
            // Back to the entry stop, ready for the next request.
            tracee.set_regs(&base)?;
            // The child is born with every signal blocked; `run::start_process` unblocks them.
            Errno::result(r?.0).map(|pid| pid as i32)
        });
        // Signals sent to the zygote (none should be) are dropped.
        deferred.clear();
        let _ = reply.send(r);
    }
}

/// Installs systrap's filter (RET_TRAP) in the zygote, stopped at the stub's
/// entry trap: the program goes below its stack pointer, then no_new_privs
/// and seccomp are injected, as `systrap::install_filter` does for init
/// (which has a task and its context; the zygote has neither).
fn install_systrap_filter(tracee: &Tracee) -> Result<(), Errno> {
    let base = tracee.get_regs()?;
    let (at, bytes) = super::systrap::filter_image(base.rsp);
    crate::mm::Memory::new(tracee.tid).write(at, &bytes)?;
    // Nothing can signal the zygote yet: no signal is held back here.
    let mut deferred = Vec::new();
    for (nr, args) in super::systrap::filter_calls(at) {
        Errno::result(tracee.inject(&base, nr, args, &mut deferred)?)?;
    }
    // Back to the entry stop, ready for the first clone.
    tracee.set_regs(&base)
}
