//! execve: resolve the program through the VFS, handle "#!" scripts, parse
//! the ELF headers (goblin), then load segments and build the initial stack
//! inside a process freshly exec'd from the stub image.

mod elf;
mod stack;

use std::sync::Arc;

use rvisor_syscalls::Errno;

use crate::kernel::task::MmLayout;
use crate::syscalls::{batch_succeeded, SyscallCtx};
use crate::vfs::perm::{may_access, MAY_EXEC};
use crate::vfs::writecount::ExecAccess;
use crate::vfs::{FileOps, Location, VfsResult};

pub use elf::ElfInfo;

/// Binary-format rewrites ("#!" scripts) Linux follows before giving up with
/// ELOOP: exec_binprm allows depths 0..=5, so five nested scripts and the ELF.
const MAX_INTERP_DEPTH: usize = 5;
/// Bytes of "#!" line Linux reads.
const BINPRM_BUF_SIZE: usize = 256;

/// An opened executable.
pub struct Program {
    pub location: Location,
    pub file: Arc<dyn FileOps>,
    pub elf: ElfInfo,
    /// Keeps the file from being opened for writing (ETXTBSY) while loaded.
    pub access: Arc<ExecAccess>,
}

/// Everything decided before the point of no return.
pub struct ExecPlan {
    pub exe: Program,
    pub interp: Option<Program>,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// The path as given (AT_EXECFN).
    pub execfn: Vec<u8>,
}

/// Opens `loc` for execution: EACCES for non-regular or non-executable
/// files, ELOOP for an unfollowed symlink, ETXTBSY for a file open for writing.
fn open_exec(ctx: &SyscallCtx<'_>, loc: &Location) -> VfsResult<(Arc<dyn FileOps>, Arc<ExecAccess>)> {
    let attr = loc.attr()?;
    // A symlink here was not followed (execveat's AT_SYMLINK_NOFOLLOW).
    if attr.is_symlink() {
        return Err(Errno::ELOOP);
    }
    if !attr.is_regular() {
        return Err(Errno::EACCES);
    }
    if loc.mount.flags.noexec || !may_access(&attr, &ctx.task.creds().fs(), MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    let access = ExecAccess::deny_write(&attr)?;
    Ok((loc.inode().open(libc::O_RDONLY)?, access))
}

/// Reads up to `len` bytes at `off`; shorter only at end of file.
fn read_at(file: &Arc<dyn FileOps>, off: u64, len: usize) -> VfsResult<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = file.read(&mut buf[done..], off + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// Parses a "#!" line into (interpreter, optional single argument).
fn parse_shebang(head: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let line = head.strip_prefix(b"#!")?;
    let line = match line.iter().position(|&b| b == b'\n') {
        Some(end) => &line[..end],
        // No newline in the first BINPRM_BUF_SIZE bytes: Linux keeps the line
        // only if the interpreter path visibly ends (space, tab or NUL) before
        // the buffer does, and then cuts the rest at the buffer's end.
        None if head.len() >= BINPRM_BUF_SIZE => {
            let line = &line[..BINPRM_BUF_SIZE - 3];
            let start = line.iter().position(|&b| b != b' ' && b != b'\t')?;
            line[start..].iter().position(|&b| b == b' ' || b == b'\t' || b == 0)?;
            line
        }
        // A short file is NUL-padded in Linux's buffer.
        None => line,
    };
    // The kernel works on C strings: a NUL ends the line.
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let s = line.iter().position(|b| !is_blank(b)).unwrap_or(line.len());
    let e = line.iter().rposition(|b| !is_blank(b)).map(|p| p + 1).unwrap_or(s);
    if s >= e {
        return Some((Vec::new(), None));
    }
    let trimmed = &line[s..e];
    match trimmed.iter().position(is_blank) {
        None => Some((trimmed.to_vec(), None)),
        Some(i) => {
            let rest = &trimmed[i..];
            let a = rest.iter().position(|b| !is_blank(b)).unwrap_or(rest.len());
            let arg = &rest[a..];
            Some((trimmed[..i].to_vec(), if arg.is_empty() { None } else { Some(arg.to_vec()) }))
        }
    }
}

/// Resolves and validates a program (following "#!" chains), without side effects.
pub fn prepare(
    ctx: &SyscallCtx<'_>,
    dirfd: i32,
    path: &[u8],
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    follow: bool,
) -> VfsResult<ExecPlan> {
    let execfn = path.to_vec();
    let mut loc = if path.is_empty() { ctx.dir_location(dirfd)? } else { ctx.resolve_at(dirfd, path, follow)? };
    let mut cur_path = path.to_vec();
    for _ in 0..=MAX_INTERP_DEPTH {
        let (file, access) = open_exec(ctx, &loc)?;
        let head = read_at(&file, 0, BINPRM_BUF_SIZE)?;
        if let Some((interp, arg)) = parse_shebang(&head) {
            if interp.is_empty() {
                return Err(Errno::ENOEXEC);
            }
            // argv becomes: interp [arg] script-path original-argv[1..]
            let mut new_argv = vec![interp.clone()];
            if let Some(a) = arg {
                new_argv.push(a);
            }
            new_argv.push(cur_path.clone());
            new_argv.extend(argv.iter().skip(1).cloned());
            argv = new_argv;
            loc = ctx.resolve_at(crate::syscalls::AT_FDCWD, &interp, true)?;
            cur_path = interp;
            continue;
        }
        let elf = elf::parse(&file)?;
        let interp = match &elf.interp {
            Some(ipath) => {
                let iloc = ctx.resolve_at(crate::syscalls::AT_FDCWD, ipath, true)?;
                let (ifile, iaccess) = open_exec(ctx, &iloc)?;
                let ielf = elf::parse(&ifile)?;
                if ielf.interp.is_some() {
                    return Err(Errno::ELIBBAD);
                }
                Some(Program { location: iloc, file: ifile, elf: ielf, access: iaccess })
            }
            None => None,
        };
        return Ok(ExecPlan { exe: Program { location: loc, file, elf, access }, interp, argv, envp, execfn });
    }
    Err(Errno::ELOOP)
}

/// Loads `plan` into the process, which must be a fresh stub image stopped at
/// its entry trap (`ctx.regs()` are its registers). On success `ctx.regs()` hold
/// the registers to start the program with.
pub fn load(ctx: &mut SyscallCtx<'_>, plan: ExecPlan) -> Result<(), Errno> {
    let stub_rsp = ctx.regs()?.rsp;
    let host_auxv = stack::read_stub_auxv(&ctx.mem, stub_rsp);
    // Both files' fds arrive with one recvmsg and go with one close.
    let mut host_fds = vec![plan.exe.file.host_fd().ok_or(Errno::ENOEXEC)?];
    if let Some(p) = &plan.interp {
        host_fds.push(p.file.host_fd().ok_or(Errno::ENOEXEC)?);
    }
    let stack_limit = ctx.task.tg.rlimit(libc::RLIMIT_STACK as usize).rlim_cur.clamp(128 << 10, 1 << 30);
    let arrived = ctx.inject_fds(&host_fds)?;
    let (exe_map, interp_map, stack_base) = map_all(ctx, &plan, &arrived, stack_limit)?;
    tracing::debug!(
        exe_base = format_args!("{:#x}", exe_map.base),
        interp_base = format_args!("{:#x}", interp_map.as_ref().map(|m| m.base).unwrap_or(0)),
        "loaded"
    );
    let entry = match &interp_map {
        Some(m) => m.entry,
        None => exe_map.entry,
    };
    let creds = ctx.task.creds();
    let layout = stack::StackParams {
        argv: &plan.argv,
        envp: &plan.envp,
        execfn: &plan.execfn,
        phdr: exe_map.phdr,
        phnum: plan.exe.elf.phnum as u64,
        entry: exe_map.entry,
        interp_base: interp_map.as_ref().map(|m| m.base).unwrap_or(0),
        uid: creds.ruid,
        euid: creds.euid,
        gid: creds.rgid,
        egid: creds.egid,
        host_auxv: &host_auxv,
    };
    let frame = stack::build(ctx, &layout, stack_base, stack_limit)?;
    let sp = frame.sp;

    let mut regs = *ctx.regs()?;
    regs.rax = 0;
    regs.rbx = 0;
    regs.rcx = 0;
    regs.rdx = 0;
    regs.rsi = 0;
    regs.rdi = 0;
    regs.rbp = 0;
    regs.r8 = 0;
    regs.r9 = 0;
    regs.r10 = 0;
    regs.r11 = 0;
    regs.r12 = 0;
    regs.r13 = 0;
    regs.r14 = 0;
    regs.r15 = 0;
    regs.fs_base = 0;
    regs.gs_base = 0;
    regs.rip = entry;
    regs.rsp = sp;
    regs.orig_rax = u64::MAX;
    regs.eflags = 0x202;
    ctx.set_regs(regs);

    // Record the new image.
    let name = plan.execfn.rsplit(|&b| b == b'/').next().unwrap_or(&plan.execfn).to_vec();
    ctx.task.set_comm(&name);
    let mut st = ctx.task.tg.lock();
    st.image.exe = Some(plan.exe.location.clone());
    st.image.exe_access = Some(plan.exe.access.clone());
    st.execed = true;
    st.timer_wakes.exec();
    st.image.layout = MmLayout {
        start_stack: sp,
        arg_start: frame.arg_start,
        arg_end: frame.arg_end,
        env_start: frame.env_start,
        env_end: frame.env_end,
        ..segment_bounds(&plan.exe.elf, exe_map.base)
    };
    st.image.auxv = frame.auxv;
    st.image.brk_start = exe_map.brk;
    st.image.brk = exe_map.brk;
    let stack = st.image.file_maps.iter().find(|m| m.2 == b"[stack]").cloned();
    st.image.file_maps = exe_map.maps;
    if let Some(m) = interp_map {
        st.image.file_maps.extend(m.maps);
    }
    st.image.file_maps.extend(stack);
    Ok(())
}

/// Maps the program, its interpreter if any, and a stack of `stack_size`
/// bytes, from the files' fds `arrived` in the app (closed after); returns
/// where the two programs and the stack went.
///
/// In two rounds of calls: the maps that take each program's span, then
/// (where those landed) the other segments and the stack. Under systrap
/// each round is one batch, one stop (`SyscallCtx::inject_batch`), once
/// the files move to installed files' numbers, the only ones the batch
/// site may map (the first round moves them; one injected close ends
/// their use there). Elsewhere the calls run one by one on `arrived`.
fn map_all(
    ctx: &mut SyscallCtx<'_>,
    plan: &ExecPlan,
    arrived: &[i32],
    stack_size: u64,
) -> Result<(elf::Mapped, Option<elf::Mapped>, u64), Errno> {
    let programs = std::iter::once(&plan.exe).chain(plan.interp.as_ref());
    let segments = programs.enumerate().map(|(i, p)| elf::Segments::plan(p, i == 0)).collect::<Result<Vec<_>, _>>()?;
    let span_calls = |fds: &[i32]| segments.iter().zip(fds).map(|(s, &fd)| s.span_call(fd)).collect::<Vec<_>>();
    let slots: Vec<i32> = (0..arrived.len() as i32).map(|i| crate::syscalls::appfds::BASE + i).collect();
    let mut first: Vec<elf::Call> = arrived
        .iter()
        .zip(&slots)
        .map(|(&fd, &slot)| (libc::SYS_dup3, [fd as u64, slot as u64, libc::O_CLOEXEC as u64, 0, 0, 0]))
        .collect();
    first.extend(arrived.iter().map(|&fd| (libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0])));
    first.extend(span_calls(&slots));
    let batched = ctx.batches(&first);
    let fds: &[i32] = if batched {
        &slots
    } else {
        first = span_calls(arrived);
        arrived
    };
    let mapped = map_rounds(ctx, &segments, &first, fds, stack_size);
    if batched {
        let (lo, hi) = (slots[0] as u64, slots[slots.len() - 1] as u64);
        let _ = ctx.inject(libc::SYS_close_range, [lo, hi, 0, 0, 0, 0]);
    } else {
        ctx.close_injected_all(arrived);
    }
    let (bases, stack_base) = mapped?;
    let mut out = segments.iter().zip(bases).map(|(s, base)| s.mapped(ctx, base));
    let exe = out.next().ok_or(Errno::ENOEXEC)?;
    Ok((exe, out.next(), stack_base))
}

/// The two rounds of `map_all`: `first` (ending with each program's span
/// map), then the rest and the stack, with the files at `fds`. Returns
/// each program's base and the stack's.
fn map_rounds(
    ctx: &mut SyscallCtx<'_>,
    segments: &[elf::Segments<'_>],
    first: &[elf::Call],
    fds: &[i32],
    stack_size: u64,
) -> Result<(Vec<u64>, u64), Errno> {
    let done = ctx.inject_batch(first)?;
    batch_succeeded(&done, first.len()).map_err(elf::exec_errno)?;
    let spans = &done[first.len() - segments.len()..];
    let mut bases = Vec::new();
    let mut rest = Vec::new();
    let mut zeros = Vec::new();
    for ((s, &fd), &taken) in segments.iter().zip(fds).zip(spans) {
        let r = s.rest(taken as u64, fd)?;
        bases.push(r.base);
        rest.extend(r.calls);
        zeros.extend(r.zeros);
    }
    rest.push(stack::map_call(stack_size));
    let done = ctx.inject_batch(&rest)?;
    batch_succeeded(&done, rest.len()).map_err(elf::exec_errno)?;
    let stack_base = done[rest.len() - 1] as u64;
    for (at, len) in zeros {
        ctx.mem.write(at, &vec![0u8; len])?;
    }
    Ok((bases, stack_base))
}

/// Code and data bounds of the loaded segments, computed as Linux's ELF
/// loader does: code spans the executable segments, data ends with the last.
fn segment_bounds(elf: &ElfInfo, base: u64) -> MmLayout {
    use goblin::elf::program_header::{PF_X, PT_LOAD};
    let (mut start_code, mut end_code, mut start_data, mut end_data) = (u64::MAX, 0, 0, 0);
    for ph in elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        let (lo, hi) = (ph.p_vaddr, ph.p_vaddr.saturating_add(ph.p_filesz));
        if ph.p_flags & PF_X != 0 {
            start_code = start_code.min(lo);
            end_code = end_code.max(hi);
        }
        start_data = start_data.max(lo);
        end_data = end_data.max(hi);
    }
    if start_code == u64::MAX {
        start_code = 0;
    }
    let at = |v: u64| base.wrapping_add(v);
    MmLayout {
        start_code: at(start_code),
        end_code: at(end_code),
        start_data: at(start_data),
        end_data: at(end_data),
        ..MmLayout::default()
    }
}

/// First exec of the sandbox's init: the process is already a fresh stub.
pub fn exec_into_stub(
    ctx: &mut SyscallCtx<'_>,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<(), Errno> {
    let plan = prepare(ctx, crate::syscalls::AT_FDCWD, path, argv, envp, true)?;
    load(ctx, plan)
}

#[cfg(test)]
mod tests {
    use super::parse_shebang;

    #[test]
    fn shebang_lines() {
        assert_eq!(parse_shebang(b"#!/bin/sh\n"), Some((b"/bin/sh".to_vec(), None)));
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  python3 -u \nx"),
            Some((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        assert_eq!(parse_shebang(b"#!\n"), Some((Vec::new(), None)));
        assert_eq!(parse_shebang(b"\x7fELF"), None);
    }
}
