//! The Windows implementations of the probes, one file each, called by the probes of the same
//! name under `#[cfg(windows)]`.

pub mod app_errors;
