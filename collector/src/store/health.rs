//! Whether the store can commit, told truthfully. Every group commit and a probe write record
//! their outcome here; `/healthz`, `/metrics`, ingest (which tells agents to back off) and the
//! sweep (which does not blame devices for the collector's own outage) read it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::StoreError;

/// Below this much free space a group commit can fail, whatever the database's size (a
/// thousand findings with their ticket changes take a few MiB of WAL), and a checkpoint
/// wants room too.
const MIN_FREE_BYTES: u64 = 8 * 1024 * 1024;

/// An outage at least this long restarts the count of devices' silence (see
/// [`HealthReport::hearing_since_ms`]); a shorter one is within what agents ride out.
const OUTAGE_RESETS_HEARING_MS: i64 = 30_000;

/// What the store's health looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub writable: bool,
    /// Since when commits fail (unix ms), while they do.
    pub failing_since_ms: Option<i64>,
    /// The last commit's error, in words, while commits fail.
    pub last_error: Option<String>,
    /// A full disk, with what to free, while that is why.
    pub disk_full: Option<DiskFull>,
    /// Since when the collector can hear devices: its start, or the end of its last outage.
    pub hearing_since_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFull {
    /// The folder holding the database (SQLite), or the database server (PostgreSQL).
    pub location: String,
    /// Free bytes there when last measured (`None` on PostgreSQL: its disk is not ours).
    pub free_bytes: Option<u64>,
    pub needed_bytes: Option<u64>,
}

impl std::fmt::Display for DiskFull {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.free_bytes, self.needed_bytes) {
            (Some(free), Some(needed)) => write!(
                formatter,
                "the disk holding {} is full ({} free); free at least {} there, and writes resume by themselves",
                self.location,
                bytes(free),
                bytes(needed)
            ),
            _ => write!(
                formatter,
                "the database server at {} has no disk space left; free space there, and writes resume by themselves",
                self.location
            ),
        }
    }
}

fn bytes(count: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if count >= MIB {
        format!("{:.1} MiB", count as f64 / MIB as f64)
    } else {
        format!("{} KiB", count.div_ceil(1024))
    }
}

#[derive(Debug)]
struct State {
    failing_since_ms: Option<i64>,
    last_error: Option<String>,
    disk_full: Option<DiskFull>,
    hearing_since_ms: i64,
}

/// Shared by every clone of a store.
#[derive(Debug)]
pub struct StoreHealth {
    writable: AtomicBool,
    state: Mutex<State>,
    /// The SQLite database file, to measure its disk; `None` on PostgreSQL.
    database_file: Option<PathBuf>,
    /// Where the store is, for messages.
    location: String,
}

impl StoreHealth {
    pub fn new(database_file: Option<PathBuf>, location: String, now_ms: i64) -> Self {
        Self {
            writable: AtomicBool::new(true),
            state: Mutex::new(State {
                failing_since_ms: None,
                last_error: None,
                disk_full: None,
                hearing_since_ms: now_ms,
            }),
            database_file,
            location,
        }
    }

    /// True unless the last commit failed for a reason of the store's own (a full disk, a lost
    /// server, a broken file) and none has succeeded since.
    pub fn writable(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    pub fn report(&self) -> HealthReport {
        let state = self.lock();
        HealthReport {
            writable: self.writable(),
            failing_since_ms: state.failing_since_ms,
            last_error: state.last_error.clone(),
            disk_full: state.disk_full.clone(),
            hearing_since_ms: state.hearing_since_ms,
        }
    }

    /// A commit (or the probe) went through: the store is writable. After an outage, says so
    /// once, and the collector starts hearing devices again from now.
    pub fn record_success(&self, now_ms: i64) {
        if self.writable() {
            return;
        }
        let mut state = self.lock();
        // A nearly full disk lets a small write through (the probe's one row fits in pages the
        // WAL already has) while group commits still fail: until there is the room asked for,
        // the store stays failing, or health and agents would flap between the two.
        if state.disk_full.is_some() {
            let now_free = self.measure_disk();
            if now_free.needed_bytes.is_some_and(|needed| needed > 0) {
                state.disk_full = Some(now_free);
                return;
            }
        }
        let since = state.failing_since_ms.take().unwrap_or(now_ms);
        tracing::warn!(
            store = %self.location,
            failed_for_secs = (now_ms - since).max(0) / 1000,
            "the store can commit again; agents' findings are being stored"
        );
        state.last_error = None;
        state.disk_full = None;
        // Devices were told to wait (15 to 22 s) or could not be stored: after an outage
        // longer than that, silence is counted afresh from now.
        if now_ms - since >= OUTAGE_RESETS_HEARING_MS {
            state.hearing_since_ms = now_ms;
        }
        self.writable.store(true, Ordering::Release);
    }

    /// A commit failed. A failure of the store itself (not of the data, not contention) makes
    /// it unwritable until a write succeeds; that is logged once, with what to do.
    pub fn record_failure(&self, error: &StoreError, now_ms: i64) {
        if !error.is_storage_failure() {
            return;
        }
        let disk_full = error.is_disk_full().then(|| self.measure_disk());
        let mut state = self.lock();
        let first = state.failing_since_ms.is_none();
        state.failing_since_ms.get_or_insert(now_ms);
        state.last_error = Some(error.to_string());
        let newly_full = disk_full.is_some() && state.disk_full.is_none();
        state.disk_full = disk_full;
        self.writable.store(false, Ordering::Release);
        if let Some(full) = state.disk_full.as_ref().filter(|_| newly_full) {
            tracing::error!(
                store = %self.location,
                free_bytes = full.free_bytes,
                needed_bytes = full.needed_bytes,
                "the store cannot commit: {full}; agents keep their findings and are told to retry"
            );
        } else if first {
            tracing::error!(
                store = %self.location,
                error = %error,
                "the store cannot commit; agents keep their findings and are told to retry until it can"
            );
        }
    }

    fn measure_disk(&self) -> DiskFull {
        let Some(file) = self.database_file.as_deref() else {
            return DiskFull {
                location: self.location.clone(),
                free_bytes: None,
                needed_bytes: None,
            };
        };
        let folder = file.parent().unwrap_or(Path::new("."));
        let free_bytes = free_bytes(folder);
        // The WAL is copied into the database at a checkpoint, so as much again may be needed.
        let wal_bytes = std::fs::metadata(wal_path(file))
            .map(|m| m.len())
            .unwrap_or(0);
        let needed = MIN_FREE_BYTES.max(wal_bytes);
        DiskFull {
            location: folder.display().to_string(),
            free_bytes,
            needed_bytes: Some(needed.saturating_sub(free_bytes.unwrap_or(0))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain values behind; they are still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

#[cfg(unix)]
fn free_bytes(folder: &Path) -> Option<u64> {
    let stats = rustix::fs::statvfs(folder).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_folder: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(code: &str) -> StoreError {
        // The kinds of error a commit meets, built the way sqlx reports them.
        StoreError::Database(sqlx::Error::Protocol(code.to_owned()))
    }

    #[test]
    fn a_storage_failure_makes_the_store_unwritable_until_a_write_succeeds() {
        let health = StoreHealth::new(None, "test".into(), 1_000);
        assert!(health.writable());
        health.record_failure(&sqlite_error("connection lost"), 2_000);
        assert!(!health.writable());
        let report = health.report();
        assert_eq!(report.failing_since_ms, Some(2_000));
        assert_eq!(report.hearing_since_ms, 1_000);
        // A second failure keeps the first time.
        health.record_failure(&sqlite_error("connection lost"), 3_000);
        assert_eq!(health.report().failing_since_ms, Some(2_000));
        health.record_success(9_000);
        let report = health.report();
        assert!(report.writable);
        assert_eq!(report.failing_since_ms, None);
        assert_eq!(report.last_error, None);
        // Seven seconds is within what agents ride out: silence is still counted from start.
        assert_eq!(report.hearing_since_ms, 1_000);
        // A long outage: the collector heard nobody, devices are judged from its end.
        health.record_failure(&sqlite_error("connection lost"), 10_000);
        health.record_success(100_000);
        assert_eq!(health.report().hearing_since_ms, 100_000);
    }

    #[test]
    fn a_success_after_a_full_disk_counts_once_the_disk_has_the_room_asked_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = dir.path().join("firstline.db");
        let health = StoreHealth::new(Some(database), "test".into(), 1_000);
        health.record_failure(&sqlite_error("connection lost"), 2_000);
        // Pretend the last measure found the disk full; a real one finds the temp dir roomy.
        health.lock().disk_full = Some(DiskFull {
            location: "x".into(),
            free_bytes: Some(0),
            needed_bytes: Some(1),
        });
        health.record_success(3_000);
        assert!(
            health.writable(),
            "the temp dir has room, so the success counts"
        );
    }

    #[test]
    fn bad_data_and_revoked_devices_say_nothing_about_the_store() {
        let health = StoreHealth::new(None, "test".into(), 1_000);
        health.record_failure(
            &StoreError::DeviceRevoked {
                device_id: "d".into(),
            },
            2_000,
        );
        health.record_failure(
            &StoreError::Invalid {
                what: "finding",
                detail: "too long".into(),
            },
            2_000,
        );
        assert!(health.writable());
    }

    #[test]
    fn a_full_disk_says_what_to_free() {
        let full = DiskFull {
            location: "/var/lib/firstline".into(),
            free_bytes: Some(12 * 1024),
            needed_bytes: Some(8 * 1024 * 1024),
        };
        assert_eq!(
            full.to_string(),
            "the disk holding /var/lib/firstline is full (12 KiB free); free at least 8.0 MiB there, and writes resume by themselves"
        );
    }
}
