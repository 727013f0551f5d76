//! The stub's SIGSYS handler as machine code (source: `handler.S` next to
//! this file). It lives in the stub image, so it is in every app process at a
//! fixed address and survives execve (which goes through the stub).
//!
//! What it does, per trapped syscall:
//! 1. finds its thread's slot: the base of the 64 KiB-aligned alternate
//!    signal stack it runs on (each thread's alt stack is its own chunk of
//!    the shared region, see [`super::CHUNK`]);
//! 2. copies the call (number from siginfo, arguments, rip, rsp from the
//!    ucontext, and the ucontext's address) and the CPU it runs on (rdtscp) into the slot;
//! 3. publishes it (`xchg state, REQUEST`), waking the sentry with
//!    FUTEX_WAKE if the sentry slept (`SENTRY_WAIT`);
//! 4. spins `spin` times (a slot field the sentry tunes) for `REPLY`, then
//!    sleeps in FUTEX_WAIT after `cmpxchg REQUEST -> APP_WAIT`;
//! 5. on an `EXEC` command instead of a reply, runs the syscall the sentry
//!    wrote into the slot's number and argument fields, stores its result
//!    in the slot and publishes that (as in 3) for the sentry: how the sentry runs a
//!    host call in the app's context without ptrace (`Slot::exec`); on
//!    `REPLY_COPY` it runs the call the same way, then answers the request
//!    itself: the slot's final result if the call returned the expected
//!    count, else -EFAULT (`Slot::reply_copy`: a call's last copy-out);
//! 6. stores the slot's result into the ucontext's rax, moves the
//!    ucontext's rip back by the slot's `rewind` (0, or 2 to make the app
//!    execute its syscall instruction again: the sentry's "stop for me"
//!    reply, see `Slot::reply_rewind`), marks the slot `IDLE` and returns to
//!    the trampoline, whose rt_sigreturn resumes the app with rax = the result.
//!
//! Its own syscalls are futex (wait/wake, non-private: the word is shared
//! between processes) and rt_sigreturn, both already passthrough in the app
//! filter. The calls it runs for the sentry at the exec site pass the app
//! filter like any other call, plus the few the filter allows from that
//! one address (`filter::EXEC_SITE_CALLS`): all with every signal blocked,
//! so only calls that cannot wait for long are sent there.

/// Offset of the handler in the stub image (see `stub.rs`).
pub const HANDLER_OFF: u64 = 0x200;
/// Offset of the rt_sigreturn trampoline (the sigaction's sa_restorer).
pub const RESTORER_OFF: u64 = HANDLER_OFF + 0x160;

/// Offset (from the handler's start) of `done`: a thread stopped before it
/// has a request pending or about to be published (or just answered); from
/// there on it only returns (`exec`, after it, runs only while the sentry
/// thread that sent the command waits for its result).
pub const DONE_OFF: u64 = 0xdc;
/// Offset of the instruction after the publishing `xchg`.
pub const PUBLISHED_OFF: u64 = 0x78;
/// Offset of the instruction after `exec`'s `syscall`: where seccomp sees
/// the calls the sentry asks the handler to run (`Slot::exec`).
pub const EXEC_SITE_OFF: u64 = 0x12a;

/// `handler` .. `restorer` of handler.S, assembled (objdump -d).
#[rustfmt::skip]
pub const CODE: [u8; 0x168] = [
    // handler:
    0x49, 0x89, 0xe4, // 0x0: mov r12,rsp
    0x49, 0x81, 0xe4, 0x00, 0x00, 0xff, 0xff, // 0x3: and r12,0xffffffffffff0000
    0x4c, 0x8d, 0x6a, 0x28, // 0xa: lea r13,[rdx+0x28]
    0x49, 0x89, 0x54, 0x24, 0x68, // 0xe: mov [r12+0x68],rdx
    0x48, 0x63, 0x46, 0x18, // 0x13: movsxd rax,dword [rsi+0x18]
    0x49, 0x89, 0x44, 0x24, 0x08, // 0x17: mov [r12+0x8],rax
    0x49, 0x8b, 0x45, 0x40, // 0x1c: mov rax,[r13+0x40]
    0x49, 0x89, 0x44, 0x24, 0x10, // 0x20: mov [r12+0x10],rax
    0x49, 0x8b, 0x45, 0x48, // 0x25: mov rax,[r13+0x48]
    0x49, 0x89, 0x44, 0x24, 0x18, // 0x29: mov [r12+0x18],rax
    0x49, 0x8b, 0x45, 0x60, // 0x2e: mov rax,[r13+0x60]
    0x49, 0x89, 0x44, 0x24, 0x20, // 0x32: mov [r12+0x20],rax
    0x49, 0x8b, 0x45, 0x10, // 0x37: mov rax,[r13+0x10]
    0x49, 0x89, 0x44, 0x24, 0x28, // 0x3b: mov [r12+0x28],rax
    0x49, 0x8b, 0x45, 0x00, // 0x40: mov rax,[r13+0x0]
    0x49, 0x89, 0x44, 0x24, 0x30, // 0x44: mov [r12+0x30],rax
    0x49, 0x8b, 0x45, 0x08, // 0x49: mov rax,[r13+0x8]
    0x49, 0x89, 0x44, 0x24, 0x38, // 0x4d: mov [r12+0x38],rax
    0x49, 0x8b, 0x85, 0x80, 0x00, 0x00, 0x00, // 0x52: mov rax,[r13+0x80]
    0x49, 0x89, 0x44, 0x24, 0x40, // 0x59: mov [r12+0x40],rax
    0x49, 0x8b, 0x45, 0x78, // 0x5e: mov rax,[r13+0x78]
    0x49, 0x89, 0x44, 0x24, 0x48, // 0x62: mov [r12+0x48],rax
    0x0f, 0x01, 0xf9, // 0x67: rdtscp
    0x41, 0x89, 0x4c, 0x24, 0x58, // 0x6a: mov dword [r12+0x58],ecx
    // publish:
    0xb8, 0x01, 0x00, 0x00, 0x00, // 0x6f: mov eax,0x1
    0x41, 0x87, 0x04, 0x24, // 0x74: xchg dword [r12],eax
    0x83, 0xf8, 0x03, // 0x78: cmp eax,0x3
    0x75, 0x14, // 0x7b: jne 91
    0x4c, 0x89, 0xe7, // 0x7d: mov rdi,r12
    0xbe, 0x01, 0x00, 0x00, 0x00, // 0x80: mov esi,0x1
    0xba, 0x01, 0x00, 0x00, 0x00, // 0x85: mov edx,0x1
    0xb8, 0xca, 0x00, 0x00, 0x00, // 0x8a: mov eax,0xca
    0x0f, 0x05, // 0x8f: syscall
    // respin:
    0x45, 0x8b, 0x74, 0x24, 0x04, // 0x91: mov r14d,dword [r12+0x4]
    0x41, 0x83, 0xce, 0x01, // 0x96: or r14d,0x1
    // check:
    0x41, 0x8b, 0x04, 0x24, // 0x9a: mov eax,dword [r12]
    0x83, 0xf8, 0x02, // 0x9e: cmp eax,0x2
    0x74, 0x39, // 0xa1: je dc
    0x83, 0xf8, 0x08, // 0xa3: cmp eax,0x8
    0x74, 0x52, // 0xa6: je fa
    0x83, 0xf8, 0x0a, // 0xa8: cmp eax,0xa
    0x74, 0x4d, // 0xab: je fa
    0xf3, 0x90, // 0xad: pause
    0x41, 0xff, 0xce, // 0xaf: dec r14d
    0x75, 0xe6, // 0xb2: jne 9a
    0xb8, 0x01, 0x00, 0x00, 0x00, // 0xb4: mov eax,0x1
    0xb9, 0x04, 0x00, 0x00, 0x00, // 0xb9: mov ecx,0x4
    0xf0, 0x41, 0x0f, 0xb1, 0x0c, 0x24, // 0xbe: lock cmpxchg dword [r12],ecx
    0x75, 0xcb, // 0xc4: jne 91
    0x4c, 0x89, 0xe7, // 0xc6: mov rdi,r12
    0x31, 0xf6, // 0xc9: xor esi,esi
    0xba, 0x04, 0x00, 0x00, 0x00, // 0xcb: mov edx,0x4
    0x45, 0x31, 0xd2, // 0xd0: xor r10d,r10d
    0xb8, 0xca, 0x00, 0x00, 0x00, // 0xd3: mov eax,0xca
    0x0f, 0x05, // 0xd8: syscall
    0xeb, 0xb5, // 0xda: jmp 91
    // done:
    0x49, 0x8b, 0x44, 0x24, 0x50, // 0xdc: mov rax,[r12+0x50]
    0x49, 0x89, 0x45, 0x68, // 0xe1: mov [r13+0x68],rax
    0x49, 0x8b, 0x44, 0x24, 0x60, // 0xe5: mov rax,[r12+0x60]
    0x49, 0x29, 0x85, 0x80, 0x00, 0x00, 0x00, // 0xea: sub [r13+0x80],rax
    0x41, 0xc7, 0x04, 0x24, 0x00, 0x00, 0x00, 0x00, // 0xf1: mov dword [r12],0x0
    0xc3, // 0xf9: ret
    // exec:
    0x41, 0x89, 0xc7, // 0xfa: mov r15d,eax
    0x41, 0xc7, 0x04, 0x24, 0x09, 0x00, 0x00, 0x00, // 0xfd: mov dword [r12],0x9
    0x49, 0x8b, 0x44, 0x24, 0x08, // 0x105: mov rax,[r12+0x8]
    0x49, 0x8b, 0x7c, 0x24, 0x10, // 0x10a: mov rdi,[r12+0x10]
    0x49, 0x8b, 0x74, 0x24, 0x18, // 0x10f: mov rsi,[r12+0x18]
    0x49, 0x8b, 0x54, 0x24, 0x20, // 0x114: mov rdx,[r12+0x20]
    0x4d, 0x8b, 0x54, 0x24, 0x28, // 0x119: mov r10,[r12+0x28]
    0x4d, 0x8b, 0x44, 0x24, 0x30, // 0x11e: mov r8,[r12+0x30]
    0x4d, 0x8b, 0x4c, 0x24, 0x38, // 0x123: mov r9,[r12+0x38]
    0x0f, 0x05, // 0x128: syscall
    0x49, 0x89, 0x44, 0x24, 0x50, // 0x12a: mov [r12+0x50],rax
    0x41, 0x83, 0xff, 0x0a, // 0x12f: cmp r15d,0xa
    0x74, 0x05, // 0x133: je 13a
    0xe9, 0x35, 0xff, 0xff, 0xff, // 0x135: jmp 6f
    // copied:
    0x49, 0x3b, 0x44, 0x24, 0x70, // 0x13a: cmp rax,[r12+0x70]
    0x48, 0xc7, 0xc0, 0xf2, 0xff, 0xff, 0xff, // 0x13f: mov rax,0xfffffffffffffff2
    0x49, 0x0f, 0x44, 0x44, 0x24, 0x78, // 0x146: cmove rax,[r12+0x78]
    0x49, 0x89, 0x44, 0x24, 0x50, // 0x14c: mov [r12+0x50],rax
    0xeb, 0x89, // 0x151: jmp dc
    0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, // 0x153: nop (padding)
    0x66, 0x90, // 0x15e: nop (padding)
    // restorer:
    0xb8, 0x0f, 0x00, 0x00, 0x00, // 0x160: mov eax,0xf
    0x0f, 0x05, // 0x165: syscall
    0xf4, // 0x167: hlt
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_is_rt_sigreturn() {
        let r = (RESTORER_OFF - HANDLER_OFF) as usize;
        assert_eq!(&CODE[r..r + 7], &[0xb8, libc::SYS_rt_sigreturn as u8, 0, 0, 0, 0x0f, 0x05]);
    }

    /// The escape tests jump to the exec site's `syscall` by its address.
    #[test]
    fn the_escape_tests_know_the_exec_site() {
        let header = include_str!("../../../../tests/c/exec_site.h");
        let line = header.lines().find_map(|l| l.strip_prefix("#define EXEC_SYSCALL ")).expect("EXEC_SYSCALL");
        let addr = u64::from_str_radix(line.trim().trim_start_matches("0x").trim_end_matches("UL"), 16).expect("hex");
        assert_eq!(addr, crate::platform::stub::STUB_BASE + HANDLER_OFF + EXEC_SITE_OFF - 2);
    }

    /// The slot offsets the machine code uses match the Rust side's.
    #[test]
    fn offsets_match_slot_layout() {
        use super::super::slot::{
            EXEC, EXEC_RUNNING, OFF_ARGS, OFF_CPU, OFF_EXPECT, OFF_FINAL, OFF_NR, OFF_RET, OFF_REWIND, OFF_RSP,
            OFF_SPIN, OFF_UCTX, REPLY_COPY,
        };
        // done: mov rax,[r12+0x50]; the publishing xchg ends at PUBLISHED_OFF.
        assert_eq!(&CODE[DONE_OFF as usize..DONE_OFF as usize + 5], &[0x49, 0x8b, 0x44, 0x24, OFF_RET as u8]);
        assert_eq!(&CODE[PUBLISHED_OFF as usize - 4..PUBLISHED_OFF as usize], &[0x41, 0x87, 0x04, 0x24]);
        assert_eq!(CODE[0x12] as usize, OFF_UCTX); // mov [r12+0x68],rdx
        assert_eq!(CODE[0x1b] as usize, OFF_NR); // mov [r12+8],rax
        assert_eq!(CODE[0x66] as usize, OFF_RSP); // mov [r12+0x48],rax
        assert_eq!(CODE[0x6e] as usize, OFF_CPU); // mov [r12+0x58],ecx
        assert_eq!(CODE[0x95] as usize, OFF_SPIN); // mov r14d,[r12+4]
        assert_eq!(CODE[0xe9] as usize, OFF_REWIND); // mov rax,[r12+0x60]
                                                     // exec: the command's number and arguments, its result to OFF_RET.
        let exec = EXEC_SITE_OFF as usize - 2 - 7 * 5;
        assert_eq!(&CODE[exec - 8..exec - 4], &[0x41, 0xc7, 0x04, 0x24]); // mov dword [r12], ...
        assert_eq!(CODE[exec - 4] as u32, EXEC_RUNNING);
        assert_eq!(CODE[0xa5] as u32, EXEC); // cmp eax, EXEC
        assert_eq!(CODE[0xaa] as u32, REPLY_COPY); // cmp eax, REPLY_COPY
        assert_eq!(CODE[exec + 4] as usize, OFF_NR);
        for i in 0..6 {
            assert_eq!(CODE[exec + 5 * (i + 1) + 4] as usize, OFF_ARGS + 8 * i);
        }
        assert_eq!(&CODE[EXEC_SITE_OFF as usize - 2..EXEC_SITE_OFF as usize], &[0x0f, 0x05]);
        assert_eq!(CODE[EXEC_SITE_OFF as usize + 4] as usize, OFF_RET);
        // copied: the command was REPLY_COPY (cmp r15d, 10); its call's
        // result against OFF_EXPECT; -EFAULT or OFF_FINAL into OFF_RET.
        let copied = EXEC_SITE_OFF as usize + 5 + 4 + 2 + 5;
        assert_eq!(&CODE[copied - 11..copied - 7], &[0x41, 0x83, 0xff, REPLY_COPY as u8]);
        assert_eq!(&CODE[copied..copied + 5], &[0x49, 0x3b, 0x44, 0x24, OFF_EXPECT as u8]);
        assert_eq!(CODE[copied + 8] as i8, -(libc::EFAULT as i8));
        assert_eq!(&CODE[copied + 12..copied + 18], &[0x49, 0x0f, 0x44, 0x44, 0x24, OFF_FINAL as u8]);
        assert_eq!(&CODE[copied + 18..copied + 23], &[0x49, 0x89, 0x44, 0x24, OFF_RET as u8]);
        // ... then jumps back to done.
        assert_eq!((copied as isize + 25 + CODE[copied + 24] as i8 as isize) as u64, DONE_OFF);
    }
}
