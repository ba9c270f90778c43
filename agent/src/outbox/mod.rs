//! The durable outbox: findings are written here before they are sent and removed only when
//! the collector acknowledged them. Bounded in bytes; when full, the oldest finding of the
//! lowest severity goes first, and every eviction is counted.
//!
//! It also remembers the state of open conditions, so a restart neither forgets a firing
//! condition nor raises it twice.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::finding::{Finding, Severity};

const FINDINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("findings");
/// (severity rank, sequence): the eviction order.
const BY_SEVERITY: TableDefinition<(u8, u64), ()> = TableDefinition::new("findings_by_severity");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const CONDITIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("conditions");

const NEXT_SEQUENCE: &str = "next_sequence";
const PENDING_BYTES: &str = "pending_bytes";
const EVICTED_TOTAL: &str = "evicted_total";
/// The highest sequence a collector acknowledged: told to the collector at each connect, so
/// one whose database lost acknowledged findings can say so.
const ACKED_THROUGH: &str = "acked_through";

/// The file inside the state dir.
pub const OUTBOX_FILE: &str = "outbox.redb";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Storage { path: PathBuf, source: redb::Error },
    #[error("outbox {path}: a stored finding is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    pub pending: u64,
    pub pending_bytes: u64,
    pub evicted_total: u64,
    pub next_sequence: u64,
}

#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    database: Database,
    max_bytes: u64,
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path`, holding at most `max_bytes` of findings.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, OutboxError> {
        let error = |source: redb::Error| OutboxError::Storage {
            path: path.to_owned(),
            source,
        };
        let database = Database::builder()
            // The outbox is mostly written and rarely read: a small cache keeps the agent small.
            .set_cache_size(256 * 1024)
            .create(path)
            .map_err(|e| error(e.into()))?;
        let outbox = Outbox {
            path: path.to_owned(),
            database,
            max_bytes,
        };
        let transaction = outbox.database.begin_write().map_err(|e| error(e.into()))?;
        {
            transaction
                .open_table(FINDINGS)
                .map_err(|e| error(e.into()))?;
            transaction
                .open_table(BY_SEVERITY)
                .map_err(|e| error(e.into()))?;
            transaction.open_table(META).map_err(|e| error(e.into()))?;
            transaction
                .open_table(CONDITIONS)
                .map_err(|e| error(e.into()))?;
        }
        transaction.commit().map_err(|e| error(e.into()))?;
        Ok(outbox)
    }

    fn storage(&self, source: impl Into<redb::Error>) -> OutboxError {
        OutboxError::Storage {
            path: self.path.clone(),
            source: source.into(),
        }
    }

    /// Queues findings in one transaction and returns the sequence numbers given to those kept.
    /// Returns how many findings (new or old) were evicted to make room.
    pub fn push(&self, findings: &[Finding]) -> Result<(Vec<u64>, u64), OutboxError> {
        self.push_with_conditions(findings, &[])
    }

    /// Queues findings and records condition changes (key → state, or None to forget) in one
    /// transaction: a crash can never leave a condition open whose finding was not queued,
    /// nor a clear remembered but not sent.
    pub fn push_with_conditions(
        &self,
        findings: &[Finding],
        conditions: &[(String, Option<Vec<u8>>)],
    ) -> Result<(Vec<u64>, u64), OutboxError> {
        let transaction = self.database.begin_write().map_err(|e| self.storage(e))?;
        {
            let mut table = transaction
                .open_table(CONDITIONS)
                .map_err(|e| self.storage(e))?;
            for (key, state) in conditions {
                match state {
                    Some(state) => {
                        table
                            .insert(key.as_str(), state.as_slice())
                            .map_err(|e| self.storage(e))?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(|e| self.storage(e))?;
                    }
                }
            }
        }
        let mut sequences = Vec::with_capacity(findings.len());
        let mut evicted = 0;
        {
            let mut table = transaction
                .open_table(FINDINGS)
                .map_err(|e| self.storage(e))?;
            let mut index = transaction
                .open_table(BY_SEVERITY)
                .map_err(|e| self.storage(e))?;
            let mut meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
            let read = |meta: &redb::Table<&str, u64>, key| -> Result<u64, OutboxError> {
                Ok(meta
                    .get(key)
                    .map_err(|e| self.storage(e))?
                    .map(|v| v.value())
                    .unwrap_or(0))
            };
            let mut next = read(&meta, NEXT_SEQUENCE)?.max(1);
            let mut bytes = read(&meta, PENDING_BYTES)?;
            for finding in findings {
                let encoded = serde_json::to_vec(finding).map_err(|e| OutboxError::Corrupt {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })?;
                let size = encoded.len() as u64;
                let rank = finding.severity.rank();
                let mut keep = size <= self.max_bytes;
                while keep && bytes + size > self.max_bytes {
                    let oldest_lowest = index
                        .first()
                        .map_err(|e| self.storage(e))?
                        .map(|(key, _)| key.value());
                    match oldest_lowest {
                        // Everything queued matters more than this one: drop the newcomer.
                        Some((lowest_rank, _)) if lowest_rank > rank => keep = false,
                        Some((lowest_rank, sequence)) => {
                            index
                                .remove((lowest_rank, sequence))
                                .map_err(|e| self.storage(e))?;
                            if let Some(old) =
                                table.remove(sequence).map_err(|e| self.storage(e))?
                            {
                                bytes = bytes.saturating_sub(old.value().len() as u64);
                            }
                            evicted += 1;
                        }
                        None => keep = false,
                    }
                }
                if !keep {
                    evicted += 1;
                    continue;
                }
                table
                    .insert(next, encoded.as_slice())
                    .map_err(|e| self.storage(e))?;
                index
                    .insert((rank, next), ())
                    .map_err(|e| self.storage(e))?;
                bytes += size;
                sequences.push(next);
                next += 1;
            }
            meta.insert(NEXT_SEQUENCE, next)
                .map_err(|e| self.storage(e))?;
            meta.insert(PENDING_BYTES, bytes)
                .map_err(|e| self.storage(e))?;
            if evicted > 0 {
                let total = read(&meta, EVICTED_TOTAL)? + evicted;
                meta.insert(EVICTED_TOTAL, total)
                    .map_err(|e| self.storage(e))?;
            }
        }
        transaction.commit().map_err(|e| self.storage(e))?;
        Ok((sequences, evicted))
    }

    /// Up to `limit` queued findings with a sequence above `after`, in order.
    pub fn pending_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Finding)>, OutboxError> {
        let transaction = self.database.begin_read().map_err(|e| self.storage(e))?;
        let table = transaction
            .open_table(FINDINGS)
            .map_err(|e| self.storage(e))?;
        let mut pending = Vec::new();
        let mut unreadable = Vec::new();
        for entry in table
            .range(after.saturating_add(1)..)
            .map_err(|e| self.storage(e))?
            .take(limit)
        {
            let (sequence, encoded) = entry.map_err(|e| self.storage(e))?;
            match serde_json::from_slice::<Finding>(encoded.value()) {
                Ok(finding) => pending.push((sequence.value(), finding)),
                Err(e) => unreadable.push((sequence.value(), e.to_string())),
            }
        }
        drop(table);
        drop(transaction);
        // A record this version cannot read (written by another version, damaged on disk) must
        // not block everything behind it: say which, and set it aside.
        for (sequence, error) in &unreadable {
            tracing::error!(path = %self.path.display(), sequence, %error, "dropping an unreadable finding from the outbox");
        }
        if !unreadable.is_empty() {
            self.remove_sequences(
                &unreadable
                    .iter()
                    .map(|(sequence, _)| *sequence)
                    .collect::<Vec<_>>(),
            )?;
            if pending.is_empty() {
                return self.pending_after(after, limit);
            }
        }
        Ok(pending)
    }

    fn remove_sequences(&self, sequences: &[u64]) -> Result<(), OutboxError> {
        let transaction = self.database.begin_write().map_err(|e| self.storage(e))?;
        {
            let mut table = transaction
                .open_table(FINDINGS)
                .map_err(|e| self.storage(e))?;
            let mut index = transaction
                .open_table(BY_SEVERITY)
                .map_err(|e| self.storage(e))?;
            for sequence in sequences {
                table.remove(*sequence).map_err(|e| self.storage(e))?;
                for rank in 0..=Severity::Critical.rank() {
                    index
                        .remove((rank, *sequence))
                        .map_err(|e| self.storage(e))?;
                }
            }
        }
        transaction.commit().map_err(|e| self.storage(e))
    }

    /// Forgets every finding up to and including `sequence`: the collector committed them.
    pub fn acknowledge_through(&self, sequence: u64) -> Result<u64, OutboxError> {
        let transaction = self.database.begin_write().map_err(|e| self.storage(e))?;
        let removed;
        {
            let mut table = transaction
                .open_table(FINDINGS)
                .map_err(|e| self.storage(e))?;
            let mut index = transaction
                .open_table(BY_SEVERITY)
                .map_err(|e| self.storage(e))?;
            let mut meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
            let mut freed = 0u64;
            let mut gone = Vec::new();
            for entry in table
                .extract_from_if(..=sequence, |_, _| true)
                .map_err(|e| self.storage(e))?
            {
                let (key, value) = entry.map_err(|e| self.storage(e))?;
                let finding: Option<Finding> = serde_json::from_slice(value.value()).ok();
                freed += value.value().len() as u64;
                gone.push((key.value(), finding.map(|f| f.severity)));
            }
            for (key, severity) in &gone {
                match severity {
                    Some(severity) => {
                        index
                            .remove((severity.rank(), *key))
                            .map_err(|e| self.storage(e))?;
                    }
                    None => {
                        // Unknown severity: look through every rank.
                        for rank in 0..=Severity::Critical.rank() {
                            index.remove((rank, *key)).map_err(|e| self.storage(e))?;
                        }
                    }
                }
            }
            removed = gone.len() as u64;
            let bytes = meta
                .get(PENDING_BYTES)
                .map_err(|e| self.storage(e))?
                .map(|v| v.value())
                .unwrap_or(0);
            meta.insert(PENDING_BYTES, bytes.saturating_sub(freed))
                .map_err(|e| self.storage(e))?;
            let acked = meta
                .get(ACKED_THROUGH)
                .map_err(|e| self.storage(e))?
                .map(|v| v.value())
                .unwrap_or(0);
            meta.insert(ACKED_THROUGH, acked.max(sequence))
                .map_err(|e| self.storage(e))?;
        }
        transaction.commit().map_err(|e| self.storage(e))?;
        Ok(removed)
    }

    /// The collector has committed up to `committed`. If our counter is not past it, our state
    /// was lost (a wiped state dir with a kept certificate, a restored backup): renumber what is
    /// queued to follow `committed`, or the collector would drop it as already seen.
    pub fn rebase(&self, committed: u64) -> Result<bool, OutboxError> {
        let next = self.stats()?.next_sequence;
        if next > committed {
            return Ok(false);
        }
        let pending = self.pending_after(0, usize::MAX)?;
        let transaction = self.database.begin_write().map_err(|e| self.storage(e))?;
        {
            let mut table = transaction
                .open_table(FINDINGS)
                .map_err(|e| self.storage(e))?;
            let mut index = transaction
                .open_table(BY_SEVERITY)
                .map_err(|e| self.storage(e))?;
            let mut meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
            table.retain(|_, _| false).map_err(|e| self.storage(e))?;
            index.retain(|_, _| false).map_err(|e| self.storage(e))?;
            let mut next = committed.saturating_add(1);
            for (_, finding) in &pending {
                let encoded = serde_json::to_vec(finding).map_err(|e| OutboxError::Corrupt {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })?;
                table
                    .insert(next, encoded.as_slice())
                    .map_err(|e| self.storage(e))?;
                index
                    .insert((finding.severity.rank(), next), ())
                    .map_err(|e| self.storage(e))?;
                next += 1;
            }
            meta.insert(NEXT_SEQUENCE, next)
                .map_err(|e| self.storage(e))?;
        }
        transaction.commit().map_err(|e| self.storage(e))?;
        tracing::warn!(
            committed,
            renumbered = pending.len(),
            "outbox was behind the collector; renumbered"
        );
        Ok(true)
    }

    pub fn stats(&self) -> Result<OutboxStats, OutboxError> {
        let transaction = self.database.begin_read().map_err(|e| self.storage(e))?;
        let table = transaction
            .open_table(FINDINGS)
            .map_err(|e| self.storage(e))?;
        let meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
        let read = |key| -> Result<u64, OutboxError> {
            Ok(meta
                .get(key)
                .map_err(|e| self.storage(e))?
                .map(|v| v.value())
                .unwrap_or(0))
        };
        Ok(OutboxStats {
            pending: table.len().map_err(|e| self.storage(e))?,
            pending_bytes: read(PENDING_BYTES)?,
            evicted_total: read(EVICTED_TOTAL)?,
            next_sequence: read(NEXT_SEQUENCE)?.max(1),
        })
    }

    /// The highest sequence a collector has acknowledged (0 if none yet).
    pub fn acked_through(&self) -> Result<u64, OutboxError> {
        let transaction = self.database.begin_read().map_err(|e| self.storage(e))?;
        let meta = match transaction.open_table(META) {
            Ok(meta) => meta,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(self.storage(e)),
        };
        Ok(meta
            .get(ACKED_THROUGH)
            .map_err(|e| self.storage(e))?
            .map(|v| v.value())
            .unwrap_or(0))
    }

    /// The highest sequence number ever given out (0 if none).
    pub fn last_sequence(&self) -> Result<u64, OutboxError> {
        Ok(self.stats()?.next_sequence - 1)
    }

    pub fn conditions(&self) -> Result<Vec<(String, Vec<u8>)>, OutboxError> {
        let transaction = self.database.begin_read().map_err(|e| self.storage(e))?;
        let table = transaction
            .open_table(CONDITIONS)
            .map_err(|e| self.storage(e))?;
        let mut conditions = Vec::new();
        for entry in table.iter().map_err(|e| self.storage(e))? {
            let (key, value) = entry.map_err(|e| self.storage(e))?;
            conditions.push((key.value().to_owned(), value.value().to_vec()));
        }
        Ok(conditions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity, summary: &str) -> Finding {
        // Padded so that every severity encodes to the same size: the eviction test counts.
        let padding = " ".repeat(8 - severity.as_str().len());
        Finding {
            check: "disk.used_pct".to_owned(),
            resource: "/".to_owned(),
            severity,
            summary: format!("{summary}{padding}"),
            evidence: Default::default(),
            observed_at_ms: 1,
        }
    }

    #[test]
    fn findings_survive_reopening_and_leave_only_when_acknowledged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(OUTBOX_FILE);
        {
            let outbox = Outbox::open(&path, 1 << 20).expect("open");
            let (sequences, evicted) = outbox
                .push(&[
                    finding(Severity::Warning, "a"),
                    finding(Severity::Ok, "b"),
                    finding(Severity::Critical, "c"),
                ])
                .expect("push");
            assert_eq!((sequences, evicted), (vec![1, 2, 3], 0));
        }
        let outbox = Outbox::open(&path, 1 << 20).expect("reopen");
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(
            pending
                .iter()
                .map(|(s, f)| (*s, f.summary.trim()))
                .collect::<Vec<_>>(),
            [(1, "a"), (2, "b"), (3, "c")]
        );
        assert_eq!(outbox.acknowledge_through(2).expect("ack"), 2);
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(pending.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [3]);
        let (sequences, _) = outbox.push(&[finding(Severity::Info, "d")]).expect("push");
        assert_eq!(sequences, [4], "sequences are never reused");
        assert_eq!(outbox.stats().expect("stats").pending, 2);
    }

    #[test]
    fn when_full_the_oldest_lowest_severity_goes_first_and_is_counted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let one = serde_json::to_vec(&finding(Severity::Info, "x"))
            .expect("encode")
            .len() as u64;
        // Room for exactly three findings of this size.
        let outbox = Outbox::open(&dir.path().join(OUTBOX_FILE), one * 3).expect("open");
        outbox
            .push(&[
                finding(Severity::Critical, "x"),
                finding(Severity::Info, "x"),
                finding(Severity::Warning, "x"),
            ])
            .expect("push");
        // A fourth evicts the informational finding (lowest severity), not the older critical one.
        let (_, evicted) = outbox
            .push(&[finding(Severity::Warning, "x")])
            .expect("push");
        assert_eq!(evicted, 1);
        let kept: Vec<u64> = outbox
            .pending_after(0, 10)
            .expect("pending")
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(kept, [1, 3, 4]);
        // An informational finding when only more important ones are queued is itself dropped.
        let (sequences, evicted) = outbox.push(&[finding(Severity::Info, "x")]).expect("push");
        assert!(sequences.is_empty());
        assert_eq!(evicted, 1);
        // Among equals, the oldest goes.
        outbox
            .push(&[finding(Severity::Critical, "x")])
            .expect("push");
        let kept: Vec<u64> = outbox
            .pending_after(0, 10)
            .expect("pending")
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(
            kept,
            [1, 4, 5],
            "a dropped newcomer never took a sequence number"
        );
        // A clear (OK) is worth as much as the warning it ends: it outranks information.
        assert!(
            Severity::Ok.rank() > Severity::Info.rank()
                && Severity::Ok.rank() == Severity::Warning.rank()
        );
        let stats = outbox.stats().expect("stats");
        assert_eq!(stats.evicted_total, 3);
        assert_eq!(stats.pending_bytes, one * 3);
    }

    #[test]
    fn a_lost_outbox_renumbers_after_what_the_collector_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = Outbox::open(&dir.path().join(OUTBOX_FILE), 1 << 20).expect("open");
        outbox
            .push(&[
                finding(Severity::Warning, "a"),
                finding(Severity::Warning, "b"),
            ])
            .expect("push");
        assert!(
            !outbox.rebase(1).expect("rebase"),
            "a counter ahead of the collector is kept"
        );
        assert!(outbox.rebase(40).expect("rebase"));
        let kept: Vec<u64> = outbox
            .pending_after(0, 10)
            .expect("pending")
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(kept, [41, 42]);
        assert_eq!(
            outbox.push(&[finding(Severity::Ok, "c")]).expect("push").0,
            [43]
        );
    }

    #[test]
    fn an_unreadable_record_is_set_aside_instead_of_blocking_the_queue() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = Outbox::open(&dir.path().join(OUTBOX_FILE), 1 << 20).expect("open");
        outbox
            .push(&[
                finding(Severity::Warning, "a"),
                finding(Severity::Warning, "b"),
            ])
            .expect("push");
        let transaction = outbox.database.begin_write().expect("write");
        {
            let mut table = transaction.open_table(FINDINGS).expect("table");
            table
                .insert(1u64, b"{not a finding".as_slice())
                .expect("corrupt");
        }
        transaction.commit().expect("commit");
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(pending.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [2]);
        assert_eq!(outbox.stats().expect("stats").pending, 1);
    }

    #[test]
    fn condition_state_round_trips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = Outbox::open(&dir.path().join(OUTBOX_FILE), 1 << 20).expect("open");
        let remember = |key: &str, state: Option<&[u8]>| {
            outbox
                .push_with_conditions(&[], &[(key.to_owned(), state.map(<[u8]>::to_vec))])
                .expect("save")
        };
        remember("disk.used_pct\u{0}/", Some(b"firing"));
        remember("gone", Some(b"x"));
        remember("gone", None);
        assert_eq!(
            outbox.conditions().expect("load"),
            [("disk.used_pct\u{0}/".to_owned(), b"firing".to_vec())]
        );
    }
}
