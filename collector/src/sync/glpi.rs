//! GLPI, through its REST API (`apirest.php`, documented in GLPI's `apirest.md`: initSession,
//! getFullSession, getItems with `searchText`, addItems, updateItems, sub-items, search).
//!
//! - `url` is the API's address (`https://glpi.example.com/apirest.php`). A session token is
//!   taken with the user token (`token`, "Authorization: user_token …", plus `App-Token` when
//!   `app_token` is set) and taken again when GLPI says it ended.
//! - The Firstline id travels as the ticket's `externalid`; an earlier create is found with
//!   `searchText[externalid]` (a LIKE match, so the answer is checked for the exact id).
//! - Replies are public followups (`ITILFollowup`, `is_private` 0), notes private ones;
//!   resolve adds an `ITILSolution`, reopen sets `status` 2 (processing).
//! - Back-sync: tickets modified since the cursor (search option 19, `date_mod`,
//!   `morethan`), then each Firstline ticket's followups and solutions by other users.

use super::http::Call;
use super::{Change, ChangeKind, Common, Connector, Credentials, Outgoing, Remote, SyncError};

/// Tickets one search reads.
const PAGE: usize = 100;

#[derive(Debug, Clone)]
pub struct Glpi {
    common: Common,
    app_token: Option<String>,
    session: std::sync::Arc<tokio::sync::Mutex<Option<(String, i64)>>>,
}

/// GLPI stores text as escaped HTML: back to plain text.
fn plain(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.replace("&lt;", "<").replace("&gt;", ">").chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&amp;", "&")
        .replace("&#039;", "'")
        .replace("&quot;", "\"")
        .trim()
        .to_owned()
}

impl Glpi {
    pub fn new(common: Common, app_token: Option<String>) -> Self {
        Glpi {
            common,
            app_token,
            session: Default::default(),
        }
    }

    pub fn common(&self) -> &Common {
        &self.common
    }

    /// GLPI's 1 (very low) to 5 (very high).
    pub fn default_priority(&self) -> fn(u8) -> String {
        |priority| (6 - u32::from(priority.clamp(1, 5))).to_string()
    }

    fn base(&self) -> &str {
        self.common.url.trim_end_matches("/apirest.php")
    }

    fn bare<'a>(&self, method: http::Method, path: &str, what: &'a str) -> Call<'a> {
        let mut call = Call::new(method, format!("{}/{path}", self.common.url), what);
        if let Some(app) = &self.app_token {
            call = call.header("App-Token", app.clone());
        }
        call
    }

    /// The session token and the connector's user id, signing in when there is none.
    async fn session(&self) -> Result<(String, i64), SyncError> {
        let mut session = self.session.lock().await;
        if let Some(found) = session.as_ref() {
            return Ok(found.clone());
        }
        let what = "signing in to GLPI";
        let authorization = match &self.common.credentials {
            Credentials::Token(token) | Credentials::UserToken { token, .. } => {
                format!("user_token {token}")
            }
            Credentials::Basic { user, password } => Credentials::basic(user, password),
        };
        let answer = self
            .bare(http::Method::GET, "initSession", what)
            .header("Authorization", authorization)
            .send()
            .await?
            .json(what)?;
        let token = answer["session_token"]
            .as_str()
            .ok_or_else(|| SyncError::Permanent(format!("{what}: no session_token in {answer}")))?
            .to_owned();
        let full = self
            .bare(http::Method::GET, "getFullSession", what)
            .header("Session-Token", token.clone())
            .send()
            .await?
            .json(what)?;
        let me = full["session"]["glpiID"]
            .as_i64()
            .or_else(|| {
                full["session"]["glpiID"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
            })
            .unwrap_or_default();
        *session = Some((token.clone(), me));
        Ok((token, me))
    }

    /// A call in the session; a 401 forgets the session so the retry signs in again.
    async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> Result<serde_json::Value, SyncError> {
        let (token, _) = self.session().await?;
        let mut call = self.bare(method, path, what).header("Session-Token", token);
        if let Some(body) = body {
            call = call.json(body);
        }
        match call.send().await {
            Ok(reply) if reply.body.is_empty() => Ok(serde_json::Value::Null),
            Ok(reply) => reply.json(what),
            Err(e) => {
                if let SyncError::Later { message, .. } = &e
                    && message.contains("HTTP 401")
                {
                    *self.session.lock().await = None;
                }
                Err(e)
            }
        }
    }

    /// A user's name for the timeline ("GLPI user 5" when GLPI does not say).
    async fn user_name(&self, id: i64) -> String {
        let user = self
            .send(
                http::Method::GET,
                &format!("User/{id}"),
                None,
                "reading a GLPI user",
            )
            .await
            .unwrap_or_default();
        let full = format!(
            "{} {}",
            user["firstname"].as_str().unwrap_or_default(),
            user["realname"].as_str().unwrap_or_default()
        );
        match (full.trim(), user["name"].as_str()) {
            ("", Some(login)) if !login.is_empty() => login.to_owned(),
            ("", _) => format!("GLPI user {id}"),
            (name, _) => name.to_owned(),
        }
    }

    fn remote(&self, id: i64) -> Remote {
        Remote {
            id: id.to_string(),
            url: format!("{}/front/ticket.form.php?id={id}", self.base()),
        }
    }

    async fn followup(
        &self,
        remote: &str,
        text: &str,
        private: bool,
        what: &str,
    ) -> Result<(), SyncError> {
        let id: i64 = remote.parse().unwrap_or_default();
        self.send(
            http::Method::POST,
            &format!("Ticket/{remote}/ITILFollowup"),
            Some(serde_json::json!({ "input": {
                "itemtype": "Ticket",
                "items_id": id,
                "content": super::or_dash(text),
                "is_private": i64::from(private),
            }})),
            what,
        )
        .await?;
        Ok(())
    }
}

impl Connector for Glpi {
    async fn find(&self, ticket: &Outgoing) -> Result<Option<Remote>, SyncError> {
        let answer = self
            .send(
                http::Method::GET,
                &format!(
                    "Ticket?searchText%5Bexternalid%5D={}&range=0-50",
                    crate::net::url_encode(&ticket.key)
                ),
                None,
                "looking for an earlier GLPI ticket",
            )
            .await?;
        let empty = Vec::new();
        Ok(answer
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .find(|t| t["externalid"].as_str() == Some(ticket.key.as_str()))
            .and_then(|t| t["id"].as_i64())
            .map(|id| self.remote(id)))
    }

    async fn create(&self, ticket: &Outgoing) -> Result<Remote, SyncError> {
        let what = "creating the GLPI ticket";
        let priority: i64 = ticket.priority.parse().unwrap_or(3);
        let answer = self
            .send(
                http::Method::POST,
                "Ticket",
                Some(serde_json::json!({ "input": {
                    "name": ticket.title,
                    "content": ticket.description,
                    "urgency": priority,
                    "impact": priority,
                    "priority": priority,
                    "externalid": ticket.key,
                }})),
                what,
            )
            .await?;
        answer["id"]
            .as_i64()
            .map(|id| self.remote(id))
            .ok_or_else(|| SyncError::Permanent(format!("{what}: no id in {answer}")))
    }

    async fn update(&self, remote: &str, ticket: &Outgoing, note: &str) -> Result<(), SyncError> {
        let priority: i64 = ticket.priority.parse().unwrap_or(3);
        self.send(
            http::Method::PUT,
            &format!("Ticket/{remote}"),
            Some(serde_json::json!({ "input": { "name": ticket.title, "priority": priority, "urgency": priority } })),
            "updating the GLPI ticket",
        )
        .await?;
        self.followup(remote, note, true, "noting the change in GLPI")
            .await
    }

    async fn comment(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.followup(remote, text, false, "replying in GLPI").await
    }

    async fn note(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.followup(remote, text, true, "adding a private followup in GLPI")
            .await
    }

    async fn resolve(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let id: i64 = remote.parse().unwrap_or_default();
        self.send(
            http::Method::POST,
            &format!("Ticket/{remote}/ITILSolution"),
            Some(serde_json::json!({ "input": { "itemtype": "Ticket", "items_id": id, "content": super::or_dash(text) } })),
            "solving the GLPI ticket",
        )
        .await?;
        Ok(())
    }

    async fn reopen(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let status: i64 = self
            .common
            .open_status
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        self.send(
            http::Method::PUT,
            &format!("Ticket/{remote}"),
            Some(serde_json::json!({ "input": { "status": status } })),
            "reopening the GLPI ticket",
        )
        .await?;
        self.followup(remote, text, true, "saying why in GLPI")
            .await
    }

    async fn changes(
        &self,
        cursor: &str,
        ours: &std::collections::HashSet<String>,
    ) -> Result<(Vec<Change>, String), SyncError> {
        let now = crate::model::now_ms();
        if cursor.is_empty() {
            return Ok((Vec::new(), super::utc_text(now)));
        }
        let (_, me) = self.session().await?;
        let path = format!(
            "search/Ticket?criteria%5B0%5D%5Bfield%5D=19&criteria%5B0%5D%5Bsearchtype%5D=morethan&criteria%5B0%5D%5Bvalue%5D={}&forcedisplay%5B0%5D=2&forcedisplay%5B1%5D=19&sort=19&order=ASC&range=0-{}",
            crate::net::url_encode(cursor),
            PAGE - 1
        );
        let found = self
            .send(
                http::Method::GET,
                &path,
                None,
                "reading GLPI's changed tickets",
            )
            .await?;
        let mut changes = Vec::new();
        let empty = Vec::new();
        for row in found["data"].as_array().unwrap_or(&empty) {
            let Some(id) = row["2"]
                .as_i64()
                .or_else(|| row["2"].as_str().and_then(|s| s.parse().ok()))
            else {
                continue;
            };
            if !ours.contains(&id.to_string()) {
                continue;
            }
            let ticket = self
                .send(
                    http::Method::GET,
                    &format!("Ticket/{id}"),
                    None,
                    "reading a GLPI ticket",
                )
                .await?;
            if !ticket["externalid"]
                .as_str()
                .is_some_and(|e| e.starts_with("firstline-"))
            {
                continue;
            }
            let remote = id.to_string();
            let followups = self
                .send(
                    http::Method::GET,
                    &format!("Ticket/{id}/ITILFollowup"),
                    None,
                    "reading a GLPI ticket's followups",
                )
                .await?;
            for followup in followups.as_array().unwrap_or(&empty) {
                let author = followup["users_id"].as_i64().unwrap_or_default();
                let text = plain(followup["content"].as_str().unwrap_or_default());
                let Some(followup_id) = followup["id"].as_i64() else {
                    continue;
                };
                if author == me || text.is_empty() {
                    continue;
                }
                changes.push(Change {
                    event: format!("followup/{followup_id}"),
                    remote_id: remote.clone(),
                    author: self.user_name(author).await,
                    what: ChangeKind::Comment(text),
                });
            }
            let solutions = self
                .send(
                    http::Method::GET,
                    &format!("Ticket/{id}/ITILSolution"),
                    None,
                    "reading a GLPI ticket's solutions",
                )
                .await?;
            for solution in solutions.as_array().unwrap_or(&empty) {
                let author = solution["users_id"].as_i64().unwrap_or_default();
                let Some(solution_id) = solution["id"].as_i64() else {
                    continue;
                };
                if author == me {
                    continue;
                }
                changes.push(Change {
                    event: format!("solution/{solution_id}"),
                    remote_id: remote.clone(),
                    author: self.user_name(author).await,
                    what: ChangeKind::Closed("solved".to_owned()),
                });
            }
        }
        // A full page: go on from the last ticket read. Else a minute back: `date_mod` is to
        // the second, and events are taken in once.
        let rows = found["data"].as_array().unwrap_or(&empty);
        let next = match rows.last() {
            Some(last) if rows.len() >= PAGE => last["19"]
                .as_str()
                .map_or_else(|| super::utc_text(now - 60_000), str::to_owned),
            _ => super::utc_text(now - 60_000),
        };
        Ok((changes, next))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glpi_html_becomes_text() {
        assert_eq!(
            super::plain("&lt;p&gt;Disk &amp; logs&lt;/p&gt;"),
            "Disk & logs"
        );
        assert_eq!(super::plain("<p>it's <b>done</b></p>"), "it's done");
    }
}
