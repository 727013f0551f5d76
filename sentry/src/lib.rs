//! rvisor's sentry: a user-space Linux kernel.
//!
//! Application tasks run as host processes whose every non-passthrough system
//! call traps to the sentry (see `platform`). The sentry decides each call
//! with its own kernel objects: tasks (`kernel`), memory (`mm`), files
//! (`vfs`, `fs`) and the per-family handlers in `syscalls`.

pub mod boot;
pub mod confine;
pub mod control;
pub mod fs;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod platform;
pub mod syscalls;
pub mod vfs;
