//! Probes: read-only looks at the machine and the network, returning plain snapshots. They do
//! the I/O; the checks in `crate::checks` decide what it means. Playbooks reuse them.

pub mod battery;
pub mod cpu;
pub mod disk;
pub mod dns;
pub mod files;
pub mod gateway;
pub mod https;
pub mod memory;
pub mod ping;
pub mod reboot;
pub mod services;
pub mod smart;
pub mod tcp;
pub mod thermal;
#[cfg(windows)]
pub mod windows;

/// What a probe without a Windows implementation yet answers there (issue 13). A probe that
/// fails concludes nothing; an empty answer would claim "no reboot pending" or "no battery".
pub(crate) fn not_on_windows_yet(what: &str) -> String {
    format!("{what}: not on Windows yet")
}
