//! The patch's encodings and the trampoline's machine code against the Rust
//! side's layout.

use super::super::slot::{OFF_ARGS, OFF_CPU, OFF_NR, OFF_RET, OFF_REWIND, OFF_RIP, OFF_RSP, OFF_UCTX};
use super::*;

/// Every table entry's disp32 ends in `0f 05`, so the patched site's last
/// two bytes are still its `syscall`; table and thunks fit in the area.
#[test]
fn entries_keep_the_syscall_bytes() {
    for k in FIRST_ENTRY..MAX_ENTRIES {
        let e = entry_addr(k);
        let disp = (e as u32).to_le_bytes();
        assert_eq!(&disp[2..], &[0x0f, 0x05], "entry {k}");
        let b = site_bytes(k);
        assert_eq!(&b[..3], &[0xff, 0x24, 0x25]);
        assert_eq!(&b[3..], &disp[..2]);
        assert!(e + 8 <= THUNKS, "table overlaps the thunks");
        assert!(thunk_addr(k) + THUNK_LEN <= AREA + AREA_LEN);
    }
    const { assert!(AREA + AREA_LEN <= 0x7fff_ffff, "disp32 is sign-extended") };
}

/// A thunk sets eax and rcx as the original sequence and `syscall` would,
/// and jumps to the trampoline.
#[test]
fn thunk_decodes() {
    let t = thunk(7, 110, 0x7f00_1234_5678);
    assert_eq!(t[0], 0xb8);
    assert_eq!(u32::from_le_bytes(t[1..5].try_into().unwrap()), 110);
    assert_eq!(&t[5..7], &[0x48, 0xb9]);
    assert_eq!(u64::from_le_bytes(t[7..15].try_into().unwrap()), 0x7f00_1234_5678);
    assert_eq!(t[15], 0xe9);
    let rel = i32::from_le_bytes(t[16..20].try_into().unwrap()) as i64;
    assert_eq!((thunk_addr(7) + 20) as i64 + rel, tramp_addr() as i64);
}

#[test]
fn sequence_match() {
    let code = [0xb8, 110, 0, 0, 0, 0x0f, 0x05];
    assert!(matches(&code, 110));
    assert!(!matches(&code, 39));
    assert!(!matches(&[0xb8, 110, 0, 0, 0, 0x0f, 0x34], 110));
    assert!(!matches(&[0xb9, 110, 0, 0, 0, 0x0f, 0x05], 110));
}

/// The store window holds the five rewritten bytes and never crosses a
/// cache line; sites where no such window exists are refused.
#[test]
fn store_window() {
    let mut refused = 0;
    for s in 0x1000u64..0x1000 + 128 {
        match window(s) {
            Some(w) => {
                assert!(w <= s && s + 5 <= w + 8, "site {s:#x} window {w:#x}");
                assert_eq!(w / 64, (w + 7) / 64, "window {w:#x} crosses a line");
            }
            None => refused += 1,
        }
    }
    // Per 64 bytes: offsets 60..63 (4 of 64) have no window.
    assert_eq!(refused, 8);
}

#[test]
fn gs_of_clone_children() {
    assert_eq!(inherited_gs(REGION_BASE + CHUNK as u64 * 3), 0);
    assert_eq!(inherited_gs(REGION_BASE + 8), 0);
    assert_eq!(inherited_gs(0x7f00_0000_0000), 0x7f00_0000_0000);
    assert!(is_chunk_addr(REGION_BASE + CHUNK as u64));
    assert!(!is_chunk_addr(REGION_BASE + 8));
    assert!(!is_chunk_addr(REGION_BASE + (REGION_CHUNKS * CHUNK) as u64));
}

/// The trampoline's displacements and sites against the slot layout.
#[test]
fn trampoline_layout() {
    let at = |off: usize, bytes: &[u8]| assert_eq!(&CODE[off..off + bytes.len()], bytes, "at {off:#x}");
    // Red zone first: lea rsp,[rsp-0x80].
    at(0, &[0x48, 0x8d, 0x64, 0x24, 0x80]);
    // rdgsbase rdi; the region check uses REGION_BASE and 2^34 bytes.
    at(0x0d, &[0xf3, 0x48, 0x0f, 0xae, 0xcf]);
    assert_eq!(u64::from_le_bytes(CODE[0x17..0x1f].try_into().unwrap()), REGION_BASE);
    assert_eq!(1u64 << CODE[0x25], (REGION_CHUNKS * CHUNK) as u64);
    // add rdi, TSLOT; cmp dword [rdi+OFF_TRACED], 0; claim with CLAIMED.
    assert_eq!(u32::from_le_bytes(CODE[0x3b..0x3f].try_into().unwrap()) as usize, TSLOT);
    assert_eq!(CODE[0x41] as usize, OFF_TRACED);
    assert_eq!(u32::from_le_bytes(CODE[0x4c..0x50].try_into().unwrap()), CLAIMED);
    // Request fields.
    assert_eq!(CODE[0x62] as usize, OFF_NR);
    assert_eq!(CODE[0x6b] as usize, OFF_ARGS);
    assert_eq!(CODE[0x92] as usize, OFF_RIP);
    assert_eq!(CODE[0x9e] as usize, OFF_RSP);
    assert_eq!(CODE[0xa2] as usize, OFF_UCTX);
    assert_eq!(CODE[0xac] as usize, OFF_CPU);
    // The app's rsp: 7 pushes and the red zone above the trampoline's.
    assert_eq!(u32::from_le_bytes(CODE[0x97..0x9b].try_into().unwrap()), 7 * 8 + 128);
    // Published (xchg), then the traced word, then the withdrawal
    // (cmpxchg REQUEST -> IDLE) that leads to the fallback.
    at(0xb2, &[0x87, 0x07, 0x83, 0x7f, OFF_TRACED as u8, 0x00]);
    at(0xc1, &[0xf0, 0x0f, 0xb1, 0x0f, 0x0f, 0x84]);
    let to = 0xcb + i32::from_le_bytes(CODE[0xc7..0xcb].try_into().unwrap()) as usize;
    assert_eq!(to, SITE_OFF as usize - 0x18, "withdrawal goes to the fallback");
    // The sentry's wake-up: cmpxchg on the handler slot's word (rdi-TSLOT).
    at(0xd2, &[0xf0, 0x0f, 0xb1, 0x4f, (-(TSLOT as i32)) as u8]);
    // Sleeping: REQUEST -> APP_WAIT, TAKEN -> TAKEN_WAIT.
    at(0x119, &[0x83, 0xf8, TAKEN as u8]);
    at(0x11e, &[0xba, TAKEN_WAIT as u8, 0, 0, 0]);
    at(0x12b, &[0xba, super::super::slot::APP_WAIT as u8, 0, 0, 0]);
    // done: ret and rewind.
    at(DONE_OFF as usize, &[0x48, 0x8b, 0x47, OFF_RET as u8, 0x48, 0x8b, 0x4f, OFF_REWIND as u8]);
    // The fallback syscall, then back to the epilogue.
    at(SITE_OFF as usize, &[0x0f, 0x05, 0xeb]);
    // Store site: mov rax,rdx; lock cmpxchg [rdi],rsi; int3.
    at(STORE_OFF as usize, &[0x48, 0x89, 0xd0, 0xf0, 0x48, 0x0f, 0xb1, 0x37, 0xcc]);
    assert_eq!(CODE.len() as u64, STORE_OFF + 9);
}

/// The trampoline's only syscalls are the two futex calls (passthrough in
/// every filter) and its fallback site, which the systrap filter must treat
/// like any app site: it is not one of the RET_TRACE sites.
#[test]
fn fallback_site_traps_like_the_app() {
    use crate::platform::filter::TRACE_SITES;
    let sys: Vec<usize> = CODE.windows(2).enumerate().filter(|(_, w)| w == &[0x0f, 0x05]).map(|(i, _)| i).collect();
    assert_eq!(sys, vec![0xef, 0x140, SITE_OFF as usize]);
    for s in TRACE_SITES {
        assert_ne!(s, site_addr() + 2);
    }
    // The two futex calls: mov eax, SYS_futex just before each.
    for s in [0xefusize, 0x140] {
        assert_eq!(&CODE[s - 5..s], &[0xb8, libc::SYS_futex as u8, 0, 0, 0]);
    }
}
