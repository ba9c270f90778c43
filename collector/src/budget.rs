//! One device's budget on its stream (`[limits]`): how fast its findings are decided (a
//! token bucket that slows its acks rather than refusing), and how many distinct conditions
//! it may have. Pure bookkeeping; ingest asks the store for what the device already has.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::limits::Limits;

/// Scopes a device joins per kind (gateways, DNS servers): a workstation has one or two of
/// each; a device listing hundreds would make every finding of it a correlation across all.
pub const MAX_SCOPES_PER_KIND: usize = 4;

/// How fast one device's findings are decided: a token bucket. Kept per device for as long as
/// the collector runs (not per stream), so reconnecting does not buy a fresh burst.
#[derive(Debug)]
pub struct Pace {
    rate_per_second: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl Pace {
    pub fn new(limits: &Limits) -> Self {
        let burst = f64::from(limits.device_findings_burst);
        Self {
            rate_per_second: f64::from(limits.device_findings_per_second),
            burst,
            tokens: burst,
            refilled_at: Instant::now(),
        }
    }

    pub fn rate_per_second(&self) -> f64 {
        self.rate_per_second
    }

    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// Takes `count` findings' worth from the bucket and says how long to wait before they
    /// may be decided (zero within the burst).
    pub fn pace(&mut self, count: usize, now: Instant) -> Duration {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.refilled_at = now;
        self.tokens = (self.tokens + elapsed * self.rate_per_second).min(self.burst);
        self.tokens -= count as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate_per_second)
        }
    }
}

/// How many distinct conditions one device may have, on one stream.
#[derive(Debug)]
pub struct DeviceBudget {
    max_conditions: usize,
    /// Condition keys the device has (from the store at the first batch, then as admitted).
    known: Option<HashSet<(String, String)>>,
}

impl DeviceBudget {
    pub fn new(limits: &Limits) -> Self {
        Self {
            max_conditions: limits.device_conditions,
            known: None,
        }
    }

    /// Whether the condition keys are loaded yet.
    pub fn knows_conditions(&self) -> bool {
        self.known.is_some()
    }

    /// The most keys worth loading: one more than the budget tells "full".
    pub fn conditions_to_load(&self) -> usize {
        self.max_conditions.saturating_add(1)
    }

    pub fn set_known_conditions(&mut self, known: HashSet<(String, String)>) {
        self.known = Some(known);
    }

    /// Whether a finding of `check` on `resource` may be stored: `Some(true)` when its
    /// condition is known or there is room for a new one (which is then counted),
    /// `Some(false)` when there is no room, `None` when the budget is full and the key is not
    /// among those loaded (the device may have more than were loaded: ask the store).
    pub fn admit_condition(&mut self, check: &str, resource: &str) -> Option<bool> {
        let max = self.max_conditions;
        let known = self.known.get_or_insert_with(HashSet::new);
        let key = (check.to_owned(), resource.to_owned());
        if known.contains(&key) {
            return Some(true);
        }
        if known.len() > max {
            // Loaded past the budget (it was lowered, or the device had more before): the
            // loaded keys are not all of them.
            return None;
        }
        if known.len() == max {
            return Some(false);
        }
        known.insert(key);
        Some(true)
    }

    pub fn max_conditions(&self) -> usize {
        self.max_conditions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32, conditions: usize) -> Limits {
        Limits {
            device_findings_per_second: per_second,
            device_findings_burst: burst,
            device_conditions: conditions,
            ..Limits::default()
        }
    }

    #[test]
    fn a_burst_goes_at_once_then_findings_wait_their_turn_at_the_sustained_rate() {
        let start = Instant::now();
        let mut budget = Pace::new(&limits(100, 1_000, 10));
        let cases = [
            // (seconds since start, findings, expected wait in ms)
            (0.0, 1_000, 0),
            (0.0, 100, 1_000),
            (1.0, 100, 1_000),
            (13.0, 500, 0),
            (13.0, 600, 1_000),
        ];
        for (at, count, wait_ms) in cases {
            let now = start + Duration::from_secs_f64(at);
            let waited = budget.pace(count, now).as_millis();
            assert!(
                waited.abs_diff(wait_ms) <= 1,
                "at {at}s, {count} findings: waited {waited} ms, expected {wait_ms}"
            );
        }
    }

    #[test]
    fn known_conditions_always_pass_and_new_ones_only_within_the_budget() {
        let mut budget = DeviceBudget::new(&limits(100, 1_000, 2));
        budget.set_known_conditions(HashSet::from([(
            "disk.used_pct".to_owned(),
            "/".to_owned(),
        )]));
        assert_eq!(budget.admit_condition("disk.used_pct", "/"), Some(true));
        assert_eq!(
            budget.admit_condition("dns.resolve", "a.example.com"),
            Some(true)
        );
        assert_eq!(
            budget.admit_condition("dns.resolve", "b.example.com"),
            Some(false)
        );
        assert_eq!(
            budget.admit_condition("dns.resolve", "a.example.com"),
            Some(true)
        );
        assert_eq!(budget.admit_condition("disk.used_pct", "/"), Some(true));
        // More loaded than the budget: an unknown key may still be one of the device's.
        let mut over = DeviceBudget::new(&limits(100, 1_000, 1));
        over.set_known_conditions(HashSet::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]));
        assert_eq!(over.admit_condition("a", "1"), Some(true));
        assert_eq!(over.admit_condition("c", "3"), None);
    }
}
