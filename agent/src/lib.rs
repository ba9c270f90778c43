//! The Firstline agent: gathers what a first-line technician would look at on this machine and
//! streams it to the collector over mutual TLS.
//!
//! `main.rs` only parses flags; everything here is callable in-process, which is how the
//! end-to-end tests drive it.

pub mod config;
pub mod enroll;
pub mod identity;
pub mod inventory;
pub mod uplink;
pub mod wire;

/// This build's version, reported at enrollment and in every inventory.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
