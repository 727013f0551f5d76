//! The hot path end to end: a forked child with the stub image, the shared
//! region and the real app filter (RET_TRAP) makes syscalls that a sentry-side
//! thread in the parent answers through the slot.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::slot::{Slot, Spinner, Waited};
use super::*;
use crate::platform::filter::{build_app_filter, install_raw, TrapAction};
use crate::platform::stub::build_image;

/// Where the child leaves its verdict and timing, after the slot.
const OUT_OFF: usize = 256;
const ANSWER: i64 = 4242;

/// What the child does once systrap is set up: `calls` getppid calls with
/// arg0 = i, each expected to return ANSWER + i; every `nap`-th call is
/// preceded by a 2 ms sleep so the sentry side goes to sleep in FUTEX_WAIT.
struct Plan {
    calls: u64,
    nap: u64,
    /// After the calls, jump to the stub's injection site with a call, as
    /// an app trying to get past the filter would: the child then ends in
    /// its SIGTRAP handler (the site's int3), exiting 0 if the call got
    /// ENOSYS (RET_TRACE with no tracer) and 30 if it ran.
    escape: bool,
}

/// Where a child that `with_memfd` left the fd number of a memfd holding
/// [`MEMFD_DATA`] (made before the filter), and where exec tests read to.
const MEMFD_FD_OFF: usize = OUT_OFF + 40;
const READ_TO_OFF: usize = OUT_OFF + 64;
const MEMFD_DATA: &[u8; 8] = b"execsite";

/// Where a child with the filter installed leaves its exit code, and the
/// flag saying it did: exit and exit_group trap under the systrap filter, so
/// such a child cannot end itself; it waits in pause() for the parent's SIGKILL.
const CODE_OFF: usize = OUT_OFF + 24;
const DONE_OFF: usize = OUT_OFF + 32;
/// child()'s codes below this come before the filter is installed.
const FILTERED: i32 = 20;
/// The child's success code (after the filter).
const OK: i32 = FILTERED;

/// Ends a forked child with `code` (see CODE_OFF).
fn finish(code: i32) -> ! {
    // SAFETY: before the filter, _exit works; after it, the region chunk is
    // mapped (codes >= FILTERED) and pause is passthrough.
    unsafe {
        if code < FILTERED {
            libc::_exit(code);
        }
        std::ptr::write_volatile((REGION_BASE as usize + CODE_OFF) as *mut u64, code as u64);
        std::ptr::write_volatile((REGION_BASE as usize + DONE_OFF) as *mut u64, 1);
        loop {
            libc::syscall(libc::SYS_pause);
        }
    }
}

/// The parent side: the child's exit code (from its exit status or the
/// region), killing it once it has reported.
fn reap(pid: i32, region: &Region) -> i32 {
    let word = |off: usize| {
        let p = region.chunk_ptr(0, off).expect("out") as *const u64;
        // SAFETY: a word of our own mapping, which the child may write.
        unsafe { std::ptr::read_volatile(p) }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut status = 0;
        // SAFETY: polling our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
            return libc::WEXITSTATUS(status);
        }
        if word(DONE_OFF) == 1 || Instant::now() > deadline {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            assert_eq!(word(DONE_OFF), 1, "the child never reported");
            return word(CODE_OFF) as i32;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// SIGTRAP handler of the escape attempt: the attempted call's result is in
/// the ucontext's rax.
extern "C" fn on_trap(_sig: i32, _si: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext; gregs start at byte 40 and
    // rax is gregs[13]. The out area is the child's chunk of the region.
    let rax = unsafe {
        let rax = *(uc.cast::<u8>().add(40) as *const i64).add(13);
        *((REGION_BASE as usize + OUT_OFF + 16) as *mut i64) = rax;
        rax
    };
    finish(if rax == -(libc::ENOSYS as i64) { OK } else { 30 });
}

/// In the forked child: raw syscalls only (the parent is multi-threaded).
/// Returns OK on success, else a small code saying what failed.
fn child(chunk_fd: i32, image: &[u8], filter: &libc::sock_fprog, plan: &Plan) -> i32 {
    if let Err(code) = crate::platform::stub::map_in_test_child(image) {
        return code;
    }
    // SAFETY: raw syscalls on fixed addresses this test owns in the child;
    // the region does not overlap anything in a fresh test process
    // (MAP_FIXED_NOREPLACE fails rather than clobbers).
    unsafe {
        let region = libc::mmap(
            REGION_BASE as *mut libc::c_void,
            CHUNK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE,
            chunk_fd,
            0,
        );
        if region as u64 != REGION_BASE {
            return 12;
        }
        let ss = libc::stack_t { ss_sp: region, ss_flags: 0, ss_size: CHUNK };
        if libc::syscall(libc::SYS_sigaltstack, &ss as *const libc::stack_t, 0usize) != 0 {
            return 13;
        }
        let act = sigsys_action();
        if libc::syscall(libc::SYS_rt_sigaction, libc::SIGSYS, &act as *const KernelSigaction, 0usize, 8usize) != 0 {
            return 14;
        }
        let trap = KernelSigaction {
            handler: on_trap as *const () as u64,
            flags: libc::SA_SIGINFO as u64 | 0x0400_0000,
            restorer: restorer_addr(),
            mask: 0,
        };
        if libc::syscall(libc::SYS_rt_sigaction, libc::SIGTRAP, &trap as *const KernelSigaction, 0usize, 8usize) != 0 {
            return 15;
        }
        // At the first installed-file number, as the sentry installs files.
        let made = libc::syscall(libc::SYS_memfd_create, c"exec".as_ptr(), 0u64);
        let memfd = crate::kernel::APP_FD_BASE as i64;
        if made < 0
            || libc::syscall(libc::SYS_dup3, made, memfd, 0u64) != memfd
            || libc::syscall(libc::SYS_dup3, made, memfd - 1, 0u64) != memfd - 1
            || libc::syscall(libc::SYS_write, memfd, MEMFD_DATA.as_ptr(), 8u64) != 8
        {
            return 17;
        }
        *((REGION_BASE as usize + MEMFD_FD_OFF) as *mut u64) = memfd as u64;
        if install_raw(filter) != 0 {
            return 16;
        }
        let out = (REGION_BASE as usize + OUT_OFF) as *mut u64;
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        libc::syscall(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &mut ts as *mut libc::timespec);
        let t0 = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        let mut napped = 0u64;
        for i in 0..plan.calls {
            if plan.nap != 0 && i % plan.nap == plan.nap - 1 {
                let d = libc::timespec { tv_sec: 0, tv_nsec: 2_000_000 };
                libc::syscall(libc::SYS_nanosleep, &d as *const libc::timespec, 0usize);
                napped += 1;
            }
            // Trapped (getppid is not passthrough): answered by the parent.
            // Every argument 64-bit: variadic ints would leave garbage in
            // the upper halves of the stack-passed ones.
            let r = libc::syscall(libc::SYS_getppid, i, 0u64, 0u64, 0u64, 0u64, 7u64);
            if r != ANSWER + i as i64 {
                // libc's syscall() leaves a failure's code in errno.
                let r = if r == -1 { -(*libc::__errno_location()) as i64 } else { r };
                *out.add(1) = r as u64;
                return 21;
            }
        }
        libc::syscall(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &mut ts as *mut libc::timespec);
        let t1 = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        *out = (t1 - t0 - napped * 2_000_000) / plan.calls.max(1);
        if plan.escape {
            // getppid run at the stub's site would return the real ppid.
            std::arch::asm!(
                "jmp {site}",
                site = in(reg) crate::platform::stub::STUB_SYSCALL,
                in("rax") libc::SYS_getppid,
                options(noreturn)
            );
        }
        OK
    }
}

/// Runs the child under a serving thread; returns the child's ns per call.
fn run(plan: Plan) -> f64 {
    let region = Arc::new(Region::new(1).expect("region"));
    let memory = region.back(0).expect("chunk 0's memory");
    region.slot(0).expect("slot 0").reset();
    let image = build_image();
    let mut filter = build_app_filter(TrapAction::Trap);
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    let done = Arc::new(AtomicBool::new(false));
    let nap = plan.nap;
    let server = {
        let (region, done) = (region.clone(), done.clone());
        std::thread::spawn(move || {
            let slot = region.slot(0).expect("slot 0");
            let mut spin = Spinner::new();
            let mut served = 0u64;
            while !done.load(Ordering::Acquire) {
                if let Waited::Request(req) = slot.wait_request(&mut spin, Duration::from_millis(5)) {
                    if nap != 0 && req.args[0] % nap == 1 {
                        // A slow answer: the app's spin runs out and it sleeps.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let ok = req.nr == libc::SYS_getppid as u64 && req.args[5] == 7 && req.rip >= 0x1000;
                    slot.reply(if ok { ANSWER + req.args[0] as i64 } else { -(libc::ENOSYS as i64) });
                    served += 1;
                }
            }
            served
        })
    };
    // SAFETY: the child runs only `child` (raw syscalls, no allocation, no
    // locks) and `finish`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        finish(child(memory.as_raw_fd(), &image, &prog, &plan));
    }
    let code = reap(pid, &region);
    done.store(true, Ordering::Release);
    let served = server.join().expect("server thread");
    let out = region.chunk_ptr(0, OUT_OFF).expect("out") as *const u64;
    // SAFETY: reading two words the (now dead) child wrote into our mapping.
    let (ns, bad) = unsafe { (std::ptr::read_volatile(out), std::ptr::read_volatile(out.add(1))) };
    assert_eq!(code, OK, "child failed (exit code {code}), last bad result {}", bad as i64);
    assert_eq!(served, plan.calls, "every call went through the slot");
    ns as f64
}

#[test]
fn getppid_round_trips_through_the_slot() {
    let ns = run(Plan { calls: 20_000, nap: 0, escape: false });
    eprintln!("systrap hand-off: {ns:.0} ns per emulated getppid");
    assert!(ns > 0.0);
}

#[test]
fn both_sides_sleep_and_wake() {
    // Naps put the sentry side to sleep (its spin runs out); a slow answer
    // would put the app side to sleep: both must wake correctly.
    let t = Instant::now();
    run(Plan { calls: 50, nap: 5, escape: false });
    assert!(t.elapsed() < Duration::from_secs(10));
}

/// The instruction-pointer rule: a call the app makes at the stub's
/// injection site is not let through (it gets ENOSYS without a tracer).
#[test]
fn stub_site_call_is_refused_without_a_tracer() {
    let region = Region::new(1).expect("region");
    let memory = region.back(0).expect("chunk 0's memory");
    region.slot(0).expect("slot 0").reset();
    let image = build_image();
    let mut filter = build_app_filter(TrapAction::Trap);
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    // SAFETY: the child runs only `child` (raw syscalls) and `finish`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        finish(child(memory.as_raw_fd(), &image, &prog, &Plan { calls: 0, nap: 0, escape: true }));
    }
    let code = reap(pid, &region);
    let out = region.chunk_ptr(0, OUT_OFF + 16).expect("out") as *const i64;
    // SAFETY: a word the (now dead) child wrote into our mapping.
    let rax = unsafe { std::ptr::read_volatile(out) };
    // The attempt was made: the SIGTRAP handler ran and recorded the result.
    assert_eq!(code, OK, "the call at the stub site returned {rax}");
    assert_eq!(rax, -(libc::ENOSYS as i64));
}

/// Forks a child that makes one trapped getppid, which `serve` answers
/// from a thread of the parent with the slot (or has answered, if it
/// returns no reply); returns the child's status, `serve`'s result and
/// what the child's call returned if that was not the answer it expected.
/// `serve` gets the slot, the child's memfd number, the region and the
/// child's pid (0 until it is forked).
fn one_call<T: Send + 'static>(
    serve: impl FnOnce(&Slot<'_>, u64, &Region, &AtomicI32) -> (Option<i64>, T) + Send + 'static,
) -> (i32, T, i64) {
    let region = Arc::new(Region::new(1).expect("region"));
    let memory = region.back(0).expect("chunk 0's memory");
    region.slot(0).expect("slot 0").reset();
    let image = build_image();
    let mut filter = build_app_filter(TrapAction::Trap);
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    let child_pid = Arc::new(AtomicI32::new(0));
    let server = {
        let (region, child_pid) = (region.clone(), child_pid.clone());
        std::thread::spawn(move || {
            let slot = region.slot(0).expect("slot 0");
            let mut spin = Spinner::new();
            loop {
                if let Waited::Request(_) = slot.wait_request(&mut spin, Duration::from_millis(5)) {
                    let p = region.chunk_ptr(0, MEMFD_FD_OFF).expect("fd word") as *const u64;
                    // SAFETY: a word of our own mapping the child wrote before its call.
                    let fd = unsafe { std::ptr::read_volatile(p) };
                    let (reply, out) = serve(&slot, fd, &region, &child_pid);
                    if let Some(r) = reply {
                        slot.reply(r);
                    }
                    return out;
                }
            }
        })
    };
    // SAFETY: the child runs only `child` (raw syscalls) and `finish`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        finish(child(memory.as_raw_fd(), &image, &prog, &Plan { calls: 1, nap: 0, escape: false }));
    }
    child_pid.store(pid, Ordering::Release);
    let mut status = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = |region: &Region| {
        let p = region.chunk_ptr(0, DONE_OFF).expect("done") as *const u64;
        // SAFETY: a word of our own mapping, which the child may write.
        unsafe { std::ptr::read_volatile(p) == 1 }
    };
    loop {
        // SAFETY: polling our own child.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            break;
        }
        if done(&region) || Instant::now() > deadline {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            let p = region.chunk_ptr(0, CODE_OFF).expect("code") as *const u64;
            // SAFETY: as above.
            status = (unsafe { std::ptr::read_volatile(p) } as i32) << 8;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let p = region.chunk_ptr(0, OUT_OFF + 8).expect("out word") as *const i64;
    // SAFETY: a word of our own mapping, which the child wrote (or not) before it ended.
    let seen = unsafe { std::ptr::read_volatile(p) };
    (status, server.join().expect("server thread"), seen)
}

/// The EXEC command: the handler of a thread waiting for its reply runs a
/// positional read in the app's context (the app's own fd, into the app's
/// memory), then the request is answered as usual.
#[test]
fn exec_command_runs_a_read_in_the_app() {
    let (status, (read, data), _) = one_call(|slot, fd, region, pid| {
        let mut spin = Spinner::new();
        let buf = REGION_BASE + READ_TO_OFF as u64;
        let r = slot.exec(libc::SYS_pread64, [fd, buf, 8, 0, 0, 0], &mut spin, || alive(pid));
        let p = region.chunk_ptr(0, READ_TO_OFF).expect("read-to area") as *const [u8; 8];
        // SAFETY: 8 bytes of our own mapping the child's read filled.
        (Some(ANSWER), (r, unsafe { std::ptr::read_volatile(p) }))
    });
    assert_eq!(status >> 8, OK, "child status {status:#x}");
    assert_eq!(read, Some(8));
    assert_eq!(&data, MEMFD_DATA, "the read's data is in the app's memory");
}

/// REPLY_COPY: the handler runs the call (a copy-out) and answers the
/// request itself, with the sentry's answer if the call returned the
/// expected count, else with EFAULT.
#[test]
fn reply_copy_answers_after_its_call() {
    let (status, data, seen) = one_call(|slot, fd, region, _| {
        let buf = REGION_BASE + READ_TO_OFF as u64;
        slot.reply_copy(libc::SYS_pread64, [fd, buf, 8, 0, 0, 0], 8, ANSWER);
        // The child ends only after its call returned: the read is done.
        let p = region.chunk_ptr(0, READ_TO_OFF).expect("read-to area") as *const [u8; 8];
        let deadline = Instant::now() + Duration::from_secs(10);
        // SAFETY: 8 bytes of our own mapping the child's read fills.
        while unsafe { std::ptr::read_volatile(p) } != *MEMFD_DATA && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: as above.
        (None, unsafe { std::ptr::read_volatile(p) })
    });
    assert_eq!(status >> 8, OK, "child status {status:#x}, its call returned {seen}");
    assert_eq!(&data, MEMFD_DATA, "the copy-out's data is in the app's memory");

    // A copy-out that faults (an unmapped address) answers EFAULT instead.
    let (status, (), seen) = one_call(|slot, fd, _, _| {
        slot.reply_copy(libc::SYS_pread64, [fd, 8, 8, 0, 0, 0], 8, ANSWER);
        (None, ())
    });
    assert_eq!(status >> 8, 21, "the child saw another answer than it expected: {status:#x}");
    assert_eq!(seen, -(libc::EFAULT as i64));
}

/// A call the filter does not allow at the exec site traps there, inside
/// the handler where SIGSYS is blocked: the kernel kills the process. So
/// the exec site runs nothing but its own calls (and passthrough ones).
#[test]
fn exec_command_of_a_refused_call_kills_the_process() {
    // A call not on the list; a listed read on a descriptor outside the
    // installed files' numbers (the memfd's copy just below them, and fd 3).
    type Args = fn(u64) -> [u64; 6];
    let cases: [(i64, Args); 3] = [
        (libc::SYS_getpid, |_| [0; 6]),
        (libc::SYS_pread64, |fd| [fd - 1, REGION_BASE, 8, 0, 0, 0]),
        (libc::SYS_pread64, |_| [3, REGION_BASE, 8, 0, 0, 0]),
    ];
    for (nr, args) in cases {
        let (status, r, _) = one_call(move |slot, fd, _, pid| {
            let mut spin = Spinner::new();
            (Some(ANSWER), slot.exec(nr, args(fd), &mut spin, || alive(pid)))
        });
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS, "{nr}: child status {status:#x}");
        assert_eq!(r, None, "{nr}: no result from a killed thread");
    }
}

/// Whether the test's child (0 until forked: the caller's process group)
/// is still there (a zombie counts until reaped).
fn alive(pid: &AtomicI32) -> bool {
    // SAFETY: signal 0 only checks for the process.
    unsafe { libc::kill(pid.load(Ordering::Acquire), 0) == 0 }
}

#[test]
fn scribbled_state_is_not_a_request() {
    let region = Region::new(1).expect("region");
    let _memory = region.back(0).expect("chunk 0's memory");
    let slot = region.slot(0).expect("slot");
    let p = region.chunk_ptr(0, 0).expect("state") as *mut u32;
    // SAFETY: writing the state word of our own mapping, as an app could.
    unsafe { std::ptr::write_volatile(p, 0xdead_beef) };
    let mut spin = Spinner { limit: Spinner::MIN, same_cpu: false };
    assert_eq!(slot.wait_request(&mut spin, Duration::from_millis(1)), Waited::Timeout);
    assert!(region.slot(1).is_none());
}

#[test]
fn spinning_adapts_and_stays_bounded() {
    let mut s = Spinner::new();
    for _ in 0..64 {
        s.hit();
    }
    assert_eq!(s.limit, Spinner::MAX);
    for _ in 0..64 {
        s.miss();
    }
    assert_eq!(s.limit, Spinner::MIN);
}

#[test]
fn rdtscp_check_agrees_with_the_kernel() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags")).expect("flags line");
    assert_eq!(cpu_supported(), flags.split_whitespace().any(|f| f == "rdtscp"));
}

/// Each chunk's memory is a memfd of its own, so the fd passed to one
/// thread's process reaches that chunk alone (`escape_region` races for it
/// in the app); release frees it and leaves the sentry's view zeroed.
#[test]
fn a_chunk_fd_reaches_its_chunk_alone() {
    use std::os::unix::fs::FileExt;
    let region = Region::new(3).expect("region");
    let first = std::fs::File::from(region.back(1).expect("chunk 1"));
    let second = std::fs::File::from(region.back(2).expect("chunk 2"));
    assert_eq!(first.metadata().expect("stat").len(), CHUNK as u64);
    first.write_all_at(b"one", 64).expect("write chunk 1");
    second.write_all_at(b"two", 64).expect("write chunk 2");
    let seen = |i: usize| {
        let mut b = [0u8; 3];
        let p = region.chunk_ptr(i, 64).expect("in the region");
        // SAFETY: three bytes of a backed chunk of our own mapping.
        unsafe { std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), 3) };
        b
    };
    assert_eq!((&seen(1), &seen(2)), (b"one", b"two"), "each fd backs its own chunk in the sentry's view");
    let mut past = [0u8; 8];
    assert_eq!(first.read_at(&mut past, CHUNK as u64).expect("read past the chunk"), 0, "nothing past the chunk");
    region.release(1);
    assert_eq!(&seen(1), &[0, 0, 0], "a released chunk reads zero");
    let mut back = [0u8; 3];
    first.read_exact_at(&mut back, 64).expect("read the released memfd");
    assert_eq!(&back, &[0, 0, 0], "its pages are freed for the app too");
    assert_eq!(&seen(2), b"two");
}

/// Chunks given back are used again, oldest first, each time with memory
/// of its own: what the earlier use's fd still reaches is not the new
/// thread's slot.
#[test]
fn chunks_given_back_are_used_again_with_fresh_memory() {
    use std::os::unix::fs::FileExt;
    let p = Platform { region: Region::new(3).expect("region"), next: Default::default(), free: Default::default() };
    let fds: Vec<_> = (0..3).map(|_| p.alloc_chunk(None).expect("a chunk")).collect();
    assert_eq!(fds.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2], "unused chunks in order");
    assert!(p.alloc_chunk(None).is_none(), "all in use");
    for i in [2, 0] {
        p.region.release(i);
        p.free_chunk(i);
    }
    p.free_chunk(3); // Not a chunk: ignored.
    let old = std::fs::File::from(fds.into_iter().nth(2).expect("chunk 2").1);
    let (again, fresh) = p.alloc_chunk(None).expect("one given back");
    assert_eq!(again, 2, "the oldest given back first");
    std::fs::File::from(fresh).write_all_at(b"new", 64).expect("write the new use");
    old.write_all_at(b"old", 80).expect("write the old use");
    let mut seen = [0u8; 19];
    let at = p.region.chunk_ptr(2, 64).expect("in the region");
    // SAFETY: 19 bytes of a backed chunk of our own mapping.
    unsafe { std::ptr::copy_nonoverlapping(at, seen.as_mut_ptr(), seen.len()) };
    assert_eq!(&seen[..3], b"new");
    assert_eq!(&seen[16..], &[0, 0, 0], "the earlier use's fd does not reach the new one");
    // An ended thread's chunk kept for its process: asked for by number.
    p.region.release(1);
    assert_eq!(p.alloc_chunk(Some(1)).map(|c| c.0), Some(1), "a chunk asked for by number");
    assert_eq!(p.alloc_chunk(None).map(|c| c.0), Some(0));
    assert!(p.alloc_chunk(None).is_none());
}
