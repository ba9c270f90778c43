//! Group commit: the findings of every connected agent go through a few writers that put many
//! devices' batches into one transaction, so one disk flush acknowledges them all.
//!
//! A session hands its batch over and waits for the outcome; it acks the agent only after the
//! transaction that holds the batch committed. While a transaction is being written, the next
//! batches queue up and go together into the next one: under load, transactions grow by
//! themselves, and a lone batch is written at once.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::{FindingBatch, Store, StoreError, Writer};

/// Batches waiting for a writer before sessions are made to wait for room.
const QUEUE_BATCHES: usize = 4096;
/// A transaction takes batches until it holds this many findings…
const FINDINGS_PER_TRANSACTION: usize = 1000;
/// …or this many batches.
const BATCHES_PER_TRANSACTION: usize = 1024;

/// A group whose transaction stalled (a lock or statement timeout, its session killed, past
/// the deadline: `StoreError::stall`) is tried again whole, on a new connection, this many
/// times. A stall is about the database or a peer, not the batches, so splitting the group
/// (as for a bad batch) would only multiply the wait.
const STALL_RETRIES: u32 = 2;
/// The pause before each such retry, times the attempt number.
const STALL_BACKOFF: std::time::Duration = std::time::Duration::from_millis(250);

/// After a transaction longer than this on SQLite, the writer pauses for `WRITE_LOCK_WINDOW`.
const LONG_TRANSACTION: std::time::Duration = std::time::Duration::from_millis(100);
const WRITE_LOCK_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the collector is shutting down")]
    Stopped,
}

struct Job {
    batch: FindingBatch,
    outcome: oneshot::Sender<Result<u64, StoreError>>,
}

/// Hands batches to the writers. Cheap to clone; the writers stop when every clone is gone.
#[derive(Clone)]
pub struct Committer {
    jobs: Option<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Committer")
            .field("discards", &self.jobs.is_none())
            .finish()
    }
}

impl Committer {
    /// Starts the writers: one on SQLite (it has one writer anyway), several on PostgreSQL
    /// (row locks let transactions on different checks proceed side by side).
    pub fn start(store: Store) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_BATCHES);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..store.writer_count() {
            tokio::spawn(write(store.clone(), queue.clone()));
        }
        Committer { jobs: Some(jobs) }
    }

    /// Acks without storing anything: the raw limit of the transport, measured by
    /// `cargo xtask bench` against the real thing. Never used to serve agents.
    pub fn discarding() -> Self {
        Committer { jobs: None }
    }

    /// Commits the batch and returns the device's committed sequence afterwards.
    pub async fn commit(&self, batch: FindingBatch) -> Result<u64, CommitError> {
        let Some(jobs) = &self.jobs else {
            return Ok(batch.acknowledged_through);
        };
        let (outcome, receiver) = oneshot::channel();
        jobs.send(Job { batch, outcome })
            .await
            .map_err(|_| CommitError::Stopped)?;
        Ok(receiver.await.map_err(|_| CommitError::Stopped)??)
    }
}

/// One writer: takes whatever has queued (at least one batch), commits it in one transaction,
/// and answers every waiting session.
async fn write(store: Store, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let (batches, outcomes) = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut findings = first.batch.findings.len();
            let mut batches = vec![first.batch];
            let mut outcomes = vec![first.outcome];
            while findings < FINDINGS_PER_TRANSACTION && batches.len() < BATCHES_PER_TRANSACTION {
                let Ok(job) = queue.try_recv() else { break };
                findings += job.batch.findings.len();
                batches.push(job.batch);
                outcomes.push(job.outcome);
            }
            (batches, outcomes)
        };
        let started = std::time::Instant::now();
        let outcome = commit_retrying_stalls(&store, &batches).await;
        let took = started.elapsed();
        match outcome {
            Ok(committed) => {
                for (outcome, sequence) in outcomes.into_iter().zip(committed) {
                    let _ = outcome.send(Ok(sequence));
                }
            }
            Err(error) if let Some(stall) = error.stall() => {
                // A stall that outlasted its retries fails every session of the group: each
                // ends its stream, and its agent resends what was not acked.
                for outcome in outcomes {
                    let _ = outcome.send(Err(StoreError::Abandoned {
                        writer: Writer::GroupCommit,
                        stall,
                        after_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                    }));
                }
            }
            Err(error) if batches.len() == 1 => {
                if let Some(outcome) = outcomes.into_iter().next() {
                    let _ = outcome.send(Err(error));
                }
            }
            Err(error) => {
                // One bad batch must not fail its neighbours: each goes again on its own.
                tracing::warn!(batches = batches.len(), error = %error, "group commit failed; committing its batches one by one");
                for (outcome, batch) in outcomes.into_iter().zip(&batches) {
                    let result = store
                        .store_finding_batches(std::slice::from_ref(batch))
                        .await
                        .map(|committed| committed.first().copied().unwrap_or(0));
                    let _ = outcome.send(result);
                }
            }
        }
        if store.writer_count() == 1 && took > LONG_TRANSACTION {
            // SQLite has one write lock and the others (sweep, notifications, enrollment)
            // wait for it by polling: after a long transaction, leave them a window instead of
            // taking the lock straight back.
            tokio::time::sleep(WRITE_LOCK_WINDOW).await;
        }
    }
}

/// Commits the group, trying it again whole after a stall (`STALL_RETRIES`).
async fn commit_retrying_stalls(
    store: &Store,
    batches: &[FindingBatch],
) -> Result<Vec<u64>, StoreError> {
    let mut attempt = 0;
    loop {
        match store.store_finding_batches(batches).await {
            Err(error) if attempt < STALL_RETRIES && error.stall().is_some() => {
                attempt += 1;
                tracing::info!(
                    writer = Writer::GroupCommit.as_str(),
                    batches = batches.len(),
                    findings = batches.iter().map(|batch| batch.findings.len()).sum::<usize>(),
                    attempt,
                    error = %error,
                    "trying a stalled group commit again on a new connection"
                );
                tokio::time::sleep(STALL_BACKOFF * attempt).await;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Severity};
    use crate::store::NewDevice;

    fn batch(device_id: &str, sequences: std::ops::RangeInclusive<u64>) -> FindingBatch {
        let findings: Vec<Finding> = sequences
            .clone()
            .map(|sequence| Finding {
                sequence,
                check: "disk.free_low".to_owned(),
                resource: format!("/{sequence}"),
                severity: Severity::Warning,
                summary: "low".to_owned(),
                evidence_json: "{}".to_owned(),
                observed_at_ms: 1,
            })
            .collect();
        FindingBatch {
            device_id: device_id.to_owned(),
            findings,
            acknowledged_through: *sequences.end(),
            received_at_ms: 1,
            health: None,
        }
    }

    #[tokio::test]
    async fn concurrent_batches_commit_together_and_a_bad_one_fails_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).await.expect("store");
        for (index, id) in ["a", "b", "c"].iter().enumerate() {
            let token = [u8::try_from(index).expect("small")];
            store
                .insert_token(&token, 0, i64::MAX)
                .await
                .expect("token");
            store
                .enroll_device(
                    &token,
                    1,
                    &NewDevice {
                        id: (*id).to_owned(),
                        hostname: format!("pc-{id}"),
                        agent_version: "test".to_owned(),
                        certificate_serial: "01".to_owned(),
                        certificate_not_after_ms: i64::MAX,
                    },
                )
                .await
                .expect("enroll");
        }
        let committer = Committer::start(store.clone());
        // "ghost" was never enrolled: its findings break the foreign key, and only its own
        // commit may fail for it.
        let handles: Vec<_> = [
            batch("a", 1..=5),
            batch("ghost", 1..=2),
            batch("b", 1..=3),
            batch("c", 1..=1),
        ]
        .into_iter()
        .map(|batch| {
            let committer = committer.clone();
            tokio::spawn(async move { committer.commit(batch).await })
        })
        .collect();
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.push(handle.await.expect("task"));
        }
        assert_eq!(outcomes[0].as_ref().ok(), Some(&5));
        assert!(outcomes[1].is_err(), "{:?}", outcomes[1]);
        assert_eq!(outcomes[2].as_ref().ok(), Some(&3));
        assert_eq!(outcomes[3].as_ref().ok(), Some(&1));
        for (device, stored) in [("a", 5), ("b", 3), ("c", 1)] {
            let findings = store.recent_findings(device, 10).await.expect("findings");
            assert_eq!(findings.len(), stored, "{device}");
        }
    }
}
