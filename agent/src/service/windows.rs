//! The agent as a Windows service: registration with the Service Control Manager, and `run`
//! under it (the SCM's Stop becomes the same stop signal as Ctrl-C). Everything that is data
//! (names, paths, the command line, recovery) is in `windows_definition.rs`, tested everywhere.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tokio::sync::watch;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus as ScmStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_dispatcher;
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

use super::windows_definition::{self, FAILURE_COUNT_RESET, RESTART_DELAYS};
use super::{
    DESCRIPTION, DISPLAY_NAME, EnrollmentState, SERVICE_NAME, ServiceDefinition, ServiceError,
    ServiceStatus,
};

/// Win32 error codes the SCM answers with.
const ERROR_ACCESS_DENIED: i32 = 5;
const ERROR_SERVICE_DOES_NOT_EXIST: i32 = 1060;
const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;
const ERROR_SERVICE_EXISTS: i32 = 1073;

/// An SCM error; "access denied" becomes the advice to run `service COMMAND` elevated.
fn scm_error(command: &'static str, action: &str, error: windows_service::Error) -> ServiceError {
    if os_error(&error) == Some(ERROR_ACCESS_DENIED) {
        return ServiceError::NotAdministrator {
            action: command,
            administrator: "an administrator",
            hint: "a prompt opened with \"Run as administrator\"",
        };
    }
    ServiceError::ServiceManager {
        action: action.to_owned(),
        detail: error.to_string(),
    }
}

fn os_error(error: &windows_service::Error) -> Option<i32> {
    match error {
        windows_service::Error::Winapi(io) => io.raw_os_error(),
        _ => None,
    }
}

/// Registers the service (automatic start, LocalSystem, restart on failure) and starts it; an
/// existing registration is updated to this definition.
pub fn install(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| scm_error("install", "opening the Service Control Manager", e))?;
    let info = ServiceInfo {
        name: OsString::from(SERVICE_NAME),
        display_name: OsString::from(DISPLAY_NAME),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: definition.binary.clone(),
        launch_arguments: definition.run_arguments(),
        dependencies: Vec::new(),
        // LocalSystem: the probes read every disk and process, like the Unix services' root.
        account_name: None,
        account_password: None,
    };
    let access = ServiceAccess::QUERY_STATUS
        | ServiceAccess::START
        | ServiceAccess::STOP
        | ServiceAccess::CHANGE_CONFIG;
    let service = match manager.create_service(&info, access) {
        Ok(service) => service,
        Err(e) if os_error(&e) == Some(ERROR_SERVICE_EXISTS) => {
            let service = manager
                .open_service(SERVICE_NAME, access)
                .map_err(|e| scm_error("install", "opening the existing service", e))?;
            service
                .change_config(&info)
                .map_err(|e| scm_error("install", "updating the existing service", e))?;
            service
        }
        Err(e) => return Err(scm_error("install", "creating the service", e)),
    };
    service
        .set_description(DESCRIPTION)
        .map_err(|e| scm_error("install", "describing the service", e))?;
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(FAILURE_COUNT_RESET),
            reboot_msg: None,
            command: None,
            actions: Some(
                RESTART_DELAYS
                    .iter()
                    .map(|delay| ServiceAction {
                        action_type: ServiceActionType::Restart,
                        delay: *delay,
                    })
                    .collect(),
            ),
        })
        .map_err(|e| scm_error("install", "setting the restart-on-failure actions", e))?;
    // An exit with an error counts as a failure too, not only a crash.
    service
        .set_failure_actions_on_non_crash_failures(true)
        .map_err(|e| scm_error("install", "setting the restart-on-failure actions", e))?;
    let running = service
        .query_status()
        .map(|status| status.current_state != ServiceState::Stopped)
        .unwrap_or(false);
    if !running {
        service
            .start::<&str>(&[])
            .map_err(|e| scm_error("install", "starting the service", e))?;
    }
    // The service's log goes to the Application event log under this source; without the
    // registration Event Viewer still shows the entries, with a "description not found" preamble.
    if let Err(error) = crate::eventlog::register_source(crate::eventlog::SOURCE) {
        tracing::warn!(error = %error, "registering the Event Log source");
    }
    Ok(format!(
        "the Windows service {SERVICE_NAME} ({}), logging to the Application event log as {:?}",
        windows_definition::command_line(definition)?,
        crate::eventlog::SOURCE
    ))
}

/// Stops the service and deletes its registration.
pub fn uninstall() -> Result<Vec<String>, ServiceError> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| scm_error("uninstall", "opening the Service Control Manager", e))?;
    let service = match manager.open_service(
        SERVICE_NAME,
        ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
    ) {
        Ok(service) => service,
        Err(e) if os_error(&e) == Some(ERROR_SERVICE_DOES_NOT_EXIST) => {
            return Ok(vec![format!(
                "no Windows service {SERVICE_NAME}: nothing to remove"
            )]);
        }
        Err(e) => return Err(scm_error("uninstall", "opening the service", e)),
    };
    let mut done = Vec::new();
    if service
        .query_status()
        .is_ok_and(|status| status.current_state != ServiceState::Stopped)
    {
        service
            .stop()
            .map_err(|e| scm_error("uninstall", "stopping the service", e))?;
        done.push(format!("stopped {SERVICE_NAME}"));
    }
    // Deleting marks it for deletion; the SCM removes it once stopped and closed.
    service
        .delete()
        .map_err(|e| scm_error("uninstall", "deleting the service", e))?;
    done.push(format!("removed the Windows service {SERVICE_NAME}"));
    match crate::eventlog::remove_source(crate::eventlog::SOURCE) {
        Ok(true) => done.push(format!(
            "removed the Event Log source {:?} (its past entries stay in the log)",
            crate::eventlog::SOURCE
        )),
        Ok(false) => {}
        Err(error) => tracing::warn!(error = %error, "removing the Event Log source"),
    }
    done.push("kept the config and the state dir (the identity and the outbox)".to_owned());
    Ok(done)
}

pub fn status(state_dir: &Path) -> Result<ServiceStatus, ServiceError> {
    let mut status = ServiceStatus {
        manager: "Windows service",
        definition: None,
        installed: false,
        enabled: false,
        running: false,
        state_dir: state_dir.to_owned(),
        enrollment: EnrollmentState::of(state_dir),
    };
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| scm_error("status", "opening the Service Control Manager", e))?;
    let service = match manager.open_service(
        SERVICE_NAME,
        ServiceAccess::QUERY_STATUS | ServiceAccess::QUERY_CONFIG,
    ) {
        Ok(service) => service,
        Err(e) if os_error(&e) == Some(ERROR_SERVICE_DOES_NOT_EXIST) => return Ok(status),
        Err(e) => return Err(scm_error("status", "opening the service", e)),
    };
    status.installed = true;
    if let Ok(config) = service.query_config() {
        status.enabled = config.start_type == ServiceStartType::AutoStart;
        status.definition = Some(config.executable_path.display().to_string());
    }
    status.running = service
        .query_status()
        .is_ok_and(|scm| scm.current_state == ServiceState::Running);
    Ok(status)
}

/// What `run` does when the SCM may have started it.
#[derive(Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// The agent ran as a service and has stopped.
    RanAsService,
    /// Started from a console: run in the foreground as usual.
    NotAService,
}

/// The `--config` and `--state-dir` of `run`, for the service's main (the SCM's callback
/// takes no context).
static RUN_OPTIONS: OnceLock<(Option<PathBuf>, Option<PathBuf>)> = OnceLock::new();

/// Hands this process to the SCM if the SCM started it; returns at once otherwise.
pub fn run_if_started_by_the_service_manager(
    config: Option<PathBuf>,
    state_dir: Option<PathBuf>,
) -> Result<Dispatched, ServiceError> {
    let _ = RUN_OPTIONS.set((config, state_dir));
    match service_dispatcher::start(SERVICE_NAME, ffi_service_main) {
        Ok(()) => Ok(Dispatched::RanAsService),
        Err(e) if os_error(&e) == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) => {
            Ok(Dispatched::NotAService)
        }
        Err(e) => Err(scm_error(
            "run",
            "connecting to the Service Control Manager",
            e,
        )),
    }
}

windows_service::define_windows_service!(ffi_service_main, service_main);

/// Runs on the SCM's thread: reports running, runs the agent until Stop, reports stopped.
fn service_main(_arguments: Vec<OsString>) {
    // From here on the log goes to the Event Log: the SCM discards stderr. If the source cannot
    // be opened, stderr is all there is.
    if let Err(error) = crate::eventlog::start_for_service() {
        tracing::warn!(error = %error, "cannot write to the Windows Event Log");
    }
    if let Err(error) = run_service() {
        tracing::error!(error = %error, "the Windows service ended with an error");
    }
}

fn run_service() -> anyhow::Result<()> {
    let (stop, stop_watch) = watch::channel(false);
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            tracing::info!("stopping (service control manager)");
            let _ = stop.send(true);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let status_handle = service_control_handler::register(SERVICE_NAME, handler)?;
    let report = |state: ServiceState, exit_code: u32| {
        status_handle.set_service_status(ScmStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(exit_code),
            checkpoint: 0,
            wait_hint: std::time::Duration::default(),
            process_id: None,
        })
    };
    report(ServiceState::Running, 0)?;
    let (config, state_dir) = RUN_OPTIONS.get().cloned().unwrap_or_default();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(crate::cli::run_agent(config, state_dir, stop_watch)));
    // A nonzero exit code makes the SCM apply the recovery actions (restart).
    report(ServiceState::Stopped, if outcome.is_ok() { 0 } else { 1 })?;
    outcome
}
