//! `serve`: opens the data dir (CA, database), binds the gRPC and HTTP listeners and runs both
//! until asked to stop. Tests start it in-process on `127.0.0.1:0`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use firstline_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::commit::Committer;
use crate::config::Settings;
use crate::connections::{self, Gate, GateLimits, GatedListener, GuardedStream};
use crate::enrollment::EnrollmentService;
use crate::http::{self, HttpState};
use crate::ingest::{Sessions, TelemetryService};
use crate::metrics::Metrics;
use crate::pki::{self, CertificateAuthority, PkiError};
use crate::store::{Store, StoreError};

/// Largest message an agent may send; findings are far smaller, this bounds hostile input.
/// Agents keep their batches well under this (they aim for 512 KiB).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// How often the ticket sweep runs (stale devices, settled flapping, SLA breaches).
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// How often automatic fixes start and rollouts take their next step (an answer from a
/// device advances its rollout at once; this catches the rest).
const FIX_PLAN_INTERVAL: Duration = Duration::from_secs(5);
/// How often the retention pass prunes what `[retention]` no longer keeps; the first pass
/// waits `RETENTION_FIRST_PASS_AFTER`, past the reconnect storm of a start.
const RETENTION_INTERVAL: Duration = Duration::from_secs(600);
const RETENTION_FIRST_PASS_AFTER: Duration = Duration::from_secs(60);
/// After the collector starts (or its store comes back), no device is called silent for this
/// long: twice the agents' longest reconnect backoff (60 s by default), so every agent that is
/// up has reconnected.
pub const STARTUP_GRACE: Duration = Duration::from_secs(120);
/// How often the store's health is probed with a small write: quickly while commits fail (so
/// agents are let back in as soon as there is room), and now and then while they succeed (so
/// a full disk shows on /healthz even when no agent sends).
const HEALTH_PROBE_FAILING: Duration = Duration::from_secs(2);
const HEALTH_PROBE_HEALTHY: Duration = Duration::from_secs(15);
/// A probe write that takes longer than this counts as failed.
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How often live streams are checked against revocations made through other collectors.
const REVOCATION_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// How long a graceful stop waits for in-flight requests before dropping connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("creating data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("listening for {what} on {address}: {source}")]
    Bind {
        what: &'static str,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("configuring TLS: {0}")]
    Tls(tonic::transport::Error),
    #[error("gRPC server: {0}")]
    Grpc(tonic::transport::Error),
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
}

/// Opens the data dir (created 0700: the CA key lives there) with its CA, and the store:
/// PostgreSQL when `database_url` is set, otherwise SQLite in the data dir.
pub async fn open_data_dir(
    settings: &Settings,
) -> Result<(Store, CertificateAuthority), ServeError> {
    let data_dir = &settings.data_dir;
    let error = |source| ServeError::DataDir {
        path: data_dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(error)?;
    }
    let authority = CertificateAuthority::load_or_create(data_dir)?;
    let store = open_store(settings).await?;
    Ok((store, authority))
}

/// The store the settings name: PostgreSQL when `database_url` is set, else SQLite in the
/// data dir (which is created if needed).
pub async fn open_store(settings: &Settings) -> Result<Store, ServeError> {
    match &settings.database_url {
        Some(url) => Ok(Store::connect_postgres(url)
            .await?
            .with_policy(settings.tickets.clone())
            .with_fix_policy(settings.fixes.clone())),
        None => {
            std::fs::create_dir_all(&settings.data_dir).map_err(|source| ServeError::DataDir {
                path: settings.data_dir.clone(),
                source,
            })?;
            Ok(Store::open(&settings.data_dir)
                .await?
                .with_policy(settings.tickets.clone())
                .with_fix_policy(settings.fixes.clone()))
        }
    }
}

/// A collector started in this process.
#[derive(Debug)]
pub struct RunningCollector {
    pub grpc_address: SocketAddr,
    pub http_address: SocketAddr,
    pub data_dir: PathBuf,
    pub ca_pem: String,
    pub store: Store,
    pub sessions: Arc<Sessions>,
    stop: watch::Sender<bool>,
    grpc_task: JoinHandle<Result<(), ServeError>>,
    http_task: JoinHandle<Result<(), ServeError>>,
}

impl RunningCollector {
    /// Asks both servers to stop, waits for them a short while, then drops what is left.
    pub async fn stop(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        let mut grpc_task = self.grpc_task;
        let mut http_task = self.http_task;
        let both = async {
            (
                Self::join(&mut grpc_task).await,
                Self::join(&mut http_task).await,
            )
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, both).await {
            Ok((grpc, http)) => grpc.and(http),
            Err(_) => {
                tracing::warn!("connections still open after the grace period; abandoning them");
                grpc_task.abort();
                http_task.abort();
                Ok(())
            }
        }
    }

    /// Runs until either server fails or `stop_signal` resolves.
    pub async fn run_until(
        self,
        stop_signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let mut grpc_task = self.grpc_task;
        let mut http_task = self.http_task;
        let stop = self.stop;
        tokio::select! {
            () = stop_signal => {
                tracing::info!("stopping");
                let rebuilt = RunningCollector { grpc_task, http_task, stop, ..self };
                rebuilt.stop().await
            }
            outcome = Self::join(&mut grpc_task) => { http_task.abort(); outcome }
            outcome = Self::join(&mut http_task) => { grpc_task.abort(); outcome }
        }
    }

    async fn join(task: &mut JoinHandle<Result<(), ServeError>>) -> Result<(), ServeError> {
        match task.await {
            Ok(outcome) => outcome,
            Err(e) if e.is_cancelled() => Ok(()),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// Starts the collector described by `settings` and returns once both listeners are bound.
pub async fn start(settings: &Settings) -> Result<RunningCollector, ServeError> {
    raise_open_file_limit();
    let (store, authority) = open_data_dir(settings).await?;
    let ca_pem = authority.ca_pem().to_owned();
    let (server_cert_pem, server_key_pem) =
        authority.server_certificate(&settings.data_dir, &settings.server_names)?;
    let authority = Arc::new(authority);

    let grpc_listener = TcpListener::bind(settings.grpc_listen)
        .await
        .map_err(|source| ServeError::Bind {
            what: "gRPC",
            address: settings.grpc_listen,
            source,
        })?;
    let http_listener = TcpListener::bind(settings.http_listen)
        .await
        .map_err(|source| ServeError::Bind {
            what: "HTTP",
            address: settings.http_listen,
            source,
        })?;
    let local = |listener: &TcpListener, what, address| {
        listener.local_addr().map_err(|source| ServeError::Bind {
            what,
            address,
            source,
        })
    };
    let grpc_address = local(&grpc_listener, "gRPC", settings.grpc_listen)?;
    let http_address = local(&http_listener, "HTTP", settings.http_listen)?;
    // Where people's browsers reach us: help links point there.
    let public_url: Arc<str> = match &settings.public_url {
        Some(url) => url.as_str().into(),
        None if http_address.ip().is_unspecified() => {
            tracing::warn!(http = %http_address, "public_url is not set: help links name localhost and work only on this machine; set public_url to the address people's browsers reach this collector at");
            format!("http://localhost:{}", http_address.port()).into()
        }
        None => format!("http://{http_address}").into(),
    };

    let (stop, stop_watch) = watch::channel(false);
    let sessions = Arc::new(Sessions::default());
    let metrics = Metrics::new(
        settings
            .channels
            .iter()
            .map(|channel| channel.name.clone())
            .collect(),
        settings.metrics_token.clone(),
    );
    metrics.set_ticket_systems(
        settings
            .ticket_systems
            .iter()
            .map(|system| system.name.clone())
            .collect(),
    );

    // The chain includes the CA: an agent holding only a token checks it against the pin.
    // One TLS port: enrollment needs only server authentication (the agent has no certificate
    // yet), the telemetry stream requires a client certificate from our CA and refuses without.
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(
            format!("{server_cert_pem}{ca_pem}"),
            server_key_pem,
        ))
        .client_ca_root(Certificate::from_pem(&ca_pem))
        .client_auth_optional(true)
        .timeout(Duration::from_secs(10));
    let limits = &settings.limits;
    let grpc_gate = Gate::new(
        "grpc",
        GateLimits {
            total: limits.connections,
            per_address: limits.connections_per_address,
            exempt: Vec::new(),
            first_request_within: Some(limits.first_request_within),
            idle: None,
            lifetime: None,
        },
        metrics.clone(),
    );
    let http_gate = Gate::new(
        "http",
        GateLimits {
            total: limits.http_connections,
            per_address: limits.http_connections_per_address,
            // Through a trusted reverse proxy comes everyone.
            exempt: settings.trusted_proxies.clone(),
            first_request_within: None,
            idle: Some(limits.http_idle),
            lifetime: Some(limits.http_lifetime),
        },
        metrics.clone(),
    );
    let enrollment = pb::enrollment_server::EnrollmentServer::new(EnrollmentService::new(
        store.clone(),
        authority.clone(),
        Some(grpc_gate.clone()),
    ))
    .max_decoding_message_size(64 * 1024);
    let committer = if settings.discard_findings {
        tracing::warn!("findings are acknowledged WITHOUT being stored (benchmark baseline)");
        Committer::discarding()
    } else {
        Committer::start(store.clone())
    };
    let telemetry = pb::telemetry_server::TelemetryServer::new(
        TelemetryService::new(
            store.clone(),
            committer,
            sessions.clone(),
            metrics.clone(),
            settings.heartbeat_interval,
            stop_watch.clone(),
        )
        .with_gate(grpc_gate.clone())
        .with_limits(settings.limits.clone())
        .with_help_base(public_url.clone()),
    )
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let grpc = Server::builder()
        .tls_config(tls)
        .map_err(ServeError::Tls)?
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
        // One agent needs one stream; a handful leaves room for enrollment retries.
        .concurrency_limit_per_connection(8)
        .http2_max_pending_accept_reset_streams(Some(16))
        .add_service(enrollment)
        .add_service(telemetry);
    // Connections pass the gate (caps, the first-request deadline) before TLS starts.
    let (incoming, incoming_stream) =
        tokio::sync::mpsc::channel::<std::io::Result<GuardedStream>>(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = connections::accept(&grpc_listener, &grpc_gate) => accepted.0,
                () = incoming.closed() => return,
            };
            if let Err(e) = accepted.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY");
            }
            if incoming.send(Ok(accepted)).await.is_err() {
                return;
            }
        }
    });
    let mut grpc_stop = stop_watch.clone();
    let grpc_task = tokio::spawn(async move {
        grpc.serve_with_incoming_shutdown(
            tokio_stream::wrappers::ReceiverStream::new(incoming_stream),
            async move {
                let _ = grpc_stop.wait_for(|stop| *stop).await;
            },
        )
        .await
        .map_err(ServeError::Grpc)
    });

    if settings.retention.prunes_anything() {
        tokio::spawn(prune_history(
            store.clone(),
            settings.retention.clone(),
            metrics.clone(),
            stop_watch.clone(),
        ));
    }
    let app = http::router(HttpState {
        sync_hooks: settings
            .ticket_systems
            .iter()
            .filter_map(|system| {
                let token = system.webhook_token.clone()?;
                Some((system.name.clone(), token, system.poll_now.clone()))
            })
            .collect(),
        store: store.clone(),
        sessions: sessions.clone(),
        metrics,
        ca_pem: ca_pem.clone(),
        trusted_proxies: settings.trusted_proxies.clone().into(),
        sign_in_holds: Arc::default(),
        public_url: public_url.clone(),
    });
    tokio::spawn(sweep_tickets(store.clone(), stop_watch.clone()));
    tokio::spawn(plan_fixes(
        store.clone(),
        sessions.clone(),
        stop_watch.clone(),
    ));
    tokio::spawn(probe_store_health(store.clone(), stop_watch.clone()));
    tokio::spawn(end_revoked_sessions(
        store.clone(),
        sessions.clone(),
        stop_watch.clone(),
    ));
    tokio::spawn(crate::channels::dispatch(
        store.clone(),
        settings.channels.clone(),
        crate::sync::filters(&settings.ticket_systems),
        stop_watch.clone(),
    ));
    tokio::spawn(crate::sync::run(
        store.clone(),
        settings.ticket_systems.clone(),
        settings.public_url.clone(),
        stop_watch.clone(),
    ));
    let mut http_stop = stop_watch;
    let http_task = tokio::spawn(async move {
        axum::serve(
            // `tap_io` (doing nothing) is how axum hands a custom listener's peer address to
            // `ConnectInfo<SocketAddr>`.
            axum::serve::ListenerExt::tap_io(
                GatedListener {
                    listener: http_listener,
                    gate: http_gate,
                },
                |_: &mut GuardedStream| {},
            ),
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|stop| *stop).await;
        })
        .await
        .map_err(ServeError::Http)
    });

    if !http_address.ip().is_loopback() {
        tracing::warn!(
            http = %http_address,
            "HTTP listens beyond loopback without TLS: API keys cross the network in the clear; put a TLS proxy in front"
        );
    }
    tracing::info!(
        grpc = %grpc_address,
        http = %http_address,
        data_dir = %settings.data_dir.display(),
        store = store.backend_name(),
        ca = %settings.data_dir.join(pki::CA_CERT_FILE).display(),
        "collector listening"
    );
    Ok(RunningCollector {
        grpc_address,
        http_address,
        data_dir: settings.data_dir.clone(),
        ca_pem,
        store,
        sessions,
        stop,
        grpc_task,
        http_task,
    })
}

/// Runs the fixes' pass every `FIX_PLAN_INTERVAL` until the collector stops: automatic fixes
/// start on the tickets they answer, rollouts take their next step (retries after their
/// backoff, an incident's devices after its canaries), and devices with new requests are
/// nudged. A failed pass is logged and tried again next time.
async fn plan_fixes(store: Store, sessions: Arc<Sessions>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(FIX_PLAN_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if !store.health().report().writable {
            continue;
        }
        match store.plan_fixes(crate::model::now_ms()).await {
            Ok(advanced) => {
                for device in &advanced.nudge {
                    sessions.nudge(device);
                }
            }
            Err(e) => tracing::warn!(error = %e, "fixes pass failed; retrying next interval"),
        }
    }
}

/// Runs the ticket sweep every `SWEEP_INTERVAL` until the collector stops. A failed sweep is
/// logged and tried again next time: nothing it does is lost by waiting.
async fn sweep_tickets(store: Store, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let now_ms = crate::model::now_ms();
        // Silence counts only while the collector could hear: from its start, or from the end
        // of its store's last outage, every device gets the reconnect grace and a whole
        // `stale_after` before it can be called silent.
        let judge_silence = silence_may_be_judged(
            now_ms,
            store.health().report().hearing_since_ms,
            store.policy().stale_after,
        );
        match store.sweep_judging_silence(now_ms, judge_silence).await {
            Ok(report) if report != crate::store::SweepReport::default() => {
                tracing::info!(
                    released = report.holds_released,
                    stale = report.devices_stale,
                    back = report.devices_back,
                    settled = report.conditions_settled,
                    sla_breaches = report.sla_breaches,
                    reproduce_expired = report.reproduce_expired,
                    failed = report.failed,
                    "ticket sweep"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "ticket sweep failed; retrying next interval"),
        }
    }
}

/// Runs the retention pass every `RETENTION_INTERVAL` until the collector stops: what
/// `[retention]` no longer keeps is pruned a batch per short transaction (`store/retention.rs`).
/// A failed pass is logged and counted, and the next one goes on where it stopped; stopping
/// the collector abandons a pass between (or inside, rolled back) its transactions.
async fn prune_history(
    store: Store,
    retention: crate::retention::Retention,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval_at(
        tokio::time::Instant::now() + RETENTION_FIRST_PASS_AFTER,
        RETENTION_INTERVAL,
    );
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if !store.health().report().writable {
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            outcome = store.prune(crate::model::now_ms(), &retention) => outcome,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let took = started.elapsed();
        let (report, failed) = match outcome {
            Ok(report) => (report, false),
            Err(e) => {
                tracing::warn!(error = %e, "retention pass failed; retrying next interval");
                (*e.done, true)
            }
        };
        metrics.retention_ran(&report, took, crate::model::now_ms(), failed);
        if !report.is_empty() {
            tracing::info!(
                findings = report.findings,
                evidence_entries = report.evidence_entries,
                evidence_tickets = report.evidence_tickets,
                notifications = report.notifications,
                deliveries = report.deliveries,
                reproduce_requests = report.reproduce_requests,
                user_notices = report.user_notices,
                transactions = report.transactions,
                took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                "retention pass pruned old history"
            );
        }
    }
}

/// Whether a device may be called silent at `now_ms`, the collector having heard devices since
/// `hearing_since_ms`: not before the reconnect grace has passed, and not before a whole
/// `stale_after` of the collector listening (its outage is not the devices' silence).
fn silence_may_be_judged(now_ms: i64, hearing_since_ms: i64, stale_after: Duration) -> bool {
    let wait = STARTUP_GRACE.max(stale_after);
    now_ms >= hearing_since_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
}

/// Probes the store with a small write (see [`Store::probe_write`]) until the collector stops.
async fn probe_store_health(store: Store, mut stop: watch::Receiver<bool>) {
    let mut last_probe = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep(HEALTH_PROBE_FAILING) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        // Every tick while commits fail (a commit may have failed a moment ago), else now and then.
        if store.health().writable() && last_probe.elapsed() < HEALTH_PROBE_HEALTHY {
            continue;
        }
        last_probe = tokio::time::Instant::now();
        // Bounded: a pool waiting to reconnect backs off for up to its acquire timeout, and a
        // fresh attempt notices a server that came back sooner.
        match tokio::time::timeout(
            HEALTH_PROBE_TIMEOUT,
            store.probe_write(crate::model::now_ms()),
        )
        .await
        {
            Ok(Ok(())) => {}
            // Logged by the health itself, once per outage; this is the detail.
            Ok(Err(e)) => tracing::debug!(error = %e, "store probe write failed"),
            Err(_) => {
                tracing::debug!(
                    timeout_secs = HEALTH_PROBE_TIMEOUT.as_secs(),
                    "store probe write timed out"
                );
                let timed_out = StoreError::Database(sqlx::Error::PoolTimedOut);
                store
                    .health()
                    .record_failure(&timed_out, crate::model::now_ms());
            }
        }
    }
}

/// Ends the live streams of devices revoked through any collector sharing this database:
/// every batch re-checks its device too, but a quiet device sends none for a while.
async fn end_revoked_sessions(
    store: Store,
    sessions: Arc<Sessions>,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(REVOCATION_CHECK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Revocation times come from other collectors' clocks: look back generously (ending a
    // stream that already ended costs nothing).
    let overlap_ms = 120_000;
    let mut since_ms = crate::model::now_ms() - overlap_ms;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let checked_at_ms = crate::model::now_ms();
        match store.revoked_since(since_ms).await {
            Ok(revoked) => {
                for device_id in revoked {
                    if sessions.is_connected(&device_id) {
                        tracing::warn!(device = %device_id, "device revoked; ending its stream");
                        sessions.disconnect_revoked(&device_id);
                    }
                }
                since_ms = checked_at_ms - overlap_ms;
            }
            Err(e) => tracing::warn!(error = %e, "checking for revoked devices failed; retrying"),
        }
    }
}

/// Every connected agent holds a socket: lift the soft limit on open files to the hard one
/// (as Go's runtime and nginx's `worker_rlimit_nofile` do), and say how many agents fit.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            limit.current = limit.maximum;
            if let Err(error) = setrlimit(Resource::Nofile, limit) {
                tracing::warn!(error = %error, "could not raise the open-file limit");
            }
        }
        let open_files = getrlimit(Resource::Nofile).current;
        if open_files.is_some_and(|open_files| open_files < 4096) {
            tracing::warn!(
                open_files = ?open_files,
                "the open-file limit allows only about this many connected agents; raise it (LimitNOFILE= in the unit)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_device_is_called_silent_until_the_collector_has_listened_long_enough() {
        let start = 1_000_000;
        let minute = 60_000;
        // stale_after shorter than the grace: the grace decides.
        let short = Duration::from_secs(30);
        assert!(!silence_may_be_judged(start, start, short));
        assert!(!silence_may_be_judged(start + minute, start, short));
        assert!(silence_may_be_judged(start + 2 * minute, start, short));
        // stale_after longer: a whole stale_after of listening first.
        let long = Duration::from_secs(600);
        assert!(!silence_may_be_judged(start + 5 * minute, start, long));
        assert!(silence_may_be_judged(start + 10 * minute, start, long));
    }
}
