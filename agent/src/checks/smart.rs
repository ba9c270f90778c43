//! `smart.failing` per disk: the drive itself predicts its failure.

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Observation, Rule};
use super::threshold::duration;
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::smart::{self, SmartHealth};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmartConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
}

impl Default for SmartConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(3600),
        }
    }
}

pub const FAILING: &str = "smart.failing";

struct SmartCheck {
    interval: Duration,
}

pub fn build(config: &SmartConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(SmartCheck {
        interval: interval_at_least(config.interval, Duration::from_secs(60))?,
    })))
}

impl Check for SmartCheck {
    fn names(&self) -> &'static [&'static str] {
        &[FAILING]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move { Ok(evaluate(&smart::health().await?)) })
    }
}

fn evaluate(disks: &[SmartHealth]) -> Vec<Observation> {
    let rule = Rule::boolean(Severity::Critical, Duration::ZERO, Duration::ZERO);
    disks
        .iter()
        .map(|disk| Observation {
            check: FAILING,
            resource: disk.device.clone(),
            value: if disk.passed { 0.0 } else { 1.0 },
            rule,
            summary: if disk.passed {
                format!(
                    "Disk {} ({}) passes its SMART self-assessment",
                    disk.device, disk.model
                )
            } else {
                format!(
                    "Disk {} ({}) FAILS its SMART self-assessment: back up and replace it",
                    disk.device, disk.model
                )
            },
            evidence: evidence! {
                "device" => disk.device,
                "model" => disk.model,
                "serial" => disk.serial,
                "passed" => disk.passed,
                "temperature_c" => disk.temperature_c,
                "reallocated_sectors" => disk.reallocated_sectors,
                "percentage_used" => disk.percentage_used,
            },
        })
        .collect()
}
