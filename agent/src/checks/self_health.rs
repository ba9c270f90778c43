//! The agent about itself: `agent.outbox_evicted` (findings dropped because the outbox was full
//! while the collector was away), `agent.config_invalid` (the last config edit was refused),
//! `agent.outbox_damaged` (a damaged outbox file moved aside, or records in it that could not
//! be read) and `agent.state_dir_full` (the state dir cannot be written; findings are held in
//! memory meanwhile).

use std::time::Duration;

use super::rule::{Observation, Rule};
use super::{BoxFuture, Check, Shared};
use crate::evidence;
use crate::finding::{Severity, human_bytes};
use crate::outbox::{HELD_MAX_BYTES, HELD_MAX_FINDINGS, OutboxDamage, Unwritable};

pub const OUTBOX_EVICTED: &str = "agent.outbox_evicted";
pub const CONFIG_INVALID: &str = "agent.config_invalid";
pub const OUTBOX_DAMAGED: &str = "agent.outbox_damaged";
pub const STATE_DIR_FULL: &str = "agent.state_dir_full";

struct SelfHealth {
    reported_evictions: Option<u64>,
    /// Damage events already reported. Starts at zero: damage found at start (the file moved
    /// aside) is news to report, unlike evictions, which are counted on disk across restarts.
    reported_damage: u64,
}

pub fn build() -> Result<Option<Box<dyn Check>>, String> {
    Ok(Some(Box::new(SelfHealth {
        reported_evictions: None,
        reported_damage: 0,
    })))
}

impl Check for SelfHealth {
    fn names(&self) -> &'static [&'static str] {
        &[
            OUTBOX_EVICTED,
            CONFIG_INVALID,
            OUTBOX_DAMAGED,
            STATE_DIR_FULL,
        ]
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
            if let Some(damage) = &facts.outbox_health.damage {
                let news = damage.events > self.reported_damage;
                self.reported_damage = damage.events;
                observations.push(Observation {
                    check: OUTBOX_DAMAGED,
                    resource: "outbox".to_owned(),
                    value: if news { 1.0 } else { 0.0 },
                    // Like evictions: news for an hour after the last damage found.
                    rule: eviction_rule,
                    summary: if news {
                        damage_summary(damage)
                    } else {
                        "The agent's outbox is readable again".to_owned()
                    },
                    evidence: evidence! {
                        "moved_to" => damage.moved_to.as_ref().map(|p| p.display().to_string()),
                        "records_salvaged" => damage.records_salvaged,
                        "records_lost" => damage.records_lost,
                        "bytes_lost" => damage.bytes_lost,
                        "unknown_bytes" => damage.unknown_bytes,
                        "error" => damage.error,
                    },
                });
            }
            let folder = facts
                .state_dir
                .as_ref()
                .map_or_else(|| "state".to_owned(), |dir| dir.display().to_string());
            let unwritable = facts.outbox_health.unwritable.as_ref();
            observations.push(Observation {
                check: STATE_DIR_FULL,
                resource: folder.clone(),
                value: if unwritable.is_some() { 1.0 } else { 0.0 },
                rule,
                summary: match unwritable {
                    Some(full) => unwritable_summary(&folder, full),
                    None => format!("The agent's state folder {folder} can be written"),
                },
                evidence: match unwritable {
                    Some(full) => evidence! {
                        "full" => full.full,
                        "free_bytes" => full.free_bytes,
                        "held_findings" => full.held_findings,
                        "held_bytes" => full.held_bytes,
                        "held_dropped" => full.held_dropped,
                        "held_max_findings" => HELD_MAX_FINDINGS,
                        "held_max_bytes" => HELD_MAX_BYTES,
                        "error" => full.error,
                    },
                    None => evidence! { "free_bytes" => crate::outbox::free_bytes(std::path::Path::new(&folder)) },
                },
            });
            Ok(observations)
        })
    }
}

/// What support staff read when the outbox was damaged: what happened, what was lost, where
/// the damaged copy is.
fn damage_summary(damage: &OutboxDamage) -> String {
    let mut parts = Vec::new();
    if let Some(moved_to) = &damage.moved_to {
        parts.push(format!(
            "The agent's outbox file was damaged and has been replaced by a new one; the damaged copy is kept at {}",
            moved_to.display()
        ));
        if damage.unknown_bytes > 0 {
            parts.push(format!(
                "findings not yet sent from it ({} file) may be lost",
                human_bytes(damage.unknown_bytes)
            ));
        }
        if damage.records_salvaged > 0 {
            parts.push(format!(
                "{} findings were recovered from it",
                damage.records_salvaged
            ));
        }
    }
    if damage.records_lost > 0 {
        parts.push(format!(
            "{} findings in the agent's outbox were damaged and could not be sent ({})",
            damage.records_lost,
            human_bytes(damage.bytes_lost)
        ));
    }
    if parts.is_empty() {
        parts.push(format!("The agent's outbox was damaged: {}", damage.error));
    }
    let mut summary = parts.join("; ");
    if let Some(first) = summary.get(..1) {
        summary = first.to_uppercase() + &summary[1..];
    }
    summary
}

/// What support staff read while the state dir cannot be written.
fn unwritable_summary(folder: &str, unwritable: &Unwritable) -> String {
    let problem = if unwritable.full {
        match unwritable.free_bytes {
            Some(free) => format!(
                "The agent's state folder {folder} is full ({} free)",
                human_bytes(free)
            ),
            None => format!("The agent's state folder {folder} is full"),
        }
    } else {
        format!(
            "The agent cannot write to its state folder {folder} ({})",
            unwritable.error
        )
    };
    let mut summary = format!(
        "{problem}: new findings are kept in memory and still sent ({} held, {}) until it can write again",
        unwritable.held_findings,
        human_bytes(unwritable.held_bytes)
    );
    if unwritable.held_dropped > 0 {
        summary.push_str(&format!(
            "; {} findings were dropped to stay within {} findings / {}",
            unwritable.held_dropped,
            HELD_MAX_FINDINGS,
            human_bytes(HELD_MAX_BYTES)
        ));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::OutboxHealth;

    async fn run(check: &mut Box<dyn Check>, shared: &Shared, name: &str) -> Observation {
        check
            .run(shared)
            .await
            .expect("self-health always looks")
            .into_iter()
            .find(|o| o.check == name)
            .unwrap_or_else(|| panic!("an observation of {name}"))
    }

    #[tokio::test]
    async fn a_damaged_outbox_is_news_once_and_says_where_the_damaged_copy_is() {
        let mut check = build().expect("builds").expect("always on");
        let shared = Shared::default();
        assert!(
            check
                .run(&shared)
                .await
                .expect("runs")
                .iter()
                .all(|o| o.check != OUTBOX_DAMAGED),
            "no damage, nothing to say"
        );
        shared.update(|facts| {
            facts.outbox_health = OutboxHealth {
                damage: Some(OutboxDamage {
                    events: 1,
                    moved_to: Some(
                        "/var/lib/firstline-agent/outbox.damaged-20261130T024853Z.redb".into(),
                    ),
                    records_salvaged: 36,
                    records_lost: 4,
                    bytes_lost: 1420,
                    unknown_bytes: 0,
                    error: "DB corrupted".to_owned(),
                }),
                unwritable: None,
            }
        });
        let damaged = run(&mut check, &shared, OUTBOX_DAMAGED).await;
        assert_eq!(damaged.value, 1.0);
        assert_eq!(
            damaged.summary,
            "The agent's outbox file was damaged and has been replaced by a new one; the damaged copy is kept at /var/lib/firstline-agent/outbox.damaged-20261130T024853Z.redb; 36 findings were recovered from it; 4 findings in the agent's outbox were damaged and could not be sent (1.4 kB)"
        );
        assert_eq!(damaged.evidence["records_lost"], 4);
        // Reported: no longer news, so it can clear (after its hour).
        assert_eq!(run(&mut check, &shared, OUTBOX_DAMAGED).await.value, 0.0);
    }

    #[tokio::test]
    async fn a_full_state_dir_says_what_is_held_and_clears_when_written() {
        let mut check = build().expect("builds").expect("always on");
        let shared = Shared::default();
        shared.update(|facts| {
            facts.state_dir = Some("/var/lib/firstline-agent".into());
            facts.outbox_health.unwritable = Some(Unwritable {
                full: true,
                error: "No space left on device".to_owned(),
                free_bytes: Some(0),
                held_findings: 12,
                held_bytes: 9_000,
                held_dropped: 0,
            });
        });
        let full = run(&mut check, &shared, STATE_DIR_FULL).await;
        assert_eq!(
            (full.value, full.resource.as_str()),
            (1.0, "/var/lib/firstline-agent")
        );
        assert_eq!(
            full.summary,
            "The agent's state folder /var/lib/firstline-agent is full (0 B free): new findings are kept in memory and still sent (12 held, 9.0 kB) until it can write again"
        );
        assert_eq!(full.evidence["held_findings"], 12);
        shared.update(|facts| facts.outbox_health.unwritable = None);
        assert_eq!(run(&mut check, &shared, STATE_DIR_FULL).await.value, 0.0);
    }
}
