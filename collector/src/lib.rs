//! The Firstline collector: enrolls agents from its own CA, ingests their findings over a
//! mutual-TLS gRPC stream into SQLite, and serves people over HTTP.
//!
//! `main.rs` only parses flags; everything here is callable in-process, which is how the
//! end-to-end tests drive it.

pub mod auth;
pub mod budget;
pub mod channels;
pub mod cli;
pub mod commit;
pub mod config;
pub mod connections;
pub mod directory;
pub mod enrollment;
pub mod fixes;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod net;
pub mod pki;
pub mod random;
pub mod retention;
pub mod server;
pub mod store;
pub mod sync;
pub mod tickets;
pub mod web;
pub mod wire;
