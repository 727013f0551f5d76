//! A faster way into one app process's memory than `process_vm_readv` and
//! `writev`, offered by the platform for the call a sentry thread serves
//! (systrap's copy file, kernel/systrap/copy.rs). [`Memory`](super::Memory)
//! asks the calling sentry thread's route first and falls back to the
//! cross-process copy when there is none or it declines.

use std::cell::Cell;

/// Copies for one app process, in its own context.
pub trait Route {
    /// Whether host pid/tid `pid` names the process this route copies for.
    fn serves(&self, pid: i32) -> bool;
    /// Reads `buf.len()` bytes at `addr`: Some(bytes readable before a
    /// fault), or None to have the caller copy another way.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Option<usize>;
    /// Writes `buf` at `addr`, as `read`.
    fn write(&self, addr: u64, buf: &[u8]) -> Option<usize>;
}

thread_local! {
    static CURRENT: Cell<Option<*const (dyn Route + 'static)>> = const { Cell::new(None) };
}

/// Runs `f` with `route` as the calling thread's route.
pub fn with<R>(route: &dyn Route, f: impl FnOnce() -> R) -> R {
    /// Puts the previous route back however `f` ends.
    struct Restore(Option<*const (dyn Route + 'static)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    // SAFETY: only the lifetime is erased; the pointer is stored for the
    // duration of `f` alone (Restore takes it out again before `route`'s
    // borrow ends, unwinding included) and only dereferenced meanwhile.
    let ptr: *const (dyn Route + 'static) = unsafe { std::mem::transmute(route as *const dyn Route) };
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(ptr))));
    f()
}

fn current<R>(pid: i32, f: impl FnOnce(&dyn Route) -> Option<R>) -> Option<R> {
    let ptr = CURRENT.with(Cell::get)?;
    // SAFETY: set by `with`, whose borrow is live while the pointer is stored.
    let route = unsafe { &*ptr };
    if route.serves(pid) {
        f(route)
    } else {
        None
    }
}

/// The current route's read for process `pid`, if it has one and takes it.
pub fn read(pid: i32, addr: u64, buf: &mut [u8]) -> Option<usize> {
    current(pid, |r| r.read(addr, buf))
}

/// The current route's write for process `pid`, as [`read`].
pub fn write(pid: i32, addr: u64, buf: &[u8]) -> Option<usize> {
    current(pid, |r| r.write(addr, buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(i32, Cell<u32>);
    impl Route for Fake {
        fn serves(&self, pid: i32) -> bool {
            pid == self.0
        }
        fn read(&self, _: u64, buf: &mut [u8]) -> Option<usize> {
            self.1.set(self.1.get() + 1);
            buf.fill(7);
            Some(buf.len())
        }
        fn write(&self, _: u64, _: &[u8]) -> Option<usize> {
            None
        }
    }

    /// Only inside `with`, and only for the process it serves.
    #[test]
    fn scoped_to_the_call_and_the_process() {
        let fake = Fake(42, Cell::new(0));
        let mut b = [0u8; 4];
        assert_eq!(read(42, 0, &mut b), None);
        with(&fake, || {
            assert_eq!(read(42, 0, &mut b), Some(4));
            assert_eq!(read(43, 0, &mut b), None);
            assert_eq!(write(42, 0, &b), None);
        });
        assert_eq!(read(42, 0, &mut b), None);
        assert_eq!((b, fake.1.get()), ([7; 4], 1));
    }
}
