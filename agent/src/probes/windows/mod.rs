//! The Windows side of the probes: safe wrappers over the Win32 calls (windows-sys) that the
//! probes in `crate::probes` make there. Each file is one probe; what can be decided without
//! Windows (parsing, selection) stays in the probe's own file, tested on Linux.

pub mod adapters;
pub mod app_errors;
pub mod battery;
pub mod cpu;
pub mod file_identity;
pub mod reboot;
pub mod registry;
pub mod services;
pub mod users;
pub mod wide;
