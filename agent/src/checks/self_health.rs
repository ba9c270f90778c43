//! The agent about itself: `agent.outbox_evicted` (findings dropped because the outbox was full
//! while the collector was away) and `agent.config_invalid` (the last config edit was refused).

use std::time::Duration;

use super::rule::{Observation, Rule};
use super::{BoxFuture, Check, Shared};
use crate::evidence;
use crate::finding::Severity;

pub const OUTBOX_EVICTED: &str = "agent.outbox_evicted";
pub const CONFIG_INVALID: &str = "agent.config_invalid";

struct SelfHealth {
    reported_evictions: Option<u64>,
}

pub fn build() -> Result<Option<Box<dyn Check>>, String> {
    Ok(Some(Box::new(SelfHealth {
        reported_evictions: None,
    })))
}

impl Check for SelfHealth {
    fn names(&self) -> &'static [&'static str] {
        &[OUTBOX_EVICTED, CONFIG_INVALID]
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(5)
    }

    fn run<'a>(
        &'a mut self,
        shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let facts = shared.facts();
            let rule = Rule::boolean(Severity::Warning, Duration::ZERO, Duration::ZERO);
            // An eviction stays news for an hour after the last one.
            let eviction_rule =
                Rule::boolean(Severity::Warning, Duration::ZERO, Duration::from_secs(3600));
            let previous = self
                .reported_evictions
                .unwrap_or(facts.outbox_evicted_total);
            let new_evictions = facts.outbox_evicted_total.saturating_sub(previous);
            self.reported_evictions = Some(facts.outbox_evicted_total);
            let mut observations = Vec::new();
            if facts.outbox_evicted_total > 0 {
                observations.push(Observation {
                    check: OUTBOX_EVICTED,
                    resource: "outbox".to_owned(),
                    value: if new_evictions > 0 { 1.0 } else { 0.0 },
                    rule: eviction_rule,
                    summary: if new_evictions > 0 {
                        format!("The outbox was full: {new_evictions} findings were dropped ({} in all)", facts.outbox_evicted_total)
                    } else {
                        "The outbox has room".to_owned()
                    },
                    evidence: evidence! { "evicted_now" => new_evictions, "evicted_total" => facts.outbox_evicted_total },
                });
            }
            observations.push(Observation {
                check: CONFIG_INVALID,
                resource: "config".to_owned(),
                value: if facts.config_error.is_some() { 1.0 } else { 0.0 },
                rule,
                summary: match &facts.config_error {
                    Some(error) => format!("The agent's config was edited but refused; the previous one stays in use: {error}"),
                    None => "The agent's config is valid".to_owned(),
                },
                evidence: evidence! { "error" => facts.config_error },
            });
            Ok(observations)
        })
    }
}
