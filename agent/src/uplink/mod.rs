//! The uplink: one long-lived mutual-TLS `Telemetry.Connect` stream to the collector, opened
//! again with jittered exponential backoff whenever it drops.

pub mod backoff;
pub mod channel;
pub mod fix;
pub mod reproduce;

use std::sync::Arc;
use std::time::{Duration, Instant};

use firstline_proto::v1 as pb;
use tokio::sync::{Notify, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::checks::Shared;
use crate::help::{HelpDesk, HelpLinks, PendingAsk};
use crate::identity::Identity;
use crate::inventory;
use crate::outbox::{Outbox, OutboxError};
use crate::wire::{self, FromCollector};
use backoff::Backoff;
use channel::ChannelError;

/// How long to wait for the collector's Welcome after opening the stream.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(30);
/// A stream that stayed up this long counts as healthy: the next failure retries quickly.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct UplinkSettings {
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Inventory is sent on connect and again this often.
    pub inventory_interval: Duration,
    /// A backlog is replayed at most this fast, so a thousand agents coming back at once do
    /// not flatten the collector.
    pub replay_per_second: u32,
    /// Where this device is (config `site`), sent with the inventory.
    pub site: String,
}

impl Default for UplinkSettings {
    fn default() -> Self {
        Self {
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            inventory_interval: Duration::from_secs(3600),
            replay_per_second: 500,
            site: String::new(),
        }
    }
}

/// What the uplink shares with the rest of the agent.
#[derive(Debug, Clone)]
pub struct UplinkContext {
    pub outbox: Arc<Outbox>,
    /// Signalled whenever findings are queued.
    pub queued: Arc<Notify>,
    pub shared: Arc<Shared>,
    /// Runs fixes the collector asks for; without one, such requests are refused.
    pub fixer: Option<Arc<fix::Fixer>>,
    /// Runs playbooks the collector asks for; without one, such requests are declined.
    pub reproducer: Option<Arc<reproduce::Reproducer>>,
    /// Help links asked for by `firstline-agent help`, served while a stream is live.
    pub help_links: Option<HelpLinks>,
    /// Shows the collector's notices to this device's users; without one, they are logged.
    pub notifier: Option<crate::notify::Notifier>,
    /// Where fleet config pushes go and what the agent runs; without it, pushes are logged.
    pub fleet: Option<FleetLink>,
}

/// Between the uplink and the part of the agent that applies fleet config.
#[derive(Debug, Clone)]
pub struct FleetLink {
    /// Pushes from the collector.
    pub pushes: mpsc::Sender<crate::fleet::Pushed>,
    /// The version run, or the push refused and why: sent after each Welcome and on change.
    pub status: watch::Receiver<crate::fleet::Status>,
    /// Where this device is, as its config now says (sent with the inventory, at once when
    /// it changes).
    pub site: watch::Receiver<String>,
}

/// Resolves when `receiver` (if any) sees a new value; never without one or once its sender
/// is gone.
async fn changed<T>(receiver: &mut Option<watch::Receiver<T>>) {
    if let Some(receiver) = receiver
        && receiver.changed().await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

/// Findings per message.
const BATCH: usize = 100;
/// A findings message stays under this many bytes (the collector accepts 4 MiB).
const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Findings sent but not yet acknowledged, at most.
const IN_FLIGHT: u64 = 2000;

/// What the uplink is doing, for `service status`, logs and tests.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum UplinkState {
    #[default]
    Starting,
    Connected {
        committed_sequence: u64,
    },
    Disconnected {
        error: String,
        retry_in: Duration,
    },
    Stopped,
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("the collector closed the stream: {0}")]
    Status(String),
    /// The collector cannot store findings now and asked for a pause: not a refusal.
    #[error("the collector asked to wait {}s before reconnecting: {reason}", wait.as_secs())]
    Busy { reason: String, wait: Duration },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

enum SessionEnd {
    /// The collector ended the stream cleanly.
    Closed,
    /// We were asked to stop.
    Stopped,
}

/// What the agent says about itself in a heartbeat. Each part is best effort: one that cannot
/// be read is left out rather than holding up the heartbeat.
fn self_report(context: &UplinkContext) -> wire::SelfReport {
    wire::SelfReport {
        check_cycle_ms: context.shared.check_cycle_ms(),
        resident_memory_bytes: resident_memory_bytes(),
        outbox_depth: context
            .outbox
            .stats()
            .inspect_err(
                |e| tracing::debug!(error = %e, "reading the outbox depth for a heartbeat"),
            )
            .ok()
            .map(|stats| stats.pending),
    }
}

/// This process's resident memory (on Linux, from `/proc/self/statm`), read for itself alone.
fn resident_memory_bytes() -> Option<u64> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = System::new().ok()?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory(),
    );
    system.process(pid).map(|process| process.memory())
}

/// Runs until `stop` turns true, reconnecting as needed.
pub async fn run(
    identity: Identity,
    settings: UplinkSettings,
    context: UplinkContext,
    mut stop: watch::Receiver<bool>,
    state: watch::Sender<UplinkState>,
) {
    let mut backoff = Backoff::new(settings.reconnect_min, settings.reconnect_max);
    loop {
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        // The session watches `stop` itself once connected; this also covers the moments it
        // cannot (connecting, waiting for a Welcome, a send that does not go through).
        let mut session_stop = stop.clone();
        let outcome = tokio::select! {
            outcome = session(&identity, &settings, &context, &mut session_stop, &state) => outcome,
            () = stopped(&mut stop) => Ok(SessionEnd::Stopped),
        };
        if started.elapsed() >= HEALTHY_SESSION {
            backoff.reset();
        }
        let mut retry_in = backoff.next_delay();
        let error = match outcome {
            Ok(SessionEnd::Stopped) => break,
            Ok(SessionEnd::Closed) => "the collector closed the stream".to_owned(),
            Err(SessionError::Busy { reason, wait }) => {
                // Spread out, so a thousand agents do not all come back in the same second.
                retry_in = retry_in.max(backoff::spread(wait));
                tracing::info!(reason = %reason, retry_in_ms = retry_in.as_millis() as u64, "the collector cannot store findings now and asked to wait; they stay in the outbox");
                format!("the collector cannot store findings now ({reason}); retrying")
            }
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = retry_in.as_millis() as u64, "uplink down");
                error.to_string()
            }
        };
        state.send_replace(UplinkState::Disconnected { error, retry_in });
        tokio::select! {
            () = tokio::time::sleep(retry_in) => {}
            () = stopped(&mut stop) => break,
        }
    }
    state.send_replace(UplinkState::Stopped);
}

/// The longest pause a collector may ask for: a hostile or confused one cannot park agents.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A status from the collector: a pause it asked for (`UNAVAILABLE` with
/// [`firstline_proto::RETRY_AFTER_METADATA`]) or an error.
fn status_error(status: &tonic::Status) -> SessionError {
    let wait = status
        .metadata()
        .get(firstline_proto::RETRY_AFTER_METADATA)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    match wait {
        Some(wait) if status.code() == tonic::Code::Unavailable => SessionError::Busy {
            reason: status.message().to_owned(),
            wait,
        },
        _ => SessionError::Status(channel::describe_status(status)),
    }
}

async fn session(
    identity: &Identity,
    settings: &UplinkSettings,
    context: &UplinkContext,
    stop: &mut watch::Receiver<bool>,
    state: &watch::Sender<UplinkState>,
) -> Result<SessionEnd, SessionError> {
    let channel = channel::connect(
        &identity.enrollment.collector_url,
        &identity.ca_pem,
        Some((&identity.certificate_pem, &identity.key_pem)),
    )
    .await?;
    let mut client = pb::telemetry_client::TelemetryClient::new(channel);
    let (outbound, outbound_stream) = mpsc::channel::<pb::AgentMessage>(64);
    // Hello is queued before the call so the collector finds it first on the stream.
    let mut fleet_status = context.fleet.as_ref().map(|fleet| fleet.status.clone());
    let mut fleet_site = context.fleet.as_ref().map(|fleet| fleet.site.clone());
    let running_version = fleet_status
        .as_mut()
        .map(|status| status.borrow_and_update().version.clone())
        .unwrap_or_default();
    outbound
        .send(wire::hello(
            context.outbox.last_sequence()?,
            context.outbox.acked_through()?,
            &running_version,
        ))
        .await
        .map_err(|_| SessionError::Protocol("outbound queue closed".to_owned()))?;
    let response = tokio::time::timeout(
        WELCOME_TIMEOUT,
        client.connect(ReceiverStream::new(outbound_stream)),
    )
    .await
    .map_err(|_| {
        SessionError::Protocol(format!(
            "the collector did not open the stream within {}s",
            WELCOME_TIMEOUT.as_secs()
        ))
    })?
    .map_err(|status| status_error(&status))?;
    let mut inbound = response.into_inner();

    let welcome = tokio::time::timeout(WELCOME_TIMEOUT, inbound.message())
        .await
        .map_err(|_| {
            SessionError::Protocol(format!("no Welcome within {}s", WELCOME_TIMEOUT.as_secs()))
        })?
        .map_err(|status| status_error(&status))?
        .ok_or_else(|| SessionError::Protocol("the stream ended before the Welcome".to_owned()))?;
    // Help links are asked for on this stream from its Welcome until it ends (requests made
    // meanwhile wait in the desk's queue); those still waiting then are told that IT cannot be
    // reached (the desk's drop).
    let mut help_desk = context.help_links.as_ref().map(HelpLinks::open_desk);
    let (committed_sequence, heartbeat_interval) = match FromCollector::try_from(welcome) {
        Ok(FromCollector::Welcome {
            device_id,
            committed_sequence,
            server_time_unix_ms,
            heartbeat_interval_secs,
        }) => {
            if device_id != identity.device_id() {
                return Err(SessionError::Protocol(format!(
                    "the collector greeted device {device_id}, but this is {}",
                    identity.device_id()
                )));
            }
            let skew_ms = record_skew(&context.shared, server_time_unix_ms);
            tracing::info!(device = %device_id, committed_sequence, skew_ms, "connected to collector");
            (
                committed_sequence,
                Duration::from_secs(u64::from(heartbeat_interval_secs.clamp(5, 3600))),
            )
        }
        Ok(other) => {
            return Err(SessionError::Protocol(format!(
                "expected a Welcome, got {other:?}"
            )));
        }
        Err(e) => return Err(SessionError::Protocol(e.to_owned())),
    };
    // What the collector has committed is ours to forget; a counter behind it means our state
    // was lost and what is queued must be renumbered to follow it.
    context.outbox.rebase(committed_sequence)?;
    context.outbox.acknowledge_through(committed_sequence)?;
    state.send_replace(UplinkState::Connected { committed_sequence });

    let outbox = &context.outbox;
    let mut acknowledged = committed_sequence;
    let mut sent_through = committed_sequence;
    let mut pump = true;
    let mut bucket = TokenBucket::new(settings.replay_per_second);

    let mut heartbeat = tokio::time::interval(heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut inventory_timer = tokio::time::interval(settings.inventory_interval);
    inventory_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let closed = || SessionError::Protocol("the stream closed while sending".to_owned());
    // The collector learns what this agent runs (or refused) on every new stream.
    if let Some(status) = fleet_status.as_mut() {
        let now = status.borrow_and_update().clone();
        outbound
            .send(wire::config_status(&now))
            .await
            .map_err(|_| closed())?;
    }
    if let Some(site) = fleet_site.as_mut() {
        site.borrow_and_update();
    }
    // Reproduce answers come back here from their tasks, to go out on this stream.
    let (answers, mut answered) = tokio::sync::mpsc::channel::<pb::AgentMessage>(8);
    loop {
        let window_open = sent_through.saturating_sub(acknowledged) < IN_FLIGHT;
        let send_at = (pump && window_open).then(|| bucket.ready_at());
        tokio::select! {
            () = sleep_until_some(send_at) => {
                let room = usize::try_from(IN_FLIGHT - sent_through.saturating_sub(acknowledged)).unwrap_or(BATCH);
                let allowed = bucket.take(BATCH.min(room));
                let mut batch = outbox.pending_after(sent_through, allowed)?;
                let fetched = batch.len();
                // Keep each message far below the collector's size limit, whatever the evidence.
                let mut bytes = 0;
                let fits = batch
                    .iter()
                    .take_while(|(_, finding)| {
                        bytes += wire::approximate_size(finding);
                        bytes <= MAX_BATCH_BYTES
                    })
                    .count()
                    .max(1);
                batch.truncate(fits);
                bucket.refund(allowed - batch.len());
                // Nothing more is queued only if the read came back short and all of it went.
                if fetched < allowed && batch.len() == fetched {
                    pump = false;
                }
                if let Some((last, _)) = batch.last() {
                    sent_through = *last;
                    outbound.send(wire::findings(&batch)).await.map_err(|_| closed())?;
                }
            }
            () = context.queued.notified() => pump = true,
            pending = next_help_ask(&mut help_desk) => {
                if let Some((request_id, ask)) = help_desk.as_mut().and_then(|desk| desk.register(pending)) {
                    tracing::info!(request = %request_id, uid = ask.uid, account = %ask.account, "asking the collector for a help link");
                    outbound.send(wire::help_link_request(&request_id, &ask)).await.map_err(|_| closed())?;
                }
            }
            () = changed(&mut fleet_status) => {
                let now = fleet_status.as_mut().map(|status| status.borrow_and_update().clone()).unwrap_or_default();
                outbound.send(wire::config_status(&now)).await.map_err(|_| closed())?;
            }
            // A new site goes out with a fresh inventory now, not at the next tick.
            () = changed(&mut fleet_site) => inventory_timer.reset_immediately(),
            _ = inventory_timer.tick() => {
                let mut gathered = tokio::task::spawn_blocking(inventory::gather)
                    .await
                    .map_err(|e| SessionError::Protocol(format!("gathering inventory: {e}")))?;
                match fleet_site.as_mut() {
                    Some(site) => gathered.site.clone_from(&site.borrow_and_update()),
                    None => gathered.site.clone_from(&settings.site),
                }
                outbound.send(wire::inventory(gathered)).await.map_err(|_| closed())?;
            }
            _ = heartbeat.tick() => {
                let report = self_report(context);
                outbound.send(wire::heartbeat(&report)).await.map_err(|_| closed())?;
            }
            message = inbound.message() => match message {
                Ok(Some(message)) => match FromCollector::try_from(message) {
                    Ok(FromCollector::Ack { sequence, refused, server_time_unix_ms }) => {
                        for (refused_sequence, reason) in refused {
                            tracing::warn!(sequence = refused_sequence, %reason, "collector refused a finding");
                        }
                        // Every ack (one answers each heartbeat) measures the skew again, so a
                        // clock stepped mid-session shows without a reconnect.
                        if let Some(server_time_unix_ms) = server_time_unix_ms {
                            record_skew(&context.shared, server_time_unix_ms);
                        }
                        // Committed on the collector: only now may the outbox forget them.
                        outbox.acknowledge_through(sequence)?;
                        acknowledged = acknowledged.max(sequence);
                        pump = true;
                        state.send_replace(UplinkState::Connected { committed_sequence: acknowledged });
                    }
                    Ok(FromCollector::Reproduce { request_id, playbook, target }) => {
                        match context.reproducer.as_ref().map(|r| r.admit(request_id.clone(), playbook, target)) {
                            Some(reproduce::Admission::Later(job)) => {
                                let answers = answers.clone();
                                tokio::spawn(async move {
                                    let answer = job.answer().await;
                                    // The stream may have closed meanwhile; the collector asks again.
                                    let _ = answers.send(answer).await;
                                });
                            }
                            // Answered at once (remembered, busy), straight onto the stream.
                            Some(reproduce::Admission::Now(answer)) => {
                                outbound.send(*answer).await.map_err(|_| closed())?;
                            }
                            None => {
                                let answer = wire::reproduce_result(&request_id, String::new(), "this agent does not run playbooks".to_owned());
                                outbound.send(answer).await.map_err(|_| closed())?;
                            }
                        }
                    }
                    Ok(FromCollector::HelpPageReport { request_id, report }) => {
                        match context.reproducer.as_ref().map(|r| r.admit_report(request_id.clone(), report)) {
                            Some(reproduce::Admission::Later(job)) => {
                                let answers = answers.clone();
                                tokio::spawn(async move {
                                    let answer = job.answer().await;
                                    let _ = answers.send(answer).await;
                                });
                            }
                            Some(reproduce::Admission::Now(answer)) => {
                                outbound.send(*answer).await.map_err(|_| closed())?;
                            }
                            None => {
                                let answer = wire::reproduce_result(&request_id, String::new(), "this agent does not take reports from the help page".to_owned());
                                outbound.send(answer).await.map_err(|_| closed())?;
                            }
                        }
                    }
                    Ok(FromCollector::HelpLink { request_id, answer }) => {
                        let delivered = help_desk.as_mut().is_some_and(|desk| desk.answer(&request_id, answer));
                        if !delivered {
                            tracing::info!(request = %request_id, "a help link no one waits for (asked too long ago, or not by this agent)");
                        }
                    }
                    Ok(FromCollector::Fix(ask)) => {
                        match context.fixer.as_ref().map(|fixer| fixer.admit(ask.clone())) {
                            Some(fix::Admission::Later(job)) => {
                                let answers = answers.clone();
                                tokio::spawn(async move {
                                    let answer = job.answer().await;
                                    // The stream may have closed meanwhile; the collector asks again
                                    // and gets the remembered answer.
                                    let _ = answers.send(answer).await;
                                });
                            }
                            Some(fix::Admission::Now(answer)) => {
                                outbound.send(*answer).await.map_err(|_| closed())?;
                            }
                            Some(fix::Admission::AlreadyRunning) => {}
                            None => {
                                let report = crate::fixes::FixReport::refused(&ask.fix, "this agent does not run fixes".to_owned());
                                outbound.send(wire::fix_result(&ask.request_id, &report)).await.map_err(|_| closed())?;
                            }
                        }
                    }
                    Ok(FromCollector::FixRefused { request_id, fix, error }) => {
                        tracing::warn!(request = ?request_id, %fix, %error, "fix request refused");
                        if let Some(request_id) = request_id {
                            let report = crate::fixes::FixReport::refused(&fix, error);
                            outbound.send(wire::fix_result(&request_id, &report)).await.map_err(|_| closed())?;
                        }
                    }
                    Ok(FromCollector::ReproduceRefused { request_id, error }) => {
                        tracing::warn!(request = ?request_id, %error, "reproduce request refused");
                        if let Some(request_id) = request_id {
                            let answer = wire::reproduce_result(&request_id, String::new(), error);
                            outbound.send(answer).await.map_err(|_| closed())?;
                        }
                    }
                    Ok(FromCollector::Notice(notice)) => match &context.notifier {
                        // Refusals and drops are logged by the notifier.
                        Some(notifier) => { let _ = notifier.show(notice); }
                        None => tracing::info!(notice = %notice.id, "this agent does not show notices"),
                    },
                    Ok(FromCollector::NoticeRefused { id, reason }) => {
                        tracing::warn!(notice = %id, %reason, "notice refused");
                    }
                    Ok(FromCollector::Config(pushed)) => match &context.fleet {
                        Some(fleet) => {
                            tracing::info!(version = %pushed.version, "the collector pushed a fleet config");
                            // Applied by the runtime, which answers through the status.
                            fleet.pushes.send(pushed).await.map_err(|_| SessionError::Protocol("the agent is stopping".to_owned()))?;
                        }
                        None => tracing::info!(version = %pushed.version, "this agent does not take fleet config"),
                    },
                    Ok(FromCollector::Unsupported(what)) => {
                        tracing::warn!(request = what, "the collector asked for something this agent version does not do");
                    }
                    Ok(FromCollector::Welcome { .. }) => {
                        return Err(SessionError::Protocol("a second Welcome on one stream".to_owned()));
                    }
                    Err(e) => return Err(SessionError::Protocol(e.to_owned())),
                },
                Ok(None) => return Ok(SessionEnd::Closed),
                Err(status) => return Err(status_error(&status)),
            },
            Some(answer) = answered.recv() => {
                outbound.send(answer).await.map_err(|_| closed())?;
            }
            () = stopped(stop) => return Ok(SessionEnd::Stopped),
        }
    }
}

/// Collector clock minus ours, measured as a message from the collector arrives (the
/// message's transit, milliseconds, is far below what the clock check cares about), and
/// shared with the clock check. Returns the skew.
fn record_skew(shared: &Shared, server_time_unix_ms: i64) -> i64 {
    let skew_ms = server_time_unix_ms.saturating_sub(crate::finding::now_ms());
    let before = shared.facts().clock_skew_ms;
    shared.update(|facts| facts.clock_skew_ms = Some(skew_ms));
    // A step of the clock (by hand, by NTP, by a sleeping VM) is worth a line in the log.
    if before.is_some_and(|before| clock_stepped(before, skew_ms)) {
        tracing::warn!(skew_ms, before_ms = ?before, "the clock skew to the collector changed");
    }
    skew_ms
}

/// A change of the measured skew larger than this is logged.
const CLOCK_STEP_LOGGED_MS: u64 = 5_000;

/// Whether the skew moved by more than [`CLOCK_STEP_LOGGED_MS`]. `abs_diff`, because the
/// skew comes from the server's clock: `before - now` of two extreme skews would overflow.
fn clock_stepped(before_ms: i64, skew_ms: i64) -> bool {
    before_ms.abs_diff(skew_ms) > CLOCK_STEP_LOGGED_MS
}

/// Resolves once `stop` is true (or its sender is gone, which also means stop).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before the caller's next await.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The next help link request while the stream has a desk; never without one.
async fn next_help_ask(desk: &mut Option<HelpDesk>) -> PendingAsk {
    match desk {
        Some(desk) => desk.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Replay pacing: `rate` findings per second, with at most one second's worth in a burst.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    tokens: f64,
    refilled: tokio::time::Instant,
}

impl TokenBucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            tokens: rate,
            refilled: tokio::time::Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = tokio::time::Instant::now();
        self.tokens =
            (self.tokens + (now - self.refilled).as_secs_f64() * self.rate).min(self.rate);
        self.refilled = now;
    }

    /// When at least one token will be there.
    fn ready_at(&mut self) -> tokio::time::Instant {
        self.refill();
        if self.tokens >= 1.0 {
            tokio::time::Instant::now()
        } else {
            tokio::time::Instant::now() + Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }

    /// Takes up to `wanted` whole tokens (at least one, since `ready_at` said so).
    fn take(&mut self, wanted: usize) -> usize {
        self.refill();
        let granted = (self.tokens.floor() as usize).clamp(1, wanted.max(1));
        self.tokens -= granted as f64;
        granted
    }

    fn refund(&mut self, unused: usize) {
        self.tokens = (self.tokens + unused as f64).min(self.rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_that_cannot_store_asks_for_a_bounded_pause_not_a_refusal() {
        let busy = |code: tonic::Code, secs: &str| {
            let mut status = tonic::Status::new(code, "disk full");
            status.metadata_mut().insert(
                firstline_proto::RETRY_AFTER_METADATA,
                secs.parse().expect("metadata value"),
            );
            status_error(&status)
        };
        match busy(tonic::Code::Unavailable, "15") {
            SessionError::Busy { wait, reason } => {
                assert_eq!(wait, Duration::from_secs(15));
                assert_eq!(reason, "disk full");
            }
            other => panic!("expected a pause, got {other:?}"),
        }
        // A confused or hostile collector cannot park the agent for a day.
        match busy(tonic::Code::Unavailable, "86400") {
            SessionError::Busy { wait, .. } => assert_eq!(wait, MAX_RETRY_AFTER),
            other => panic!("expected a pause, got {other:?}"),
        }
        // Only UNAVAILABLE is a pause; a refusal stays a refusal, garbage is ignored.
        assert!(matches!(
            busy(tonic::Code::PermissionDenied, "15"),
            SessionError::Status(_)
        ));
        assert!(matches!(
            busy(tonic::Code::Unavailable, "soon"),
            SessionError::Status(_)
        ));
        let spread = backoff::spread(Duration::from_secs(10));
        assert!((Duration::from_secs(10)..=Duration::from_secs(15)).contains(&spread));
    }

    #[test]
    fn a_hostile_server_time_does_not_overflow_the_skew() {
        let shared = Shared::default();
        // Skews at both ends: the second measurement minus the first overflowed an i64.
        assert_eq!(record_skew(&shared, i64::MIN), i64::MIN);
        assert!(record_skew(&shared, i64::MAX) > 0);
        assert_eq!(record_skew(&shared, i64::MIN), i64::MIN);
        assert!(clock_stepped(i64::MIN, i64::MAX));
        assert!(!clock_stepped(-1_000, 1_000));
    }

    #[tokio::test(start_paused = true)]
    async fn replay_is_paced_to_the_configured_rate() {
        let mut bucket = TokenBucket::new(200);
        let started = tokio::time::Instant::now();
        let mut sent = 0;
        while sent < 1000 {
            tokio::time::sleep_until(bucket.ready_at()).await;
            sent += bucket.take(100);
        }
        // 200 in the first burst, then 200 per second: 800 more take four seconds.
        let elapsed = started.elapsed().as_secs_f64();
        assert!((3.9..=4.1).contains(&elapsed), "{elapsed}");
    }

    #[test]
    fn heartbeats_report_the_agents_own_health() {
        let dir = tempfile::tempdir().expect("temp dir");
        let context = UplinkContext {
            outbox: Arc::new(
                Outbox::open(&dir.path().join("outbox.redb"), 1 << 20).expect("outbox"),
            ),
            queued: Arc::new(Notify::new()),
            shared: Arc::new(Shared::default()),
            fixer: None,
            reproducer: None,
            help_links: None,
            notifier: None,
            fleet: None,
        };
        let before = self_report(&context);
        assert_eq!(before.check_cycle_ms, None, "no check has run yet");
        assert_eq!(before.outbox_depth, Some(0));
        if cfg!(any(
            target_os = "linux",
            target_os = "macos",
            target_os = "windows"
        )) {
            let resident = before.resident_memory_bytes.expect("own resident memory");
            assert!(resident > 1 << 20, "{resident} bytes is implausibly small");
        }

        let finding = crate::finding::Finding {
            check: "disk.used_pct".to_owned(),
            resource: "/".to_owned(),
            severity: crate::finding::Severity::Warning,
            summary: "Disk / is 91% full".to_owned(),
            evidence: crate::finding::Evidence::new(),
            observed_at_ms: 1,
        };
        context
            .outbox
            .push(&[finding.clone(), finding])
            .expect("queue");
        context
            .shared
            .record_check_run(&["disk.used_pct"], Duration::from_millis(40));
        context
            .shared
            .record_check_run(&["dns.resolve"], Duration::from_millis(900));
        context
            .shared
            .record_check_run(&["disk.used_pct"], Duration::from_millis(30));
        let after = self_report(&context);
        assert_eq!(after.outbox_depth, Some(2));
        assert_eq!(
            after.check_cycle_ms,
            Some(900),
            "the slowest check's latest run"
        );
        context.shared.forget_check_runs();
        assert_eq!(self_report(&context).check_cycle_ms, None);
    }
}
