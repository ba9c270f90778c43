//! OS services that must be running: systemd units on Linux.

use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceState {
    pub name: String,
    /// e.g. "loaded" or "not-found"
    pub load_state: String,
    /// e.g. "active", "failed", "inactive"
    pub active_state: String,
    pub sub_state: String,
}

impl ServiceState {
    pub fn running(&self) -> bool {
        self.active_state == "active"
    }
}

/// Asks systemd about `name`. Errors when systemd cannot be asked at all.
pub async fn state(name: &str) -> Result<ServiceState, String> {
    if cfg!(windows) {
        return Err(super::not_on_windows_yet(&format!("service {name}")));
    }
    let mut command = Command::new("systemctl");
    command
        .args([
            "show",
            "--property=LoadState,ActiveState,SubState",
            "--",
            name,
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(10), command.output())
        .await
        .map_err(|_| format!("systemctl show {name} timed out"))?
        .map_err(|e| format!("running systemctl show {name}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "systemctl show {name}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(parse(name, &String::from_utf8_lossy(&output.stdout)))
}

pub fn parse(name: &str, text: &str) -> ServiceState {
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    ServiceState {
        name: name.to_owned(),
        load_state: field("LoadState"),
        active_state: field("ActiveState"),
        sub_state: field("SubState"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_systemctl_show() {
        let state = parse(
            "cups.service",
            "LoadState=loaded\nActiveState=failed\nSubState=failed\n",
        );
        assert!(!state.running());
        assert_eq!(state.active_state, "failed");
    }
}
