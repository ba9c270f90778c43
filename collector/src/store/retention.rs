//! Retention: per-event history older than `[retention]` allows is pruned in small
//! transactions (`Retention::batch_rows` rows each, a pause between them), so the database
//! stays bounded in time and the write lock ingest's group commit needs is never held long.
//!
//! What goes: findings by age (a user's report stays while the ticket that took it is open:
//! the fixes' planner reads its diagnosis); the evidence (`data_json`) of the timeline entries
//! of tickets ended and untouched for long, each such ticket keeping one `retention` entry
//! that sums up what was pruned; notifications expanded long ago with their delivered or
//! given-up deliveries, tallied by event so `/metrics`' ticket counts never go down; finished
//! reproduce requests; sent desktop notices. Tickets, conditions, devices, people, solutions,
//! fix rollouts and runs are never pruned. On SQLite the freed pages go to the file's freelist
//! and are reused by new rows: the file stops growing rather than shrinking (no VACUUM).

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::Row;

use super::{Backend, Store, StoreError, Writer};
use crate::retention::Retention;

/// The kind of the timeline entry that sums up the evidence pruned from its ticket.
pub const SUMMARY_KIND: &str = "retention";
/// Tickets the evidence pass reads at a time (a read: no lock is held meanwhile).
const TICKET_PAGE: usize = 200;

/// Findings received before `$1`, oldest first through `findings_by_received`. A user's
/// report whose ticket is open stays: the fixes' planner reads its diagnosis.
const DELETE_FINDINGS: &str = "DELETE FROM findings WHERE (device_id, sequence) IN ( \
     SELECT f.device_id, f.sequence FROM findings f WHERE f.received_at_ms < $1 \
     AND NOT (f.check_name = 'user.report' AND EXISTS ( \
       SELECT 1 FROM report_links l JOIN tickets t ON t.id = l.ticket_id \
       WHERE l.device_id = f.device_id AND l.report_id = f.resource \
       AND t.state IN ('new', 'assigned', 'in_progress', 'pending'))) \
     ORDER BY f.received_at_ms LIMIT $2)";
/// Requests finished (done, failed, expired) before `$1`: their outcome is on their ticket's
/// timeline.
const DELETE_REPRODUCE_REQUESTS: &str = "DELETE FROM reproduce_requests WHERE id IN ( \
     SELECT id FROM reproduce_requests WHERE done_at_ms < $1 \
     AND state IN ('done', 'failed', 'expired') ORDER BY done_at_ms LIMIT $2)";
/// Desktop notices sent before `$1` (one not sent yet waits for its device).
const DELETE_USER_NOTICES: &str = "DELETE FROM user_notices WHERE id IN ( \
     SELECT id FROM user_notices WHERE sent_at_ms < $1 ORDER BY sent_at_ms LIMIT $2)";

/// What one pass pruned. `transactions` counts the batches that changed something.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub findings: u64,
    /// Timeline entries whose evidence was emptied.
    pub evidence_entries: u64,
    /// Tickets whose evidence summary was written or brought up to date.
    pub evidence_tickets: u64,
    pub notifications: u64,
    pub deliveries: u64,
    pub reproduce_requests: u64,
    pub user_notices: u64,
    pub transactions: u64,
}

impl PruneReport {
    /// The tables `/metrics` counts pruned rows of, in this order.
    pub const TABLES: [&'static str; 6] = [
        "findings",
        "ticket_evidence",
        "notifications",
        "deliveries",
        "reproduce_requests",
        "user_notices",
    ];

    /// Rows pruned per table, labelled as in `TABLES` (`ticket_evidence`: entries emptied).
    pub fn by_table(&self) -> [(&'static str, u64); 6] {
        let counts = [
            self.findings,
            self.evidence_entries,
            self.notifications,
            self.deliveries,
            self.reproduce_requests,
            self.user_notices,
        ];
        let mut by_table = [("", 0); 6];
        for (slot, (table, count)) in by_table
            .iter_mut()
            .zip(Self::TABLES.into_iter().zip(counts))
        {
            *slot = (table, count);
        }
        by_table
    }

    pub fn is_empty(&self) -> bool {
        *self == PruneReport::default()
    }
}

/// A pass that failed part-way; `done` is what it pruned before (committed, and counted).
#[derive(Debug, thiserror::Error)]
#[error("pruning {what}: {source}")]
pub struct PruneError {
    pub what: &'static str,
    pub done: Box<PruneReport>,
    #[source]
    pub source: StoreError,
}

/// The evidence pruned from one ticket so far, kept as the data of its summary entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct EvidenceSummary {
    pruned_entries: u64,
    first_at_ms: i64,
    last_at_ms: i64,
    older_than_days: u64,
    pruned_at_ms: i64,
}

impl EvidenceSummary {
    fn add(&mut self, entries: u64, first_at_ms: i64, last_at_ms: i64) {
        if self.pruned_entries == 0 {
            self.first_at_ms = first_at_ms;
            self.last_at_ms = last_at_ms;
        } else {
            self.first_at_ms = self.first_at_ms.min(first_at_ms);
            self.last_at_ms = self.last_at_ms.max(last_at_ms);
        }
        self.pruned_entries += entries;
    }

    /// What a technician reading the ticket years later sees.
    fn text(&self) -> String {
        let entries = if self.pruned_entries == 1 {
            "1 timeline entry".to_owned()
        } else {
            format!("{} timeline entries", self.pruned_entries)
        };
        let recorded = if day(self.first_at_ms) == day(self.last_at_ms) {
            format!("recorded {}", day(self.first_at_ms))
        } else {
            format!(
                "recorded {} to {}",
                day(self.first_at_ms),
                day(self.last_at_ms)
            )
        };
        format!(
            "Evidence of {entries} ({recorded}) pruned: the ticket ended more than {} days ago ([retention] ticket_evidence). Each entry's sentence is kept.",
            self.older_than_days
        )
    }
}

/// A day as "YYYY-MM-DD" (UTC).
fn day(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02}",
            at.year(),
            u8::from(at.month()),
            at.day()
        ),
        Err(_) => "?".to_owned(),
    }
}

/// The oldest time kept: rows older than `now_ms - keep` go.
fn cutoff_ms(now_ms: i64, keep: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX))
}

/// A step's failure, with what the pass had pruned (and committed) before it.
fn failed(
    what: &'static str,
    outcome: Result<(), StoreError>,
    report: &PruneReport,
) -> Result<(), PruneError> {
    outcome.map_err(|source| PruneError {
        what,
        done: Box::new(report.clone()),
        source,
    })
}

fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

/// Counts a batch that changed something and says whether another may follow: only after a
/// full one, and after the pause that lets a waiting group commit take the lock first.
async fn another_batch(rows: usize, retention: &Retention, transactions: &mut u64) -> bool {
    if rows == 0 {
        return false;
    }
    *transactions += 1;
    if rows < retention.batch_rows.max(1) {
        return false;
    }
    tokio::time::sleep(retention.pause_between_batches).await;
    true
}

impl Store {
    /// Prunes what `retention` no longer keeps at `now_ms`, a batch per transaction. Safe to
    /// run from several collectors sharing one PostgreSQL: a row two of them pick is pruned
    /// and counted once.
    pub async fn prune(
        &self,
        now_ms: i64,
        retention: &Retention,
    ) -> Result<PruneReport, PruneError> {
        let mut report = PruneReport::default();
        if let Some(keep) = retention.findings {
            let PruneReport {
                findings: rows,
                transactions,
                ..
            } = &mut report;
            let outcome = self
                .delete_in_batches(
                    DELETE_FINDINGS,
                    cutoff_ms(now_ms, keep),
                    retention,
                    rows,
                    transactions,
                )
                .await;
            failed("findings", outcome, &report)?;
        }
        if let Some(keep) = retention.ticket_evidence {
            let outcome = self
                .prune_evidence(
                    cutoff_ms(now_ms, keep),
                    now_ms,
                    keep,
                    retention,
                    &mut report,
                )
                .await;
            failed("ticket evidence", outcome, &report)?;
        }
        if let Some(keep) = retention.notifications {
            let outcome = self
                .prune_notifications(cutoff_ms(now_ms, keep), retention, &mut report)
                .await;
            failed("notifications", outcome, &report)?;
        }
        if let Some(keep) = retention.reproduce_requests {
            let PruneReport {
                reproduce_requests: rows,
                transactions,
                ..
            } = &mut report;
            let outcome = self
                .delete_in_batches(
                    DELETE_REPRODUCE_REQUESTS,
                    cutoff_ms(now_ms, keep),
                    retention,
                    rows,
                    transactions,
                )
                .await;
            failed("reproduce requests", outcome, &report)?;
        }
        if let Some(keep) = retention.user_notices {
            let PruneReport {
                user_notices: rows,
                transactions,
                ..
            } = &mut report;
            let outcome = self
                .delete_in_batches(
                    DELETE_USER_NOTICES,
                    cutoff_ms(now_ms, keep),
                    retention,
                    rows,
                    transactions,
                )
                .await;
            failed("user notices", outcome, &report)?;
        }
        // The tickets whose evidence went are marked stale in the search index: their
        // documents lose it now, not at the next search. As many as are marked now, not until
        // none are: under load, ingest marks tickets as fast as a fair share of the write lock
        // rebuilds them, and the pass would never end.
        if report.evidence_entries > 0 {
            let refreshed = match self.search_marks().await {
                Ok(marked) => self.refresh_search_index(marked).await,
                Err(error) => Err(error),
            };
            if let Err(error) = refreshed {
                tracing::warn!(error = %error, "retention: bringing the search index up to date failed");
            }
        }
        Ok(report)
    }

    /// Runs `delete` (rows older than `$1`, at most `$2` of them) until a batch deletes less
    /// than a full one, each in a transaction of its own, counting into `rows` and
    /// `transactions` as it goes.
    async fn delete_in_batches(
        &self,
        delete: &'static str,
        cutoff_ms: i64,
        retention: &Retention,
        rows: &mut u64,
        transactions: &mut u64,
    ) -> Result<(), StoreError> {
        let limit = i64::try_from(retention.batch_rows.max(1)).unwrap_or(i64::MAX);
        loop {
            let deleted = with_pool!(self, pool => bounded_transaction!(self, pool, Writer::Retention, StoreError, |transaction| {
                if delete == DELETE_FINDINGS {
                    // The days that lose findings are forgotten by the stats in the same
                    // transaction, under the lock their counting takes (`findings_days.rs`).
                    if matches!(self.backend, Backend::Postgres(_)) {
                        sqlx::query("SELECT pg_advisory_xact_lock($1)")
                            .bind(super::findings_days::FINDINGS_DAYS_LOCK)
                            .execute(&mut *transaction)
                            .await?;
                    }
                    sqlx::query(super::findings_days::FORGET_PRUNED_DAYS)
                        .bind(cutoff_ms)
                        .execute(&mut *transaction)
                        .await?;
                }
                let deleted = sqlx::query(delete)
                    .bind(cutoff_ms)
                    .bind(limit)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
                transaction.commit().await?;
                Ok(deleted)
            }))?;
            *rows += deleted;
            if !another_batch(count(deleted), retention, transactions).await {
                return Ok(());
            }
        }
    }

    /// Tickets ended and untouched since before `cutoff_ms` are read a page at a time (a
    /// read, holding no lock); their entries' evidence is emptied a batch at a time, each
    /// batch updating the summaries of the tickets it touched in its own transaction.
    async fn prune_evidence(
        &self,
        cutoff_ms: i64,
        now_ms: i64,
        keep: Duration,
        retention: &Retention,
        report: &mut PruneReport,
    ) -> Result<(), StoreError> {
        let mut after = 0_i64;
        let mut summarised = std::collections::BTreeSet::new();
        loop {
            let page = self.ended_tickets_with_evidence(cutoff_ms, after).await?;
            let Some(&last) = page.last() else {
                return Ok(());
            };
            after = last;
            loop {
                let touched = self
                    .prune_evidence_batch(&page, cutoff_ms, now_ms, keep, retention)
                    .await?;
                let entries: u64 = touched.values().map(|(entries, _, _)| entries).sum();
                report.evidence_entries += entries;
                summarised.extend(touched.keys().copied());
                report.evidence_tickets = u64::try_from(summarised.len()).unwrap_or(u64::MAX);
                if !another_batch(count(entries), retention, &mut report.transactions).await {
                    break;
                }
            }
            if page.len() < TICKET_PAGE {
                return Ok(());
            }
        }
    }

    async fn ended_tickets_with_evidence(
        &self,
        cutoff_ms: i64,
        after: i64,
    ) -> Result<Vec<i64>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.id FROM tickets t WHERE t.id > $1 \
                 AND t.state IN ('resolved', 'closed', 'cancelled') AND t.updated_at_ms < $2 \
                 AND EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id \
                   AND e.data_json IS NOT NULL AND e.kind NOT IN ('requester_answer', 'retention')) \
                 ORDER BY t.id LIMIT $3",
            )
            .bind(after)
            .bind(cutoff_ms)
            .bind(i64::try_from(TICKET_PAGE).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in &rows {
                ids.push(row.try_get::<i64, _>("id")?);
            }
            Ok(ids)
        })
    }

    /// One batch: empties up to `batch_rows` entries of these tickets (those still ended and
    /// untouched since before `cutoff_ms`) and brings their summaries up to date. Returns, per
    /// ticket touched, the entries emptied and the first and last of their times.
    async fn prune_evidence_batch(
        &self,
        tickets: &[i64],
        cutoff_ms: i64,
        now_ms: i64,
        keep: Duration,
        retention: &Retention,
    ) -> Result<BTreeMap<i64, (u64, i64, i64)>, StoreError> {
        let limit = i64::try_from(retention.batch_rows.max(1)).unwrap_or(i64::MAX);
        with_pool!(self, pool => bounded_transaction!(self, pool, Writer::Retention, StoreError, |transaction| {
            // The requester's answer is their words and rating, not evidence; the summary is
            // what stays.
            let mut update = sqlx::QueryBuilder::new(
                "UPDATE ticket_events SET data_json = NULL WHERE id IN ( \
                 SELECT e.id FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id \
                 WHERE e.data_json IS NOT NULL AND e.kind NOT IN ('requester_answer', 'retention') \
                 AND t.state IN ('resolved', 'closed', 'cancelled') AND t.updated_at_ms < ",
            );
            update.push_bind(cutoff_ms);
            update.push(" AND e.ticket_id IN (");
            let mut ids = update.separated(", ");
            for id in tickets {
                ids.push_bind(*id);
            }
            update.push(") ORDER BY e.id LIMIT ");
            update.push_bind(limit);
            // Emptied by this transaction only: a row another collector emptied first is
            // neither counted nor summed up twice.
            update.push(") AND data_json IS NOT NULL RETURNING ticket_id, at_ms");
            let rows = update.build().fetch_all(&mut *transaction).await?;
            let mut touched: BTreeMap<i64, (u64, i64, i64)> = BTreeMap::new();
            for row in &rows {
                let ticket: i64 = row.try_get("ticket_id")?;
                let at_ms: i64 = row.try_get("at_ms")?;
                let entry = touched.entry(ticket).or_insert((0, at_ms, at_ms));
                entry.0 += 1;
                entry.1 = entry.1.min(at_ms);
                entry.2 = entry.2.max(at_ms);
            }
            for (&ticket, &(entries, first_at_ms, last_at_ms)) in &touched {
                let existing = sqlx::query(
                    "SELECT id, data_json FROM ticket_events WHERE ticket_id = $1 AND kind = 'retention' \
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(ticket)
                .fetch_optional(&mut *transaction)
                .await?;
                let (summary_id, mut summary) = match &existing {
                    Some(row) => {
                        let data: Option<String> = row.try_get("data_json")?;
                        let summary = data
                            .and_then(|data| serde_json::from_str::<EvidenceSummary>(&data).ok())
                            .unwrap_or_default();
                        (Some(row.try_get::<i64, _>("id")?), summary)
                    }
                    None => (None, EvidenceSummary::default()),
                };
                summary.add(entries, first_at_ms, last_at_ms);
                summary.older_than_days = crate::retention::days(keep);
                summary.pruned_at_ms = now_ms;
                let data = serde_json::to_string(&summary)
                    .map_err(|e| StoreError::Corrupt { what: "evidence summary", detail: e.to_string() })?;
                // The ticket's own times are left alone: pruning is not activity on it.
                match summary_id {
                    Some(id) => {
                        sqlx::query("UPDATE ticket_events SET at_ms = $1, text = $2, data_json = $3 WHERE id = $4")
                            .bind(now_ms)
                            .bind(summary.text())
                            .bind(&data)
                            .bind(id)
                            .execute(&mut *transaction)
                            .await?;
                    }
                    None => {
                        sqlx::query(
                            "INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text, data_json) \
                             VALUES ($1, $2, $3, NULL, $4, $5)",
                        )
                        .bind(ticket)
                        .bind(now_ms)
                        .bind(SUMMARY_KIND)
                        .bind(summary.text())
                        .bind(&data)
                        .execute(&mut *transaction)
                        .await?;
                    }
                }
            }
            transaction.commit().await?;
            Ok(touched)
        }))
    }

    /// Notifications expanded before `cutoff_ms` with none of their deliveries pending go,
    /// with their deliveries; each one's event is tallied in `notification_tallies` in the
    /// same transaction, so tickets opened and resolved are still counted exactly.
    async fn prune_notifications(
        &self,
        cutoff_ms: i64,
        retention: &Retention,
        report: &mut PruneReport,
    ) -> Result<(), StoreError> {
        let limit = i64::try_from(retention.batch_rows.max(1)).unwrap_or(i64::MAX);
        loop {
            let (notifications, deliveries) = with_pool!(self, pool => bounded_transaction!(self, pool, Writer::Retention, StoreError, |transaction| {
                let rows = sqlx::query(
                    "SELECT n.id FROM notifications n WHERE n.expanded_at_ms < $1 \
                     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id AND d.state = 'pending') \
                     ORDER BY n.expanded_at_ms LIMIT $2",
                )
                .bind(cutoff_ms)
                .bind(limit)
                .fetch_all(&mut *transaction)
                .await?;
                let mut ids = Vec::with_capacity(rows.len());
                for row in &rows {
                    ids.push(row.try_get::<i64, _>("id")?);
                }
                if ids.is_empty() {
                    transaction.rollback().await?;
                    return Ok((0, 0));
                }
                let mut delete = sqlx::QueryBuilder::new(
                    "DELETE FROM deliveries WHERE state <> 'pending' AND notification_id IN (",
                );
                let mut separated = delete.separated(", ");
                for id in &ids {
                    separated.push_bind(*id);
                }
                delete.push(")");
                let deliveries = delete.build().execute(&mut *transaction).await?.rows_affected();
                let mut delete = sqlx::QueryBuilder::new(
                    "DELETE FROM notifications WHERE NOT EXISTS \
                     (SELECT 1 FROM deliveries d WHERE d.notification_id = notifications.id) AND id IN (",
                );
                let mut separated = delete.separated(", ");
                for id in &ids {
                    separated.push_bind(*id);
                }
                delete.push(") RETURNING event");
                let deleted = delete.build().fetch_all(&mut *transaction).await?;
                let mut by_event: BTreeMap<String, i64> = BTreeMap::new();
                for row in &deleted {
                    *by_event.entry(row.try_get("event")?).or_default() += 1;
                }
                for (event, pruned) in &by_event {
                    sqlx::query(
                        "INSERT INTO notification_tallies (event, pruned) VALUES ($1, $2) \
                         ON CONFLICT (event) DO UPDATE SET pruned = notification_tallies.pruned + excluded.pruned",
                    )
                    .bind(event)
                    .bind(*pruned)
                    .execute(&mut *transaction)
                    .await?;
                }
                transaction.commit().await?;
                Ok((u64::try_from(deleted.len()).unwrap_or(u64::MAX), deliveries))
            }))?;
            report.notifications += notifications;
            report.deliveries += deliveries;
            if !another_batch(count(notifications), retention, &mut report.transactions).await {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Severity};
    use crate::store::TicketFilter;
    use crate::store::tests::{TestStore, backends};
    use crate::store::tickets::tests::{MINUTE, T0, enroll, store_one};
    use crate::tickets::TicketState;

    const DAY: i64 = 24 * 3600 * 1000;

    /// Only `which` prunes, `days` of it kept, `batch_rows` a transaction, no pause.
    fn only(which: &str, days: u64, batch_rows: usize) -> Retention {
        let keep = Some(Duration::from_secs(days * 24 * 3600));
        let mut retention = Retention::keep_forever();
        match which {
            "findings" => retention.findings = keep,
            "ticket_evidence" => retention.ticket_evidence = keep,
            "notifications" => retention.notifications = keep,
            "requests" => {
                retention.reproduce_requests = keep;
                retention.user_notices = keep;
            }
            _ => unreachable!("a test names one of the above"),
        }
        retention.batch_rows = batch_rows;
        retention.pause_between_batches = Duration::ZERO;
        retention
    }

    /// `count` findings of device `device` received at `received_at_ms`, written directly
    /// (no ticket decisions: this is about volume), sequences from `first`.
    async fn insert_findings(
        store: &Store,
        device: &str,
        first: i64,
        count: i64,
        received_at_ms: i64,
    ) {
        let sequences: Vec<i64> = (first..first + count).collect();
        for chunk in sequences.chunks(200) {
            with_pool!(store, pool => {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO findings (device_id, sequence, check_name, resource, severity, summary, \
                     evidence_json, observed_at_ms, received_at_ms) ",
                );
                insert.push_values(chunk, |mut row, sequence| {
                    row.push_bind(device)
                        .push_bind(*sequence)
                        .push_bind("cpu.load")
                        .push_bind("total")
                        .push_bind("info")
                        .push_bind("load 0.5")
                        .push_bind("{\"load\":0.5}")
                        .push_bind(received_at_ms)
                        .push_bind(received_at_ms);
                });
                insert.build().execute(pool).await.expect("insert findings");
            });
        }
    }

    async fn rows(store: &Store, sql: &'static str) -> i64 {
        with_pool!(store, pool => {
            sqlx::query(sql)
                .fetch_one(pool)
                .await
                .expect("count")
                .try_get::<i64, _>(0)
                .expect("count")
        })
    }

    fn user_report(sequence: u64, report_id: &str) -> Finding {
        let evidence = serde_json::json!({
            "text": "the intranet is down",
            "failed_layer": "dns",
            "conclusion": "The name cannot be looked up",
            "reporter": {"uid": 1000, "account": "alice"},
            "playbooks": [{"playbook": "web", "target": "intranet.example.com"}],
        });
        Finding {
            sequence,
            check: crate::tickets::USER_REPORT.to_owned(),
            resource: report_id.to_owned(),
            severity: Severity::Warning,
            summary: "the intranet is down".to_owned(),
            evidence_json: evidence.to_string(),
            observed_at_ms: T0,
        }
    }

    fn check(sequence: u64, check: &str, severity: Severity) -> Finding {
        Finding {
            sequence,
            check: check.to_owned(),
            resource: "/".to_owned(),
            severity,
            summary: format!("{check} {}", severity.as_str()),
            evidence_json: "{\"used_pct\":97}".to_owned(),
            observed_at_ms: T0,
        }
    }

    #[tokio::test]
    async fn old_findings_go_in_bounded_batches_and_recent_ones_and_open_reports_stay() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            // A user's report whose ticket is still open: the fixes' planner reads it.
            store_one(store, "a", user_report(1, "r1"), T0).await;
            insert_findings(store, "a", 2, 5_000, T0).await;
            insert_findings(store, "a", 5_002, 10, T0 + 89 * DAY).await;

            let retention = only("findings", 90, 2_000);
            let too_soon = store.prune(T0 + 89 * DAY, &retention).await.expect("prune");
            assert!(too_soon.is_empty(), "{backend}: {too_soon:?}");

            let report = store.prune(T0 + 91 * DAY, &retention).await.expect("prune");
            assert_eq!(report.findings, 5_000, "{backend}");
            // 2,000 + 2,000 + 1,000: no transaction deleted more than a batch.
            assert_eq!(report.transactions, 3, "{backend}");
            assert_eq!(
                rows(store, "SELECT COUNT(*) FROM findings").await,
                11,
                "{backend}"
            );
            let kept = store.recent_findings("a", 100).await.expect("findings");
            assert_eq!(kept.len(), 11, "{backend}");
            assert_eq!(
                kept[0].finding.check,
                crate::tickets::USER_REPORT,
                "{backend}"
            );

            let again = store.prune(T0 + 91 * DAY, &retention).await.expect("prune");
            assert!(
                again.is_empty(),
                "{backend}: nothing left to prune: {again:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_long_ended_tickets_evidence_is_pruned_and_summed_up_an_open_ones_is_untouched() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            enroll(store, "b", "hq").await;
            store_one(store, "a", check(1, "disk.free_low", Severity::Warning), T0).await;
            store_one(
                store,
                "a",
                check(2, "disk.free_low", Severity::Critical),
                T0 + MINUTE,
            )
            .await;
            store_one(
                store,
                "a",
                check(3, "disk.free_low", Severity::Ok),
                T0 + 2 * MINUTE,
            )
            .await;
            store_one(store, "b", check(1, "memory.low", Severity::Warning), T0).await;
            let tickets = store
                .tickets(&TicketFilter::default())
                .await
                .expect("tickets");
            let ticket_of = |device: &str| {
                tickets
                    .iter()
                    .find(|t| t.device_id.as_deref() == Some(device))
                    .map(|t| t.id)
                    .unwrap_or_else(|| panic!("{backend}: no ticket on {device}"))
            };
            let (ended, open) = (ticket_of("a"), ticket_of("b"));
            let detail = |id: i64| async move {
                store
                    .ticket_detail(id)
                    .await
                    .expect("detail")
                    .expect("ticket")
            };
            let ended_before = detail(ended).await;
            assert_eq!(
                ended_before.ticket.state,
                TicketState::Resolved,
                "{backend}"
            );
            let with_evidence = ended_before
                .timeline
                .iter()
                .filter(|e| e.data.is_some())
                .count();
            assert!(with_evidence >= 2, "{backend}: {:?}", ended_before.timeline);
            let open_before = detail(open).await;
            assert!(
                open_before.timeline.iter().any(|e| e.data.is_some()),
                "{backend}"
            );

            // One entry a transaction: the summary adds up across batches.
            let retention = only("ticket_evidence", 180, 1);
            let early = store
                .prune(T0 + 179 * DAY, &retention)
                .await
                .expect("prune");
            assert!(early.is_empty(), "{backend}: {early:?}");
            let now = T0 + 181 * DAY;
            let report = store.prune(now, &retention).await.expect("prune");
            assert_eq!(
                (
                    report.evidence_entries,
                    report.evidence_tickets,
                    report.transactions
                ),
                (with_evidence as u64, 1, with_evidence as u64),
                "{backend}"
            );

            let ended_after = detail(ended).await;
            assert_eq!(
                ended_after.timeline.len(),
                ended_before.timeline.len() + 1,
                "{backend}: one summary entry added"
            );
            for (before, after) in ended_before.timeline.iter().zip(&ended_after.timeline) {
                assert_eq!(
                    (&before.kind, &before.text, before.at_ms),
                    (&after.kind, &after.text, after.at_ms),
                    "{backend}: every entry's sentence is kept"
                );
                assert_eq!(after.data, None, "{backend}: {after:?}");
            }
            let summary = ended_after.timeline.last().expect("summary");
            assert_eq!(summary.kind, SUMMARY_KIND, "{backend}");
            assert_eq!(summary.at_ms, now, "{backend}");
            assert!(
                summary.text.starts_with(&format!(
                    "Evidence of {with_evidence} timeline entries (recorded 2027-01-15) pruned"
                )),
                "{backend}: {}",
                summary.text
            );
            let data = summary.data.as_ref().expect("summary data");
            assert_eq!(data["pruned_entries"], with_evidence, "{backend}");
            assert_eq!(data["first_at_ms"], T0, "{backend}");
            assert_eq!(data["older_than_days"], 180, "{backend}");
            assert_eq!(
                ended_after.ticket.updated_at_ms, ended_before.ticket.updated_at_ms,
                "{backend}: pruning is not activity on the ticket"
            );

            assert_eq!(
                detail(open).await.timeline,
                open_before.timeline,
                "{backend}: an open ticket keeps its evidence"
            );
            let again = store.prune(now + DAY, &retention).await.expect("prune");
            assert!(again.is_empty(), "{backend}: {again:?}");
        }
    }

    #[tokio::test]
    async fn old_notifications_go_with_their_deliveries_and_the_ticket_counts_stay() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            store_one(store, "a", check(1, "disk.free_low", Severity::Warning), T0).await;
            store_one(
                store,
                "a",
                check(2, "disk.free_low", Severity::Ok),
                T0 + MINUTE,
            )
            .await;
            store
                .expand_notifications(&[], &[], T0 + 2 * MINUTE, 100)
                .await
                .expect("expand");
            // The opening's delivery is done; the resolution's is still being retried.
            with_pool!(store, pool => {
                for (id, event, state) in [("d1", "opened", "delivered"), ("d2", "resolved", "pending")] {
                    sqlx::query(
                        "INSERT INTO deliveries (id, channel, notification_id, ticket_id, event, payload_json, state, next_attempt_at_ms) \
                         SELECT $1, 'hook', id, ticket_id, event, '{}', $2, $3 FROM notifications WHERE event = $4",
                    )
                    .bind(id)
                    .bind(state)
                    .bind(T0)
                    .bind(event)
                    .execute(pool)
                    .await
                    .expect("delivery");
                }
            });
            let before = store.metrics_snapshot().await.expect("metrics");
            assert_eq!(
                (before.tickets_opened, before.tickets_resolved),
                (1, 1),
                "{backend}"
            );
            let notifications = rows(store, "SELECT COUNT(*) FROM notifications").await;
            assert!(notifications >= 2, "{backend}");

            let retention = only("notifications", 30, 2_000);
            let report = store.prune(T0 + 31 * DAY, &retention).await.expect("prune");
            assert_eq!(
                (report.notifications, report.deliveries),
                (u64::try_from(notifications - 1).unwrap_or(0), 1),
                "{backend}"
            );
            assert_eq!(
                rows(store, "SELECT COUNT(*) FROM deliveries").await,
                1,
                "{backend}: the pending delivery stays"
            );
            assert_eq!(
                rows(store, "SELECT COUNT(*) FROM notifications").await,
                1,
                "{backend}: with its notification"
            );
            assert_eq!(
                store.metrics_snapshot().await.expect("metrics"),
                before,
                "{backend}: tickets opened and resolved are still counted"
            );
        }
    }

    #[tokio::test]
    async fn finished_requests_and_sent_notices_go_waiting_ones_stay() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            with_pool!(store, pool => {
                for (id, state, done) in [("done", "done", Some(T0)), ("expired", "expired", Some(T0)), ("queued", "queued", None)] {
                    sqlx::query(
                        "INSERT INTO reproduce_requests (id, device_id, playbook, state, requested_by, created_at_ms, expires_at_ms, done_at_ms) \
                         VALUES ($1, 'a', 'web', $2, 'tech', $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(state)
                    .bind(T0)
                    .bind(T0 + 60 * DAY)
                    .bind(done)
                    .execute(pool)
                    .await
                    .expect("request");
                }
                for (id, sent) in [("sent", Some(T0)), ("waiting", None)] {
                    sqlx::query(
                        "INSERT INTO user_notices (id, device_id, account, kind, title, body, created_at_ms, sent_at_ms) \
                         VALUES ($1, 'a', 'alice', 'reply', 't', 'b', $2, $3)",
                    )
                    .bind(id)
                    .bind(T0)
                    .bind(sent)
                    .execute(pool)
                    .await
                    .expect("notice");
                }
            });
            let report = store
                .prune(T0 + 31 * DAY, &only("requests", 30, 2_000))
                .await
                .expect("prune");
            assert_eq!(
                (report.reproduce_requests, report.user_notices),
                (2, 1),
                "{backend}"
            );
            assert!(
                store
                    .reproduce_request("queued")
                    .await
                    .expect("read")
                    .is_some(),
                "{backend}"
            );
            assert_eq!(
                rows(store, "SELECT COUNT(*) FROM user_notices").await,
                1,
                "{backend}"
            );
        }
    }
}
