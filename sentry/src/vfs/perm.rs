//! Permission checks.
