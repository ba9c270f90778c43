//! A service's state from the Service Control Manager (the `windows-service` crate), mapped
//! to systemd's words by `probes::services::from_scm`.

use windows_service::service::{ServiceAccess, ServiceExitCode, ServiceState as Scm};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_sys::Win32::Foundation::ERROR_SERVICE_DOES_NOT_EXIST;

use crate::probes::services::{ScmExitCode, ScmState, ServiceState, from_scm};

/// The state of the service named `name` (its key name, e.g. "Spooler"). A service that does
/// not exist is "not-found", not an error.
pub fn state(name: &str) -> Result<ServiceState, String> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| format!("OpenSCManagerW: {e}"))?;
    let service = match manager.open_service(name, ServiceAccess::QUERY_STATUS) {
        Ok(service) => service,
        Err(windows_service::Error::Winapi(io))
            if io.raw_os_error() == Some(ERROR_SERVICE_DOES_NOT_EXIST as i32) =>
        {
            return Ok(from_scm(name, None));
        }
        Err(e) => return Err(format!("OpenServiceW {name}: {e}")),
    };
    let status = service
        .query_status()
        .map_err(|e| format!("QueryServiceStatusEx {name}: {e}"))?;
    let state = match status.current_state {
        Scm::Stopped => ScmState::Stopped,
        Scm::StartPending => ScmState::StartPending,
        Scm::StopPending => ScmState::StopPending,
        Scm::Running => ScmState::Running,
        Scm::ContinuePending => ScmState::ContinuePending,
        Scm::PausePending => ScmState::PausePending,
        Scm::Paused => ScmState::Paused,
    };
    let exit_code = match status.exit_code {
        ServiceExitCode::Win32(code) => ScmExitCode::Win32(code),
        ServiceExitCode::ServiceSpecific(code) => ScmExitCode::ServiceSpecific(code),
    };
    Ok(from_scm(name, Some((state, exit_code))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_control_manager_answers_for_a_service_that_exists_and_one_that_does_not() {
        // Every Windows (and a fresh Wine prefix) has the RPC endpoint mapper service.
        let existing = state("RpcSs").expect("RpcSs");
        assert_eq!(existing.load_state, "loaded", "{existing:?}");
        assert!(!existing.sub_state.is_empty(), "{existing:?}");
        let missing = state("FirstlineNoSuchService").expect("a missing service");
        assert_eq!(missing.load_state, "not-found", "{missing:?}");
        assert!(!missing.running());
    }
}
