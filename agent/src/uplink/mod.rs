//! The uplink: one long-lived mutual-TLS `Telemetry.Connect` stream to the collector, opened
//! again with jittered exponential backoff whenever it drops.

pub mod backoff;
pub mod channel;

use std::time::{Duration, Instant};

use firstline_proto::v1 as pb;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::identity::Identity;
use crate::inventory;
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
}

impl Default for UplinkSettings {
    fn default() -> Self {
        Self {
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            inventory_interval: Duration::from_secs(3600),
        }
    }
}

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
    #[error("protocol error: {0}")]
    Protocol(String),
}

enum SessionEnd {
    /// The collector ended the stream cleanly.
    Closed,
    /// We were asked to stop.
    Stopped,
}

/// Runs until `stop` turns true, reconnecting as needed.
pub async fn run(
    identity: Identity,
    settings: UplinkSettings,
    mut stop: watch::Receiver<bool>,
    state: watch::Sender<UplinkState>,
) {
    let mut backoff = Backoff::new(settings.reconnect_min, settings.reconnect_max);
    loop {
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        let outcome = session(&identity, &settings, &mut stop, &state).await;
        if started.elapsed() >= HEALTHY_SESSION {
            backoff.reset();
        }
        let error = match outcome {
            Ok(SessionEnd::Stopped) => break,
            Ok(SessionEnd::Closed) => "the collector closed the stream".to_owned(),
            Err(error) => error.to_string(),
        };
        let retry_in = backoff.next_delay();
        tracing::warn!(error = %error, retry_in_ms = retry_in.as_millis() as u64, "uplink down");
        state.send_replace(UplinkState::Disconnected { error, retry_in });
        tokio::select! {
            () = tokio::time::sleep(retry_in) => {}
            () = stopped(&mut stop) => break,
        }
    }
    state.send_replace(UplinkState::Stopped);
}

async fn session(
    identity: &Identity,
    settings: &UplinkSettings,
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
    // Hello is queued before the call so the collector finds it first on the stream. The
    // agent has no findings of its own yet, so it has assigned no sequence numbers.
    outbound
        .send(wire::hello(0))
        .await
        .map_err(|_| SessionError::Protocol("outbound queue closed".to_owned()))?;
    let response = client
        .connect(ReceiverStream::new(outbound_stream))
        .await
        .map_err(|status| SessionError::Status(channel::describe_status(&status)))?;
    let mut inbound = response.into_inner();

    let welcome = tokio::time::timeout(WELCOME_TIMEOUT, inbound.message())
        .await
        .map_err(|_| {
            SessionError::Protocol(format!("no Welcome within {}s", WELCOME_TIMEOUT.as_secs()))
        })?
        .map_err(|status| SessionError::Status(channel::describe_status(&status)))?
        .ok_or_else(|| SessionError::Protocol("the stream ended before the Welcome".to_owned()))?;
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
            tracing::info!(device = %device_id, committed_sequence, server_time_unix_ms, "connected to collector");
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
    state.send_replace(UplinkState::Connected { committed_sequence });

    let mut heartbeat = tokio::time::interval(heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut inventory_timer = tokio::time::interval(settings.inventory_interval);
    inventory_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let closed = || SessionError::Protocol("the stream closed while sending".to_owned());
    loop {
        tokio::select! {
            _ = inventory_timer.tick() => {
                let gathered = tokio::task::spawn_blocking(inventory::gather)
                    .await
                    .map_err(|e| SessionError::Protocol(format!("gathering inventory: {e}")))?;
                outbound.send(wire::inventory(gathered)).await.map_err(|_| closed())?;
            }
            _ = heartbeat.tick() => {
                outbound.send(wire::heartbeat()).await.map_err(|_| closed())?;
            }
            message = inbound.message() => match message {
                Ok(Some(message)) => match FromCollector::try_from(message) {
                    Ok(FromCollector::Ack { sequence, refused }) => {
                        for (refused_sequence, reason) in refused {
                            tracing::warn!(sequence = refused_sequence, %reason, "collector refused a finding");
                        }
                        state.send_replace(UplinkState::Connected { committed_sequence: sequence });
                    }
                    Ok(FromCollector::Unsupported(what)) => {
                        tracing::warn!(request = what, "the collector asked for something this agent version does not do");
                    }
                    Ok(FromCollector::Welcome { .. }) => {
                        return Err(SessionError::Protocol("a second Welcome on one stream".to_owned()));
                    }
                    Err(e) => return Err(SessionError::Protocol(e.to_owned())),
                },
                Ok(None) => return Ok(SessionEnd::Closed),
                Err(status) => return Err(SessionError::Status(channel::describe_status(&status))),
            },
            () = stopped(stop) => return Ok(SessionEnd::Stopped),
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone, which also means stop).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before the caller's next await.
    let _ = stop.wait_for(|stop| *stop).await;
}
