//! Futex calls that trap: the robust-list query (the common futex operations
//! and set_robust_list are passthrough, so the host holds the real state).

use rvisor_syscalls::{Errno, SysResult};

use super::SyscallCtx;

pub fn sys_get_robust_list(ctx: &mut SyscallCtx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, head_ptr, len_ptr) = (a[0] as i32, a[1], a[2]);
    if pid == 0 || pid == ctx.task.tid {
        // Asked by the thread itself: the host answers in the app's context.
        return Errno::result(ctx.inject(libc::SYS_get_robust_list, [0, head_ptr, len_ptr, 0, 0, 0])?);
    }
    let t = ctx.kernel.task_by_vtid(pid).ok_or(Errno::ESRCH)?;
    // Another thread's list needs ptrace read access to it (Linux's
    // PTRACE_MODE_READ_REALCREDS check).
    super::inspect::may_inspect(ctx, &t)?;
    let (mut head, mut len) = (0u64, 0usize);
    // SAFETY: out-pointers are our own locals; the sentry traces every app thread.
    let r = unsafe {
        libc::syscall(libc::SYS_get_robust_list, t.host_tid(), &mut head as *mut u64, &mut len as *mut usize)
    };
    if r < 0 {
        return Err(Errno::last());
    }
    ctx.mem.write_val(head_ptr, &head)?;
    ctx.mem.write_val(len_ptr, &(len as u64))?;
    Ok(0)
}
