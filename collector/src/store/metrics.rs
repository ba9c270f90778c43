//! The database-wide numbers `/metrics` reads at scrape time: tickets opened and resolved, and
//! the notification and delivery backlogs. Each is one query an index answers.

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// What the database says at one scrape. Counts are of the whole database: collectors sharing
/// one PostgreSQL all report the same numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreMetrics {
    /// Tickets ever opened (device tickets, incidents and user reports).
    pub tickets_opened: u64,
    /// Times a ticket was resolved, by its condition clearing or by staff.
    pub tickets_resolved: u64,
    /// Notifications written but not yet expanded into deliveries.
    pub notifications_unexpanded: u64,
    /// Deliveries not yet delivered or given up, per channel.
    pub deliveries_pending: Vec<(String, u64)>,
    /// Fix requests answered, per outcome (verified, not_verified, failed, refused) and who
    /// allowed them (policy or technician).
    pub fix_runs: Vec<(String, String, u64)>,
    /// Each ticket system's outbox.
    pub sync_backlog: Vec<super::sync::SyncBacklog>,
}

impl Store {
    /// Reads the numbers for one scrape.
    ///
    /// Tickets opened and resolved are counted from `notifications` rather than counted as
    /// they happen: every opening and every resolution writes a notification in the very
    /// transaction that makes it (whether or not a channel is configured), and a notification
    /// retention prunes is added to `notification_tallies` in the transaction that deletes
    /// it, so the counts only grow and are exact across collectors and restarts, without
    /// touching the ticket engine's hot path. The count reads the `notifications_by_event`
    /// index, not the table.
    pub async fn metrics_snapshot(&self) -> Result<StoreMetrics, StoreError> {
        let mut snapshot = StoreMetrics::default();
        with_pool!(self, pool => {
            // One statement, so one snapshot: a notification pruned meanwhile is counted
            // either in the table or in its tally, never in both or neither.
            let rows = sqlx::query(
                "SELECT event, COUNT(*) AS total FROM notifications WHERE event IN ('opened', 'resolved') GROUP BY event \
                 UNION ALL SELECT event, pruned AS total FROM notification_tallies WHERE event IN ('opened', 'resolved')",
            )
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let event: String = row.try_get("event")?;
                let total = count(row.try_get("total")?);
                match event.as_str() {
                    "opened" => snapshot.tickets_opened += total,
                    "resolved" => snapshot.tickets_resolved += total,
                    _ => {}
                }
            }
            // The backlog is small when things work; `notifications_unexpanded` covers it.
            let unexpanded: i64 = sqlx::query("SELECT COUNT(*) AS total FROM notifications WHERE expanded_at_ms IS NULL")
                .fetch_one(pool)
                .await?
                .try_get("total")?;
            snapshot.notifications_unexpanded = count(unexpanded);
            let rows = sqlx::query(
                "SELECT state, CASE WHEN allowed_by LIKE 'policy:%' THEN 'policy' WHEN allowed_by LIKE 'user:%' THEN 'user' ELSE 'technician' END AS allowed, COUNT(*) AS total \
                 FROM fix_runs WHERE state IN ('verified', 'not_verified', 'failed', 'refused') GROUP BY 1, 2 ORDER BY 1, 2",
            )
            .fetch_all(pool)
            .await?;
            for row in &rows {
                snapshot.fix_runs.push((row.try_get("state")?, row.try_get("allowed")?, count(row.try_get("total")?)));
            }
        });
        snapshot.deliveries_pending = self.delivery_backlog().await?;
        snapshot.sync_backlog = self.sync_backlog().await?;
        Ok(snapshot)
    }
}

#[cfg(test)]
impl Store {
    /// Closes the pool: every query after this fails, as with a database gone away.
    pub(crate) async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use crate::store::tests::{TestStore, backends};

    #[tokio::test]
    async fn the_scrape_queries_read_on_every_backend() {
        for TestStore { store, .. } in &backends().await {
            let snapshot = store.metrics_snapshot().await.unwrap_or_else(|e| {
                panic!("{}: {e}", store.backend_name());
            });
            assert_eq!(
                snapshot,
                super::StoreMetrics::default(),
                "{}",
                store.backend_name()
            );
        }
    }
}
