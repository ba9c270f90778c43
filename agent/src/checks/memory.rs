//! `memory.available_pct` (low is bad) and `memory.swap_used_pct`.

use std::time::Duration;

use serde::Deserialize;

use super::disk::{percent, round1};
use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::{Severity, human_bytes};
use crate::probes::memory::{self, MemoryUsage};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    pub available_pct: ThresholdFile,
    pub swap_used_pct: ThresholdFile,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(60),
            available_pct: ThresholdFile::default(),
            swap_used_pct: ThresholdFile::default(),
        }
    }
}

pub const AVAILABLE: &str = "memory.available_pct";
pub const SWAP: &str = "memory.swap_used_pct";

fn available_default() -> Rule {
    Rule {
        direction: Direction::Below,
        raise: 10.0,
        clear: 15.0,
        critical: Some(5.0),
        severity: Severity::Warning,
        fire_after: Duration::from_secs(180),
        clear_after: Duration::from_secs(120),
    }
}

fn swap_default() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 80.0,
        clear: 70.0,
        critical: Some(95.0),
        severity: Severity::Warning,
        fire_after: Duration::from_secs(300),
        clear_after: Duration::from_secs(120),
    }
}

struct MemoryCheck {
    interval: Duration,
    available: Rule,
    swap: Rule,
}

pub fn build(config: &MemoryConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(MemoryCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(100))?,
        available: config
            .available_pct
            .resolve(available_default())
            .map_err(|e| format!("available_pct: {e}"))?,
        swap: config
            .swap_used_pct
            .resolve(swap_default())
            .map_err(|e| format!("swap_used_pct: {e}"))?,
    })))
}

impl Check for MemoryCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(AVAILABLE, self.available), (SWAP, self.swap)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[AVAILABLE, SWAP]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move { Ok(evaluate(&memory::usage()?, self.available, self.swap)) })
    }
}

fn evaluate(usage: &MemoryUsage, available: Rule, swap: Rule) -> Vec<Observation> {
    let mut observations = Vec::new();
    if usage.total_bytes > 0 {
        let available_pct = percent(usage.available_bytes, usage.total_bytes);
        observations.push(Observation {
            check: AVAILABLE,
            resource: "ram".to_owned(),
            value: available_pct,
            rule: available,
            summary: format!(
                "Memory: {:.0}% available ({} of {})",
                available_pct,
                human_bytes(usage.available_bytes),
                human_bytes(usage.total_bytes)
            ),
            evidence: evidence! {
                "total_bytes" => usage.total_bytes,
                "available_bytes" => usage.available_bytes,
                "available_pct" => round1(available_pct),
                "swap_used_bytes" => usage.swap_used_bytes,
            },
        });
    }
    if usage.swap_total_bytes > 0 {
        let swap_pct = percent(usage.swap_used_bytes, usage.swap_total_bytes);
        observations.push(Observation {
            check: SWAP,
            resource: "swap".to_owned(),
            value: swap_pct,
            rule: swap,
            summary: format!(
                "Swap is {:.0}% used ({} of {})",
                swap_pct,
                human_bytes(usage.swap_used_bytes),
                human_bytes(usage.swap_total_bytes)
            ),
            evidence: evidence! {
                "swap_total_bytes" => usage.swap_total_bytes,
                "swap_used_bytes" => usage.swap_used_bytes,
                "swap_used_pct" => round1(swap_pct),
            },
        });
    }
    observations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_memory_is_bad_and_no_swap_means_no_swap_finding() {
        let usage = MemoryUsage {
            total_bytes: 8_000_000_000,
            available_bytes: 320_000_000,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
        };
        let observations = evaluate(&usage, available_default(), swap_default());
        assert_eq!(observations.len(), 1);
        assert_eq!(
            observations[0].summary,
            "Memory: 4% available (320 MB of 8.0 GB)"
        );
        assert_eq!(
            observations[0].rule.classify(observations[0].value),
            Severity::Critical
        );
    }
}
