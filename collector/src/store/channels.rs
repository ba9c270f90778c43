//! Notification channels in the store: notifications become one delivery per channel that
//! wants them (by priority and event), deliveries are claimed when due, and their outcome is
//! recorded (and noted on the ticket). Claims are optimistic updates, so several collectors
//! may dispatch from one database without sending a delivery twice at once.

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::tickets::NoteKind;

/// What a channel wants to hear about.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub channel: String,
    /// Priorities 1..=5 it takes.
    pub priorities: Vec<u8>,
    /// Events it takes ("opened", "updated", "resolved", "reopened", "replied").
    pub events: Vec<String>,
    /// Mails the ticket's requester (from the contact directory) instead of fixed
    /// recipients: tickets without one, or whose requester has no address, are skipped.
    pub to_requester: bool,
}

/// A delivery to make now.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Also the idempotency key receivers de-duplicate on.
    pub id: String,
    pub channel: String,
    pub ticket_id: i64,
    pub event: String,
    pub payload_json: String,
    pub attempts: u32,
    /// The claim: recorded only while the delivery is still this claim's.
    pub lease_until_ms: i64,
}

impl Store {
    /// Expands up to `limit` new notifications into deliveries for the channels that want
    /// them, marking each expanded only once its deliveries are stored (inserting them again
    /// is harmless: one delivery per channel and notification). Returns how many were expanded.
    pub async fn expand_notifications(
        &self,
        routes: &[Route],
        systems: &[super::sync::SyncFilter],
        now_ms: i64,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let pending: Vec<(i64, i64, String)> = with_pool!(self, pool => {
            let rows = sqlx::query("SELECT id, ticket_id, event FROM notifications WHERE expanded_at_ms IS NULL ORDER BY id LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            let mut pending = Vec::with_capacity(rows.len());
            for row in &rows {
                pending.push((row.try_get("id")?, row.try_get("ticket_id")?, row.try_get("event")?));
            }
            pending
        });
        if routes.is_empty() && systems.is_empty() {
            // No channel or ticket system wants anything: one statement marks the lot, instead of a write
            // (and, on SQLite, a turn at the write lock) per notification.
            if let Some(last) = pending.last() {
                with_pool!(self, pool => {
                    sqlx::query("UPDATE notifications SET expanded_at_ms = $1 WHERE expanded_at_ms IS NULL AND id <= $2")
                        .bind(now_ms)
                        .bind(last.0)
                        .execute(pool)
                        .await?;
                });
            }
            return Ok(u32::try_from(pending.len()).unwrap_or(u32::MAX));
        }
        for (notification, ticket_id, event) in &pending {
            let detail = self.ticket_detail_with(*ticket_id, false).await?;
            if let Some(detail) = detail {
                self.queue_for_systems(systems, &detail, *notification, event, now_ms)
                    .await?;
                let ticket = &detail.ticket;
                for route in routes {
                    if !route.priorities.contains(&ticket.priority.number())
                        || !route.events.iter().any(|e| e == event)
                    {
                        continue;
                    }
                    let id = uuid::Uuid::new_v4().to_string();
                    let mut payload = serde_json::json!({
                        "event": event,
                        "idempotency_key": id,
                        "ticket": ticket,
                        "devices": detail.devices,
                        "suggested_fixes": detail.suggested_fixes,
                    });
                    if route.to_requester {
                        let Some(account) = &ticket.requester else {
                            continue;
                        };
                        let people = self.people_named(std::slice::from_ref(account)).await?;
                        let Some(person) = people.get(account).filter(|p| p.email.is_some()) else {
                            continue;
                        };
                        payload["requester"] = serde_json::json!({
                            "account": account,
                            "display_name": person.display_name,
                            "email": person.email,
                            "language": person.language,
                        });
                        // The reply this notification is about: the newest one.
                        if let Some(reply) = detail
                            .timeline
                            .iter()
                            .rev()
                            .find(|entry| entry.kind == "reply")
                        {
                            payload["reply"] = serde_json::json!(reply.text);
                        }
                    }
                    with_pool!(self, pool => {
                        sqlx::query(
                            "INSERT INTO deliveries (id, channel, notification_id, ticket_id, event, payload_json, state, next_attempt_at_ms) \
                             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) ON CONFLICT (channel, notification_id) DO NOTHING",
                        )
                        .bind(&id)
                        .bind(&route.channel)
                        .bind(notification)
                        .bind(ticket_id)
                        .bind(event)
                        .bind(payload.to_string())
                        .bind(now_ms)
                        .execute(pool)
                        .await?;
                    });
                }
            }
            with_pool!(self, pool => {
                sqlx::query("UPDATE notifications SET expanded_at_ms = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(notification)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(u32::try_from(pending.len()).unwrap_or(u32::MAX))
    }

    /// Claims up to `limit` deliveries that are due, pushing their next attempt `lease_ms`
    /// away so no one else sends them meanwhile.
    pub async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut claimed = Vec::new();
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, channel, ticket_id, event, payload_json, attempts, next_attempt_at_ms FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at_ms <= $1 ORDER BY next_attempt_at_ms LIMIT $2",
            )
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let id: String = row.try_get("id")?;
                let due: i64 = row.try_get("next_attempt_at_ms")?;
                let won = sqlx::query(
                    "UPDATE deliveries SET next_attempt_at_ms = $1 WHERE id = $2 AND state = 'pending' AND next_attempt_at_ms = $3",
                )
                .bind(now_ms + lease_ms)
                .bind(&id)
                .bind(due)
                .execute(pool)
                .await?
                .rows_affected();
                if won == 1 {
                    claimed.push(Delivery {
                        id,
                        channel: row.try_get("channel")?,
                        ticket_id: row.try_get("ticket_id")?,
                        event: row.try_get("event")?,
                        payload_json: row.try_get("payload_json")?,
                        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                        lease_until_ms: now_ms + lease_ms,
                    });
                }
            }
        });
        Ok(claimed)
    }

    /// Records an attempt: delivered, failed with a retry at `retry_at_ms`, or (no retry)
    /// given up. The ticket's timeline says what happened.
    pub async fn record_delivery(
        &self,
        delivery: &Delivery,
        outcome: Result<(), &str>,
        retry_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let note = match (outcome, retry_at_ms) {
                (Ok(()), _) => {
                    let recorded = sqlx::query("UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at_ms = $1, last_error = NULL WHERE id = $2 AND state = 'pending' AND next_attempt_at_ms = $3")
                        .bind(now_ms)
                        .bind(&delivery.id)
                        .bind(delivery.lease_until_ms)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected();
                    // A claim that ran out was someone else's to record.
                    (recorded == 1).then(|| format!("Sent to {} ({})", delivery.channel, delivery.event))
                }
                (Err(error), Some(retry_at)) => {
                    sqlx::query("UPDATE deliveries SET attempts = attempts + 1, next_attempt_at_ms = $1, last_error = $2 WHERE id = $3 AND state = 'pending' AND next_attempt_at_ms = $4")
                        .bind(retry_at)
                        .bind(error)
                        .bind(&delivery.id)
                        .bind(delivery.lease_until_ms)
                        .execute(&mut *transaction)
                        .await?;
                    None
                }
                (Err(error), None) => {
                    let recorded = sqlx::query("UPDATE deliveries SET state = 'failed', attempts = attempts + 1, last_error = $1 WHERE id = $2 AND state = 'pending' AND next_attempt_at_ms = $3")
                        .bind(error)
                        .bind(&delivery.id)
                        .bind(delivery.lease_until_ms)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected();
                    (recorded == 1).then(|| {
                        format!(
                            "Could not notify {} ({}) after {} attempts: {error}",
                            delivery.channel,
                            delivery.event,
                            delivery.attempts + 1
                        )
                    })
                }
            };
            if let Some(text) = note {
                sqlx::query("INSERT INTO ticket_events (ticket_id, at_ms, kind, text) VALUES ($1, $2, $3, $4)")
                    .bind(delivery.ticket_id)
                    .bind(now_ms)
                    .bind(NoteKind::Notification.as_str())
                    .bind(&text)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Deliveries not yet delivered, per channel: the channel backlog.
    pub async fn delivery_backlog(&self) -> Result<Vec<(String, u64)>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT channel, COUNT(*) AS pending FROM deliveries WHERE state = 'pending' GROUP BY channel ORDER BY channel")
                .fetch_all(pool)
                .await?;
            let mut backlog = Vec::with_capacity(rows.len());
            for row in &rows {
                backlog.push((row.try_get("channel")?, u64::try_from(row.try_get::<i64, _>("pending")?).unwrap_or(0)));
            }
            Ok(backlog)
        })
    }
}
