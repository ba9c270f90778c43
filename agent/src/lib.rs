//! The Firstline agent: looks at this machine the way a first-line technician would, turns what
//! it sees into findings, keeps them in a durable outbox and streams them to the collector over
//! mutual TLS.
//!
//! `main.rs` only calls [`cli::main`]; everything is callable in-process, which is how the
//! end-to-end tests drive it.

#[cfg(windows)]
pub mod acl;
pub mod checks;
pub mod cli;
pub mod config;
pub mod enroll;
pub mod eventlog;
pub mod finding;
pub mod fixes;
pub mod fleet;
pub mod help;
pub mod identity;
pub mod inventory;
pub mod notify;
pub mod outbox;
pub mod playbooks;
pub mod probes;
pub mod report;
#[cfg(windows)]
pub mod report_pipe;
pub mod runtime;
pub mod service;
pub mod targets;
pub mod uplink;
pub mod users;
pub mod wire;

/// This build's version, reported at enrollment and in every inventory.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
