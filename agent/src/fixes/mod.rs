//! Fixes: named remediations compiled into the agent (issue 20). The collector can only ask for
//! a fix by name, with parameters this module validates against the agent's own config; there is
//! no shell and no command the request can name. Each fix is one file: what it changes (one
//! sentence), the checks it answers, its parameters, the action, and its verification — the
//! probe that found the fault, run again — so a fix reports "verified" only when the fault is gone.
//!
//! A run is `validate` (refuse with a reason naming the input, nothing run) → `apply` (what
//! changed, before and after) → `verify`. Runs per fix and day are capped on the device itself,
//! remembered in the state dir across restarts.

pub mod clock_resync;
pub mod disk_cleanup;
pub mod dns_flush;
pub mod limits;
pub mod network_renew;
pub mod print_restart;
pub mod process_end;
pub mod run;
pub mod service_restart;
#[cfg(windows)]
pub mod windows;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Settings;

/// What a fix is, as data: the collector's policy and the staff UI are about these.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FixSpec {
    /// The name a request uses, e.g. "disk.cleanup".
    pub name: &'static str,
    /// What it changes, in one sentence (staff English).
    pub summary: &'static str,
    /// The checks (or playbook failures) whose fault it answers.
    pub answers: &'static [&'static str],
    /// Runs per device per day, successful or not.
    pub max_runs_per_day: u32,
    /// Only with the consent of the user it affects (given on their help page).
    pub needs_consent: bool,
    /// How it is undone, when it can be.
    pub undo: Option<&'static str>,
    /// Where it is built (`std::env::consts::OS` names); a request anywhere else is refused.
    pub platforms: &'static [&'static str],
    /// For a platform it is not built on, what it still needs there: the refusal says it.
    pub not_built: &'static [(&'static str, &'static str)],
}

/// Every fix, by name. A request for any other name is refused.
pub const FIXES: &[FixSpec] = &[
    disk_cleanup::SPEC,
    service_restart::SPEC,
    dns_flush::SPEC,
    print_restart::SPEC,
    clock_resync::SPEC,
    process_end::SPEC,
    network_renew::SPEC,
];

pub fn spec(name: &str) -> Option<&'static FixSpec> {
    FIXES.iter().find(|spec| spec.name == name)
}

/// The fixes section of the agent's config: what the device allows, which no request can widen.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixesConfig {
    /// Fixes may run at all on this device. Off by default until the collector's side (policy,
    /// approval, canary) exists. (`disk.cleanup` now walks folders by descriptor, never through
    /// a user's link: `disk_cleanup::walk`.)
    pub enabled: bool,
    /// Services `service.restart` may restart (systemd unit names, Windows service names).
    pub restartable_services: Vec<String>,
    /// Folders `disk.cleanup` may also empty of old files, besides the platform's temp folders
    /// (e.g. an application's scratch folder). Absolute paths.
    pub extra_temp_dirs: Vec<std::path::PathBuf>,
    /// Longest one fix may take before it is stopped and reported failed.
    #[serde(deserialize_with = "crate::checks::threshold::duration")]
    pub run_limit: Duration,
}

impl Default for FixesConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            restartable_services: ["cups", "cups.service", "Spooler", "systemd-resolved"]
                .map(str::to_owned)
                .to_vec(),
            extra_temp_dirs: Vec::new(),
            run_limit: Duration::from_secs(120),
        }
    }
}

impl FixesConfig {
    pub fn validate(&self) -> Result<(), String> {
        for dir in &self.extra_temp_dirs {
            if !dir.is_absolute() {
                return Err(format!(
                    "extra_temp_dirs: {} is not an absolute path",
                    dir.display()
                ));
            }
            if dir.parent().is_none() {
                return Err(format!(
                    "extra_temp_dirs: {} is a whole file system; name a folder",
                    dir.display()
                ));
            }
        }
        for service in &self.restartable_services {
            service_restart::valid_service_name(service)
                .map_err(|e| format!("restartable_services: {e}"))?;
        }
        if self.run_limit < Duration::from_secs(5) || self.run_limit > Duration::from_secs(1800) {
            return Err(format!(
                "run_limit: {:?} is outside 5 s to 30 min",
                self.run_limit
            ));
        }
        Ok(())
    }
}

/// A request's parameters, read strictly: unknown keys, missing ones and values out of range
/// are refused with the key and the value.
#[derive(Debug, Clone, Default)]
pub struct Parameters {
    values: BTreeMap<String, String>,
    known: Vec<&'static str>,
}

impl Parameters {
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self {
            values,
            known: Vec::new(),
        }
    }

    pub fn text(&mut self, key: &'static str) -> Option<String> {
        self.known.push(key);
        self.values.get(key).cloned()
    }

    pub fn required(&mut self, key: &'static str) -> Result<String, String> {
        self.text(key)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("parameter {key:?} is required"))
    }

    pub fn number(
        &mut self,
        key: &'static str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, String> {
        let Some(text) = self.text(key) else {
            return Ok(default);
        };
        let value: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("parameter {key:?} must be a whole number; got {text:.40?}"))?;
        if !range.contains(&value) {
            return Err(format!(
                "parameter {key:?} must be {} to {}; got {value}",
                range.start(),
                range.end()
            ));
        }
        Ok(value)
    }

    /// Refuses keys no one asked for: a typo must not silently fall back to a default.
    pub fn finish(self) -> Result<(), String> {
        match self
            .values
            .keys()
            .find(|key| !self.known.contains(&key.as_str()))
        {
            Some(key) => Err(format!(
                "unknown parameter {key:.40?} (this fix takes {})",
                if self.known.is_empty() {
                    "none".to_owned()
                } else {
                    self.known.join(", ")
                }
            )),
            None => Ok(()),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied, and the probe that found the fault no longer finds it.
    Verified,
    /// Applied, but the fault is still there.
    NotVerified,
    /// The action itself failed (nothing, or only part, changed).
    Failed,
    /// Not run: unknown fix, bad parameters, over its daily runs, not allowed here.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::NotVerified => "not_verified",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// One thing a fix changed, with its size where it has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What was acted on: a folder, a service, a job.
    pub target: String,
    /// What was done, in staff English ("removed 112 files older than 7 days").
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_freed: Option<u64>,
    /// Why part of it could not be done, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The verification: the fault's probe run again, before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub passed: bool,
    /// "Disk /var/tmp is 61% full (clears at 85%)".
    pub detail: String,
}

impl Verification {
    /// The probe looked again: `passed` and what it saw, or why it could not look (which is
    /// not a pass).
    pub fn from_look(look: Result<(bool, String), String>) -> Self {
        match look {
            Ok((passed, detail)) => Self { passed, detail },
            Err(error) => Self {
                passed: false,
                detail: format!("could not look again: {error}"),
            },
        }
    }
}

/// What a run sends back: the collector puts it on the ticket's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct FixReport {
    pub fix: String,
    pub outcome: Outcome,
    /// The fault as the probe saw it before anything changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Why it was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

impl FixReport {
    pub fn refused(fix: &str, error: String) -> Self {
        Self {
            fix: fix.to_owned(),
            outcome: Outcome::Refused,
            before: None,
            changes: Vec::new(),
            verification: None,
            error: Some(error),
            elapsed_ms: 0,
        }
    }

    pub fn bytes_freed(&self) -> u64 {
        self.changes.iter().filter_map(|c| c.bytes_freed).sum()
    }
}

/// A fix whose parameters were validated: ready to run.
pub trait Prepared: Send {
    /// The fault as its probe sees it now (the "before" evidence); an error means the probe
    /// could not look, which does not stop the fix.
    fn before(&mut self) -> Result<String, String>;
    /// Makes the change. An `Err` means nothing useful changed; partial failures are in the
    /// changes' `error`s.
    fn apply(&mut self) -> Result<Vec<Change>, String>;
    /// Runs the fault's probe again.
    fn verify(&mut self) -> Verification;
}

/// Who the request says allowed it, and for `needs_consent` fixes the account that consented.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authority {
    pub allowed_by: String,
    pub consent_account: Option<String>,
}

/// The refusal of a fix on a platform it is not built for, saying what it still needs there.
pub fn not_built_here(spec: &FixSpec, os: &str) -> String {
    match spec.not_built.iter().find(|(platform, _)| *platform == os) {
        Some((_, needs)) => format!("{} is not built for {os} yet: {needs}", spec.name),
        None => format!("{} is not built for {os} yet", spec.name),
    }
}

/// Validates a request into a runnable fix, or refuses it saying why. Nothing runs here.
pub fn prepare(
    name: &str,
    parameters: BTreeMap<String, String>,
    authority: &Authority,
    settings: &Settings,
) -> Result<Box<dyn Prepared>, String> {
    let config = &settings.fixes;
    if !config.enabled {
        return Err("fixes are turned off on this device ([fixes] enabled = false)".to_owned());
    }
    let Some(spec) = spec(name) else {
        return Err(format!(
            "unknown fix {name:.40?} (this agent has {})",
            FIXES
                .iter()
                .map(|spec| spec.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if !spec.platforms.contains(&std::env::consts::OS) {
        return Err(not_built_here(spec, std::env::consts::OS));
    }
    if spec.needs_consent
        && authority
            .consent_account
            .as_deref()
            .unwrap_or("")
            .is_empty()
    {
        return Err(format!(
            "fix {} needs the consent of the user it affects, and the request carries none",
            spec.name
        ));
    }
    let mut parameters = Parameters::new(parameters);
    let prepared: Box<dyn Prepared> = match spec.name {
        disk_cleanup::NAME => Box::new(disk_cleanup::prepare(&mut parameters, settings)?),
        service_restart::NAME => Box::new(service_restart::prepare(&mut parameters, config)?),
        dns_flush::NAME => Box::new(dns_flush::prepare(&mut parameters, settings)?),
        print_restart::NAME => Box::new(print_restart::prepare(&mut parameters, config)?),
        clock_resync::NAME => Box::new(clock_resync::prepare(&mut parameters, settings)?),
        process_end::NAME => Box::new(process_end::prepare(&mut parameters, authority)?),
        network_renew::NAME => Box::new(network_renew::prepare(&mut parameters, settings)?),
        other => return Err(format!("fix {other} has no implementation")),
    };
    parameters.finish()?;
    Ok(prepared)
}

// Linux only: the fixes are built for Linux, and the config tests use Linux paths.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn parameters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_fix_is_described_and_named_once() {
        let mut names = std::collections::HashSet::new();
        for spec in FIXES {
            assert!(names.insert(spec.name), "{} twice", spec.name);
            assert!(spec.summary.ends_with('.'), "{}: one sentence", spec.name);
            assert!(!spec.answers.is_empty(), "{}: answers nothing", spec.name);
            assert!(spec.max_runs_per_day > 0, "{}", spec.name);
        }
    }

    #[test]
    fn requests_are_refused_naming_what_is_wrong_and_nothing_runs() {
        let settings = Settings::parse(
            "[fixes]\nenabled = true\n",
            std::path::Path::new("agent.toml"),
        )
        .expect("config");
        let authority = Authority {
            allowed_by: "technician:alice".to_owned(),
            consent_account: None,
        };
        for (name, pairs, expected) in [
            ("rm.rf", vec![], "unknown fix \"rm.rf\""),
            (
                "service.restart",
                vec![("service", "sshd")],
                "not on this device's list",
            ),
            (
                "service.restart",
                vec![("service", "cups"), ("command", "reboot")],
                "unknown parameter \"command\"",
            ),
            (
                "disk.cleanup",
                vec![("mount", "/"), ("older_than_days", "0")],
                "must be 1 to 90; got 0",
            ),
            (
                "disk.cleanup",
                vec![("mount", "/"), ("older_than_days", "seven")],
                "must be a whole number",
            ),
            ("disk.cleanup", vec![], "\"mount\" is required"),
            (
                "process.end",
                vec![("pid", "1")],
                "needs the consent of the user",
            ),
        ] {
            let error = prepare(name, parameters(&pairs), &authority, &settings)
                .err()
                .unwrap_or_else(|| panic!("{name} {pairs:?} was accepted"));
            assert!(
                error.contains(expected),
                "{name} {pairs:?}: {error:?} should say {expected:?}"
            );
        }
    }

    #[test]
    fn fixes_are_off_unless_the_device_turns_them_on() {
        let settings = Settings::parse("", std::path::Path::new("agent.toml")).expect("defaults");
        let error = prepare(
            "dns.flush",
            BTreeMap::new(),
            &Authority::default(),
            &settings,
        )
        .err()
        .expect("refused");
        assert!(error.contains("turned off"), "{error}");
    }

    #[test]
    fn the_config_refuses_relative_folders_and_bad_service_names() {
        for (text, expected) in [
            (
                "[fixes]\nextra_temp_dirs = [\"scratch\"]\n",
                "not an absolute path",
            ),
            ("[fixes]\nextra_temp_dirs = [\"/\"]\n", "whole file system"),
            (
                "[fixes]\nrestartable_services = [\"cups; reboot\"]\n",
                "restartable_services",
            ),
        ] {
            let error = Settings::parse(text, std::path::Path::new("agent.toml"))
                .err()
                .unwrap_or_else(|| panic!("{text} accepted"))
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}

/// The refusals where a fix is not built: what each still needs, said before anything runs.
#[cfg(test)]
mod not_built_tests {
    use super::*;

    #[test]
    fn a_fix_not_built_for_a_platform_says_what_it_still_needs_there() {
        for spec in FIXES {
            for (os, needs) in spec.not_built {
                assert!(
                    !spec.platforms.contains(os),
                    "{}: built for {os} and not built there",
                    spec.name
                );
                assert!(!needs.is_empty(), "{} on {os}", spec.name);
            }
        }
        let refusal = not_built_here(&disk_cleanup::SPEC, "windows");
        assert!(
            refusal.starts_with("disk.cleanup is not built for windows yet: it needs a handle-based walk that never follows reparse points"),
            "{refusal}"
        );
        let refusal = not_built_here(&process_end::SPEC, "windows");
        assert!(refusal.contains("TerminateProcess"), "{refusal}");
        assert_eq!(
            not_built_here(&disk_cleanup::SPEC, "freebsd"),
            "disk.cleanup is not built for freebsd yet"
        );
    }

    #[cfg(windows)]
    #[test]
    fn on_windows_the_fixes_not_built_there_are_refused_before_anything_runs() {
        let settings = Settings::parse(
            "[fixes]\nenabled = true\n",
            std::path::Path::new("agent.toml"),
        )
        .expect("config");
        let authority = Authority {
            allowed_by: "technician:alice".to_owned(),
            consent_account: Some("alice".to_owned()),
        };
        for (name, pairs, expected) in [
            (
                "disk.cleanup",
                vec![("mount", r"C:\")],
                "disk.cleanup is not built for windows yet: it needs a handle-based walk",
            ),
            (
                "process.end",
                vec![("pid", "4"), ("name", "explorer.exe")],
                "process.end is not built for windows yet: it needs the process held by its handle",
            ),
        ] {
            let parameters = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let error = prepare(name, parameters, &authority, &settings)
                .err()
                .unwrap_or_else(|| panic!("{name} was accepted on Windows"));
            assert!(error.starts_with(expected), "{name}: {error}");
        }
    }
}
