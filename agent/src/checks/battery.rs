//! `battery.health_pct`: a worn battery (full capacity far below design) is why a laptop
//! "dies at 40%".

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::battery::{self, Battery};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatteryConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    pub health_pct: ThresholdFile,
}

impl Default for BatteryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(3600),
            health_pct: ThresholdFile::default(),
        }
    }
}

pub const HEALTH: &str = "battery.health_pct";

fn health_default() -> Rule {
    Rule {
        direction: Direction::Below,
        raise: 60.0,
        clear: 65.0,
        critical: Some(40.0),
        severity: Severity::Info,
        fire_after: Duration::ZERO,
        clear_after: Duration::ZERO,
    }
}

struct BatteryCheck {
    interval: Duration,
    rule: Rule,
}

pub fn build(config: &BatteryConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(BatteryCheck {
        interval: interval_at_least(config.interval, Duration::from_secs(1))?,
        rule: config
            .health_pct
            .resolve(health_default())
            .map_err(|e| format!("health_pct: {e}"))?,
    })))
}

impl Check for BatteryCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(HEALTH, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[HEALTH]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move { Ok(evaluate(&battery::batteries()?, self.rule)) })
    }
}

fn evaluate(batteries: &[Battery], rule: Rule) -> Vec<Observation> {
    batteries
        .iter()
        .filter_map(|battery| {
            let health = battery.health_pct?;
            let cycles = battery
                .cycle_count
                .map(|c| format!(", {c} charge cycles"))
                .unwrap_or_default();
            Some(Observation {
                check: HEALTH,
                resource: battery.name.clone(),
                value: health,
                rule,
                summary: format!(
                    "Battery {} holds {:.0}% of its design capacity{cycles}",
                    battery.name, health
                ),
                evidence: evidence! {
                    "battery" => battery.name,
                    "health_pct" => (health * 10.0).round() / 10.0,
                    "cycle_count" => battery.cycle_count,
                    "charge_pct" => battery.charge_pct,
                    "status" => battery.status,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worn_battery_is_reported_with_its_cycles() {
        let battery = Battery {
            name: "BAT0".to_owned(),
            health_pct: Some(55.0),
            cycle_count: Some(812),
            charge_pct: Some(77.0),
            status: "Discharging".to_owned(),
        };
        let observations = evaluate(&[battery], health_default());
        assert_eq!(
            observations[0].summary,
            "Battery BAT0 holds 55% of its design capacity, 812 charge cycles"
        );
        assert_eq!(observations[0].rule.classify(55.0), Severity::Info);
    }
}
