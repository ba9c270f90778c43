//! Ticket-system sync in the store (migration 0025): the outbox of what each system is to be
//! told, in order per ticket; the link from a Firstline ticket to its remote ticket; the
//! back-sync cursor; and the remote events already taken in.
//!
//! The outbox is filled where channels' deliveries are (`expand_notifications`), so a
//! notification becomes at most one entry per system. Entries of one ticket go out strictly
//! in order: only the oldest unfinished entry of a ticket is ever claimed, and a claim is a
//! lease (an optimistic update of its due time), so several collectors on one PostgreSQL
//! never work one ticket's entries at once.

use sqlx::Row;

/// A `sync` entry on a ticket's timeline, inside `$transaction`.
macro_rules! sync_note {
    ($transaction:expr, $ticket:expr, $now:expr, $text:expr) => {
        sqlx::query(
            "INSERT INTO ticket_events (ticket_id, at_ms, kind, text) VALUES ($1, $2, $3, $4)",
        )
        .bind($ticket)
        .bind($now)
        .bind(NoteKind::Sync.as_str())
        .bind($text)
        .execute(&mut *$transaction)
        .await?
    };
}

use super::{Backend, Store, StoreError};
use crate::tickets::NoteKind;

/// Which tickets a system takes (an empty list takes every value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncFilter {
    pub system: String,
    pub priorities: Vec<u8>,
    /// Ticket kinds: "device", "incident", "report".
    pub kinds: Vec<String>,
    /// Device sites.
    pub sites: Vec<String>,
}

/// An outbox entry claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncItem {
    pub id: i64,
    pub system: String,
    pub ticket_id: i64,
    /// create, update, comment, resolve, reopen.
    pub op: String,
    pub text: Option<String>,
    pub attempts: u32,
    pub lease_until_ms: i64,
}

/// A Firstline ticket's remote twin.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SyncLink {
    pub system: String,
    pub remote_id: String,
    pub remote_url: String,
    /// Resolved or closed by a person in the remote system.
    pub closed_remotely: bool,
    pub synced_at_ms: i64,
    /// Entries not yet delivered.
    pub waiting: u64,
    /// The last attempt's error, while an entry is waiting.
    pub last_error: Option<String>,
}

/// What the outbox holds for a system.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncBacklog {
    pub system: String,
    pub waiting: u64,
    pub failed: u64,
}

/// The op a notification event becomes.
pub fn op_for(event: &str) -> Option<&'static str> {
    match event {
        "opened" => Some("create"),
        "updated" => Some("update"),
        "replied" => Some("comment"),
        "resolved" => Some("resolve"),
        "reopened" => Some("reopen"),
        _ => None,
    }
}

impl Store {
    /// Inside `expand_notifications`: queues `event` of `ticket_id` for every system whose
    /// filter takes the ticket, or that already has it (a linked ticket is followed whatever
    /// it becomes).
    pub(super) async fn queue_for_systems(
        &self,
        systems: &[SyncFilter],
        detail: &super::tickets::TicketDetail,
        notification_id: i64,
        event: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let Some(op) = op_for(event) else {
            return Ok(());
        };
        let ticket = &detail.ticket;
        let newest = |kinds: &'static [&'static str], limit: i64| {
            self.newest_events(ticket.id, kinds, limit)
        };
        let text = match op {
            "comment" => newest(&["reply"], 1).await?.into_iter().next(),
            "resolve" => {
                let mut text = ticket
                    .resolution
                    .clone()
                    .unwrap_or_else(|| "resolved".to_owned());
                for line in newest(&["state", "device", "evidence"], 3)
                    .await?
                    .iter()
                    .rev()
                {
                    text.push_str("\n- ");
                    text.push_str(line);
                }
                Some(text)
            }
            "reopen" => newest(&["state"], 1).await?.into_iter().next(),
            _ => None,
        };
        let sites = if systems.iter().any(|s| !s.sites.is_empty()) {
            self.ticket_sites(ticket.id).await?
        } else {
            Vec::new()
        };
        for system in systems {
            let wanted = (system.priorities.is_empty()
                || system.priorities.contains(&ticket.priority.number()))
                && (system.kinds.is_empty()
                    || system.kinds.iter().any(|k| k == ticket.kind.as_str()))
                && (system.sites.is_empty() || sites.iter().any(|s| system.sites.contains(s)));
            let known = with_pool!(self, pool => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT CAST(1 AS BIGINT) FROM sync_links WHERE system = $1 AND ticket_id = $2 \
                     UNION ALL SELECT CAST(1 AS BIGINT) FROM sync_outbox WHERE system = $1 AND ticket_id = $2 LIMIT 1",
                )
                .bind(&system.system)
                .bind(ticket.id)
                .fetch_optional(pool)
                .await?
            })
            .is_some();
            if !wanted && !known {
                continue;
            }
            with_pool!(self, pool => {
                sqlx::query(
                    "INSERT INTO sync_outbox (system, ticket_id, op, text, created_at_ms, next_attempt_at_ms, notification_id) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (system, notification_id) DO NOTHING",
                )
                .bind(&system.system)
                .bind(ticket.id)
                .bind(op)
                .bind(&text)
                .bind(now_ms)
                .bind(notification_id)
                .execute(pool)
                .await?;
            });
        }
        Ok(())
    }

    /// The texts of a ticket's newest timeline entries of `kinds`, newest first.
    async fn newest_events(
        &self,
        ticket_id: i64,
        kinds: &[&str],
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let list = kinds
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT text FROM ticket_events WHERE ticket_id = $1 AND kind IN ({list}) ORDER BY id DESC LIMIT $2"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .bind(ticket_id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    async fn ticket_sites(&self, ticket_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT DISTINCT d.site FROM devices d WHERE d.id IN \
                 (SELECT device_id FROM ticket_devices WHERE ticket_id = $1 \
                  UNION SELECT device_id FROM tickets WHERE id = $1 AND device_id IS NOT NULL)",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Claims up to `limit` of `system`'s due entries, each the oldest unfinished one of its
    /// ticket, the longest due first (so while a system is down every ticket takes its turn
    /// at the next try), leasing each for `lease_ms`.
    pub async fn claim_sync(
        &self,
        system: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<SyncItem>, StoreError> {
        let mut claimed = Vec::new();
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT o.id, o.ticket_id, o.op, o.text, o.attempts, o.next_attempt_at_ms FROM sync_outbox o \
                 WHERE o.system = $1 AND o.done_at_ms IS NULL AND o.next_attempt_at_ms <= $2 \
                 AND o.id = (SELECT MIN(h.id) FROM sync_outbox h WHERE h.system = o.system AND h.ticket_id = o.ticket_id AND h.done_at_ms IS NULL) \
                 ORDER BY o.next_attempt_at_ms, o.id LIMIT $3",
            )
            .bind(system)
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let due: i64 = row.try_get("next_attempt_at_ms")?;
                let won = sqlx::query(
                    "UPDATE sync_outbox SET next_attempt_at_ms = $1 WHERE id = $2 AND done_at_ms IS NULL AND next_attempt_at_ms = $3",
                )
                .bind(now_ms + lease_ms)
                .bind(id)
                .bind(due)
                .execute(pool)
                .await?
                .rows_affected();
                if won == 1 {
                    claimed.push(SyncItem {
                        id,
                        system: system.to_owned(),
                        ticket_id: row.try_get("ticket_id")?,
                        op: row.try_get("op")?,
                        text: row.try_get("text")?,
                        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                        lease_until_ms: now_ms + lease_ms,
                    });
                }
            }
        });
        Ok(claimed)
    }

    /// The entry went out (or, `refused`, was refused for good: the ticket's timeline says
    /// why). A lease that ran out was someone else's to record.
    pub async fn finish_sync(
        &self,
        item: &SyncItem,
        refused: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let recorded = sqlx::query(
                "UPDATE sync_outbox SET done_at_ms = $1, attempts = attempts + 1, failed = $2, last_error = $3 \
                 WHERE id = $4 AND done_at_ms IS NULL AND next_attempt_at_ms = $5",
            )
            .bind(now_ms)
            .bind(i64::from(refused.is_some()))
            .bind(refused)
            .bind(item.id)
            .bind(item.lease_until_ms)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if recorded == 1
                && let Some(error) = refused
            {
                sync_note!(transaction, item.ticket_id, now_ms,
                    format!("{} refused this ticket's {}: {error}", item.system, item.op));
            }
            transaction.commit().await?;
            Ok(recorded == 1)
        })
    }

    /// The entry failed for now: tried again at `retry_at_ms`.
    pub async fn retry_sync(
        &self,
        item: &SyncItem,
        error: &str,
        retry_at_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE sync_outbox SET attempts = attempts + 1, next_attempt_at_ms = $1, last_error = $2 \
                 WHERE id = $3 AND done_at_ms IS NULL AND next_attempt_at_ms = $4",
            )
            .bind(retry_at_ms)
            .bind(error)
            .bind(item.id)
            .bind(item.lease_until_ms)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The remote ticket `ticket_id` is linked to in `system`, with the fields last sent.
    pub async fn sync_link(
        &self,
        system: &str,
        ticket_id: i64,
    ) -> Result<Option<(SyncLink, String)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT remote_id, remote_url, pushed_json, closed_remotely, synced_at_ms FROM sync_links WHERE system = $1 AND ticket_id = $2",
            )
            .bind(system)
            .bind(ticket_id)
            .fetch_optional(pool)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some((
                    SyncLink {
                        system: system.to_owned(),
                        remote_id: row.try_get("remote_id")?,
                        remote_url: row.try_get("remote_url")?,
                        closed_remotely: row.try_get::<i64, _>("closed_remotely")? != 0,
                        synced_at_ms: row.try_get("synced_at_ms")?,
                        waiting: 0,
                        last_error: None,
                    },
                    row.try_get("pushed_json")?,
                ))),
            }
        })
    }

    /// Records the link once the remote ticket exists (created, or found by the Firstline
    /// id after a crash between creating and recording it), with a timeline entry.
    pub async fn record_sync_link(
        &self,
        system: &str,
        ticket_id: i64,
        (remote_id, remote_url): (&str, &str),
        pushed_json: &str,
        found: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let added = sqlx::query(
                "INSERT INTO sync_links (system, ticket_id, remote_id, remote_url, pushed_json, linked_at_ms, synced_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (system, ticket_id) DO NOTHING",
            )
            .bind(system)
            .bind(ticket_id)
            .bind(remote_id)
            .bind(remote_url)
            .bind(pushed_json)
            .bind(now_ms)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if added == 1 {
                let how = if found { "found again" } else { "opened" };
                sync_note!(transaction, ticket_id, now_ms,
                    format!("{system} ticket {remote_id} {how}: {remote_url}"));
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// The fields last sent, after an update went out.
    pub async fn record_sync_push(
        &self,
        system: &str,
        ticket_id: i64,
        pushed_json: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE sync_links SET pushed_json = $1, synced_at_ms = $2 WHERE system = $3 AND ticket_id = $4")
                .bind(pushed_json)
                .bind(now_ms)
                .bind(system)
                .bind(ticket_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The Firstline ticket linked to `remote_id` in `system`.
    pub async fn ticket_for_remote(
        &self,
        system: &str,
        remote_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT ticket_id FROM sync_links WHERE system = $1 AND remote_id = $2")
                .bind(system)
                .bind(remote_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The remote ids of `system`'s links whose ticket is open or changed since `since_ms`:
    /// the remote tickets back-sync reads.
    pub async fn linked_remote_ids(
        &self,
        system: &str,
        since_ms: i64,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT l.remote_id FROM sync_links l JOIN tickets t ON t.id = l.ticket_id \
                 WHERE l.system = $1 AND (t.state NOT IN ('closed', 'cancelled') OR t.updated_at_ms >= $2)",
            )
            .bind(system)
            .bind(since_ms)
            .fetch_all(pool)
            .await?
        });
        Ok(ids.into_iter().collect())
    }

    /// Drops `system`'s delivered entries and taken-in events older than `before_ms`.
    pub async fn prune_sync(&self, system: &str, before_ms: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sync_outbox WHERE system = $1 AND done_at_ms IS NOT NULL AND done_at_ms < $2")
                .bind(system)
                .bind(before_ms)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM sync_seen WHERE system = $1 AND at_ms < $2")
                .bind(system)
                .bind(before_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Takes in a comment a person wrote in `system` (once: `event` is its remote id).
    /// Returns whether it was new.
    pub async fn take_remote_comment(
        &self,
        system: &str,
        event: &str,
        ticket_id: i64,
        author: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let new = sqlx::query("INSERT INTO sync_seen (system, remote_event, at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(system)
                .bind(event)
                .bind(now_ms)
                .execute(&mut *transaction)
                .await?
                .rows_affected() == 1;
            if new {
                let actor = format!("{author} ({system})");
                sqlx::query("INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text) VALUES ($1, $2, $3, $4, $5)")
                    .bind(ticket_id)
                    .bind(now_ms)
                    .bind(NoteKind::Comment.as_str())
                    .bind(&actor)
                    .bind(text)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query("UPDATE tickets SET updated_at_ms = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(ticket_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
            Ok(new)
        })
    }

    /// Whether a remote event was taken in already.
    pub async fn remote_event_seen(&self, system: &str, event: &str) -> Result<bool, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT) FROM sync_seen WHERE system = $1 AND remote_event = $2")
                .bind(system)
                .bind(event)
                .fetch_optional(pool)
                .await?
        })
        .is_some())
    }

    /// Marks a remote event taken in.
    pub async fn mark_remote_event(
        &self,
        system: &str,
        event: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO sync_seen (system, remote_event, at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(system)
                .bind(event)
                .bind(now_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Whether a person closed the remote ticket (it then wins over auto-reopen, and
    /// Firstline's own resolve is not sent back).
    pub async fn set_closed_remotely(
        &self,
        system: &str,
        ticket_id: i64,
        closed: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE sync_links SET closed_remotely = $1, synced_at_ms = $2 WHERE system = $3 AND ticket_id = $4")
                .bind(i64::from(closed))
                .bind(now_ms)
                .bind(system)
                .bind(ticket_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Takes the back-sync turn for `system` until `lease_until_ms` if no other collector
    /// has it: its cursor if so.
    pub async fn take_sync_cursor(
        &self,
        system: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO sync_cursors (system, cursor, lease_until_ms) VALUES ($1, '', 0) ON CONFLICT (system) DO NOTHING")
                .bind(system)
                .execute(pool)
                .await?;
            let won = sqlx::query("UPDATE sync_cursors SET lease_until_ms = $1 WHERE system = $2 AND lease_until_ms <= $3")
                .bind(lease_until_ms)
                .bind(system)
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected();
            if won == 0 {
                return Ok(None);
            }
            Ok(Some(sqlx::query_scalar("SELECT cursor FROM sync_cursors WHERE system = $1")
                .bind(system)
                .fetch_one(pool)
                .await?))
        })
    }

    /// Saves the cursor and hands the turn back (`error`: what the poll ran into).
    pub async fn save_sync_cursor(
        &self,
        system: &str,
        cursor: &str,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE sync_cursors SET cursor = $1, lease_until_ms = 0, polled_at_ms = $2, last_error = $3 WHERE system = $4")
                .bind(cursor)
                .bind(now_ms)
                .bind(error)
                .bind(system)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Open tickets linked to `system` that changed since they were last sent, with no
    /// entry waiting: each gets an `update` entry (devices joining, priority, title).
    pub async fn queue_changed_links(&self, system: &str, now_ms: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO sync_outbox (system, ticket_id, op, created_at_ms, next_attempt_at_ms) \
                 SELECT l.system, l.ticket_id, 'update', $2, $2 FROM sync_links l JOIN tickets t ON t.id = l.ticket_id \
                 WHERE l.system = $1 AND l.closed_remotely = 0 AND t.updated_at_ms > l.synced_at_ms \
                 AND t.state IN ('new', 'assigned', 'in_progress', 'pending') \
                 AND NOT EXISTS (SELECT 1 FROM sync_outbox o WHERE o.system = l.system AND o.ticket_id = l.ticket_id AND o.done_at_ms IS NULL)",
            )
            .bind(system)
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// Each system's outbox: entries waiting and refused for good.
    pub async fn sync_backlog(&self) -> Result<Vec<SyncBacklog>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT system, CAST(SUM(CASE WHEN done_at_ms IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS waiting, CAST(SUM(failed) AS BIGINT) AS failed \
                 FROM sync_outbox GROUP BY system ORDER BY system",
            )
            .fetch_all(pool)
            .await?;
            let mut backlog = Vec::with_capacity(rows.len());
            for row in &rows {
                backlog.push(SyncBacklog {
                    system: row.try_get("system")?,
                    waiting: u64::try_from(row.try_get::<i64, _>("waiting")?).unwrap_or(0),
                    failed: u64::try_from(row.try_get::<i64, _>("failed")?).unwrap_or(0),
                });
            }
            Ok(backlog)
        })
    }

    /// A ticket's remote twins, with what is still waiting to go out: for its page and API.
    pub async fn ticket_sync(&self, ticket_id: i64) -> Result<Vec<SyncLink>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT s.system, l.remote_id, l.remote_url, l.closed_remotely, l.synced_at_ms, \
                 (SELECT COUNT(*) FROM sync_outbox o WHERE o.system = s.system AND o.ticket_id = $1 AND o.done_at_ms IS NULL) AS waiting, \
                 (SELECT o.last_error FROM sync_outbox o WHERE o.system = s.system AND o.ticket_id = $1 AND o.done_at_ms IS NULL ORDER BY o.id LIMIT 1) AS last_error \
                 FROM (SELECT system FROM sync_outbox WHERE ticket_id = $1 UNION SELECT system FROM sync_links WHERE ticket_id = $1) s \
                 LEFT JOIN sync_links l ON l.system = s.system AND l.ticket_id = $1 ORDER BY s.system",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await?;
            let mut links = Vec::with_capacity(rows.len());
            for row in &rows {
                links.push(SyncLink {
                    system: row.try_get("system")?,
                    remote_id: row.try_get::<Option<String>, _>("remote_id")?.unwrap_or_default(),
                    remote_url: row.try_get::<Option<String>, _>("remote_url")?.unwrap_or_default(),
                    closed_remotely: row.try_get::<Option<i64>, _>("closed_remotely")?.unwrap_or(0) != 0,
                    synced_at_ms: row.try_get::<Option<i64>, _>("synced_at_ms")?.unwrap_or(0),
                    waiting: u64::try_from(row.try_get::<i64, _>("waiting")?).unwrap_or(0),
                    last_error: row.try_get("last_error")?,
                });
            }
            Ok(links)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Severity};
    use crate::store::tests::{TestStore, backends};
    use crate::store::tickets::tests::{MINUTE, T0, enroll, store_one};

    fn disk(sequence: u64, severity: Severity) -> Finding {
        Finding {
            sequence,
            check: "disk.free_low".to_owned(),
            resource: "/".to_owned(),
            severity,
            summary: format!("disk {}", severity.as_str()),
            evidence_json: "{\"used_pct\":97}".to_owned(),
            observed_at_ms: T0,
        }
    }

    fn filter(system: &str, sites: &[&str]) -> SyncFilter {
        SyncFilter {
            system: system.to_owned(),
            sites: sites.iter().map(|s| (*s).to_owned()).collect(),
            ..SyncFilter::default()
        }
    }

    /// Each system takes what its filter takes, once per notification; one ticket's entries
    /// are claimed one at a time, in order, and a lease keeps a second claimer off.
    #[tokio::test]
    async fn the_outbox_keeps_order_per_ticket_and_filters_by_site() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            store_one(store, "a", disk(1, Severity::Warning), T0).await;
            store_one(store, "a", disk(2, Severity::Ok), T0 + MINUTE).await;
            let systems = [filter("here", &["hq"]), filter("elsewhere", &["warsaw"])];
            store
                .expand_notifications(&[], &systems, T0 + 2 * MINUTE, 100)
                .await
                .expect("expand");
            // Expanding again (a crash before the mark) adds nothing.
            with_pool!(store, pool => {
                sqlx::query("UPDATE notifications SET expanded_at_ms = NULL").execute(pool).await.expect("unmark");
            });
            store
                .expand_notifications(&[], &systems, T0 + 2 * MINUTE, 100)
                .await
                .expect("expand again");
            let backlog = store.sync_backlog().await.expect("backlog");
            assert_eq!(
                backlog,
                [SyncBacklog {
                    system: "here".to_owned(),
                    waiting: 2,
                    failed: 0
                }],
                "{backend}"
            );
            let now = T0 + 3 * MINUTE;
            let first = store
                .claim_sync("here", now, 60_000, 10)
                .await
                .expect("claim");
            assert_eq!(
                first.iter().map(|i| i.op.as_str()).collect::<Vec<_>>(),
                ["create"],
                "{backend}: only the head"
            );
            assert!(
                store
                    .claim_sync("here", now, 60_000, 10)
                    .await
                    .expect("claim")
                    .is_empty(),
                "{backend}: leased"
            );
            store
                .retry_sync(&first[0], "down", now + 1_000)
                .await
                .expect("retry");
            assert!(
                store
                    .claim_sync("here", now + 500, 60_000, 10)
                    .await
                    .expect("claim")
                    .is_empty(),
                "{backend}: backing off"
            );
            let again = store
                .claim_sync("here", now + 1_000, 60_000, 10)
                .await
                .expect("claim");
            assert_eq!(again.len(), 1, "{backend}");
            assert_eq!(again[0].attempts, 1, "{backend}");
            assert!(
                store
                    .finish_sync(&again[0], None, now + 1_100)
                    .await
                    .expect("finish"),
                "{backend}"
            );
            // A stale claim (the first, whose lease was replaced) records nothing.
            assert!(
                !store
                    .finish_sync(&first[0], None, now + 1_200)
                    .await
                    .expect("stale"),
                "{backend}"
            );
            let next = store
                .claim_sync("here", now + 1_300, 60_000, 10)
                .await
                .expect("claim");
            assert_eq!(
                next.iter().map(|i| i.op.as_str()).collect::<Vec<_>>(),
                ["resolve"],
                "{backend}"
            );
            assert!(
                next[0].text.as_deref().is_some_and(|t| t.contains("disk")),
                "{backend}: {:?}",
                next[0].text
            );
            store
                .finish_sync(&next[0], Some("HTTP 422: no"), now + 1_400)
                .await
                .expect("refuse");
            assert_eq!(
                store.sync_backlog().await.expect("backlog"),
                [SyncBacklog {
                    system: "here".to_owned(),
                    waiting: 0,
                    failed: 1
                }],
                "{backend}"
            );
            let detail = store
                .ticket_detail(next[0].ticket_id)
                .await
                .expect("detail")
                .expect("ticket");
            assert!(
                detail
                    .timeline
                    .iter()
                    .any(|e| e.kind == "sync" && e.text.contains("HTTP 422")),
                "{backend}: {:#?}",
                detail.timeline
            );
        }
    }
}
