//! Test harness: start collectors and agents, open raw protocol streams, wait on conditions.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use firstline_agent::enroll::{self, EnrollError, EnrollOptions};
use firstline_agent::identity::Identity;
use firstline_agent::uplink::{self, UplinkSettings, UplinkState};
use firstline_collector::config::Settings;
use firstline_collector::server::{self, RunningCollector};
use firstline_proto::v1 as pb;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

/// Generous: CI machines are slow and shared. Waits end as soon as the condition holds.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .init();
    });
}

/// Polls `condition` until it returns Some or the deadline passes.
pub async fn wait_for<T, F, Fut>(what: &str, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A collector in this process with its own data dir, on ephemeral loopback ports.
pub struct TestCollector {
    pub running: Option<RunningCollector>,
    pub settings: Settings,
    _dir: tempfile::TempDir,
}

impl TestCollector {
    pub async fn start() -> Self {
        init_tracing();
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            data_dir: dir.path().join("collector"),
            grpc_listen: "127.0.0.1:0".parse().expect("address"),
            http_listen: "127.0.0.1:0".parse().expect("address"),
            heartbeat_interval: Duration::from_secs(5),
            ..Settings::default()
        };
        let running = server::start(&settings).await.expect("collector starts");
        // Later restarts reuse the ports the first start was given.
        let settings = Settings {
            grpc_listen: running.grpc_address,
            http_listen: running.http_address,
            ..settings
        };
        Self {
            running: Some(running),
            settings,
            _dir: dir,
        }
    }

    pub fn running(&self) -> &RunningCollector {
        self.running.as_ref().expect("collector is running")
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.settings.grpc_listen)
    }

    pub fn ca_path(&self) -> PathBuf {
        self.settings.data_dir.join("ca.pem")
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_path()).expect("ca.pem")
    }

    pub async fn token(&self) -> String {
        firstline_collector::enrollment::create_token(
            &self.running().store,
            Duration::from_secs(600),
        )
        .await
        .expect("token")
        .token
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("collector stops cleanly");
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.running = Some(
            server::start(&self.settings)
                .await
                .expect("collector restarts"),
        );
    }
}

/// Enrolls a fresh state dir under `parent` with `token`.
pub async fn enroll_with(
    collector: &TestCollector,
    token: &str,
    state_dir: &Path,
) -> Result<Identity, EnrollError> {
    enroll::enroll(&EnrollOptions {
        collector_url: collector.url(),
        token: token.to_owned(),
        ca_file: Some(collector.ca_path()),
        state_dir: state_dir.to_owned(),
        force: false,
    })
    .await
}

/// An agent's uplink running in this process, as `firstline-agent run` runs it.
pub struct TestAgent {
    stop: watch::Sender<bool>,
    pub state: watch::Receiver<UplinkState>,
    task: JoinHandle<()>,
}

impl TestAgent {
    pub fn start(identity: Identity) -> Self {
        let (stop, stop_watch) = watch::channel(false);
        let (state_sender, state) = watch::channel(UplinkState::Starting);
        let settings = UplinkSettings {
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(500),
            ..UplinkSettings::default()
        };
        let task = tokio::spawn(uplink::run(identity, settings, stop_watch, state_sender));
        Self { stop, state, task }
    }

    pub async fn wait_connected(&mut self) {
        let deadline = tokio::time::timeout(
            DEADLINE,
            self.state
                .wait_for(|state| matches!(state, UplinkState::Connected { .. })),
        );
        let outcome = deadline.await.map(|waited| waited.is_ok());
        match outcome {
            Ok(true) => {}
            Ok(false) => panic!("agent uplink ended"),
            Err(_) => panic!(
                "agent did not connect within {DEADLINE:?}; last state {:?}",
                *self.state.borrow()
            ),
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("agent stops")
            .expect("agent task");
    }
}

/// A TLS channel to the collector, optionally presenting a client certificate.
pub async fn channel(
    url: &str,
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some((certificate, key)) = client {
        tls = tls.identity(TlsIdentity::from_pem(certificate, key));
    }
    Endpoint::from_shared(url.to_owned())?
        .tls_config(tls)?
        .connect()
        .await
}

/// A raw `Telemetry.Connect` stream, for speaking the protocol the way a (possibly hostile)
/// agent would.
pub struct RawStream {
    pub outbound: mpsc::Sender<pb::AgentMessage>,
    pub inbound: tonic::Streaming<pb::CollectorMessage>,
}

impl RawStream {
    /// Opens the stream; `first` is queued before the call, as a real agent queues its Hello.
    pub async fn open(
        channel: Channel,
        first: Vec<pb::AgentMessage>,
    ) -> Result<Self, tonic::Status> {
        let (outbound, receiver) = mpsc::channel(64);
        for message in first {
            outbound.send(message).await.expect("queue");
        }
        let mut client = pb::telemetry_client::TelemetryClient::new(channel);
        let inbound = client
            .connect(ReceiverStream::new(receiver))
            .await?
            .into_inner();
        Ok(Self { outbound, inbound })
    }

    pub async fn send(&self, body: pb::agent_message::Body) {
        self.outbound
            .send(pb::AgentMessage { body: Some(body) })
            .await
            .expect("stream open");
    }

    /// The next message from the collector, or the status the stream ended with.
    pub async fn next(&mut self) -> Result<pb::collector_message::Body, tonic::Status> {
        match tokio::time::timeout(DEADLINE, self.inbound.message()).await {
            Err(_) => panic!("no message from the collector within {DEADLINE:?}"),
            Ok(Err(status)) => Err(status),
            Ok(Ok(None)) => Err(tonic::Status::cancelled("stream ended")),
            Ok(Ok(Some(message))) => Ok(message.body.expect("collector messages have a body")),
        }
    }
}

pub fn hello() -> pb::AgentMessage {
    pb::AgentMessage {
        body: Some(pb::agent_message::Body::Hello(pb::Hello {
            protocol_version: firstline_proto::PROTOCOL_VERSION,
            agent_version: "test".to_owned(),
            last_sequence: 0,
        })),
    }
}

pub fn finding(sequence: u64, summary: &str) -> pb::Finding {
    pb::Finding {
        sequence,
        check: "disk.free_low".to_owned(),
        resource: "/".to_owned(),
        severity: pb::Severity::Warning as i32,
        summary: summary.to_owned(),
        evidence_json: r#"{"free_bytes": 3100000000}"#.to_owned(),
        observed_at_unix_ms: 1_700_000_000_000,
    }
}
