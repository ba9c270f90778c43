//! `[retention]`: how long the collector keeps per-event history (findings, the evidence on
//! long-closed tickets, sent notifications, finished requests) before `store/retention.rs`
//! prunes it, so the database stays bounded in time. Defaults are in `collector.example.toml`.

use std::time::Duration;

use serde::Deserialize;

/// Rows one pruning transaction deletes (or empties) at most. The write lock it holds is
/// shared with ingest's group commit; on SQLite the acks sent while a pass runs wait far longer
/// than without one (`cargo xtask bench prune`, figures in the issue 14 notes).
pub const DEFAULT_BATCH_ROWS: usize = 2_000;
/// Pause between two pruning transactions, so a waiting group commit takes the lock first.
pub const DEFAULT_PAUSE_BETWEEN_BATCHES: Duration = Duration::from_millis(50);
/// The shortest period any history may be kept: younger rows are what people and the ticket
/// engine still read (today's findings, this week's deliveries).
const MINIMUM: Duration = Duration::from_secs(24 * 3600);

const DAY_SECS: u64 = 24 * 3600;

/// `[retention]` as written: each a duration like "90d", or "off" to keep forever.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionFile {
    /// Findings received longer ago than this are deleted.
    findings: String,
    /// Tickets resolved, closed or cancelled (and untouched since) longer ago than this have
    /// the evidence of their timeline entries emptied; the entries' sentences stay, and one
    /// entry sums up what was pruned.
    ticket_evidence: String,
    /// Notifications expanded into deliveries longer ago than this, with their deliveries,
    /// once none is still pending.
    notifications: String,
    /// Reproduce requests finished (done, failed, expired) longer ago than this.
    reproduce_requests: String,
    /// Desktop notices sent longer ago than this.
    user_notices: String,
}

impl Default for RetentionFile {
    fn default() -> Self {
        let days = |days: u64| format!("{days}d");
        Self {
            findings: days(90),
            ticket_evidence: days(180),
            notifications: days(30),
            reproduce_requests: days(30),
            user_notices: days(30),
        }
    }
}

/// Validated `[retention]`: `None` keeps that history forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub findings: Option<Duration>,
    pub ticket_evidence: Option<Duration>,
    pub notifications: Option<Duration>,
    pub reproduce_requests: Option<Duration>,
    pub user_notices: Option<Duration>,
    /// Rows per transaction (`DEFAULT_BATCH_ROWS`); not in the file, tests make it small.
    pub batch_rows: usize,
    /// Pause between transactions (`DEFAULT_PAUSE_BETWEEN_BATCHES`); not in the file.
    pub pause_between_batches: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        RetentionFile::default()
            .validate()
            .unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

impl Retention {
    /// Keeps everything: what a collector did before `[retention]` existed.
    pub fn keep_forever() -> Self {
        Retention {
            findings: None,
            ticket_evidence: None,
            notifications: None,
            reproduce_requests: None,
            user_notices: None,
            ..Retention::default()
        }
    }

    /// Whether anything is ever pruned.
    pub fn prunes_anything(&self) -> bool {
        [
            self.findings,
            self.ticket_evidence,
            self.notifications,
            self.reproduce_requests,
            self.user_notices,
        ]
        .iter()
        .any(Option::is_some)
    }
}

impl RetentionFile {
    /// The typed periods, or what is wrong, naming the key.
    pub fn validate(self) -> Result<Retention, String> {
        Ok(Retention {
            findings: period("findings", &self.findings)?,
            ticket_evidence: period("ticket_evidence", &self.ticket_evidence)?,
            notifications: period("notifications", &self.notifications)?,
            reproduce_requests: period("reproduce_requests", &self.reproduce_requests)?,
            user_notices: period("user_notices", &self.user_notices)?,
            batch_rows: DEFAULT_BATCH_ROWS,
            pause_between_batches: DEFAULT_PAUSE_BETWEEN_BATCHES,
        })
    }
}

/// One key's value: "off", or a duration of at least a day.
fn period(key: &str, text: &str) -> Result<Option<Duration>, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let duration = humantime::parse_duration(text).map_err(|e| {
        format!("retention.{key} = {text:?} is not a duration like \"90d\", or \"off\": {e}")
    })?;
    if duration.is_zero() {
        return Err(format!(
            "retention.{key} = {text:?}: write \"off\" to keep it forever"
        ));
    }
    if duration < MINIMUM {
        return Err(format!(
            "retention.{key} = {text:?} must be at least 1 day, or \"off\""
        ));
    }
    Ok(Some(duration))
}

/// Whole days in `duration`, for people (summaries on tickets, logs).
pub fn days(duration: Duration) -> u64 {
    duration.as_secs() / DAY_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Retention, String> {
        toml::from_str::<RetentionFile>(text)
            .map_err(|e| e.to_string())?
            .validate()
    }

    #[test]
    fn periods_parse_and_off_keeps_forever() {
        let retention =
            parse("findings = \"30d\"\nticket_evidence = \"off\"\nnotifications = \"2weeks\"")
                .expect("valid");
        assert_eq!(retention.findings, Some(Duration::from_secs(30 * DAY_SECS)));
        assert_eq!(retention.ticket_evidence, None);
        assert_eq!(
            retention.notifications,
            Some(Duration::from_secs(14 * DAY_SECS))
        );
        assert_eq!(
            retention.user_notices,
            Some(Duration::from_secs(30 * DAY_SECS)),
            "the default"
        );
        assert!(retention.prunes_anything());
        assert!(!Retention::keep_forever().prunes_anything());
        assert_eq!(days(Duration::from_secs(90 * DAY_SECS + 5)), 90);
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            (
                "findings = \"soon\"",
                "retention.findings = \"soon\" is not a duration",
            ),
            (
                "ticket_evidence = \"0s\"",
                "retention.ticket_evidence = \"0s\": write \"off\"",
            ),
            (
                "notifications = \"1h\"",
                "retention.notifications = \"1h\" must be at least 1 day",
            ),
            (
                "reproduce_requests = \"-3d\"",
                "retention.reproduce_requests",
            ),
            ("user_notice = \"30d\"", "unknown field `user_notice`"),
            ("findings = 90", "invalid type"),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
