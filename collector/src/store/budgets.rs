//! What ingest needs to hold a device to its budgets (`[limits]`), and the note a device
//! over one of them gets on its own row.

use std::collections::HashSet;

use sqlx::Row;

use super::{Backend, Store, StoreError};

impl Store {
    /// The device's condition keys `(check, resource)`, at most `limit` of them.
    pub async fn condition_keys(
        &self,
        device_id: &str,
        limit: usize,
    ) -> Result<HashSet<(String, String)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT check_name, resource FROM conditions WHERE device_id = $1 LIMIT $2",
            )
            .bind(device_id)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("check_name")?, row.try_get("resource")?)))
                .collect::<Result<HashSet<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Whether the device has a condition for `check` on `resource`.
    pub async fn condition_exists(
        &self,
        device_id: &str,
        check: &str,
        resource: &str,
    ) -> Result<bool, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "SELECT 1 AS found FROM conditions WHERE device_id = $1 AND check_name = $2 \
                 AND resource = $3",
            )
            .bind(device_id)
            .bind(check)
            .bind(resource)
            .fetch_optional(pool)
            .await?
            .is_some()
        }))
    }

    /// Report tickets (a user's own words) opened for the device since `since_ms`.
    pub async fn report_tickets_since(
        &self,
        device_id: &str,
        since_ms: i64,
    ) -> Result<u64, StoreError> {
        let count: i64 = with_pool!(self, pool => {
            sqlx::query(
                "SELECT COUNT(*) AS n FROM tickets WHERE device_id = $1 AND kind = 'report' \
                 AND opened_at_ms >= $2",
            )
            .bind(device_id)
            .bind(since_ms)
            .fetch_one(pool)
            .await?
            .try_get("n")?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Notes on the device's row that it went over a budget. True when the note is new (the
    /// same note again changes nothing, so it is logged and shown once).
    pub async fn note_over_budget(
        &self,
        device_id: &str,
        note: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE devices SET budget_note = $1, budget_note_at_ms = $2 \
                 WHERE id = $3 AND (budget_note IS NULL OR budget_note <> $1)",
            )
            .bind(note)
            .bind(now_ms)
            .bind(device_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }
}
