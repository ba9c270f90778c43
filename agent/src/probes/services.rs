//! OS services that must be running: systemd units on Linux, the Service Control Manager's
//! services on Windows (`probes::windows::services`), in systemd's words either way.

#[cfg(not(windows))]
use std::time::Duration;

use serde::Serialize;
#[cfg(not(windows))]
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

/// Asks the Service Control Manager about `name`. Errors when it cannot be asked at all.
#[cfg(windows)]
pub async fn state(name: &str) -> Result<ServiceState, String> {
    let owned = name.to_owned();
    tokio::task::spawn_blocking(move || super::windows::services::state(&owned))
        .await
        .map_err(|e| format!("asking the Service Control Manager about {name}: {e}"))?
}

/// Asks systemd about `name`. Errors when systemd cannot be asked at all.
#[cfg(not(windows))]
pub async fn state(name: &str) -> Result<ServiceState, String> {
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

/// A service's state as the Windows Service Control Manager reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScmState {
    Stopped,
    StartPending,
    StopPending,
    Running,
    ContinuePending,
    PausePending,
    Paused,
}

impl ScmState {
    /// The SCM's own name for the state, as `sc query` shows it.
    pub fn name(self) -> &'static str {
        match self {
            ScmState::Stopped => "STOPPED",
            ScmState::StartPending => "START_PENDING",
            ScmState::StopPending => "STOP_PENDING",
            ScmState::Running => "RUNNING",
            ScmState::ContinuePending => "CONTINUE_PENDING",
            ScmState::PausePending => "PAUSE_PENDING",
            ScmState::Paused => "PAUSED",
        }
    }
}

/// A service's last exit code as the SCM reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScmExitCode {
    Win32(u32),
    ServiceSpecific(u32),
}

/// ERROR_SERVICE_NEVER_STARTED: the exit code of a service not started since boot (manual or
/// disabled ones), which is not a failure.
const NEVER_STARTED: u32 = 1077;

/// The SCM's answer in systemd's words, so that the services check reads both alike: `None`
/// (no such service) is "not-found"; a stopped service whose last exit code says an error is
/// "failed"; the SCM's state name is the sub-state.
pub fn from_scm(name: &str, status: Option<(ScmState, ScmExitCode)>) -> ServiceState {
    let Some((state, exit_code)) = status else {
        return ServiceState {
            name: name.to_owned(),
            load_state: "not-found".to_owned(),
            active_state: "inactive".to_owned(),
            sub_state: "dead".to_owned(),
        };
    };
    let exited_with_error = match exit_code {
        ScmExitCode::Win32(code) => code != 0 && code != NEVER_STARTED,
        ScmExitCode::ServiceSpecific(code) => code != 0,
    };
    let active_state = match state {
        ScmState::Running => "active",
        ScmState::StartPending | ScmState::ContinuePending => "activating",
        ScmState::StopPending | ScmState::PausePending => "deactivating",
        ScmState::Stopped if exited_with_error => "failed",
        ScmState::Stopped | ScmState::Paused => "inactive",
    };
    ServiceState {
        name: name.to_owned(),
        load_state: "loaded".to_owned(),
        active_state: active_state.to_owned(),
        sub_state: state.name().to_owned(),
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

    #[test]
    fn scm_states_read_like_systemd_ones() {
        use ScmExitCode::{ServiceSpecific, Win32};
        let cases = [
            (None, "not-found", "inactive", "dead", false),
            (
                Some((ScmState::Running, Win32(0))),
                "loaded",
                "active",
                "RUNNING",
                true,
            ),
            (
                Some((ScmState::Stopped, Win32(0))),
                "loaded",
                "inactive",
                "STOPPED",
                false,
            ),
            // Not started since boot (a manual service) is not a failure.
            (
                Some((ScmState::Stopped, Win32(1077))),
                "loaded",
                "inactive",
                "STOPPED",
                false,
            ),
            (
                Some((ScmState::Stopped, Win32(1067))),
                "loaded",
                "failed",
                "STOPPED",
                false,
            ),
            (
                Some((ScmState::Stopped, ServiceSpecific(3))),
                "loaded",
                "failed",
                "STOPPED",
                false,
            ),
            (
                Some((ScmState::StartPending, Win32(0))),
                "loaded",
                "activating",
                "START_PENDING",
                false,
            ),
            (
                Some((ScmState::ContinuePending, Win32(0))),
                "loaded",
                "activating",
                "CONTINUE_PENDING",
                false,
            ),
            (
                Some((ScmState::StopPending, Win32(0))),
                "loaded",
                "deactivating",
                "STOP_PENDING",
                false,
            ),
            (
                Some((ScmState::PausePending, Win32(0))),
                "loaded",
                "deactivating",
                "PAUSE_PENDING",
                false,
            ),
            (
                Some((ScmState::Paused, Win32(0))),
                "loaded",
                "inactive",
                "PAUSED",
                false,
            ),
            // A running service keeps an old exit code: it is running all the same.
            (
                Some((ScmState::Running, Win32(1067))),
                "loaded",
                "active",
                "RUNNING",
                true,
            ),
        ];
        for (status, load, active, sub, running) in cases {
            let state = from_scm("Spooler", status);
            assert_eq!(
                (
                    state.load_state.as_str(),
                    state.active_state.as_str(),
                    state.sub_state.as_str()
                ),
                (load, active, sub),
                "{status:?}"
            );
            assert_eq!(state.running(), running, "{status:?}");
            assert_eq!(state.name, "Spooler");
        }
    }
}
