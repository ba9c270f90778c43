//! Runs per fix per day, kept in the state dir (`fix-runs.json`) so that a restarting agent
//! cannot be made to run a fix more often than its cap.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The file, and the runs of the last day per fix (wall-clock milliseconds: a day people
/// count, which survives restarts).
#[derive(Debug)]
pub struct DailyRuns {
    path: Option<PathBuf>,
    runs: Mutex<BTreeMap<String, Vec<u64>>>,
}

impl DailyRuns {
    /// Reads the runs recorded in `path`; a missing or unreadable file counts as none (said
    /// in the log), since refusing every fix forever would be worse.
    pub fn load(path: PathBuf) -> Self {
        let runs = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), error = %e, "fix runs unreadable; counting from none");
                BTreeMap::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "fix runs unreadable; counting from none");
                BTreeMap::new()
            }
        };
        Self {
            path: Some(path),
            runs: Mutex::new(runs),
        }
    }

    /// Counted in memory only (tests, `check`).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            runs: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts a run of `fix` now, or refuses it when `max_per_day` ran in the last 24 hours.
    pub fn admit(&self, fix: &str, max_per_day: u32) -> Result<(), String> {
        self.admit_at(fix, max_per_day, crate::finding::now_ms().max(0) as u64)
    }

    pub fn admit_at(&self, fix: &str, max_per_day: u32, now_ms: u64) -> Result<(), String> {
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let times = runs.entry(fix.to_owned()).or_default();
        // A clock stepped back keeps its runs until they are a day older than now.
        times.retain(|time| now_ms.saturating_sub(*time) < DAY_MS && *time <= now_ms + DAY_MS);
        if times.len() >= max_per_day as usize {
            let oldest = times.iter().min().copied().unwrap_or(now_ms);
            let wait_min = (oldest + DAY_MS).saturating_sub(now_ms).div_ceil(60_000);
            return Err(format!(
                "fix {fix} already ran {} times in the last 24 hours (its limit); the next run is allowed in {wait_min} min",
                times.len()
            ));
        }
        times.push(now_ms);
        runs.retain(|_, times| !times.is_empty());
        if let Some(path) = &self.path {
            let bytes = serde_json::to_vec(&*runs).unwrap_or_default();
            if let Err(e) = crate::checks::watch_position::store(path, &bytes) {
                tracing::warn!(file = %path.display(), error = %e, "fix runs not saved");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fix_runs_its_daily_share_then_waits_even_across_restarts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fix-runs.json");
        let runs = DailyRuns::load(path.clone());
        let t0 = 1_800_000_000_000;
        runs.admit_at("dns.flush", 2, t0).expect("first");
        runs.admit_at("dns.flush", 2, t0 + 1000).expect("second");
        let again = DailyRuns::load(path);
        let error = again
            .admit_at("dns.flush", 2, t0 + 2000)
            .expect_err("third refused");
        assert!(error.contains("already ran 2 times"), "{error}");
        assert!(error.contains("1440 min"), "{error}");
        again
            .admit_at("disk.cleanup", 2, t0 + 2000)
            .expect("other fixes have their own share");
        again
            .admit_at("dns.flush", 2, t0 + DAY_MS + 1)
            .expect("a day later");
    }

    #[test]
    fn a_damaged_file_counts_as_no_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fix-runs.json");
        std::fs::write(&path, b"{not json").expect("write");
        DailyRuns::load(path)
            .admit_at("dns.flush", 1, 1)
            .expect("runs");
    }
}
