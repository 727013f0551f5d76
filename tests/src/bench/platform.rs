//! Where a benchmarked command runs (natively, or under `rvisor do` on an
//! explicit platform: the default may change, so the benches always name
//! it), and a one-line description of the machine.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Native,
    Ptrace,
    Systrap,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Native, Platform::Ptrace, Platform::Systrap];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Native => "native",
            Platform::Ptrace => "ptrace",
            Platform::Systrap => "systrap",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.name() == s)
    }

    /// A comma-separated list, e.g. "native,ptrace,systrap".
    pub fn parse_list(s: &str) -> Result<Vec<Platform>, String> {
        let mut v = Vec::new();
        for name in s.split(',') {
            let p = Platform::parse(name).ok_or_else(|| format!("unknown platform {name:?}"))?;
            if !v.contains(&p) {
                v.push(p);
            }
        }
        Ok(v)
    }

    /// `argv` as is natively, else `rvisor --platform P do -- argv`.
    pub fn command(self, rvisor: &Path, argv: &[OsString]) -> Vec<OsString> {
        match self {
            Platform::Native => argv.to_vec(),
            _ => {
                let mut v: Vec<OsString> =
                    vec![rvisor.into(), "--platform".into(), self.name().into(), "do".into(), "--".into()];
                v.extend_from_slice(argv);
                v
            }
        }
    }
}

fn kernel_release() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "?".to_string();
    }
    let bytes: Vec<u8> = u.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim().to_string()))
        })
        .unwrap_or_else(|| "?".to_string())
}

fn mem_gib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = s.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kib / (1024.0 * 1024.0))
}

/// "2026-11-23 16:10 UTC, kernel 6.18.x, 2 CPUs (model), 23 GiB".
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = mem_gib().map_or_else(|| "?".to_string(), |g| format!("{g:.0}"));
    format!("{} UTC, kernel {}, {cpus} CPUs ({}), {mem} GiB RAM", today(), kernel_release(), cpu_model())
}
