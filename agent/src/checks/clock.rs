//! `clock.skew_secs`: this computer's clock against the collector's. Skew breaks sign-in
//! (Kerberos allows five minutes) and TLS. The skew is measured with every message that
//! carries the collector's clock (the Welcome, and the ack answering each heartbeat), so a
//! clock stepped while connected is a finding within a heartbeat and a check interval.

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    pub skew_secs: ThresholdFile,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(60),
            skew_secs: ThresholdFile::default(),
        }
    }
}

pub const SKEW: &str = "clock.skew_secs";

fn skew_default() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 60.0,
        clear: 30.0,
        critical: Some(300.0),
        severity: Severity::Warning,
        fire_after: Duration::ZERO,
        clear_after: Duration::ZERO,
    }
}

struct ClockCheck {
    interval: Duration,
    rule: Rule,
}

pub fn build(config: &ClockConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(ClockCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(100))?,
        rule: config
            .skew_secs
            .resolve(skew_default())
            .map_err(|e| format!("skew_secs: {e}"))?,
    })))
}

impl Check for ClockCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(SKEW, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[SKEW]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            // Unknown until the collector has greeted us once; no conclusion without it. While
            // disconnected, the last measurement stands: the clock is not checked again until
            // the collector can answer.
            let Some(skew_ms) = shared.facts().clock_skew_ms else {
                return Ok(Vec::new());
            };
            Ok(vec![evaluate(skew_ms, self.rule)])
        })
    }
}

fn evaluate(skew_ms: i64, rule: Rule) -> Observation {
    let skew_secs = skew_ms as f64 / 1000.0;
    let direction = if skew_ms > 0 { "behind" } else { "ahead of" };
    Observation {
        check: SKEW,
        resource: "collector".to_owned(),
        value: skew_secs.abs(),
        rule,
        summary: format!(
            "This computer's clock is {:.0} s {direction} the collector's",
            skew_secs.abs()
        ),
        evidence: evidence! { "skew_ms" => skew_ms, "reference" => "collector" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_in_either_direction_counts() {
        assert_eq!(
            evaluate(-400_000, skew_default()).rule.classify(400.0),
            Severity::Critical
        );
        assert_eq!(
            evaluate(-400_000, skew_default()).summary,
            "This computer's clock is 400 s ahead of the collector's"
        );
        assert_eq!(
            evaluate(90_000, skew_default()).summary,
            "This computer's clock is 90 s behind the collector's"
        );
    }
}
