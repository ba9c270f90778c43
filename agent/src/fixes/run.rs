//! Running a prepared fix: the daily cap, "before", the change, the verification, timed; and
//! what fixes share: running the few fixed programs a fix uses (no shell, arguments as a list,
//! a deadline), restarting and asking after a service (systemd or init scripts on Linux, the
//! Service Control Manager on Windows), and running an async probe from the fix's blocking
//! thread.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::limits::DailyRuns;
use super::{FixReport, FixSpec, Outcome, Prepared};
use crate::probes::services::ServiceState;

/// Runs `prepared` once if the daily cap allows, and says what happened. Blocking: call it
/// from a blocking task.
pub fn run_fix(spec: &FixSpec, mut prepared: Box<dyn Prepared>, runs: &DailyRuns) -> FixReport {
    let started = Instant::now();
    if let Err(error) = runs.admit(spec.name, spec.max_runs_per_day) {
        return FixReport::refused(spec.name, error);
    }
    let before = match prepared.before() {
        Ok(before) => Some(before),
        Err(error) => Some(format!("could not look before the fix: {error}")),
    };
    let (outcome, changes, verification, error) = match prepared.apply() {
        Ok(changes) => {
            let verification = prepared.verify();
            let outcome = if verification.passed {
                Outcome::Verified
            } else {
                Outcome::NotVerified
            };
            (outcome, changes, Some(verification), None)
        }
        Err(error) => (Outcome::Failed, Vec::new(), None, Some(error)),
    };
    FixReport {
        fix: spec.name.to_owned(),
        outcome,
        before,
        changes,
        verification,
        error,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// What a program printed, when it exited zero.
#[derive(Debug)]
pub struct ProgramOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` with `arguments` (no shell), waiting at most `deadline`. A non-zero exit is
/// an error naming the command and its first line of stderr.
pub fn run_program(
    program: &str,
    arguments: &[&str],
    deadline: Duration,
) -> Result<ProgramOutput, String> {
    let (status, output) = run_program_status(program, arguments, deadline)?;
    if !status.success() {
        let first_line = output.stderr.lines().next().unwrap_or("").trim();
        return Err(format!(
            "{program} {} failed ({status}){}{:.200}",
            arguments.join(" "),
            if first_line.is_empty() { "" } else { ": " },
            first_line
        ));
    }
    Ok(output)
}

/// Like `run_program`, but any exit is returned with its status, for programs whose exit code
/// is the answer (`service NAME status`). Errors only when it could not run or finish.
pub fn run_program_status(
    program: &str,
    arguments: &[&str],
    deadline: Duration,
) -> Result<(ExitStatus, ProgramOutput), String> {
    let shown = || format!("{program} {}", arguments.join(" "));
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", shown()))?;
    // Read both pipes on threads so a chatty program cannot block on a full pipe.
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = std::io::Read::read_to_end(
                    &mut std::io::Read::take(&mut pipe, 256 * 1024),
                    &mut text,
                );
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not finish within {deadline:?}", shown()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {}: {e}", shown())),
        }
    };
    let output = ProgramOutput {
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    Ok((status, output))
}

/// Whether `program` can be found on PATH (or is a path that exists).
pub fn have_program(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Runs an async probe to completion on a runtime of its own. For the fix's blocking thread
/// only: called from async code it would panic (a runtime cannot block inside another).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting a probe runtime: {e}"))?;
    Ok(runtime.block_on(future))
}

/// Who starts and stops services on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceManager {
    /// systemd is PID 1 (`systemctl`).
    Systemd,
    /// No systemd (a container, another init): Debian's `service`, which runs
    /// `/etc/init.d/NAME`.
    InitScripts,
    /// Windows: the Service Control Manager (`fixes::windows::ServiceControl`).
    ServiceControlManager,
}

impl ServiceManager {
    /// On Windows the Service Control Manager. Elsewhere systemd when it is running —
    /// `/run/systemd/system` exists, sd_booted()'s own test — else `service` when it is
    /// installed, else an error saying neither is there.
    pub fn of_this_host(service: &str) -> Result<Self, String> {
        if cfg!(windows) {
            return Ok(Self::ServiceControlManager);
        }
        Self::choose(
            std::path::Path::new("/run/systemd/system").is_dir(),
            have_program("systemctl"),
            have_program("service"),
            service,
        )
    }

    pub fn choose(
        systemd_running: bool,
        have_systemctl: bool,
        have_service: bool,
        service: &str,
    ) -> Result<Self, String> {
        match (systemd_running && have_systemctl, have_service) {
            (true, _) => Ok(Self::Systemd),
            (false, true) => Ok(Self::InitScripts),
            (false, false) => Err(format!(
                "cannot restart {service}: systemd is not running here (no /run/systemd/system) \
                 and there is no `service` command (Debian's init-system-helpers) to run its \
                 init script"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Systemd => "systemd",
            Self::InitScripts => "its init script",
            Self::ServiceControlManager => "the Service Control Manager",
        }
    }
}

/// The init script's name for a service: systemd's unit suffix dropped ("cups.service" is
/// `/etc/init.d/cups`).
fn init_script_name(service: &str) -> &str {
    service.strip_suffix(".service").unwrap_or(service)
}

/// Restarts `service` (a name `service_restart::valid_service_name` accepted) with whichever
/// service manager runs here, and says which that was.
pub fn restart_service(service: &str) -> Result<ServiceManager, String> {
    let manager = ServiceManager::of_this_host(service)?;
    let deadline = Duration::from_secs(90);
    match manager {
        ServiceManager::Systemd => {
            run_program("systemctl", &["restart", "--", service], deadline)?;
        }
        ServiceManager::InitScripts => {
            run_program("service", &[init_script_name(service), "restart"], deadline)?;
        }
        ServiceManager::ServiceControlManager => restart_with_scm(service, deadline)?,
    }
    Ok(manager)
}

/// Whether `service` runs, in systemd's words, asked of whichever service manager runs here:
/// `systemctl show` under systemd, else the init script's `status` (LSB exit codes: 0 running,
/// 3 stopped).
pub fn service_state(service: &str) -> Result<ServiceState, String> {
    match ServiceManager::of_this_host(service)? {
        ServiceManager::Systemd => block_on(crate::probes::services::state(service))?,
        ServiceManager::ServiceControlManager => scm_state(service),
        ServiceManager::InitScripts => {
            let script = init_script_name(service);
            let state = |load: &str, active: &str, sub: &str| ServiceState {
                name: service.to_owned(),
                load_state: load.to_owned(),
                active_state: active.to_owned(),
                sub_state: sub.to_owned(),
            };
            if !std::path::Path::new("/etc/init.d").join(script).is_file() {
                return Ok(state("not-found", "inactive", "dead"));
            }
            let (status, _) =
                run_program_status("service", &[script, "status"], Duration::from_secs(30))?;
            Ok(match status.code() {
                Some(0) => state("loaded", "active", "running"),
                Some(1..=3) => state("loaded", "inactive", "dead"),
                other => state(
                    "loaded",
                    "unknown",
                    &format!(
                        "status exit {}",
                        other.map_or("by signal".to_owned(), |c| c.to_string())
                    ),
                ),
            })
        }
    }
}

#[cfg(windows)]
fn restart_with_scm(service: &str, deadline: Duration) -> Result<(), String> {
    super::windows::restart_service(service, deadline)
}

#[cfg(not(windows))]
fn restart_with_scm(service: &str, _deadline: Duration) -> Result<(), String> {
    Err(format!(
        "cannot restart {service}: there is no Service Control Manager here"
    ))
}

/// The services probe's own answer (the SCM's state in systemd's words).
#[cfg(windows)]
fn scm_state(service: &str) -> Result<ServiceState, String> {
    crate::probes::windows::services::state(service)
}

#[cfg(not(windows))]
fn scm_state(service: &str) -> Result<ServiceState, String> {
    Err(format!(
        "cannot ask about {service}: there is no Service Control Manager here"
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_fails_says_its_command_and_error() {
        let error = run_program(
            "sh",
            &["-c", "echo broken >&2; exit 3"],
            Duration::from_secs(5),
        )
        .expect_err("fails");
        assert!(error.contains("sh -c"), "{error}");
        assert!(error.contains("broken"), "{error}");
    }

    #[test]
    fn a_program_past_its_deadline_is_stopped() {
        let started = Instant::now();
        let error = run_program("sleep", &["30"], Duration::from_millis(200)).expect_err("stopped");
        assert!(error.contains("did not finish"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_service_manager_is_systemd_only_when_it_runs() {
        for (systemd_running, systemctl, service, expected) in [
            (true, true, true, Ok(ServiceManager::Systemd)),
            (true, true, false, Ok(ServiceManager::Systemd)),
            // systemctl installed in a container whose PID 1 is not systemd.
            (false, true, true, Ok(ServiceManager::InitScripts)),
            (true, false, true, Ok(ServiceManager::InitScripts)),
            (false, true, false, Err("systemd is not running")),
            (false, false, false, Err("no `service` command")),
        ] {
            let chosen = ServiceManager::choose(systemd_running, systemctl, service, "cups");
            match (chosen, expected) {
                (Ok(chosen), Ok(expected)) => assert_eq!(chosen, expected),
                (Err(error), Err(expected)) => {
                    assert!(error.contains(expected), "{error}");
                    assert!(error.contains("cups"), "{error}");
                }
                (chosen, expected) => panic!(
                    "{systemd_running} {systemctl} {service}: {chosen:?}, expected {expected:?}"
                ),
            }
        }
        assert_eq!(init_script_name("cups.service"), "cups");
        assert_eq!(init_script_name("cups"), "cups");
    }

    #[test]
    fn a_service_without_an_init_script_or_unit_is_not_found() {
        let state = service_state("firstline-no-such-service").expect("asked");
        assert_eq!(state.load_state, "not-found", "{state:?}");
        assert!(!state.running());
    }
}
