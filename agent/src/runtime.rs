//! The agent's foreground loop (`firstline-agent run`): checks on their schedules, the tracker
//! turning observations into findings, the outbox holding them, the uplink delivering them, and
//! the config file watched for edits.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::Watcher;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use crate::checks::rule::{ConditionKey, Phase};
use crate::checks::{self, Check, ChecksFile, Observation, Shared, Tracker};
use crate::config::Settings;
use crate::finding::Finding;
use crate::identity::Identity;
use crate::outbox::{OUTBOX_FILE, Outbox, OutboxError};
use crate::uplink::{self, UplinkContext, UplinkState, stopped};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("{0}")]
    Checks(String),
    #[error("the uplink to the collector stopped unexpectedly")]
    Uplink,
}

/// One run of one check, from one generation of the config.
struct CheckRun {
    generation: u64,
    names: &'static [&'static str],
    reports_every_resource: bool,
    outcome: Result<Vec<Observation>, String>,
    /// Done once the run's decisions are in the outbox.
    checkpoint: Option<checks::Checkpoint>,
}

/// What the tracker decided: findings to queue and condition states to remember, written
/// to the outbox together.
#[derive(Default)]
struct Decisions {
    findings: Vec<Finding>,
    conditions: Vec<(String, Option<Vec<u8>>)>,
}

impl Decisions {
    fn is_empty(&self) -> bool {
        self.findings.is_empty() && self.conditions.is_empty()
    }
}

/// Runs the agent until `stop` turns true. `config_path` is watched for edits; a valid edit
/// replaces the checks, an invalid one is reported and the previous checks keep running.
pub async fn run(
    config_path: Option<PathBuf>,
    mut settings: Settings,
    identity: Identity,
    mut stop: watch::Receiver<bool>,
    state: watch::Sender<UplinkState>,
) -> Result<(), RunError> {
    // The identity's folder is where this agent lives (its report socket too).
    settings.state_dir.clone_from(&identity.state_dir);
    // The fleet config kept from the collector's last push runs from the start, offline too.
    let mut pushed = crate::fleet::load(&identity.state_dir);
    let mut fleet_status = crate::fleet::Status::default();
    if let Some(kept) = &pushed {
        match crate::fleet::effective(config_path.as_deref(), Some(kept)) {
            Ok(mut layered) => {
                layered.state_dir.clone_from(&identity.state_dir);
                settings = layered;
                fleet_status.version.clone_from(&kept.version);
                tracing::info!(version = %kept.version, "running the kept fleet config");
            }
            Err(e) => {
                tracing::warn!(version = %kept.version, error = %e, "the kept fleet config does not apply; running the local config alone");
                fleet_status.refused_version.clone_from(&kept.version);
                fleet_status.error = e;
                pushed = None;
            }
        }
    }
    let (fleet_status_sender, fleet_status_receiver) = watch::channel(fleet_status);
    let (site_sender, site_receiver) = watch::channel(settings.uplink.site.clone());
    let (live_sender, live) = watch::channel(settings.clone());
    let (fleet_pushes, mut pushes) = mpsc::channel::<crate::fleet::Pushed>(4);
    // A damaged outbox is salvaged by this very program, run as a child process: see
    // `outbox::salvage`.
    let outbox = Arc::new(Outbox::open_salvaging(
        &identity.state_dir.join(OUTBOX_FILE),
        settings.outbox_max_bytes,
        std::env::current_exe().ok(),
    )?);
    // Acks kept from before a re-enrollment belong to another device id: see `bind_acks_to`.
    outbox.bind_acks_to(identity.device_id());
    let shared = Arc::new(Shared::default());
    let evicted_before = outbox.stats()?.evicted_total;
    shared.update(|facts| {
        facts.collector_url = Some(identity.enrollment.collector_url.clone());
        facts.outbox_evicted_total = evicted_before;
        facts.outbox_health = outbox.health();
        facts.state_dir = Some(identity.state_dir.clone());
    });
    let queued = Arc::new(Notify::new());
    let mut tracker = Tracker::with_open_conditions(load_conditions(&outbox)?, monotonic_ms());

    // `firstline-agent report` and `help` reach this agent over a local socket; reports from
    // the help page (through the collector) are diagnosed and counted the same way.
    let user_reports = Arc::new(
        crate::report::Reports::new(
            settings.clone(),
            shared.clone(),
            outbox.clone(),
            queued.clone(),
        )
        .following(live.clone()),
    );
    let help_links = crate::help::HelpLinks::default();
    let reports = tokio::spawn(
        crate::report::Listener {
            settings: settings.clone(),
            reports: user_reports.clone(),
            help_links: help_links.clone(),
        }
        .serve(stop.clone()),
    );
    let uplink_context = UplinkContext {
        outbox: outbox.clone(),
        queued: queued.clone(),
        shared: shared.clone(),
        fixer: Some(Arc::new(
            crate::uplink::fix::Fixer::new(settings.clone()).following(live.clone()),
        )),
        reproducer: Some(Arc::new(
            crate::uplink::reproduce::Reproducer::new(settings.clone(), shared.clone())
                .with_reports(user_reports)
                .following(live.clone()),
        )),
        help_links: Some(help_links),
        notifier: crate::notify::NotifierSettings::for_this_program()
            .inspect_err(|e| tracing::warn!(error = %e, "finding this program's path: notices will not be shown"))
            .ok()
            .map(crate::notify::Notifier::new),
        fleet: Some(uplink::FleetLink {
            pushes: fleet_pushes,
            status: fleet_status_receiver,
            site: site_receiver,
        }),
    };
    let identity_state_dir = identity.state_dir.clone();
    let mut uplink_done = false;
    let mut uplink = tokio::spawn(uplink::run(
        identity,
        settings.uplink.clone(),
        uplink_context,
        stop.clone(),
        state,
    ));

    let (runs, mut results) = mpsc::channel::<CheckRun>(64);
    let mut generation = 0;
    let checks = checks::build_all(&settings.checks).map_err(RunError::Checks)?;
    // Checks switched off while the agent was down take their open conditions along.
    let retired = retire_removed(&mut tracker, &checks);
    commit(&outbox, &shared, &queued, retired)?;
    let mut scheduled = schedule(checks, generation, &runs, &shared, &tracker);
    let (config_changes, mut config_changed) = mpsc::unbounded_channel::<()>();
    let _config_watch = config_path
        .as_deref()
        .and_then(|path| watch_config(path, config_changes.clone()));
    // File notifications do not reach every file system (network shares, some containers):
    // also look at the file's size and time now and then.
    let mut config_stamp = config_path.as_deref().and_then(file_stamp);
    let mut config_poll = tokio::time::interval(CONFIG_POLL);
    config_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // While the state dir cannot be written the outbox holds in memory; this is when it
    // tries again, and when its health reaches the self-health check.
    let mut outbox_poll = tokio::time::interval(OUTBOX_POLL);
    outbox_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            Some(run) = results.recv() => {
                // Results of checks replaced by a reload describe a config that is gone.
                if run.generation != generation {
                    continue;
                }
                let mut run = run;
                let checkpoint = run.checkpoint.take();
                let decisions = track(&mut tracker, run);
                commit(&outbox, &shared, &queued, decisions)?;
                // Only now, with what the run found safe in the outbox, may the check record
                // that it found it (a watch's position).
                if let Some(checkpoint) = checkpoint {
                    checkpoint();
                }
            }
            Some(ended) = scheduled.join_next() => {
                // Check tasks loop forever; one that ends has panicked.
                if let Err(e) = ended
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "a check task panicked; it stays stopped until the next config reload");
                }
            }
            ended = &mut uplink, if !uplink_done => {
                uplink_done = true;
                // The uplink ends by itself only when asked to stop; anything else is a bug.
                if *stop.borrow() {
                    break;
                }
                tracing::error!(outcome = ?ended.err(), "the uplink stopped unexpectedly");
                return Err(RunError::Uplink);
            }
            _ = outbox_poll.tick() => {
                outbox.catch_up();
                let health = outbox.health();
                shared.update(|facts| facts.outbox_health = health);
            }
            _ = config_poll.tick() => {
                let stamp = config_path.as_deref().and_then(file_stamp);
                if stamp != config_stamp {
                    let _ = config_changes.send(());
                }
            }
            Some(()) = config_changed.recv() => {
                // Editors write in several steps; let them finish.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while config_changed.try_recv().is_ok() {}
                let Some(path) = config_path.as_deref() else { continue };
                config_stamp = file_stamp(path);
                // Build the new checks before stopping the old ones: if anything about the new
                // config fails, the old checks keep running. The fleet config stays laid over
                // the edited file.
                let rebuilt = crate::fleet::effective(Some(path), pushed.as_ref())
                    .and_then(|new| checks::build_all(&new.checks).map(|checks| (new, checks)).map_err(|e| format!("reading config {}: {e}", path.display())));
                match rebuilt {
                    Ok((new, checks)) => {
                        scheduled = swap_checks(checks, &mut scheduled, &mut generation, &mut tracker, &runs, &Loop { outbox: &outbox, shared: &shared, queued: &queued })?;
                        go_live(new, &identity_state_dir, &live_sender, &site_sender);
                        shared.update(|facts| facts.config_error = None);
                        tracing::info!(path = %path.display(), "config reloaded");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "config edit refused; keeping the previous config");
                        shared.update(|facts| facts.config_error = Some(e));
                    }
                }
            }
            Some(push) = pushes.recv() => {
                let running = fleet_status_sender.borrow().version.clone();
                if push.version == running && pushed.as_ref().map(|p| &p.toml) == Some(&push.toml).filter(|_| !running.is_empty()) {
                    continue;
                }
                if push.version.is_empty() && pushed.is_none() {
                    continue;
                }
                // An empty push: no fleet config any more, the local file alone.
                let candidate = (!push.version.is_empty()).then_some(push.clone());
                let applied = crate::fleet::effective(config_path.as_deref(), candidate.as_ref())
                    .and_then(|new| crate::fleet::preflight(&new).map(|()| new))
                    .and_then(|new| checks::build_all(&new.checks).map(|checks| (new, checks)));
                match applied {
                    Ok((new, checks)) => {
                        if let Err(e) = crate::fleet::save(&identity_state_dir, candidate.as_ref()) {
                            // It runs now; after a restart the previous one would, until the
                            // collector pushes again at connect.
                            tracing::warn!(error = %e, "keeping the fleet config in the state folder");
                        }
                        scheduled = swap_checks(checks, &mut scheduled, &mut generation, &mut tracker, &runs, &Loop { outbox: &outbox, shared: &shared, queued: &queued })?;
                        go_live(new, &identity_state_dir, &live_sender, &site_sender);
                        pushed = candidate;
                        tracing::info!(version = %push.version, "fleet config applied");
                        fleet_status_sender.send_replace(crate::fleet::Status {
                            version: push.version,
                            ..Default::default()
                        });
                    }
                    Err(e) => {
                        tracing::warn!(version = %push.version, error = %e, "fleet config refused; keeping the config that runs");
                        fleet_status_sender.send_replace(crate::fleet::Status {
                            version: running,
                            refused_version: push.version,
                            error: e,
                        });
                    }
                }
            }
            () = stopped(&mut stop) => break,
        }
    }
    scheduled.abort_all();
    reports.abort();
    if !uplink_done {
        let _ = uplink.await;
    }
    Ok(())
}

/// Where the loop writes what it decides.
struct Loop<'a> {
    outbox: &'a Outbox,
    shared: &'a Arc<Shared>,
    queued: &'a Notify,
}

/// Stops the running checks and starts `checks` as the next generation; the conditions of
/// checks gone are retired.
fn swap_checks(
    checks: Vec<Box<dyn Check>>,
    scheduled: &mut JoinSet<()>,
    generation: &mut u64,
    tracker: &mut Tracker,
    runs: &mpsc::Sender<CheckRun>,
    to: &Loop<'_>,
) -> Result<JoinSet<()>, OutboxError> {
    scheduled.abort_all();
    to.shared.forget_check_runs();
    *generation += 1;
    let retired = retire_removed(tracker, &checks);
    commit(to.outbox, to.shared, to.queued, retired)?;
    Ok(schedule(checks, *generation, runs, to.shared, tracker))
}

/// New settings for everything that reads them as they change (playbooks, fixes, reports)
/// and the site the inventory says.
fn go_live(
    mut settings: Settings,
    state_dir: &Path,
    live: &watch::Sender<Settings>,
    site: &watch::Sender<String>,
) {
    settings.state_dir = state_dir.to_owned();
    site.send_if_modified(|now| {
        let changed = *now != settings.uplink.site;
        if changed {
            now.clone_from(&settings.uplink.site);
        }
        changed
    });
    live.send_replace(settings);
}

/// Writes the tracker's decisions to the outbox in one transaction and wakes the uplink.
fn commit(
    outbox: &Outbox,
    shared: &Shared,
    queued: &Notify,
    decisions: Decisions,
) -> Result<(), OutboxError> {
    if decisions.is_empty() {
        return Ok(());
    }
    let (_, evicted) = outbox.push_with_conditions(&decisions.findings, &decisions.conditions)?;
    if evicted > 0 {
        tracing::warn!(
            evicted,
            "outbox full: dropped the oldest, least severe findings"
        );
        shared.update(|facts| facts.outbox_evicted_total += evicted);
    }
    for finding in &decisions.findings {
        tracing::info!(check = %finding.check, resource = %finding.resource, severity = %finding.severity, summary = %finding.summary, "finding");
    }
    if !decisions.findings.is_empty() {
        queued.notify_one();
    }
    Ok(())
}

/// Open conditions of checks that no longer exist are cleared ("no longer checked").
fn retire_removed(tracker: &mut Tracker, checks: &[Box<dyn Check>]) -> Decisions {
    let names: HashSet<&str> = checks
        .iter()
        .flat_map(|check| check.names().iter().copied())
        .collect();
    let gone: HashSet<String> = tracker
        .open_conditions()
        .map(|((check, _), _)| check.clone())
        .filter(|check| !names.contains(check.as_str()))
        .collect();
    let mut decisions = Decisions::default();
    for check in gone {
        for key in tracker
            .open_conditions()
            .map(|(key, _)| key.clone())
            .filter(|(c, _)| *c == check)
            .collect::<Vec<_>>()
        {
            decisions.conditions.push((condition_key(&key), None));
        }
        decisions
            .findings
            .extend(tracker.retire_unseen(&check, &HashSet::new()));
    }
    decisions
}

/// Starts one task per check, each on its own interval (and early when the check asks).
fn schedule(
    checks: Vec<Box<dyn Check>>,
    generation: u64,
    runs: &mpsc::Sender<CheckRun>,
    shared: &Arc<Shared>,
    tracker: &Tracker,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    for mut check in checks {
        let open: Vec<String> = tracker
            .open_conditions()
            .filter(|((name, _), _)| check.names().contains(&name.as_str()))
            .map(|((_, resource), _)| resource.clone())
            .collect();
        if !open.is_empty() {
            check.adopt(&open);
        }
        let runs = runs.clone();
        let shared = shared.clone();
        tasks.spawn(async move {
            let mut timer = tokio::time::interval(check.interval());
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = timer.tick() => {}
                    () = check.wake() => {}
                }
                let started = std::time::Instant::now();
                let outcome = check.run(&shared).await;
                shared.record_check_run(check.names(), started.elapsed());
                let run = CheckRun {
                    generation,
                    names: check.names(),
                    reports_every_resource: check.reports_every_resource(),
                    outcome,
                    checkpoint: check.checkpoint(),
                };
                if runs.send(run).await.is_err() {
                    break;
                }
            }
        });
    }
    tasks
}

/// Feeds one run through the tracker; returns the findings and the condition changes.
fn track(tracker: &mut Tracker, run: CheckRun) -> Decisions {
    let observations = match run.outcome {
        Ok(observations) => observations,
        Err(error) => {
            // A probe that could not look concludes nothing: no finding, no clearing.
            tracing::warn!(checks = ?run.names, %error, "probe failed; the cycle goes on");
            return Decisions::default();
        }
    };
    let before: HashMap<ConditionKey, Phase> = open_for(tracker, run.names);
    let now = monotonic_ms();
    let mut seen: HashMap<&str, HashSet<String>> = run
        .names
        .iter()
        .map(|name| (*name, HashSet::new()))
        .collect();
    let mut decisions = Decisions::default();
    for observation in observations {
        seen.entry(observation.check)
            .or_default()
            .insert(observation.resource.clone());
        decisions.findings.extend(tracker.observe(observation, now));
    }
    if run.reports_every_resource {
        for (check, resources) in &seen {
            decisions
                .findings
                .extend(tracker.retire_unseen(check, resources));
        }
    }
    let after = open_for(tracker, run.names);
    for (key, phase) in &after {
        if before.get(key) != Some(phase) {
            decisions.conditions.push((
                condition_key(key),
                Some(serde_json::to_vec(phase).unwrap_or_default()),
            ));
        }
    }
    for key in before.keys().filter(|key| !after.contains_key(*key)) {
        decisions.conditions.push((condition_key(key), None));
    }
    decisions
}

fn open_for(tracker: &Tracker, names: &[&str]) -> HashMap<ConditionKey, Phase> {
    tracker
        .open_conditions()
        .filter(|((check, _), _)| names.contains(&check.as_str()))
        .map(|(k, p)| (k.clone(), *p))
        .collect()
}

fn condition_key((check, resource): &ConditionKey) -> String {
    format!("{check}\u{0}{resource}")
}

fn load_conditions(outbox: &Outbox) -> Result<Vec<(ConditionKey, Phase)>, OutboxError> {
    Ok(outbox
        .conditions()?
        .into_iter()
        .filter_map(|(key, value)| {
            let parsed = key.split_once('\u{0}').zip(serde_json::from_slice::<Phase>(&value).ok());
            if parsed.is_none() {
                tracing::warn!(key = %key.replace('\u{0}', " on "), "ignoring an unreadable remembered condition");
            }
            let ((check, resource), phase) = parsed?;
            Some(((check.to_owned(), resource.to_owned()), phase))
        })
        .collect())
}

/// Milliseconds on a clock that only moves forward (not the wall clock, which NTP may step):
/// what condition durations are measured with.
pub fn monotonic_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// How often the outbox retries writing what it holds in memory, and reports its health.
const OUTBOX_POLL: Duration = Duration::from_secs(2);

/// How often the config file is looked at when no notification came.
const CONFIG_POLL: Duration = Duration::from_secs(10);

fn file_stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Watches the config file's directory (editors replace files rather than write them).
fn watch_config(
    path: &Path,
    changes: mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let file_name = path.file_name()?.to_owned();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event
                .paths
                .iter()
                .any(|p| p.file_name() == Some(&file_name))
            && !event.kind.is_access()
        {
            let _ = changes.send(());
        }
    });
    match watcher.and_then(|mut watcher| {
        watcher
            .watch(&directory, notify::RecursiveMode::NonRecursive)
            .map(|()| watcher)
    }) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot watch the config for edits");
            None
        }
    }
}

/// Runs every configured check once and returns what each saw, for `firstline-agent check`.
/// Probe failures come back as errors beside the observations, since `check` shows both.
pub async fn check_once(config: &ChecksFile) -> Result<(Vec<Observation>, Vec<String>), String> {
    let shared = Arc::new(Shared::default());
    let mut checks: Vec<Box<dyn Check>> = checks::build_all(config)?;
    let mut seen = Vec::new();
    let mut errors = Vec::new();
    let runs = checks.iter_mut().map(|check| {
        let shared = shared.clone();
        async move { (check.names(), check.run(&shared).await) }
    });
    for (names, outcome) in futures_join_all(runs).await {
        match outcome {
            Ok(observations) => seen.extend(observations),
            Err(error) => errors.push(format!("{}: {error}", names.join(", "))),
        }
    }
    Ok((seen, errors))
}

/// Polls futures concurrently without pulling in the futures crate.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut all_done = true;
        for (index, future) in pending.iter_mut().enumerate() {
            if outputs[index].is_none() {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(output) => outputs[index] = Some(output),
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
