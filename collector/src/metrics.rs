//! `/metrics`: the collector's own numbers for Prometheus, encoded by the official
//! `prometheus-client` crate. Prometheus asks for OpenMetrics text and gets the crate's output
//! as it is; any other client (curl, the classic text-format parsers) gets the classic
//! Prometheus text format 0.0.4, which differs only in how counters are named in their
//! `# HELP`/`# TYPE` lines and in having no `# UNIT`/`# EOF` lines (`to_classic_text`), the
//! same negotiation the Go client does.
//!
//! Two kinds of numbers. Those this process counts as things happen (findings received and
//! refused, commit latency, heartbeats, streams) live in `Metrics` and are fed by ingest.
//! Those that are state (agents connected here, the database's tickets and backlogs) are read
//! at scrape time. If the store does not answer within `STORE_SCRAPE_TIMEOUT`, the scrape
//! still succeeds with everything this process knows and `firstline_store_up 0` in place of
//! the database's numbers, the way exporters report a backend down (`mysql_up`, `pg_up`): a
//! 503 would blank every metric exactly when an operator needs them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::http::HttpState;
use crate::ingest::Sessions;
use crate::store::metrics::StoreMetrics;
use crate::store::retention::PruneReport;
use crate::store::{Stall, Store, Writer};
use crate::wire::Problem;

/// Every metric's name starts with this (and `_`).
pub const PREFIX: &str = "firstline";
/// What `/metrics` answers a client that asks for OpenMetrics (Prometheus does).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// What `/metrics` answers everyone else: the classic Prometheus text format.
pub const CLASSIC_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A scrape waits this long for the database before reporting it down.
const STORE_SCRAPE_TIMEOUT: Duration = Duration::from_secs(3);
/// Commit latency buckets, in seconds: half a millisecond (a small batch on a fast disk) to
/// 30 s (a replay storm queued behind the ticket decisions of the batches before it).
const COMMIT_BUCKETS_SECS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Why findings were refused: a fixed set, so the label never grows with what agents send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// A field over its size limit, or a batch over its count limit.
    TooLarge,
    /// A field not readable as its type (evidence that is not a JSON object, say).
    Malformed,
    /// A field breaking a rule (empty, characters not allowed).
    InvalidField,
    /// A sequence number out of range: the stream is ended, since it cannot be acked.
    InvalidSequence,
    /// Over one of the device's budgets (`[limits]`): a new condition past its count, a
    /// report past its hourly number.
    OverBudget,
}

impl RefusalReason {
    const ALL: [RefusalReason; 5] = [
        RefusalReason::TooLarge,
        RefusalReason::Malformed,
        RefusalReason::InvalidField,
        RefusalReason::InvalidSequence,
        RefusalReason::OverBudget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::TooLarge => "too_large",
            RefusalReason::Malformed => "malformed",
            RefusalReason::InvalidField => "invalid_field",
            RefusalReason::InvalidSequence => "invalid_sequence",
            RefusalReason::OverBudget => "over_budget",
        }
    }
}

impl From<Problem> for RefusalReason {
    fn from(problem: Problem) -> Self {
        match problem {
            Problem::TooLarge => RefusalReason::TooLarge,
            Problem::Malformed => RefusalReason::Malformed,
            Problem::Invalid => RefusalReason::InvalidField,
        }
    }
}

type ReasonLabel = [(&'static str, &'static str); 1];

/// The collector's metrics, shared (in an `Arc`) by ingest, which counts, and the HTTP
/// listener, which serves them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    findings_received: Counter,
    findings_refused: Family<ReasonLabel, Counter>,
    ingest_commit_seconds: Histogram,
    heartbeats_received: Counter,
    streams_opened: Counter,
    streams_closed: Counter,
    connections_open: Family<[(&'static str, &'static str); 1], Gauge>,
    connections_refused: Family<[(&'static str, &'static str); 2], Counter>,
    sequence_gaps: Counter,
    sequence_gap_findings: Counter,
    retention_pruned_rows: Family<[(&'static str, &'static str); 1], Counter>,
    retention_failures: Counter,
    retention_last_run: Gauge,
    retention_last_run_duration: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Configured channels: each gets a backlog series, zero included.
    channel_names: Vec<String>,
    /// Configured ticket systems: each gets an outbox series, zero included.
    system_names: std::sync::OnceLock<Vec<String>>,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    scrape_token: Option<String>,
}

impl Metrics {
    pub fn new(channel_names: Vec<String>, scrape_token: Option<String>) -> Arc<Self> {
        let mut registry = Registry::with_prefix(PREFIX);
        let findings_received = Counter::default();
        registry.register(
            "findings_received",
            "Findings agents sent to this collector, every one of every batch (redeliveries and refused ones included)",
            findings_received.clone(),
        );
        let findings_refused = Family::<ReasonLabel, Counter>::default();
        // Every reason exists from the start, so rate() sees the first refusal.
        for reason in RefusalReason::ALL {
            drop(findings_refused.get_or_create(&[("reason", reason.as_str())]));
        }
        registry.register(
            "findings_refused",
            "Findings this collector refused, by reason: too_large, malformed, invalid_field, invalid_sequence, over_budget (a device over its [limits])",
            findings_refused.clone(),
        );
        let ingest_commit_seconds = Histogram::new(COMMIT_BUCKETS_SECS);
        registry.register_with_unit(
            "ingest_commit",
            "Time from handing one batch of findings to the group commit until its transaction (with the ticket decisions it causes) committed, i.e. until the ack may go; successful commits only",
            Unit::Seconds,
            ingest_commit_seconds.clone(),
        );
        let heartbeats_received = Counter::default();
        registry.register(
            "heartbeats_received",
            "Heartbeats agents sent to this collector",
            heartbeats_received.clone(),
        );
        let streams_opened = Counter::default();
        registry.register(
            "streams_opened",
            "Telemetry streams accepted from enrolled agents (reconnects included)",
            streams_opened.clone(),
        );
        let streams_closed = Counter::default();
        registry.register(
            "streams_closed",
            "Telemetry streams that ended, however they ended",
            streams_closed.clone(),
        );
        let connections_open = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        let connections_refused = Family::<[(&'static str, &'static str); 2], Counter>::default();
        for listener in ["grpc", "http"] {
            drop(connections_open.get_or_create(&[("listener", listener)]));
            for refusal in crate::connections::Refusal::ALL {
                drop(
                    connections_refused
                        .get_or_create(&[("listener", listener), ("reason", refusal.as_str())]),
                );
            }
        }
        registry.register(
            "connections_open",
            "TCP connections open now, by listener (grpc: agents; http: people and scrapers)",
            connections_open.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections refused or closed by [limits], by listener and reason: total_cap, per_address_cap, no_request (no request soon after connecting), idle, lifetime",
            connections_refused.clone(),
        );
        let sequence_gaps = Counter::default();
        registry.register(
            "sequence_gaps",
            "Agents that connected with findings acknowledged beyond what the database holds (a restored backup, a lost WAL): each is also logged and shown to admins",
            sequence_gaps.clone(),
        );
        let sequence_gap_findings = Counter::default();
        registry.register(
            "sequence_gap_findings",
            "Acknowledged findings those agents sent that the database no longer holds",
            sequence_gap_findings.clone(),
        );
        let retention_pruned_rows = Family::<[(&'static str, &'static str); 1], Counter>::default();
        for table in PruneReport::TABLES {
            drop(retention_pruned_rows.get_or_create(&[("table", table)]));
        }
        registry.register(
            "retention_pruned_rows",
            "Rows the retention pass of this collector pruned ([retention]), by table (ticket_evidence: timeline entries whose evidence was emptied; deliveries go with their notifications)",
            retention_pruned_rows.clone(),
        );
        let retention_failures = Counter::default();
        registry.register(
            "retention_failures",
            "Retention passes that stopped on a database error (what they pruned before is counted; the next pass goes on)",
            retention_failures.clone(),
        );
        let retention_last_run = Gauge::default();
        registry.register_with_unit(
            "retention_last_run_timestamp",
            "When the last retention pass of this collector ended, in seconds since the epoch (0: none yet)",
            Unit::Seconds,
            retention_last_run.clone(),
        );
        let retention_last_run_duration = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "retention_last_run_duration",
            "How long the last retention pass of this collector took, pauses between its batches included",
            Unit::Seconds,
            retention_last_run_duration.clone(),
        );
        let build_info = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        build_info
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        // A gauge rather than OpenMetrics' `info` type, which Prometheus' classic text
        // parsers do not know.
        registry.register(
            "build_info",
            "The collector's version, as a label on a constant 1",
            build_info,
        );
        Arc::new(Self {
            registry,
            findings_received,
            findings_refused,
            ingest_commit_seconds,
            heartbeats_received,
            streams_opened,
            streams_closed,
            connections_open,
            connections_refused,
            sequence_gaps,
            sequence_gap_findings,
            retention_pruned_rows,
            retention_failures,
            retention_last_run,
            retention_last_run_duration,
            channel_names,
            system_names: std::sync::OnceLock::new(),
            scrape_token,
        })
    }

    /// Names the configured ticket systems (once, at start).
    pub fn set_ticket_systems(&self, names: Vec<String>) {
        let _ = self.system_names.set(names);
    }

    pub fn findings_received(&self, count: usize) {
        self.findings_received
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    pub fn findings_refused(&self, reason: RefusalReason, count: usize) {
        self.findings_refused
            .get_or_create(&[("reason", reason.as_str())])
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    pub fn commit_took(&self, elapsed: Duration) {
        self.ingest_commit_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn connection_opened(&self, listener: &'static str) {
        self.connections_open
            .get_or_create(&[("listener", listener)])
            .inc();
    }

    pub fn connection_closed(&self, listener: &'static str) {
        self.connections_open
            .get_or_create(&[("listener", listener)])
            .dec();
    }

    pub fn connection_refused(&self, listener: &'static str, refusal: crate::connections::Refusal) {
        self.connections_refused
            .get_or_create(&[("listener", listener), ("reason", refusal.as_str())])
            .inc();
    }

    /// An agent said the collector acknowledged findings the database does not hold.
    pub fn sequence_gap(&self, missing_findings: u64) {
        self.sequence_gaps.inc();
        self.sequence_gap_findings.inc_by(missing_findings);
    }

    /// A retention pass ended at `ended_at_ms` after `took`, having pruned `report` (when
    /// `failed`, what it pruned before the error).
    pub fn retention_ran(
        &self,
        report: &PruneReport,
        took: Duration,
        ended_at_ms: i64,
        failed: bool,
    ) {
        for (table, rows) in report.by_table() {
            self.retention_pruned_rows
                .get_or_create(&[("table", table)])
                .inc_by(rows);
        }
        if failed {
            self.retention_failures.inc();
        }
        self.retention_last_run.set(ended_at_ms.div_euclid(1000));
        self.retention_last_run_duration.set(took.as_secs_f64());
    }

    pub fn heartbeat_received(&self) {
        self.heartbeats_received.inc();
    }

    pub fn stream_opened(&self) {
        self.streams_opened.inc();
    }

    pub fn stream_closed(&self) {
        self.streams_closed.inc();
    }

    /// Whether a request with these headers may scrape.
    fn authorizes(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.scrape_token else {
            return true;
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        crate::auth::constant_time_eq(presented.as_bytes(), token.as_bytes())
    }

    /// The whole exposition: what this process counted, then what is read now.
    pub async fn render(&self, store: &Store, sessions: &Sessions) -> String {
        let snapshot =
            match tokio::time::timeout(STORE_SCRAPE_TIMEOUT, store.metrics_snapshot()).await {
                Ok(Ok(snapshot)) => Some(snapshot),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reading the store for /metrics; reporting it down");
                    None
                }
                Err(_) => {
                    tracing::warn!(
                        timeout_secs = STORE_SCRAPE_TIMEOUT.as_secs(),
                        "the store did not answer /metrics in time; reporting it down"
                    );
                    None
                }
            };
        let now = self.scrape_registry(
            sessions.connected(),
            store.health().writable(),
            &store.abandoned_transactions(),
            snapshot.as_ref(),
        );
        let mut text = String::new();
        // Writing into a String cannot fail; an error here would be the crate's bug.
        let encoded = encode_registry(&mut text, &self.registry)
            .and_then(|()| encode_registry(&mut text, &now))
            .and_then(|()| encode_eof(&mut text));
        if let Err(e) = encoded {
            tracing::error!(error = %e, "encoding metrics");
        }
        text
    }

    /// The numbers read at scrape time, in a registry of their own.
    fn scrape_registry(
        &self,
        connected: usize,
        writable: bool,
        abandoned: &[(Writer, Stall, u64)],
        store: Option<&StoreMetrics>,
    ) -> Registry {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "agents_connected",
            "Agents with a live telemetry stream to this collector",
            ConstGauge::new(i64::try_from(connected).unwrap_or(i64::MAX)),
        );
        // Counted by this process's store as they happen (not read from the database, so
        // present when it is down, which is when they matter).
        let transactions_abandoned =
            Family::<[(&'static str, &'static str); 2], Counter>::default();
        for (writer, stall, count) in abandoned {
            transactions_abandoned
                .get_or_create(&[("writer", writer.as_str()), ("reason", stall.as_str())])
                .inc_by(*count);
        }
        registry.register(
            "store_transactions_abandoned",
            "Write transactions this collector gave up on PostgreSQL (rolled back, connection closed; the group commit tries its batches again, agents resend what was not acked), by writer (group_commit, sweep, staff_action, retention) and what stalled them: deadline (past the collector's bound), lock_timeout, statement_timeout, session_killed (the database ended the session, e.g. idle in transaction too long while this collector was frozen, or the connection was lost)",
            transactions_abandoned,
        );
        registry.register(
            "store_up",
            "1 when the database answered this scrape; when 0, the database_* and backlog metrics are missing from it",
            ConstGauge::new(i64::from(store.is_some())),
        );
        registry.register(
            "store_writable",
            "1 while the store commits; 0 since a commit failed for the store's own reason (a full disk, a lost database server) until one succeeds again. /healthz says why",
            ConstGauge::new(i64::from(writable)),
        );
        let Some(store) = store else {
            return registry;
        };
        let gauge = |value: u64| ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
        registry.register(
            "database_tickets_opened",
            "Tickets ever opened in the database (every collector sharing it reports the same number: use max, not sum)",
            ConstCounter::new(store.tickets_opened),
        );
        registry.register(
            "database_tickets_resolved",
            "Ticket resolutions ever in the database, automatic or by staff (every collector sharing it reports the same number: use max, not sum)",
            ConstCounter::new(store.tickets_resolved),
        );
        registry.register(
            "notifications_unexpanded",
            "Ticket notifications not yet turned into channel deliveries (database-wide)",
            gauge(store.notifications_unexpanded),
        );
        let pending = Family::<[(&'static str, String); 1], Gauge>::default();
        for channel in &self.channel_names {
            drop(pending.get_or_create(&[("channel", channel.clone())]));
        }
        for (channel, count) in &store.deliveries_pending {
            pending
                .get_or_create(&[("channel", channel.clone())])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        let fix_runs = Family::<[(&'static str, String); 2], Counter>::default();
        for outcome in ["verified", "not_verified", "failed", "refused"] {
            for allowed in ["policy", "technician", "user"] {
                drop(fix_runs.get_or_create(&[
                    ("outcome", outcome.to_owned()),
                    ("allowed_by", allowed.to_owned()),
                ]));
            }
        }
        for (outcome, allowed, total) in &store.fix_runs {
            fix_runs
                .get_or_create(&[
                    ("outcome", outcome.clone()),
                    ("allowed_by", allowed.clone()),
                ])
                .inc_by(*total);
        }
        registry.register(
            "database_fix_runs",
            "Fix requests agents answered, by outcome (verified: the fault is gone; not_verified: it ran and the fault is still there; failed; refused by the agent) and who allowed them (policy: auto; technician: approve; user: ask-user, the affected user) (database-wide: use max, not sum)",
            fix_runs,
        );
        let waiting = Family::<[(&'static str, String); 1], Gauge>::default();
        let refused = Family::<[(&'static str, String); 1], Gauge>::default();
        for system in self.system_names.get().into_iter().flatten() {
            drop(waiting.get_or_create(&[("system", system.clone())]));
            drop(refused.get_or_create(&[("system", system.clone())]));
        }
        for backlog in &store.sync_backlog {
            let label = [("system", backlog.system.clone())];
            waiting
                .get_or_create(&label)
                .set(i64::try_from(backlog.waiting).unwrap_or(i64::MAX));
            refused
                .get_or_create(&label)
                .set(i64::try_from(backlog.failed).unwrap_or(i64::MAX));
        }
        registry.register(
            "ticket_sync_waiting",
            "Entries waiting in each ticket system's outbox: to be sent, or retried while the system is down (database-wide)",
            waiting,
        );
        registry.register(
            "ticket_sync_refused",
            "Entries a ticket system refused for good, each noted on its ticket (database-wide)",
            refused,
        );
        registry.register(
            "deliveries_pending",
            "Channel deliveries waiting to be sent or retried, per channel (database-wide)",
            pending,
        );
        registry
    }
}

/// `GET /metrics`: open unless `metrics_token` is configured (see the README).
pub async fn serve(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if !state.metrics.authorizes(&headers) {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            "/metrics needs `Authorization: Bearer <metrics_token>`\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let text = state.metrics.render(&state.store, &state.sessions).await;
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/openmetrics-text"));
    let (content_type, text) = if wants_openmetrics {
        (OPENMETRICS_CONTENT_TYPE, text)
    } else {
        (CLASSIC_CONTENT_TYPE, to_classic_text(&text))
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        text,
    )
        .into_response()
}

/// The classic Prometheus text format (0.0.4) of an OpenMetrics exposition from
/// `prometheus-client`. OpenMetrics names a counter family `x` and its sample `x_total`; the
/// classic format names both `x_total`, and has neither `# UNIT` nor `# EOF`. Samples, labels
/// and escaping are the same in both (our HELP texts hold no backslashes or line breaks).
fn to_classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut classic = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                classic.push_str(&format!("{prefix}{name}{suffix} {tail}"));
            }
            None => classic.push_str(line),
        }
        classic.push('\n');
    }
    classic
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.lines()
            .find(|line| line.split([' ', '{']).next() == Some(name))
            .and_then(|line| line.rsplit(' ').next())
    }

    #[tokio::test]
    async fn counts_show_up_with_their_labels_and_a_missing_store_is_reported_down() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).await.expect("store");
        let metrics = Metrics::new(vec!["helpdesk".to_owned()], None);
        let sessions = Sessions::default();
        metrics.findings_received(3);
        metrics.findings_refused(RefusalReason::from(Problem::Malformed), 1);
        metrics.commit_took(Duration::from_millis(2));
        let pruned = PruneReport {
            findings: 5_000,
            evidence_entries: 12,
            ..PruneReport::default()
        };
        metrics.retention_ran(
            &pruned,
            Duration::from_millis(1_500),
            1_700_000_000_000,
            false,
        );

        let text = metrics.render(&store, &sessions).await;
        assert!(
            text.contains("firstline_retention_pruned_rows_total{table=\"findings\"} 5000"),
            "{text}"
        );
        assert!(
            text.contains("firstline_retention_pruned_rows_total{table=\"ticket_evidence\"} 12"),
            "{text}"
        );
        assert!(
            text.contains("firstline_retention_pruned_rows_total{table=\"notifications\"} 0"),
            "{text}"
        );
        assert_eq!(
            sample(&text, "firstline_retention_last_run_timestamp_seconds"),
            Some("1700000000"),
            "{text}"
        );
        assert_eq!(
            sample(&text, "firstline_retention_last_run_duration_seconds"),
            Some("1.5"),
            "{text}"
        );
        assert_eq!(
            sample(&text, "firstline_findings_received_total"),
            Some("3"),
            "{text}"
        );
        assert!(
            text.contains("firstline_findings_refused_total{reason=\"malformed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("firstline_findings_refused_total{reason=\"too_large\"} 0"),
            "{text}"
        );
        assert_eq!(
            sample(&text, "firstline_ingest_commit_seconds_count"),
            Some("1"),
            "{text}"
        );
        assert!(
            text.contains("firstline_ingest_commit_seconds_bucket{le=\"0.0025\"} 1"),
            "{text}"
        );
        assert!(text.contains("firstline_build_info{version=\""), "{text}");
        assert!(text.contains("# TYPE firstline_build_info gauge"), "{text}");
        assert_eq!(sample(&text, "firstline_store_up"), Some("1"), "{text}");
        assert_eq!(
            sample(&text, "firstline_database_tickets_opened_total"),
            Some("0"),
            "{text}"
        );
        assert!(
            text.contains("firstline_deliveries_pending{channel=\"helpdesk\"} 0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");

        store.close().await;
        let text = metrics.render(&store, &sessions).await;
        assert_eq!(sample(&text, "firstline_store_up"), Some("0"), "{text}");
        assert_eq!(
            sample(&text, "firstline_findings_received_total"),
            Some("3"),
            "{text}"
        );
        assert_eq!(
            sample(&text, "firstline_database_tickets_opened_total"),
            None,
            "{text}"
        );
    }

    #[test]
    fn the_classic_text_format_names_counters_by_their_samples() {
        let openmetrics = "# HELP firstline_findings_received Findings received.\n\
            # TYPE firstline_findings_received counter\n\
            firstline_findings_received_total 3\n\
            # HELP firstline_ingest_commit_seconds Commit time.\n\
            # TYPE firstline_ingest_commit_seconds histogram\n\
            # UNIT firstline_ingest_commit_seconds seconds\n\
            firstline_ingest_commit_seconds_count 1\n\
            # HELP firstline_store_up 1 when the database answered.\n\
            # TYPE firstline_store_up gauge\n\
            firstline_store_up 1\n\
            # EOF\n";
        assert_eq!(
            to_classic_text(openmetrics),
            "# HELP firstline_findings_received_total Findings received.\n\
             # TYPE firstline_findings_received_total counter\n\
             firstline_findings_received_total 3\n\
             # HELP firstline_ingest_commit_seconds Commit time.\n\
             # TYPE firstline_ingest_commit_seconds histogram\n\
             firstline_ingest_commit_seconds_count 1\n\
             # HELP firstline_store_up 1 when the database answered.\n\
             # TYPE firstline_store_up gauge\n\
             firstline_store_up 1\n"
        );
    }

    #[test]
    fn a_configured_token_is_required() {
        let open = Metrics::new(Vec::new(), None);
        assert!(open.authorizes(&HeaderMap::new()));
        let guarded = Metrics::new(Vec::new(), Some("s3cret-scrape-token".to_owned()));
        assert!(!guarded.authorizes(&HeaderMap::new()));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong"),
        );
        assert!(!guarded.authorizes(&headers));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret-scrape-token"),
        );
        assert!(guarded.authorizes(&headers));
    }
}
