//! Salvaging a damaged outbox file: what redb can still read of it is copied to the fresh
//! outbox. The reading happens in a child process (`firstline-agent outbox-salvage FILE`,
//! hidden): redb trusts the pages it reads, a damaged one can make it panic, loop or ask for
//! absurd memory, and the shipped agent aborts on a panic. A child that dies takes nothing
//! with it; what it printed before (one JSON line per record) is kept.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::{CONDITIONS, FINDINGS, META, NEXT_SEQUENCE};
use crate::finding::Finding;

/// A salvage that takes longer than this is cut short: a sane outbox reads in well under a
/// second, a damaged one can send redb round in circles.
pub const SALVAGE_DEADLINE: Duration = Duration::from_secs(20);

/// The highest sequence the collector accepts: it stores sequences as SQL integers and ends
/// the stream of an agent that sends a larger one, which would then resend it forever.
pub const MAX_SEQUENCE: u64 = i64::MAX as u64;

/// Findings are handed to the caller in chunks of about this many bytes (as printed), so
/// the parent holds one chunk at a time, and the outbox writes one transaction per chunk.
const CHUNK_BYTES: u64 = 1024 * 1024;

/// One line of the child's output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Finding { sequence: u64, record: String },
    NextSequence(u64),
    Condition { key: String, state: String },
}

/// What came back from a damaged file.
#[derive(Debug, Default)]
pub struct Salvage {
    /// Findings read and not yet handed to the caller's sink.
    pub findings: Vec<(u64, Finding)>,
    /// Bytes (as printed) of `findings`.
    findings_bytes: u64,
    /// Every line's bytes so far: the child is stopped once they pass the caller's limit.
    pub output_bytes: u64,
    /// The highest sequence of a finding read (handed on or not).
    pub max_sequence: Option<u64>,
    /// Records read but not decodable (or numbered outside what the collector accepts),
    /// and their bytes.
    pub unreadable: u64,
    pub unreadable_bytes: u64,
    pub next_sequence: Option<u64>,
    /// Condition states by key: a map, so a child printing in circles cannot grow it.
    pub conditions: BTreeMap<String, Vec<u8>>,
    /// The child read the whole file: nothing beyond `unreadable` is unaccounted for.
    pub complete: bool,
    /// Why it is not complete, when it is not.
    pub detail: String,
}

/// Runs `program outbox-salvage damaged` and collects what it prints within the deadline,
/// handing findings to `sink` a chunk at a time. Once more than `max_output_bytes` have been
/// printed the child is stopped: a damaged b-tree can lead redb round in circles, printing
/// the same records for the whole deadline, and the outbox keeps no more than that anyway.
pub fn salvage_in_child(
    program: &Path,
    damaged: &Path,
    deadline: Duration,
    max_output_bytes: u64,
    sink: &mut dyn FnMut(Vec<(u64, Finding)>),
) -> Salvage {
    let mut salvage = Salvage::default();
    let spawn = || {
        std::process::Command::new(program)
            .arg("outbox-salvage")
            .arg(damaged)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
    };
    // "Text file busy" (ETXTBSY): a program just written may still be open for writing in a
    // child another thread forked before its exec closed the descriptor; it passes at once.
    let mut child = spawn();
    for _ in 0..5 {
        match &child {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(Duration::from_millis(20));
                child = spawn();
            }
            _ => break,
        }
    }
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            salvage.detail = format!("starting {} outbox-salvage: {e}", program.display());
            return salvage;
        }
    };
    let (lines, received) = std::sync::mpsc::channel::<String>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let stderr = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            let mut text = String::new();
            // At most a few KiB of the child's last words, for the log.
            let _ = std::io::Read::read_to_string(
                &mut std::io::Read::take(stderr, 16 * 1024),
                &mut text,
            );
            text
        })
    });
    let started = Instant::now();
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        match received.recv_timeout(left) {
            Ok(line) => {
                salvage.take(&line);
                if salvage.findings_bytes >= CHUNK_BYTES {
                    salvage.findings_bytes = 0;
                    sink(std::mem::take(&mut salvage.findings));
                }
                if salvage.output_bytes > max_output_bytes {
                    salvage.detail = format!(
                        "stopped after {} bytes of output, more than the outbox holds",
                        salvage.output_bytes
                    );
                    let _ = child.kill();
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                salvage.detail = format!("cut short after {}s", deadline.as_secs());
                let _ = child.kill();
                break;
            }
        }
    }
    if !salvage.findings.is_empty() {
        salvage.findings_bytes = 0;
        sink(std::mem::take(&mut salvage.findings));
    }
    let status = child.wait();
    let said = stderr
        .and_then(|thread| thread.join().ok())
        .unwrap_or_default();
    match status {
        Ok(status) if status.success() && salvage.detail.is_empty() => salvage.complete = true,
        Ok(status) if salvage.detail.is_empty() => {
            salvage.detail = format!(
                "the salvage stopped part way ({status}): {}",
                said.lines()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or("")
            );
        }
        Ok(_) => {}
        Err(e) => salvage.detail = format!("waiting for the salvage: {e}"),
    }
    salvage
}

impl Salvage {
    fn take(&mut self, line: &str) {
        let line_bytes = line.len() as u64 + 1;
        self.output_bytes = self.output_bytes.saturating_add(line_bytes);
        match serde_json::from_str::<Line>(line) {
            // The file was not verified: a flipped bit can make any number of a sequence.
            // One the collector refuses would block delivery for good; it is a lost record. So
            // is one at MAX_SEQUENCE: the counter after it would be one the collector refuses.
            Ok(Line::Finding { sequence, record }) if !(1..MAX_SEQUENCE).contains(&sequence) => {
                self.unreadable += 1;
                self.unreadable_bytes += record.len() as u64;
            }
            Ok(Line::Finding { sequence, record }) => {
                match serde_json::from_str::<Finding>(&record) {
                    Ok(finding) => {
                        self.max_sequence = self.max_sequence.max(Some(sequence));
                        self.findings.push((sequence, finding));
                        self.findings_bytes += line_bytes;
                    }
                    Err(_) => {
                        self.unreadable += 1;
                        self.unreadable_bytes += record.len() as u64;
                    }
                }
            }
            // A counter past what the collector accepts is damage, not a counter.
            Ok(Line::NextSequence(next)) if (1..=MAX_SEQUENCE).contains(&next) => {
                self.next_sequence = Some(next)
            }
            Ok(Line::NextSequence(_)) => {}
            Ok(Line::Condition { key, state }) => {
                self.conditions.insert(key, state.into_bytes());
            }
            // A line cut off by the child's death: not a record.
            Err(_) => {}
        }
    }
}

/// `firstline-agent outbox-salvage FILE`: prints what redb can read of `file`, one JSON line
/// per record, each flushed as it is read so a crash part way keeps what came before.
pub fn salvage_to(file: &Path, out: &mut impl Write) -> Result<(), String> {
    let builder = {
        let mut builder = Database::builder();
        builder.set_cache_size(256 * 1024);
        builder
    };
    // Read-only first: the damaged file is kept as it was found, for inspection.
    match builder.open_read_only(file) {
        Ok(database) => dump(&database, out),
        Err(read_only) => {
            // A file left by a crash must be repaired before it can be read: repair a copy.
            let copy = copy_path(file);
            std::fs::copy(file, &copy)
                .map_err(|e| format!("{}: {read_only}; copying it: {e}", file.display()))?;
            let outcome = builder
                .open(&copy)
                .map_err(|e| format!("{}: {read_only}; {e}", file.display()))
                .and_then(|database| dump(&database, out));
            let _ = std::fs::remove_file(&copy);
            outcome
        }
    }
}

fn copy_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_owned();
    name.push(".salvage");
    file.with_file_name(name)
}

fn dump(database: &impl ReadableDatabase, out: &mut impl Write) -> Result<(), String> {
    let mut emit = |line: Line| -> Result<(), String> {
        let text = serde_json::to_string(&line).map_err(|e| e.to_string())?;
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("writing the salvage: {e}"))
    };
    let transaction = database.begin_read().map_err(|e| e.to_string())?;
    // Findings first: they are what the agent exists to deliver.
    let mut first_error = None;
    match transaction.open_table(FINDINGS) {
        Ok(table) => match table.iter() {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Ok((sequence, record)) => emit(Line::Finding {
                            sequence: sequence.value(),
                            record: String::from_utf8_lossy(record.value()).into_owned(),
                        })?,
                        Err(e) => {
                            // redb stops a range at its first error.
                            first_error.get_or_insert(format!("reading findings: {e}"));
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                first_error.get_or_insert(format!("reading findings: {e}"));
            }
        },
        Err(e) => {
            first_error.get_or_insert(format!("opening the findings: {e}"));
        }
    }
    if let Ok(meta) = transaction.open_table(META)
        && let Ok(Some(next)) = meta.get(NEXT_SEQUENCE)
    {
        emit(Line::NextSequence(next.value()))?;
    }
    if let Ok(conditions) = transaction.open_table(CONDITIONS)
        && let Ok(entries) = conditions.iter()
    {
        for (key, state) in entries.map_while(Result::ok) {
            emit(Line::Condition {
                key: key.value().to_owned(),
                state: String::from_utf8_lossy(state.value()).into_owned(),
            })?;
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::finding::Severity;

    #[test]
    fn a_readable_outbox_is_printed_record_by_record_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("outbox.redb");
        {
            let outbox = crate::outbox::Outbox::open(&path, 1 << 20).expect("open");
            let finding = Finding {
                check: "crash.new_file".to_owned(),
                resource: "app".to_owned(),
                severity: Severity::Warning,
                summary: "app crashed".to_owned(),
                evidence: Default::default(),
                observed_at_ms: 1,
            };
            outbox
                .push_with_conditions(
                    &[finding.clone(), finding],
                    &[("crash.new_file\u{0}app".to_owned(), Some(b"{}".to_vec()))],
                )
                .expect("push");
            outbox.acknowledge_through(1).expect("ack");
        }
        let mut printed = Vec::new();
        salvage_to(&path, &mut printed).expect("salvage");
        let mut salvage = Salvage::default();
        for line in String::from_utf8(printed).expect("utf-8").lines() {
            salvage.take(line);
        }
        // A line cut off mid-way (the child died) is not a record.
        salvage.take("{\"finding\":{\"sequence\":9,\"rec");
        assert_eq!(
            salvage.findings.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(salvage.next_sequence, Some(3));
        assert_eq!(
            salvage.conditions.into_iter().collect::<Vec<_>>(),
            [("crash.new_file\u{0}app".to_owned(), b"{}".to_vec())]
        );
        assert_eq!(salvage.unreadable, 0);
    }

    fn finding_line(sequence: u64) -> String {
        let record = serde_json::to_string(&Finding {
            check: "crash.new_file".to_owned(),
            resource: "app".to_owned(),
            severity: Severity::Warning,
            summary: format!("app crashed {sequence}"),
            evidence: Default::default(),
            observed_at_ms: 1,
        })
        .expect("json");
        serde_json::to_string(&Line::Finding { sequence, record }).expect("json")
    }

    #[test]
    fn a_salvaged_sequence_the_collector_refuses_is_counted_lost_not_resent_forever() {
        let mut salvage = Salvage::default();
        for sequence in [0, 7, MAX_SEQUENCE, MAX_SEQUENCE + 1, u64::MAX] {
            salvage.take(&finding_line(sequence));
        }
        salvage.take(&serde_json::to_string(&Line::NextSequence(u64::MAX)).expect("json"));
        assert_eq!(
            salvage.findings.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [7],
            "MAX_SEQUENCE itself would move the counter past what the collector accepts"
        );
        assert_eq!(salvage.unreadable, 4, "the loss stays visible");
        assert!(salvage.unreadable_bytes > 0);
        assert_eq!(
            salvage.next_sequence, None,
            "a damaged counter is no counter"
        );
        assert_eq!(salvage.max_sequence, Some(7));
    }

    /// A stand-in for `firstline-agent outbox-salvage`: a script that prints `lines` (forever,
    /// like redb led round a cyclic b-tree, when `forever`).
    #[cfg(unix)]
    pub(in crate::outbox) fn fake_salvager(dir: &Path, lines: &[String], forever: bool) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let printed = dir.join("printed.jsonl");
        std::fs::write(&printed, lines.join("\n") + "\n").expect("write lines");
        let script = dir.join("fake-salvager");
        let body = if forever {
            format!("while :; do cat '{}' || exit 1; done", printed.display())
        } else {
            format!("exec cat '{}'", printed.display())
        };
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        script
    }

    #[cfg(unix)]
    #[test]
    fn a_salvage_printing_in_circles_is_stopped_past_the_byte_limit_not_held_for_the_deadline() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lines: Vec<String> = (1..=100).map(finding_line).collect();
        let program = fake_salvager(dir.path(), &lines, true);
        let mut handed = 0;
        let salvage = salvage_in_child(
            &program,
            Path::new("/nonexistent"),
            Duration::from_secs(60),
            4 * CHUNK_BYTES,
            &mut |chunk| handed += chunk.len(),
        );
        assert!(
            salvage.detail.starts_with("stopped after"),
            "{}",
            salvage.detail
        );
        assert!(!salvage.complete);
        assert!(salvage.output_bytes <= 4 * CHUNK_BYTES + 1024);
        assert!(salvage.findings.is_empty(), "everything was handed on");
        assert!(handed > 0);
    }
}
