//! ELF headers (parsed with goblin) and mapping of PT_LOAD segments.

use std::sync::Arc;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{EM_X86_64, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{ProgramHeader, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};
use rvisor_syscalls::Errno;

use super::Program;
use crate::syscalls::SyscallCtx;
use crate::vfs::{FileOps, VfsResult};

const PAGE: u64 = 4096;
/// Where position-independent executables are placed (Linux's ELF_ET_DYN_BASE on x86_64).
const PIE_BASE: u64 = 0x5555_5555_4000;

fn page_down(v: u64) -> u64 {
    v & !(PAGE - 1)
}
fn page_up(v: u64) -> u64 {
    v.saturating_add(PAGE - 1) & !(PAGE - 1)
}

/// The parts of an ELF file the loader needs.
#[derive(Clone, Debug)]
pub struct ElfInfo {
    pub is_dyn: bool,
    pub entry: u64,
    pub phoff: u64,
    pub phnum: usize,
    pub phdrs: Vec<ProgramHeader>,
    pub interp: Option<Vec<u8>>,
}

/// Exactly `len` bytes at `off`: a truncated file is ENOEXEC.
fn read_exact_at(file: &Arc<dyn FileOps>, off: u64, len: usize) -> VfsResult<Vec<u8>> {
    let buf = super::read_at(file, off, len)?;
    if buf.len() < len {
        return Err(Errno::ENOEXEC);
    }
    Ok(buf)
}

/// Parses and validates the ELF headers: ENOEXEC for anything Linux would refuse.
pub fn parse(file: &Arc<dyn FileOps>) -> VfsResult<ElfInfo> {
    let mut head = read_exact_at(file, 0, 64)?;
    if &head[..4] != b"\x7fELF" {
        return Err(Errno::ENOEXEC);
    }
    // Linux's x86-64 loader decides by e_machine alone and never reads
    // EI_CLASS: read the header as 64-bit whatever that byte says.
    if u16::from_le_bytes([head[18], head[19]]) == EM_X86_64 {
        head[4] = 2;
    }
    let hdr = goblin::elf::Elf::parse_header(&head).map_err(|_| Errno::ENOEXEC)?;
    if hdr.e_machine != EM_X86_64 {
        return Err(Errno::ENOEXEC);
    }
    let is_dyn = match hdr.e_type {
        ET_EXEC => false,
        ET_DYN => true,
        _ => return Err(Errno::ENOEXEC),
    };
    let phnum = hdr.e_phnum as usize;
    if hdr.e_phentsize as usize != 56 || phnum == 0 || phnum > 128 {
        return Err(Errno::ENOEXEC);
    }
    let ph_bytes = read_exact_at(file, hdr.e_phoff, phnum * 56)?;
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let phdrs = ProgramHeader::parse(&ph_bytes, 0, phnum, ctx).map_err(|_| Errno::ENOEXEC)?;
    let mut interp = None;
    for ph in &phdrs {
        if ph.p_type == PT_INTERP {
            if ph.p_filesz < 2 || ph.p_filesz > 4096 {
                return Err(Errno::ENOEXEC);
            }
            let mut s = read_exact_at(file, ph.p_offset, ph.p_filesz as usize)?;
            while s.last() == Some(&0) {
                s.pop();
            }
            interp = Some(s);
        }
    }
    if !phdrs.iter().any(|p| p.p_type == PT_LOAD) {
        return Err(Errno::ENOEXEC);
    }
    Ok(ElfInfo { is_dyn, entry: hdr.e_entry, phoff: hdr.e_phoff, phnum, phdrs, interp })
}

/// Where a program ended up.
pub struct Mapped {
    pub base: u64,
    pub entry: u64,
    /// Address of the program headers in memory (AT_PHDR).
    pub phdr: u64,
    /// First address after the highest segment (initial brk).
    pub brk: u64,
    pub maps: Vec<(u64, u64, Vec<u8>)>,
}

fn prot_of(flags: u32) -> u64 {
    let mut p = 0;
    if flags & PF_R != 0 {
        p |= libc::PROT_READ;
    }
    if flags & PF_W != 0 {
        p |= libc::PROT_WRITE;
    }
    if flags & PF_X != 0 {
        p |= libc::PROT_EXEC;
    }
    p as u64
}

/// One injected call: its number and arguments.
pub type Call = (i64, [u64; 6]);

/// A program's PT_LOAD segments, to be mapped from its file's fd in the
/// app in two steps: the call that takes the program's whole span
/// (`span_call`), then, where that landed, the calls that map the rest
/// (`rest`).
pub struct Segments<'a> {
    prog: &'a Program,
    loads: Vec<&'a ProgramHeader>,
    lo: u64,
    hi: u64,
    /// The first segment, when its own map takes the span (the segments
    /// tile it); else a PROT_NONE reservation does.
    first: Option<&'a ProgramHeader>,
    /// Where the span goes: an address hint, and MAP_FIXED_NOREPLACE when
    /// it must be there.
    hint: u64,
    fixed: u64,
}

impl<'a> Segments<'a> {
    /// The segments of `prog`, the sandbox's main program if `is_main`
    /// (where its span goes is chosen here, ASLR included).
    pub fn plan(prog: &'a Program, is_main: bool) -> Result<Self, Errno> {
        let elf = &prog.elf;
        let loads: Vec<&ProgramHeader> = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
        let lo = loads.iter().map(|p| page_down(p.p_vaddr)).min().unwrap_or(0);
        let hi = loads.iter().map(|p| page_up(p.p_vaddr.saturating_add(p.p_memsz))).max().unwrap_or(0);
        if hi <= lo || hi - lo > (1 << 40) {
            return Err(Errno::ENOEXEC);
        }
        // The whole span is taken at once so segments land contiguously.
        // When the segments tile it, the first segment's own map takes it
        // (the others then cover the rest); otherwise a PROT_NONE
        // reservation does, and the gaps stay PROT_NONE, as ld.so leaves a
        // library's.
        let first = loads
            .first()
            .filter(|f| f.p_filesz > 0 && f.p_offset % PAGE == f.p_vaddr % PAGE && tiles(&loads, lo, hi))
            .copied();
        let (hint, fixed) = match (elf.is_dyn, is_main) {
            (true, true) => (PIE_BASE + (random_pages() << 12), 0),
            (true, false) => (0, 0),
            (false, _) => (lo, libc::MAP_FIXED_NOREPLACE as u64),
        };
        Ok(Segments { prog, loads, lo, hi, first, hint, fixed })
    }

    /// The call that takes the span, with the file at `fd` in the app.
    pub fn span_call(&self, fd: i32) -> Call {
        let span = self.hi - self.lo;
        let args = match self.first {
            Some(f) => {
                let delta = f.p_vaddr - page_down(f.p_vaddr);
                let flags = libc::MAP_PRIVATE as u64 | self.fixed;
                [self.hint, span, prot_of(f.p_flags), flags, fd as u64, f.p_offset - delta]
            }
            None => {
                let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64 | self.fixed;
                [self.hint, span, libc::PROT_NONE as u64, flags, u64::MAX, 0]
            }
        };
        (libc::SYS_mmap, args)
    }

    /// Where the segments go, given the span taken at `taken` (the span
    /// call's result), with the file at `fd` in the app.
    pub fn rest(&self, taken: u64, fd: i32) -> Result<Rest, Errno> {
        let base = if self.prog.elf.is_dyn { taken - self.lo } else { 0 };
        let fixed_private = (libc::MAP_PRIVATE | libc::MAP_FIXED) as u64;
        let (mut calls, mut zeros) = (Vec::new(), Vec::new());
        for (i, ph) in self.loads.iter().enumerate() {
            let prot = prot_of(ph.p_flags);
            let vaddr = base + ph.p_vaddr;
            let start = page_down(vaddr);
            let delta = vaddr - start;
            if ph.p_offset % PAGE != ph.p_vaddr % PAGE {
                return Err(Errno::ENOEXEC);
            }
            let file_end = vaddr + ph.p_filesz;
            if ph.p_filesz > 0 && !(i == 0 && self.first.is_some()) {
                let len = page_up(ph.p_filesz + delta);
                calls.push((libc::SYS_mmap, [start, len, prot, fixed_private, fd as u64, ph.p_offset - delta]));
            }
            let mem_end = vaddr + ph.p_memsz;
            if ph.p_memsz > ph.p_filesz {
                // Zero the tail of the last file-backed page up to the page
                // end, as Linux does: ld.so's early allocator uses that space
                // and expects zeroes. (The anonymous map below starts at the
                // next page, so the zeroing may come after it.)
                let zero_end = page_up(file_end);
                if ph.p_filesz > 0 && zero_end > file_end {
                    if ph.p_flags & PF_W == 0 {
                        return Err(Errno::ENOEXEC);
                    }
                    zeros.push((file_end, (zero_end - file_end) as usize));
                }
                let anon_start = if ph.p_filesz > 0 { page_up(file_end) } else { start };
                let anon_end = page_up(mem_end);
                if anon_end > anon_start {
                    let flags = fixed_private | libc::MAP_ANONYMOUS as u64;
                    calls.push((libc::SYS_mmap, [anon_start, anon_end - anon_start, prot, flags, u64::MAX, 0]));
                }
            }
        }
        Ok(Rest { base, calls, zeros })
    }

    /// Where the program ended up, mapped at `base`.
    pub fn mapped(&self, ctx: &SyscallCtx<'_>, base: u64) -> Mapped {
        let elf = &self.prog.elf;
        let phdr = match elf.phdrs.iter().find(|p| p.p_type == PT_PHDR) {
            Some(p) => base + p.p_vaddr,
            None => self
                .loads
                .iter()
                .find(|p| p.p_offset <= elf.phoff && elf.phoff < p.p_offset + p.p_filesz)
                .map(|p| base + p.p_vaddr + (elf.phoff - p.p_offset))
                .unwrap_or(0),
        };
        let path = crate::vfs::path::path_of(&self.prog.location, &ctx.task.fs().get().root).0;
        Mapped {
            base,
            entry: base + elf.entry,
            phdr,
            brk: page_up(base + self.hi),
            maps: vec![(base + self.lo, base + self.hi, path)],
        }
    }
}

/// The second step of a program's mapping (`Segments::rest`).
pub struct Rest {
    /// What the program's addresses are relative to.
    pub base: u64,
    /// The maps of the segments not yet mapped, and of zero-filled parts.
    pub calls: Vec<Call>,
    /// Bytes to zero after those maps (address, length): the tail of each
    /// last file page a segment's zero-filled part begins in.
    pub zeros: Vec<(u64, usize)>,
}

/// What exec reports for a failed map: EEXIST (a fixed address taken) as
/// ENOMEM, as Linux's exec does.
pub fn exec_errno(e: Errno) -> Errno {
    if e == Errno::EEXIST {
        Errno::ENOMEM
    } else {
        e
    }
}

/// Whether the pages of `loads` (in address order, as ELF requires) cover
/// [lo, hi) without a gap.
fn tiles(loads: &[&ProgramHeader], lo: u64, hi: u64) -> bool {
    let mut end = lo;
    let mut prev = lo;
    for ph in loads {
        if page_down(ph.p_vaddr) > end || ph.p_vaddr < prev {
            return false;
        }
        prev = ph.p_vaddr;
        end = end.max(page_up(ph.p_vaddr.saturating_add(ph.p_memsz)));
    }
    end == hi
}

/// A few random pages of offset for the PIE base (ASLR).
fn random_pages() -> u64 {
    let mut b = [0u8; 2];
    // SAFETY: fills a 2-byte local buffer.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), 2, 0) };
    (u16::from_ne_bytes(b) & 0xfff) as u64
}
