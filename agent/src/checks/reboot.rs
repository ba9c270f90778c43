//! `os.reboot_pending`: updates are installed but not active until the machine restarts.

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Observation, Rule};
use super::threshold::duration;
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::reboot;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RebootConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// How long a pending reboot may wait before it is worth a finding.
    #[serde(rename = "for", deserialize_with = "duration")]
    pub fire_after: Duration,
}

impl Default for RebootConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(600),
            fire_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

pub const PENDING: &str = "os.reboot_pending";

struct RebootCheck {
    interval: Duration,
    rule: Rule,
}

pub fn build(config: &RebootConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(RebootCheck {
        interval: interval_at_least(config.interval, Duration::from_secs(1))?,
        rule: Rule::boolean(Severity::Info, config.fire_after, Duration::ZERO),
    })))
}

impl Check for RebootCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(PENDING, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[PENDING]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let state = reboot::state()?;
            let summary = if state.pending {
                "A reboot is pending to finish installing updates".to_owned()
            } else {
                "No reboot pending".to_owned()
            };
            Ok(vec![Observation {
                check: PENDING,
                resource: "os".to_owned(),
                value: if state.pending { 1.0 } else { 0.0 },
                rule: self.rule,
                summary,
                evidence: evidence! { "pending" => state.pending, "requested_by" => state.reasons },
            }])
        })
    }
}
