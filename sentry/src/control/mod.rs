//! The sandbox's control socket: how `rvisor start/exec/kill/ps` reach a
//! running sentry. One SOCK_SEQPACKET unix socket beside the container's
//! state.json; each message is one JSON [`proto::Request`] or
//! [`proto::Response`], and an exec request carries the new process's
//! stdin, stdout and stderr as SCM_RIGHTS.
//!
//! [`server`] is the sentry's side (a thread per connection), [`client`] the CLI's.

pub mod client;
pub mod proto;
pub mod server;
pub mod wire;

pub use proto::{ExitInfo, ProcInfo, ProcessSpec, Request, Response};
