//! Technician-triggered reproduction in the store: a request waits for its device (queued),
//! is sent down the device's stream (sent), and its result lands on the ticket's timeline
//! (done or failed); a request nobody answers in time expires, and says so on the ticket.

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::tickets::NoteKind;

/// The playbooks agents know (the agent's `playbooks::Playbook` names: a wire contract).
pub const PLAYBOOKS: [&str; 9] = [
    "web", "network", "slow", "disk", "crash", "printing", "email", "clock", "health",
];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReproduceRequest {
    pub id: String,
    pub ticket_id: Option<i64>,
    pub device_id: String,
    pub playbook: String,
    pub target: Option<String>,
    /// queued (waiting for the device), sent, done, failed or expired.
    pub state: String,
    pub requested_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub sent_at_ms: Option<i64>,
    pub done_at_ms: Option<i64>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    /// What else the playbook is given (a report from the help page: the words, the account
    /// and the language), as a JSON object of strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    #[error("no such ticket")]
    NoTicket,
    #[error("no such device")]
    NoDevice,
    #[error("ticket {0} is about many devices; name the one to run it on in \"device\"")]
    NotOneDevice(i64),
    #[error("device {device_id:?} is not one of ticket {ticket_id}'s devices")]
    NotOnTicket { ticket_id: i64, device_id: String },
    #[error(
        "{0:?} is not a playbook (web, network, slow, disk, crash, printing, email, clock, health)"
    )]
    UnknownPlaybook(String),
    #[error(
        "device {device_id} already has {waiting} reproduce requests waiting (at most {MAX_WAITING_PER_DEVICE}); wait for their results or for them to expire"
    )]
    TooMany { device_id: String, waiting: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ReproduceError {
    fn from(error: sqlx::Error) -> Self {
        ReproduceError::Store(StoreError::Database(error))
    }
}

/// What a new request asks for.
#[derive(Debug, Clone)]
pub struct NewReproduce<'a> {
    pub ticket_id: Option<i64>,
    pub device_id: Option<&'a str>,
    pub playbook: &'a str,
    pub target: Option<&'a str>,
    pub requested_by: &'a str,
    pub ttl_ms: i64,
}

macro_rules! request_from_row {
    ($row:expr) => {{
        let row = $row;
        let result: Option<String> = row.try_get("result_json")?;
        ReproduceRequest {
            id: row.try_get("id")?,
            ticket_id: row.try_get("ticket_id")?,
            device_id: row.try_get("device_id")?,
            playbook: row.try_get("playbook")?,
            target: row.try_get("target")?,
            state: row.try_get("state")?,
            requested_by: row.try_get("requested_by")?,
            created_at_ms: row.try_get("created_at_ms")?,
            expires_at_ms: row.try_get("expires_at_ms")?,
            sent_at_ms: row.try_get("sent_at_ms")?,
            done_at_ms: row.try_get("done_at_ms")?,
            result: result.and_then(|json| serde_json::from_str(&json).ok()),
            error: row.try_get("error")?,
            parameters: row
                .try_get::<Option<String>, _>("parameters_json")?
                .and_then(|json| serde_json::from_str(&json).ok()),
        }
    }};
}

/// Adds a timeline entry inside the caller's transaction (a macro: the transaction's type
/// differs per backend).
macro_rules! note {
    ($transaction:expr, $ticket_id:expr, $at_ms:expr, $kind:expr, $actor:expr, $text:expr, $data_json:expr) => {{
        sqlx::query("INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text, data_json) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind($ticket_id)
            .bind($at_ms)
            .bind(($kind as NoteKind).as_str())
            .bind($actor)
            .bind($text)
            .bind($data_json)
            .execute(&mut **$transaction)
            .await?;
        sqlx::query("UPDATE tickets SET updated_at_ms = $1 WHERE id = $2")
            .bind($at_ms)
            .bind($ticket_id)
            .execute(&mut **$transaction)
            .await?;
    }};
}

/// Reproduce requests one device may have waiting (queued or sent, unanswered): enough for a
/// technician trying a few things, not enough for a script to bury the device's real ones.
pub const MAX_WAITING_PER_DEVICE: i64 = 5;

impl Store {
    /// Queues a reproduction on the ticket's device (or the device given) and notes it on the
    /// ticket. The caller nudges the device's session.
    pub async fn request_reproduce(
        &self,
        request: &NewReproduce<'_>,
        now_ms: i64,
    ) -> Result<ReproduceRequest, ReproduceError> {
        if !PLAYBOOKS.contains(&request.playbook) {
            return Err(ReproduceError::UnknownPlaybook(request.playbook.to_owned()));
        }
        self.queue_reproduce(request, None, now_ms).await
    }

    /// Queues a request without checking its playbook against the technicians' list: for
    /// the collector's own requests (a report from the help page).
    pub(crate) async fn queue_reproduce(
        &self,
        request: &NewReproduce<'_>,
        parameters_json: Option<&str>,
        now_ms: i64,
    ) -> Result<ReproduceRequest, ReproduceError> {
        let id = uuid::Uuid::new_v4().to_string();
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let device_id: String = match (request.ticket_id, request.device_id) {
                (Some(ticket_id), _) => {
                    let row = sqlx::query("SELECT device_id FROM tickets WHERE id = $1")
                        .bind(ticket_id)
                        .fetch_optional(&mut *transaction)
                        .await?;
                    let Some(row) = row else {
                        transaction.rollback().await?;
                        return Err(ReproduceError::NoTicket);
                    };
                    match (row.try_get::<Option<String>, _>("device_id")?, request.device_id) {
                        (Some(own), Some(asked)) if own != asked => {
                            transaction.rollback().await?;
                            return Err(ReproduceError::NotOnTicket { ticket_id, device_id: asked.to_owned() });
                        }
                        (Some(own), _) => own,
                        // An incident: one of its devices, chosen.
                        (None, Some(asked)) => {
                            let listed = sqlx::query("SELECT device_id FROM ticket_devices WHERE ticket_id = $1 AND device_id = $2")
                                .bind(ticket_id)
                                .bind(asked)
                                .fetch_optional(&mut *transaction)
                                .await?;
                            if listed.is_none() {
                                transaction.rollback().await?;
                                return Err(ReproduceError::NotOnTicket { ticket_id, device_id: asked.to_owned() });
                            }
                            asked.to_owned()
                        }
                        (None, None) => {
                            transaction.rollback().await?;
                            return Err(ReproduceError::NotOneDevice(ticket_id));
                        }
                    }
                }
                (None, Some(device)) => device.to_owned(),
                (None, None) => return Err(ReproduceError::NoDevice),
            };
            let known = sqlx::query("SELECT id FROM devices WHERE id = $1")
                .bind(&device_id)
                .fetch_optional(&mut *transaction)
                .await?;
            if known.is_none() {
                transaction.rollback().await?;
                return Err(ReproduceError::NoDevice);
            }
            let waiting: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM reproduce_requests WHERE device_id = $1 \
                 AND state IN ('queued', 'sent') AND expires_at_ms > $2",
            )
            .bind(&device_id)
            .bind(now_ms)
            .fetch_one(&mut *transaction)
            .await?
            .try_get("n")?;
            if waiting >= MAX_WAITING_PER_DEVICE {
                transaction.rollback().await?;
                return Err(ReproduceError::TooMany { device_id, waiting });
            }
            sqlx::query(
                "INSERT INTO reproduce_requests (id, ticket_id, device_id, playbook, target, state, requested_by, \
                 created_at_ms, expires_at_ms, parameters_json) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(request.ticket_id)
            .bind(&device_id)
            .bind(request.playbook)
            .bind(request.target)
            .bind(request.requested_by)
            .bind(now_ms)
            .bind(now_ms.saturating_add(request.ttl_ms))
            .bind(parameters_json)
            .execute(&mut *transaction)
            .await?;
            if let Some(ticket_id) = request.ticket_id {
                let target = request.target.map(|t| format!(" on {t}")).unwrap_or_default();
                let text = format!(
                    "Reproduce requested by {}: playbook {}{target}; waiting for the device",
                    request.requested_by, request.playbook
                );
                note!(&mut transaction, ticket_id, now_ms, NoteKind::Reproduce, Some(request.requested_by), &text, None::<&str>);
            }
            transaction.commit().await?;
        });
        self.reproduce_request(&id)
            .await?
            .ok_or(ReproduceError::NoDevice)
    }

    pub async fn reproduce_request(
        &self,
        id: &str,
    ) -> Result<Option<ReproduceRequest>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT * FROM reproduce_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok(match row {
                Some(row) => Some(request_from_row!(&row)),
                None => None,
            })
        })
    }

    /// Requests for `device_id` still to deliver: queued ones, and with `resend` also those
    /// sent on an earlier stream that never answered. Marks them sent.
    pub async fn take_reproduce(
        &self,
        device_id: &str,
        resend: bool,
        now_ms: i64,
    ) -> Result<Vec<ReproduceRequest>, StoreError> {
        let states = if resend {
            "('queued', 'sent')"
        } else {
            "('queued')"
        };
        let select = format!(
            "SELECT * FROM reproduce_requests WHERE device_id = $1 AND state IN {states} \
             AND expires_at_ms > $2 ORDER BY created_at_ms LIMIT 50"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(device_id)
                .bind(now_ms)
                .fetch_all(pool)
                .await?;
            let mut requests = Vec::with_capacity(rows.len());
            for row in &rows {
                requests.push(request_from_row!(row));
            }
            for request in &requests {
                sqlx::query("UPDATE reproduce_requests SET state = 'sent', sent_at_ms = $1 WHERE id = $2 AND state IN ('queued', 'sent')")
                    .bind(now_ms)
                    .bind(&request.id)
                    .execute(pool)
                    .await?;
            }
            Ok(requests)
        })
    }

    /// Records what `device_id` answered to `request_id`. Only the device a request was for
    /// may answer it; an answer to an unknown, finished or expired request is ignored
    /// (returns false).
    pub async fn complete_reproduce(
        &self,
        device_id: &str,
        request_id: &str,
        result_json: Option<&str>,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let row = sqlx::query(
                "SELECT ticket_id, playbook, state FROM reproduce_requests WHERE id = $1 AND device_id = $2",
            )
            .bind(request_id)
            .bind(device_id)
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(row) = row else {
                transaction.rollback().await?;
                return Ok(false);
            };
            let state: String = row.try_get("state")?;
            if !matches!(state.as_str(), "queued" | "sent") {
                transaction.rollback().await?;
                return Ok(false);
            }
            let ticket_id: Option<i64> = row.try_get("ticket_id")?;
            let playbook: String = row.try_get("playbook")?;
            let new_state = if error.is_some() { "failed" } else { "done" };
            sqlx::query(
                "UPDATE reproduce_requests SET state = $1, done_at_ms = $2, result_json = $3, error = $4 WHERE id = $5",
            )
            .bind(new_state)
            .bind(now_ms)
            .bind(result_json)
            .bind(error)
            .bind(request_id)
            .execute(&mut *transaction)
            .await?;
            if let Some(ticket_id) = ticket_id {
                let text = match (error, result_json) {
                    (Some(error), _) => format!("Reproduce ({playbook}) could not run on the device: {error}"),
                    (None, Some(json)) => {
                        let result: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
                        let layer = result["failed_layer"].as_str().map(|l| format!("first failing layer {l}: ")).unwrap_or_default();
                        format!(
                            "Reproduced on the device ({playbook}): {layer}{}",
                            result["conclusion"].as_str().unwrap_or("no conclusion")
                        )
                    }
                    (None, None) => format!("Reproduce ({playbook}) returned nothing"),
                };
                note!(&mut transaction, ticket_id, now_ms, NoteKind::Reproduce, None::<&str>, &text, result_json);
            }
            transaction.commit().await?;
        });
        Ok(true)
    }

    /// Requests past their expiry become expired, with a note on their ticket. Returns how
    /// many.
    pub async fn expire_reproduce(&self, now_ms: i64) -> Result<u32, StoreError> {
        let begin = self.backend.begin_statement();
        let mut expired = 0;
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let rows = sqlx::query(
                "UPDATE reproduce_requests SET state = 'expired', done_at_ms = $1 \
                 WHERE state IN ('queued', 'sent') AND expires_at_ms <= $1 \
                 RETURNING ticket_id, playbook, state, sent_at_ms",
            )
            .bind(now_ms)
            .fetch_all(&mut *transaction)
            .await?;
            for row in &rows {
                expired += 1;
                let ticket_id: Option<i64> = row.try_get("ticket_id")?;
                let playbook: String = row.try_get("playbook")?;
                let sent_at: Option<i64> = row.try_get("sent_at_ms")?;
                if let Some(ticket_id) = ticket_id {
                    let why = if sent_at.is_some() {
                        "the device received it but did not answer in time"
                    } else {
                        "the device did not connect in time (offline)"
                    };
                    let text = format!("Reproduce ({playbook}) expired: {why}");
                    note!(&mut transaction, ticket_id, now_ms, NoteKind::Reproduce, None::<&str>, &text, None::<&str>);
                }
            }
            transaction.commit().await?;
        });
        Ok(expired)
    }
}
