//! A damaged outbox: redb verifies the file before it is trusted; one it cannot verify is
//! moved aside (kept for inspection), what can be read of it is salvaged (`salvage.rs`) into
//! the fresh one, and the loss is counted for the agent's `agent.outbox_damaged` finding.

use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, StorageError};

use super::{Outbox, State, WriteFailure, is_out_of_space, salvage};
use crate::finding::Finding;

/// How opening the file went wrong.
pub(super) enum OpenFailure {
    /// redb cannot verify the file: it is damaged (or not an outbox at all).
    Damaged(String),
    /// The file cannot be opened now (no space to open it, an I/O error): try again later.
    Unavailable(WriteFailure),
    /// Another process has it open: two agents on one state dir is a configuration error.
    Refused(DatabaseError),
}

/// Opens `path`, creating it if needed, after redb verified every page of it. redb trusts
/// the file it opens: a damaged page can make it panic, and the shipped agent is built with
/// `panic = "abort"`, so nothing could catch that. The integrity check (page checksums, the
/// allocator rebuilt) refuses such a file with an error instead, at the cost of reading the
/// whole file once per start (at most `[outbox] max_bytes`, 64 MiB by default: about 65 ms
/// for a full one, measured in a release build, against 1 ms without the check).
pub(super) fn open_verified(path: &Path) -> Result<Database, OpenFailure> {
    let opened = Database::builder()
        // The outbox is mostly written and rarely read: a small cache keeps the agent small.
        .set_cache_size(256 * 1024)
        .set_check_integrity_on_open(true)
        .create(path);
    match opened {
        Ok(database) => Ok(database),
        Err(DatabaseError::DatabaseAlreadyOpen) => {
            Err(OpenFailure::Refused(DatabaseError::DatabaseAlreadyOpen))
        }
        Err(DatabaseError::Storage(StorageError::Io(e)))
            if !matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) =>
        {
            Err(OpenFailure::Unavailable(WriteFailure {
                full: is_out_of_space(&e),
                error: format!("opening {}: {e}", path.display()),
            }))
        }
        Err(DatabaseError::Storage(
            e @ (StorageError::PreviousIo | StorageError::DatabaseClosed),
        )) => Err(OpenFailure::Unavailable(WriteFailure {
            full: false,
            error: format!("opening {}: {e}", path.display()),
        })),
        // Corrupted, an unknown format version, a truncated file: redb cannot vouch for it.
        Err(e) => Err(OpenFailure::Damaged(e.to_string())),
    }
}

/// `outbox.damaged-20261130T024853Z.redb`: beside the outbox, named for when it was found.
fn damaged_name(path: &Path) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut candidate = path.with_file_name(format!("outbox.damaged-{stamp}.redb"));
    // Two damaged files within one second keep both.
    let mut count = 1;
    while candidate.exists() {
        count += 1;
        candidate = path.with_file_name(format!("outbox.damaged-{stamp}-{count}.redb"));
    }
    candidate
}

impl Outbox {
    /// The file exists but cannot be opened for writing (no space to open it): its counter is
    /// still needed, or findings held meanwhile would take sequences it already gave out (and
    /// the collector would drop them as seen). Read without writing, by the salvage child:
    /// the file was not verified, so it is not read in this process.
    pub(super) fn learn_next_sequence(&self, state: &mut State) {
        if state.learned_next_sequence || !self.path.exists() {
            return;
        }
        // Until the counter is known, held findings are not sent (see `State::counter_unknown`).
        state.counter_unknown = true;
        let Some(program) = &self.salvager else {
            return;
        };
        // Tried once: a child that failed would fail again every few seconds of `catch_up`;
        // opening the file later tells the counter anyway.
        state.learned_next_sequence = true;
        // Only the highest sequence matters here: findings are dropped as they come (the
        // salvage keeps a running maximum), and the file stays where it is. The output is
        // bounded as in a salvage (a file the agent wrote prints within twice its bound), so
        // a child led round in circles costs neither memory nor the whole deadline.
        let salvage = salvage::salvage_in_child(
            program,
            &self.path,
            salvage::SALVAGE_DEADLINE,
            self.max_bytes.saturating_mul(2).saturating_add(1024 * 1024),
            &mut |_| {},
        );
        // A child stopped before the counter line may not have seen the highest sequence
        // either: then the counter is unknown, not the highest one seen.
        let next = if salvage.complete || salvage.next_sequence.is_some() {
            salvage.next_sequence.max(
                salvage
                    .max_sequence
                    .map(|sequence| sequence.saturating_add(1)),
            )
        } else {
            None
        };
        match next {
            Some(next) if next > state.next_sequence => {
                state.counter_unknown = false;
                // Anything held already moves up with it.
                state.next_sequence = state.held.renumber_from(next);
                tracing::info!(
                    next_sequence = next,
                    "read the outbox's sequence counter without opening it for writing"
                );
            }
            Some(_) => state.counter_unknown = false,
            None => {
                tracing::warn!(detail = %salvage.detail, "cannot read the outbox's sequence counter; what is held waits until the file can be opened")
            }
        }
    }

    /// Moves a damaged file aside, keeping it for inspection, and counts what it held as lost.
    pub(super) fn set_aside(&self, state: &mut State, error: &str) {
        state.database = None;
        let moved_to = damaged_name(&self.path);
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        state.damage.events += 1;
        state.damage.error = error.to_owned();
        match std::fs::rename(&self.path, &moved_to) {
            Ok(()) => {
                tracing::error!(path = %self.path.display(), moved_to = %moved_to.display(), bytes = size, %error, "the outbox is damaged: moved it aside and started a fresh one");
                match &self.salvager {
                    Some(program) => self.salvage(state, program, &moved_to, size),
                    None => state.damage.unknown_bytes += size,
                }
                state.damage.moved_to = Some(moved_to);
            }
            Err(e) => {
                // Cannot rename (a read-only dir?): remove it instead, the agent must go on.
                tracing::error!(path = %self.path.display(), %error, rename_error = %e, "the outbox is damaged and cannot be moved aside; deleting it");
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::error!(path = %self.path.display(), error = %e, "deleting the damaged outbox");
                }
                state.damage.unknown_bytes += size;
            }
        }
    }

    /// Copies what can be read of the damaged file at `moved_to` into the fresh file, a chunk
    /// per transaction, with their sequences (the collector may have seen them) and within
    /// `max_bytes` (the oldest of the lowest severity go first, as always). Only when the
    /// fresh file cannot be written are they held in memory, within its smaller bound.
    fn salvage(&self, state: &mut State, program: &Path, moved_to: &Path, size: u64) {
        // A failure of the file just moved aside says nothing of the fresh one: left in place,
        // it would hold every salvaged finding in memory (a smaller bound) even with room on
        // disk. The first chunk that cannot be written records its own.
        state.unwritable = None;
        let mut kept = 0;
        let salvage = salvage::salvage_in_child(
            program,
            moved_to,
            salvage::SALVAGE_DEADLINE,
            // Records are printed escaped inside JSON lines, a little larger than stored, and
            // in sequence order: stopping at `max_bytes` would keep the oldest and lose the
            // newest of a full outbox. Twice that reads a full one whole; what is past the
            // bound is then evicted the usual way (oldest of the lowest severity first).
            self.max_bytes.saturating_mul(2),
            &mut |chunk| kept += self.keep_salvaged(state, chunk),
        );
        for (key, value) in salvage.conditions {
            state.held.remember_condition(key, Some(value));
        }
        state.next_sequence = state
            .next_sequence
            .max(salvage.next_sequence.unwrap_or(0))
            .max(salvage.max_sequence.map_or(0, |s| s.saturating_add(1)));
        state.damage.records_salvaged += kept;
        state.damage.records_lost += salvage.unreadable;
        state.damage.bytes_lost += salvage.unreadable_bytes;
        if !salvage.complete {
            // Whatever the salvage did not reach may have held findings: unknown.
            state.damage.unknown_bytes += size;
        }
        tracing::warn!(
            moved_to = %moved_to.display(),
            salvaged = kept,
            unreadable = salvage.unreadable,
            complete = salvage.complete,
            detail = %salvage.detail,
            "salvaged what could be read of the damaged outbox"
        );
    }

    /// Writes one chunk of salvaged findings to the fresh file (opened here, as the damaged
    /// one was just moved aside), or holds them in memory if it cannot be written. Returns
    /// how many were kept.
    fn keep_salvaged(&self, state: &mut State, chunk: Vec<(u64, Finding)>) -> u64 {
        if state.database.is_none() && state.unwritable.is_none() {
            match open_verified(&self.path) {
                Ok(database) => state.database = Some(database),
                Err(OpenFailure::Unavailable(failure)) => state.unwritable = Some(failure),
                // Not tried again for every chunk: `reopen` deals with it after the salvage.
                Err(OpenFailure::Damaged(error)) => {
                    state.unwritable = Some(WriteFailure {
                        full: false,
                        error: format!("opening the fresh {}: {error}", self.path.display()),
                    });
                }
                Err(OpenFailure::Refused(e)) => {
                    state.unwritable = Some(WriteFailure {
                        full: false,
                        error: format!("opening the fresh {}: {e}", self.path.display()),
                    });
                }
            }
        }
        if state.database.is_some() && state.unwritable.is_none() {
            let mut next = state.next_sequence;
            let written = self.write(state, |database| {
                let transaction = database.begin_write().map_err(|e| self.storage(e))?;
                let mut given = Vec::with_capacity(chunk.len());
                self.insert(
                    &transaction,
                    chunk
                        .iter()
                        .map(|(sequence, finding)| (Some(*sequence), finding)),
                    &mut next,
                    &mut given,
                    0,
                )?;
                // `insert` opens the findings and meta tables; the others for a fresh file.
                transaction
                    .open_table(super::CONDITIONS)
                    .map_err(|e| self.storage(e))?;
                transaction.commit().map_err(|e| self.storage(e))?;
                Ok(given.len() as u64)
            });
            if let Ok(kept) = written {
                state.next_sequence = state.next_sequence.max(next);
                return kept;
            }
        }
        let mut kept = 0;
        for (sequence, finding) in chunk {
            let bytes = serde_json::to_vec(&finding).map_or(0, |e| e.len() as u64);
            if state.held.push(sequence, finding, bytes).0 {
                kept += 1;
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::finding;
    use super::*;
    use crate::finding::{Finding, Severity};
    use crate::outbox::OUTBOX_FILE;

    /// A real outbox, written the way the agent writes it: findings, acks, conditions.
    fn written_outbox(path: &Path) {
        let outbox = Outbox::open(path, 1 << 20).expect("open");
        for round in 0..30u64 {
            let batch: Vec<Finding> = (0..10)
                .map(|i| {
                    let mut f = finding(Severity::Warning, &format!("crash {round} {i}"));
                    f.evidence
                        .insert("path".to_owned(), format!("/var/crash/app{i}.crash").into());
                    f
                })
                .collect();
            outbox
                .push_with_conditions(
                    &batch,
                    &[(
                        format!("crash.new_file\u{0}app{round}"),
                        Some(b"{}".to_vec()),
                    )],
                )
                .expect("push");
            if round % 3 == 0 {
                outbox.acknowledge_through(round * 5).expect("ack");
            }
        }
    }

    /// Damage done to the bytes of a real outbox file, each a variant of the drill in issue 17.
    fn damage_variants(file: &[u8]) -> Vec<(String, Vec<u8>)> {
        const PAGE: usize = 4096;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut variants = Vec::new();
        let pages = file.len().div_ceil(PAGE);
        for page in 0..pages {
            let range = page * PAGE..((page + 1) * PAGE).min(file.len());
            // Pages never written hold nothing to damage.
            if file[range.clone()].iter().all(|b| *b == 0) {
                continue;
            }
            let mut zeroed = file.to_vec();
            zeroed[range.clone()].fill(0);
            variants.push((format!("page {page} zeroed"), zeroed));
            let mut noise = file.to_vec();
            for byte in &mut noise[range.clone()] {
                *byte = random() as u8;
            }
            variants.push((format!("page {page} random bytes"), noise));
            let mut flipped = file.to_vec();
            for _ in 0..4 {
                let at = range.start + (random() as usize) % range.len();
                flipped[at] ^= 0xff;
            }
            variants.push((format!("page {page} flipped bytes"), flipped));
        }
        let mut header = file.to_vec();
        header[..512.min(file.len())].fill(0);
        variants.push(("header zeroed".to_owned(), header));
        for keep in [9, 512, PAGE, file.len() / 2, file.len() - PAGE] {
            variants.push((format!("truncated to {keep} bytes"), file[..keep].to_vec()));
        }
        let mut middle = file.to_vec();
        let half = file.len() / 2;
        for byte in &mut middle[half..half + 1024] {
            *byte = random() as u8;
        }
        variants.push(("random bytes in the middle".to_owned(), middle));
        variants
    }

    #[test]
    fn a_damaged_outbox_file_never_panics_and_the_agent_goes_on_with_a_fresh_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let original = dir.path().join("original.redb");
        written_outbox(&original);
        let file = std::fs::read(&original).expect("read");
        let variants = damage_variants(&file);
        let (mut moved_aside, mut kept) = (0, 0);
        let mut panicked = Vec::new();
        for (name, damaged) in &variants {
            let state_dir = tempfile::tempdir().expect("temp dir");
            let path = state_dir.path().join(OUTBOX_FILE);
            std::fs::write(&path, damaged).expect("write damaged");
            // The test profile unwinds, so a panic inside redb is caught and named here; the
            // shipped agent aborts on one, which is why none may happen.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let outbox = Outbox::open(&path, 1 << 20).expect("opens, whatever the damage");
                let (sequences, _) = outbox
                    .push(&[finding(Severity::Critical, "after the damage")])
                    .expect("push");
                let sequence = *sequences.first().expect("kept");
                let pending = outbox.pending_after(0, usize::MAX).expect("pending");
                assert!(
                    pending
                        .iter()
                        .any(|(s, f)| *s == sequence && f.summary.trim() == "after the damage"),
                    "{name}: the new finding is queued"
                );
                outbox.stats().expect("stats");
                outbox.conditions().expect("conditions");
                outbox.acknowledge_through(sequence).expect("ack");
                outbox.health()
            }));
            match outcome {
                Ok(health) => match health.damage.and_then(|d| d.moved_to) {
                    Some(moved_to) => {
                        assert!(moved_to.exists(), "{name}: the damaged file is kept");
                        moved_aside += 1;
                    }
                    None => kept += 1,
                },
                Err(_) => panicked.push(name.clone()),
            }
        }
        eprintln!(
            "{} damage variants of a {} byte outbox: {moved_aside} moved aside, {kept} verified or repaired by redb, {} panicked",
            variants.len(),
            file.len(),
            panicked.len()
        );
        assert!(panicked.is_empty(), "panicked: {panicked:?}");
        assert!(
            moved_aside > 0,
            "some variants must be damage redb cannot repair"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_damaged_outbox_larger_than_the_memory_bound_is_salvaged_whole_into_the_fresh_file() {
        use crate::outbox::HELD_MAX_BYTES;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut lines = Vec::new();
        let mut printed = 0;
        let mut sequence = 0;
        // More than memory would hold while the disk is full.
        while printed < HELD_MAX_BYTES + HELD_MAX_BYTES / 2 {
            sequence += 1;
            let mut f = finding(Severity::Warning, &format!("crash {sequence}"));
            f.evidence
                .insert("padding".to_owned(), "x".repeat(200).into());
            let record = serde_json::to_string(&f).expect("json");
            printed += record.len() as u64;
            lines.push(format!(
                "{{\"finding\":{{\"sequence\":{sequence},\"record\":{}}}}}",
                serde_json::to_string(&record).expect("json")
            ));
        }
        lines.push(format!("{{\"next_sequence\":{}}}", sequence + 1));
        let program = crate::outbox::salvage::tests::fake_salvager(dir.path(), &lines, false);
        let path = dir.path().join(OUTBOX_FILE);
        std::fs::write(&path, vec![0xa5; 64 * 1024]).expect("write damaged");
        let outbox = Outbox::open_salvaging(&path, 64 << 20, Some(program)).expect("open");
        let health = outbox.health();
        assert!(health.unwritable.is_none(), "{health:?}");
        let damage = health.damage.expect("damage found");
        assert_eq!(damage.records_salvaged, sequence);
        let stats = outbox.stats().expect("stats");
        assert_eq!(stats.pending, sequence, "every salvaged finding is kept");
        assert_eq!(stats.next_sequence, sequence + 1);
        drop(outbox);
        // In the file, not in memory: they are there after a restart.
        let reopened = Outbox::open(&path, 64 << 20).expect("reopen");
        assert_eq!(reopened.stats().expect("stats").pending, sequence);
    }
}
