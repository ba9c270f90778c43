//! Findings and condition changes the outbox could not write (the state dir is full or
//! failing): held in memory, in sequence order, until the disk takes them again. Bounded in
//! count and bytes; past either bound the oldest finding of the lowest severity goes first,
//! as on disk, and every drop is counted.

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::Finding;

/// At most this many findings are held: a few minutes of a busy agent, far more than a quiet
/// one raises in a day.
pub const HELD_MAX_FINDINGS: usize = 5_000;
/// At most this many bytes of findings (as encoded for the outbox) are held, so a full disk
/// costs the agent a few MB of memory at worst.
pub const HELD_MAX_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct Held {
    /// sequence → (finding, its encoded size)
    findings: BTreeMap<u64, (Finding, u64)>,
    /// (severity rank, sequence): the eviction order.
    by_severity: BTreeSet<(u8, u64)>,
    bytes: u64,
    /// Condition changes not yet written: key → state, or None to forget.
    conditions: BTreeMap<String, Option<Vec<u8>>>,
    /// Findings dropped while held, not yet added to the outbox's eviction count on disk.
    pub dropped_unwritten: u64,
}

impl Held {
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty() && self.conditions.is_empty() && self.dropped_unwritten == 0
    }

    pub fn len(&self) -> u64 {
        self.findings.len() as u64
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Holds `finding` under `sequence` (of `size` encoded bytes). Returns whether it was kept
    /// and how many findings (older ones, or this one) were dropped to stay within bounds.
    pub fn push(&mut self, sequence: u64, finding: Finding, size: u64) -> (bool, u64) {
        // A sequence already held (printed twice by a salvage) replaces the old copy, whose
        // size and eviction entry would otherwise stay counted.
        self.remove(sequence);
        let rank = finding.severity.rank();
        let mut dropped = 0;
        let mut keep = size <= HELD_MAX_BYTES;
        while keep
            && (self.findings.len() >= HELD_MAX_FINDINGS || self.bytes + size > HELD_MAX_BYTES)
        {
            match self.by_severity.first().copied() {
                // Everything held matters more than this one: drop the newcomer.
                Some((lowest_rank, _)) if lowest_rank > rank => keep = false,
                Some((_, oldest)) => {
                    self.remove(oldest);
                    dropped += 1;
                }
                None => keep = false,
            }
        }
        if keep {
            self.by_severity.insert((rank, sequence));
            self.bytes += size;
            self.findings.insert(sequence, (finding, size));
        } else {
            dropped += 1;
        }
        self.dropped_unwritten += dropped;
        (keep, dropped)
    }

    pub fn remember_condition(&mut self, key: String, state: Option<Vec<u8>>) {
        self.conditions.insert(key, state);
    }

    pub fn conditions(&self) -> &BTreeMap<String, Option<Vec<u8>>> {
        &self.conditions
    }

    fn remove(&mut self, sequence: u64) {
        if let Some((finding, size)) = self.findings.remove(&sequence) {
            self.by_severity
                .remove(&(finding.severity.rank(), sequence));
            self.bytes = self.bytes.saturating_sub(size);
        }
    }

    /// The collector committed everything through `sequence`: those need never be written.
    pub fn acknowledge_through(&mut self, sequence: u64) -> u64 {
        let gone: Vec<u64> = self.findings.range(..=sequence).map(|(s, _)| *s).collect();
        for held in &gone {
            self.remove(*held);
        }
        gone.len() as u64
    }

    /// Up to `limit` held findings with a sequence above `after`, in order.
    pub fn after(&self, after: u64, limit: usize) -> Vec<(u64, Finding)> {
        self.findings
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(sequence, (finding, _))| (*sequence, finding.clone()))
            .collect()
    }

    /// Everything held, for writing out: the findings in order and the condition changes.
    pub fn findings(&self) -> impl Iterator<Item = (u64, &Finding)> {
        self.findings
            .iter()
            .map(|(sequence, (finding, _))| (*sequence, finding))
    }

    /// Gives every held finding a new sequence from `next` on, in order; returns the next free.
    pub fn renumber_from(&mut self, mut next: u64) -> u64 {
        let findings = std::mem::take(&mut self.findings);
        self.by_severity.clear();
        for (_, (finding, size)) in findings {
            self.by_severity.insert((finding.severity.rank(), next));
            self.findings.insert(next, (finding, size));
            next += 1;
        }
        next
    }

    /// Everything was written: forget it.
    pub fn clear(&mut self) {
        *self = Held::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;

    fn finding(severity: Severity) -> Finding {
        Finding {
            check: "crash.new_file".to_owned(),
            resource: "app".to_owned(),
            severity,
            summary: String::new(),
            evidence: Default::default(),
            observed_at_ms: 1,
        }
    }

    #[test]
    fn past_its_bound_the_oldest_least_severe_held_finding_goes_first_and_is_counted() {
        let mut held = Held::default();
        let size = HELD_MAX_BYTES / 3;
        assert_eq!(held.push(1, finding(Severity::Critical), size), (true, 0));
        assert_eq!(held.push(2, finding(Severity::Info), size), (true, 0));
        assert_eq!(held.push(3, finding(Severity::Warning), size), (true, 0));
        // A fourth pushes out the informational one, not the older critical one.
        assert_eq!(held.push(4, finding(Severity::Warning), size), (true, 1));
        assert_eq!(
            held.after(0, 10)
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>(),
            [1, 3, 4]
        );
        // Information, when only more important findings are held, is itself dropped.
        assert_eq!(held.push(5, finding(Severity::Info), size), (false, 1));
        assert_eq!(held.dropped_unwritten, 2);
        assert_eq!(held.bytes(), size * 3);
        assert!(held.bytes() <= HELD_MAX_BYTES);
    }

    #[test]
    fn the_count_bound_holds_too() {
        let mut held = Held::default();
        for sequence in 1..=(HELD_MAX_FINDINGS as u64 + 10) {
            held.push(sequence, finding(Severity::Warning), 10);
        }
        assert_eq!(held.len(), HELD_MAX_FINDINGS as u64);
        assert_eq!(held.dropped_unwritten, 10);
        assert_eq!(held.after(0, 1)[0].0, 11, "the oldest went first");
    }

    #[test]
    fn acknowledged_findings_are_forgotten_and_renumbering_keeps_the_order() {
        let mut held = Held::default();
        for sequence in [7, 8, 9] {
            held.push(sequence, finding(Severity::Warning), 10);
        }
        assert_eq!(held.acknowledge_through(7), 1);
        assert_eq!(held.after(7, 10).len(), 2);
        assert_eq!(held.renumber_from(41), 43);
        assert_eq!(
            held.after(0, 10)
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>(),
            [41, 42]
        );
        assert_eq!(held.bytes(), 20);
    }

    #[test]
    fn a_sequence_held_twice_counts_its_bytes_once_and_is_evicted_once() {
        let mut held = Held::default();
        held.push(7, finding(Severity::Info), 10);
        held.push(7, finding(Severity::Critical), 30);
        assert_eq!((held.len(), held.bytes()), (1, 30));
        assert_eq!(held.by_severity.len(), 1, "the old eviction entry is gone");
    }
}
