//! The `firstline.v1` wire protocol between agents and collectors.
//!
//! Generated code, and the codec it uses (`codec.rs`: prost's, refusing a batch over its count
//! before decoding it). Each side converts these types into its own domain types in exactly
//! one module (`agent::wire`, `collector::wire`); nothing else touches them.

#![allow(clippy::doc_markdown, clippy::large_enum_variant, missing_docs)]

pub mod codec;

pub mod v1 {
    tonic::include_proto!("firstline.v1");
}

/// Version of the stream protocol this build speaks; sent in `Hello` and `Welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// gRPC metadata on an `UNAVAILABLE` status: the collector cannot store findings right now
/// (a full disk, a lost database) and asks the agent to wait this many seconds before
/// reconnecting. The agent keeps its findings meanwhile; this is not a refusal.
pub const RETRY_AFTER_METADATA: &str = "firstline-retry-after-secs";
