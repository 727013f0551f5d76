//! The initial process stack: strings, argv, envp and the auxiliary vector.

use rvisor_syscalls::Errno;

use crate::mm::Memory;
use crate::syscalls::SyscallCtx;

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
const AT_EXECFN: u64 = 31;
const AT_RSEQ_FEATURE_SIZE: u64 = 27;
const AT_RSEQ_ALIGN: u64 = 28;
const AT_SYSINFO_EHDR: u64 = 33;
const AT_MINSIGSTKSZ: u64 = 51;

/// Auxv entries copied from the stub's own (host-built) vector: the vDSO and CPU facts.
const FROM_HOST: &[u64] =
    &[AT_SYSINFO_EHDR, AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ, AT_CLKTCK, AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN];

/// Reads the auxv the host kernel gave the stub (argc, argv, envp precede it).
/// One read covers it: the stub runs with an empty argv and environment, and
/// a host auxv is a few hundred bytes.
pub fn read_stub_auxv(mem: &Memory, rsp: u64) -> Vec<(u64, u64)> {
    let words = mem.read_words_partial(rsp, 512);
    let mut out = Vec::new();
    let Some(&argc) = words.first() else { return out };
    let Some(envp) = usize::try_from(argc).ok().and_then(|a| a.checked_add(2)) else { return out };
    // Skip envp to its NULL.
    let Some(end) = words.get(envp..).and_then(|w| w.iter().position(|&p| p == 0)) else { return out };
    for pair in words[envp + end + 1..].chunks_exact(2) {
        let (k, v) = (pair[0], pair[1]);
        if k == AT_NULL {
            break;
        }
        if FROM_HOST.contains(&k) {
            out.push((k, v));
        }
    }
    out
}

pub struct StackParams<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    pub execfn: &'a [u8],
    pub phdr: u64,
    pub phnum: u64,
    pub entry: u64,
    pub interp_base: u64,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub host_auxv: &'a [(u64, u64)],
}

/// Where `build` put the frame: the initial rsp and the string areas.
pub struct StackLayout {
    pub sp: u64,
    /// The auxiliary vector, AT_NULL included (for /proc/[pid]/auxv).
    pub auxv: Vec<(u64, u64)>,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
}

/// The call that maps a stack of `size` bytes (its result: the stack's base).
pub fn map_call(size: u64) -> super::elf::Call {
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE) as u64;
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    (libc::SYS_mmap, [0, size, prot, flags, u64::MAX, 0])
}

/// Writes the initial frame on the stack `map_call` mapped at `base`.
pub fn build(ctx: &mut SyscallCtx<'_>, p: &StackParams<'_>, base: u64, size: u64) -> Result<StackLayout, Errno> {
    let top = base + size;
    {
        let mut st = ctx.task.tg.lock();
        st.image.file_maps.retain(|m| m.2 != b"[stack]");
        st.image.file_maps.push((base, top, b"[stack]".to_vec()));
    }

    // Strings at the top, in Linux's order (ascending): argv, envp, execfn,
    // then one NULL word. The environment directly follows the arguments, as
    // /proc/[pid]/cmdline expects of a program that extends its argv
    // (setproctitle) into it.
    let mut strings: Vec<u8> = Vec::new();
    let offsets = |list: &[Vec<u8>], strings: &mut Vec<u8>| -> Vec<u64> {
        list.iter()
            .map(|s| {
                let at = strings.len() as u64;
                strings.extend_from_slice(s);
                strings.push(0);
                at
            })
            .collect()
    };
    let arg_offs = offsets(p.argv, &mut strings);
    let args_len = strings.len() as u64;
    let env_offs = offsets(p.envp, &mut strings);
    let envs_len = strings.len() as u64;
    let execfn_off = strings.len() as u64;
    strings.extend_from_slice(p.execfn);
    strings.push(0);
    let strings_start = top.checked_sub(8 + strings.len() as u64).filter(|&s| s >= base + 4096).ok_or(Errno::E2BIG)?;
    let execfn_addr = strings_start + execfn_off;
    // Below the strings: the platform name, then AT_RANDOM's 16 bytes.
    let platform_addr = (strings_start - 7) & !7;

    let mut random = [0u8; 16];
    // SAFETY: fills a 16-byte local buffer.
    unsafe { libc::getrandom(random.as_mut_ptr().cast(), 16, 0) };
    let random_addr = (platform_addr - 16) & !15;

    // In the order Linux's ELF loader writes them.
    let host = |k: u64| p.host_auxv.iter().find(|&&(hk, _)| hk == k).map(|&(_, v)| (k, v));
    let mut auxv: Vec<(u64, u64)> = Vec::new();
    auxv.extend([AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_HWCAP].into_iter().filter_map(host));
    auxv.push((AT_PAGESZ, 4096));
    auxv.push(host(AT_CLKTCK).unwrap_or((AT_CLKTCK, 100)));
    auxv.extend([
        (AT_PHDR, p.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, p.phnum),
        (AT_BASE, p.interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, p.entry),
        (AT_UID, p.uid as u64),
        (AT_EUID, p.euid as u64),
        (AT_GID, p.gid as u64),
        (AT_EGID, p.egid as u64),
        (AT_SECURE, 0),
        (AT_RANDOM, random_addr),
    ]);
    auxv.extend(host(AT_HWCAP2));
    auxv.push((AT_EXECFN, execfn_addr));
    auxv.push((AT_PLATFORM, platform_addr));
    auxv.extend([AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN].into_iter().filter_map(host));
    auxv.push((AT_NULL, 0));

    let words = 1 + p.argv.len() + 1 + p.envp.len() + 1 + auxv.len() * 2;
    let sp = (random_addr - (words as u64) * 8) & !15;
    if sp < base + 4096 {
        return Err(Errno::E2BIG);
    }
    let mut frame: Vec<u8> = Vec::with_capacity(words * 8);
    let mut push = |v: u64| frame.extend_from_slice(&v.to_ne_bytes());
    push(p.argv.len() as u64);
    for off in &arg_offs {
        push(strings_start + off);
    }
    push(0);
    for off in &env_offs {
        push(strings_start + off);
    }
    push(0);
    for &(k, v) in &auxv {
        push(k);
        push(v);
    }
    ctx.mem.write(strings_start, &strings)?;
    ctx.mem.write(platform_addr, b"x86_64\0")?;
    ctx.mem.write(random_addr, &random)?;
    ctx.mem.write(sp, &frame)?;
    Ok(StackLayout {
        sp,
        auxv,
        arg_start: strings_start,
        arg_end: strings_start + args_len,
        env_start: strings_start + args_len,
        env_end: strings_start + envs_len,
    })
}
