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
use crate::finding::{Finding, now_ms};
use crate::identity::Identity;
use crate::outbox::{OUTBOX_FILE, Outbox, OutboxError};
use crate::uplink::{self, UplinkContext, UplinkState, stopped};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("{0}")]
    Checks(String),
}

/// One run of one check.
struct CheckRun {
    names: &'static [&'static str],
    reports_every_resource: bool,
    outcome: Result<Vec<Observation>, String>,
}

/// Runs the agent until `stop` turns true. `config_path` is watched for edits; a valid edit
/// replaces the checks, an invalid one is reported and the previous checks keep running.
pub async fn run(
    config_path: Option<PathBuf>,
    settings: Settings,
    identity: Identity,
    mut stop: watch::Receiver<bool>,
    state: watch::Sender<UplinkState>,
) -> Result<(), RunError> {
    let outbox = Arc::new(Outbox::open(
        &identity.state_dir.join(OUTBOX_FILE),
        settings.outbox_max_bytes,
    )?);
    let shared = Arc::new(Shared::default());
    let evicted_before = outbox.stats()?.evicted_total;
    shared.update(|facts| {
        facts.collector_url = Some(identity.enrollment.collector_url.clone());
        facts.outbox_evicted_total = evicted_before;
    });
    let queued = Arc::new(Notify::new());
    let mut tracker = Tracker::with_open_conditions(load_conditions(&outbox)?);

    let uplink_context = UplinkContext {
        outbox: outbox.clone(),
        queued: queued.clone(),
        shared: shared.clone(),
    };
    let uplink = tokio::spawn(uplink::run(
        identity,
        settings.uplink.clone(),
        uplink_context,
        stop.clone(),
        state,
    ));

    let (runs, mut results) = mpsc::channel::<CheckRun>(64);
    let mut scheduled =
        schedule(&settings.checks, &runs, &shared, &tracker).map_err(RunError::Checks)?;
    let (config_changes, mut config_changed) = mpsc::unbounded_channel::<()>();
    let _config_watch = config_path
        .as_deref()
        .and_then(|path| watch_config(path, config_changes.clone()));
    // File notifications do not reach every file system (network shares, some containers):
    // also look at the file's size and time now and then.
    let mut config_stamp = config_path.as_deref().and_then(file_stamp);
    let mut config_poll = tokio::time::interval(CONFIG_POLL);
    config_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            Some(run) = results.recv() => {
                let findings = track(&mut tracker, run, &outbox)?;
                if !findings.is_empty() {
                    let (_, evicted) = outbox.push(&findings)?;
                    if evicted > 0 {
                        tracing::warn!(evicted, "outbox full: dropped the oldest, least severe findings");
                        shared.update(|facts| facts.outbox_evicted_total += evicted);
                    }
                    for finding in &findings {
                        tracing::info!(check = %finding.check, resource = %finding.resource, severity = %finding.severity, summary = %finding.summary, "finding");
                    }
                    queued.notify_one();
                }
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
                match Settings::load(Some(path)) {
                    Ok(new_settings) => {
                        scheduled.abort_all();
                        scheduled = schedule(&new_settings.checks, &runs, &shared, &tracker).map_err(RunError::Checks)?;
                        // Checks that are gone from the config take their open conditions along.
                        let names: HashSet<&str> = checks::build_all(&new_settings.checks)
                            .map_err(RunError::Checks)?
                            .iter()
                            .flat_map(|check| check.names().iter().copied())
                            .collect();
                        let gone: Vec<String> = tracker
                            .open_conditions()
                            .map(|((check, _), _)| check.clone())
                            .filter(|check| !names.contains(check.as_str()))
                            .collect::<HashSet<_>>()
                            .into_iter()
                            .collect();
                        let mut findings = Vec::new();
                        for check in gone {
                            let before: Vec<ConditionKey> = tracker.open_conditions().map(|(k, _)| k.clone()).filter(|(c, _)| *c == check).collect();
                            findings.extend(tracker.retire_unseen(&check, &HashSet::new(), now_ms()));
                            for key in before {
                                outbox.save_condition(&condition_key(&key), None)?;
                            }
                        }
                        if !findings.is_empty() {
                            outbox.push(&findings)?;
                            queued.notify_one();
                        }
                        shared.update(|facts| facts.config_error = None);
                        tracing::info!(path = %path.display(), "config reloaded");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "config edit refused; keeping the previous config");
                        shared.update(|facts| facts.config_error = Some(e.to_string()));
                    }
                }
            }
            () = stopped(&mut stop) => break,
        }
    }
    scheduled.abort_all();
    let _ = uplink.await;
    Ok(())
}

/// Starts one task per check, each on its own interval (and early when the check asks).
fn schedule(
    config: &ChecksFile,
    runs: &mpsc::Sender<CheckRun>,
    shared: &Arc<Shared>,
    tracker: &Tracker,
) -> Result<JoinSet<()>, String> {
    let mut tasks = JoinSet::new();
    for mut check in checks::build_all(config)? {
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
                let outcome = check.run(&shared).await;
                if runs
                    .send(CheckRun {
                        names: check.names(),
                        reports_every_resource: check.reports_every_resource(),
                        outcome,
                    })
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    Ok(tasks)
}

/// Feeds one run through the tracker, persisting conditions that opened or closed.
fn track(
    tracker: &mut Tracker,
    run: CheckRun,
    outbox: &Outbox,
) -> Result<Vec<Finding>, OutboxError> {
    let observations = match run.outcome {
        Ok(observations) => observations,
        Err(error) => {
            // A probe that could not look concludes nothing: no finding, no clearing.
            tracing::warn!(checks = ?run.names, %error, "probe failed; the cycle goes on");
            return Ok(Vec::new());
        }
    };
    let before: HashMap<ConditionKey, Phase> = open_for(tracker, run.names);
    let now = now_ms();
    let mut seen: HashMap<&str, HashSet<String>> = run
        .names
        .iter()
        .map(|name| (*name, HashSet::new()))
        .collect();
    let mut findings = Vec::new();
    for observation in observations {
        seen.entry(observation.check)
            .or_default()
            .insert(observation.resource.clone());
        findings.extend(tracker.observe(observation, now));
    }
    if run.reports_every_resource {
        for (check, resources) in &seen {
            findings.extend(tracker.retire_unseen(check, resources, now));
        }
    }
    let after = open_for(tracker, run.names);
    for (key, phase) in &after {
        if before.get(key) != Some(phase) {
            let encoded = serde_json::to_vec(phase).unwrap_or_default();
            outbox.save_condition(&condition_key(key), Some(&encoded))?;
        }
    }
    for key in before.keys().filter(|key| !after.contains_key(*key)) {
        outbox.save_condition(&condition_key(key), None)?;
    }
    Ok(findings)
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
            let (check, resource) = key.split_once('\u{0}')?;
            let phase = serde_json::from_slice(&value).ok()?;
            Some(((check.to_owned(), resource.to_owned()), phase))
        })
        .collect())
}

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
