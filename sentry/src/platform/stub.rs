//! The stub image: a tiny static ELF every application process starts from.
//!
//! execve in the sandbox first execs this image on the host (from a sealed
//! memfd) to get a fresh address space, then the loader maps the real program.
//! The stub's one code page stays mapped at [`STUB_BASE`] for the life of the
//! process and gives the platform fixed instruction sites:
//!
//! * [`STUB_SYSCALL`]: `syscall; int3` — run one injected syscall, then trap
//!   back to the tracer with the result in rax.
//! * [`STUB_CLONE`]: `syscall; test rax,rax; jz park; int3` — clone/fork: the
//!   parent traps back, the child parks until its own tracer seizes it.
//! * [`STUB_FORK`]: the clone site for a new process with an fd table of
//!   its own under systrap: the child closes the files the parent holds for
//!   the sentry alone (`kernel::COPY_FD` and `kernel::INSTALL_FD`, see
//!   kernel/systrap/owned.rs) and any fd passed to the parent that was still
//!   waiting at a low number, before it parks.
//! * [`STUB_BATCH`]: runs a table of calls, one after another, until one
//!   fails or the table ends, then parks as the loop does: several injected calls for one
//!   stop, where the systrap filter lets the batch's site run them (the
//!   exec site's calls and the passthrough ones: nothing an app jumping
//!   there could not already do).
//! * [`STUB_PARK`]: `pause` in a loop (pause is a passthrough syscall), so an
//!   untraced new child waits harmlessly until its tracer seizes it.
//! * [`STUB_ENTRY`]: `int3` — the image's entry point, so a fresh exec traps at once.
//! * [`STUB_LOOP`]: `syscall; mov rbx, rax; mov eax, getpid; syscall; int3`:
//!   the injection loop. A call's result goes to rbx, and the getpid (at
//!   [`STUB_LOOP_PARK`]) stops at seccomp: that one stop returns the result
//!   and lets the tracer put the next call in the getpid's place, returning
//!   to the `mov` (`Tracee::inject_parked`). Without a filter yet (a new
//!   process under systrap) the getpid just runs and the int3 traps.
//! * the systrap SIGSYS handler and its rt_sigreturn trampoline, at
//!   `STUB_BASE + systrap::handler::HANDLER_OFF` (unused on ptrace).
//! * the systrap syscall-site trampoline and the patcher's store site, at
//!   `STUB_BASE + systrap::patch::TRAMP_OFF` (used only with patching on).

/// Where the stub's page is mapped. Low in the address space, where neither the
/// kernel's top-down mmap allocator nor the stack ever goes, and above the
/// default vm.mmap_min_addr (64 KiB).
pub const STUB_BASE: u64 = 0x10000;
const CODE_OFF: u64 = 0x100;
pub const STUB_SYSCALL: u64 = STUB_BASE + CODE_OFF;
pub const STUB_CLONE: u64 = STUB_BASE + CODE_OFF + 0x10;
pub const STUB_PARK: u64 = STUB_BASE + CODE_OFF + 0x20;
pub const STUB_ENTRY: u64 = STUB_BASE + CODE_OFF + 0x30;
/// Address of a NUL byte: an empty C string for execveat(fd, "", AT_EMPTY_PATH).
pub const STUB_EMPTY_STRING: u64 = STUB_BASE + CODE_OFF + 0x40;
/// The injection loop (see the module doc).
pub const STUB_LOOP: u64 = STUB_BASE + CODE_OFF + 0x50;
/// The loop's parking `syscall`; seccomp reports it at `STUB_LOOP_PARK + 2`.
pub const STUB_LOOP_PARK: u64 = STUB_LOOP + 10;
/// The number the parking `syscall` makes: one the app filters always trap
/// and the sentry never injects, so a stop with it at the park site is a park.
pub const PARK_NR: u64 = libc::SYS_getpid as u64;
/// The loop's `int3`, right after the parking `syscall`: a parked thread
/// continued with that call skipped stops here, at an ordinary signal stop.
pub const STUB_LOOP_UNPARK: u64 = STUB_LOOP_PARK + 2;
/// The fork site: `syscall; test rax,rax; jz child; int3`, where `child`
/// closes `kernel::COPY_FD..=kernel::INSTALL_FD` (systrap's copy file and
/// install socket, which must stay their process's own) with one
/// `close_range`, then everything below `kernel::STUB_FD` with another, and
/// joins the clone site's park. Below `STUB_FD` an app process holds only
/// fds the sentry is passing to it (a thread's chunk, a copy file, a file to
/// install), each for the moment between its arrival and its move or close,
/// while the other threads run: a fork in that moment copies it, and it is
/// the parent's alone. The closes run at [`STUB_FORK_CLOSE`] and
/// [`STUB_FORK_CLOSE_LOW`], where the systrap filter allows each and
/// nothing else.
pub const STUB_FORK: u64 = STUB_BASE + CODE_OFF + 0x70;
/// The child's first `close_range` as seccomp sees it (the address after its `syscall`).
pub const STUB_FORK_CLOSE: u64 = STUB_FORK + 0x1b;
/// The child's second `close_range`, of `0..STUB_FD`, as seccomp sees it.
pub const STUB_FORK_CLOSE_LOW: u64 = STUB_FORK + 0x2b;
/// The batch runner: with r12 the table's address and r13 its length
/// (at least 1), runs each entry (`BATCH_ENTRY` bytes: the number, six
/// arguments, and the result it stores), stopping after a call that
/// returns an error; then, from [`STUB_BATCH_END`], jumps to the
/// injection loop's park (its `mov eax, PARK_NR`), where the thread
/// stops as after an injected call, with r13 the count of entries left
/// (0: all ran) and, after a failed call, r12 at its entry.
pub const STUB_BATCH: u64 = STUB_BASE + CODE_OFF + 0xa0;
/// The batch's `syscall` as seccomp sees it (the address after it).
pub const STUB_BATCH_SITE: u64 = STUB_BATCH + 0x24;
/// The batch runner's jump to the park.
pub const STUB_BATCH_END: u64 = STUB_BATCH + 0x3a;
/// Bytes per entry of a batch table: nr, six arguments, result.
pub const BATCH_ENTRY: u64 = 64;
/// Where in its entry the runner stores a call's result.
pub const BATCH_RESULT_OFF: usize = 56;
const IMAGE_LEN: usize = 0x520;
const _: () = {
    use super::systrap::{handler, patch};
    assert!(handler::HANDLER_OFF as usize + handler::CODE.len() <= patch::TRAMP_OFF as usize);
    assert!(patch::TRAMP_OFF as usize + patch::CODE.len() <= IMAGE_LEN);
};

fn put(image: &mut [u8], off: u64, bytes: &[u8]) {
    let off = off as usize;
    image[off..off + bytes.len()].copy_from_slice(bytes);
}

/// Builds the stub ELF image.
pub fn build_image() -> Vec<u8> {
    let mut img = vec![0u8; IMAGE_LEN];
    // ELF header.
    put(&mut img, 0, &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    put(&mut img, 16, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut img, 18, &62u16.to_le_bytes()); // EM_X86_64
    put(&mut img, 20, &1u32.to_le_bytes()); // EV_CURRENT
    put(&mut img, 24, &STUB_ENTRY.to_le_bytes());
    put(&mut img, 32, &64u64.to_le_bytes()); // e_phoff
    put(&mut img, 40, &0u64.to_le_bytes()); // e_shoff
    put(&mut img, 48, &0u32.to_le_bytes()); // e_flags
    put(&mut img, 52, &64u16.to_le_bytes()); // e_ehsize
    put(&mut img, 54, &56u16.to_le_bytes()); // e_phentsize
    put(&mut img, 56, &1u16.to_le_bytes()); // e_phnum
    put(&mut img, 58, &64u16.to_le_bytes()); // e_shentsize
                                             // One PT_LOAD, R+X, the whole file at STUB_BASE.
    let ph = 64;
    put(&mut img, ph, &1u32.to_le_bytes()); // PT_LOAD
    put(&mut img, ph + 4, &5u32.to_le_bytes()); // PF_R | PF_X
    put(&mut img, ph + 8, &0u64.to_le_bytes()); // p_offset
    put(&mut img, ph + 16, &STUB_BASE.to_le_bytes()); // p_vaddr
    put(&mut img, ph + 24, &STUB_BASE.to_le_bytes()); // p_paddr
    put(&mut img, ph + 32, &(IMAGE_LEN as u64).to_le_bytes()); // p_filesz
    put(&mut img, ph + 40, &(IMAGE_LEN as u64).to_le_bytes()); // p_memsz
    put(&mut img, ph + 48, &0x1000u64.to_le_bytes()); // p_align

    // syscall; int3
    put(&mut img, CODE_OFF, &[0x0f, 0x05, 0xcc]);
    // syscall; test rax,rax; jz park; int3
    let clone = CODE_OFF + 0x10;
    let jz_next = clone + 7; // address after the 2-byte jz
    let rel = (CODE_OFF + 0x20) as i64 - jz_next as i64;
    put(&mut img, clone, &[0x0f, 0x05, 0x48, 0x85, 0xc0, 0x74, rel as i8 as u8, 0xcc]);
    // park: mov eax, SYS_pause; syscall; jmp park
    let park = CODE_OFF + 0x20;
    put(&mut img, park, &[0xb8, libc::SYS_pause as u8, 0, 0, 0, 0x0f, 0x05, 0xeb, (-9i8) as u8]);
    // entry: int3, then park forever should anyone continue past it.
    put(&mut img, CODE_OFF + 0x30, &[0xcc, 0xeb, (-(0x30 - 0x20 + 3) as i8) as u8]);
    // loop: syscall; mov rbx, rax; mov eax, PARK_NR; park: syscall; int3
    put(
        &mut img,
        STUB_LOOP - STUB_BASE,
        &[0x0f, 0x05, 0x48, 0x89, 0xc3, 0xb8, PARK_NR as u8, 0, 0, 0, 0x0f, 0x05, 0xcc],
    );
    // fork: syscall; test rax,rax; jz child; int3;
    // child: mov edi, COPY_FD; mov esi, INSTALL_FD; xor edx, edx;
    //        mov eax, SYS_close_range; syscall;
    //        xor edi, edi; mov esi, STUB_FD - 1; xor edx, edx;
    //        mov eax, SYS_close_range; syscall; jmp park
    let fork = STUB_FORK - STUB_BASE;
    let first = (crate::kernel::COPY_FD as u32).to_le_bytes();
    let last = (crate::kernel::INSTALL_FD as u32).to_le_bytes();
    let below = (crate::kernel::STUB_FD as u32 - 1).to_le_bytes();
    let nr = (libc::SYS_close_range as u32).to_le_bytes();
    let back = park as i64 - (STUB_FORK_CLOSE_LOW - STUB_BASE + 2) as i64;
    #[rustfmt::skip]
    let code = [
        0x0f, 0x05, 0x48, 0x85, 0xc0, 0x74, 0x01, 0xcc,
        0xbf, first[0], first[1], first[2], first[3],
        0xbe, last[0], last[1], last[2], last[3],
        0x31, 0xd2,
        0xb8, nr[0], nr[1], nr[2], nr[3],
        0x0f, 0x05,
        0x31, 0xff,
        0xbe, below[0], below[1], below[2], below[3],
        0x31, 0xd2,
        0xb8, nr[0], nr[1], nr[2], nr[3],
        0x0f, 0x05,
        0xeb, back as i8 as u8,
    ];
    put(&mut img, fork, &code);
    // batch: load the entry at r12 into the call's registers; syscall;
    //        store rax as its result; stop at an error (-4095..-1);
    //        next entry while r13 counts down; then the loop's park.
    #[rustfmt::skip]
    let batch = [
        0x49, 0x8b, 0x04, 0x24,       // mov rax, [r12]
        0x49, 0x8b, 0x7c, 0x24, 0x08, // mov rdi, [r12+8]
        0x49, 0x8b, 0x74, 0x24, 0x10, // mov rsi, [r12+16]
        0x49, 0x8b, 0x54, 0x24, 0x18, // mov rdx, [r12+24]
        0x4d, 0x8b, 0x54, 0x24, 0x20, // mov r10, [r12+32]
        0x4d, 0x8b, 0x44, 0x24, 0x28, // mov r8, [r12+40]
        0x4d, 0x8b, 0x4c, 0x24, 0x30, // mov r9, [r12+48]
        0x0f, 0x05,                   // syscall
        0x49, 0x89, 0x44, 0x24, 0x38, // mov [r12+56], rax
        0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, // cmp rax, -4095
        0x73, 0x09,                   // jae done
        0x49, 0x83, 0xc4, 0x40,       // add r12, 64
        0x49, 0xff, 0xcd,             // dec r13
        0x75, 0xc6,                   // jnz batch
        0xe9, 0, 0, 0, 0,             // done: jmp STUB_LOOP + 5
    ];
    put(&mut img, STUB_BATCH - STUB_BASE, &batch);
    let back = (STUB_LOOP + 5) as i64 - (STUB_BATCH_END + 5) as i64;
    put(&mut img, STUB_BATCH_END - STUB_BASE + 1, &(back as i32).to_le_bytes());
    put(&mut img, super::systrap::handler::HANDLER_OFF, &super::systrap::handler::CODE);
    put(&mut img, super::systrap::patch::TRAMP_OFF, &super::systrap::patch::CODE);
    img
}

/// Maps `image` at [`STUB_BASE`] in a forked test child, as the stub's exec
/// would: 10 if the address is taken, 11 if it cannot be made executable.
/// Raw syscalls only (the test process has threads).
#[cfg(test)]
pub(crate) fn map_in_test_child(image: &[u8]) -> Result<(), i32> {
    // SAFETY: a fixed address nothing else uses in a test child
    // (MAP_FIXED_NOREPLACE fails rather than clobbers); the copy stays
    // inside the fresh page.
    unsafe {
        let stub = libc::mmap(
            STUB_BASE as *mut libc::c_void,
            0x1000,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        );
        if stub as u64 != STUB_BASE {
            return Err(10);
        }
        std::ptr::copy_nonoverlapping(image.as_ptr(), stub.cast::<u8>(), image.len().min(0x1000));
        if libc::mprotect(stub, 0x1000, libc::PROT_READ | libc::PROT_EXEC) != 0 {
            return Err(11);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let img = build_image();
        assert_eq!(&img[..4], b"\x7fELF");
        let at = |a: u64| img[(a - STUB_BASE) as usize];
        assert_eq!((at(STUB_SYSCALL), at(STUB_SYSCALL + 1), at(STUB_SYSCALL + 2)), (0x0f, 0x05, 0xcc));
        assert_eq!((at(STUB_PARK + 5), at(STUB_PARK + 6)), (0x0f, 0x05));
        assert_eq!(at(STUB_ENTRY), 0xcc);
        assert_eq!(at(STUB_EMPTY_STRING), 0);
        // jz lands on park.
        let jz = STUB_CLONE + 5;
        let target = (jz + 2) as i64 + (at(jz + 1) as i8) as i64;
        assert_eq!(target as u64, STUB_PARK);
        // park's jmp loops back to park.
        let jmp = STUB_PARK + 7;
        assert_eq!((jmp + 2) as i64 + (at(jmp + 1) as i8) as i64, STUB_PARK as i64);
        // entry's jmp goes to park.
        let ej = STUB_ENTRY + 1;
        assert_eq!((ej + 2) as i64 + (at(ej + 1) as i8) as i64, STUB_PARK as i64);
        // The loop: a call, its result to rbx, the parking getpid, int3.
        assert_eq!((at(STUB_LOOP), at(STUB_LOOP + 1)), (0x0f, 0x05));
        assert_eq!((at(STUB_LOOP + 2), at(STUB_LOOP + 3), at(STUB_LOOP + 4)), (0x48, 0x89, 0xc3));
        assert_eq!((at(STUB_LOOP + 5), at(STUB_LOOP + 6)), (0xb8, PARK_NR as u8));
        assert_eq!((at(STUB_LOOP_PARK), at(STUB_LOOP_PARK + 1)), (0x0f, 0x05));
        assert_eq!(at(STUB_LOOP_UNPARK), 0xcc);
        const { assert!(STUB_LOOP_UNPARK < STUB_FORK) };
        // The fork site: the clone, the parent's int3, the child's
        // close_range of the copy file and install socket at
        // STUB_FORK_CLOSE, then the park.
        assert_eq!((at(STUB_FORK), at(STUB_FORK + 1), at(STUB_FORK + 7)), (0x0f, 0x05, 0xcc));
        let jz = STUB_FORK + 5;
        assert_eq!((jz + 2) as i64 + (at(jz + 1) as i8) as i64, (STUB_FORK + 8) as i64);
        let imm = |a: u64| u32::from_le_bytes([at(a), at(a + 1), at(a + 2), at(a + 3)]);
        assert_eq!((at(STUB_FORK + 8), imm(STUB_FORK + 9)), (0xbf, crate::kernel::COPY_FD as u32));
        assert_eq!((at(STUB_FORK + 13), imm(STUB_FORK + 14)), (0xbe, crate::kernel::INSTALL_FD as u32));
        assert_eq!((at(STUB_FORK + 18), at(STUB_FORK + 19)), (0x31, 0xd2));
        assert_eq!((at(STUB_FORK + 20), imm(STUB_FORK + 21)), (0xb8, libc::SYS_close_range as u32));
        assert_eq!((at(STUB_FORK_CLOSE - 2), at(STUB_FORK_CLOSE - 1)), (0x0f, 0x05));
        // Then the close of everything below the stub image's fd.
        let low = STUB_FORK_CLOSE;
        assert_eq!((at(low), at(low + 1)), (0x31, 0xff));
        assert_eq!((at(low + 2), imm(low + 3)), (0xbe, crate::kernel::STUB_FD as u32 - 1));
        assert_eq!((at(low + 7), at(low + 8)), (0x31, 0xd2));
        assert_eq!((at(low + 9), imm(low + 10)), (0xb8, libc::SYS_close_range as u32));
        assert_eq!(low + 16, STUB_FORK_CLOSE_LOW);
        assert_eq!((at(STUB_FORK_CLOSE_LOW - 2), at(STUB_FORK_CLOSE_LOW - 1)), (0x0f, 0x05));
        let jmp = STUB_FORK_CLOSE_LOW;
        assert_eq!((jmp + 2) as i64 + (at(jmp + 1) as i8) as i64, STUB_PARK as i64);
        const { assert!(STUB_FORK_CLOSE_LOW + 2 <= STUB_BATCH) };
        // The batch runner: its syscall, its int3, and both jumps' targets.
        assert_eq!((at(STUB_BATCH_SITE - 2), at(STUB_BATCH_SITE - 1)), (0x0f, 0x05));
        // mov [r12+BATCH_RESULT_OFF], rax right after it.
        assert_eq!(at(STUB_BATCH_SITE), 0x49);
        assert_eq!(at(STUB_BATCH_SITE + 4) as usize, BATCH_RESULT_OFF);
        assert_eq!(at(STUB_BATCH_END), 0xe9);
        let to = (STUB_BATCH_END + 5) as i64 + imm(STUB_BATCH_END + 1) as i32 as i64;
        assert_eq!(to as u64, STUB_LOOP + 5);
        assert_eq!((at(STUB_LOOP + 5), at(STUB_LOOP + 6)), (0xb8, PARK_NR as u8));
        let jae = STUB_BATCH_SITE + 11;
        assert_eq!(at(jae), 0x73);
        assert_eq!((jae + 2) as i64 + (at(jae + 1) as i8) as i64, STUB_BATCH_END as i64);
        let jnz = STUB_BATCH_END - 2;
        assert_eq!(at(jnz), 0x75);
        assert_eq!((jnz + 2) as i64 + (at(jnz + 1) as i8) as i64, STUB_BATCH as i64);
        const { assert!(STUB_BATCH_END + 5 <= STUB_BASE + super::super::systrap::handler::HANDLER_OFF) };
    }
}
