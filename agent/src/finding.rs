//! Findings: one observation of one check on one resource, as the agent queues and sends it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Rank for the outbox's eviction order: lower goes first. An OK finding is a condition
    /// clearing, which matters as much as the warning it ends (silence never resolves a
    /// ticket), so it ranks with warnings; informational findings go first.
    pub fn rank(self) -> u8 {
        match self {
            Severity::Info => 0,
            Severity::Ok | Severity::Warning => 1,
            Severity::Critical => 2,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Structured evidence: a JSON object.
pub type Evidence = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// e.g. "disk.used_pct"
    pub check: String,
    /// e.g. "/"
    pub resource: String,
    pub severity: Severity,
    /// One human sentence, e.g. "Disk / is 97% full (3.1 GB free of 100 GB)".
    pub summary: String,
    pub evidence: Evidence,
    pub observed_at_ms: i64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Bytes for people: "3.1 GB", "512 MB", "900 B" (decimal units, as file managers show).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_a_file_manager() {
        for (bytes, text) in [
            (900, "900 B"),
            (3_100_000_000, "3.1 GB"),
            (100_000_000_000, "100 GB"),
            (1_500, "1.5 kB"),
        ] {
            assert_eq!(human_bytes(bytes), text);
        }
    }
}
