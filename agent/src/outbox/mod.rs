//! The durable outbox: findings are written here before they are sent and removed only when
//! the collector acknowledged them. Bounded in bytes; when full, the oldest finding of the
//! lowest severity goes first, and every eviction is counted.
//!
//! It also remembers the state of open conditions, so a restart neither forgets a firing
//! condition nor raises it twice.
//!
//! The outbox survives its own disk. A file redb cannot verify is moved aside (kept for
//! inspection) and a fresh one started; a record that cannot be read is set aside; both are
//! counted for the agent's `agent.outbox_damaged` finding. When the state dir cannot be
//! written (full, failing), findings, acks and condition changes are held in memory
//! (`held.rs`, bounded) and still sent; [`Outbox::catch_up`] writes them once it can.

mod damage;
mod held;
pub mod salvage;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use damage::{OpenFailure, open_verified};
use held::Held;
pub use held::{HELD_MAX_BYTES, HELD_MAX_FINDINGS};

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
/// A fingerprint of the device the acks in ACKED_THROUGH were given to (see
/// [`Outbox::bind_acks_to`]): a re-enrolled agent (`enroll --force`, a new device id) must
/// not tell its new collector record of the old device's acks.
const ACKS_DEVICE: &str = "acks_device";

/// The file inside the state dir.
pub const OUTBOX_FILE: &str = "outbox.redb";

/// Below this much free space in the state dir the outbox stops writing and holds in memory.
/// Stopping early, rather than letting redb meet ENOSPC mid-commit, keeps the open file
/// usable: redb treats a failed write as fatal for the handle (every later call fails until
/// it is reopened, and reopening needs space to write).
pub const STATE_DIR_RESERVE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Storage { path: PathBuf, source: redb::Error },
    #[error("outbox {path}: a stored finding is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    /// Every sequence the collector accepts was given out: only a damaged counter gets here.
    #[error(
        "outbox {path}: the sequence counter ({next}) is past the last one the collector accepts ({})",
        salvage::MAX_SEQUENCE
    )]
    SequencesExhausted { path: PathBuf, next: u64 },
    /// Not done now, to be tried again later (the caller ends its session and retries).
    #[error("outbox {path}: {detail}; will try again")]
    Deferred { path: PathBuf, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    pub pending: u64,
    pub pending_bytes: u64,
    pub evicted_total: u64,
    pub next_sequence: u64,
}

/// Damage found since the agent started: a file that could not be verified (moved aside) and
/// records that could not be read (set aside). `events` grows with each discovery, so
/// self-health can tell news from what it already reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxDamage {
    pub events: u64,
    /// Where the last damaged file was moved to, kept for inspection.
    pub moved_to: Option<PathBuf>,
    /// Findings copied from a damaged file into the fresh outbox.
    pub records_salvaged: u64,
    /// Findings known lost (records that could not be read), and their bytes.
    pub records_lost: u64,
    pub bytes_lost: u64,
    /// Size of damaged files whose findings could not be counted: what they held is unknown.
    pub unknown_bytes: u64,
    /// What was wrong, as redb or the decoder said it.
    pub error: String,
}

/// The state dir cannot be written now: what is held in memory meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unwritable {
    /// The state dir (or the file system under it) is out of space, rather than failing.
    pub full: bool,
    pub error: String,
    pub free_bytes: Option<u64>,
    pub held_findings: u64,
    pub held_bytes: u64,
    /// Findings dropped from memory (bound reached) since the disk stopped taking writes.
    pub held_dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxHealth {
    /// None while no damage was found.
    pub damage: Option<OutboxDamage>,
    /// None while everything is written.
    pub unwritable: Option<Unwritable>,
}

/// Why a write did not happen.
#[derive(Debug, Clone)]
struct WriteFailure {
    full: bool,
    error: String,
}

#[derive(Debug, Default)]
struct State {
    /// None while the file cannot be opened (no space to open it, or a failed write made redb
    /// give up on the handle): reopened by `catch_up`.
    database: Option<Database>,
    /// The next sequence to give out: kept here because findings held in memory take
    /// sequences the file does not know of yet.
    next_sequence: u64,
    /// Acknowledged by the collector but not yet deleted from the file.
    acked_unwritten: Option<u64>,
    /// The device the acks belong to ([`Outbox::bind_acks_to`]), written with every ack.
    acks_device: Option<u64>,
    /// Set by `bind_acks_to` until the file was checked against (and if need be reset for)
    /// this device: meanwhile the file's ACKED_THROUGH may be another device's, so
    /// `acked_through` does not report it.
    acks_device_unchecked: bool,
    /// Unreadable records not yet deleted from the file.
    unreadable_unwritten: BTreeSet<u64>,
    held: Held,
    unwritable: Option<WriteFailure>,
    dropped_while_unwritable: u64,
    damage: OutboxDamage,
    /// The counter of a file that could not be opened was read once (see
    /// `learn_next_sequence`).
    learned_next_sequence: bool,
    /// The file exists but its counter could not be read: held findings may carry sequences
    /// the file already gave out, so they are not sent (no ack can then cover them) until
    /// opening the file renumbers them after its counter.
    counter_unknown: bool,
}

impl State {
    fn has_unwritten(&self) -> bool {
        self.database.is_none()
            || self.acks_device_unchecked
            || !self.held.is_empty()
            || self.acked_unwritten.is_some()
            || !self.unreadable_unwritten.is_empty()
    }
}

#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    /// [`free_bytes`], replaced in tests to play a full disk.
    free_space: fn(&Path) -> Option<u64>,
    /// The agent's own program, run as `outbox-salvage` on a damaged file; None: no salvage.
    salvager: Option<PathBuf>,
}

fn is_out_of_space(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Free space for unprivileged writers in the file system holding `dir`, if it can be told.
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// Whether a redb error means the handle is done for: after a failed write redb fails every
/// later call, so the file must be reopened (which `catch_up` does).
fn handle_is_spent(error: &redb::Error) -> bool {
    matches!(
        error,
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
    )
}

fn is_corrupted(error: &OutboxError) -> bool {
    matches!(
        error,
        OutboxError::Storage {
            source: redb::Error::Corrupted(_),
            ..
        }
    )
}

fn is_missing_table(error: &OutboxError) -> bool {
    matches!(
        error,
        OutboxError::Storage {
            source: redb::Error::TableDoesNotExist(_),
            ..
        }
    )
}

/// FNV-1a of a device id: stable across Rust versions and builds, unlike `DefaultHasher`.
fn device_fingerprint(device_id: &str) -> u64 {
    device_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn out_of_space(error: &redb::Error) -> bool {
    matches!(error, redb::Error::Io(e) if is_out_of_space(e))
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path`, holding at most `max_bytes` of findings.
    ///
    /// A damaged file does not stop the agent: it is moved aside and a fresh outbox started
    /// (see [`Outbox::health`]). Nor does a state dir that cannot be written: the outbox holds
    /// in memory until it can. The one error is another process holding the file.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, OutboxError> {
        Self::open_salvaging(path, max_bytes, None)
    }

    /// [`Outbox::open`], and a damaged file is salvaged by running `salvager` (this agent's
    /// own program) as `outbox-salvage` in a child process: see [`salvage`].
    pub fn open_salvaging(
        path: &Path,
        max_bytes: u64,
        salvager: Option<PathBuf>,
    ) -> Result<Self, OutboxError> {
        Self::open_with(path, max_bytes, salvager, free_bytes)
    }

    fn open_with(
        path: &Path,
        max_bytes: u64,
        salvager: Option<PathBuf>,
        free_space: fn(&Path) -> Option<u64>,
    ) -> Result<Self, OutboxError> {
        let outbox = Outbox {
            path: path.to_owned(),
            max_bytes,
            state: Mutex::new(State {
                next_sequence: 1,
                ..State::default()
            }),
            free_space,
            salvager,
        };
        {
            let mut state = outbox.lock();
            if let Err(OpenFailure::Refused(e)) = outbox.reopen(&mut state) {
                return Err(OutboxError::Storage {
                    path: path.to_owned(),
                    source: e.into(),
                });
            }
            // What was salvaged goes to the fresh file now, if it can.
            outbox.flush(&mut state);
        }
        Ok(outbox)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is made whole before anything that could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn storage(&self, source: impl Into<redb::Error>) -> OutboxError {
        OutboxError::Storage {
            path: self.path.clone(),
            source: source.into(),
        }
    }

    fn state_dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// Opens the file into `state` (moving a damaged one aside first) and makes sure its tables
    /// exist; learns the next sequence from it.
    fn reopen(&self, state: &mut State) -> Result<(), OpenFailure> {
        let database = match open_verified(&self.path) {
            Ok(database) => database,
            Err(OpenFailure::Damaged(error)) => {
                self.set_aside(state, &error);
                match state.database.take() {
                    // The salvage opened the fresh file to write what it read into it.
                    Some(database) => database,
                    None => open_verified(&self.path).inspect_err(|failure| {
                        if let OpenFailure::Unavailable(failure) = failure {
                            state.unwritable = Some(failure.clone());
                        }
                    })?,
                }
            }
            Err(OpenFailure::Unavailable(failure)) => {
                tracing::warn!(path = %self.path.display(), error = %failure.error, "the outbox cannot be opened now; holding findings in memory");
                state.unwritable = Some(failure.clone());
                self.learn_next_sequence(state);
                return Err(OpenFailure::Unavailable(failure));
            }
            Err(refused) => return Err(refused),
        };
        state.database = Some(database);
        let created = self.write(state, |database| {
            let transaction = database.begin_write().map_err(|e| self.storage(e))?;
            {
                transaction
                    .open_table(FINDINGS)
                    .map_err(|e| self.storage(e))?;
                transaction
                    .open_table(BY_SEVERITY)
                    .map_err(|e| self.storage(e))?;
                transaction.open_table(META).map_err(|e| self.storage(e))?;
                transaction
                    .open_table(CONDITIONS)
                    .map_err(|e| self.storage(e))?;
                // The pending count is summed again from the rows (cheap next to the integrity
                // check just done), so a count that went wrong before heals at the next start.
                let findings = transaction
                    .open_table(FINDINGS)
                    .map_err(|e| self.storage(e))?;
                let mut bytes = 0u64;
                for entry in findings.iter().map_err(|e| self.storage(e))? {
                    let (_, value) = entry.map_err(|e| self.storage(e))?;
                    bytes += value.value().len() as u64;
                }
                let mut meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
                let stored = meta
                    .get(PENDING_BYTES)
                    .map_err(|e| self.storage(e))?
                    .map_or(0, |v| v.value());
                if stored != bytes {
                    meta.insert(PENDING_BYTES, bytes)
                        .map_err(|e| self.storage(e))?;
                }
            }
            transaction.commit().map_err(|e| self.storage(e))
        });
        // The counter is read even when the tables could not be written (a full disk): they
        // exist in any file the agent wrote before.
        match self.read_meta(state, NEXT_SEQUENCE) {
            Ok(next) => {
                state.counter_unknown = false;
                let next = next.max(1);
                // Findings held while the file was away took sequences from what we knew then;
                // the file may know a later one. Sequences are never reused.
                if let Some((first_held, _)) = state.held.after(0, 1).first()
                    && *first_held < next
                {
                    state.next_sequence = state.held.renumber_from(next);
                } else {
                    state.next_sequence = state.next_sequence.max(next);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the outbox's sequence counter"),
        }
        created.map_err(OpenFailure::Unavailable)
    }

    /// Runs `op` on the open file unless the state dir is (nearly) full. A failure is recorded
    /// in `state.unwritable`; a failure that spent redb's handle drops it for `catch_up` to
    /// reopen.
    fn write<T>(
        &self,
        state: &mut State,
        op: impl FnOnce(&Database) -> Result<T, OutboxError>,
    ) -> Result<T, WriteFailure> {
        let Some(database) = state.database.as_ref() else {
            let failure = state.unwritable.clone().unwrap_or(WriteFailure {
                full: false,
                error: format!("{} is not open", self.path.display()),
            });
            return Err(failure);
        };
        if let Some(free) = (self.free_space)(self.state_dir())
            && free < STATE_DIR_RESERVE_BYTES
        {
            let failure = WriteFailure {
                full: true,
                error: format!(
                    "{} has {} free, less than the {} the outbox keeps in reserve",
                    self.state_dir().display(),
                    crate::finding::human_bytes(free),
                    crate::finding::human_bytes(STATE_DIR_RESERVE_BYTES)
                ),
            };
            self.note_unwritable(state, &failure);
            return Err(failure);
        }
        match op(database) {
            Ok(value) => Ok(value),
            Err(e) => {
                let (full, spent) = match &e {
                    OutboxError::Storage { source, .. } => {
                        (out_of_space(source), handle_is_spent(source))
                    }
                    OutboxError::Corrupt { .. }
                    | OutboxError::Deferred { .. }
                    | OutboxError::SequencesExhausted { .. } => (false, false),
                };
                let failure = WriteFailure {
                    full,
                    error: e.to_string(),
                };
                if spent {
                    state.database = None;
                } else if is_corrupted(&e) {
                    self.set_aside(state, &e.to_string());
                }
                self.note_unwritable(state, &failure);
                Err(failure)
            }
        }
    }

    fn note_unwritable(&self, state: &mut State, failure: &WriteFailure) {
        if state.unwritable.is_none() {
            tracing::warn!(path = %self.path.display(), error = %failure.error, full = failure.full, "the outbox cannot be written; holding findings in memory until it can");
        }
        state.unwritable = Some(failure.clone());
    }

    fn read_meta(&self, state: &State, key: &str) -> Result<u64, OutboxError> {
        let Some(database) = state.database.as_ref() else {
            return Ok(0);
        };
        let transaction = database.begin_read().map_err(|e| self.storage(e))?;
        let meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
        Ok(meta
            .get(key)
            .map_err(|e| self.storage(e))?
            .map(|v| v.value())
            .unwrap_or(0))
    }

    /// Writes whatever is held in memory (findings, condition changes, acks, records to set
    /// aside), reopening the file first if needed. Returns whether nothing is left unwritten.
    /// The runtime calls this every few seconds while the state dir cannot be written.
    pub fn catch_up(&self) -> bool {
        let mut state = self.lock();
        self.flush(&mut state)
    }

    fn flush(&self, state: &mut State) -> bool {
        if !state.has_unwritten() {
            // Nothing waits, but a disk that was full is not declared writable until it has
            // room again: the condition would flap with every ack that empties the memory.
            if state
                .unwritable
                .as_ref()
                .is_some_and(|failure| failure.full)
                && (self.free_space)(self.state_dir())
                    .is_some_and(|free| free < STATE_DIR_RESERVE_BYTES)
            {
                return false;
            }
            state.unwritable = None;
            return true;
        }
        if state.database.is_none() {
            // Reopening verifies the whole file: not every few seconds while there is no room.
            if (self.free_space)(self.state_dir())
                .is_some_and(|free| free < STATE_DIR_RESERVE_BYTES)
            {
                return false;
            }
            if self.reopen(state).is_err() {
                return false;
            }
        }
        let acked = state.acked_unwritten;
        let unreadable: Vec<u64> = state.unreadable_unwritten.iter().copied().collect();
        let held_findings: Vec<(u64, Finding)> = state
            .held
            .findings()
            .filter(|(sequence, _)| acked.is_none_or(|acked| *sequence > acked))
            .map(|(sequence, finding)| (sequence, finding.clone()))
            .collect();
        let conditions: Vec<(String, Option<Vec<u8>>)> = state
            .held
            .conditions()
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let dropped = state.held.dropped_unwritten;
        let next_sequence = state.next_sequence;
        let acks_device = state.acks_device;
        let check_acks_device = state.acks_device_unchecked;
        let written = self.write(state, |database| {
            let transaction = database.begin_write().map_err(|e| self.storage(e))?;
            // Before any ack is written: it would be kept with the other device's otherwise.
            if check_acks_device && let Some(device) = acks_device {
                self.bind_acks(&transaction, device)?;
            }
            if let Some(acked) = acked {
                self.delete_through(&transaction, acked, acks_device)?;
            }
            self.delete_sequences(&transaction, &unreadable)?;
            self.write_conditions(&transaction, &conditions)?;
            let mut next = next_sequence;
            let evicted = self.insert(
                &transaction,
                held_findings
                    .iter()
                    .map(|(sequence, finding)| (Some(*sequence), finding)),
                &mut next,
                &mut Vec::new(),
                dropped,
            )?;
            transaction.commit().map_err(|e| self.storage(e))?;
            Ok(evicted)
        });
        match written {
            Ok(evicted) => {
                if state.unwritable.is_some() || !held_findings.is_empty() {
                    tracing::info!(
                        path = %self.path.display(),
                        written = held_findings.len(),
                        dropped_to_fit = evicted,
                        "the outbox is writable again: wrote what was held in memory"
                    );
                }
                state.held.clear();
                state.acked_unwritten = None;
                state.acks_device_unchecked = false;
                state.unreadable_unwritten.clear();
                state.unwritable = None;
                state.dropped_while_unwritable = 0;
                true
            }
            Err(_) => false,
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
    ///
    /// When the state dir cannot be written, both are held in memory (and sent from there)
    /// until [`Outbox::catch_up`] can write them, still together.
    pub fn push_with_conditions(
        &self,
        findings: &[Finding],
        conditions: &[(String, Option<Vec<u8>>)],
    ) -> Result<(Vec<u64>, u64), OutboxError> {
        let mut state = self.lock();
        // A sequence past what the collector accepts would stop delivery for good (the stream
        // is refused and resent forever): refuse here, loudly, instead.
        let next = state
            .next_sequence
            .max(self.read_meta(&state, NEXT_SEQUENCE).unwrap_or(0));
        let last = next.saturating_add((findings.len() as u64).saturating_sub(1));
        if !findings.is_empty() && last > salvage::MAX_SEQUENCE {
            return Err(OutboxError::SequencesExhausted {
                path: self.path.clone(),
                next,
            });
        }
        if self.flush(&mut state) {
            let mut next = state.next_sequence;
            let written = self.write(&mut state, |database| {
                let transaction = database.begin_write().map_err(|e| self.storage(e))?;
                self.write_conditions(&transaction, conditions)?;
                let mut sequences = Vec::with_capacity(findings.len());
                let evicted = self.insert(
                    &transaction,
                    findings.iter().map(|finding| (None, finding)),
                    &mut next,
                    &mut sequences,
                    0,
                )?;
                transaction.commit().map_err(|e| self.storage(e))?;
                Ok((sequences, evicted))
            });
            if let Ok((sequences, evicted)) = written {
                state.next_sequence = state.next_sequence.max(next);
                return Ok((sequences, evicted));
            }
        }
        // The disk does not take it now: hold it in memory, numbered from the same counter.
        for (key, value) in conditions {
            state.held.remember_condition(key.clone(), value.clone());
        }
        let mut sequences = Vec::with_capacity(findings.len());
        let mut evicted = 0;
        for finding in findings {
            let size = serde_json::to_vec(finding).map_or(0, |encoded| encoded.len() as u64);
            let sequence = state.next_sequence;
            let (kept, dropped) = state.held.push(sequence, finding.clone(), size);
            if kept {
                sequences.push(sequence);
                state.next_sequence += 1;
            }
            evicted += dropped;
        }
        state.dropped_while_unwritable += evicted;
        Ok((sequences, evicted))
    }

    fn write_conditions(
        &self,
        transaction: &redb::WriteTransaction,
        conditions: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), OutboxError> {
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
        Ok(())
    }

    /// Inserts findings within the byte bound, evicting the oldest of the lowest severity. A
    /// finding numbered `Some` keeps its sequence (it was held, maybe already sent); one
    /// numbered `None` takes `next` only if it is kept, so a dropped newcomer leaves no gap.
    /// `already_evicted` (dropped from memory) joins the eviction count. Keeps `next` and the
    /// stored counter past every sequence written.
    fn insert<'f>(
        &self,
        transaction: &redb::WriteTransaction,
        findings: impl Iterator<Item = (Option<u64>, &'f Finding)>,
        next: &mut u64,
        given: &mut Vec<u64>,
        already_evicted: u64,
    ) -> Result<u64, OutboxError> {
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
        *next = (*next).max(read(&meta, NEXT_SEQUENCE)?).max(1);
        let mut bytes = read(&meta, PENDING_BYTES)?;
        let mut evicted = already_evicted;
        for (numbered, finding) in findings {
            let encoded = serde_json::to_vec(finding).map_err(|e| OutboxError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            })?;
            let size = encoded.len() as u64;
            let rank = finding.severity.rank();
            // A sequence already stored (a salvage that printed a record twice) replaces the
            // old copy: its bytes and index entry go first, or they would count forever.
            if let Some(sequence) = numbered {
                self.remove_stored(&mut table, &mut index, sequence, &mut bytes)?;
            }
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
                        if let Some(old) = table.remove(sequence).map_err(|e| self.storage(e))? {
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
            let sequence = numbered.unwrap_or(*next);
            table
                .insert(sequence, encoded.as_slice())
                .map_err(|e| self.storage(e))?;
            index
                .insert((rank, sequence), ())
                .map_err(|e| self.storage(e))?;
            bytes += size;
            given.push(sequence);
            *next = (*next).max(sequence.saturating_add(1));
        }
        meta.insert(NEXT_SEQUENCE, *next)
            .map_err(|e| self.storage(e))?;
        meta.insert(PENDING_BYTES, bytes)
            .map_err(|e| self.storage(e))?;
        if evicted > 0 {
            let total = read(&meta, EVICTED_TOTAL)? + evicted;
            meta.insert(EVICTED_TOTAL, total)
                .map_err(|e| self.storage(e))?;
        }
        Ok(evicted - already_evicted)
    }

    /// Removes `sequence` from the findings table and the index, taking its size off `bytes`.
    fn remove_stored(
        &self,
        table: &mut redb::Table<u64, &[u8]>,
        index: &mut redb::Table<(u8, u64), ()>,
        sequence: u64,
        bytes: &mut u64,
    ) -> Result<(), OutboxError> {
        let Some(old) = table.remove(sequence).map_err(|e| self.storage(e))? else {
            return Ok(());
        };
        *bytes = bytes.saturating_sub(old.value().len() as u64);
        let old_rank = serde_json::from_slice::<Finding>(old.value())
            .ok()
            .map(|finding| finding.severity.rank());
        drop(old);
        for rank in 0..=Severity::Critical.rank() {
            // An unreadable old copy: its rank is unknown, look through every one.
            if old_rank.is_none_or(|old_rank| old_rank == rank) {
                index
                    .remove((rank, sequence))
                    .map_err(|e| self.storage(e))?;
            }
        }
        Ok(())
    }

    /// Up to `limit` queued findings with a sequence above `after`, in order: from the file,
    /// then from memory.
    pub fn pending_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Finding)>, OutboxError> {
        let mut state = self.lock();
        self.pending_locked(&mut state, after, limit)
    }

    fn pending_locked(
        &self,
        state: &mut State,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Finding)>, OutboxError> {
        let after = after.max(state.acked_unwritten.unwrap_or(0));
        loop {
            let mut pending = Vec::new();
            let mut unreadable = Vec::new();
            if let Some(database) = state.database.as_ref() {
                let read = (|| {
                    let transaction = database.begin_read().map_err(|e| self.storage(e))?;
                    let table = transaction
                        .open_table(FINDINGS)
                        .map_err(|e| self.storage(e))?;
                    for entry in table
                        .range(after.saturating_add(1)..)
                        .map_err(|e| self.storage(e))?
                    {
                        if pending.len() >= limit {
                            break;
                        }
                        let (sequence, encoded) = entry.map_err(|e| self.storage(e))?;
                        let sequence = sequence.value();
                        if state.unreadable_unwritten.contains(&sequence) {
                            continue;
                        }
                        match serde_json::from_slice::<Finding>(encoded.value()) {
                            Ok(finding) => pending.push((sequence, finding)),
                            Err(e) => unreadable.push((
                                sequence,
                                encoded.value().len() as u64,
                                e.to_string(),
                            )),
                        }
                    }
                    Ok::<(), OutboxError>(())
                })();
                if let Err(e) = read {
                    if is_missing_table(&e) {
                        // A file created while the disk was full: nothing in it yet.
                    } else if is_corrupted(&e) {
                        // Damaged under us: what is left of it cannot be trusted either.
                        self.set_aside(state, &e.to_string());
                        self.flush(state);
                        continue;
                    } else {
                        return Err(e);
                    }
                }
            }
            if unreadable.is_empty() {
                let from = pending.last().map_or(after, |(sequence, _)| *sequence);
                let room = limit.saturating_sub(pending.len());
                if !state.counter_unknown {
                    pending.extend(state.held.after(from, room));
                }
                return Ok(pending);
            }
            // A record this version cannot read (written by another version, damaged on disk)
            // must not block everything behind it: say which, count it as lost for the
            // agent's damage finding, and set it aside.
            for (sequence, bytes, error) in &unreadable {
                tracing::error!(path = %self.path.display(), sequence, bytes, %error, "dropping an unreadable finding from the outbox");
                state.damage.events += 1;
                state.damage.records_lost += 1;
                state.damage.bytes_lost += bytes;
                state.damage.error.clone_from(error);
                state.unreadable_unwritten.insert(*sequence);
            }
            self.flush(state);
            if !pending.is_empty() {
                return Ok(pending);
            }
        }
    }

    fn delete_sequences(
        &self,
        transaction: &redb::WriteTransaction,
        sequences: &[u64],
    ) -> Result<(), OutboxError> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut table = transaction
            .open_table(FINDINGS)
            .map_err(|e| self.storage(e))?;
        let mut index = transaction
            .open_table(BY_SEVERITY)
            .map_err(|e| self.storage(e))?;
        let mut meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
        let mut freed = 0u64;
        for sequence in sequences {
            if let Some(old) = table.remove(*sequence).map_err(|e| self.storage(e))? {
                freed += old.value().len() as u64;
            }
            for rank in 0..=Severity::Critical.rank() {
                index
                    .remove((rank, *sequence))
                    .map_err(|e| self.storage(e))?;
            }
        }
        self.forget_pending_bytes(&mut meta, freed)?;
        Ok(())
    }

    /// Takes `freed` bytes off the file's pending count.
    fn forget_pending_bytes(
        &self,
        meta: &mut redb::Table<&str, u64>,
        freed: u64,
    ) -> Result<(), OutboxError> {
        let bytes = meta
            .get(PENDING_BYTES)
            .map_err(|e| self.storage(e))?
            .map_or(0, |v| v.value());
        meta.insert(PENDING_BYTES, bytes.saturating_sub(freed))
            .map_err(|e| self.storage(e))?;
        Ok(())
    }

    /// Deletes every finding through `sequence` from the file and records the ack (for
    /// `acks_device`, when bound); returns how many.
    fn delete_through(
        &self,
        transaction: &redb::WriteTransaction,
        sequence: u64,
        acks_device: Option<u64>,
    ) -> Result<u64, OutboxError> {
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
        self.forget_pending_bytes(&mut meta, freed)?;
        let acked = meta
            .get(ACKED_THROUGH)
            .map_err(|e| self.storage(e))?
            .map_or(0, |v| v.value());
        meta.insert(ACKED_THROUGH, acked.max(sequence))
            .map_err(|e| self.storage(e))?;
        // A fresh file (after damage) learns whose acks these are with its first one.
        if let Some(device) = acks_device {
            meta.insert(ACKS_DEVICE, device)
                .map_err(|e| self.storage(e))?;
        }
        Ok(gone.len() as u64)
    }

    /// Resets the stored ack if it was given to another device than `device`, and records
    /// `device` as the owner.
    fn bind_acks(
        &self,
        transaction: &redb::WriteTransaction,
        device: u64,
    ) -> Result<(), OutboxError> {
        let mut meta = transaction.open_table(META).map_err(|e| self.storage(e))?;
        let stored = meta
            .get(ACKS_DEVICE)
            .map_err(|e| self.storage(e))?
            .map(|v| v.value());
        if stored != Some(device) {
            let acked = meta
                .get(ACKED_THROUGH)
                .map_err(|e| self.storage(e))?
                .map_or(0, |v| v.value());
            if acked > 0 {
                tracing::info!(
                    acked_through = acked,
                    "the outbox's acks were given to another device id (re-enrolled); starting from none"
                );
            }
            meta.insert(ACKED_THROUGH, 0).map_err(|e| self.storage(e))?;
            meta.insert(ACKS_DEVICE, device)
                .map_err(|e| self.storage(e))?;
        }
        Ok(())
    }

    /// Binds the acks kept in the outbox to `device_id`, once at start with the identity: if
    /// they were given to another device id (`enroll --force` made a new one), they are
    /// forgotten, or the new collector record would be told of acks it never gave and alert
    /// that its database lost findings. While the file cannot be written (a full disk) the
    /// stored ack is not reported until it can be checked; `catch_up` does it.
    pub fn bind_acks_to(&self, device_id: &str) {
        let mut state = self.lock();
        state.acks_device = Some(device_fingerprint(device_id));
        state.acks_device_unchecked = true;
        self.flush(&mut state);
    }

    /// Forgets every finding up to and including `sequence`: the collector committed them.
    /// When the file cannot be written, the ack is kept in memory (those findings are not
    /// sent again) and applied by [`Outbox::catch_up`].
    pub fn acknowledge_through(&self, sequence: u64) -> Result<u64, OutboxError> {
        let mut state = self.lock();
        let state_acks_device = state.acks_device;
        // Held findings numbered without the file's counter were never sent: an ack is for
        // the file's findings of the same sequences.
        let from_memory = if state.counter_unknown {
            0
        } else {
            state.held.acknowledge_through(sequence)
        };
        if self.flush(&mut state) {
            let removed = self.write(&mut state, |database| {
                let transaction = database.begin_write().map_err(|e| self.storage(e))?;
                let removed = self.delete_through(&transaction, sequence, state_acks_device)?;
                transaction.commit().map_err(|e| self.storage(e))?;
                Ok(removed)
            });
            if let Ok(removed) = removed {
                return Ok(removed + from_memory);
            }
        }
        state.acked_unwritten = Some(state.acked_unwritten.unwrap_or(0).max(sequence));
        Ok(from_memory)
    }

    /// The collector has committed up to `committed`. If our counter is not past it, our state
    /// was lost (a wiped state dir with a kept certificate, a restored backup, a damaged
    /// outbox started afresh): renumber what is queued to follow `committed`, or the collector
    /// would drop it as already seen.
    pub fn rebase(&self, committed: u64) -> Result<bool, OutboxError> {
        let mut state = self.lock();
        if state.next_sequence > committed {
            return Ok(false);
        }
        let first = committed.saturating_add(1);
        if self.flush(&mut state) && state.database.is_some() {
            let pending = self.pending_locked(&mut state, 0, usize::MAX)?;
            let mut next = first;
            let renumbered = self.write(&mut state, |database| {
                let transaction = database.begin_write().map_err(|e| self.storage(e))?;
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
                    for (_, finding) in &pending {
                        let encoded =
                            serde_json::to_vec(finding).map_err(|e| OutboxError::Corrupt {
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
                transaction.commit().map_err(|e| self.storage(e))
            });
            if renumbered.is_ok() {
                state.next_sequence = next;
                tracing::warn!(
                    committed,
                    renumbered = pending.len(),
                    "outbox was behind the collector; renumbered"
                );
                return Ok(true);
            }
        }
        // The file cannot be written: renumber in memory. What the file holds moves to memory
        // too (within its bound) and its copies count as acknowledged, so `catch_up` deletes
        // them when it writes the renumbered ones. That is only sound when every row of the
        // file was read: a file that is there but not open, or holds more than is read here,
        // would lose the rest uncounted. Then the rebase waits (the session ends and the
        // uplink tries again later).
        if state.database.is_none() && self.path.exists() {
            return Err(OutboxError::Deferred {
                path: self.path.clone(),
                detail:
                    "cannot renumber after the collector's sequence while the file cannot be opened"
                        .to_owned(),
            });
        }
        let read_limit = 2 * HELD_MAX_FINDINGS;
        let mut moved = Held::default();
        let mut next = first;
        // The file's and memory's, in order (memory's come after the file's).
        let pending = self.pending_locked(&mut state, 0, read_limit + 1)?;
        if pending.len() > read_limit {
            return Err(OutboxError::Deferred {
                path: self.path.clone(),
                detail: format!(
                    "cannot renumber more than {read_limit} findings in memory while the file cannot be written"
                ),
            });
        }
        for (_, finding) in pending {
            let size = serde_json::to_vec(&finding).map_or(0, |e| e.len() as u64);
            if moved.push(next, finding, size).0 {
                next += 1;
            }
        }
        let previous = std::mem::take(&mut state.held);
        for (key, value) in previous.conditions() {
            moved.remember_condition(key.clone(), value.clone());
        }
        moved.dropped_unwritten += previous.dropped_unwritten;
        state.held = moved;
        state.acked_unwritten = Some(state.acked_unwritten.unwrap_or(0).max(committed));
        state.next_sequence = next;
        tracing::warn!(
            committed,
            renumbered = state.held.len(),
            "outbox was behind the collector; renumbered in memory"
        );
        Ok(true)
    }

    pub fn stats(&self) -> Result<OutboxStats, OutboxError> {
        let state = self.lock();
        let mut stats = OutboxStats {
            next_sequence: state.next_sequence,
            ..OutboxStats::default()
        };
        if let Some(database) = state.database.as_ref() {
            let from_file = (|| {
                let transaction = database.begin_read().map_err(|e| self.storage(e))?;
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
                let mut pending = table.len().map_err(|e| self.storage(e))?;
                if let Some(acked) = state.acked_unwritten {
                    // Acknowledged but still in the file: not pending any more.
                    let gone = table.range(..=acked).map_err(|e| self.storage(e))?.count() as u64;
                    pending = pending.saturating_sub(gone);
                }
                Ok::<_, OutboxError>((pending, read(PENDING_BYTES)?, read(EVICTED_TOTAL)?))
            })();
            match from_file {
                Ok((pending, bytes, evicted)) => {
                    stats.pending = pending;
                    stats.pending_bytes = bytes;
                    stats.evicted_total = evicted;
                }
                // A file created while the disk was full: nothing in it yet.
                Err(e) if is_missing_table(&e) => {}
                Err(e) => return Err(e),
            }
        }
        stats.pending += state.held.len();
        stats.pending_bytes += state.held.bytes();
        stats.evicted_total += state.held.dropped_unwritten;
        Ok(stats)
    }

    /// The highest sequence a collector has acknowledged (0 if none yet): the file's, or
    /// an ack held in memory while the file cannot be written. A file that cannot be read
    /// says 0 (unknown), which the collector takes as nothing to compare.
    pub fn acked_through(&self) -> Result<u64, OutboxError> {
        let state = self.lock();
        if state.acks_device_unchecked {
            // The file's may be another device's: only acks given since the bind count.
            return Ok(state.acked_unwritten.unwrap_or(0));
        }
        let from_file = state.database.as_ref().map_or(0, |database| {
            let read = || -> Result<u64, OutboxError> {
                let transaction = database.begin_read().map_err(|e| self.storage(e))?;
                let meta = match transaction.open_table(META) {
                    Ok(meta) => meta,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
                    Err(e) => return Err(self.storage(e)),
                };
                Ok(meta
                    .get(ACKED_THROUGH)
                    .map_err(|e| self.storage(e))?
                    .map_or(0, |v| v.value()))
            };
            read().unwrap_or(0)
        });
        Ok(from_file.max(state.acked_unwritten.unwrap_or(0)))
    }

    /// The highest sequence number ever given out (0 if none).
    pub fn last_sequence(&self) -> Result<u64, OutboxError> {
        Ok(self.lock().next_sequence - 1)
    }

    /// Remembered condition states: the file's, with the changes held in memory over them.
    pub fn conditions(&self) -> Result<Vec<(String, Vec<u8>)>, OutboxError> {
        let state = self.lock();
        let mut conditions = std::collections::BTreeMap::new();
        if let Some(database) = state.database.as_ref() {
            let transaction = database.begin_read().map_err(|e| self.storage(e))?;
            match transaction.open_table(CONDITIONS) {
                Ok(table) => {
                    for entry in table.iter().map_err(|e| self.storage(e))? {
                        let (key, value) = entry.map_err(|e| self.storage(e))?;
                        conditions.insert(key.value().to_owned(), value.value().to_vec());
                    }
                }
                // A file created while the disk was full: nothing in it yet.
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(self.storage(e)),
            }
        }
        for (key, value) in state.held.conditions() {
            match value {
                Some(value) => conditions.insert(key.clone(), value.clone()),
                None => conditions.remove(key),
            };
        }
        Ok(conditions.into_iter().collect())
    }

    /// Damage found and what cannot be written, for the agent's self-health findings.
    pub fn health(&self) -> OutboxHealth {
        let state = self.lock();
        OutboxHealth {
            damage: (state.damage.events > 0).then(|| state.damage.clone()),
            unwritable: state.unwritable.as_ref().map(|failure| Unwritable {
                full: failure.full,
                error: failure.error.clone(),
                free_bytes: (self.free_space)(self.state_dir()),
                held_findings: state.held.len(),
                held_bytes: state.held.bytes(),
                held_dropped: state.dropped_while_unwritable,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn finding(severity: Severity, summary: &str) -> Finding {
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
    fn the_highest_ack_is_kept_across_reopening_and_never_goes_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(OUTBOX_FILE);
        {
            let outbox = Outbox::open(&path, 1 << 20).expect("open");
            assert_eq!(outbox.acked_through().expect("acked"), 0);
            outbox
                .push(&[
                    finding(Severity::Warning, "a"),
                    finding(Severity::Warning, "b"),
                    finding(Severity::Warning, "c"),
                ])
                .expect("push");
            outbox.acknowledge_through(2).expect("ack");
            // A late, lower ack (a collector behind another) does not lower it.
            outbox.acknowledge_through(1).expect("ack");
            assert_eq!(outbox.acked_through().expect("acked"), 2);
        }
        let outbox = Outbox::open(&path, 1 << 20).expect("reopen");
        assert_eq!(outbox.acked_through().expect("acked"), 2);
    }

    #[test]
    fn a_re_enrolled_device_does_not_report_the_old_devices_acks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(OUTBOX_FILE);
        let acked_by = |device: &str| {
            let outbox = Outbox::open(&path, 1 << 20).expect("open");
            outbox.bind_acks_to(device);
            outbox
        };
        {
            let outbox = acked_by("device-a");
            let (sequences, _) = outbox
                .push(&[
                    finding(Severity::Warning, "a"),
                    finding(Severity::Warning, "b"),
                ])
                .expect("push");
            outbox.acknowledge_through(sequences[1]).expect("ack");
            assert_eq!(outbox.acked_through().expect("acked"), 2);
        }
        // `enroll --force`: a new device id. Its collector record never acked anything.
        let outbox = acked_by("device-b");
        assert_eq!(outbox.acked_through().expect("acked"), 0);
        let (sequences, _) = outbox
            .push(&[finding(Severity::Warning, "c")])
            .expect("push");
        outbox.acknowledge_through(sequences[0]).expect("ack");
        drop(outbox);
        // The same device again keeps its acks.
        let outbox = acked_by("device-b");
        assert_eq!(outbox.acked_through().expect("acked"), 3);
    }

    #[test]
    fn a_re_enrolled_device_on_a_full_disk_reports_no_acks_until_it_can_reset_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(OUTBOX_FILE);
        {
            let outbox = Outbox::open(&path, 1 << 20).expect("open");
            outbox.bind_acks_to("device-a");
            outbox
                .push(&[finding(Severity::Warning, "a")])
                .expect("push");
            outbox.acknowledge_through(1).expect("ack");
        }
        let mut outbox = Outbox::open(&path, 1 << 20).expect("open");
        outbox.free_space = test_free_space;
        FREE.with(|free| free.set(0));
        outbox.bind_acks_to("device-b");
        assert!(outbox.health().unwritable.is_some(), "the disk is full");
        assert_eq!(outbox.acked_through().expect("acked"), 0);
        FREE.with(|free| free.set(u64::MAX));
        assert!(outbox.catch_up());
        assert_eq!(
            outbox.acked_through().expect("acked"),
            0,
            "reset in the file"
        );
        drop(outbox);
        let outbox = Outbox::open(&path, 1 << 20).expect("open");
        outbox.bind_acks_to("device-b");
        assert_eq!(outbox.acked_through().expect("acked"), 0);
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
        let state = outbox.lock();
        let transaction = state
            .database
            .as_ref()
            .expect("open")
            .begin_write()
            .expect("write");
        {
            let mut table = transaction.open_table(FINDINGS).expect("table");
            table
                .insert(1u64, b"{not a finding".as_slice())
                .expect("corrupt");
        }
        transaction.commit().expect("commit");
        drop(state);
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(pending.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [2]);
        assert_eq!(outbox.stats().expect("stats").pending, 1);
        // Not only logged: counted for the agent's `agent.outbox_damaged` finding.
        let damage = outbox.health().damage.expect("damage reported");
        assert_eq!((damage.records_lost, damage.bytes_lost), (1, 14));
        assert_eq!(damage.moved_to, None);
    }

    thread_local! {
        /// Free bytes the test's disk has; each test runs on its own thread.
        // Clippy asks for the `const` it already has when std keeps thread-locals in OS slots
        // (x86_64-pc-windows-gnu).
        #[allow(clippy::missing_const_for_thread_local)]
        static FREE: std::cell::Cell<u64> = const { std::cell::Cell::new(u64::MAX) };
    }

    fn test_free_space(_dir: &Path) -> Option<u64> {
        Some(FREE.with(std::cell::Cell::get))
    }

    #[test]
    fn a_full_state_dir_holds_in_memory_still_sends_and_catches_up_when_space_returns() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(OUTBOX_FILE);
        let mut outbox = Outbox::open(&path, 1 << 20).expect("open");
        outbox.free_space = test_free_space;
        outbox
            .push(&[
                finding(Severity::Warning, "a"),
                finding(Severity::Warning, "b"),
            ])
            .expect("push");
        FREE.with(|free| free.set(4096));
        let (sequences, evicted) = outbox
            .push_with_conditions(
                &[
                    finding(Severity::Warning, "c"),
                    finding(Severity::Critical, "d"),
                ],
                &[("disk.used_pct\u{0}/".to_owned(), Some(b"firing".to_vec()))],
            )
            .expect("held, not refused");
        assert_eq!((sequences, evicted), (vec![3, 4], 0));
        let unwritable = outbox.health().unwritable.expect("reported");
        assert!(unwritable.full);
        assert_eq!(
            (unwritable.held_findings, unwritable.free_bytes),
            (2, Some(4096))
        );
        // Sent from memory, after what the file holds, and acknowledged from memory.
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(
            pending.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(outbox.acknowledge_through(3).expect("ack"), 1);
        assert_eq!(
            outbox
                .pending_after(0, 10)
                .expect("pending")
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>(),
            [4],
            "acknowledged findings are not sent again, even those only the file holds"
        );
        assert_eq!(outbox.stats().expect("stats").pending, 1);
        assert_eq!(outbox.last_sequence().expect("last"), 4);
        assert_eq!(outbox.conditions().expect("conditions").len(), 1);
        assert!(!outbox.catch_up(), "still full");

        FREE.with(|free| free.set(u64::MAX));
        assert!(outbox.catch_up());
        assert_eq!(outbox.health().unwritable, None);
        drop(outbox);
        // Written for good: a restart finds the held finding, the condition and the counter.
        let outbox = Outbox::open(&path, 1 << 20).expect("reopen");
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(pending.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [4]);
        assert_eq!(pending[0].1.summary.trim(), "d");
        assert_eq!(
            outbox.conditions().expect("conditions"),
            [("disk.used_pct\u{0}/".to_owned(), b"firing".to_vec())]
        );
        assert_eq!(
            outbox.push(&[finding(Severity::Ok, "e")]).expect("push").0,
            [5],
            "sequences are never reused"
        );
    }

    #[test]
    fn an_agent_started_on_a_full_disk_runs_from_memory_until_it_can_write() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(OUTBOX_FILE);
        FREE.with(|free| free.set(0));
        // The file is created, but not even its tables can be written.
        let outbox = Outbox::open_with(&path, 1 << 20, None, test_free_space).expect("open");
        assert!(outbox.health().unwritable.expect("reported").full);
        assert_eq!(outbox.stats().expect("stats").pending, 0);
        assert_eq!(outbox.conditions().expect("conditions"), []);
        let (sequences, _) = outbox
            .push_with_conditions(
                &[finding(Severity::Warning, "a")],
                &[("k".to_owned(), Some(b"firing".to_vec()))],
            )
            .expect("held");
        assert_eq!(sequences, [1]);
        assert_eq!(outbox.pending_after(0, 10).expect("pending").len(), 1);
        assert_eq!(outbox.conditions().expect("conditions").len(), 1);
        assert!(!outbox.catch_up());

        FREE.with(|free| free.set(u64::MAX));
        assert!(outbox.catch_up());
        assert_eq!(outbox.health().unwritable, None);
        drop(outbox);
        let outbox = Outbox::open(&path, 1 << 20).expect("reopen");
        assert_eq!(outbox.pending_after(0, 10).expect("pending")[0].0, 1);
        assert_eq!(outbox.conditions().expect("conditions").len(), 1);
    }

    #[test]
    fn a_lost_outbox_renumbers_in_memory_while_the_disk_is_full() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut outbox = Outbox::open(&dir.path().join(OUTBOX_FILE), 1 << 20).expect("open");
        outbox.free_space = test_free_space;
        outbox
            .push(&[finding(Severity::Warning, "a")])
            .expect("push");
        FREE.with(|free| free.set(0));
        outbox
            .push(&[finding(Severity::Warning, "b")])
            .expect("held");
        assert!(outbox.rebase(40).expect("rebase"));
        outbox.acknowledge_through(40).expect("ack");
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(
            pending
                .iter()
                .map(|(s, f)| (*s, f.summary.trim().to_owned()))
                .collect::<Vec<_>>(),
            [(41, "a".to_owned()), (42, "b".to_owned())]
        );
        FREE.with(|free| free.set(u64::MAX));
        assert!(outbox.catch_up());
        let pending = outbox.pending_after(0, 10).expect("pending");
        assert_eq!(
            pending.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [41, 42]
        );
        assert_eq!(
            outbox.push(&[finding(Severity::Ok, "c")]).expect("push").0,
            [43]
        );
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

#[cfg(test)]
mod recovery_tests;
