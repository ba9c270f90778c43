//! `service.restart`: restarts a stopped or failed OS service, only one on the device's own
//! allow-list (`[fixes] restartable_services`); verified by the services probe seeing it
//! running again. Linux is built and tested here, with systemd or, where systemd is not PID 1
//! (containers), with the service's init script (`run::restart_service`); Windows (the Service
//! Control Manager's stop and start, through the `windows-service` crate) is not built yet.

use std::time::{Duration, Instant};

use super::run::{ServiceManager, restart_service, run_program, service_state};
use super::{Change, FixSpec, FixesConfig, Parameters, Prepared, Verification};
use crate::probes::services;

pub const NAME: &str = "service.restart";

pub const SPEC: FixSpec = FixSpec {
    name: NAME,
    summary: "Restarts a service on the device's list of services that may be restarted.",
    answers: &[crate::checks::services::NOT_RUNNING],
    max_runs_per_day: 6,
    needs_consent: false,
    undo: None,
    platforms: &["linux"],
};

/// How long a service may take to come up before the verification looks.
const SETTLE: Duration = Duration::from_secs(10);

/// A service name as systemd and the SCM spell them: letters, digits and `-_.@:` only, so it
/// can never be read as an option or a pattern.
pub fn valid_service_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:.60?} is not a service name"))
    }
}

pub struct ServiceRestart {
    service: String,
}

pub fn prepare(
    parameters: &mut Parameters,
    config: &FixesConfig,
) -> Result<ServiceRestart, String> {
    let service = parameters.required("service")?;
    valid_service_name(&service)?;
    if !config.restartable_services.contains(&service) {
        return Err(format!(
            "service {service:.60?} is not on this device's list of services that may be restarted ([fixes] restartable_services)"
        ));
    }
    Ok(ServiceRestart { service })
}

fn state_text(state: &services::ServiceState) -> String {
    format!(
        "service {} is {} ({})",
        state.name, state.active_state, state.sub_state
    )
}

impl Prepared for ServiceRestart {
    fn before(&mut self) -> Result<String, String> {
        service_state(&self.service).map(|state| state_text(&state))
    }

    fn apply(&mut self) -> Result<Vec<Change>, String> {
        let state = service_state(&self.service)?;
        if state.load_state == "not-found" {
            return Err(format!("service {} is not installed", self.service));
        }
        // A failed unit keeps its failed state (and its start limit) until reset.
        if state.active_state == "failed"
            && ServiceManager::of_this_host(&self.service) == Ok(ServiceManager::Systemd)
        {
            let _ = run_program(
                "systemctl",
                &["reset-failed", "--", &self.service],
                Duration::from_secs(30),
            );
        }
        let manager = restart_service(&self.service)?;
        // Give it a moment to come up: the verification looks once.
        let restarted = Instant::now();
        while restarted.elapsed() < SETTLE
            && !service_state(&self.service).is_ok_and(|state| state.running())
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(vec![Change {
            target: self.service.clone(),
            action: format!(
                "restarted with {} (it was {})",
                manager.name(),
                state.active_state
            ),
            bytes_freed: None,
            error: None,
        }])
    }

    fn verify(&mut self) -> Verification {
        Verification::from_look(
            service_state(&self.service).map(|state| (state.running(), state_text(&state))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_cannot_be_options_or_commands() {
        for good in ["cups", "cups.service", "getty@tty1.service", "Spooler"] {
            valid_service_name(good).expect(good);
        }
        for bad in ["", "--now", "cups; reboot", "a b", "../etc", "*"] {
            assert!(valid_service_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
