//! `service.not_running` per configured service (e.g. the print spooler, the VPN client).

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Observation, Rule};
use super::threshold::duration;
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::services::{self, ServiceState};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicesConfig {
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// Services that must be running, e.g. ["cups", "NetworkManager"].
    pub names: Vec<String>,
    #[serde(rename = "for", deserialize_with = "duration")]
    pub fire_after: Duration,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            names: Vec::new(),
            fire_after: Duration::from_secs(60),
        }
    }
}

pub const NOT_RUNNING: &str = "service.not_running";

struct ServicesCheck {
    interval: Duration,
    names: Vec<String>,
    rule: Rule,
}

pub fn build(config: &ServicesConfig) -> Result<Option<Box<dyn Check>>, String> {
    if config.names.is_empty() {
        return Ok(None);
    }
    for name in &config.names {
        if name.is_empty() || name.starts_with('-') || name.len() > 256 {
            return Err(format!("names: {name:?} is not a service name"));
        }
    }
    Ok(Some(Box::new(ServicesCheck {
        interval: interval_at_least(config.interval, Duration::from_secs(1))?,
        names: config.names.clone(),
        rule: Rule::boolean(Severity::Warning, config.fire_after, Duration::ZERO),
    })))
}

impl Check for ServicesCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(NOT_RUNNING, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[NOT_RUNNING]
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
            for name in &self.names {
                let state = services::state(name).await?;
                observations.push(evaluate(&state, self.rule));
            }
            Ok(observations)
        })
    }
}

fn evaluate(state: &ServiceState, rule: Rule) -> Observation {
    let summary = match (state.load_state.as_str(), state.running()) {
        ("not-found", _) => format!("Service {} is not installed", state.name),
        (_, true) => format!("Service {} is running", state.name),
        _ => format!(
            "Service {} is not running ({}/{})",
            state.name, state.active_state, state.sub_state
        ),
    };
    Observation {
        check: NOT_RUNNING,
        resource: state.name.clone(),
        value: if state.running() { 0.0 } else { 1.0 },
        rule,
        summary,
        evidence: evidence! {
            "service" => state.name,
            "load_state" => state.load_state,
            "active_state" => state.active_state,
            "sub_state" => state.sub_state,
        },
    }
}
