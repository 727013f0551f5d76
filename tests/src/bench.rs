//! Small pieces the bench binaries (bench, bench-workloads, bench-net) share.

use std::path::{Path, PathBuf};

/// target/release/rvisor of this workspace, else the one beside the running binary.
pub fn default_rvisor() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/rvisor");
    if ws.exists() {
        return ws.canonicalize().unwrap_or(ws);
    }
    match std::env::current_exe() {
        Ok(exe) if exe.with_file_name("rvisor").exists() => exe.with_file_name("rvisor"),
        _ => ws,
    }
}

/// The median (NaN for no values).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A number with about three significant digits; "-" when not finite.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        "-".to_string()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg shows them.
pub fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_num() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        assert_eq!(
            (num(123.4), num(12.34), num(1.234), num(0.1234), num(f64::NAN)),
            ("123".into(), "12.3".into(), "1.23".into(), "0.123".into(), "-".into())
        );
    }
}
