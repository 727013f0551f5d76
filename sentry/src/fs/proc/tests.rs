//! Formats of /proc files that need no running process.

use super::maps::{format_line, parse_line, shown_name};
use super::misc::{escape_mount, load};
use super::pid::{cmdline_at, environ_at, limits_table};
use crate::kernel::task::{default_rlimits, MmLayout};

/// App memory for the cmdline/environ readers: `mem` placed at `base`.
fn reader(base: u64, mem: &[u8]) -> impl Fn(u64, &mut [u8]) -> usize + '_ {
    move |addr, buf| {
        if addr < base || addr >= base + mem.len() as u64 {
            return 0;
        }
        let off = (addr - base) as usize;
        let n = buf.len().min(mem.len() - off);
        buf[..n].copy_from_slice(&mem[off..off + n]);
        n
    }
}

fn layout(base: u64, args: usize, envs: usize) -> MmLayout {
    MmLayout {
        arg_start: base,
        arg_end: base + args as u64,
        env_start: base + args as u64,
        env_end: base + (args + envs) as u64,
        ..MmLayout::default()
    }
}

#[test]
fn cmdline_is_the_argument_area() {
    let mem = b"prog\0-x\0A=1\0B=2\0";
    let m = layout(0x1000, 8, 8);
    let read = reader(0x1000, mem);
    assert_eq!(cmdline_at(&m, &read, 0, 4096), b"prog\0-x\0");
    assert_eq!(cmdline_at(&m, &read, 5, 4096), b"-x\0");
    assert_eq!(cmdline_at(&m, &read, 0, 3), b"pro");
    assert_eq!(cmdline_at(&m, &read, 8, 4096), b"");
    assert_eq!(environ_at(&m, &read, 0, 4096), b"A=1\0B=2\0");
    assert_eq!(environ_at(&m, &read, 6, 1), b"2");
    assert_eq!(environ_at(&m, &read, 8, 10), b"");
}

#[test]
fn cmdline_follows_setproctitle_into_the_environment() {
    // argv rewritten in place: the last argument byte is no longer NUL and
    // the title runs on over the environment strings.
    let mem = b"my title spanning env\0\0";
    let m = layout(0x2000, 8, 15);
    let read = reader(0x2000, mem);
    assert_eq!(cmdline_at(&m, &read, 0, 4096), b"my title spanning env\0");
    assert_eq!(cmdline_at(&m, &read, 3, 5), b"title");
    // Without an environment right after the arguments, strictly argv.
    let apart = MmLayout { env_start: 0x3000, env_end: 0x3010, ..m };
    assert_eq!(cmdline_at(&apart, &read, 0, 4096), b"my title");
}

#[test]
fn cmdline_of_unreadable_memory_is_empty() {
    let m = layout(0x5000, 8, 8);
    let read = reader(0x1000, b"");
    assert_eq!(cmdline_at(&m, &read, 0, 4096), b"");
    assert_eq!(environ_at(&m, &read, 0, 4096), b"");
    assert_eq!(cmdline_at(&MmLayout::default(), &read, 0, 4096), b"");
}

#[test]
fn limits_table_matches_linux_layout() {
    let text = limits_table(&default_rlimits());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 17);
    assert_eq!(lines[0], "Limit                     Soft Limit           Hard Limit           Units     ");
    assert_eq!(lines[4], "Max stack size            8388608              unlimited            bytes     ");
    // Rows without a unit end right after the hard limit's padding.
    assert_eq!(lines[14], "Max nice priority         0                    0                    ");
    assert_eq!(lines[16], "Max realtime timeout      unlimited            unlimited            us        ");
}

#[test]
fn maps_lines_are_padded_like_linux() {
    let host = "7f00000000-7f00001000 r-xp 00001000 fd:01 1234                       /host/secret/lib.so";
    let m = parse_line(host).unwrap();
    assert_eq!((m.start, m.end, m.host_name), (0x7f_0000_0000, 0x7f_0000_1000, "/host/secret/lib.so"));
    let name = shown_name(&m, Some(b"/lib/x.so"), (0, 0));
    assert_eq!(name, b"/lib/x.so");
    let line = String::from_utf8(format_line(&m, &name, true)).unwrap();
    assert_eq!(line.find("/lib/x.so"), Some(73));
    assert!(line.starts_with("7f00000000-7f00001000 r-xp 00001000 fd:01 1234 "));
    assert!(!line.contains("host"));
}

#[test]
fn maps_names_come_from_the_sandbox_only() {
    let anon = parse_line("1000-2000 rw-p 00000000 00:00 0").unwrap();
    // An anonymous page inside a recorded file range is the bss: no name.
    assert_eq!(shown_name(&anon, Some(b"/bin/x"), (0, 0)), b"");
    assert_eq!(shown_name(&anon, Some(b"[stack]"), (0, 0)), b"[stack]");
    assert_eq!(shown_name(&anon, None, (0x1800, 0x3000)), b"[heap]");
    assert_eq!(format_line(&anon, b"", false), b"1000-2000 rw-p 00000000 00:00 0\n");
    let unknown = parse_line("3000-4000 r--p 00000000 08:01 99 /host/only/path").unwrap();
    assert_eq!(shown_name(&unknown, None, (0, 0)), b"");
    let vdso = parse_line("5000-6000 r-xp 00000000 00:00 0                          [vdso]").unwrap();
    assert_eq!(shown_name(&vdso, None, (0, 0)), b"[vdso]");
    let host_stack = parse_line("7000-8000 rw-p 00000000 00:00 0                          [stack]").unwrap();
    assert_eq!(shown_name(&host_stack, None, (0, 0)), b"");
}

#[test]
fn mount_paths_are_escaped() {
    assert_eq!(escape_mount(b"/a b\tc\nd\\e"), "/a\\040b\\011c\\012d\\134e");
}

#[test]
fn load_averages_round_like_linux() {
    assert_eq!(load(0), "0.00");
    assert_eq!(load(1 << 16), "1.00");
    assert_eq!(load((1 << 16) / 2), "0.50");
    assert_eq!(load(3 * (1 << 16) + (1 << 16) / 4), "3.25");
}
