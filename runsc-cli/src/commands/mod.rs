//! One file per CLI command.

pub mod run_do;
