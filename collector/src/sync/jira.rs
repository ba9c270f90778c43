//! Jira Service Management, through the Jira Cloud platform REST API v3
//! (developer.atlassian.com/cloud/jira/platform/rest/v3: Issues, Issue search, Issue
//! comments, Issue properties, Myself).
//!
//! - The Firstline id travels as the issue property `firstline` (`{"id": "firstline-12"}`),
//!   set in the create; an earlier create is found with the JQL
//!   `issue.property[firstline].id = "firstline-12"` (`POST /rest/api/3/search/jql`).
//! - Text is Atlassian Document Format. Replies are comments (shared with the customer in
//!   JSM); notes are comments with the `sd.public.comment` property `{"internal": true}`.
//! - Resolve and reopen are transitions: the one to `resolved_status` / `open_status` when
//!   set, else the first into a "done" / not-"done" status category.
//! - Back-sync: issues carrying the property updated since the cursor (JQL minutes, UTC), then
//!   each one's comments and changelog; a status change by someone else into a "done"
//!   category closes.

use super::http::Call;
use super::{Change, ChangeKind, Common, Connector, Credentials, Outgoing, Remote, SyncError};

/// Issues one search reads.
const SEARCH_PAGE: usize = 100;

#[derive(Debug, Clone)]
pub struct Jira {
    common: Common,
    project: String,
    issue_type: String,
    me: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

/// Text as an Atlassian Document Format document: a paragraph per line.
pub fn adf(text: &str) -> serde_json::Value {
    let paragraphs: Vec<serde_json::Value> = text
        .lines()
        .map(|line| {
            if line.is_empty() {
                serde_json::json!({ "type": "paragraph", "content": [] })
            } else {
                serde_json::json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] })
            }
        })
        .collect();
    serde_json::json!({ "type": "doc", "version": 1, "content": paragraphs })
}

/// The text of an ADF document: its text nodes, a line per paragraph.
pub fn adf_text(document: &serde_json::Value) -> String {
    fn walk(node: &serde_json::Value, out: &mut String) {
        if let Some(text) = node["text"].as_str() {
            out.push_str(text);
        }
        for child in node["content"].as_array().into_iter().flatten() {
            walk(child, out);
        }
        if node["type"] == "paragraph" {
            out.push('\n');
        }
    }
    let mut out = String::new();
    walk(document, &mut out);
    out.trim().to_owned()
}

impl Jira {
    pub fn new(common: Common, project: String, issue_type: String) -> Self {
        Jira {
            common,
            project,
            issue_type,
            me: Default::default(),
        }
    }

    pub fn common(&self) -> &Common {
        &self.common
    }

    /// Jira's default priority scheme.
    pub fn default_priority(&self) -> fn(u8) -> String {
        |priority| {
            match priority {
                1 => "Highest",
                2 => "High",
                3 => "Medium",
                4 => "Low",
                _ => "Lowest",
            }
            .to_owned()
        }
    }

    fn call<'a>(&self, method: http::Method, path: &str, what: &'a str) -> Call<'a> {
        let authorization = match &self.common.credentials {
            Credentials::UserToken { user, token } => Credentials::basic(user, token),
            Credentials::Basic { user, password } => Credentials::basic(user, password),
            Credentials::Token(token) => format!("Bearer {token}"),
        };
        Call::new(
            method,
            format!("{}/rest/api/3/{path}", self.common.url),
            what,
        )
        .header("Authorization", authorization)
    }

    fn remote(&self, issue: &serde_json::Value) -> Option<Remote> {
        let key = issue["key"].as_str()?.to_owned();
        Some(Remote {
            url: format!("{}/browse/{key}", self.common.url),
            id: key,
        })
    }

    async fn search(&self, jql: &str, what: &str) -> Result<Vec<serde_json::Value>, SyncError> {
        let answer = self
            .call(http::Method::POST, "search/jql", what)
            .json(serde_json::json!({ "jql": jql, "fields": ["status", "updated"], "maxResults": SEARCH_PAGE }))
            .send()
            .await?
            .json(what)?;
        Ok(answer["issues"].as_array().cloned().unwrap_or_default())
    }

    async fn write(
        &self,
        remote: &str,
        text: &str,
        internal: bool,
        what: &str,
    ) -> Result<(), SyncError> {
        let mut body = serde_json::json!({ "body": adf(super::or_dash(text)) });
        if internal {
            body["properties"] =
                serde_json::json!([{ "key": "sd.public.comment", "value": { "internal": true } }]);
        }
        self.call(http::Method::POST, &format!("issue/{remote}/comment"), what)
            .json(body)
            .send()
            .await?;
        Ok(())
    }

    /// Moves the issue through the transition into `named`, else into a status whose
    /// category is (`done`) or is not "done".
    async fn transition(
        &self,
        remote: &str,
        named: Option<&str>,
        done: bool,
        what: &str,
    ) -> Result<(), SyncError> {
        let answer = self
            .call(
                http::Method::GET,
                &format!("issue/{remote}/transitions"),
                what,
            )
            .send()
            .await?
            .json(what)?;
        let empty = Vec::new();
        let transitions = answer["transitions"].as_array().unwrap_or(&empty);
        let chosen = transitions.iter().find(|t| match named {
            Some(name) => t["to"]["name"].as_str() == Some(name),
            None => (t["to"]["statusCategory"]["key"].as_str() == Some("done")) == done,
        });
        let Some(id) = chosen.and_then(|t| t["id"].as_str()) else {
            return Err(SyncError::Permanent(format!(
                "{what}: no transition leads to {} from here",
                named.unwrap_or(if done {
                    "a done status"
                } else {
                    "an open status"
                })
            )));
        };
        self.call(
            http::Method::POST,
            &format!("issue/{remote}/transitions"),
            what,
        )
        .json(serde_json::json!({ "transition": { "id": id } }))
        .send()
        .await?;
        Ok(())
    }

    async fn me(&self) -> Result<String, SyncError> {
        self.me
            .get_or_try_init(|| async {
                let what = "asking Jira who the connector is";
                let answer = self
                    .call(http::Method::GET, "myself", what)
                    .send()
                    .await?
                    .json(what)?;
                answer["accountId"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        SyncError::Permanent(format!("{what}: no accountId in {answer}"))
                    })
            })
            .await
            .cloned()
    }
}

impl Connector for Jira {
    async fn find(&self, ticket: &Outgoing) -> Result<Option<Remote>, SyncError> {
        let jql = format!("issue.property[firstline].id = \"{}\"", ticket.key);
        let found = self
            .search(&jql, "looking for an earlier Jira issue")
            .await?;
        Ok(found.first().and_then(|issue| self.remote(issue)))
    }

    async fn create(&self, ticket: &Outgoing) -> Result<Remote, SyncError> {
        let what = "creating the Jira issue";
        let answer = self
            .call(http::Method::POST, "issue", what)
            .json(serde_json::json!({
                "fields": {
                    "project": { "key": self.project },
                    "issuetype": { "name": self.issue_type },
                    "summary": ticket.title,
                    "description": adf(&ticket.description),
                    "priority": { "name": ticket.priority },
                },
                "properties": [{ "key": "firstline", "value": { "id": ticket.key, "link": ticket.link } }],
            }))
            .send()
            .await?
            .json(what)?;
        self.remote(&answer)
            .ok_or_else(|| SyncError::Permanent(format!("{what}: no key in {answer}")))
    }

    async fn update(&self, remote: &str, ticket: &Outgoing, note: &str) -> Result<(), SyncError> {
        self.call(http::Method::PUT, &format!("issue/{remote}"), "updating the Jira issue")
            .json(serde_json::json!({ "fields": { "summary": ticket.title, "priority": { "name": ticket.priority } } }))
            .send()
            .await?;
        self.write(remote, note, true, "noting the change in Jira")
            .await
    }

    async fn comment(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.write(remote, text, false, "replying in Jira").await
    }

    async fn note(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.write(remote, text, true, "commenting in Jira").await
    }

    async fn resolve(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.write(remote, text, true, "saying why in Jira").await?;
        self.transition(
            remote,
            self.common.resolved_status.as_deref(),
            true,
            "resolving the Jira issue",
        )
        .await
    }

    async fn reopen(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.transition(
            remote,
            self.common.open_status.as_deref(),
            false,
            "reopening the Jira issue",
        )
        .await?;
        self.write(remote, text, true, "saying why in Jira").await
    }

    async fn changes(
        &self,
        cursor: &str,
        ours: &std::collections::HashSet<String>,
    ) -> Result<(Vec<Change>, String), SyncError> {
        // JQL compares to the minute, and Jira's search catches up with edits after a while:
        // the next poll starts five minutes back; events are taken in once anyway.
        let minute = |ms: i64| super::utc_text(ms)[..16].to_owned();
        let now = crate::model::now_ms();
        if cursor.is_empty() {
            return Ok((Vec::new(), minute(now)));
        }
        let me = self.me().await?;
        let jql = format!(
            "issue.property[firstline].id IS NOT EMPTY AND updated >= \"{cursor}\" ORDER BY updated ASC"
        );
        let issues = self.search(&jql, "reading Jira's changed issues").await?;
        let mut changes = Vec::new();
        let empty = Vec::new();
        for issue in &issues {
            let Some(key) = issue["key"].as_str().filter(|key| ours.contains(*key)) else {
                continue;
            };
            let what = "reading a Jira issue's comments";
            let comments = self
                .call(
                    http::Method::GET,
                    &format!("issue/{key}/comment?orderBy=created"),
                    what,
                )
                .send()
                .await?
                .json(what)?;
            for comment in comments["comments"].as_array().unwrap_or(&empty) {
                let author = comment["author"]["accountId"].as_str().unwrap_or_default();
                let (Some(id), text) = (comment["id"].as_str(), adf_text(&comment["body"])) else {
                    continue;
                };
                if author == me || text.is_empty() {
                    continue;
                }
                changes.push(Change {
                    event: format!("comment/{id}"),
                    remote_id: key.to_owned(),
                    author: comment["author"]["displayName"]
                        .as_str()
                        .unwrap_or(author)
                        .to_owned(),
                    what: ChangeKind::Comment(text),
                });
            }
            let status = &issue["fields"]["status"];
            let done = status["statusCategory"]["key"].as_str() == Some("done");
            let current = status["name"].as_str().unwrap_or_default();
            let what = "reading a Jira issue's changelog";
            let log = self
                .call(http::Method::GET, &format!("issue/{key}/changelog"), what)
                .send()
                .await?
                .json(what)?;
            for entry in log["values"].as_array().unwrap_or(&empty) {
                let author = entry["author"]["accountId"].as_str().unwrap_or_default();
                let Some(id) = entry["id"].as_str() else {
                    continue;
                };
                if author == me {
                    continue;
                }
                let into_current = entry["items"]
                    .as_array()
                    .unwrap_or(&empty)
                    .iter()
                    .any(|item| {
                        item["field"] == "status" && item["toString"].as_str() == Some(current)
                    });
                if done && into_current {
                    changes.push(Change {
                        event: format!("changelog/{id}"),
                        remote_id: key.to_owned(),
                        author: entry["author"]["displayName"]
                            .as_str()
                            .unwrap_or(author)
                            .to_owned(),
                        what: ChangeKind::Closed(current.to_lowercase()),
                    });
                }
            }
        }
        // A full page: the next poll goes on from the last issue read.
        let next = match issues.last() {
            Some(last) if issues.len() >= SEARCH_PAGE => last["fields"]["updated"]
                .as_str()
                .filter(|updated| updated.len() >= 16)
                .map(|updated| updated[..16].replace('T', " "))
                .unwrap_or_else(|| minute(now - 300_000)),
            _ => minute(now - 300_000),
        };
        Ok((changes, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_goes_to_adf_and_back() {
        let text = "Disk C: is 97% full\n\nDevices: pc-1";
        assert_eq!(adf_text(&adf(text)), text);
    }
}
