//! Path resolution.
