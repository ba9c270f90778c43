//! Ingest: the `Telemetry.Connect` stream. The device is whoever the client certificate says;
//! findings are committed to the store before they are acked.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firstline_proto::v1 as pb;
use pb::agent_message::Body;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::budget::{DeviceBudget, Pace};
use crate::commit::Committer;
use crate::metrics::{Metrics, RefusalReason};
use crate::model::{AgentHealth, Finding, Inventory, now_ms};
use crate::pki;
use crate::store::{FindingBatch, Store};
use crate::wire;

/// Streams silent for this many heartbeat intervals are closed as dead.
const SILENT_INTERVALS_BEFORE_CLOSE: u32 = 3;
/// How long a new stream waits for the one it replaces to finish its last commit.
const PREDECESSOR_GRACE: Duration = Duration::from_secs(15);
/// A batch over the device's pace waits at most this long for its ack (well inside the
/// stream's silence limit).
const MAX_PACING_WAIT: Duration = Duration::from_secs(10);
/// Findings of one batch committed together; a larger batch takes several turns.
const COMMIT_CHUNK: usize = 25;
/// The check of a user's report in their own words.
const USER_REPORT: &str = "user.report";
/// An agent that does not read what we send for this long is gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Who is connected right now: one live session per device. A second connection from the
/// same device (say, after a network cut the old one has not noticed) replaces the first.
#[derive(Debug, Default)]
pub struct Sessions {
    next_id: AtomicU64,
    live: Mutex<HashMap<String, LiveSession>>,
    /// Each device's pace (`[limits]` findings per second), kept across its reconnects.
    paces: Mutex<HashMap<String, Arc<Mutex<Pace>>>>,
}

#[derive(Debug)]
struct LiveSession {
    id: u64,
    /// Wakes the session to deliver reproduce requests.
    nudge: Arc<tokio::sync::Notify>,
    /// Tells the session to end, and why.
    close: oneshot::Sender<Status>,
    /// Resolves (with an error) once the session has ended and dropped its sender.
    finished: watch::Receiver<()>,
}

/// What a newly opened session holds: its id, the signal that it was superseded, its own
/// "finished" flag, and the predecessor it must outlive.
struct Opened {
    id: u64,
    nudge: Arc<tokio::sync::Notify>,
    superseded: oneshot::Receiver<Status>,
    finished: watch::Sender<()>,
    predecessor: Option<watch::Receiver<()>>,
}

impl Sessions {
    fn open(&self, device_id: &str) -> Opened {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, superseded) = oneshot::channel();
        let (finished, finished_watch) = watch::channel(());
        let nudge = Arc::new(tokio::sync::Notify::new());
        let previous = self.lock().insert(
            device_id.to_owned(),
            LiveSession {
                id,
                nudge: nudge.clone(),
                close,
                finished: finished_watch,
            },
        );
        let predecessor = previous.map(|previous| {
            let _ = previous.close.send(Status::aborted(
                "superseded by a newer connection from the same device",
            ));
            previous.finished
        });
        Opened {
            id,
            nudge,
            superseded,
            finished,
            predecessor,
        }
    }

    fn close(&self, device_id: &str, session_id: u64) {
        let mut live = self.lock();
        if live
            .get(device_id)
            .is_some_and(|session| session.id == session_id)
        {
            live.remove(device_id);
        }
    }

    /// Number of devices with a live stream.
    pub fn connected(&self) -> usize {
        self.lock().len()
    }

    pub fn is_connected(&self, device_id: &str) -> bool {
        self.lock().contains_key(device_id)
    }

    /// Ends the device's live stream (if it is connected here) because it was revoked.
    pub fn disconnect_revoked(&self, device_id: &str) {
        if let Some(session) = self.lock().remove(device_id) {
            let _ = session.close.send(Status::permission_denied(format!(
                "the certificate of device {device_id} was revoked; enroll again"
            )));
        }
    }

    /// Tells the device's session (if it is connected here) that requests wait for it.
    pub fn nudge(&self, device_id: &str) {
        if let Some(session) = self.lock().get(device_id) {
            session.nudge.notify_one();
        }
    }

    /// Tells every session connected here to look again (groups or policies changed).
    pub fn nudge_all(&self) {
        for session in self.lock().values() {
            session.nudge.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveSession>> {
        lock(&self.live)
    }

    /// The device's pace, made on its first stream since the collector started.
    fn pace(&self, device_id: &str, limits: &crate::limits::Limits) -> Arc<Mutex<Pace>> {
        lock(&self.paces)
            .entry(device_id.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(Pace::new(limits))))
            .clone()
    }
}

/// Locks `mutex`. What this module keeps behind locks is maps and counters changed by single
/// inserts, removes and additions: a panic elsewhere cannot leave them half-updated, so a
/// poisoned lock is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The `firstline.v1.Telemetry` service.
#[derive(Debug, Clone)]
pub struct TelemetryService {
    store: Store,
    committer: Committer,
    sessions: Arc<Sessions>,
    metrics: Arc<Metrics>,
    heartbeat_interval: Duration,
    shutdown: watch::Receiver<bool>,
    /// The agent port's gate, told when a connection makes its request.
    gate: Option<Arc<crate::connections::Gate>>,
    /// Each device's budgets.
    limits: crate::limits::Limits,
    /// Where help links point (`public_url`).
    help_base: Arc<str>,
}

impl TelemetryService {
    pub fn new(
        store: Store,
        committer: Committer,
        sessions: Arc<Sessions>,
        metrics: Arc<Metrics>,
        heartbeat_interval: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            store,
            committer,
            sessions,
            metrics,
            heartbeat_interval,
            shutdown,
            gate: None,
            limits: crate::limits::Limits::default(),
            help_base: "http://localhost".into(),
        }
    }

    /// Holds every device to `limits` (`[limits]`: findings per second, conditions, report
    /// tickets per hour).
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Help links point at `url` (the collector's `public_url`).
    pub fn with_help_base(mut self, url: Arc<str>) -> Self {
        self.help_base = url;
        self
    }

    /// Tells `gate` about every stream opened, so its connection keeps its slot.
    pub fn with_gate(mut self, gate: Arc<crate::connections::Gate>) -> Self {
        self.gate = Some(gate);
        self
    }
}

type ConnectStream = Pin<Box<dyn Stream<Item = Result<pb::CollectorMessage, Status>> + Send>>;

#[tonic::async_trait]
impl pb::telemetry_server::Telemetry for TelemetryService {
    type ConnectStream = ConnectStream;

    async fn connect(
        &self,
        request: Request<Streaming<pb::AgentMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let peer = request.remote_addr();
        let device_id = authenticate(&request).inspect_err(|status| {
            tracing::warn!(peer = ?peer, reason = status.message(), "stream refused");
        })?;
        let device = self.store.device(&device_id).await.map_err(|e| {
            tracing::error!(device = %device_id, error = %e, "looking up device");
            Status::unavailable("the collector's store is unavailable; try again")
        })?;
        let refusal = match device {
            None => Some(format!(
                "device {device_id} is not enrolled at this collector"
            )),
            Some(device) if device.revoked_at_ms.is_some() => Some(format!(
                "the certificate of device {device_id} was revoked; enroll again"
            )),
            Some(_) => None,
        };
        if let Some(reason) = refusal {
            tracing::warn!(peer = ?peer, device = %device_id, %reason, "stream refused");
            return Err(Status::permission_denied(reason));
        }
        // An enrolled device's stream: its connection keeps its slot.
        if let Some(gate) = &self.gate {
            gate.request_started(peer);
        }

        let (outbound, outbound_stream) = mpsc::channel(16);
        let opened = self.sessions.open(&device_id);
        let session_id = opened.id;
        tracing::info!(device = %device_id, peer = ?peer, "agent connected");
        self.metrics.stream_opened();
        let session = Session {
            nudge: opened.nudge.clone(),
            device_id: device_id.clone(),
            store: self.store.clone(),
            committer: self.committer.clone(),
            metrics: self.metrics.clone(),
            outbound: outbound.clone(),
            idle_timeout: self.heartbeat_interval * SILENT_INTERVALS_BEFORE_CLOSE,
            heartbeat_interval: self.heartbeat_interval,
            budget: Mutex::new(DeviceBudget::new(&self.limits)),
            pace: self.sessions.pace(&device_id, &self.limits),
            sessions: self.sessions.clone(),
            config: Mutex::new(ConfigSent::default()),
            paced: AtomicBool::new(false),
            report_tickets_per_hour: self.limits.device_report_tickets_per_hour,
            help_base: self.help_base.clone(),
        };
        let sessions = self.sessions.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let Opened {
                superseded,
                finished,
                predecessor,
                ..
            } = opened;
            // The previous stream of this device may still be committing: let it finish before
            // this one reads the committed sequence, or the two could interleave.
            if let Some(mut predecessor) = predecessor {
                let _ = tokio::time::timeout(PREDECESSOR_GRACE, predecessor.changed()).await;
            }
            let outcome = session
                .run(request.into_inner(), superseded, shutdown)
                .await;
            sessions.close(&device_id, session_id);
            session.metrics.stream_closed();
            drop(finished);
            match outcome {
                Ok(()) => tracing::info!(device = %device_id, "agent disconnected"),
                Err(status) => {
                    tracing::warn!(device = %device_id, code = ?status.code(), reason = status.message(), "stream closed");
                    let _ = outbound.send(Err(status)).await;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(
            outbound_stream,
        ))))
    }
}

/// The device id from the verified client certificate, or a refusal.
fn authenticate<T>(request: &Request<T>) -> Result<String, Status> {
    let certificates = request.peer_certs().unwrap_or_default();
    let Some(leaf) = certificates.first() else {
        return Err(Status::unauthenticated(
            "a client certificate is required on this stream; enroll the agent first (`firstline-agent enroll`)",
        ));
    };
    pki::device_id_from_certificate(leaf.as_ref())
        .map_err(|e| Status::unauthenticated(format!("client certificate refused: {e}")))
}

/// What the session loop wakes for: a message from the agent, or requests to deliver.
enum Incoming {
    Message(Box<Body>),
    Nudge,
}

struct Session {
    nudge: Arc<tokio::sync::Notify>,
    device_id: String,
    store: Store,
    committer: Committer,
    metrics: Arc<Metrics>,
    outbound: mpsc::Sender<Result<pb::CollectorMessage, Status>>,
    idle_timeout: Duration,
    heartbeat_interval: Duration,
    budget: Mutex<DeviceBudget>,
    /// The device's pace, shared by its streams (a reconnect buys no fresh burst).
    pace: Arc<Mutex<Pace>>,
    /// Whether this stream was slowed yet (noted once a stream).
    paced: AtomicBool,
    report_tickets_per_hour: u32,
    help_base: Arc<str>,
    /// To nudge other devices a fix's next step asks (an incident's devices after its canary).
    sessions: Arc<Sessions>,
    /// The fleet config the agent runs and what this stream pushed.
    config: Mutex<ConfigSent>,
}

/// Where a stream stands with the device's fleet config.
#[derive(Debug, Default)]
struct ConfigSent {
    /// The version the agent says it runs.
    running: String,
    /// The version last pushed on this stream (not pushed again until something changes).
    pushed: Option<String>,
    /// The groups' and policies' generation the push was worked out at.
    generation: Option<i64>,
    /// The version the agent last said it refused.
    refused: Option<String>,
}

impl Session {
    async fn run(
        &self,
        mut inbound: Streaming<pb::AgentMessage>,
        mut superseded: oneshot::Receiver<Status>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), Status> {
        let mut next = async || -> Result<Option<Incoming>, Status> {
            tokio::select! {
                message = tokio::time::timeout(self.idle_timeout, inbound.message()) => match message {
                    Err(_) => Err(Status::deadline_exceeded(format!(
                        "no message for {}s; closing the stream", self.idle_timeout.as_secs()
                    ))),
                    Ok(Err(status)) => Err(status),
                    Ok(Ok(None)) => Ok(None),
                    Ok(Ok(Some(pb::AgentMessage { body: None }))) => {
                        Err(Status::invalid_argument("received a message with no body"))
                    }
                    Ok(Ok(Some(pb::AgentMessage { body: Some(body) }))) => Ok(Some(Incoming::Message(Box::new(body)))),
                },
                () = self.nudge.notified() => Ok(Some(Incoming::Nudge)),
                ended = &mut superseded => Err(ended.unwrap_or_else(|_| Status::aborted("the session was ended"))),
                _ = shutdown.wait_for(|stop| *stop) => Err(Status::unavailable("the collector is shutting down")),
            }
        };

        let first = loop {
            match next().await? {
                // Nothing to deliver before the Welcome.
                Some(Incoming::Nudge) => continue,
                Some(Incoming::Message(body)) => break Some(*body),
                None => break None,
            }
        };
        let acked_sequence = match first {
            Some(Body::Hello(hello)) => {
                if hello.protocol_version != firstline_proto::PROTOCOL_VERSION {
                    return Err(Status::failed_precondition(format!(
                        "the agent speaks protocol version {}; this collector speaks {}",
                        hello.protocol_version,
                        firstline_proto::PROTOCOL_VERSION
                    )));
                }
                tracing::debug!(device = %self.device_id, agent_version = %hello.agent_version, "hello");
                // A version is a short digest; anything else is no version the collector made.
                if hello.config_version.len() <= 128 {
                    self.config_sent().running.clone_from(&hello.config_version);
                }
                // While the store cannot commit, an agent would only send what cannot be
                // stored: ask it to come back later (it keeps its findings), without a word in
                // the log per device — the store's health says it once.
                let health = self.store.health().report();
                if !health.writable {
                    return Err(store_busy(if health.disk_full.is_some() {
                        "its disk is full"
                    } else {
                        "its database cannot be written"
                    }));
                }
                Some(hello.acked_sequence)
            }
            None => return Ok(()),
            Some(_) => {
                return Err(Status::failed_precondition(
                    "the first message on the stream must be a Hello",
                ));
            }
        };
        let committed = self
            .store
            .device(&self.device_id)
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?
            .map(|device| device.committed_sequence)
            .unwrap_or(0);
        if let Some(acked) = acked_sequence.filter(|acked| *acked > committed) {
            self.sequence_gap(committed, acked).await;
        }
        let heartbeat_secs = u32::try_from(self.heartbeat_interval.as_secs()).unwrap_or(u32::MAX);
        self.send(wire::welcome(&self.device_id, committed, heartbeat_secs))
            .await?;
        // Requests that waited while the device was away, or were sent on a stream that broke
        // before the answer came; the fleet config, when the agent runs another.
        self.deliver_config(true).await?;
        self.deliver_reproduce(true).await?;

        while let Some(incoming) = next().await? {
            let body = match incoming {
                Incoming::Nudge => {
                    self.deliver_config(false).await?;
                    self.deliver_reproduce(false).await?;
                    continue;
                }
                Incoming::Message(body) => *body,
            };
            match body {
                Body::Hello(_) => {
                    return Err(Status::failed_precondition(
                        "Hello was sent twice on one stream",
                    ));
                }
                Body::Inventory(inventory) => {
                    let inventory = Inventory::try_from(inventory)
                        .map_err(|e| Status::invalid_argument(format!("inventory refused: {e}")))?;
                    self.store
                        .store_inventory(&self.device_id, &inventory, now_ms())
                        .await
                        .map_err(|e| store_unavailable(&self.device_id, e))?;
                    let most = crate::budget::MAX_SCOPES_PER_KIND;
                    if inventory.gateways.len() > most || inventory.dns_servers.len() > most {
                        self.over_budget(format!(
                            "reported {} gateways and {} DNS servers: only the first {most} of each group it with other devices",
                            inventory.gateways.len(),
                            inventory.dns_servers.len()
                        ))
                        .await;
                    }
                    tracing::debug!(device = %self.device_id, hostname = %inventory.hostname, "inventory stored");
                    // A new site or hostname may put the device in other groups.
                    self.deliver_config(true).await?;
                }
                Body::Findings(batch) => self.ingest_findings(batch).await?,
                Body::Heartbeat(heartbeat) => {
                    self.metrics.heartbeat_received();
                    // An implausible self-report is dropped, not the stream: the beat still
                    // says the device is alive, and its findings keep flowing.
                    let health = AgentHealth::try_from(heartbeat).unwrap_or_else(|e| {
                        tracing::warn!(device = %self.device_id, error = %e, "heartbeat's agent health refused; keeping the beat");
                        AgentHealth::default()
                    });
                    // With the findings' group commit: thousands of agents beat every interval,
                    // and one transaction (one disk flush) takes all the beats that queued.
                    let committed = self
                        .committer
                        .commit(FindingBatch::heartbeat(&self.device_id, health, now_ms()))
                        .await
                        .map_err(|e| commit_failed(&self.device_id, e))?;
                    // Answered with an ack of what is committed (nothing new to an agent) and
                    // our clock, so the agent measures its skew every heartbeat, not only when
                    // it connects: a clock stepped mid-session is a finding within a beat.
                    self.send(wire::ack(committed, Vec::new())).await?;
                    // Another collector may have queued a request for this device, or changed
                    // a policy.
                    self.deliver_config(false).await?;
                    self.deliver_reproduce(false).await?;
                }
                Body::HelpLinkRequest(request) => self.answer_help_link(request).await?,
                Body::ConfigStatus(status) => {
                    let report = wire::config_report(status).map_err(|e| {
                        Status::invalid_argument(format!("config status refused: {e}"))
                    })?;
                    if let Some(error) = &report.error {
                        tracing::warn!(device = %self.device_id, refused = ?report.refused_version, %error, "the agent refused its fleet config");
                    }
                    {
                        let mut sent = self.config_sent();
                        sent.running = report.version.clone().unwrap_or_default();
                        sent.refused.clone_from(&report.refused_version);
                    }
                    self.store
                        .record_config_report(&self.device_id, &report, now_ms())
                        .await
                        .map_err(|e| store_unavailable(&self.device_id, e))?;
                }
                Body::FixResult(result) => self.record_fix_result(result).await?,
                Body::ReproduceResult(result) => {
                    let result = wire::ReproduceAnswer::try_from(result).map_err(|e| {
                        Status::invalid_argument(format!("reproduce result refused: {e}"))
                    })?;
                    let recorded = self
                        .store
                        .complete_reproduce(
                            &self.device_id,
                            &result.request_id,
                            result.result_json.as_deref(),
                            result.error.as_deref(),
                            now_ms(),
                        )
                        .await
                        .map_err(|e| store_unavailable(&self.device_id, e))?;
                    if recorded {
                        tracing::info!(device = %self.device_id, request = %result.request_id, "reproduce result recorded");
                    } else {
                        tracing::warn!(device = %self.device_id, request = %result.request_id, "reproduce result for no open request of this device; ignored");
                    }
                }
            }
        }
        Ok(())
    }

    fn config_sent(&self) -> std::sync::MutexGuard<'_, ConfigSent> {
        self.config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pushes the device its fleet config when it runs another and this stream has not
    /// pushed it yet. Worked out again when `fresh` or when groups or policies changed (any
    /// collector's change: the generation is the database's).
    async fn deliver_config(&self, fresh: bool) -> Result<(), Status> {
        let generation = self
            .store
            .fleet_generation()
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?;
        if !fresh && self.config_sent().generation == Some(generation) {
            return Ok(());
        }
        let Some(config) = self
            .store
            .effective_config(&self.device_id)
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?
        else {
            return Ok(());
        };
        let (push, stale_refusal) = {
            let mut sent = self.config_sent();
            sent.generation = Some(generation);
            let due = config.version != sent.running
                && sent.pushed.as_deref() != Some(config.version.as_str());
            if due {
                sent.pushed = Some(config.version.clone());
            }
            // A refusal of a version no longer wanted (rolled back) says nothing any more.
            let stale = config.version == sent.running
                && sent
                    .refused
                    .as_ref()
                    .is_some_and(|refused| *refused != config.version);
            if stale {
                sent.refused = None;
            }
            (due, stale.then(|| sent.running.clone()))
        };
        if let Some(running) = stale_refusal {
            let report = crate::store::fleet::ConfigReport {
                version: Some(running),
                ..Default::default()
            };
            self.store
                .record_config_report(&self.device_id, &report, now_ms())
                .await
                .map_err(|e| store_unavailable(&self.device_id, e))?;
        }
        if push {
            tracing::info!(device = %self.device_id, version = %config.version, policies = ?config.policies, "pushing the fleet config");
            self.send(wire::config_push(&config)).await?;
        }
        Ok(())
    }

    /// Sends the device its waiting reproduce requests (`resend`: also those sent on an
    /// earlier stream without an answer).
    async fn deliver_reproduce(&self, resend: bool) -> Result<(), Status> {
        self.deliver_notices().await?;
        self.deliver_fixes(resend).await?;
        let requests = self
            .store
            .take_reproduce(&self.device_id, resend, now_ms())
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?;
        for request in requests {
            tracing::info!(device = %self.device_id, request = %request.id, playbook = %request.playbook, "sending a reproduce request");
            self.send(wire::reproduce(&request)).await?;
        }
        Ok(())
    }

    /// Sends the device its waiting fix requests (`resend`: also those sent on an earlier
    /// stream without an answer; the agent answers a re-sent id without running it again).
    async fn deliver_fixes(&self, resend: bool) -> Result<(), Status> {
        let runs = self
            .store
            .take_fixes(&self.device_id, resend, now_ms())
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?;
        for run in runs {
            tracing::info!(device = %self.device_id, request = %run.id, fix = %run.fix, "sending a fix request");
            self.send(wire::fix(&run)).await?;
        }
        Ok(())
    }

    /// What the device answered to a fix request: on the ticket's timeline, then the
    /// rollout's next step (resolve, escalate, or ask more devices). An answer to no request
    /// of this device is logged and ignored; one that cannot be read ends the stream.
    async fn record_fix_result(&self, result: pb::FixResult) -> Result<(), Status> {
        let answer = wire::FixAnswer::try_from(result)
            .map_err(|e| Status::invalid_argument(format!("fix result refused: {e}")))?;
        let now = now_ms();
        let recorded = self
            .store
            .complete_fix(
                &self.device_id,
                &answer.request_id,
                &answer.outcome,
                answer.report_json.as_deref(),
                answer.error.as_deref(),
                now,
            )
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?;
        let Some((ticket_id, fix)) = recorded else {
            tracing::warn!(device = %self.device_id, request = %answer.request_id, "fix result for no open request of this device; ignored");
            return Ok(());
        };
        tracing::info!(device = %self.device_id, request = %answer.request_id, fix = %fix, outcome = %answer.outcome, ticket = ticket_id, "fix result recorded");
        // The next step is the sweep's too: a failure here is retried there.
        match self.store.advance_fix(ticket_id, &fix, now).await {
            Ok(advanced) => {
                for device in &advanced.nudge {
                    self.sessions.nudge(device);
                }
            }
            Err(e) => {
                tracing::warn!(device = %self.device_id, ticket = ticket_id, fix = %fix, error = %e, "advancing a fix failed; the sweep retries");
            }
        }
        Ok(())
    }

    /// Desktop notices for this device's users (a reply, a fix to confirm), sent once.
    async fn deliver_notices(&self) -> Result<(), Status> {
        let notices = self
            .store
            .take_user_notices(&self.device_id, now_ms())
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?;
        for notice in notices {
            tracing::info!(device = %self.device_id, notice = %notice.id, kind = %notice.kind, "sending a notice for a user");
            self.send(wire::notice(&notice)).await?;
        }
        Ok(())
    }

    /// A user of the device clicked "Get IT help": a single-use link for them. A request the
    /// collector cannot honour is answered with the reason, never by ending the stream.
    async fn answer_help_link(&self, request: pb::HelpLinkRequest) -> Result<(), Status> {
        let request = match wire::HelpLinkAsk::try_from(request) {
            Ok(request) => request,
            Err((request_id, why)) => {
                tracing::warn!(device = %self.device_id, error = %why, "help link request refused");
                return self.send(wire::help_link_refused(&request_id, &why)).await;
            }
        };
        let now = now_ms();
        let created = self
            .store
            .create_help_link(
                &self.device_id,
                &request.account,
                request.uid,
                request.lang,
                now,
            )
            .await
            .map_err(|e| store_unavailable(&self.device_id, e))?;
        let answer = match created {
            Some(token) => {
                tracing::info!(device = %self.device_id, account = %request.account, "help link issued");
                wire::help_link(
                    &request.request_id,
                    &format!("{}/help/link/{token}", self.help_base),
                    now + crate::store::help::LINK_TTL_MS,
                )
            }
            None => {
                tracing::warn!(device = %self.device_id, "too many help links asked for; refused");
                wire::help_link_refused(
                    &request.request_id,
                    "this computer asked for too many help links; try again in a few minutes",
                )
            }
        };
        self.send(answer).await
    }

    async fn ingest_findings(&self, batch: pb::FindingBatch) -> Result<(), Status> {
        self.metrics.findings_received(batch.findings.len());
        if batch.findings.len() > wire::MAX_FINDINGS_PER_BATCH {
            self.metrics
                .findings_refused(RefusalReason::TooLarge, batch.findings.len());
            return Err(Status::invalid_argument(format!(
                "a batch of {} findings exceeds the limit of {}",
                batch.findings.len(),
                wire::MAX_FINDINGS_PER_BATCH
            )));
        }
        let mut accepted: Vec<Finding> = Vec::with_capacity(batch.findings.len());
        let mut refused = Vec::new();
        let mut highest = 0;
        for finding in batch.findings {
            let sequence = finding.sequence;
            match Finding::try_from(finding) {
                Ok(finding) => accepted.push(finding),
                // A finding with an unusable sequence cannot even be acknowledged.
                Err(e) if e.field == "sequence" => {
                    self.metrics
                        .findings_refused(RefusalReason::InvalidSequence, 1);
                    return Err(Status::invalid_argument(format!("finding refused: {e}")));
                }
                Err(e) => {
                    tracing::warn!(device = %self.device_id, sequence, error = %e, "finding refused");
                    self.metrics.findings_refused(e.problem.into(), 1);
                    refused.push((sequence, e.to_string()));
                }
            }
            highest = highest.max(sequence);
        }
        if highest == 0 {
            return Ok(());
        }
        let mut accepted = self.within_budget(accepted, &mut refused).await?;
        // In chunks, each its own turn in the group commit: another device's batch waits for
        // one chunk's decisions at most, never for a whole flood of them. In sequence order,
        // so each chunk can acknowledge through its last finding.
        accepted.sort_by_key(|finding| finding.sequence);
        let committed = loop {
            let rest = accepted.split_off(accepted.len().min(COMMIT_CHUNK));
            let chunk = std::mem::replace(&mut accepted, rest);
            let last = accepted.is_empty();
            let through = if last {
                highest
            } else {
                chunk.last().map_or(highest, |finding| finding.sequence)
            };
            let (wait, rate, burst) = {
                let mut pace = lock(&self.pace);
                let wait = pace.pace(chunk.len(), std::time::Instant::now());
                (wait, pace.rate_per_second(), pace.burst())
            };
            if !wait.is_zero() {
                // Slowed, not refused: the agent keeps the findings until the ack, and other
                // devices' batches go ahead meanwhile. Noted once a stream.
                if !self.paced.swap(true, Ordering::Relaxed) {
                    self.over_budget(format!(
                        "sent findings faster than its budget of {rate} per second (after a burst of {burst}): its acks are slowed"
                    ))
                    .await;
                }
                tokio::time::sleep(wait.min(MAX_PACING_WAIT)).await;
            }
            let commit_started = std::time::Instant::now();
            let committed = match self.commit_chunk(chunk.clone(), through).await {
                Err(crate::commit::CommitError::Store(e)) if e.is_data_error() => {
                    self.commit_around_poison(chunk, through, &mut refused)
                        .await?
                }
                outcome => outcome.map_err(|e| commit_failed(&self.device_id, e))?,
            };
            self.metrics.commit_took(commit_started.elapsed());
            if last {
                break committed;
            }
        };
        // Only now, after the commit, may the agent forget these findings.
        self.send(wire::ack(committed, refused)).await
    }

    async fn commit_chunk(
        &self,
        findings: Vec<Finding>,
        through: u64,
    ) -> Result<u64, crate::commit::CommitError> {
        self.committer
            .commit(FindingBatch {
                device_id: self.device_id.clone(),
                findings,
                acknowledged_through: through,
                received_at_ms: now_ms(),
                health: None,
            })
            .await
    }

    /// The database refused a chunk for what is in it: each finding goes alone, and one the
    /// database still refuses is refused to the agent (which then stops resending it) instead
    /// of failing every commit and wedging the device's queue behind it.
    async fn commit_around_poison(
        &self,
        chunk: Vec<Finding>,
        through: u64,
        refused: &mut Vec<(u64, String)>,
    ) -> Result<u64, Status> {
        let mut committed = 0;
        for finding in chunk {
            let sequence = finding.sequence;
            match self.commit_chunk(vec![finding], sequence).await {
                Ok(sequence) => committed = sequence,
                Err(crate::commit::CommitError::Store(e)) if e.is_data_error() => {
                    tracing::error!(device = %self.device_id, sequence, error = %e, "the database refuses this finding; refusing it to the agent");
                    self.metrics
                        .findings_refused(RefusalReason::InvalidField, 1);
                    refused.push((
                        sequence,
                        format!("the collector's database refuses it: {e}"),
                    ));
                }
                Err(e) => return Err(commit_failed(&self.device_id, e)),
            }
        }
        // What was refused is acknowledged with the rest.
        self.commit_chunk(Vec::new(), through)
            .await
            .map(|sequence| sequence.max(committed))
            .map_err(|e| commit_failed(&self.device_id, e))
    }

    fn budget(&self) -> std::sync::MutexGuard<'_, DeviceBudget> {
        lock(&self.budget)
    }

    /// `accepted` without the findings over the device's budgets (new conditions past its
    /// count, reports past its hourly number), which go to `refused` with the reason.
    async fn within_budget(
        &self,
        accepted: Vec<Finding>,
        refused: &mut Vec<(u64, String)>,
    ) -> Result<Vec<Finding>, Status> {
        if !self.budget().knows_conditions() {
            let to_load = self.budget().conditions_to_load();
            let known = self
                .store
                .condition_keys(&self.device_id, to_load)
                .await
                .map_err(|e| store_unavailable(&self.device_id, e))?;
            self.budget().set_known_conditions(known);
        }
        let mut report_room = if accepted.iter().any(|f| f.check == USER_REPORT) {
            let opened = self
                .store
                .report_tickets_since(&self.device_id, now_ms() - 3_600_000)
                .await
                .map_err(|e| store_unavailable(&self.device_id, e))?;
            u64::from(self.report_tickets_per_hour).saturating_sub(opened)
        } else {
            0
        };
        let max_conditions = self.budget().max_conditions();
        let mut kept = Vec::with_capacity(accepted.len());
        let mut first_note = None;
        let before = refused.len();
        for finding in accepted {
            let reason = if finding.check == USER_REPORT {
                if report_room == 0 {
                    first_note.get_or_insert_with(|| {
                        format!(
                            "went over its budget of {} reports per hour ([limits] device_report_tickets_per_hour): more are refused",
                            self.report_tickets_per_hour
                        )
                    });
                    Some(format!(
                        "over the device's budget of {} reports per hour ([limits] device_report_tickets_per_hour)",
                        self.report_tickets_per_hour
                    ))
                } else {
                    report_room -= 1;
                    None
                }
            } else {
                let verdict = self
                    .budget()
                    .admit_condition(&finding.check, &finding.resource);
                let admitted = match verdict {
                    Some(admitted) => admitted,
                    // Past the budget already (it was lowered): an existing condition of the
                    // device's still passes, so its tickets can still resolve.
                    None => self
                        .store
                        .condition_exists(&self.device_id, &finding.check, &finding.resource)
                        .await
                        .map_err(|e| store_unavailable(&self.device_id, e))?,
                };
                if admitted {
                    None
                } else {
                    first_note.get_or_insert_with(|| {
                        format!(
                            "went over its budget of {max_conditions} conditions ([limits] device_conditions): findings for new ones are refused"
                        )
                    });
                    Some(format!(
                        "over the device's budget of {max_conditions} conditions ([limits] device_conditions): {} on {:.80} would be a new one",
                        finding.check, finding.resource
                    ))
                }
            };
            match reason {
                None => kept.push(finding),
                Some(reason) => refused.push((finding.sequence, reason)),
            }
        }
        let over = refused.len() - before;
        if let Some(note) = first_note {
            self.metrics
                .findings_refused(RefusalReason::OverBudget, over);
            tracing::warn!(device = %self.device_id, refused = over, %note, "findings over the device's budget refused");
            self.over_budget(note).await;
        }
        Ok(kept)
    }

    /// Notes on the device's page that it went over a budget (once per different note).
    async fn over_budget(&self, note: String) {
        match self
            .store
            .note_over_budget(&self.device_id, &note, now_ms())
            .await
        {
            Ok(true) => tracing::warn!(device = %self.device_id, %note, "device over its budget"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(device = %self.device_id, error = %e, "noting a device over its budget")
            }
        }
    }

    /// The agent was acknowledged findings up to `acked` but the database holds them only up
    /// to `committed`: the database lost findings (a restored backup, a lost WAL). The device
    /// carries on (its next findings follow its own counter); the loss is raised once, loudly:
    /// logged, counted in `/metrics`, and shown to admins.
    async fn sequence_gap(&self, committed: u64, acked: u64) {
        let missing = acked - committed;
        let hostname = match self.store.device(&self.device_id).await {
            Ok(Some(device)) => device.hostname,
            _ => String::new(),
        };
        let detail = format!(
            "The database no longer holds {missing} finding(s) it had acknowledged to device {device} ({hostname}): \
             sequences {first} to {acked}. The database was restored from an older backup or lost recent \
             writes (a deleted or damaged -wal file, a failed-over server without them). Those findings \
             cannot be sent again; check the device's page for what it reports now, and the database's \
             storage and backups.",
            device = self.device_id,
            first = committed + 1,
        );
        let alert = crate::store::alerts::NewAlert {
            kind: "sequence_gap",
            device_id: Some(&self.device_id),
            detail: &detail,
            dedupe_key: &format!("sequence_gap:{}:{acked}", self.device_id),
        };
        match self.store.raise_alert(&alert, now_ms()).await {
            Ok(true) => {
                self.metrics.sequence_gap(missing);
                tracing::error!(
                    device = %self.device_id,
                    hostname = %hostname,
                    committed_sequence = committed,
                    acked_sequence = acked,
                    missing_findings = missing,
                    "the database lost findings it had acknowledged to this device"
                );
            }
            Ok(false) => {}
            Err(e) => tracing::error!(
                device = %self.device_id,
                committed_sequence = committed,
                acked_sequence = acked,
                error = %e,
                "the database lost findings it had acknowledged to this device (raising the alert failed)"
            ),
        }
    }

    async fn send(&self, message: pb::CollectorMessage) -> Result<(), Status> {
        match tokio::time::timeout(SEND_TIMEOUT, self.outbound.send(Ok(message))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Status::cancelled("the agent went away")),
            Err(_) => Err(Status::deadline_exceeded(
                "the agent stopped reading the stream",
            )),
        }
    }
}

/// A commit that failed: a device revoked meanwhile (anywhere) is cut off; anything else is
/// the store's trouble, and the agent resends.
fn commit_failed(device_id: &str, error: crate::commit::CommitError) -> Status {
    match &error {
        crate::commit::CommitError::Store(crate::store::StoreError::DeviceRevoked { .. }) => {
            tracing::warn!(device = %device_id, "device revoked; ending its stream");
            Status::permission_denied(format!(
                "the certificate of device {device_id} was revoked; enroll again"
            ))
        }
        // The store's health logs this once; every device hearing it would be a flood.
        crate::commit::CommitError::Store(store) if store.is_storage_failure() => {
            tracing::debug!(device = %device_id, error = %error, "commit failed; asking the agent to come back later");
            store_busy(if store.is_disk_full() {
                "its disk is full"
            } else {
                "its database cannot be written"
            })
        }
        // A write that stalled and was given up (a lock or statement timeout, a lost or
        // killed session): retried already; the agent waits a little before resending.
        crate::commit::CommitError::Store(crate::store::StoreError::Abandoned { .. }) => {
            tracing::warn!(device = %device_id, error = %error, "commit abandoned; asking the agent to come back later");
            store_busy("its database did not answer in time")
        }
        _ => store_unavailable(device_id, error),
    }
}

/// How long an agent is asked to wait while the store cannot commit: long enough that a
/// fleet reconnecting does not keep a struggling collector busy, short enough that findings
/// flow soon after the disk has room (the agent adds up to half again, at random).
const STORE_RETRY_AFTER_SECS: u64 = 15;

/// `UNAVAILABLE` with [`firstline_proto::RETRY_AFTER_METADATA`]: the agent keeps its findings
/// and comes back after the pause; not a refusal.
fn store_busy(why: &str) -> Status {
    let mut status = Status::unavailable(format!(
        "the collector cannot store findings right now ({why}); keep them and retry in {STORE_RETRY_AFTER_SECS}s"
    ));
    status.metadata_mut().insert(
        firstline_proto::RETRY_AFTER_METADATA,
        tonic::metadata::MetadataValue::from(STORE_RETRY_AFTER_SECS),
    );
    status
}

fn store_unavailable(device_id: &str, error: impl std::fmt::Display) -> Status {
    tracing::error!(device = %device_id, error = %error, "store error on the telemetry stream");
    Status::unavailable("the collector's store is unavailable; reconnect and resend")
}
