//! /proc/sys: the knobs programs read. All are read-only except the hostname,
//! which root may set as with sethostname(2).

use std::sync::{Arc, OnceLock};

use super::misc::{kernel_version, release};
use super::{kernel, Dir, Entries, File, ReadOnly, Source};
use crate::kernel::current_task;
use crate::vfs::{Errno, Inode, VfsResult};

/// Longest host name (HOST_NAME_MAX).
const HOST_NAME_MAX: usize = 64;

/// A sysctl holding one line of text.
fn value(path: &str, mode: u32, text: impl Fn() -> VfsResult<String> + Send + Sync + 'static) -> File {
    let src = Source::Snapshot(Arc::new(move || {
        text().map(|mut t| {
            t.push('\n');
            t.into_bytes()
        })
    }));
    File::new(&format!("sys/{path}"), mode, src).read_only(ReadOnly::Eacces)
}

fn fixed(path: &str, v: &'static str) -> (Vec<u8>, Arc<dyn Inode>) {
    let name = path.rsplit('/').next().unwrap_or(path);
    value(path, 0o444, move || Ok(v.to_string())).entry(name)
}

fn dir(path: &str, list: impl Fn() -> VfsResult<Entries> + Send + Sync + 'static) -> (Vec<u8>, Arc<dyn Inode>) {
    let name = path.rsplit('/').next().unwrap_or(path);
    Dir::new(&format!("sys/{path}"), 0o555, list).entry(name)
}

fn hostname() -> VfsResult<String> {
    let k = kernel()?;
    let h = k.hostname.lock().unwrap_or_else(|e| e.into_inner());
    Ok(String::from_utf8_lossy(&h).into_owned())
}

/// Writing the hostname: the text up to a newline, at most HOST_NAME_MAX bytes.
fn set_hostname(buf: &[u8]) -> VfsResult<usize> {
    if current_task().is_none_or(|t| t.creds().euid != 0) {
        return Err(Errno::EPERM);
    }
    let end = buf.iter().position(|&b| b == b'\n' || b == 0).unwrap_or(buf.len()).min(HOST_NAME_MAX);
    *kernel()?.hostname.lock().unwrap_or_else(|e| e.into_inner()) = buf[..end].to_vec();
    Ok(buf.len())
}

/// Writing the lease break time: root only.
fn set_lease_break_time(buf: &[u8]) -> VfsResult<usize> {
    if current_task().is_none_or(|t| t.creds().euid != 0) {
        return Err(Errno::EPERM);
    }
    crate::syscalls::lease::set_break_time(buf)
}

/// A random version-4 UUID in its text form.
fn uuid() -> String {
    let mut b = [0u8; 16];
    // SAFETY: fills a 16-byte local buffer.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// This sandbox's boot id: one per boot, as on Linux.
fn boot_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(uuid).clone()
}

pub(super) fn entries() -> VfsResult<Entries> {
    Ok(vec![
        dir("fs", || {
            Ok(vec![
                fixed("fs/file-max", "9223372036854775807"),
                dir("fs/inotify", || {
                    Ok(vec![
                        fixed("fs/inotify/max_queued_events", "16384"),
                        fixed("fs/inotify/max_user_instances", "128"),
                        fixed("fs/inotify/max_user_watches", "8192"),
                    ])
                }),
                value("fs/lease-break-time", 0o644, || Ok(crate::syscalls::lease::break_time_text()))
                    .writer(set_lease_break_time)
                    .entry("lease-break-time"),
                dir("fs/mqueue", || {
                    Ok(vec![
                        fixed("fs/mqueue/msg_default", "10"),
                        fixed("fs/mqueue/msg_max", "10"),
                        fixed("fs/mqueue/msgsize_default", "8192"),
                        fixed("fs/mqueue/msgsize_max", "8192"),
                        fixed("fs/mqueue/queues_max", "256"),
                    ])
                }),
                fixed("fs/nr_open", "1048576"),
                // Sandbox pipes are host pipes: the host's defaults hold.
                fixed("fs/pipe-max-size", "1048576"),
                fixed("fs/pipe-user-pages-hard", "0"),
                fixed("fs/pipe-user-pages-soft", "16384"),
            ])
        }),
        dir("kernel", || {
            Ok(vec![
                fixed("kernel/cap_last_cap", "40"),
                fixed("kernel/core_pattern", "core"),
                fixed("kernel/domainname", "(none)"),
                value("kernel/hostname", 0o644, hostname).writer(set_hostname).entry("hostname"),
                // The sandbox's System V IPC limits (syscalls/ipc).
                fixed("kernel/msgmax", "8192"),
                fixed("kernel/msgmnb", "16384"),
                fixed("kernel/msgmni", "32000"),
                fixed("kernel/ngroups_max", "65536"),
                value("kernel/osrelease", 0o444, || Ok(release())).entry("osrelease"),
                fixed("kernel/ostype", "Linux"),
                fixed("kernel/overflowgid", "65534"),
                fixed("kernel/overflowuid", "65534"),
                fixed("kernel/pid_max", "4194304"),
                fixed("kernel/printk", "4\t4\t1\t7"),
                dir("kernel/random", || {
                    Ok(vec![
                        value("kernel/random/boot_id", 0o444, || Ok(boot_id())).entry("boot_id"),
                        fixed("kernel/random/entropy_avail", "256"),
                        fixed("kernel/random/poolsize", "256"),
                        value("kernel/random/uuid", 0o444, || Ok(uuid())).entry("uuid"),
                    ])
                }),
                fixed("kernel/sem", "32000\t1024000000\t500\t32000"),
                fixed("kernel/shmall", "18446744073692774399"),
                fixed("kernel/shmmax", "18446744073692774399"),
                fixed("kernel/shmmni", "4096"),
                // Nothing taints the sandbox's kernel.
                fixed("kernel/tainted", "0"),
                fixed("kernel/threads-max", "4194304"),
                value("kernel/version", 0o444, || Ok(kernel_version())).entry("version"),
            ])
        }),
        dir("vm", || {
            Ok(vec![
                fixed("vm/max_map_count", "65530"),
                fixed("vm/mmap_min_addr", "65536"),
                fixed("vm/overcommit_memory", "0"),
            ])
        }),
    ])
}
