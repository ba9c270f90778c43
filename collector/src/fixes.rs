//! Fixes, the collector's half: which fix answers which fault, the policy saying who may start
//! it (`[fixes]` and the admin API), and the pure rollout rules (canary first, stop
//! fleet-wide on failures, never retry in a loop). The store applies what `plan` decides.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who may start a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Runs when its fault is found (a condition fires, a report's diagnosis matches).
    Auto,
    /// Runs when a technician presses "Apply fix" on the ticket.
    Approve,
    /// Runs when the affected user confirms on their help page.
    AskUser,
    /// Never runs.
    Off,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Auto, Mode::Approve, Mode::AskUser, Mode::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Approve => "approve",
            Mode::AskUser => "ask-user",
            Mode::Off => "off",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

/// A fix agents know (the agent's `fixes::FIXES` names: a wire contract).
#[derive(Debug, PartialEq, Eq)]
pub struct FixInfo {
    pub name: &'static str,
    /// What it changes, in one sentence, for the ticket page.
    pub summary: &'static str,
    /// Runs only with the consent of the user it affects.
    pub needs_consent: bool,
    pub default_mode: Mode,
}

pub const CATALOG: [FixInfo; 7] = [
    FixInfo {
        name: "disk.cleanup",
        summary: "Frees disk space: old temporary files, the trash, browser caches, old crash dumps and package downloads, and the system journal beyond its size.",
        needs_consent: false,
        default_mode: Mode::Auto,
    },
    FixInfo {
        name: "dns.flush",
        summary: "Flushes the device's DNS cache (restarts its local resolver).",
        needs_consent: false,
        default_mode: Mode::Auto,
    },
    FixInfo {
        name: "service.restart",
        summary: "Restarts a stopped service that the device allows to be restarted.",
        needs_consent: false,
        default_mode: Mode::Approve,
    },
    FixInfo {
        name: "print.restart",
        summary: "Cancels print jobs stuck for too long and restarts the print service.",
        needs_consent: false,
        default_mode: Mode::Approve,
    },
    FixInfo {
        name: "clock.resync",
        summary: "Resynchronises the clock with the time service.",
        needs_consent: false,
        default_mode: Mode::Approve,
    },
    FixInfo {
        name: "network.renew",
        summary: "Brings a network link up again and renews its address, putting it back as it was if the collector cannot be reached afterwards.",
        needs_consent: false,
        default_mode: Mode::Approve,
    },
    FixInfo {
        name: "process.end",
        summary: "Ends one runaway program of the user who agreed to it.",
        needs_consent: true,
        default_mode: Mode::AskUser,
    },
];

pub fn info(name: &str) -> Option<&'static FixInfo> {
    CATALOG.iter().find(|fix| fix.name == name)
}

/// The names, for error messages.
pub fn names() -> String {
    CATALOG
        .iter()
        .map(|fix| fix.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The print services a `service.not_running` may name that `print.restart` answers.
const PRINT_SERVICES: [&str; 2] = ["cups", "cups.service"];

/// The fix answering a condition `(check, resource)`, with its parameters; none when no fix
/// compiled into agents answers it (or it needs what the condition does not say, like which
/// process to end).
pub fn for_condition(check: &str, resource: &str) -> Option<(&'static FixInfo, Parameters)> {
    let (name, parameters): (&str, &[(&str, &str)]) = match check {
        "disk.used_pct" => ("disk.cleanup", &[("mount", resource)]),
        "dns.resolve" => ("dns.flush", &[("name", resource)]),
        "service.not_running" if PRINT_SERVICES.contains(&resource) => ("print.restart", &[]),
        "service.not_running" => ("service.restart", &[("service", resource)]),
        "clock.skew_secs" => ("clock.resync", &[]),
        // Which link is the technician's to say (a missing gateway names none).
        "network.gateway_missing" => ("network.renew", &[]),
        _ => return None,
    };
    let parameters = parameters
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    info(name).map(|fix| (fix, parameters))
}

/// The fix answering a user's report by its diagnosis (the first failing layer and the
/// address the web playbook tested), with its parameters.
pub fn for_report(evidence_json: &str) -> Option<(&'static FixInfo, Parameters)> {
    let evidence: serde_json::Value = serde_json::from_str(evidence_json).ok()?;
    match evidence["failed_layer"].as_str()? {
        "dns" => {
            let host = crate::tickets::report_target_host(evidence_json)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            // An address needs no resolving; only a name can be flushed.
            if host.parse::<std::net::IpAddr>().is_ok() {
                return None;
            }
            info("dns.flush").map(|fix| {
                (
                    fix,
                    Parameters::from([("name".to_owned(), host.to_owned())]),
                )
            })
        }
        // The print service stopped, or jobs stuck in its queue (for longer than the
        // playbook's 10 minutes: the fix cancels exactly those).
        "service" | "queue" if evidence_mentions_printing(&evidence) => {
            info("print.restart").map(|fix| {
                (
                    fix,
                    Parameters::from([("stuck_minutes".to_owned(), "10".to_owned())]),
                )
            })
        }
        "clock" => info("clock.resync").map(|fix| (fix, Parameters::new())),
        _ => None,
    }
}

/// Whether a report's diagnosis ran the printing playbook (a "service" layer may be another
/// playbook's).
fn evidence_mentions_printing(evidence: &serde_json::Value) -> bool {
    evidence["playbooks"]
        .as_array()
        .is_some_and(|playbooks| playbooks.iter().any(|p| p["playbook"] == "printing"))
}

/// A fix's parameters as sent to the agent, which validates them again.
pub type Parameters = BTreeMap<String, String>;

/// The longest parameter value a technician may give (the agent's wire limit).
pub const MAX_PARAMETER_BYTES: usize = 256;

/// `[fixes]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixesFile {
    /// Per fix: auto, approve, ask-user or off.
    modes: BTreeMap<String, String>,
    /// Per site, per fix: the same, beating `modes` for that site's devices.
    sites: BTreeMap<String, BTreeMap<String, String>>,
    canary_devices: u32,
    stop_after_failures: u32,
    max_tries: u32,
    retry_after_mins: u32,
    request_ttl_mins: u32,
}

impl Default for FixesFile {
    fn default() -> Self {
        Self {
            modes: BTreeMap::new(),
            sites: BTreeMap::new(),
            canary_devices: 2,
            stop_after_failures: 3,
            max_tries: 2,
            retry_after_mins: 30,
            request_ttl_mins: 60,
        }
    }
}

/// Where a fix's mode came from, for the admin page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeSource {
    BuiltIn,
    ConfigFile,
    AdminApi,
}

/// A mode set through the admin API (the empty site is every site).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PolicyOverride {
    pub fix: String,
    pub site: String,
    pub mode: Mode,
    pub updated_by: String,
    pub updated_at_ms: i64,
}

/// The validated `[fixes]` policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FixPolicy {
    modes: BTreeMap<&'static str, Mode>,
    sites: BTreeMap<String, BTreeMap<&'static str, Mode>>,
    /// Devices of an incident that run a fix first; the rest wait until these verify.
    pub canary_devices: usize,
    /// Devices of one rollout not fixed (not verified, failed, refused) that stop it fleet-wide.
    pub stop_after_failures: usize,
    /// Requests one device gets for one rollout when a run fails to run (offline, busy); a
    /// fix that ran and did not help is never sent again.
    pub max_tries: u32,
    /// Before the second try; doubled before each further one.
    pub retry_after: Duration,
    /// A request not answered in this time expires.
    pub request_ttl: Duration,
}

impl Default for FixPolicy {
    fn default() -> Self {
        Self::from_file(FixesFile::default())
            .unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

impl FixPolicy {
    pub fn from_file(file: FixesFile) -> Result<Self, String> {
        let modes_of = |modes: BTreeMap<String, String>, at: &str| {
            modes
                .into_iter()
                .map(|(fix, mode)| {
                    let info = info(&fix).ok_or_else(|| {
                        format!("{at}: {fix:?} is not a fix (the fixes are {})", names())
                    })?;
                    let mode = Mode::parse(&mode).ok_or_else(|| {
                        format!("{at}.\"{fix}\" = {mode:?} must be auto, approve, ask-user or off")
                    })?;
                    if info.needs_consent && mode == Mode::Auto {
                        return Err(format!(
                            "{at}.\"{fix}\" cannot be auto: it runs only with the consent of the user it affects (ask-user or off)"
                        ));
                    }
                    Ok((info.name, mode))
                })
                .collect::<Result<BTreeMap<_, _>, String>>()
        };
        let mut modes: BTreeMap<&'static str, Mode> = CATALOG
            .iter()
            .map(|fix| (fix.name, fix.default_mode))
            .collect();
        modes.extend(modes_of(file.modes, "fixes.modes")?);
        let mut sites = BTreeMap::new();
        for (site, site_modes) in file.sites {
            let at = format!("fixes.sites.{site}");
            sites.insert(site, modes_of(site_modes, &at)?);
        }
        if !(1..=100).contains(&file.canary_devices) {
            return Err("fixes.canary_devices must be 1 to 100".to_owned());
        }
        if !(1..=10_000).contains(&file.stop_after_failures) {
            return Err("fixes.stop_after_failures must be 1 to 10000".to_owned());
        }
        if !(1..=5).contains(&file.max_tries) {
            return Err("fixes.max_tries must be 1 to 5".to_owned());
        }
        if !(1..=1440).contains(&file.retry_after_mins) {
            return Err("fixes.retry_after_mins must be 1 to 1440".to_owned());
        }
        if !(1..=10_080).contains(&file.request_ttl_mins) {
            return Err("fixes.request_ttl_mins must be 1 to 10080 (a week)".to_owned());
        }
        Ok(Self {
            modes,
            sites,
            canary_devices: file.canary_devices as usize,
            stop_after_failures: file.stop_after_failures as usize,
            max_tries: file.max_tries,
            retry_after: Duration::from_secs(u64::from(file.retry_after_mins) * 60),
            request_ttl: Duration::from_secs(u64::from(file.request_ttl_mins) * 60),
        })
    }

    /// The mode of `fix` for a device of `site` and where it came from: a site's mode beats
    /// the fleet's, and at the same level the admin API beats the config file.
    pub fn mode(&self, fix: &str, site: &str, overrides: &[PolicyOverride]) -> (Mode, ModeSource) {
        let admin = |at: &str| {
            overrides
                .iter()
                .find(|o| o.fix == fix && o.site == at)
                .map(|o| (o.mode, ModeSource::AdminApi))
        };
        let file_site = || {
            self.sites
                .get(site)
                .and_then(|modes| modes.get(fix))
                .map(|mode| (*mode, ModeSource::ConfigFile))
        };
        let file_fleet = || {
            let built_in = info(fix).map(|info| info.default_mode);
            self.modes.get(fix).map(|mode| {
                let source = if Some(*mode) == built_in && !self.written(fix) {
                    ModeSource::BuiltIn
                } else {
                    ModeSource::ConfigFile
                };
                (*mode, source)
            })
        };
        admin(site)
            .or_else(file_site)
            .or_else(|| admin(""))
            .or_else(file_fleet)
            .unwrap_or((Mode::Off, ModeSource::BuiltIn))
    }

    /// Whether the config file wrote a fleet-wide mode for `fix` (kept apart from the
    /// built-in default only to say where a mode came from).
    fn written(&self, fix: &str) -> bool {
        info(fix).is_some_and(|info| self.modes.get(fix) != Some(&info.default_mode))
    }

    /// The wait before try `next_try` (2, 3, …) of one device's run.
    pub fn retry_wait(&self, next_try: u32) -> Duration {
        let doublings = next_try.saturating_sub(2).min(10);
        self.retry_after.saturating_mul(1 << doublings)
    }
}

/// A device a rollout may run on, with the parameters for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub device_id: String,
    pub parameters: Parameters,
}

/// What is known of one device's runs in a rollout's current attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub device_id: String,
    pub canary: bool,
    pub try_number: u32,
    /// queued, sent, verified, not_verified, failed, refused, expired, cancelled.
    pub state: String,
    pub done_at_ms: Option<i64>,
}

impl RunView {
    fn waiting(&self) -> bool {
        matches!(self.state.as_str(), "queued" | "sent")
    }

    /// Ran and did not help, or was refused by the device: sending it again changes nothing.
    fn final_failure(&self) -> bool {
        matches!(self.state.as_str(), "not_verified" | "refused")
    }

    /// Did not get to run properly (the device was away or busy, the action failed): may be
    /// tried again.
    fn retryable(&self) -> bool {
        matches!(self.state.as_str(), "failed" | "expired")
    }
}

/// What a rollout does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Queue {
        target: Target,
        canary: bool,
        try_number: u32,
    },
    /// Every device ran it and the fault is gone.
    Done { devices: usize },
    /// Stop fleet-wide (cancel what waits), saying why; escalate when it ran somewhere and
    /// did not help (`tried`), not when devices only refused it (fixes off there, say).
    Stop { reason: String, tried: bool },
}

/// The next steps of a running rollout of one fix over `targets` (the devices still failing,
/// in a stable order; canaries are the first ones), given its runs so far.
///
/// One device: run; retry what did not get to run (capped, with backoff); done when
/// verified; stopped when it ran and did not help. Many devices: the first
/// `canary_devices` run first, the rest only when every canary verified; any canary not
/// fixed, or `stop_after_failures` devices not fixed, stops it fleet-wide, and so does any
/// device not fixed once every device was asked (a rollout is done only when all verified).
/// A device that stopped failing before its request could run is no longer waited for, nor
/// counted as a failure; a canary lost that way is replaced.
pub fn plan(targets: &[Target], runs: &[RunView], policy: &FixPolicy, now_ms: i64) -> Vec<Step> {
    let latest = |device_id: &str| {
        runs.iter()
            .filter(|run| run.device_id == device_id)
            .max_by_key(|run| run.try_number)
    };
    let is_target = |device_id: &str| targets.iter().any(|t| t.device_id == device_id);
    // Each device's latest run, less those whose device recovered before the fix could run
    // there (gone: neither waited for nor a failure).
    let ran: Vec<&RunView> = {
        let mut devices: Vec<&str> = runs.iter().map(|run| run.device_id.as_str()).collect();
        devices.sort_unstable();
        devices.dedup();
        devices
            .into_iter()
            .filter_map(latest)
            .filter(|run| !run.retryable() || is_target(&run.device_id))
            .collect()
    };
    let exhausted = |run: &RunView| run.retryable() && run.try_number >= policy.max_tries;
    let failures: Vec<&RunView> = ran
        .iter()
        .copied()
        .filter(|run| run.final_failure() || exhausted(run))
        .collect();
    let many = targets.len() > 1 || ran.len() > 1;
    let describe = |run: &RunView| match run.state.as_str() {
        "not_verified" => "ran, but the fault is still there",
        "refused" => "was refused by the device",
        "expired" => "got no answer from the device in time",
        _ => "could not run",
    };
    // Tried means it ran somewhere: not when devices only refused it or never answered.
    let tried = failures
        .iter()
        .any(|run| matches!(run.state.as_str(), "not_verified" | "failed"));
    if let Some(canary) = failures.iter().find(|run| run.canary && many) {
        return vec![Step::Stop {
            tried,
            reason: format!(
                "the canary device {} was not fixed (the fix {}); the other devices were not asked",
                canary.device_id,
                describe(canary)
            ),
        }];
    }
    if !many && let Some(run) = failures.first() {
        return vec![Step::Stop {
            tried,
            reason: format!("the fix {}", describe(run)),
        }];
    }
    if many && failures.len() >= policy.stop_after_failures {
        return vec![Step::Stop {
            tried,
            reason: format!(
                "{} devices were not fixed (stop after {}); stopped fleet-wide",
                failures.len(),
                policy.stop_after_failures
            ),
        }];
    }

    let mut steps = Vec::new();
    // Retries of runs that did not get to run, after their backoff.
    for run in &ran {
        if run.retryable() && !exhausted(run) {
            let next_try = run.try_number + 1;
            let wait_ms =
                i64::try_from(policy.retry_wait(next_try).as_millis()).unwrap_or(i64::MAX);
            if run
                .done_at_ms
                .is_some_and(|done| now_ms >= done.saturating_add(wait_ms))
                && let Some(target) = targets.iter().find(|t| t.device_id == run.device_id)
            {
                steps.push(Step::Queue {
                    target: target.clone(),
                    canary: run.canary,
                    try_number: next_try,
                });
            }
        }
    }
    let asked = |device_id: &str| ran.iter().any(|run| run.device_id == device_id);
    let canaries_asked = ran.iter().filter(|run| run.canary).count();
    let canaries_verified = ran
        .iter()
        .filter(|run| run.canary && run.state == "verified")
        .count();
    if !many {
        if let Some(target) = targets.first().filter(|t| !asked(&t.device_id)) {
            steps.push(Step::Queue {
                target: target.clone(),
                canary: false,
                try_number: 1,
            });
        }
    } else if canaries_asked < policy.canary_devices && targets.iter().any(|t| !asked(&t.device_id))
    {
        // The first canaries, or new ones for those that recovered before the fix ran.
        for target in targets
            .iter()
            .filter(|t| !asked(&t.device_id))
            .take(policy.canary_devices - canaries_asked)
        {
            steps.push(Step::Queue {
                target: target.clone(),
                canary: true,
                try_number: 1,
            });
        }
    } else if canaries_verified == canaries_asked {
        // The canaries verified: everyone else still failing, once.
        for target in targets.iter().filter(|t| !asked(&t.device_id)) {
            steps.push(Step::Queue {
                target: target.clone(),
                canary: false,
                try_number: 1,
            });
        }
    }
    let waiting = ran
        .iter()
        .any(|run| run.waiting() || (run.retryable() && !exhausted(run)));
    let unasked = targets.iter().any(|t| !asked(&t.device_id));
    if steps.is_empty() && !waiting && !unasked {
        let verified = ran.iter().filter(|run| run.state == "verified").count();
        steps.push(if !failures.is_empty() {
            Step::Stop {
                tried,
                reason: format!("{} of {} devices were not fixed", failures.len(), ran.len()),
            }
        } else if verified > 0 {
            Step::Done { devices: verified }
        } else {
            Step::Stop {
                tried: false,
                reason: "no device needs it any more (the fault cleared before it ran)".to_owned(),
            }
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| Target {
                device_id: format!("d{i}"),
                parameters: Parameters::from([(
                    "name".to_owned(),
                    "intranet.example.com".to_owned(),
                )]),
            })
            .collect()
    }

    fn run(device: &str, canary: bool, try_number: u32, state: &str) -> RunView {
        RunView {
            device_id: device.to_owned(),
            canary,
            try_number,
            state: state.to_owned(),
            done_at_ms: (!matches!(state, "queued" | "sent")).then_some(1_000),
        }
    }

    fn summary(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|step| match step {
                Step::Queue {
                    target,
                    canary,
                    try_number,
                } => format!(
                    "queue {} canary={canary} try={try_number}",
                    target.device_id
                ),
                Step::Done { devices } => format!("done {devices}"),
                Step::Stop { reason, tried } => {
                    format!("stop{}: {reason}", if *tried { "" } else { " untried" })
                }
            })
            .collect()
    }

    #[test]
    fn rollouts_run_canaries_first_stop_on_failures_and_never_loop() {
        let policy = FixPolicy::default();
        let hour = 3_600_000;
        type Case<'a> = (&'a str, usize, Vec<RunView>, i64, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (
                "one device: run it",
                1,
                vec![],
                0,
                vec!["queue d0 canary=false try=1"],
            ),
            (
                "one device: waiting",
                1,
                vec![run("d0", false, 1, "sent")],
                0,
                vec![],
            ),
            (
                "one device: verified",
                1,
                vec![run("d0", false, 1, "verified")],
                0,
                vec!["done 1"],
            ),
            (
                "one device: did not help, never again",
                1,
                vec![run("d0", false, 1, "not_verified")],
                10 * hour,
                vec!["stop: the fix ran, but the fault is still there"],
            ),
            (
                "one device: refused",
                1,
                vec![run("d0", false, 1, "refused")],
                0,
                vec!["stop untried: the fix was refused by the device"],
            ),
            (
                "one device: failed, before the backoff",
                1,
                vec![run("d0", false, 1, "failed")],
                1_000,
                vec![],
            ),
            (
                "one device: failed, after the backoff",
                1,
                vec![run("d0", false, 1, "failed")],
                1_000 + hour / 2,
                vec!["queue d0 canary=false try=2"],
            ),
            (
                "one device: failed as often as it may",
                1,
                vec![
                    run("d0", false, 1, "expired"),
                    run("d0", false, 2, "failed"),
                ],
                10 * hour,
                vec!["stop: the fix could not run"],
            ),
            (
                "incident: canaries first",
                10,
                vec![],
                0,
                vec!["queue d0 canary=true try=1", "queue d1 canary=true try=1"],
            ),
            (
                "incident: one canary still out",
                10,
                vec![run("d0", true, 1, "verified"), run("d1", true, 1, "sent")],
                0,
                vec![],
            ),
            (
                "incident: a failing canary stops the rest",
                10,
                vec![
                    run("d0", true, 1, "verified"),
                    run("d1", true, 1, "not_verified"),
                ],
                0,
                vec![
                    "stop: the canary device d1 was not fixed (the fix ran, but the fault is still there); the other devices were not asked",
                ],
            ),
            (
                "incident: canaries verified, the rest go",
                4,
                vec![
                    run("d0", true, 1, "verified"),
                    run("d1", true, 1, "verified"),
                ],
                0,
                vec!["queue d2 canary=false try=1", "queue d3 canary=false try=1"],
            ),
            (
                "incident: too many not fixed",
                10,
                vec![
                    run("d0", true, 1, "verified"),
                    run("d1", true, 1, "verified"),
                    run("d2", false, 1, "not_verified"),
                    run("d3", false, 1, "refused"),
                    run("d4", false, 1, "not_verified"),
                    run("d5", false, 1, "sent"),
                ],
                0,
                vec!["stop: 3 devices were not fixed (stop after 3); stopped fleet-wide"],
            ),
            (
                "incident: a canary gone quiet recovered by itself: a new canary",
                10,
                vec![
                    run("d00x", true, 1, "expired"),
                    run("d0", true, 1, "verified"),
                ],
                0,
                vec!["queue d1 canary=true try=1"],
            ),
            (
                "incident: all asked, two not fixed under the threshold: not done",
                0,
                vec![
                    run("d0", true, 1, "verified"),
                    run("d1", true, 1, "verified"),
                    run("d2", false, 1, "verified"),
                    run("d3", false, 1, "not_verified"),
                ],
                0,
                vec!["stop: 1 of 4 devices were not fixed"],
            ),
            (
                "one device: recovered before its retry",
                0,
                vec![run("d0", false, 1, "expired")],
                0,
                vec!["stop untried: no device needs it any more (the fault cleared before it ran)"],
            ),
            (
                "one device: never answered, as often as it may: not tried",
                1,
                vec![
                    run("d0", false, 1, "expired"),
                    run("d0", false, 2, "expired"),
                ],
                0,
                vec!["stop untried: the fix got no answer from the device in time"],
            ),
            (
                "incident: every device ran it",
                // Devices that recovered are no longer targets.
                0,
                vec![
                    run("d0", true, 1, "verified"),
                    run("d1", true, 1, "verified"),
                    run("d2", false, 1, "verified"),
                ],
                0,
                vec!["done 3"],
            ),
        ];
        for (name, devices, runs, now_ms, expected) in cases {
            let steps = plan(&targets(devices), &runs, &policy, now_ms);
            assert_eq!(summary(&steps), expected, "{name}");
        }
    }

    #[test]
    fn modes_come_from_the_site_then_the_fleet_and_the_admin_api_beats_the_file() {
        let file: FixesFile = toml::from_str(
            "modes = { \"service.restart\" = \"auto\" }\n[sites.warsaw]\n\"dns.flush\" = \"off\"\n",
        )
        .expect("parses");
        let policy = FixPolicy::from_file(file).expect("valid");
        let admin = |fix: &str, site: &str, mode: Mode| PolicyOverride {
            fix: fix.to_owned(),
            site: site.to_owned(),
            mode,
            updated_by: "admin".to_owned(),
            updated_at_ms: 0,
        };
        assert_eq!(
            policy.mode("disk.cleanup", "hq", &[]),
            (Mode::Auto, ModeSource::BuiltIn)
        );
        assert_eq!(
            policy.mode("print.restart", "hq", &[]),
            (Mode::Approve, ModeSource::BuiltIn)
        );
        assert_eq!(
            policy.mode("service.restart", "hq", &[]),
            (Mode::Auto, ModeSource::ConfigFile)
        );
        assert_eq!(
            policy.mode("dns.flush", "warsaw", &[]),
            (Mode::Off, ModeSource::ConfigFile)
        );
        assert_eq!(
            policy.mode("dns.flush", "hq", &[]),
            (Mode::Auto, ModeSource::BuiltIn)
        );
        let overrides = [
            admin("dns.flush", "", Mode::Approve),
            admin("dns.flush", "warsaw", Mode::Auto),
        ];
        assert_eq!(
            policy.mode("dns.flush", "hq", &overrides),
            (Mode::Approve, ModeSource::AdminApi)
        );
        assert_eq!(
            policy.mode("dns.flush", "warsaw", &overrides),
            (Mode::Auto, ModeSource::AdminApi)
        );
        // The file's site mode beats the API's fleet-wide one.
        assert_eq!(
            policy.mode("dns.flush", "warsaw", &overrides[..1]),
            (Mode::Off, ModeSource::ConfigFile)
        );
    }

    #[test]
    fn a_bad_fixes_section_is_refused_naming_the_key() {
        for (text, expected) in [
            (
                "modes = { \"disk.wipe\" = \"auto\" }",
                "fixes.modes: \"disk.wipe\" is not a fix",
            ),
            (
                "modes = { \"dns.flush\" = \"sometimes\" }",
                "fixes.modes.\"dns.flush\" = \"sometimes\" must be",
            ),
            (
                "modes = { \"process.end\" = \"auto\" }",
                "cannot be auto: it runs only with the consent",
            ),
            (
                "[sites.hq]\n\"x\" = \"off\"",
                "fixes.sites.hq: \"x\" is not a fix",
            ),
            (
                "canary_devices = 0",
                "fixes.canary_devices must be 1 to 100",
            ),
        ] {
            let file: FixesFile = toml::from_str(text).expect("parses");
            let error = FixPolicy::from_file(file).expect_err("refused");
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn every_fix_tells_the_user_what_it_does_in_their_words() {
        // The help page offers a fix by `help-fix-what-NAME` (dots as dashes); the catalogs'
        // own test keeps every language complete once English has it.
        for fix in &CATALOG {
            let id = format!("help-fix-what-{}", fix.name.replace('.', "-"));
            assert!(
                firstline_i18n::exists(&id),
                "{id} is missing from the catalogs"
            );
        }
    }

    #[test]
    fn conditions_and_reports_find_their_fix_with_its_parameters() {
        let name = |found: Option<(&FixInfo, Parameters)>| {
            found.map(|(fix, parameters)| format!("{} {parameters:?}", fix.name))
        };
        assert_eq!(
            name(for_condition("disk.used_pct", "/home")).expect("a fix"),
            "disk.cleanup {\"mount\": \"/home\"}"
        );
        assert_eq!(
            name(for_condition("service.not_running", "cups")).expect("a fix"),
            "print.restart {}"
        );
        assert_eq!(
            name(for_condition("service.not_running", "sshd")).expect("a fix"),
            "service.restart {\"service\": \"sshd\"}"
        );
        assert_eq!(name(for_condition("cpu.usage_pct", "total")), None);
        let report = r#"{"failed_layer":"dns","playbooks":[{"playbook":"web","target":"https://Intranet.example.com/x"}]}"#;
        assert_eq!(
            name(for_report(report)).expect("a fix"),
            "dns.flush {\"name\": \"intranet.example.com\"}"
        );
        let by_address = r#"{"failed_layer":"dns","playbooks":[{"playbook":"web","target":"http://192.0.2.7/"}]}"#;
        assert_eq!(name(for_report(by_address)), None);
        assert_eq!(name(for_report(r#"{"failed_layer":"tls"}"#)), None);
        let stuck = r#"{"failed_layer":"queue","playbooks":[{"playbook":"printing"}]}"#;
        assert_eq!(
            name(for_report(stuck)).expect("a fix"),
            "print.restart {\"stuck_minutes\": \"10\"}"
        );
        // A printer that does not answer is not the print service's fault.
        assert_eq!(
            name(for_report(
                r#"{"failed_layer":"printer","playbooks":[{"playbook":"printing"}]}"#
            )),
            None
        );
        for fix in &CATALOG {
            assert!(
                fix.needs_consent == (fix.default_mode == Mode::AskUser),
                "{}",
                fix.name
            );
        }
    }
}
