//! ServiceNow, through the Table API (docs.servicenow.com, "Table API": `/api/now/table/{table}`)
//! on the `incident` table, and `sys_journal_field` for comments.
//!
//! - The Firstline id travels as the incident's `correlation_id` (with `correlation_display`
//!   "Firstline"), which is how ServiceNow's own integrations mark an external record; an
//!   earlier create is found by `sysparm_query=correlation_id=…`.
//! - Priority is ServiceNow's impact × urgency (1 high … 3 low): P1 is 1/1, P2 1/2, P3 2/2,
//!   P4 2/3, P5 3/3, unless `priority_map` gives "impact,urgency".
//! - Replies are `comments` (customer-visible), notes `work_notes`; resolve sets `state` 6
//!   with `close_code` and `close_notes`, reopen `state` 2.
//! - Back-sync: incidents of Firstline (`correlation_idSTARTSWITHfirstline-`) updated since the
//!   cursor (`sys_updated_on`, UTC), their journal entries since then, and their state
//!   changes from `sys_audit` (who, from what, to what): into resolved (6), closed (7) or
//!   canceled (8) by someone other than the connector's account closes, out of them reopens.

use super::http::Call;
use super::{Change, ChangeKind, Common, Connector, Credentials, Outgoing, Remote, SyncError};

const CLOSED: [&str; 3] = ["6", "7", "8"];
/// Incidents read per poll (the cursor moves to the last one read).
const PAGE: u32 = 100;

#[derive(Debug, Clone)]
pub struct ServiceNow {
    common: Common,
}

impl ServiceNow {
    pub fn new(common: Common) -> Self {
        ServiceNow { common }
    }

    pub fn common(&self) -> &Common {
        &self.common
    }

    /// "impact,urgency".
    pub fn default_priority(&self) -> fn(u8) -> String {
        |priority| {
            match priority {
                1 => "1,1",
                2 => "1,2",
                3 => "2,2",
                4 => "2,3",
                _ => "3,3",
            }
            .to_owned()
        }
    }

    fn call<'a>(&self, method: http::Method, path: &str, what: &'a str) -> Call<'a> {
        let authorization = match &self.common.credentials {
            Credentials::Basic { user, password } => Credentials::basic(user, password),
            Credentials::UserToken { user, token } => Credentials::basic(user, token),
            Credentials::Token(token) => format!("Bearer {token}"),
        };
        Call::new(
            method,
            format!("{}/api/now/table/{path}", self.common.url),
            what,
        )
        .header("Authorization", authorization)
    }

    fn remote(&self, record: &serde_json::Value) -> Option<Remote> {
        let id = record["sys_id"].as_str()?.to_owned();
        Some(Remote {
            url: format!("{}/nav_to.do?uri=incident.do?sys_id={id}", self.common.url),
            id,
        })
    }

    async fn patch(
        &self,
        remote: &str,
        fields: serde_json::Value,
        what: &str,
    ) -> Result<(), SyncError> {
        self.call(http::Method::PATCH, &format!("incident/{remote}"), what)
            .json(fields)
            .send()
            .await?;
        Ok(())
    }

    async fn list(&self, path: &str, what: &str) -> Result<Vec<serde_json::Value>, SyncError> {
        let answer = self
            .call(http::Method::GET, path, what)
            .send()
            .await?
            .json(what)?;
        Ok(answer["result"].as_array().cloned().unwrap_or_default())
    }
}

/// Impact and urgency from "impact,urgency".
fn impact_urgency(priority: &str) -> (String, String) {
    match priority.split_once(',') {
        Some((impact, urgency)) => (impact.trim().to_owned(), urgency.trim().to_owned()),
        None => ("2".to_owned(), "2".to_owned()),
    }
}

impl Connector for ServiceNow {
    async fn find(&self, ticket: &Outgoing) -> Result<Option<Remote>, SyncError> {
        let query = crate::net::url_encode(&format!("correlation_id={}", ticket.key));
        let found = self
            .list(
                &format!(
                    "incident?sysparm_query={query}&sysparm_limit=1&sysparm_fields=sys_id,number"
                ),
                "looking for an earlier ServiceNow incident",
            )
            .await?;
        Ok(found.first().and_then(|record| self.remote(record)))
    }

    async fn create(&self, ticket: &Outgoing) -> Result<Remote, SyncError> {
        let what = "creating the ServiceNow incident";
        let (impact, urgency) = impact_urgency(&ticket.priority);
        let answer = self
            .call(http::Method::POST, "incident", what)
            .json(serde_json::json!({
                "short_description": ticket.title,
                "description": ticket.description,
                "impact": impact,
                "urgency": urgency,
                "correlation_id": ticket.key,
                "correlation_display": "Firstline",
            }))
            .send()
            .await?
            .json(what)?;
        self.remote(&answer["result"])
            .ok_or_else(|| SyncError::Permanent(format!("{what}: no sys_id in {answer}")))
    }

    async fn update(&self, remote: &str, ticket: &Outgoing, note: &str) -> Result<(), SyncError> {
        let (impact, urgency) = impact_urgency(&ticket.priority);
        self.patch(
            remote,
            serde_json::json!({
                "short_description": ticket.title,
                "impact": impact,
                "urgency": urgency,
                "work_notes": super::or_dash(note),
            }),
            "updating the ServiceNow incident",
        )
        .await
    }

    async fn comment(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.patch(
            remote,
            serde_json::json!({ "comments": super::or_dash(text) }),
            "commenting in ServiceNow",
        )
        .await
    }

    async fn note(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        self.patch(
            remote,
            serde_json::json!({ "work_notes": super::or_dash(text) }),
            "adding a work note in ServiceNow",
        )
        .await
    }

    async fn resolve(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let state = self.common.resolved_status.as_deref().unwrap_or("6");
        self.patch(
            remote,
            serde_json::json!({
                "state": state,
                "close_code": "Solved (Permanently)",
                "close_notes": super::or_dash(text),
            }),
            "resolving the ServiceNow incident",
        )
        .await
    }

    async fn reopen(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        let state = self.common.open_status.as_deref().unwrap_or("2");
        self.patch(
            remote,
            serde_json::json!({ "state": state, "work_notes": super::or_dash(text) }),
            "reopening the ServiceNow incident",
        )
        .await
    }

    async fn changes(
        &self,
        cursor: &str,
        ours: &std::collections::HashSet<String>,
    ) -> Result<(Vec<Change>, String), SyncError> {
        let now = super::utc_text(crate::model::now_ms());
        if cursor.is_empty() {
            return Ok((Vec::new(), now));
        }
        let me = self
            .common
            .credentials
            .user()
            .unwrap_or_default()
            .to_owned();
        let query = crate::net::url_encode(&format!(
            "correlation_idSTARTSWITHfirstline-^sys_updated_on>={cursor}^ORDERBYsys_updated_on"
        ));
        let incidents = self
            .list(
                &format!("incident?sysparm_query={query}&sysparm_fields=sys_id,state,sys_updated_on&sysparm_limit={PAGE}"),
                "reading ServiceNow's changed incidents",
            )
            .await?;
        let mut next = cursor.to_owned();
        let mut changes = Vec::new();
        for incident in &incidents {
            let updated = incident["sys_updated_on"].as_str().unwrap_or_default();
            // Ordered by it; a clock ahead of ours must not move the cursor past now.
            if updated > next.as_str() && updated <= now.as_str() {
                next = updated.to_owned();
            }
            let Some(remote) = incident["sys_id"].as_str().filter(|id| ours.contains(*id)) else {
                continue;
            };
            let query = crate::net::url_encode(&format!(
                "element_id={remote}^elementINcomments,work_notes^sys_created_on>={cursor}^ORDERBYsys_created_on"
            ));
            let journal = self
                .list(
                    &format!("sys_journal_field?sysparm_query={query}&sysparm_fields=sys_id,value,sys_created_by,element"),
                    "reading a ServiceNow incident's comments",
                )
                .await?;
            for entry in &journal {
                let author = entry["sys_created_by"].as_str().unwrap_or_default();
                let (Some(id), Some(value)) = (entry["sys_id"].as_str(), entry["value"].as_str())
                else {
                    continue;
                };
                if author == me || value.trim().is_empty() {
                    continue;
                }
                changes.push(Change {
                    event: format!("journal/{id}"),
                    remote_id: remote.to_owned(),
                    author: author.to_owned(),
                    what: ChangeKind::Comment(value.trim().to_owned()),
                });
            }
            // Who moved the state, from what, is in the audit table.
            let query = crate::net::url_encode(&format!(
                "documentkey={remote}^tablename=incident^fieldname=state^sys_created_on>={cursor}^ORDERBYsys_created_on"
            ));
            let audit = self
                .list(
                    &format!("sys_audit?sysparm_query={query}&sysparm_fields=sys_id,user,oldvalue,newvalue"),
                    "reading a ServiceNow incident's state changes",
                )
                .await?;
            for entry in &audit {
                let by = entry["user"].as_str().unwrap_or_default();
                let Some(id) = entry["sys_id"].as_str() else {
                    continue;
                };
                if by == me || by == "system" {
                    continue;
                }
                let new = entry["newvalue"].as_str().unwrap_or_default();
                let old = entry["oldvalue"].as_str().unwrap_or_default();
                let what = if CLOSED.contains(&new) {
                    ChangeKind::Closed(
                        match new {
                            "6" => "resolved",
                            "7" => "closed",
                            _ => "canceled",
                        }
                        .to_owned(),
                    )
                } else if CLOSED.contains(&old) {
                    ChangeKind::Reopened(new.to_owned())
                } else {
                    continue;
                };
                changes.push(Change {
                    event: format!("audit/{id}"),
                    remote_id: remote.to_owned(),
                    author: by.to_owned(),
                    what,
                });
            }
        }
        Ok((changes, next))
    }
}
