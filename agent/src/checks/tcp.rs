//! `tcp.connect` per configured endpoint ("mail.example.com:587", "printer.example.com:9100").

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Observation, Rule};
use super::threshold::duration;
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::tcp::{self, ConnectResult};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    pub endpoints: Vec<String>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(rename = "for", deserialize_with = "duration")]
    pub fire_after: Duration,
    #[serde(rename = "clear_for", deserialize_with = "duration")]
    pub clear_after: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            endpoints: Vec::new(),
            timeout: Duration::from_secs(3),
            fire_after: Duration::from_secs(60),
            clear_after: Duration::ZERO,
        }
    }
}

pub const CONNECT: &str = "tcp.connect";

struct TcpCheck {
    interval: Duration,
    endpoints: Vec<String>,
    timeout: Duration,
    rule: Rule,
}

pub fn build(config: &TcpConfig) -> Result<Option<Box<dyn Check>>, String> {
    if config.endpoints.is_empty() {
        return Ok(None);
    }
    for endpoint in &config.endpoints {
        let valid = endpoint
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(format!("endpoints: {endpoint:?} is not HOST:PORT"));
        }
    }
    Ok(Some(Box::new(TcpCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(100))?,
        endpoints: config.endpoints.clone(),
        timeout: config
            .timeout
            .clamp(Duration::from_millis(50), Duration::from_secs(30)),
        rule: Rule::boolean(Severity::Warning, config.fire_after, config.clear_after),
    })))
}

impl Check for TcpCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(CONNECT, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[CONNECT]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let mut observations = Vec::new();
            for endpoint in &self.endpoints {
                let (result, _stream) = tcp::connect(endpoint, self.timeout).await;
                observations.push(evaluate(&result, self.rule));
            }
            Ok(observations)
        })
    }
}

pub fn evaluate(result: &ConnectResult, rule: Rule) -> Observation {
    let summary = match (&result.connected, &result.error) {
        (Some(address), _) => format!(
            "{} accepts connections ({address}, {:.0} ms)",
            result.endpoint,
            result.connect_ms.unwrap_or_default()
        ),
        (None, Some(error)) => format!("{} is unreachable: {error}", result.endpoint),
        (None, None) => format!("{} is unreachable", result.endpoint),
    };
    Observation {
        check: CONNECT,
        resource: result.endpoint.clone(),
        value: if result.connected.is_some() { 0.0 } else { 1.0 },
        rule,
        summary,
        evidence: evidence! {
            "endpoint" => result.endpoint,
            "addresses" => result.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "connected" => result.connected.map(|a| a.to_string()),
            "connect_ms" => result.connect_ms,
            "failed_stage" => result.failed_stage,
            "error" => result.error,
        },
    }
}
