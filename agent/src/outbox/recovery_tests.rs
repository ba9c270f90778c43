//! The outbox's recovery paths end to end within one process: salvage, a file that cannot
//! be opened, rebase while the disk is full. Each test is named after what once broke.

use super::tests::finding;
use super::*;
#[cfg(unix)]
use crate::outbox::salvage::tests::fake_salvager;

#[cfg(unix)]
fn line(sequence: u64, summary: &str) -> String {
    let record = serde_json::to_string(&finding(Severity::Warning, summary)).expect("json");
    format!(
        "{{\"finding\":{{\"sequence\":{sequence},\"record\":{}}}}}",
        serde_json::to_string(&record).expect("json")
    )
}

#[cfg(unix)]
fn seqs(outbox: &Outbox) -> Vec<u64> {
    outbox
        .pending_after(0, usize::MAX)
        .expect("pending")
        .iter()
        .map(|(s, _)| *s)
        .collect()
}

/// A salvage child that prints the same records over and over (the cyclic b-tree the salvage
/// itself guards against) inflates PENDING_BYTES for good: every duplicate adds its size, only
/// the one stored copy is ever subtracted. Once everything is acked the outbox believes it is
/// full and drops every new finding.
#[cfg(unix)]
#[test]
fn duplicate_salvaged_sequences_leave_phantom_pending_bytes_and_new_findings_are_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lines: Vec<String> = (1..=20).map(|s| line(s, &format!("crash {s}"))).collect();
    let program = fake_salvager(dir.path(), &lines, true);
    let path = dir.path().join(OUTBOX_FILE);
    std::fs::write(&path, vec![0xa5; 64 * 1024]).expect("write damaged");
    let max_bytes = 64 * 1024;
    let outbox = Outbox::open_salvaging(&path, max_bytes, Some(program)).expect("open");
    let last = outbox.last_sequence().expect("last");
    outbox.acknowledge_through(last).expect("ack all");
    let stats = outbox.stats().expect("stats");
    eprintln!("after acking everything: {stats:?}");
    assert_eq!(stats.pending, 0);
    // (stats.pending_bytes is ~max_bytes here: phantom bytes of the duplicates)
    // The collector is away: five small findings (~550 bytes) into an empty 64 KiB outbox.
    let batch: Vec<Finding> = (0..5)
        .map(|i| finding(Severity::Warning, &format!("new {i}")))
        .collect();
    let (sequences, evicted) = outbox.push(&batch).expect("push");
    assert_eq!(
        (
            sequences.len(),
            evicted,
            outbox.stats().expect("stats").pending
        ),
        (5, 0, 5),
        "five small findings into an empty outbox are all kept"
    );
}

/// A record salvaged at MAX_SEQUENCE (accepted by `Salvage::take`) moves the counter to
/// MAX_SEQUENCE + 1: every later finding gets a sequence the collector refuses (stream ended,
/// resent forever).
#[cfg(unix)]
#[test]
fn a_salvaged_record_at_max_sequence_makes_every_later_sequence_one_the_collector_refuses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lines = vec![line(salvage::MAX_SEQUENCE, "flipped")];
    let program = fake_salvager(dir.path(), &lines, false);
    let path = dir.path().join(OUTBOX_FILE);
    std::fs::write(&path, vec![0xa5; 64 * 1024]).expect("write damaged");
    let outbox = Outbox::open_salvaging(&path, 1 << 20, Some(program)).expect("open");
    let (sequences, _) = outbox
        .push(&[finding(Severity::Warning, "new")])
        .expect("push");
    assert!(
        sequences[0] <= salvage::MAX_SEQUENCE,
        "sequence {} is past what the collector accepts",
        sequences[0]
    );
}

/// The file cannot be opened at start (EROFS, or a crash-dirty file on a full disk that the
/// read-only salvage child cannot read either): the counter is unknown, held findings take
/// 1.. — the file's own unacked sequences. Their acks are later applied to the file and
/// delete the file's findings, never sent.
#[cfg(unix)]
#[test]
fn held_findings_numbered_without_the_files_counter_get_acks_that_delete_the_files_findings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(OUTBOX_FILE);
    let aside = dir.path().join("kept.redb");
    {
        let outbox = Outbox::open(&path, 1 << 20).expect("open");
        outbox
            .push(&[
                finding(Severity::Warning, "file 1"),
                finding(Severity::Warning, "file 2"),
                finding(Severity::Warning, "file 3"),
            ])
            .expect("push");
    }
    // The file cannot be opened (played by a directory in its place); the salvage child
    // cannot read the counter either (prints nothing, fails).
    std::fs::rename(&path, &aside).expect("move");
    std::fs::create_dir(&path).expect("dir");
    let program = fake_salvager(dir.path(), &[], false);
    let outbox = Outbox::open_with(&path, 1 << 20, Some(program), free_bytes).expect("open");
    let (held, _) = outbox
        .push(&[
            finding(Severity::Warning, "held a"),
            finding(Severity::Warning, "held b"),
        ])
        .expect("held");
    assert_eq!(held, [1, 2], "numbered from what is known (nothing)");
    // Welcome: the collector committed nothing of this device yet (0): no rebase. Whatever
    // is handed out is sent and acked: the held ones wait for the file's counter.
    outbox.rebase(0).expect("rebase");
    let sent = seqs(&outbox);
    assert_eq!(
        sent, [0u64; 0],
        "held findings numbered without the counter are not sent"
    );
    outbox.acknowledge_through(0).expect("ack");
    // The file can be opened again.
    std::fs::remove_dir(&path).expect("rmdir");
    std::fs::rename(&aside, &path).expect("move back");
    assert!(outbox.catch_up());
    let pending = seqs(&outbox);
    assert_eq!(
        pending,
        [1, 2, 3, 4, 5],
        "the file's unsent findings are still queued, the held ones after them"
    );
}

/// Rebase while the file is not open (spent handle after a failed write — e.g. rebase's own
/// whole-table rewrite meeting ENOSPC — or unopenable at start): the in-memory path moves only
/// what memory holds, then records `committed` as acked, so `catch_up` deletes every finding
/// the file held, uncounted.
#[cfg(unix)]
#[test]
fn rebase_while_the_file_is_not_open_deletes_the_files_findings_at_catch_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(OUTBOX_FILE);
    let aside = dir.path().join("kept.redb");
    {
        let outbox = Outbox::open(&path, 1 << 20).expect("open");
        outbox
            .push(&[
                finding(Severity::Warning, "file 1"),
                finding(Severity::Warning, "file 2"),
                finding(Severity::Warning, "file 3"),
            ])
            .expect("push");
    }
    std::fs::rename(&path, &aside).expect("move");
    std::fs::create_dir(&path).expect("dir");
    // This time the child reads the counter fine.
    let program = fake_salvager(dir.path(), &["{\"next_sequence\":4}".to_owned()], false);
    let outbox = Outbox::open_with(&path, 1 << 20, Some(program), free_bytes).expect("open");
    assert_eq!(outbox.last_sequence().expect("last"), 3);
    // A collector restored from elsewhere says it committed through 10 (lost state): the
    // rebase waits for the file (the session ends), and succeeds once it can be read.
    assert!(outbox.rebase(10).is_err(), "no rebase over rows not read");
    std::fs::remove_dir(&path).expect("rmdir");
    std::fs::rename(&aside, &path).expect("move back");
    assert!(outbox.catch_up());
    assert!(outbox.rebase(10).expect("rebase"));
    let stats = outbox.stats().expect("stats");
    eprintln!("{stats:?} pending {:?}", seqs(&outbox));
    assert!(
        stats.pending == 3 || stats.evicted_total == 3,
        "the file's three findings are renumbered and queued, or at least counted as dropped: {stats:?}"
    );
}

/// Rebase on a full disk with the file open: only the first 2 * HELD_MAX_FINDINGS of the file
/// are read into memory, then `committed` is recorded as acked, so catch_up deletes the rest
/// of the file without counting them anywhere.
#[test]
fn rebase_on_a_full_disk_loses_the_files_findings_past_what_it_reads_uncounted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(OUTBOX_FILE);
    let mut outbox = Outbox::open(&path, 64 << 20).expect("open");
    let total = 2 * HELD_MAX_FINDINGS as u64 + 5;
    let batch: Vec<Finding> = (0..total)
        .map(|i| finding(Severity::Warning, &format!("{i}")))
        .collect();
    outbox.push(&batch).expect("push");
    fn full(_: &Path) -> Option<u64> {
        Some(0)
    }
    fn room(_: &Path) -> Option<u64> {
        Some(u64::MAX)
    }
    outbox.free_space = full;
    assert!(
        outbox.rebase(total + 100).is_err(),
        "more than memory takes: the rebase waits"
    );
    outbox.free_space = room;
    assert!(outbox.catch_up());
    assert!(outbox.rebase(total + 100).expect("rebase"));
    let stats = outbox.stats().expect("stats");
    eprintln!("{stats:?}");
    assert_eq!(
        stats.pending + stats.evicted_total,
        total,
        "every finding is queued or counted as dropped"
    );
}

/// A counter at the last sequence the collector accepts gives that one out, then refuses
/// (loudly) instead of handing out one the collector would refuse for good.
#[test]
fn a_counter_at_max_sequence_refuses_to_hand_out_one_past_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = Outbox::open(&dir.path().join(OUTBOX_FILE), 1 << 20).expect("open");
    outbox.lock().next_sequence = salvage::MAX_SEQUENCE;
    let (sequences, _) = outbox
        .push(&[finding(Severity::Warning, "last")])
        .expect("push");
    assert_eq!(sequences, [salvage::MAX_SEQUENCE]);
    let refused = outbox.push(&[finding(Severity::Warning, "one too many")]);
    assert!(
        matches!(refused, Err(OutboxError::SequencesExhausted { .. })),
        "{refused:?}"
    );
    assert_eq!(outbox.last_sequence().expect("last"), salvage::MAX_SEQUENCE);
}

/// Learning the counter of a file that cannot be opened ran the child with no output bound:
/// a child led round in circles held the agent for the whole deadline, and its condition
/// lines piled up in memory. Now it is stopped past the outbox's bound, and a counter it
/// never printed is unknown (held findings wait), not the highest sequence seen so far.
#[cfg(unix)]
#[test]
fn learning_the_counter_from_a_child_printing_in_circles_stops_at_the_byte_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(OUTBOX_FILE);
    std::fs::create_dir(&path).expect("dir");
    let mut lines: Vec<String> = (1..=20).map(|s| line(s, &format!("crash {s}"))).collect();
    lines.push("{\"condition\":{\"key\":\"k\",\"state\":\"{}\"}}".to_owned());
    let program = fake_salvager(dir.path(), &lines, true);
    let started = std::time::Instant::now();
    let outbox = Outbox::open_with(&path, 64 * 1024, Some(program), free_bytes).expect("open");
    assert!(
        started.elapsed() < salvage::SALVAGE_DEADLINE / 2,
        "stopped at the byte bound, not the deadline"
    );
    outbox
        .push(&[finding(Severity::Warning, "held")])
        .expect("held");
    assert_eq!(
        seqs(&outbox),
        [0u64; 0],
        "the counter was never printed: unknown"
    );
}

/// Damage found while an earlier write failure was still recorded (a full disk that has
/// room again, say): the salvage took the old failure for the fresh file's and held every
/// salvaged finding in memory, whose smaller bound dropped the oldest.
#[cfg(unix)]
#[test]
fn a_salvage_after_an_earlier_write_failure_writes_to_the_fresh_file_not_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(OUTBOX_FILE);
    let total = HELD_MAX_FINDINGS as u64 + 5;
    let lines: Vec<String> = (1..=total)
        .map(|s| line(s, &format!("crash {s}")))
        .collect();
    let program = fake_salvager(dir.path(), &lines, false);
    let outbox = Outbox::open_salvaging(&path, 64 << 20, Some(program)).expect("open");
    {
        let mut state = outbox.lock();
        state.database = None;
        state.unwritable = Some(WriteFailure {
            full: false,
            error: "an earlier failure".to_owned(),
        });
    }
    std::fs::write(&path, vec![0xa5; 64 * 1024]).expect("write damaged");
    assert!(outbox.catch_up());
    let stats = outbox.stats().expect("stats");
    assert_eq!(
        (stats.pending, stats.evicted_total),
        (total, 0),
        "{stats:?}"
    );
}
