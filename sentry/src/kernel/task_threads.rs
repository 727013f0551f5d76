//! The sentry threads tasks run on, kept for the next task once theirs
//! ends: a fork+exec+wait otherwise pays a thread's creation and end (its
//! stack and signal stack mapped and unmapped, ~20 calls) on the sandbox's
//! critical path. At most [`IDLE_MAX`] wait, each for [`IDLE_FOR`], then
//! end, so an idle sandbox holds none of them for long.
//!
//! A thread carries nothing from one task to the next: every task sets its
//! own name, its CPU (`run::task_main`), its current task and route (thread
//! locals set per task), and its tracee was reaped before its task ended.

use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

/// Work for a task thread: a whole task's run.
pub type Job = Box<dyn FnOnce() + Send + 'static>;
/// A job with the name its thread takes for it.
type Named = (String, Job);

/// Threads waiting for a task at most.
const IDLE_MAX: usize = 4;
/// How long a thread waits for one.
const IDLE_FOR: Duration = Duration::from_secs(1);
/// Stack of a task thread.
const STACK: usize = 256 << 10;

/// The waiting threads' doors.
static IDLE: Mutex<Vec<Sender<Named>>> = Mutex::new(Vec::new());

/// Runs `job` on a waiting task thread, else on a new one named `name`.
pub fn run(name: String, job: Job) -> std::io::Result<()> {
    let mut work = (name, job);
    loop {
        let door = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let Some(door) = door else { break };
        // A thread whose wait ended meanwhile closed its door: the next.
        match door.send(work) {
            Ok(()) => return Ok(()),
            Err(back) => work = back.into_inner(),
        }
    }
    let (name, job) = work;
    std::thread::Builder::new().name(name).stack_size(STACK).spawn(move || serve(job)).map(drop)
}

/// A task thread's life: its first job, then any handed to it while it waits.
fn serve(first: Job) {
    let mut job = first;
    loop {
        job();
        match wait() {
            Some((name, next)) => {
                name_thread(&name);
                job = next;
            }
            None => return,
        }
    }
}

/// Waits, as one of the idle threads, for the next job.
fn wait() -> Option<Named> {
    let (door, inbox): (Sender<Named>, Receiver<Named>) = crossbeam_channel::bounded(1);
    {
        let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= IDLE_MAX {
            return None;
        }
        idle.push(door.clone());
    }
    if let Ok(work) = inbox.recv_timeout(IDLE_FOR) {
        return Some(work);
    }
    // Leave the idle list. A sender that took this door first is handing
    // a job over: wait for it.
    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    match idle.iter().position(|d| d.same_channel(&door)) {
        Some(i) => {
            idle.swap_remove(i);
            drop(idle);
            inbox.try_recv().ok()
        }
        None => {
            drop(idle);
            inbox.recv().ok()
        }
    }
}

/// Names the calling thread (as `/proc/.../comm` shows it), at most 15 bytes.
fn name_thread(name: &str) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn tid() -> i32 {
        // SAFETY: gettid has no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_gettid) as i32 }
    }

    /// A job after another has ended runs on the thread that ran it, named
    /// for the new job; none is lost while threads come and go.
    #[test]
    fn ended_task_threads_take_the_next_job() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let t = tx.clone();
        run("pool-a".into(), Box::new(move || t.send(tid()).unwrap())).unwrap();
        let first = rx.recv().unwrap();
        // Give the thread time to reach its wait.
        std::thread::sleep(Duration::from_millis(50));
        let t = tx.clone();
        run(
            "pool-b".into(),
            Box::new(move || {
                let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
                t.send(if comm.trim() == "pool-b" { tid() } else { -1 }).unwrap()
            }),
        )
        .unwrap();
        assert_eq!(rx.recv().unwrap(), first, "the second job reused the first's thread, renamed");

        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..200 {
            let d = done.clone();
            run(
                format!("pool-{i}"),
                Box::new(move || {
                    d.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap();
            if i % 7 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while done.load(Ordering::SeqCst) < 200 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(done.load(Ordering::SeqCst), 200, "every job ran");
        assert!(IDLE.lock().unwrap().len() <= IDLE_MAX);
    }
}
