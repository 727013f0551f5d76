//! The injection loop against a real tracee: a forked child with the stub
//! image and the ptrace filter, seized by the test thread.

use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::platform::filter::{build_app_filter, install_raw, TrapAction};
use crate::platform::stub::{build_image, STUB_BASE};
use crate::platform::systrap::handler::RESTORER_OFF;

/// Words the child and the test share (a MAP_SHARED page).
#[repr(C)]
struct Shared {
    ready: AtomicU64,
    seized: AtomicU64,
    /// What the child's trapped getuid calls returned, in order.
    got: [AtomicU64; 2],
    /// Set by the child's SIGUSR1 handler.
    handled: AtomicU64,
}

static mut SHARED: *const Shared = std::ptr::null();

extern "C" fn on_usr1(_: i32) {
    // SAFETY: SHARED points at the shared page for the child's whole life.
    unsafe { (*SHARED).handled.store(1, Ordering::SeqCst) };
}

/// `struct sigaction` as the kernel takes it (rt_sigaction).
#[repr(C)]
struct KernelSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

/// The forked child: raw syscalls only (the test process has threads).
/// Makes two trapped getuid calls and exits with 0, or a code saying what
/// failed before them.
fn child(image: &[u8], filter: &libc::sock_fprog, shared: &Shared) -> i32 {
    if let Err(code) = crate::platform::stub::map_in_test_child(image) {
        return code;
    }
    // SAFETY: raw syscalls on this test's own child.
    unsafe {
        let act = KernelSigaction {
            handler: on_usr1 as *const () as usize as u64,
            flags: 0x0400_0000 | libc::SA_RESTART as u64, // SA_RESTORER
            restorer: STUB_BASE + RESTORER_OFF,
            mask: 0,
        };
        if libc::syscall(libc::SYS_rt_sigaction, libc::SIGUSR1, &act as *const KernelSigaction, 0usize, 8usize) != 0 {
            return 12;
        }
        shared.ready.store(1, Ordering::SeqCst);
        while shared.seized.load(Ordering::SeqCst) == 0 {
            std::hint::spin_loop();
        }
        if install_raw(filter) != 0 {
            return 13;
        }
        for got in &shared.got {
            got.store(libc::syscall(libc::SYS_getuid) as u64, Ordering::SeqCst);
        }
        0
    }
}

fn wait_for(tracee: &Tracee, want: Stop) {
    loop {
        match tracee.wait() {
            s if s == want => return,
            Stop::EventStop(_) => tracee.cont(0).expect("cont"),
            other => panic!("waiting for {want:?}, got {other:?}"),
        }
    }
}

/// Injected calls return their results through the parking stop, one
/// stop each; the app's call then returns what the tracer set. A thread
/// brought back from the parking stop to an ordinary one (a call number
/// left in orig_rax) loses no signal on the way; and before any filter,
/// where the parking getpid just runs, the loop's int3 still brings the
/// result back.
#[test]
fn injected_calls_park_and_the_thread_goes_on() {
    let page = {
        // SAFETY: a fresh shared anonymous page, unmapped at the end.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        p
    };
    // SAFETY: the page is zeroed, aligned and large enough for Shared.
    let shared = unsafe { &*(page as *const Shared) };
    let image = build_image();
    let mut filter = build_app_filter(TrapAction::Trace);
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    // SAFETY: the child runs only `child` (raw syscalls) and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: set once in the child before the handler can run.
        unsafe { SHARED = shared };
        let code = child(&image, &prog, shared);
        // SAFETY: leaving the child without unwinding.
        unsafe { libc::_exit(code) };
    }
    while shared.ready.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    let tracee = Tracee::seize(pid).expect("seize");
    // Before the filter: stop the child where it spins and inject there.
    tracee.interrupt().expect("interrupt");
    wait_for(&tracee, Stop::EventStop(libc::SIGTRAP));
    let base = tracee.get_regs().expect("regs");
    let mut deferred = Vec::new();
    // SAFETY: getppid has no preconditions.
    let me = unsafe { libc::getpid() } as i64;
    assert_eq!(tracee.inject_parked(&base, libc::SYS_getppid, [0; 6], &mut deferred), Ok(me));
    assert_eq!(tracee.inject_parked(&base, libc::SYS_gettid, [0; 6], &mut deferred), Ok(pid as i64));
    tracee.set_regs(&base).expect("restore");
    shared.seized.store(1, Ordering::SeqCst);
    tracee.cont(0).expect("cont");

    // The first getuid: three injections from its seccomp stop, then a result.
    wait_for(&tracee, Stop::Syscall);
    let mut regs = tracee.get_regs().expect("regs");
    assert_eq!(regs.orig_rax, libc::SYS_getuid as u64);
    for _ in 0..3 {
        assert_eq!(tracee.inject_parked(&regs, libc::SYS_gettid, [0; 6], &mut deferred), Ok(pid as i64));
        assert!(matches!(tracee.at.get(), At::Parked { .. }), "parked between injections");
    }
    assert_eq!(tracee.inject_parked(&regs, libc::SYS_getppid, [0; 6], &mut deferred), Ok(me));
    complete_syscall(&mut regs, 77);
    tracee.set_regs(&regs).expect("result");
    tracee.cont(0).expect("cont");

    // The second: a signal arrives while parked, then the registers are
    // set with the call's number in orig_rax, which needs an ordinary stop.
    wait_for(&tracee, Stop::Syscall);
    let regs = tracee.get_regs().expect("regs");
    assert_eq!(tracee.inject_parked(&regs, libc::SYS_gettid, [0; 6], &mut deferred), Ok(pid as i64));
    // SAFETY: signals our own traced child.
    assert_eq!(unsafe { libc::syscall(libc::SYS_tgkill, pid, pid, libc::SIGUSR1) }, 0);
    let back = UserRegs { rax: 88, ..regs };
    tracee.set_regs(&back).expect("restore with the call's number");
    assert_eq!(tracee.at.get(), At::Other, "brought back to an ordinary stop");
    assert_eq!(tracee.get_regs().map(|r| (r.rip, r.rax)), Ok((regs.rip, 88)));
    tracee.cont(0).expect("cont");
    let mut delivered = false;
    let code = loop {
        match tracee.wait() {
            Stop::Signal(libc::SIGUSR1) => {
                delivered = true;
                tracee.cont(libc::SIGUSR1).expect("deliver");
            }
            Stop::Exited(code) => break code,
            Stop::EventStop(_) | Stop::Syscall | Stop::Event(_) => tracee.cont(0).expect("cont"),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, 0, "child status");
    assert!(delivered, "the signal sent while parked reached the thread");
    assert_eq!(shared.handled.load(Ordering::SeqCst), 1, "its handler ran");
    assert_eq!(shared.got[0].load(Ordering::SeqCst), 77);
    assert_eq!(shared.got[1].load(Ordering::SeqCst), 88);
    // SAFETY: unmapping the page mapped above; the child is gone.
    unsafe { libc::munmap(page, 4096) };
}
