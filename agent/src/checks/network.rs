//! The network as a user meets it: is there a default gateway, does it answer, and can the
//! collector be reached. `network.gateway_missing`, `network.gateway_loss_pct`,
//! `network.collector_unreachable`.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::gateway::{self, DefaultRoute};
use crate::probes::ping::{self, PingResult};
use crate::probes::tcp::{self, ConnectResult};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// Whether to ping the default gateway (here and in playbooks). Off, the gateway's
    /// presence and the collector are still checked, and nothing is sent to the gateway.
    pub ping_gateway: bool,
    /// How many echo requests per cycle to the gateway.
    pub pings: u32,
    pub gateway_loss_pct: ThresholdFile,
    /// Average round trip to the gateway, in milliseconds.
    pub gateway_rtt_ms: ThresholdFile,
    /// TCP connect time to the collector, in milliseconds.
    pub collector_latency_ms: ThresholdFile,
    /// How long the gateway may be missing / the collector unreachable before it fires.
    #[serde(rename = "for", deserialize_with = "duration")]
    pub fire_after: Duration,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(3),
            ping_gateway: true,
            pings: 3,
            gateway_loss_pct: ThresholdFile::default(),
            gateway_rtt_ms: ThresholdFile::default(),
            collector_latency_ms: ThresholdFile::default(),
            fire_after: Duration::from_secs(60),
        }
    }
}

pub const GATEWAY_MISSING: &str = "network.gateway_missing";
pub const GATEWAY_LOSS: &str = "network.gateway_loss_pct";
pub const COLLECTOR_UNREACHABLE: &str = "network.collector_unreachable";
pub const GATEWAY_RTT: &str = "network.gateway_rtt_ms";
pub const COLLECTOR_LATENCY: &str = "network.collector_latency_ms";

/// A wired or Wi-Fi gateway answers in a few milliseconds; a hundred means trouble.
fn rtt_default() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 100.0,
        clear: 50.0,
        critical: Some(500.0),
        severity: Severity::Warning,
        fire_after: Duration::from_secs(180),
        clear_after: Duration::from_secs(60),
    }
}

/// The collector may be across a WAN: half a second to connect is slow.
fn latency_default() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 500.0,
        clear: 250.0,
        critical: Some(2000.0),
        severity: Severity::Warning,
        fire_after: Duration::from_secs(180),
        clear_after: Duration::from_secs(60),
    }
}

fn loss_default() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 50.0,
        clear: 10.0,
        critical: Some(100.0),
        severity: Severity::Warning,
        fire_after: Duration::from_secs(120),
        clear_after: Duration::from_secs(60),
    }
}

struct NetworkCheck {
    interval: Duration,
    timeout: Duration,
    ping_gateway: bool,
    pings: u32,
    loss: Rule,
    rtt: Rule,
    latency: Rule,
    presence: Rule,
}

pub fn build(config: &NetworkConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(NetworkCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(100))?,
        timeout: config
            .timeout
            .clamp(Duration::from_millis(100), Duration::from_secs(30)),
        ping_gateway: config.ping_gateway,
        pings: config.pings.clamp(1, 10),
        loss: config
            .gateway_loss_pct
            .resolve(loss_default())
            .map_err(|e| format!("gateway_loss_pct: {e}"))?,
        rtt: config
            .gateway_rtt_ms
            .resolve(rtt_default())
            .map_err(|e| format!("gateway_rtt_ms: {e}"))?,
        latency: config
            .collector_latency_ms
            .resolve(latency_default())
            .map_err(|e| format!("collector_latency_ms: {e}"))?,
        presence: Rule::boolean(Severity::Warning, config.fire_after, Duration::ZERO),
    })))
}

impl Check for NetworkCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![
            (GATEWAY_MISSING, self.presence),
            (GATEWAY_LOSS, self.loss),
            (COLLECTOR_UNREACHABLE, self.presence),
            (GATEWAY_RTT, self.rtt),
            (COLLECTOR_LATENCY, self.latency),
        ]
    }

    fn names(&self) -> &'static [&'static str] {
        &[
            GATEWAY_MISSING,
            GATEWAY_LOSS,
            COLLECTOR_UNREACHABLE,
            GATEWAY_RTT,
            COLLECTOR_LATENCY,
        ]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            // Where the routing table cannot be read (not Linux), say nothing about gateways but
            // still check the collector.
            let routes = match gateway::default_routes() {
                Ok(routes) => Some(routes),
                Err(e) => {
                    tracing::debug!(error = %e, "no routing table; skipping gateway checks");
                    None
                }
            };
            let gateway = routes
                .as_deref()
                .and_then(<[DefaultRoute]>::first)
                .filter(|_| self.ping_gateway);
            let ping = match gateway {
                Some(route) => {
                    let (target, count, timeout) =
                        (IpAddr::V4(route.gateway), self.pings, self.timeout);
                    match tokio::task::spawn_blocking(move || ping::ping(target, count, timeout))
                        .await
                    {
                        Ok(Ok(result)) => Some(result),
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "cannot ping the gateway; skipping loss");
                            None
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                }
                None => None,
            };
            let collector = match shared.facts().collector_url {
                Some(url) => {
                    let endpoint = url
                        .trim_start_matches("https://")
                        .trim_end_matches('/')
                        .to_owned();
                    Some(tcp::connect(&endpoint, self.timeout).await.0)
                }
                None => None,
            };
            Ok(evaluate(
                routes.as_deref(),
                ping.as_ref(),
                collector.as_ref(),
                self,
            ))
        })
    }
}

fn evaluate(
    routes: Option<&[DefaultRoute]>,
    ping: Option<&PingResult>,
    collector: Option<&ConnectResult>,
    check: &NetworkCheck,
) -> Vec<Observation> {
    let mut observations = Vec::new();
    if let Some(routes) = routes {
        observations.push(Observation {
            check: GATEWAY_MISSING,
            resource: "ipv4".to_owned(),
            value: if routes.is_empty() { 1.0 } else { 0.0 },
            rule: check.presence,
            summary: match routes.first() {
                None => "No default gateway: this computer has no route to other networks".to_owned(),
                Some(route) => format!("Default gateway {} via {}", route.gateway, route.interface),
            },
            evidence: evidence! {
                "default_routes" => routes.iter().map(|r| serde_json::json!({"gateway": r.gateway.to_string(), "interface": r.interface})).collect::<Vec<_>>(),
            },
        });
    }
    let pinged_gateway = routes
        .and_then(<[DefaultRoute]>::first)
        .filter(|_| check.ping_gateway);
    if let (None, Some(route)) = (ping, pinged_gateway) {
        // The gateway could not be pinged at all (no permission): loss unknown, not zero.
        observations.push(Observation {
            check: GATEWAY_LOSS,
            resource: route.gateway.to_string(),
            value: f64::NAN,
            rule: check.loss,
            summary: format!("Gateway {}: packet loss not measured", route.gateway),
            evidence: evidence! { "gateway" => route.gateway.to_string() },
        });
    }
    if let Some(ping) = ping {
        let average = ping
            .average_rtt_ms()
            .map(|ms| format!(", average {ms:.1} ms"))
            .unwrap_or_default();
        observations.push(Observation {
            check: GATEWAY_LOSS,
            resource: ping.target.to_string(),
            value: ping.loss_pct(),
            rule: check.loss,
            summary: format!(
                "Gateway {}: {:.0}% packet loss ({} of {} answered{average})",
                ping.target,
                ping.loss_pct(),
                ping.received,
                ping.sent
            ),
            evidence: evidence! {
                "gateway" => ping.target.to_string(),
                "sent" => ping.sent,
                "received" => ping.received,
                "loss_pct" => ping.loss_pct(),
                "rtt_ms" => ping.rtt_ms,
            },
        });
        // No answer, no round trip: unknown rather than fine.
        let average = ping.average_rtt_ms();
        observations.push(Observation {
            check: GATEWAY_RTT,
            resource: ping.target.to_string(),
            value: average.unwrap_or(f64::NAN),
            rule: check.rtt,
            summary: format!(
                "Gateway {} answers in {:.1} ms on average",
                ping.target,
                average.unwrap_or_default()
            ),
            evidence: evidence! { "gateway" => ping.target.to_string(), "rtt_ms" => ping.rtt_ms },
        });
    }
    if let Some(collector) = collector {
        let reachable = collector.connected.is_some();
        observations.push(Observation {
            check: COLLECTOR_UNREACHABLE,
            resource: collector.endpoint.clone(),
            value: if reachable { 0.0 } else { 1.0 },
            rule: check.presence,
            summary: match (&collector.connect_ms, &collector.error) {
                (Some(ms), _) => format!("Collector {} reachable in {ms:.0} ms", collector.endpoint),
                (None, Some(error)) => format!("Collector {} unreachable: {error}", collector.endpoint),
                (None, None) => format!("Collector {} unreachable", collector.endpoint),
            },
            evidence: evidence! {
                "endpoint" => collector.endpoint,
                "addresses" => collector.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "connect_ms" => collector.connect_ms,
                "failed_stage" => collector.failed_stage,
                "error" => collector.error,
            },
        });
        observations.push(Observation {
            check: COLLECTOR_LATENCY,
            resource: collector.endpoint.clone(),
            value: collector.connect_ms.unwrap_or(f64::NAN),
            rule: check.latency,
            summary: format!(
                "Connecting to the collector {} takes {:.0} ms",
                collector.endpoint,
                collector.connect_ms.unwrap_or_default()
            ),
            evidence: evidence! { "endpoint" => collector.endpoint, "connect_ms" => collector.connect_ms },
        });
    }
    observations
}
