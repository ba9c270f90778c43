//! Thresholds with hysteresis and minimum durations, and the tracker that turns a stream of
//! observations into findings only when a condition changes: firing, changing severity, or
//! clearing. Pure: time comes in as an argument.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::finding::{Evidence, Finding, Severity};

/// Which side of the threshold is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Bad when the value rises to `raise` (disk used %, CPU %).
    Above,
    /// Bad when the value falls to `raise` (free memory %, days until a certificate expires).
    Below,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub direction: Direction,
    /// Crossing this fires.
    pub raise: f64,
    /// Only coming back past this clears (hysteresis: between the two, nothing changes).
    pub clear: f64,
    /// Past this, the finding is critical rather than `severity`.
    pub critical: Option<f64>,
    /// Severity when firing and not past `critical`.
    pub severity: Severity,
    /// How long the value must stay bad before the condition fires.
    pub fire_after: Duration,
    /// How long it must stay good before the condition clears.
    pub clear_after: Duration,
}

impl Rule {
    /// A yes/no condition: value 1 is bad, 0 is good.
    pub fn boolean(severity: Severity, fire_after: Duration, clear_after: Duration) -> Self {
        Rule {
            direction: Direction::Above,
            raise: 1.0,
            clear: 0.5,
            critical: None,
            severity,
            fire_after,
            clear_after,
        }
    }

    fn beyond(&self, value: f64, threshold: f64) -> bool {
        match self.direction {
            Direction::Above => value >= threshold,
            Direction::Below => value <= threshold,
        }
    }

    pub fn breached(&self, value: f64) -> bool {
        self.beyond(value, self.raise)
    }

    pub fn recovered(&self, value: f64) -> bool {
        match self.direction {
            Direction::Above => value < self.clear,
            Direction::Below => value > self.clear,
        }
    }

    /// The severity of `value` taken on its own, for one-shot `check` runs.
    pub fn classify(&self, value: f64) -> Severity {
        if !self.breached(value) {
            Severity::Ok
        } else if self
            .critical
            .is_some_and(|critical| self.beyond(value, critical))
        {
            Severity::Critical
        } else {
            self.severity
        }
    }

    /// `clear` must sit on the good side of `raise`, and `critical` on the bad side.
    pub fn validate(&self) -> Result<(), String> {
        let (raise, clear) = (self.raise, self.clear);
        if !raise.is_finite() || !clear.is_finite() {
            return Err("thresholds must be numbers".to_owned());
        }
        match self.direction {
            Direction::Above if clear > raise => {
                return Err(format!("clear ({clear}) must not be above raise ({raise})"));
            }
            Direction::Below if clear < raise => {
                return Err(format!("clear ({clear}) must not be below raise ({raise})"));
            }
            _ => {}
        }
        if let Some(critical) = self.critical {
            let wrong_side = match self.direction {
                Direction::Above => critical < raise,
                Direction::Below => critical > raise,
            };
            if wrong_side || !critical.is_finite() {
                return Err(format!(
                    "critical ({critical}) must be past raise ({raise})"
                ));
            }
        }
        Ok(())
    }
}

/// What one check saw on one resource in one cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub check: &'static str,
    pub resource: String,
    /// The measured value, in the unit the rule's thresholds use; NaN when it could not be
    /// measured this time (which neither raises nor clears, and is not "gone" either).
    pub value: f64,
    pub rule: Rule,
    /// One human sentence describing what was seen.
    pub summary: String,
    pub evidence: Evidence,
}

/// A condition's phase, remembered across cycles (and, via the outbox, across restarts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    Ok,
    Pending { since_ms: i64 },
    Firing { severity: Severity },
    Clearing { severity: Severity, since_ms: i64 },
}

impl Phase {
    /// Only firing and clearing conditions need to survive a restart.
    pub fn is_open(&self) -> bool {
        matches!(self, Phase::Firing { .. } | Phase::Clearing { .. })
    }
}

/// `(check, resource)`: the agent's half of the collector's condition key.
pub type ConditionKey = (String, String);

#[derive(Debug, Default)]
pub struct Tracker {
    phases: HashMap<ConditionKey, Phase>,
}

impl Tracker {
    /// Restores conditions remembered from before a restart. Clearing restarts its wait from
    /// `now_ms`: the clock the wait began on died with the previous process.
    pub fn with_open_conditions(
        open: impl IntoIterator<Item = (ConditionKey, Phase)>,
        now_ms: i64,
    ) -> Self {
        let phases = open
            .into_iter()
            .filter(|(_, phase)| phase.is_open())
            .map(|(key, phase)| match phase {
                Phase::Clearing { severity, .. } => (
                    key,
                    Phase::Clearing {
                        severity,
                        since_ms: now_ms,
                    },
                ),
                other => (key, other),
            })
            .collect();
        Self { phases }
    }

    pub fn phase(&self, check: &str, resource: &str) -> Phase {
        self.phases
            .get(&(check.to_owned(), resource.to_owned()))
            .copied()
            .unwrap_or(Phase::Ok)
    }

    /// Feeds one observation; returns the finding to send if the condition changed. `now_ms`
    /// is for durations and should come from a monotonic clock (see `runtime::monotonic_ms`),
    /// so that a clock step does not fire or clear anything; findings carry wall time. A NaN
    /// value means "looked, could not measure" (a certificate behind a failed connection): the
    /// condition keeps its phase.
    pub fn observe(&mut self, observation: Observation, now_ms: i64) -> Option<Finding> {
        if observation.value.is_nan() {
            return None;
        }
        let key = (observation.check.to_owned(), observation.resource.clone());
        let phase = self.phases.get(&key).copied().unwrap_or(Phase::Ok);
        let rule = &observation.rule;
        let bad = rule.breached(observation.value);
        let good = rule.recovered(observation.value);
        let severity_now = rule.classify(observation.value);
        let elapsed =
            |since_ms: i64| Duration::from_millis(u64::try_from(now_ms - since_ms).unwrap_or(0));

        let (next, emit) = match phase {
            Phase::Ok if bad && rule.fire_after.is_zero() => (
                Phase::Firing {
                    severity: severity_now,
                },
                Some(severity_now),
            ),
            Phase::Ok if bad => (Phase::Pending { since_ms: now_ms }, None),
            Phase::Ok => (Phase::Ok, None),
            Phase::Pending { since_ms } if bad && elapsed(since_ms) >= rule.fire_after => (
                Phase::Firing {
                    severity: severity_now,
                },
                Some(severity_now),
            ),
            Phase::Pending { since_ms } if bad => (Phase::Pending { since_ms }, None),
            Phase::Pending { .. } => (Phase::Ok, None),
            Phase::Firing { .. } if good && rule.clear_after.is_zero() => {
                (Phase::Ok, Some(Severity::Ok))
            }
            Phase::Firing { severity } if good => (
                Phase::Clearing {
                    severity,
                    since_ms: now_ms,
                },
                None,
            ),
            Phase::Firing { severity } if bad && severity_now != severity => (
                Phase::Firing {
                    severity: severity_now,
                },
                Some(severity_now),
            ),
            Phase::Firing { severity } => (Phase::Firing { severity }, None),
            Phase::Clearing { since_ms, .. } if good && elapsed(since_ms) >= rule.clear_after => {
                (Phase::Ok, Some(Severity::Ok))
            }
            Phase::Clearing { severity, since_ms } if good => {
                (Phase::Clearing { severity, since_ms }, None)
            }
            Phase::Clearing { severity, .. } if bad && severity_now != severity => (
                Phase::Firing {
                    severity: severity_now,
                },
                Some(severity_now),
            ),
            Phase::Clearing { severity, .. } => (Phase::Firing { severity }, None),
        };
        if next == Phase::Ok {
            self.phases.remove(&key);
        } else {
            self.phases.insert(key, next);
        }
        emit.map(|severity| {
            let summary = if severity == Severity::Ok {
                format!("Cleared: {}", observation.summary)
            } else {
                observation.summary
            };
            Finding {
                check: observation.check.to_owned(),
                resource: observation.resource,
                severity,
                summary,
                evidence: observation.evidence,
                observed_at_ms: crate::finding::now_ms(),
            }
        })
    }

    /// After a successful run of `check`: conditions it no longer reports (an endpoint removed
    /// from the config, a disk unplugged) are cleared rather than left open forever.
    pub fn retire_unseen(&mut self, check: &str, seen: &HashSet<String>) -> Vec<Finding> {
        let gone: Vec<ConditionKey> = self
            .phases
            .keys()
            .filter(|(c, resource)| c == check && !seen.contains(resource))
            .cloned()
            .collect();
        let mut findings = Vec::new();
        for key in gone {
            let phase = self.phases.remove(&key);
            if phase.is_some_and(|phase| phase.is_open()) {
                let mut evidence = Evidence::new();
                evidence.insert("reason".to_owned(), "no longer checked".into());
                // The collector closes its tickets as "no longer monitored", not recovered.
                evidence.insert("retired".to_owned(), true.into());
                findings.push(Finding {
                    summary: format!("Cleared: {} on {} is no longer checked", key.0, key.1),
                    check: key.0,
                    resource: key.1,
                    severity: Severity::Ok,
                    evidence,
                    observed_at_ms: crate::finding::now_ms(),
                });
            }
        }
        findings
    }

    /// Open conditions, for persisting.
    pub fn open_conditions(&self) -> impl Iterator<Item = (&ConditionKey, &Phase)> {
        self.phases.iter().filter(|(_, phase)| phase.is_open())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule {
            direction: Direction::Above,
            raise: 90.0,
            clear: 85.0,
            critical: Some(95.0),
            severity: Severity::Warning,
            fire_after: Duration::from_secs(60),
            clear_after: Duration::from_secs(30),
        }
    }

    fn seen(value: f64) -> Observation {
        Observation {
            check: "disk.used_pct",
            resource: "/".to_owned(),
            value,
            rule: rule(),
            summary: format!("Disk / is {value}% full"),
            evidence: Evidence::new(),
        }
    }

    #[test]
    fn conditions_fire_after_their_duration_hold_in_the_band_and_clear_after_theirs() {
        // (seconds since start, value, expected finding severity, expected phase name)
        let steps: &[(i64, f64, Option<Severity>, &str)] = &[
            (0, 50.0, None, "ok"),
            (10, 91.0, None, "pending"),
            (40, 80.0, None, "ok"), // a blip shorter than fire_after never fires
            (50, 91.0, None, "pending"),
            (110, 92.0, Some(Severity::Warning), "firing"),
            (120, 96.0, Some(Severity::Critical), "firing"), // severity change is news
            (130, 96.0, None, "firing"),
            (140, 88.0, None, "firing"), // inside the hysteresis band: nothing changes
            (150, 80.0, None, "clearing"),
            (160, 91.0, Some(Severity::Warning), "firing"), // relapse: firing again, now only a warning
            (170, 80.0, None, "clearing"),
            (200, 80.0, Some(Severity::Ok), "ok"),
        ];
        let mut tracker = Tracker::default();
        for (second, value, expected, phase_name) in steps {
            let finding = tracker.observe(seen(*value), second * 1000);
            assert_eq!(
                finding.as_ref().map(|f| f.severity),
                *expected,
                "at {second}s value {value}"
            );
            let phase = match tracker.phase("disk.used_pct", "/") {
                Phase::Ok => "ok",
                Phase::Pending { .. } => "pending",
                Phase::Firing { .. } => "firing",
                Phase::Clearing { .. } => "clearing",
            };
            assert_eq!(phase, *phase_name, "at {second}s value {value}");
            if let Some(Severity::Ok) = expected {
                assert!(finding.expect("finding").summary.starts_with("Cleared: "));
            }
        }
    }

    #[test]
    fn below_rules_and_zero_durations_act_at_once() {
        let rule = Rule {
            direction: Direction::Below,
            raise: 10.0,
            clear: 15.0,
            critical: Some(5.0),
            severity: Severity::Warning,
            fire_after: Duration::ZERO,
            clear_after: Duration::ZERO,
        };
        let observe = |tracker: &mut Tracker, value| {
            tracker
                .observe(
                    Observation {
                        rule,
                        ..seen(value)
                    },
                    0,
                )
                .map(|f| f.severity)
        };
        let mut tracker = Tracker::default();
        assert_eq!(observe(&mut tracker, 20.0), None);
        assert_eq!(observe(&mut tracker, 4.0), Some(Severity::Critical));
        assert_eq!(observe(&mut tracker, 8.0), Some(Severity::Warning));
        assert_eq!(
            observe(&mut tracker, 12.0),
            None,
            "inside the band nothing changes"
        );
        assert_eq!(observe(&mut tracker, 16.0), Some(Severity::Ok));
    }

    #[test]
    fn unseen_open_conditions_are_cleared_and_state_survives_a_restart() {
        let boolean = Rule::boolean(Severity::Critical, Duration::ZERO, Duration::ZERO);
        let mut tracker = Tracker::default();
        let down = |resource: &str| Observation {
            check: "tcp.connect",
            resource: resource.to_owned(),
            value: 1.0,
            rule: boolean,
            summary: format!("{resource} refuses connections"),
            evidence: Evidence::new(),
        };
        assert!(tracker.observe(down("a:1"), 0).is_some());
        assert!(tracker.observe(down("b:1"), 0).is_some());
        // After a restart the open conditions come back: the same fault is not raised twice.
        let saved: Vec<(ConditionKey, Phase)> = tracker
            .open_conditions()
            .map(|(k, p)| (k.clone(), *p))
            .collect();
        let mut tracker = Tracker::with_open_conditions(saved, 1);
        assert!(tracker.observe(down("a:1"), 1).is_none());
        // Unmeasurable this time: no change, and (being seen) not retired below.
        assert!(
            tracker
                .observe(
                    Observation {
                        value: f64::NAN,
                        ..down("a:1")
                    },
                    1
                )
                .is_none()
        );
        let cleared = tracker.retire_unseen("tcp.connect", &HashSet::from(["a:1".to_owned()]));
        assert_eq!(cleared.len(), 1);
        assert_eq!(
            (cleared[0].resource.as_str(), cleared[0].severity),
            ("b:1", Severity::Ok)
        );
    }

    #[test]
    fn rules_with_thresholds_on_the_wrong_side_are_refused() {
        let cases = [
            (
                Rule {
                    clear: 95.0,
                    ..rule()
                },
                Some("clear (95) must not be above raise (90)"),
            ),
            (
                Rule {
                    critical: Some(50.0),
                    ..rule()
                },
                Some("critical (50) must be past raise (90)"),
            ),
            (
                Rule {
                    direction: Direction::Below,
                    raise: 10.0,
                    clear: 5.0,
                    critical: None,
                    ..rule()
                },
                Some("must not be below"),
            ),
            (rule(), None),
        ];
        for (rule, expected) in cases {
            match (rule.validate(), expected) {
                (Ok(()), None) => {}
                (Err(error), Some(fragment)) => assert!(error.contains(fragment), "{error}"),
                (outcome, expected) => panic!("{rule:?}: {outcome:?} vs {expected:?}"),
            }
        }
    }
}
