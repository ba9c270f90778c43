//! `service.restart`: restarts a stopped or failed OS service, only one on the device's own
//! allow-list (`[fixes] restartable_services`); verified by the services probe seeing it
//! running again. Linux is built and tested here, with systemd or, where systemd is not PID 1
//! (containers), with the service's init script (`run::restart_service`). Windows is built too:
//! the Service Control Manager's stop and start, each waited for with a deadline
//! (`fixes::windows::ServiceControl`), tested under Wine's own SCM; a service others depend on
//! is refused by the SCM and not forced.

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
    platforms: &["linux", "windows"],
    not_built: &[(
        "macos",
        "it needs launchd's `launchctl kickstart -k system/LABEL`, with the list of services naming launchd labels",
    )],
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
    #[cfg(windows)]
    use std::collections::BTreeMap;

    #[test]
    fn service_names_cannot_be_options_or_commands() {
        for good in ["cups", "cups.service", "getty@tty1.service", "Spooler"] {
            valid_service_name(good).expect(good);
        }
        for bad in ["", "--now", "cups; reboot", "a b", "../etc", "*"] {
            assert!(valid_service_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[cfg(windows)]
    fn settings() -> crate::config::Settings {
        crate::config::Settings::parse(
            "[fixes]\nenabled = true\nrestartable_services = [\"Spooler\", \"FirstlineNoSuchService\"]\n",
            std::path::Path::new("agent.toml"),
        )
        .expect("config")
    }

    #[cfg(windows)]
    fn request(pairs: &[(&str, &str)]) -> Result<Box<dyn Prepared>, String> {
        let parameters: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        super::super::prepare(
            NAME,
            parameters,
            &super::super::Authority::default(),
            &settings(),
        )
    }

    #[cfg(windows)]
    #[test]
    fn on_windows_only_listed_services_and_known_parameters_are_taken() {
        for (pairs, expected) in [
            (vec![("service", "RpcSs")], "not on this device's list"),
            (vec![("service", "cups; reboot")], "is not a service name"),
            (
                vec![("service", "Spooler"), ("command", "net stop")],
                "unknown parameter \"command\"",
            ),
            (vec![], "\"service\" is required"),
        ] {
            let error = request(&pairs)
                .err()
                .unwrap_or_else(|| panic!("{pairs:?} was accepted"));
            assert!(error.contains(expected), "{pairs:?}: {error:?}");
        }
    }

    /// A real round trip through Wine's (or Windows') Service Control Manager: the print
    /// spooler, stopped first so the fix has a fault to answer, comes back running.
    #[cfg(windows)]
    #[test]
    fn a_stopped_service_is_started_again_and_the_services_probe_sees_it_running() {
        let _spooler = crate::fixes::windows::tests::spooler_lock();
        let control = crate::fixes::windows::ServiceControl::open("Spooler").expect("Spooler");
        control.stop(Duration::from_secs(30)).expect("stopped");
        let mut fix = request(&[("service", "Spooler")]).expect("prepared");
        let before = fix.before().expect("before");
        assert!(before.contains("STOPPED"), "{before}");
        let changes = fix.apply().expect("applied");
        assert!(
            changes[0].action.contains("Service Control Manager"),
            "{changes:?}"
        );
        let verification = fix.verify();
        assert!(verification.passed, "{verification:?}");
        assert!(
            crate::probes::windows::services::state("Spooler")
                .expect("probe")
                .running()
        );
        // A service on the list that is not installed fails naming it; nothing else runs.
        let mut missing = request(&[("service", "FirstlineNoSuchService")]).expect("prepared");
        let error = missing.apply().expect_err("not installed");
        assert!(
            error.contains("FirstlineNoSuchService is not installed"),
            "{error}"
        );
    }
}
