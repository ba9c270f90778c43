//! Findings received per UTC day (`stats_findings_days`), so the stats of a long window sum a
//! year of days instead of counting millions of findings: filled lazily from `findings` for
//! settled days, forgotten by retention for the days it prunes, and always equal to counting.

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// One UTC day.
pub const DAY_MS: i64 = 86_400_000;
/// How long after a UTC day ends before its count is kept: findings are stamped when their
/// batch arrives and committed within seconds, but collectors sharing a database may not agree
/// on the time. Younger days are counted each time (at most about two days of findings).
const SETTLED_AFTER_MS: i64 = DAY_MS;
/// Days one transaction counts and keeps: PostgreSQL holds `FINDINGS_DAYS_LOCK` and SQLite
/// the write lock meanwhile, which ingest's group commit waits for.
const DAYS_PER_TRANSACTION: i64 = 14;
/// The PostgreSQL advisory lock (transaction scope) that counting days and retention's
/// pruning of findings take, so a count read before a prune is never kept after it.
pub(crate) const FINDINGS_DAYS_LOCK: i64 = 0x4669_6e64_5379_7473;
/// Run by retention in each transaction that deletes findings received before `$1`: the days
/// that may have lost findings are counted again when next asked.
pub(crate) const FORGET_PRUNED_DAYS: &str =
    "DELETE FROM stats_findings_days WHERE day_start_ms < $1";

/// The whole UTC days in `since_ms..until_ms` whose counts may be kept at `now_ms`:
/// `first..end`, empty when `first >= end`.
pub fn settled_days(since_ms: i64, until_ms: i64, now_ms: i64) -> (i64, i64) {
    let first = since_ms.div_euclid(DAY_MS) * DAY_MS
        + if since_ms.rem_euclid(DAY_MS) == 0 {
            0
        } else {
            DAY_MS
        };
    let settled_end = (now_ms - SETTLED_AFTER_MS).div_euclid(DAY_MS) * DAY_MS;
    let end = (until_ms.div_euclid(DAY_MS) * DAY_MS).min(settled_end);
    (first, end)
}

/// The days of `first..end` not in `kept`, as runs of consecutive days (`first..end` ms) of at
/// most `days_per_run` days each: what one transaction counts and keeps.
pub(crate) fn missing_runs(
    first: i64,
    end: i64,
    kept: &std::collections::HashSet<i64>,
    days_per_run: i64,
) -> Vec<(i64, i64)> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for day in (first..end).step_by(DAY_MS as usize) {
        if kept.contains(&day) {
            continue;
        }
        match runs.last_mut() {
            Some((run_first, run_end))
                if *run_end == day && (day - *run_first) / DAY_MS < days_per_run =>
            {
                *run_end = day + DAY_MS;
            }
            _ => runs.push((day, day + DAY_MS)),
        }
    }
    runs
}

impl Store {
    /// Findings received in `since_ms..until_ms`, as `SELECT COUNT(*)` over them would say:
    /// the settled whole days from `stats_findings_days` (counting and keeping those missing),
    /// the rest counted.
    pub async fn findings_received(
        &self,
        since_ms: i64,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (first, end) = settled_days(since_ms, until_ms, now_ms);
        if first >= end {
            return self.count_findings(since_ms, until_ms).await;
        }
        let edges = self.count_findings(since_ms, first).await?
            + self.count_findings(end, until_ms).await?;
        Ok(edges + self.findings_in_days(first, end).await?)
    }

    /// `SELECT COUNT(*)` of the findings received in `since_ms..until_ms` (the raw path).
    pub async fn count_findings(&self, since_ms: i64, until_ms: i64) -> Result<u64, StoreError> {
        if since_ms >= until_ms {
            return Ok(0);
        }
        let count: i64 = with_pool!(self, pool => {
            sqlx::query("SELECT COUNT(*) AS findings FROM findings WHERE received_at_ms >= $1 AND received_at_ms < $2")
                .bind(since_ms)
                .bind(until_ms)
                .fetch_one(pool)
                .await?
                .try_get("findings")?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The findings of the whole days `first..end` (settled), from the kept counts, counting
    /// and keeping the days not kept yet.
    async fn findings_in_days(&self, first: i64, end: i64) -> Result<u64, StoreError> {
        let kept: Vec<(i64, i64)> = with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT day_start_ms, findings FROM stats_findings_days \
                 WHERE day_start_ms >= $1 AND day_start_ms < $2 ORDER BY day_start_ms",
            )
            .bind(first)
            .bind(end)
            .fetch_all(pool)
            .await?;
            let mut kept = Vec::with_capacity(rows.len());
            for row in &rows {
                kept.push((row.try_get("day_start_ms")?, row.try_get("findings")?));
            }
            kept
        });
        let mut total: i64 = kept.iter().map(|(_, findings)| findings).sum();
        let kept_days: std::collections::HashSet<i64> = kept.iter().map(|(day, _)| *day).collect();
        for (run_first, run_end) in missing_runs(first, end, &kept_days, DAYS_PER_TRANSACTION) {
            total += self.keep_findings_days(run_first, run_end).await?;
        }
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Counts the findings of each day in `first..end` and keeps the counts, in one
    /// transaction that retention's pruning cannot interleave with; returns their sum.
    async fn keep_findings_days(&self, first: i64, end: i64) -> Result<i64, StoreError> {
        let postgres = matches!(self.backend, Backend::Postgres(_));
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(self.backend.begin_statement()).await?;
            if postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(FINDINGS_DAYS_LOCK)
                    .execute(&mut *transaction)
                    .await?;
            }
            let rows = sqlx::query(
                "SELECT received_at_ms / 86400000 AS day, COUNT(*) AS findings FROM findings \
                 WHERE received_at_ms >= $1 AND received_at_ms < $2 GROUP BY received_at_ms / 86400000",
            )
            .bind(first)
            .bind(end)
            .fetch_all(&mut *transaction)
            .await?;
            let mut counts: std::collections::BTreeMap<i64, i64> =
                (first..end).step_by(DAY_MS as usize).map(|day| (day, 0)).collect();
            for row in &rows {
                let day: i64 = row.try_get("day")?;
                counts.insert(day * DAY_MS, row.try_get("findings")?);
            }
            let mut insert = sqlx::QueryBuilder::new("INSERT INTO stats_findings_days (day_start_ms, findings) ");
            insert.push_values(&counts, |mut row, (day, findings)| {
                row.push_bind(*day).push_bind(*findings);
            });
            insert.push(" ON CONFLICT (day_start_ms) DO NOTHING");
            insert.build().execute(&mut *transaction).await?;
            transaction.commit().await?;
            Ok(counts.values().sum())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::retention::Retention;
    use crate::store::tests::backends;
    use crate::store::tickets::tests::enroll;

    /// A UTC midnight, and the collector's "now" a few hours into that day.
    const MIDNIGHT: i64 = 1_800_057_600_000;
    const NOW: i64 = MIDNIGHT + 5 * 3_600_000 + 17;

    /// Findings of `device` received at each of `times`, written directly (no ticket
    /// decisions: this is about counting).
    async fn insert_findings(store: &Store, device: &str, first_sequence: i64, times: &[i64]) {
        let rows: Vec<(i64, i64)> = times
            .iter()
            .enumerate()
            .map(|(n, at)| (first_sequence + n as i64, *at))
            .collect();
        for chunk in rows.chunks(200) {
            with_pool!(store, pool => {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO findings (device_id, sequence, check_name, resource, severity, summary, \
                     evidence_json, observed_at_ms, received_at_ms) ",
                );
                insert.push_values(chunk, |mut row, (sequence, at)| {
                    row.push_bind(device)
                        .push_bind(*sequence)
                        .push_bind("cpu.load")
                        .push_bind("total")
                        .push_bind("info")
                        .push_bind("load 0.5")
                        .push_bind("{}")
                        .push_bind(*at)
                        .push_bind(*at);
                });
                insert.build().execute(pool).await.expect("insert findings");
            });
        }
    }

    async fn kept_days(store: &Store) -> i64 {
        with_pool!(store, pool => {
            sqlx::query("SELECT COUNT(*) FROM stats_findings_days")
                .fetch_one(pool)
                .await
                .expect("count")
                .try_get::<i64, _>(0)
                .expect("count")
        })
    }

    #[test]
    fn settled_days_are_whole_utc_days_ended_a_day_before_now() {
        // A window starting mid-day starts its days at the next midnight.
        let (first, end) = settled_days(MIDNIGHT - 30 * DAY_MS + 1, NOW, NOW);
        assert_eq!(first, MIDNIGHT - 29 * DAY_MS);
        // Yesterday ended less than a day ago: counted live, so the days end at its start.
        assert_eq!(end, MIDNIGHT - DAY_MS);
        // A window on midnights is whole days from its start.
        assert_eq!(
            settled_days(MIDNIGHT - 10 * DAY_MS, MIDNIGHT - 3 * DAY_MS, NOW),
            (MIDNIGHT - 10 * DAY_MS, MIDNIGHT - 3 * DAY_MS)
        );
        // Within a day: nothing to keep.
        let (first, end) = settled_days(NOW - 3_600_000, NOW, NOW);
        assert!(first >= end);
    }

    /// The kept counts always sum to what counting the findings says: on the first call (the
    /// days counted and kept), on the next (read back), with findings on the very edges of
    /// days, in windows starting and ending mid-day, and after retention pruned some of them.
    #[tokio::test]
    async fn kept_days_sum_to_counting_the_findings_before_and_after_retention() {
        for test in &backends().await {
            let store = &test.store;
            let backend = store.backend_name();
            enroll(store, "pc-a", "warsaw").await;
            // Over 40 days: some hours of each day, each midnight and the millisecond before
            // it, and today's findings (not settled).
            let mut times = Vec::new();
            for day in 0..40 {
                let start = MIDNIGHT - day * DAY_MS;
                times.extend([start, start - 1, start + 1]);
                for hour in 0..(day % 5) {
                    times.push(start + hour * 3_600_000 + 1234);
                }
            }
            times.push(NOW - 1);
            insert_findings(store, "pc-a", 1, &times).await;

            let windows = [
                (NOW - 30 * DAY_MS, NOW),
                (NOW - 365 * DAY_MS, NOW),
                (MIDNIGHT - 20 * DAY_MS, MIDNIGHT - 5 * DAY_MS),
                (MIDNIGHT - 20 * DAY_MS + 1, MIDNIGHT - 5 * DAY_MS - 1),
                (MIDNIGHT - 7 * DAY_MS - 1, MIDNIGHT - 7 * DAY_MS + 1),
                (NOW - 2 * DAY_MS, NOW),
            ];
            for pass in ["counted and kept", "read back"] {
                for (since, until) in windows {
                    assert_eq!(
                        store
                            .findings_received(since, until, NOW)
                            .await
                            .expect("kept"),
                        store.count_findings(since, until).await.expect("counted"),
                        "{backend}, {pass}: {since}..{until}"
                    );
                }
            }
            assert!(kept_days(store).await >= 30, "{backend}: days were kept");

            // Retention keeps 10 days, pruning in small batches: the days it reached are
            // forgotten and counted again.
            let mut retention = Retention::keep_forever();
            retention.findings = Some(Duration::from_secs(10 * 24 * 3600));
            retention.batch_rows = 7;
            retention.pause_between_batches = Duration::ZERO;
            let pruned = store.prune(NOW, &retention).await.expect("prune");
            assert!(pruned.findings > 50, "{backend}: {pruned:?}");
            for (since, until) in windows {
                assert_eq!(
                    store
                        .findings_received(since, until, NOW)
                        .await
                        .expect("kept"),
                    store.count_findings(since, until).await.expect("counted"),
                    "{backend}, after retention: {since}..{until}"
                );
            }

            // The stats say the same.
            let stats = store.stats(NOW - 30 * DAY_MS, NOW).await.expect("stats");
            assert_eq!(
                stats.findings_received,
                store
                    .count_findings(NOW - 30 * DAY_MS, NOW)
                    .await
                    .expect("counted"),
                "{backend}"
            );
        }
    }
}
