//! How application code runs and traps into the sentry.
//!
//! `ptrace` is the reference platform: one tracer thread per app thread.
//! `filter` is the app seccomp filter shared by all platforms; `stub` is the
//! tiny image every app process is exec'd from. `systrap` is the SIGSYS
//! hand-off platform under construction (docs/systrap-status.md).

pub mod filter;
pub mod ptrace;
pub mod stub;
pub mod systrap;
