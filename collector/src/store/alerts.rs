//! Alerts about the collector itself, for its administrators: not a device's fault but the
//! collector's (its database lost findings it had acknowledged). Raised once per dedupe key,
//! shown until an admin acknowledges them.

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Store, StoreError};

/// One alert, as the API and the admin's pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CollectorAlert {
    pub id: i64,
    /// What kind: `sequence_gap` (an agent was acknowledged findings the database lacks).
    pub kind: String,
    pub device_id: Option<String>,
    /// What happened and what to do, in words.
    pub detail: String,
    pub raised_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
}

/// What a new alert says.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    pub kind: &'a str,
    pub device_id: Option<&'a str>,
    pub detail: &'a str,
    /// The same key raises nothing new (an agent reconnecting with the same gap).
    pub dedupe_key: &'a str,
}

impl Store {
    /// Raises `alert` unless one with its dedupe key exists, or an alert of its kind about its
    /// device is still open (a device that reconnects with a new gap each time cannot flood
    /// the list); true when it is new.
    pub async fn raise_alert(&self, alert: &NewAlert<'_>, now_ms: i64) -> Result<bool, StoreError> {
        let inserted = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO collector_alerts (kind, device_id, detail, dedupe_key, raised_at_ms) \
                 SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT) \
                 WHERE NOT EXISTS (SELECT 1 FROM collector_alerts WHERE kind = $1 AND device_id = $2 \
                 AND acknowledged_at_ms IS NULL) \
                 ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(alert.kind)
            .bind(alert.device_id)
            .bind(alert.detail)
            .bind(alert.dedupe_key)
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(inserted == 1)
    }

    /// Alerts no admin has acknowledged yet, newest first (at most 100).
    pub async fn open_alerts(&self) -> Result<Vec<CollectorAlert>, StoreError> {
        self.alerts("WHERE acknowledged_at_ms IS NULL").await
    }

    /// Every alert, newest first (at most 100).
    pub async fn recent_alerts(&self) -> Result<Vec<CollectorAlert>, StoreError> {
        self.alerts("").await
    }

    async fn alerts(&self, filter: &'static str) -> Result<Vec<CollectorAlert>, StoreError> {
        let sql = format!(
            "SELECT id, kind, device_id, detail, raised_at_ms, acknowledged_at_ms, acknowledged_by \
             FROM collector_alerts {filter} ORDER BY raised_at_ms DESC, id DESC LIMIT 100"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(CollectorAlert {
                        id: row.try_get("id")?,
                        kind: row.try_get("kind")?,
                        device_id: row.try_get("device_id")?,
                        detail: row.try_get("detail")?,
                        raised_at_ms: row.try_get("raised_at_ms")?,
                        acknowledged_at_ms: row.try_get("acknowledged_at_ms")?,
                        acknowledged_by: row.try_get("acknowledged_by")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Marks an alert seen by `by`; false when there is no such open alert.
    pub async fn acknowledge_alert(
        &self,
        id: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let updated = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE collector_alerts SET acknowledged_at_ms = $1, acknowledged_by = $2 \
                 WHERE id = $3 AND acknowledged_at_ms IS NULL",
            )
            .bind(now_ms)
            .bind(by)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::backends;

    #[tokio::test]
    async fn an_alert_is_raised_once_per_key_and_once_per_device_while_open() {
        for test in backends().await {
            let store = &test.store;
            let alert = NewAlert {
                kind: "sequence_gap",
                device_id: Some("d"),
                detail: "findings 11 to 20 are missing",
                dedupe_key: "sequence_gap:d:20",
            };
            assert!(store.raise_alert(&alert, 1_000).await.expect("raise"));
            assert!(!store.raise_alert(&alert, 2_000).await.expect("raise again"));
            // A new gap of the same device while the first is open: nothing new.
            let again = NewAlert {
                dedupe_key: "sequence_gap:d:40",
                ..alert.clone()
            };
            assert!(
                !store
                    .raise_alert(&again, 2_500)
                    .await
                    .expect("raise a new gap")
            );
            let open = store.open_alerts().await.expect("open");
            assert_eq!(open.len(), 1);
            assert_eq!(open[0].raised_at_ms, 1_000);
            assert!(
                store
                    .acknowledge_alert(open[0].id, "admin", 3_000)
                    .await
                    .expect("ack")
            );
            assert!(
                !store
                    .acknowledge_alert(open[0].id, "admin", 4_000)
                    .await
                    .expect("ack twice")
            );
            assert!(store.open_alerts().await.expect("open").is_empty());
            // Once seen, a new gap raises again; the same one never does.
            assert!(
                store
                    .raise_alert(&again, 5_000)
                    .await
                    .expect("raise after ack")
            );
            assert!(!store.raise_alert(&alert, 5_000).await.expect("old key"));
            let all = store.recent_alerts().await.expect("all");
            assert_eq!(all.len(), 2);
            assert_eq!(all[1].acknowledged_by.as_deref(), Some("admin"));
        }
    }
}
