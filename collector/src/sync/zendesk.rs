//! Zendesk Support, through its REST API v2 (developer.zendesk.com, "Support API": Tickets,
//! Ticket Audits, Incremental Exports, Users).
//!
//! - The Firstline id travels as the ticket's `external_id`; an earlier create is found with
//!   `GET /api/v2/tickets.json?external_id=…`, and the create itself carries an
//!   `Idempotency-Key` (the Firstline id), so Zendesk answers a retried create with the
//!   ticket it already made.
//! - Everything else is a ticket update (`PUT /api/v2/tickets/{id}.json`): fields, a comment
//!   (`public` true for replies, false for notes), `status` solved or open.
//! - Back-sync: the time-based incremental ticket export from the cursor (Unix seconds, its
//!   `end_time` the next cursor), then each changed Firstline ticket's audits: comments and
//!   status changes with their authors, the connector's own account left out.
//!
//! Sign-in: `username` (the agent's email) with `token` (an API token), or an OAuth `token`
//! alone (`Authorization: Bearer`).

use super::http::Call;
use super::{Change, ChangeKind, Common, Connector, Credentials, Outgoing, Remote, SyncError};

const CLOSED: [&str; 2] = ["solved", "closed"];

#[derive(Debug, Clone)]
pub struct Zendesk {
    common: Common,
    /// The connector's own user id, once asked.
    me: std::sync::Arc<tokio::sync::OnceCell<i64>>,
}

impl Zendesk {
    pub fn new(common: Common) -> Self {
        Zendesk {
            common,
            me: Default::default(),
        }
    }

    pub fn common(&self) -> &Common {
        &self.common
    }

    /// Zendesk's priorities: urgent, high, normal, low.
    pub fn default_priority(&self) -> fn(u8) -> String {
        |priority| {
            match priority {
                1 => "urgent",
                2 => "high",
                3 => "normal",
                _ => "low",
            }
            .to_owned()
        }
    }

    fn call<'a>(&self, method: http::Method, path: &str, what: &'a str) -> Call<'a> {
        let authorization = match &self.common.credentials {
            Credentials::UserToken { user, token } => {
                Credentials::basic(&format!("{user}/token"), token)
            }
            Credentials::Basic { user, password } => Credentials::basic(user, password),
            Credentials::Token(token) => format!("Bearer {token}"),
        };
        Call::new(method, format!("{}/api/v2/{path}", self.common.url), what)
            .header("Authorization", authorization)
    }

    async fn put(
        &self,
        remote: &str,
        ticket: serde_json::Value,
        what: &str,
    ) -> Result<(), SyncError> {
        self.call(http::Method::PUT, &format!("tickets/{remote}.json"), what)
            .json(serde_json::json!({ "ticket": ticket }))
            .send()
            .await?;
        Ok(())
    }

    fn remote(&self, ticket: &serde_json::Value) -> Option<Remote> {
        let id = ticket["id"].as_i64()?.to_string();
        Some(Remote {
            url: format!("{}/agent/tickets/{id}", self.common.url),
            id,
        })
    }

    /// A person's name for the timeline ("user 42" when Zendesk does not say).
    async fn user_name(&self, id: i64) -> String {
        let what = "reading a Zendesk user";
        let answer = match self
            .call(http::Method::GET, &format!("users/{id}.json"), what)
            .send()
            .await
        {
            Ok(reply) => reply.json(what).ok(),
            Err(_) => None,
        };
        answer
            .and_then(|a| a["user"]["name"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("user {id}"))
    }

    async fn me(&self) -> Result<i64, SyncError> {
        self.me
            .get_or_try_init(|| async {
                let what = "asking Zendesk who the connector is";
                let answer = self
                    .call(http::Method::GET, "users/me.json", what)
                    .send()
                    .await?
                    .json(what)?;
                answer["user"]["id"]
                    .as_i64()
                    .ok_or_else(|| SyncError::Permanent(format!("{what}: no user id in {answer}")))
            })
            .await
            .copied()
    }
}

impl Connector for Zendesk {
    async fn find(&self, ticket: &Outgoing) -> Result<Option<Remote>, SyncError> {
        let what = "looking for an earlier Zendesk ticket";
        let answer = self
            .call(
                http::Method::GET,
                &format!(
                    "tickets.json?external_id={}",
                    crate::net::url_encode(&ticket.key)
                ),
                what,
            )
            .send()
            .await?
            .json(what)?;
        Ok(answer["tickets"].get(0).and_then(|t| self.remote(t)))
    }

    async fn create(&self, ticket: &Outgoing) -> Result<Remote, SyncError> {
        let what = "creating the Zendesk ticket";
        let answer = self
            .call(http::Method::POST, "tickets.json", what)
            .header("Idempotency-Key", ticket.key.clone())
            .json(serde_json::json!({ "ticket": {
                "subject": ticket.title,
                "comment": { "body": ticket.description, "public": false },
                "priority": ticket.priority,
                "external_id": ticket.key,
                "tags": ["firstline"],
            }}))
            .send()
            .await?
            .json(what)?;
        self.remote(&answer["ticket"])
            .ok_or_else(|| SyncError::Permanent(format!("{what}: no ticket id in {answer}")))
    }

    async fn update(&self, remote: &str, ticket: &Outgoing, note: &str) -> Result<(), SyncError> {
        self.put(
            remote,
            serde_json::json!({
                "subject": ticket.title,
                "priority": ticket.priority,
                "comment": { "body": super::or_dash(note), "public": false },
            }),
            "updating the Zendesk ticket",
        )
        .await
    }

    async fn comment(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.put(
            remote,
            serde_json::json!({ "comment": { "body": super::or_dash(text), "public": true } }),
            "replying in Zendesk",
        )
        .await
    }

    async fn note(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.put(
            remote,
            serde_json::json!({ "comment": { "body": super::or_dash(text), "public": false } }),
            "commenting in Zendesk",
        )
        .await
    }

    async fn resolve(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let status = self.common.resolved_status.as_deref().unwrap_or("solved");
        self.put(
            remote,
            serde_json::json!({ "status": status, "comment": { "body": super::or_dash(text), "public": false } }),
            "solving the Zendesk ticket",
        )
        .await
    }

    async fn reopen(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let status = self.common.open_status.as_deref().unwrap_or("open");
        self.put(
            remote,
            serde_json::json!({ "status": status, "comment": { "body": super::or_dash(text), "public": false } }),
            "reopening the Zendesk ticket",
        )
        .await
    }

    async fn changes(
        &self,
        cursor: &str,
        ours: &std::collections::HashSet<String>,
    ) -> Result<(Vec<Change>, String), SyncError> {
        let now = crate::model::now_ms() / 1000;
        let Ok(start) = cursor.parse::<i64>() else {
            return Ok((Vec::new(), now.to_string()));
        };
        let me = self.me().await?;
        let what = "reading Zendesk's changed tickets";
        let answer = self
            .call(
                http::Method::GET,
                &format!("incremental/tickets.json?start_time={start}"),
                what,
            )
            .send()
            .await?
            .json(what)?;
        // A clock ahead of ours must not move the cursor past now.
        let next = answer["end_time"]
            .as_i64()
            .unwrap_or(start)
            .clamp(start, now.max(start));
        let mut changes = Vec::new();
        let empty = Vec::new();
        for ticket in answer["tickets"].as_array().unwrap_or(&empty) {
            let Some(remote) = ticket["id"]
                .as_i64()
                .map(|id| id.to_string())
                .filter(|id| ours.contains(id))
            else {
                continue;
            };
            let what = "reading a Zendesk ticket's audits";
            let audits = match self
                .call(
                    http::Method::GET,
                    &format!("tickets/{remote}/audits.json"),
                    what,
                )
                .send()
                .await
            {
                Ok(reply) => reply.json(what)?,
                // Deleted or merged away there: nothing more comes from it.
                Err(SyncError::Permanent(_)) => continue,
                Err(e) => return Err(e),
            };
            for audit in audits["audits"].as_array().unwrap_or(&empty) {
                let author = audit["author_id"].as_i64().unwrap_or_default();
                // The connector itself, or Zendesk's own automations (-1).
                if author == me || author <= 0 {
                    continue;
                }
                for event in audit["events"].as_array().unwrap_or(&empty) {
                    let Some(id) = event["id"].as_i64() else {
                        continue;
                    };
                    let what = match (event["type"].as_str(), event["field_name"].as_str()) {
                        (Some("Comment"), _) => match event["body"].as_str() {
                            Some(body) if !body.trim().is_empty() => {
                                ChangeKind::Comment(body.trim().to_owned())
                            }
                            _ => continue,
                        },
                        (Some("Change"), Some("status")) => {
                            let value = event["value"].as_str().unwrap_or_default();
                            let before = event["previous_value"].as_str().unwrap_or_default();
                            if CLOSED.contains(&value) {
                                ChangeKind::Closed(value.to_owned())
                            } else if CLOSED.contains(&before) {
                                ChangeKind::Reopened(value.to_owned())
                            } else {
                                continue;
                            }
                        }
                        _ => continue,
                    };
                    changes.push(Change {
                        event: format!("audit-event/{id}"),
                        remote_id: remote.clone(),
                        author: self.user_name(author).await,
                        what,
                    });
                }
            }
        }
        Ok((changes, next.to_string()))
    }
}
