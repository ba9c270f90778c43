//! Freshservice, through its API v2 (api.freshservice.com: Tickets — create, update, filter,
//! list with `updated_since`, reply, notes, conversations, activities — and Agents: me).
//!
//! - The Firstline id travels in a ticket custom field (`id_field`, default `firstline_id`,
//!   which the Freshservice admin adds as a single-line text field); an earlier create is
//!   found with the filter query `"firstline_id:'firstline-12'"`.
//! - Priorities are 1 (low) to 4 (urgent); status 2 open, 4 resolved, 5 closed.
//! - Replies go through `reply`, notes are private `notes`.
//! - Back-sync: tickets updated since the cursor, each one's conversations (the connector's
//!   own left out) and activities: a status set to Resolved or Closed by someone else closes.
//!
//! Sign-in: the API key as `token` (sent as the Basic user name with "X" as the password).

use super::http::Call;
use super::{Change, ChangeKind, Common, Connector, Credentials, Outgoing, Remote, SyncError};

/// Tickets one list reads.
const PAGE: usize = 100;

#[derive(Debug, Clone)]
pub struct Freshservice {
    common: Common,
    requester_email: String,
    id_field: String,
    me: std::sync::Arc<tokio::sync::OnceCell<i64>>,
}

/// Text as HTML: escaped, a line break per line.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>")
}

impl Freshservice {
    pub fn new(common: Common, requester_email: String, id_field: String) -> Self {
        Freshservice {
            common,
            requester_email,
            id_field,
            me: Default::default(),
        }
    }

    pub fn common(&self) -> &Common {
        &self.common
    }

    /// 4 urgent, 3 high, 2 medium, 1 low.
    pub fn default_priority(&self) -> fn(u8) -> String {
        |priority| {
            match priority {
                1 => "4",
                2 => "3",
                3 => "2",
                _ => "1",
            }
            .to_owned()
        }
    }

    fn call<'a>(&self, method: http::Method, path: &str, what: &'a str) -> Call<'a> {
        let authorization = match &self.common.credentials {
            Credentials::Token(key) | Credentials::UserToken { token: key, .. } => {
                Credentials::basic(key, "X")
            }
            Credentials::Basic { user, password } => Credentials::basic(user, password),
        };
        Call::new(method, format!("{}/api/v2/{path}", self.common.url), what)
            .header("Authorization", authorization)
    }

    fn remote(&self, ticket: &serde_json::Value) -> Option<Remote> {
        let id = ticket["id"].as_i64()?.to_string();
        Some(Remote {
            url: format!("{}/a/tickets/{id}", self.common.url),
            id,
        })
    }

    fn priority(value: &str) -> i64 {
        value.parse().unwrap_or(2)
    }

    async fn put(
        &self,
        remote: &str,
        body: serde_json::Value,
        what: &str,
    ) -> Result<(), SyncError> {
        self.call(http::Method::PUT, &format!("tickets/{remote}"), what)
            .json(body)
            .send()
            .await?;
        Ok(())
    }

    /// An agent's name for the timeline ("agent 42" when Freshservice does not say).
    async fn agent_name(&self, id: i64) -> String {
        let what = "reading a Freshservice agent";
        let answer = match self
            .call(http::Method::GET, &format!("agents/{id}"), what)
            .send()
            .await
        {
            Ok(reply) => reply.json(what).ok(),
            Err(_) => None,
        };
        answer
            .map(|a| {
                format!(
                    "{} {}",
                    a["agent"]["first_name"].as_str().unwrap_or_default(),
                    a["agent"]["last_name"].as_str().unwrap_or_default()
                )
                .trim()
                .to_owned()
            })
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| format!("agent {id}"))
    }

    async fn me(&self) -> Result<i64, SyncError> {
        self.me
            .get_or_try_init(|| async {
                let what = "asking Freshservice who the connector is";
                let answer = self
                    .call(http::Method::GET, "agents/me", what)
                    .send()
                    .await?
                    .json(what)?;
                answer["agent"]["id"]
                    .as_i64()
                    .ok_or_else(|| SyncError::Permanent(format!("{what}: no agent id in {answer}")))
            })
            .await
            .copied()
    }
}

impl Connector for Freshservice {
    async fn find(&self, ticket: &Outgoing) -> Result<Option<Remote>, SyncError> {
        let what = "looking for an earlier Freshservice ticket";
        let query = format!("\"{}:'{}'\"", self.id_field, ticket.key);
        let answer = self
            .call(
                http::Method::GET,
                &format!("tickets/filter?query={}", crate::net::url_encode(&query)),
                what,
            )
            .send()
            .await?
            .json(what)?;
        Ok(answer["tickets"].get(0).and_then(|t| self.remote(t)))
    }

    async fn create(&self, ticket: &Outgoing) -> Result<Remote, SyncError> {
        let what = "creating the Freshservice ticket";
        let answer = self
            .call(http::Method::POST, "tickets", what)
            .json(serde_json::json!({
                "subject": ticket.title,
                "description": html(&ticket.description),
                "email": self.requester_email,
                "priority": Self::priority(&ticket.priority),
                "status": 2,
                "custom_fields": { self.id_field.clone(): ticket.key },
            }))
            .send()
            .await?
            .json(what)?;
        self.remote(&answer["ticket"])
            .ok_or_else(|| SyncError::Permanent(format!("{what}: no ticket id in {answer}")))
    }

    async fn update(&self, remote: &str, ticket: &Outgoing, note: &str) -> Result<(), SyncError> {
        self.put(
            remote,
            serde_json::json!({ "subject": ticket.title, "priority": Self::priority(&ticket.priority) }),
            "updating the Freshservice ticket",
        )
        .await?;
        self.note(remote, note).await
    }

    async fn comment(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.call(
            http::Method::POST,
            &format!("tickets/{remote}/reply"),
            "replying in Freshservice",
        )
        .json(serde_json::json!({ "body": html(super::or_dash(text)) }))
        .send()
        .await?;
        Ok(())
    }

    async fn note(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.call(
            http::Method::POST,
            &format!("tickets/{remote}/notes"),
            "adding a note in Freshservice",
        )
        .json(serde_json::json!({ "body": html(super::or_dash(text)), "private": true }))
        .send()
        .await?;
        Ok(())
    }

    async fn resolve(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.note(remote, text).await?;
        let status: i64 = self
            .common
            .resolved_status
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4);
        self.put(
            remote,
            serde_json::json!({ "status": status }),
            "resolving the Freshservice ticket",
        )
        .await
    }

    async fn reopen(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let status: i64 = self
            .common
            .open_status
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        self.put(
            remote,
            serde_json::json!({ "status": status }),
            "reopening the Freshservice ticket",
        )
        .await?;
        self.note(remote, text).await
    }

    async fn changes(
        &self,
        cursor: &str,
        ours: &std::collections::HashSet<String>,
    ) -> Result<(Vec<Change>, String), SyncError> {
        let now = crate::model::now_ms();
        let iso = |ms: i64| crate::cli::rfc3339(ms);
        if cursor.is_empty() {
            return Ok((Vec::new(), iso(now)));
        }
        let me = self.me().await?;
        let what = "reading Freshservice's changed tickets";
        let answer = self
            .call(
                http::Method::GET,
                &format!(
                    "tickets?updated_since={}&per_page=100",
                    crate::net::url_encode(cursor)
                ),
                what,
            )
            .send()
            .await?
            .json(what)?;
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
            let what = "reading a Freshservice ticket's conversations";
            let conversations = self
                .call(
                    http::Method::GET,
                    &format!("tickets/{remote}/conversations"),
                    what,
                )
                .send()
                .await?
                .json(what)?;
            for conversation in conversations["conversations"].as_array().unwrap_or(&empty) {
                let author = conversation["user_id"].as_i64().unwrap_or_default();
                let text = conversation["body_text"]
                    .as_str()
                    .unwrap_or_default()
                    .trim();
                let Some(id) = conversation["id"].as_i64() else {
                    continue;
                };
                if author == me || text.is_empty() {
                    continue;
                }
                changes.push(Change {
                    event: format!("conversation/{id}"),
                    remote_id: remote.clone(),
                    author: self.agent_name(author).await,
                    what: ChangeKind::Comment(text.to_owned()),
                });
            }
            let what = "reading a Freshservice ticket's activities";
            let activities = self
                .call(
                    http::Method::GET,
                    &format!("tickets/{remote}/activities"),
                    what,
                )
                .send()
                .await?
                .json(what)?;
            for activity in activities["activities"].as_array().unwrap_or(&empty) {
                let actor = activity["actor"]["id"].as_i64().unwrap_or_default();
                if actor == me {
                    continue;
                }
                let content = activity["content"].as_str().unwrap_or_default();
                let status = ["Resolved", "Closed"]
                    .into_iter()
                    .find(|s| content.contains(&format!("Status as {s}")));
                let Some(status) = status else {
                    continue;
                };
                let at = activity["created_at"].as_str().unwrap_or_default();
                changes.push(Change {
                    event: format!("activity/{remote}/{at}/{status}"),
                    remote_id: remote.clone(),
                    author: activity["actor"]["name"]
                        .as_str()
                        .unwrap_or("an agent")
                        .to_owned(),
                    what: ChangeKind::Closed(status.to_lowercase()),
                });
            }
        }
        // A full page: go on from the last ticket read. Else a minute back: `updated_since` is
        // to the second, and events are taken in once.
        let tickets = answer["tickets"].as_array().unwrap_or(&empty);
        let next = match tickets.last() {
            Some(last) if tickets.len() >= PAGE => last["updated_at"]
                .as_str()
                .map_or_else(|| iso(now - 60_000), str::to_owned),
            _ => iso(now - 60_000),
        };
        Ok((changes, next))
    }
}
