//! Request Tracker 5, through its REST2 API (`/REST/2.0`, documented in RT's
//! `docs/rest2.pod`, also at `/REST/2.0/` of every RT).
//!
//! - The Firstline link travels as the ticket's `RefersTo` link; an earlier create is found
//!   by the TicketSQL query `RefersTo = '<link>'`.
//! - Public replies are `correspond`, notes `comment`; resolve and reopen set `Status`.
//! - Back-sync reads the transactions after the cursor (a transaction id), skipping the
//!   connector's own account: comments and correspondence come back, a status set to
//!   resolved, rejected or deleted closes, and one set back to an active status reopens.

use base64::Engine;

use super::http::Call;
use super::{Change, ChangeKind, Common, Connector, Credentials, Outgoing, Remote, SyncError};

/// Transactions read per poll.
const PAGE: u32 = 100;
/// Statuses that mean a person is done with the ticket.
const CLOSED: [&str; 3] = ["resolved", "rejected", "deleted"];

#[derive(Debug, Clone)]
pub struct Rt {
    common: Common,
    queue: String,
}

impl Rt {
    pub fn new(common: Common, queue: String) -> Self {
        Rt { common, queue }
    }

    pub fn common(&self) -> &Common {
        &self.common
    }

    /// RT's priorities are numbers (0–99 by default): P1 90 … P5 10.
    pub fn default_priority(&self) -> fn(u8) -> String {
        |priority| (100 - u32::from(priority) * 20 + 10).to_string()
    }

    fn api(&self, path: &str) -> String {
        format!("{}/REST/2.0/{path}", self.common.url)
    }

    fn call<'a>(&self, method: http::Method, path: &str, what: &'a str) -> Call<'a> {
        let authorization = match &self.common.credentials {
            Credentials::Basic { user, password } => Credentials::basic(user, password),
            Credentials::UserToken { token, .. } | Credentials::Token(token) => {
                format!("token {token}")
            }
        };
        Call::new(method, self.api(path), what).header("Authorization", authorization)
    }

    fn display_url(&self, id: &str) -> String {
        format!("{}/Ticket/Display.html?id={id}", self.common.url)
    }

    async fn set_status(&self, remote: &str, status: &str, what: &str) -> Result<(), SyncError> {
        self.call(http::Method::PUT, &format!("ticket/{remote}"), what)
            .json(serde_json::json!({ "Status": status }))
            .send()
            .await?;
        Ok(())
    }

    async fn write(
        &self,
        remote: &str,
        kind: &str,
        text: &str,
        what: &str,
    ) -> Result<(), SyncError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        self.call(http::Method::POST, &format!("ticket/{remote}/{kind}"), what)
            .json(serde_json::json!({ "Content": text, "ContentType": "text/plain" }))
            .send()
            .await?;
        Ok(())
    }

    /// The newest transaction id: where a first poll starts.
    async fn newest_transaction(&self) -> Result<String, SyncError> {
        let reply = self
            .call(
                http::Method::POST,
                "transactions?per_page=1&orderby=id&order=DESC",
                "finding RT's newest transaction",
            )
            .json(serde_json::json!([{ "field": "id", "operator": ">", "value": "0" }]))
            .send()
            .await?;
        let answer = reply.json("finding RT's newest transaction")?;
        Ok(answer["items"]
            .get(0)
            .and_then(|item| text(&item["id"]))
            .unwrap_or_else(|| "0".to_owned()))
    }

    /// The text of a comment or correspondence transaction: its plain-text attachments
    /// (RT 5.0 lists them as the transaction's `attachment` hyperlinks).
    async fn content(&self, transaction: &str) -> Result<String, SyncError> {
        let what = "reading a comment in RT";
        let answer = self
            .call(
                http::Method::GET,
                &format!("transaction/{transaction}"),
                what,
            )
            .send()
            .await?
            .json(what)?;
        let empty = Vec::new();
        let mut texts = Vec::new();
        for link in answer["_hyperlinks"].as_array().unwrap_or(&empty) {
            if link["ref"].as_str() != Some("attachment") {
                continue;
            }
            let Some(id) = link["_url"].as_str().and_then(|url| url.rsplit('/').next()) else {
                continue;
            };
            let attachment = self
                .call(http::Method::GET, &format!("attachment/{id}"), what)
                .send()
                .await?
                .json(what)?;
            if let Some(text) = plain_text(&attachment) {
                texts.push(text);
            }
        }
        Ok(texts.join("\n\n"))
    }
}

/// An attachment's content when it is non-empty plain text.
pub fn plain_text(attachment: &serde_json::Value) -> Option<String> {
    if !attachment["ContentType"]
        .as_str()
        .is_some_and(|t| t.starts_with("text/plain"))
    {
        return None;
    }
    let encoded: String = attachment["Content"]
        .as_str()?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// RT writes ids both as numbers and as strings.
fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// TicketSQL's quoting: a single-quoted string with `\` and `'` escaped.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Connector for Rt {
    async fn find(&self, ticket: &Outgoing) -> Result<Option<Remote>, SyncError> {
        let what = "looking for an earlier RT ticket";
        let query = format!("RefersTo = {}", quoted(&ticket.link));
        let reply = self
            .call(
                http::Method::GET,
                &format!(
                    "tickets?query={}&orderby=id&order=ASC",
                    crate::net::url_encode(&query)
                ),
                what,
            )
            .send()
            .await?;
        let answer = reply.json(what)?;
        Ok(answer["items"]
            .get(0)
            .and_then(|item| text(&item["id"]))
            .map(|id| Remote {
                url: self.display_url(&id),
                id,
            }))
    }

    async fn create(&self, ticket: &Outgoing) -> Result<Remote, SyncError> {
        let what = "creating the RT ticket";
        let reply = self
            .call(http::Method::POST, "ticket", what)
            .json(serde_json::json!({
                "Queue": self.queue,
                "Subject": ticket.title,
                "Content": ticket.description,
                "ContentType": "text/plain",
                "Priority": ticket.priority,
                "RefersTo": ticket.link,
            }))
            .send()
            .await?;
        let answer = reply.json(what)?;
        let id = text(&answer["id"]).ok_or_else(|| {
            SyncError::Permanent(format!("{what}: the answer has no id: {answer}"))
        })?;
        Ok(Remote {
            url: self.display_url(&id),
            id,
        })
    }

    async fn update(&self, remote: &str, ticket: &Outgoing, note: &str) -> Result<(), SyncError> {
        self.call(
            http::Method::PUT,
            &format!("ticket/{remote}"),
            "updating the RT ticket",
        )
        .json(serde_json::json!({ "Subject": ticket.title, "Priority": ticket.priority }))
        .send()
        .await?;
        self.write(remote, "comment", note, "noting the change in RT")
            .await
    }

    async fn comment(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.write(remote, "correspond", text, "replying in RT")
            .await
    }

    async fn note(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.write(remote, "comment", text, "commenting in RT")
            .await
    }

    async fn resolve(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.write(remote, "comment", text, "saying why in RT")
            .await?;
        let status = self.common.resolved_status.as_deref().unwrap_or("resolved");
        self.set_status(remote, status, "resolving the RT ticket")
            .await
    }

    async fn reopen(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let status = self.common.open_status.as_deref().unwrap_or("open");
        self.set_status(remote, status, "reopening the RT ticket")
            .await?;
        self.write(remote, "comment", text, "saying why in RT")
            .await
    }

    async fn changes(
        &self,
        cursor: &str,
        ours: &std::collections::HashSet<String>,
    ) -> Result<(Vec<Change>, String), SyncError> {
        if cursor.is_empty() {
            return Ok((Vec::new(), self.newest_transaction().await?));
        }
        let what = "reading RT's transactions";
        let reply = self
            .call(
                http::Method::POST,
                &format!(
                    "transactions?fields=Type,Creator,ObjectId,ObjectType,Field,OldValue,NewValue&per_page={PAGE}&orderby=id&order=ASC"
                ),
                what,
            )
            .json(serde_json::json!([
                { "field": "id", "operator": ">", "value": cursor },
                { "field": "ObjectType", "value": "RT::Ticket" },
            ]))
            .send()
            .await?;
        let answer = reply.json(what)?;
        let mut next = cursor.to_owned();
        let mut changes = Vec::new();
        let me = self.common.credentials.user();
        let empty = Vec::new();
        for item in answer["items"].as_array().unwrap_or(&empty) {
            let Some(id) = text(&item["id"]) else {
                continue;
            };
            next = id.clone();
            let author = item["Creator"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if Some(author.as_str()) == me || author == "RT_System" {
                continue;
            }
            let Some(remote_id) = text(&item["ObjectId"]).filter(|id| ours.contains(id)) else {
                continue;
            };
            let kind = item["Type"].as_str().unwrap_or_default();
            let new_value = item["NewValue"].as_str().unwrap_or_default();
            let old_value = item["OldValue"].as_str().unwrap_or_default();
            let what = match kind {
                "Comment" | "Correspond" => {
                    let content = self.content(&id).await?;
                    if content.is_empty() {
                        continue;
                    }
                    ChangeKind::Comment(content)
                }
                "Status" if CLOSED.contains(&new_value) => ChangeKind::Closed(new_value.to_owned()),
                "Status" if CLOSED.contains(&old_value) => {
                    ChangeKind::Reopened(new_value.to_owned())
                }
                _ => continue,
            };
            changes.push(Change {
                event: format!("transaction/{id}"),
                remote_id,
                author,
                what,
            });
        }
        Ok((changes, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticketsql_strings_are_quoted_and_queries_encoded() {
        assert_eq!(quoted("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(
            crate::net::url_encode("RefersTo = 'x'"),
            "RefersTo%20%3D%20%27x%27"
        );
    }

    #[test]
    fn priorities_map_to_rt_numbers_unless_configured() {
        let rt = Rt::new(
            Common {
                url: "http://rt.example.com".to_owned(),
                credentials: Credentials::Token("t".to_owned()),
                priority_map: [("p1".to_owned(), "99".to_owned())].into(),
                resolved_status: None,
                open_status: None,
            },
            "General".to_owned(),
        );
        let default = rt.default_priority();
        assert_eq!(rt.common().priority(1, default), "99");
        assert_eq!(rt.common().priority(2, default), "70");
        assert_eq!(rt.common().priority(5, default), "10");
    }
}
