//! Whether the OS wants a reboot (updates installed that need one).

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RebootState {
    pub pending: bool,
    /// What asked for it, e.g. the packages listed in /run/reboot-required.pkgs.
    pub reasons: Vec<String>,
}

pub fn state() -> Result<RebootState, String> {
    if cfg!(windows) {
        return Err(super::not_on_windows_yet("pending reboot"));
    }
    Ok(state_in(Path::new("/run")))
}

/// Debian and Ubuntu flag a needed reboot with `/run/reboot-required`.
pub fn state_in(run_dir: &Path) -> RebootState {
    let pending = run_dir.join("reboot-required").exists();
    let reasons = if pending {
        std::fs::read_to_string(run_dir.join("reboot-required.pkgs"))
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .take(50)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    RebootState { pending, reasons }
}
