//! Tickets in the store: the thin shell around the pure engine. Each event runs in one
//! transaction: load the state it touches (locked), `decide`, apply the actions. On
//! PostgreSQL, transactions deciding one check lock that check's row in `check_locks` first, so
//! collectors sharing the database take turns; the unique `open_key` makes a duplicate open
//! ticket impossible even if that were bypassed.
//!
//! `sql.rs` is the SQL, once per backend; `decide.rs` runs one event through the engine;
//! `group.rs` keeps a group commit's state in memory while its findings are decided;
//! `sweep.rs` is the periodic pass; the reads staff and the API make are here.

use std::future::Future;

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Store, StoreError, Writer};
use crate::model::{Finding, Severity};
use crate::tickets::engine::{
    Action, AttachedIncident, ConditionView, DeviceFacts, Event, JoinableReport, NewTicket, Outage,
    Peer, ScopeView, StaffAction, State, TicketRef, TicketView,
};
use crate::tickets::{
    ConditionState, KnownFix, Level, Policy, Priority, Refusal, TicketKind, TicketState, decide,
    device_ticket_key, fingerprint, incident_key, scopes_for_check,
};

#[macro_use]
mod sql;
mod decide;
mod group;
mod sweep;

use decide::apply;
pub(super) use decide::{device_facts, lock_checks, observe};
pub(super) use group::Group;
use group::{
    GroupSql, NamedCondition, NewEvent, PriorityPatch, SavedCondition, TicketPatch, TicketsBy,
};
use sql::TicketSql;

/// A ticket as stored, for the REST API.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketRecord {
    pub id: i64,
    pub kind: TicketKind,
    pub state: TicketState,
    /// The title in English, as stored (for the API, e-mail and search).
    pub title: String,
    /// The title in words, for [`TicketRecord::title_in`]; none for tickets opened before
    /// titles had words. In the API: `{"id": "title-disk-full", "args": {…}}`.
    #[schema(value_type = Option<Object>)]
    pub title_words: Option<firstline_i18n::Message>,
    pub description: String,
    pub check: String,
    pub resource: String,
    pub device_id: Option<String>,
    pub scope: Option<String>,
    pub fingerprint: String,
    pub severity: Severity,
    pub impact: Level,
    pub urgency: Level,
    pub priority: Priority,
    pub tier: u8,
    pub assignee: Option<String>,
    pub staff_owned: bool,
    pub vip: bool,
    pub device_count: u32,
    pub opened_at_ms: i64,
    pub updated_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub closed_at_ms: Option<i64>,
    pub first_response_at_ms: Option<i64>,
    pub response_due_ms: i64,
    pub resolution_due_ms: i64,
    pub pending_since_ms: Option<i64>,
    pub response_breached: bool,
    pub resolution_breached: bool,
    pub reopen_count: u32,
    pub incident_id: Option<i64>,
    pub resolution: Option<String>,
    /// Who reported it: the local account that made the report (report tickets), or "uid N"
    /// when the device did not know the name.
    pub requester: Option<String>,
    pub requester_uid: Option<i64>,
    /// The users of its devices (from their latest inventories), each once.
    pub affected_users: Vec<String>,
}

impl TicketRecord {
    /// The title in `lang`: its words in that language (an incident's with its current
    /// number of devices, which grows after the words were made), else the stored title.
    pub fn title_in(&self, lang: firstline_i18n::Lang) -> String {
        let Some(words) = &self.title_words else {
            return self.title.clone();
        };
        match self.kind {
            TicketKind::Incident => words.clone().arg("count", self.device_count).text(lang),
            TicketKind::Device | TicketKind::Report => words.text(lang),
        }
    }

    fn view(&self) -> TicketView {
        TicketView {
            id: self.id,
            kind: self.kind,
            state: self.state,
            staff_owned: self.staff_owned,
            assignee: self.assignee.clone(),
            check: self.check.clone(),
            fingerprint: self.fingerprint.clone(),
            impact: self.impact,
            urgency: self.urgency,
            priority: self.priority,
            tier: self.tier,
            opened_at_ms: self.opened_at_ms,
            resolved_at_ms: self.resolved_at_ms,
            response_due_ms: self.response_due_ms,
            resolution_due_ms: self.resolution_due_ms,
            first_response_at_ms: self.first_response_at_ms,
            pending_since_ms: self.pending_since_ms,
            response_breached: self.response_breached,
            resolution_breached: self.resolution_breached,
            device_count: self.device_count,
            vip: self.vip,
        }
    }
}

/// One entry of a ticket's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub at_ms: i64,
    pub kind: String,
    pub actor: Option<String>,
    pub text: String,
    /// Evidence attached to the entry (the agent's JSON), when there is some.
    pub data: Option<serde_json::Value>,
}

/// A device listed on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketDevice {
    pub device_id: String,
    pub hostname: String,
    pub added_at_ms: i64,
    pub recovered_at_ms: Option<i64>,
}

/// A ticket with everything staff need to work it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketRecord,
    pub devices: Vec<TicketDevice>,
    pub timeline: Vec<TimelineEntry>,
    /// Fixes that worked for this fingerprint before, most often first.
    pub suggested_fixes: Vec<KnownFix>,
    pub problem_candidate: bool,
    /// Tickets about the same trouble (a user's report and the device's tickets).
    pub linked_tickets: Vec<i64>,
    /// Its twins in the ticket systems kept in step (`[[ticket_systems]]`), with what is
    /// still waiting to go out.
    pub ticket_systems: Vec<crate::store::sync::SyncLink>,
}

/// A condition as the REST API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConditionRecord {
    pub check: String,
    pub resource: String,
    pub state: ConditionState,
    pub severity: Severity,
    pub summary: String,
    pub since_ms: i64,
    pub updated_at_ms: i64,
    /// The ticket it feeds, if any.
    pub ticket_id: Option<i64>,
}

/// Which tickets to list, and in which order. Only the filters given are applied, each in
/// SQL, before the limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    /// A state, or "open" for every open state.
    pub state: Option<String>,
    pub priority: Option<u8>,
    pub tier: Option<u8>,
    /// Tickets listing this device (its own tickets and the incidents it is part of).
    pub device_id: Option<String>,
    pub kind: Option<TicketKind>,
    /// Tickets assigned to one user, or to no one.
    pub assignee: Option<AssigneeFilter>,
    /// A site: device and report tickets whose device is at that site, and incidents whose
    /// scope is `site=…` that site.
    pub site: Option<String>,
    /// Tickets whose check's name starts with this (`dns.` for every DNS check).
    pub check_prefix: Option<String>,
    /// Report tickets made by this local account.
    pub requester: Option<String>,
    /// Tickets whose `updated_at_ms` is at least this.
    pub changed_since_ms: Option<i64>,
    pub order: TicketOrder,
    /// At most this many (default 500, at most 5000).
    pub limit: Option<u32>,
}

/// Whose tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    Unassigned,
    User(String),
}

/// The order of a ticket list, and for the orders a client pages through, where the previous
/// page ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketOrder {
    /// The staff queue's: open tickets first, then by priority, due time and id. Not for
    /// paging: a ticket whose priority changes moves.
    #[default]
    Queue,
    /// By id, after `after`: a ticket never moves, so paging returns each ticket that
    /// existed when it began exactly once; tickets opened meanwhile come at the end.
    Id { after: Option<i64> },
    /// By `(updated_at_ms, id)`, after `after`: for synchronising changes. A ticket updated
    /// while a client pages moves behind the cursor and is returned again on a later page,
    /// with its new state.
    Updated { after: Option<(i64, i64)> },
}

/// A value bound to a placeholder of a built statement.
enum Bind {
    Text(String),
    Int(i64),
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Held conditions whose hold passed without an incident forming: they got tickets.
    pub holds_released: u32,
    pub devices_stale: u32,
    pub devices_back: u32,
    pub conditions_settled: u32,
    pub sla_breaches: u32,
    /// Reproduce requests nobody answered in time.
    pub reproduce_expired: u32,
    /// Items that failed (logged); the next sweep tries them again.
    pub failed: u32,
}

/// Why a staff action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for StaffError {
    fn from(error: sqlx::Error) -> Self {
        StaffError::Store(StoreError::Database(error))
    }
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

fn resolve(reference: TicketRef, opened: &[i64]) -> Result<i64> {
    match reference {
        TicketRef::Existing(id) => Ok(id),
        TicketRef::New(index) => opened.get(index).copied().ok_or(StoreError::Invalid {
            what: "ticket decision",
            detail: format!("action refers to new ticket {index}, which was not opened"),
        }),
    }
}

/// One sweep item's outcome: its value, or (logged and counted as failed) nothing.
fn tally<T>(outcome: Result<T>, report: &mut SweepReport, what: &str, item: &str) -> Option<T> {
    match outcome {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(item, error = %e, "sweep: {what} failed; skipped, the next sweep tries again");
            report.failed += 1;
            None
        }
    }
}

fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn flag(value: i64) -> bool {
    value != 0
}

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

/// At most this many affected users are listed on a ticket (an incident may span a fleet).
pub const MAX_AFFECTED_USERS: usize = 100;

/// Account names from devices' `users_json` lists, each once, in order; a list that does
/// not read is skipped (the device's next inventory rewrites it).
fn merge_users<'a>(lists: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    for list in lists {
        for user in serde_json::from_str::<Vec<String>>(list).unwrap_or_default() {
            if users.len() >= MAX_AFFECTED_USERS {
                return users;
            }
            if !users.contains(&user) {
                users.push(user);
            }
        }
    }
    users
}

/// Adds the accounts of `more` not listed yet, up to [`MAX_AFFECTED_USERS`].
fn add_users<'a>(users: &mut Vec<String>, more: impl Iterator<Item = &'a str>) {
    for user in more {
        if users.len() >= MAX_AFFECTED_USERS {
            return;
        }
        if !users.iter().any(|known| known == user) {
            users.push(user.to_owned());
        }
    }
}

/// Severities at or above `min`, as stored.
fn severities_from(min: Severity) -> [&'static str; 3] {
    let all = [Severity::Info, Severity::Warning, Severity::Critical];
    let mut listed = ["critical"; 3];
    for (slot, severity) in listed.iter_mut().zip(all.iter().filter(|s| **s >= min)) {
        *slot = severity.as_str();
    }
    listed
}
impl Store {
    /// Replaces the device's site and scopes from a fresh inventory.
    pub(super) async fn store_scopes(
        &self,
        device_id: &str,
        inventory: &crate::model::Inventory,
    ) -> Result<()> {
        let scopes = crate::tickets::device_scopes(
            &inventory.site,
            &inventory.gateways,
            &inventory.dns_servers,
        );
        let site = scopes
            .first()
            .and_then(|scope| scope.strip_prefix("site="))
            .unwrap_or("default")
            .to_owned();
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            sqlx::query("UPDATE devices SET site = $1 WHERE id = $2")
                .bind(&site)
                .bind(device_id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM device_scopes WHERE device_id = $1")
                .bind(device_id)
                .execute(&mut *transaction)
                .await?;
            for scope in &scopes {
                sqlx::query("INSERT INTO device_scopes (device_id, scope) VALUES ($1, $2) ON CONFLICT (device_id, scope) DO NOTHING")
                    .bind(device_id)
                    .bind(scope)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// The device's conditions that are not resolved, worst first.
    pub async fn open_conditions(&self, device_id: &str) -> Result<Vec<ConditionRecord>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT check_name, resource, state, severity, summary, since_ms, updated_at_ms, ticket_id \
                 FROM conditions WHERE device_id = $1 AND state <> 'resolved' ORDER BY check_name, resource",
            )
            .bind(device_id)
            .fetch_all(pool)
            .await?;
            let mut conditions = Vec::with_capacity(rows.len());
            for row in &rows {
                let state: String = row.try_get("state")?;
                let severity: String = row.try_get("severity")?;
                conditions.push(ConditionRecord {
                    check: row.try_get("check_name")?,
                    resource: row.try_get("resource")?,
                    state: ConditionState::parse(&state).ok_or_else(|| corrupt("condition state", state.clone()))?,
                    severity: Severity::parse(&severity).ok_or_else(|| corrupt("condition severity", severity.clone()))?,
                    summary: row.try_get("summary")?,
                    since_ms: row.try_get("since_ms")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                    ticket_id: row.try_get("ticket_id")?,
                });
            }
            conditions.sort_by_key(|condition| std::cmp::Reverse(condition.severity));
            Ok(conditions)
        })
    }

    /// Marks a device as a VIP's (or not): its tickets get higher impact.
    pub async fn set_device_vip(&self, device_id: &str, vip: bool) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query("UPDATE devices SET vip = $1 WHERE id = $2")
                .bind(i64::from(vip))
                .bind(device_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Tickets matching `filter`, in its order (by default the queue's: open ones first, by
    /// priority and then by how soon they fall due).
    pub async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<TicketRecord>> {
        let limit = i64::from(filter.limit.unwrap_or(500).clamp(1, 5000));
        // Only the filters given are in the statement, so each can use its index (with
        // `$1 IS NULL OR …` both databases scan every ticket); "open" is the range of
        // `tickets_by_queue_order` whose first column is 0. The text is fixed fragments only.
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mut bind = |value: Bind| {
            binds.push(value);
            format!("${}", binds.len())
        };
        match filter.state.as_deref() {
            Some("open") => {
                conditions.push("(CASE WHEN open_key IS NULL THEN 1 ELSE 0 END) = 0".to_owned())
            }
            Some(state) => {
                conditions.push(format!("state = {}", bind(Bind::Text(state.to_owned()))))
            }
            None => {}
        }
        if let Some(priority) = filter.priority {
            conditions.push(format!(
                "priority = {}",
                bind(Bind::Int(i64::from(priority)))
            ));
        }
        if let Some(tier) = filter.tier {
            conditions.push(format!("tier = {}", bind(Bind::Int(i64::from(tier)))));
        }
        if let Some(device_id) = &filter.device_id {
            let device = bind(Bind::Text(device_id.clone()));
            conditions.push(format!(
                "(device_id = {device} OR id IN (SELECT ticket_id FROM ticket_devices WHERE device_id = {device}))"
            ));
        }
        if let Some(kind) = filter.kind {
            conditions.push(format!(
                "kind = {}",
                bind(Bind::Text(kind.as_str().to_owned()))
            ));
        }
        match &filter.assignee {
            Some(AssigneeFilter::Unassigned) => conditions.push("assignee IS NULL".to_owned()),
            Some(AssigneeFilter::User(name)) => {
                conditions.push(format!("assignee = {}", bind(Bind::Text(name.clone()))))
            }
            None => {}
        }
        if let Some(site) = &filter.site {
            let site_name = bind(Bind::Text(site.clone()));
            let scope = bind(Bind::Text(format!("site={site}")));
            conditions.push(format!(
                "((device_id IS NOT NULL AND device_id IN (SELECT id FROM devices WHERE site = {site_name})) \
                 OR (device_id IS NULL AND scope = {scope}))"
            ));
        }
        if let Some(prefix) = &filter.check_prefix {
            // substr counts characters on both databases; LIKE would need its wildcards
            // escaped and ignores case on SQLite.
            let length = bind(Bind::Int(
                i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX),
            ));
            let text = bind(Bind::Text(prefix.clone()));
            conditions.push(format!(
                "substr(check_name, 1, CAST({length} AS INTEGER)) = {text}"
            ));
        }
        if let Some(requester) = &filter.requester {
            conditions.push(format!(
                "requester = {}",
                bind(Bind::Text(requester.clone()))
            ));
        }
        if let Some(since) = filter.changed_since_ms {
            conditions.push(format!("updated_at_ms >= {}", bind(Bind::Int(since))));
        }
        let order = match filter.order {
            TicketOrder::Queue => {
                "CASE WHEN open_key IS NULL THEN 1 ELSE 0 END, priority, resolution_due_ms, id"
            }
            TicketOrder::Id { after } => {
                if let Some(after) = after {
                    conditions.push(format!("id > {}", bind(Bind::Int(after))));
                }
                "id"
            }
            TicketOrder::Updated { after } => {
                if let Some((updated_at_ms, id)) = after {
                    let at = bind(Bind::Int(updated_at_ms));
                    let id = bind(Bind::Int(id));
                    conditions.push(format!(
                        "(updated_at_ms > {at} OR (updated_at_ms = {at} AND id > {id}))"
                    ));
                }
                "updated_at_ms, id"
            }
        };
        let limit_placeholder = bind(Bind::Int(limit));
        let sql = format!(
            "SELECT * FROM tickets{}{} ORDER BY {order} LIMIT {limit_placeholder}",
            if conditions.is_empty() { "" } else { " WHERE " },
            conditions.join(" AND "),
        );
        with_pool!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for value in &binds {
                query = match value {
                    Bind::Text(text) => query.bind(text.as_str()),
                    Bind::Int(number) => query.bind(*number),
                };
            }
            let rows = query.fetch_all(pool).await?;
            let mut tickets = Vec::with_capacity(rows.len());
            for row in &rows {
                tickets.push(ticket_record!(row));
            }
            // The users of the listed tickets' devices, in one query over their ids (a list of
            // a device's tickets spans the whole year: its id range would be every ticket).
            if let (Some(first), Some(last)) = (
                tickets.iter().map(|t| t.id).min(),
                tickets.iter().map(|t| t.id).max(),
            ) {
                let ids: Vec<String> = tickets.iter().map(|t| t.id.to_string()).collect();
                // Integers read from the database, joined with commas.
                let user_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT td.ticket_id, d.users_json FROM ticket_devices td JOIN devices d ON d.id = td.device_id \
                     WHERE td.ticket_id IN ({}) AND d.users_json IS NOT NULL \
                     ORDER BY td.ticket_id, td.added_at_ms, td.device_id",
                    ids.join(",")
                )))
                .persistent(false)
                .fetch_all(pool)
                .await?;
                let mut by_ticket: Vec<(i64, String)> = Vec::with_capacity(user_rows.len());
                for row in &user_rows {
                    by_ticket.push((row.try_get("ticket_id")?, row.try_get("users_json")?));
                }
                // Reporters an incident explained are among its affected users too.
                let reporter_rows = sqlx::query(
                    "SELECT ticket_id, requester FROM report_links WHERE ticket_id >= $1 AND ticket_id <= $2 \
                     AND how = 'known_outage' AND requester IS NOT NULL ORDER BY ticket_id, at_ms",
                )
                .bind(first)
                .bind(last)
                .fetch_all(pool)
                .await?;
                let mut reporters: Vec<(i64, String)> = Vec::with_capacity(reporter_rows.len());
                for row in &reporter_rows {
                    reporters.push((row.try_get("ticket_id")?, row.try_get("requester")?));
                }
                for ticket in &mut tickets {
                    let lists = by_ticket.iter().filter(|(id, _)| *id == ticket.id).map(|(_, json)| json.as_str());
                    ticket.affected_users = merge_users(lists);
                    add_users(
                        &mut ticket.affected_users,
                        reporters.iter().filter(|(id, _)| *id == ticket.id).map(|(_, name)| name.as_str()),
                    );
                }
            }
            Ok(tickets)
        })
    }

    /// A ticket with its devices, timeline and known fixes.
    pub async fn ticket_detail(&self, id: i64) -> Result<Option<TicketDetail>> {
        let Some(mut detail) = self.ticket_detail_with(id, true).await? else {
            return Ok(None);
        };
        detail.ticket_systems = self.ticket_sync(id).await?;
        Ok(Some(detail))
    }

    /// As [`Store::ticket_detail`]; without `timeline` the (possibly long) timeline is left
    /// out, for notifications that do not show it.
    pub(super) async fn ticket_detail_with(
        &self,
        id: i64,
        timeline: bool,
    ) -> Result<Option<TicketDetail>> {
        with_pool!(self, pool => {
            let Some(row) = sqlx::query("SELECT * FROM tickets WHERE id = $1").bind(id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let mut ticket = ticket_record!(&row);
            let device_rows = sqlx::query(
                "SELECT td.device_id, d.hostname, d.users_json, td.added_at_ms, td.recovered_at_ms FROM ticket_devices td \
                 JOIN devices d ON d.id = td.device_id WHERE td.ticket_id = $1 ORDER BY td.added_at_ms, td.device_id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let mut devices = Vec::with_capacity(device_rows.len());
            let mut users_lists: Vec<Option<String>> = Vec::with_capacity(device_rows.len());
            for row in &device_rows {
                users_lists.push(row.try_get("users_json")?);
                devices.push(TicketDevice {
                    device_id: row.try_get("device_id")?,
                    hostname: row.try_get("hostname")?,
                    added_at_ms: row.try_get("added_at_ms")?,
                    recovered_at_ms: row.try_get("recovered_at_ms")?,
                });
            }
            ticket.affected_users = merge_users(users_lists.iter().flatten().map(String::as_str));
            let reporter_rows = sqlx::query(
                "SELECT requester FROM report_links WHERE ticket_id = $1 AND how = 'known_outage' \
                 AND requester IS NOT NULL ORDER BY at_ms LIMIT 1000",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let mut reporters: Vec<String> = Vec::with_capacity(reporter_rows.len());
            for row in &reporter_rows {
                reporters.push(row.try_get("requester")?);
            }
            add_users(&mut ticket.affected_users, reporters.iter().map(String::as_str));
            let event_rows = if timeline {
                sqlx::query("SELECT * FROM ticket_events WHERE ticket_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(pool)
                    .await?
            } else {
                Vec::new()
            };
            let mut timeline = Vec::with_capacity(event_rows.len());
            for row in &event_rows {
                let data_json: Option<String> = row.try_get("data_json")?;
                timeline.push(TimelineEntry {
                    at_ms: row.try_get("at_ms")?,
                    kind: row.try_get("kind")?,
                    actor: row.try_get("actor")?,
                    text: row.try_get("text")?,
                    data: data_json.map(|json| {
                        serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json))
                    }),
                });
            }
            let fix_rows = sqlx::query(
                "SELECT solution, worked_count FROM solutions WHERE fingerprint = $1 ORDER BY worked_count DESC, last_at_ms DESC LIMIT 10",
            )
            .bind(&ticket.fingerprint)
            .fetch_all(pool)
            .await?;
            let mut suggested_fixes = Vec::with_capacity(fix_rows.len());
            for row in &fix_rows {
                suggested_fixes.push(KnownFix {
                    solution: row.try_get("solution")?,
                    worked_count: count(row.try_get("worked_count")?),
                });
            }
            let problem_candidate = sqlx::query("SELECT fingerprint FROM problems WHERE fingerprint = $1")
                .bind(&ticket.fingerprint)
                .fetch_optional(pool)
                .await?
                .is_some();
            let link_rows = sqlx::query("SELECT linked_id FROM ticket_links WHERE ticket_id = $1 ORDER BY linked_id")
                .bind(id)
                .fetch_all(pool)
                .await?;
            let mut linked_tickets = Vec::with_capacity(link_rows.len());
            for row in &link_rows {
                linked_tickets.push(row.try_get::<i64, _>("linked_id")?);
            }
            Ok(Some(TicketDetail { ticket, devices, timeline, suggested_fixes, problem_candidate, linked_tickets, ticket_systems: Vec::new() }))
        })
    }

    /// The checks of the conditions feeding `tickets`, in name order.
    async fn checks_feeding(&self, tickets: &[i64]) -> Result<Vec<String>> {
        let mut checks: Vec<String> = Vec::new();
        for &id in tickets {
            let rows: Vec<String> = with_pool!(self, pool => {
                sqlx::query_scalar("SELECT DISTINCT check_name FROM conditions WHERE ticket_id = $1")
                    .bind(id)
                    .fetch_all(pool)
                    .await
            })?;
            checks.extend(rows);
        }
        checks.sort();
        checks.dedup();
        Ok(checks)
    }

    /// A person acts on a ticket: decided by the engine, applied in one transaction.
    pub async fn staff_action(
        &self,
        ticket_id: i64,
        actor: &str,
        action: &StaffAction,
        now_ms: i64,
    ) -> std::result::Result<(), StaffError> {
        let policy = self.policy.clone();
        // A merge moves conditions: it takes their checks' turns and locks first, in name
        // order, as a group commit does, then both tickets, the lower id first, so neither a
        // group commit nor another merge waits on it crosswise.
        let merge_checks = match action {
            StaffAction::Merge { into } => self.checks_feeding(&[ticket_id, *into]).await?,
            _ => Vec::new(),
        };
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let _turns = if postgres {
            self.check_turns
                .take(merge_checks.iter().map(String::as_str))
                .await
        } else {
            Vec::new()
        };
        with_pool!(self, pool => bounded_transaction!(self, pool, Writer::StaffAction, StaffError, |transaction| {
            if !merge_checks.is_empty() {
                transaction.lock_check_names(&merge_checks).await?;
            }
            let merge_into = match action {
                StaffAction::Merge { into } if *into < ticket_id => transaction.ticket(*into).await?,
                _ => None,
            };
            let ticket = transaction.ticket(ticket_id).await?;
            let merge_into = match action {
                StaffAction::Merge { into } if *into > ticket_id => transaction.ticket(*into).await?,
                _ => merge_into,
            };
            let feeding = match action {
                StaffAction::Merge { .. } if ticket.is_some() && merge_into.is_some() => {
                    transaction.conditions_feeding(ticket_id).await?
                }
                _ => Vec::new(),
            };
            if matches!(action, StaffAction::Reopen | StaffAction::RequesterAnswer { fixed: false, .. }) {
                // One open ticket per key: a newer one may have opened since this resolved.
                let open = sqlx::query(
                    "SELECT id FROM tickets WHERE open_key = (SELECT ticket_key FROM tickets WHERE id = $1) AND id <> $1",
                )
                .bind(ticket_id)
                .fetch_optional(&mut *transaction)
                .await?;
                if let Some(row) = open {
                    let open: i64 = row.try_get("id")?;
                    transaction.rollback().await?;
                    return Err(Refusal::AlreadyOpen { id: ticket_id, open }.into());
                }
            }
            let mut state = State {
                ticket: ticket.as_ref().map(TicketRecord::view),
                merge_into: merge_into.as_ref().map(TicketRecord::view),
                feeding,
                ..State::default()
            };
            // Resolving or cancelling an incident by hand releases its devices still failing
            // (merging one moves them instead).
            if let Some(incident) = ticket.as_ref().filter(|t| {
                t.kind == TicketKind::Incident && t.state.is_open() && !matches!(action, StaffAction::Merge { .. })
            }) {
                let still_firing = transaction.still_firing(incident.id, "").await?;
                state.attached_incident = Some(AttachedIncident {
                    ticket: incident.view(),
                    scope: incident.scope.clone().unwrap_or_default(),
                    still_firing,
                });
            }
            let event = Event::Staff { actor, action, at_ms: now_ms };
            let actions = match decide(&event, &state, &policy) {
                Ok(actions) => actions,
                Err(refusal) => {
                    transaction.rollback().await?;
                    return Err(refusal.into());
                }
            };
            apply(&mut transaction, &actions, now_ms).await?;
            transaction.commit().await?;
            Ok(())
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{TestStore, backends};
    use super::*;
    use crate::model::Inventory;
    use crate::store::FindingBatch;
    use crate::store::NewDevice;

    pub(crate) const MINUTE: i64 = 60_000;
    pub(crate) const T0: i64 = 1_800_000_000_000;

    pub(crate) async fn enroll(store: &Store, id: &str, site: &str) {
        store
            .insert_token(id.as_bytes(), 0, i64::MAX)
            .await
            .expect("token");
        store
            .enroll_device(
                id.as_bytes(),
                1,
                &NewDevice {
                    id: id.to_owned(),
                    hostname: format!("pc-{id}"),
                    agent_version: "0.1.0".to_owned(),
                    certificate_serial: "01".to_owned(),
                    certificate_not_after_ms: i64::MAX,
                },
            )
            .await
            .expect("enroll");
        let inventory = Inventory {
            hostname: format!("pc-{id}"),
            site: site.to_owned(),
            dns_servers: vec!["192.0.2.53".to_owned()],
            ..Inventory::default()
        };
        store
            .store_inventory(id, &inventory, T0)
            .await
            .expect("inventory");
    }

    fn finding(sequence: u64, check: &str, severity: Severity) -> Finding {
        Finding {
            sequence,
            check: check.to_owned(),
            resource: "/".to_owned(),
            severity,
            summary: format!("{check} {}", severity.as_str()),
            evidence_json: "{\"used_pct\":97}".to_owned(),
            observed_at_ms: T0,
        }
    }

    pub(crate) async fn store_one(store: &Store, device: &str, finding: Finding, at_ms: i64) {
        let sequence = finding.sequence;
        store
            .store_findings(device, &[finding], sequence, at_ms)
            .await
            .expect("store findings");
    }

    fn open_filter() -> TicketFilter {
        TicketFilter {
            state: Some("open".to_owned()),
            ..TicketFilter::default()
        }
    }

    /// Everything the tickets say, through the store's own reads: every ticket with its
    /// devices, timeline and links, and every device's open conditions.
    async fn everything(store: &Store, devices: &[String]) -> String {
        let tickets = store
            .tickets(&TicketFilter {
                limit: Some(10_000),
                ..TicketFilter::default()
            })
            .await
            .expect("tickets");
        let mut out = String::new();
        for ticket in &tickets {
            let detail = store
                .ticket_detail(ticket.id)
                .await
                .expect("detail")
                .expect("the ticket");
            out.push_str(&format!("{detail:?}\n"));
        }
        for device in devices {
            let conditions = store.open_conditions(device).await.expect("conditions");
            out.push_str(&format!("{device}: {conditions:?}\n"));
        }
        out
    }

    /// A group commit decides as one finding at a time would: nine devices over two sites (an
    /// incident forms in one), two checks each, conditions firing, changing severity, clearing
    /// and firing again twice within a group, a batch redelivered and one sent twice in a group, stored once as one
    /// group per minute and once a finding per group; every ticket, timeline, link and
    /// condition comes out the same.
    #[tokio::test]
    async fn a_group_decides_exactly_as_one_finding_at_a_time() {
        let grouped = backends().await;
        let alone = backends().await;
        for (grouped, alone) in grouped.iter().zip(&alone) {
            let devices: Vec<String> = (0..9).map(|n| format!("dev{n}")).collect();
            for (n, device) in devices.iter().enumerate() {
                let site = if n < 7 { "warsaw" } else { "athens" };
                enroll(&grouped.store, device, site).await;
                enroll(&alone.store, device, site).await;
            }
            let pattern = [
                Severity::Warning,
                Severity::Critical,
                Severity::Warning,
                Severity::Ok,
                Severity::Critical,
                Severity::Ok,
                Severity::Warning,
            ];
            let mut sequences = vec![0u64; devices.len()];
            for minute in 0..14i64 {
                let at_ms = T0 + minute * MINUTE;
                let mut batches = Vec::new();
                for (n, device) in devices.iter().enumerate() {
                    let mut findings = Vec::new();
                    for (c, check) in ["disk.used_pct", "dns.resolve"].iter().enumerate() {
                        if (minute as usize + n + c) % 3 == 2 {
                            continue;
                        }
                        // Three findings per condition per group: each is decided on what
                        // the ones before made of it (a device can leave an incident and
                        // join it again within one group).
                        for step in 0..3 {
                            sequences[n] += 1;
                            let severity =
                                pattern[(3 * minute as usize + step + n * c) % pattern.len()];
                            let mut finding = finding(sequences[n], check, severity);
                            finding.summary =
                                format!("{check} on {device} at minute {minute}, step {step}");
                            findings.push(finding);
                        }
                    }
                    if findings.is_empty() {
                        continue;
                    }
                    batches.push(FindingBatch {
                        device_id: device.clone(),
                        acknowledged_through: sequences[n],
                        findings,
                        received_at_ms: at_ms,
                        health: None,
                    });
                }
                // A batch sent twice in one group, and the previous minute's first batch again.
                if let Some(first) = batches.first().cloned() {
                    batches.push(first);
                }
                grouped
                    .store
                    .store_finding_batches(&batches)
                    .await
                    .expect("one group");
                for batch in &batches {
                    for finding in &batch.findings {
                        alone
                            .store
                            .store_finding_batches(&[FindingBatch {
                                findings: vec![finding.clone()],
                                acknowledged_through: finding.sequence,
                                ..batch.clone()
                            }])
                            .await
                            .expect("a finding alone");
                    }
                }
            }
            let (grouped_says, alone_says) = (
                everything(&grouped.store, &devices).await,
                everything(&alone.store, &devices).await,
            );
            assert!(
                grouped_says.contains("Incident"),
                "an incident formed: {grouped_says}"
            );
            assert_eq!(grouped_says, alone_says);
        }
    }

    #[tokio::test]
    async fn a_condition_opens_resolves_and_reopens_one_ticket_and_redelivery_changes_nothing() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            store_one(
                store,
                "a",
                finding(1, "disk.free_low", Severity::Warning),
                T0,
            )
            .await;
            // Redelivered: stored once, decided once.
            store_one(
                store,
                "a",
                finding(1, "disk.free_low", Severity::Warning),
                T0 + 1,
            )
            .await;
            let open = store.tickets(&open_filter()).await.expect("tickets");
            assert_eq!(open.len(), 1, "{backend}");
            let id = open[0].id;
            assert_eq!(
                (open[0].kind, open[0].state, open[0].priority.number()),
                (TicketKind::Device, TicketState::New, 4),
                "{backend}"
            );

            store_one(
                store,
                "a",
                finding(2, "disk.free_low", Severity::Ok),
                T0 + MINUTE,
            )
            .await;
            let detail = store
                .ticket_detail(id)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(detail.ticket.state, TicketState::Resolved, "{backend}");
            assert!(
                detail
                    .timeline
                    .iter()
                    .any(|e| e.text.starts_with("Auto-resolved")),
                "{backend}: {:?}",
                detail.timeline
            );
            assert_eq!(
                detail.timeline[0].data,
                Some(serde_json::json!({"used_pct": 97})),
                "{backend}: evidence is kept as JSON"
            );

            store_one(
                store,
                "a",
                finding(3, "disk.free_low", Severity::Critical),
                T0 + 2 * MINUTE,
            )
            .await;
            let open = store.tickets(&open_filter()).await.expect("tickets");
            assert_eq!(
                open.iter().map(|t| t.id).collect::<Vec<_>>(),
                [id],
                "{backend}: reopened, not new"
            );
            assert_eq!(open[0].reopen_count, 1, "{backend}");
        }
    }

    /// A ticket merged into another feeds it from then on: its device's later findings
    /// add to the ticket merged into (no new ticket), a device ticket made of two no longer
    /// resolves itself, and an incident merged into tracks the device's recovery.
    #[tokio::test]
    async fn a_merged_ticket_feeds_the_ticket_it_was_merged_into() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let mut policy = Policy::default();
            policy.correlation.min_devices = 3;
            policy.correlation.hold = std::time::Duration::ZERO;
            let store = store.clone().with_policy(policy);
            for id in ["d1", "d2", "d3", "d4", "d5"] {
                enroll(&store, id, "hq").await;
            }
            store_one(
                &store,
                "d1",
                finding(1, "disk.free_low", Severity::Warning),
                T0,
            )
            .await;
            store_one(
                &store,
                "d2",
                finding(1, "disk.free_low", Severity::Warning),
                T0,
            )
            .await;
            let open = store.tickets(&open_filter()).await.expect("tickets");
            assert_eq!(open.len(), 2, "{backend}: {open:?}");
            let of = |device: &str| {
                open.iter()
                    .find(|t| t.device_id.as_deref() == Some(device))
                    .map(|t| t.id)
                    .expect("a ticket")
            };
            let (a, b) = (of("d1"), of("d2"));

            let refused = |outcome: std::result::Result<(), StaffError>| match outcome {
                Err(StaffError::Refused(refusal)) => refusal,
                other => panic!("{backend}: expected a refusal, got {other:?}"),
            };
            let merge = |ticket: i64, into: i64| {
                let store = store.clone();
                async move {
                    store
                        .staff_action(ticket, "alice", &StaffAction::Merge { into }, T0 + MINUTE)
                        .await
                }
            };
            assert_eq!(
                refused(merge(b, 9999).await),
                Refusal::NoMergeTarget(9999),
                "{backend}"
            );
            assert_eq!(
                refused(merge(b, b).await),
                Refusal::SameTicket(b),
                "{backend}"
            );
            merge(b, a).await.expect("merge");
            let merged = store.ticket_detail(b).await.expect("detail").expect("b");
            assert_eq!(merged.ticket.state, TicketState::Cancelled, "{backend}");
            assert_eq!(
                merged.ticket.resolution.as_deref(),
                Some(format!("merged into #{a}").as_str()),
                "{backend}"
            );
            assert_eq!(merged.linked_tickets, vec![a], "{backend}");
            let kept = store.ticket_detail(a).await.expect("detail").expect("a");
            let devices: Vec<&str> = kept.devices.iter().map(|d| d.device_id.as_str()).collect();
            assert_eq!(devices, ["d1", "d2"], "{backend}");
            assert!(kept.ticket.staff_owned, "{backend}");
            assert_eq!(
                kept.ticket.assignee.as_deref(),
                Some("alice"),
                "{backend}: who merged owns it"
            );
            assert!(
                kept.timeline.iter().any(|e| e.kind == "merge"
                    && e.text.contains(&format!("#{b} merged into this ticket"))),
                "{backend}: {:?}",
                kept.timeline
            );
            // A cancelled ticket cannot be merged into.
            assert!(
                matches!(refused(merge(a, b).await), Refusal::NotOpen { id, .. } if id == b),
                "{backend}"
            );

            // d2 keeps failing, worse: its finding goes to the merged ticket, no new one opens.
            store_one(
                &store,
                "d2",
                finding(2, "disk.free_low", Severity::Critical),
                T0 + 2 * MINUTE,
            )
            .await;
            let open = store.tickets(&open_filter()).await.expect("tickets");
            assert_eq!(
                open.iter().map(|t| t.id).collect::<Vec<_>>(),
                [a],
                "{backend}"
            );
            let kept = store.ticket_detail(a).await.expect("detail").expect("a");
            assert!(
                kept.timeline
                    .iter()
                    .any(|e| e.text.starts_with("pc-d2: severity warning → critical")),
                "{backend}: {:?}",
                kept.timeline
            );
            // d2 recovers while d1 still fails: the ticket a person shaped stays open.
            store_one(
                &store,
                "d2",
                finding(3, "disk.free_low", Severity::Ok),
                T0 + 3 * MINUTE,
            )
            .await;
            let kept = store.ticket_detail(a).await.expect("detail").expect("a");
            assert!(
                kept.ticket.state.is_open(),
                "{backend}: {:?}",
                kept.ticket.state
            );

            // An incident forms on three other devices; the device ticket is attached to it.
            for id in ["d3", "d4", "d5"] {
                store_one(
                    &store,
                    id,
                    finding(1, "dns.resolve", Severity::Warning),
                    T0 + 4 * MINUTE,
                )
                .await;
            }
            let incident = store
                .tickets(&open_filter())
                .await
                .expect("tickets")
                .into_iter()
                .find(|t| t.kind == TicketKind::Incident)
                .expect("an incident")
                .id;
            assert_eq!(
                refused(merge(incident, a).await),
                Refusal::IncidentIntoDevice {
                    id: incident,
                    into: a
                },
                "{backend}"
            );
            merge(a, incident).await.expect("merge into the incident");
            let detail = store
                .ticket_detail(incident)
                .await
                .expect("detail")
                .expect("incident");
            let devices: Vec<&str> = detail
                .devices
                .iter()
                .map(|d| d.device_id.as_str())
                .collect();
            // d2 had recovered: it is not listed as failing in the incident.
            assert_eq!(devices, ["d1", "d3", "d4", "d5"], "{backend}");
            let attached = store.ticket_detail(a).await.expect("detail").expect("a");
            assert_eq!(attached.ticket.incident_id, Some(incident), "{backend}");
            // d1 recovers: the incident marks it so and stays open for the others.
            store_one(
                &store,
                "d1",
                finding(2, "disk.free_low", Severity::Ok),
                T0 + 5 * MINUTE,
            )
            .await;
            let detail = store
                .ticket_detail(incident)
                .await
                .expect("detail")
                .expect("incident");
            assert!(detail.ticket.state.is_open(), "{backend}");
            let d1 = detail
                .devices
                .iter()
                .find(|d| d.device_id == "d1")
                .expect("d1");
            assert_eq!(d1.recovered_at_ms, Some(T0 + 5 * MINUTE), "{backend}");
            // d2's disk fills again: it joins the incident it was merged into. The incident is
            // cancelled by hand: d2's disk condition, another check than the incident's, is let
            // go (back to the hold), not left on a closed ticket.
            store_one(
                &store,
                "d2",
                finding(4, "disk.free_low", Severity::Warning),
                T0 + 6 * MINUTE,
            )
            .await;
            let detail = store
                .ticket_detail(incident)
                .await
                .expect("detail")
                .expect("incident");
            let d2 = detail
                .devices
                .iter()
                .find(|d| d.device_id == "d2")
                .expect("d2 joined");
            assert_eq!(d2.recovered_at_ms, None, "{backend}");
            store
                .staff_action(incident, "alice", &StaffAction::Cancel, T0 + 7 * MINUTE)
                .await
                .expect("cancel");
            let conditions = store.open_conditions("d2").await.expect("conditions");
            let disk = conditions
                .iter()
                .find(|c| c.check == "disk.free_low")
                .expect("d2's disk");
            assert_eq!(disk.ticket_id, None, "{backend}: {conditions:?}");
        }
    }

    #[tokio::test]
    async fn devices_racing_in_one_scope_form_exactly_one_incident() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let mut policy = Policy::default();
            policy.correlation.min_devices = 3;
            let store = store.clone().with_policy(policy);
            let ids: Vec<String> = (0..12).map(|n| format!("d{n:02}")).collect();
            for id in &ids {
                enroll(&store, id, "hq").await;
            }
            let tasks: Vec<_> = ids
                .iter()
                .map(|id| {
                    let (store, id) = (store.clone(), id.clone());
                    tokio::spawn(async move {
                        store_one(
                            &store,
                            &id,
                            finding(1, "dns.resolve", Severity::Warning),
                            T0,
                        )
                        .await;
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
            let open = store.tickets(&open_filter()).await.expect("tickets");
            let incidents: Vec<_> = open
                .iter()
                .filter(|t| t.kind == TicketKind::Incident)
                .collect();
            assert_eq!(incidents.len(), 1, "{backend}: {open:?}");
            assert_eq!(
                open.len(),
                1,
                "{backend}: device tickets merged into the incident"
            );
            assert_eq!(incidents[0].device_count, 12, "{backend}");
            assert_eq!(
                incidents[0].scope.as_deref(),
                Some("dns=192.0.2.53"),
                "{backend}"
            );

            // All but two recover: the incident resolves, and the two get tickets of their own
            // once the hold has passed without their recovering.
            for (n, id) in ids.iter().enumerate().skip(2) {
                store_one(
                    &store,
                    id,
                    finding(2, "dns.resolve", Severity::Ok),
                    T0 + MINUTE + n as i64,
                )
                .await;
            }
            assert!(
                store
                    .tickets(&open_filter())
                    .await
                    .expect("tickets")
                    .is_empty(),
                "{backend}"
            );
            let report = store.sweep(T0 + 3 * MINUTE).await.expect("sweep");
            assert_eq!(report.holds_released, 2, "{backend}");
            let open = store.tickets(&open_filter()).await.expect("tickets");
            let mut devices: Vec<_> = open.iter().map(|t| (t.kind, t.device_id.clone())).collect();
            devices.sort();
            assert_eq!(
                devices,
                [
                    (TicketKind::Device, Some("d00".to_owned())),
                    (TicketKind::Device, Some("d01".to_owned()))
                ],
                "{backend}"
            );
            let incident = store
                .ticket_detail(incidents[0].id)
                .await
                .expect("detail")
                .expect("incident");
            assert_eq!(incident.ticket.state, TicketState::Resolved, "{backend}");
            assert_eq!(incident.devices.len(), 12, "{backend}");
        }
    }

    #[tokio::test]
    async fn a_solution_is_suggested_on_the_next_ticket_with_the_same_fingerprint() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            enroll(store, "b", "hq").await;
            store_one(
                store,
                "a",
                finding(1, "disk.free_low", Severity::Warning),
                T0,
            )
            .await;
            let first = store.tickets(&open_filter()).await.expect("tickets")[0].id;
            let resolve = StaffAction::Resolve {
                solution: "Emptied the recycle bin".to_owned(),
            };
            store
                .staff_action(first, "alice", &resolve, T0 + MINUTE)
                .await
                .expect("resolve");
            assert!(
                matches!(
                    store
                        .staff_action(first, "alice", &resolve, T0 + MINUTE)
                        .await,
                    Err(StaffError::Refused(Refusal::NotOpen { .. }))
                ),
                "{backend}"
            );
            // The fix worked: a's disk recovers.
            store_one(
                store,
                "a",
                finding(2, "disk.free_low", Severity::Ok),
                T0 + 90_000,
            )
            .await;
            store_one(
                store,
                "b",
                finding(1, "disk.free_low", Severity::Warning),
                T0 + 2 * MINUTE,
            )
            .await;
            let second = store.tickets(&open_filter()).await.expect("tickets");
            assert_eq!(second.len(), 1, "{backend}");
            let detail = store
                .ticket_detail(second[0].id)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(
                detail.suggested_fixes,
                [KnownFix {
                    solution: "Emptied the recycle bin".to_owned(),
                    worked_count: 1
                }],
                "{backend}"
            );
            assert!(
                detail
                    .timeline
                    .iter()
                    .any(|e| e.kind == "known_fix" && e.text.contains("Emptied the recycle bin")),
                "{backend}"
            );
            // A staff-owned ticket is not auto-resolved when the condition clears.
            store
                .staff_action(
                    second[0].id,
                    "bob",
                    &StaffAction::Assign {
                        to: "bob".to_owned(),
                    },
                    T0 + 3 * MINUTE,
                )
                .await
                .expect("assign");
            store_one(
                store,
                "b",
                finding(2, "disk.free_low", Severity::Ok),
                T0 + 4 * MINUTE,
            )
            .await;
            let detail = store
                .ticket_detail(second[0].id)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(detail.ticket.state, TicketState::Assigned, "{backend}");
            assert!(
                detail
                    .timeline
                    .iter()
                    .any(|e| e.text.starts_with("Auto-resolve held")),
                "{backend}"
            );
        }
    }

    #[tokio::test]
    async fn the_sweep_marks_silent_devices_stale_and_escalates_breached_tickets() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            store_one(store, "a", finding(1, "dns.resolve", Severity::Warning), T0).await;
            let ticket = store.tickets(&open_filter()).await.expect("tickets")[0].clone();
            // P3 (low impact, high urgency): response due in 2 h.
            assert_eq!(ticket.priority.number(), 3, "{backend}");
            let later = T0 + 3 * 60 * MINUTE;
            let report = store.sweep(later).await.expect("sweep");
            assert_eq!(
                (report.devices_stale, report.sla_breaches),
                (1, 1),
                "{backend}"
            );
            let detail = store
                .ticket_detail(ticket.id)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(
                (detail.ticket.state, detail.ticket.tier),
                (TicketState::New, 2),
                "{backend}: stale is not resolved"
            );
            assert!(
                detail.timeline.iter().any(|e| e.kind == "stale"),
                "{backend}"
            );
            assert!(
                detail.timeline.iter().any(|e| e.kind == "escalation"),
                "{backend}"
            );
            // A second sweep finds nothing new to do.
            assert_eq!(
                store.sweep(later).await.expect("sweep"),
                SweepReport::default(),
                "{backend}"
            );
            // The device reports again.
            store.touch_device("a", later + 1).await.expect("touch");
            let report = store.sweep(later + 2).await.expect("sweep");
            assert_eq!(report.devices_back, 1, "{backend}");
        }
    }

    #[tokio::test]
    async fn a_held_condition_gets_its_own_ticket_when_no_incident_forms() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            enroll(store, "b", "hq").await;
            store_one(
                store,
                "a",
                finding(1, "disk.free_low", Severity::Warning),
                T0,
            )
            .await;
            store_one(
                store,
                "b",
                finding(1, "disk.free_low", Severity::Warning),
                T0 + 1,
            )
            .await;
            let open = store.tickets(&open_filter()).await.expect("tickets");
            assert_eq!(
                open.iter()
                    .map(|t| t.device_id.as_deref())
                    .collect::<Vec<_>>(),
                [Some("a")],
                "{backend}: b waits for an incident that may form"
            );
            let report = store.sweep(T0 + 30_000).await.expect("sweep");
            assert_eq!(report.holds_released, 0, "{backend}: still within the hold");
            let report = store.sweep(T0 + 2 * MINUTE).await.expect("sweep");
            assert_eq!(report.holds_released, 1, "{backend}");
            let mut devices: Vec<_> = store
                .tickets(&open_filter())
                .await
                .expect("tickets")
                .into_iter()
                .map(|t| t.device_id)
                .collect();
            devices.sort();
            assert_eq!(
                devices,
                [Some("a".to_owned()), Some("b".to_owned())],
                "{backend}"
            );
        }
    }

    #[tokio::test]
    async fn crashes_of_one_app_version_across_sites_are_one_incident() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let mut policy = Policy::default();
            policy.correlation.min_devices = 3;
            let store = store.clone().with_policy(policy);
            for (n, site) in ["berlin", "warsaw", "athens"].iter().enumerate() {
                let id = format!("d{n}");
                enroll(&store, &id, site).await;
                let crash = Finding {
                    check: "crash.new_file".to_owned(),
                    resource: "outlook.exe".to_owned(),
                    evidence_json: r#"{"count": 1, "app_version": "16.0.17928"}"#.to_owned(),
                    ..finding(1, "crash.new_file", Severity::Warning)
                };
                store_one(&store, &id, crash, T0 + n as i64).await;
            }
            let open = store.tickets(&open_filter()).await.expect("tickets");
            assert_eq!(open.len(), 1, "{backend}: {open:#?}");
            assert_eq!(
                (open[0].kind, open[0].scope.as_deref(), open[0].device_count),
                (TicketKind::Incident, Some("app=outlook.exe@16.0.17928"), 3),
                "{backend}"
            );
        }
    }

    #[tokio::test]
    async fn a_condition_that_fired_before_is_held_and_then_reopens_its_own_ticket() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            enroll(store, "b", "hq").await;
            store_one(
                store,
                "a",
                finding(1, "disk.free_low", Severity::Warning),
                T0,
            )
            .await;
            let first = store.tickets(&open_filter()).await.expect("tickets")[0].id;
            store_one(
                store,
                "a",
                finding(2, "disk.free_low", Severity::Ok),
                T0 + 1,
            )
            .await;
            store_one(
                store,
                "b",
                finding(1, "disk.free_low", Severity::Warning),
                T0 + 2,
            )
            .await;
            // a fails again while b fails: held, although it had a ticket before.
            store_one(
                store,
                "a",
                finding(3, "disk.free_low", Severity::Warning),
                T0 + 3,
            )
            .await;
            let open: Vec<_> = store
                .tickets(&open_filter())
                .await
                .expect("tickets")
                .into_iter()
                .map(|t| t.device_id)
                .collect();
            assert_eq!(open, [Some("b".to_owned())], "{backend}");
            let report = store.sweep(T0 + 2 * MINUTE).await.expect("sweep");
            assert_eq!(report.holds_released, 1, "{backend}");
            let reopened = store
                .ticket_detail(first)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(
                (reopened.ticket.state, reopened.ticket.reopen_count),
                (TicketState::New, 1),
                "{backend}"
            );

            // Staff cannot reopen an older ticket while one for the same key is open.
            store_one(
                store,
                "a",
                finding(4, "disk.free_low", Severity::Ok),
                T0 + 3 * MINUTE,
            )
            .await;
            store_one(
                store,
                "a",
                finding(5, "disk.free_low", Severity::Warning),
                T0 + 3 * 24 * 60 * MINUTE,
            )
            .await;
            let newer = store
                .tickets(&TicketFilter {
                    state: Some("open".to_owned()),
                    device_id: Some("a".to_owned()),
                    ..TicketFilter::default()
                })
                .await
                .expect("tickets");
            assert_eq!(newer.len(), 1, "{backend}");
            assert_ne!(
                newer[0].id, first,
                "{backend}: past the reopen window, a new ticket"
            );
            let refused = store
                .staff_action(
                    first,
                    "alice",
                    &StaffAction::Reopen,
                    T0 + 3 * 24 * 60 * MINUTE + 1,
                )
                .await;
            assert!(
                matches!(refused, Err(StaffError::Refused(Refusal::AlreadyOpen { open, .. })) if open == newer[0].id),
                "{backend}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_flapping_condition_holds_its_ticket_open_until_it_settles() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            // Fire, clear, fire, … a minute apart: six changes within the flap window.
            for step in 0..8u64 {
                let severity = if step % 2 == 0 {
                    Severity::Warning
                } else {
                    Severity::Ok
                };
                store_one(
                    store,
                    "a",
                    finding(step + 1, "disk.free_low", severity),
                    T0 + step as i64 * MINUTE,
                )
                .await;
            }
            let all = store
                .tickets(&TicketFilter::default())
                .await
                .expect("tickets");
            assert_eq!(all.len(), 1, "{backend}: one ticket for the whole episode");
            let detail = store
                .ticket_detail(all[0].id)
                .await
                .expect("detail")
                .expect("ticket");
            assert!(
                detail.ticket.state.is_open(),
                "{backend}: held open while flapping"
            );
            let flapping_notes = detail
                .timeline
                .iter()
                .filter(|e| e.kind == "flapping")
                .count();
            assert_eq!(flapping_notes, 1, "{backend}: said once");
            assert_eq!(
                store.open_conditions("a").await.expect("conditions")[0].state,
                ConditionState::Flapping,
                "{backend}"
            );
            // The last finding was a clear; an hour of quiet settles it and resolves the ticket.
            let report = store
                .sweep(T0 + 7 * MINUTE + 61 * MINUTE)
                .await
                .expect("sweep");
            assert_eq!(report.conditions_settled, 1, "{backend}");
            let detail = store
                .ticket_detail(all[0].id)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(detail.ticket.state, TicketState::Resolved, "{backend}");
            assert!(
                store
                    .open_conditions("a")
                    .await
                    .expect("conditions")
                    .is_empty(),
                "{backend}"
            );
        }
    }

    /// Every filter of the API and the queue is applied in SQL, before the limit; the id and
    /// (updated, id) orders page from a cursor without repeating or skipping a ticket.
    #[tokio::test]
    async fn each_ticket_filter_and_cursor_selects_in_sql() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let mut policy = Policy::default();
            policy.correlation.min_devices = 3;
            let store = store.clone().with_policy(policy);
            for (id, site) in [
                ("h1", "hq"),
                ("h2", "hq"),
                ("h3", "hq"),
                ("h4", "hq"),
                ("l1", "lab"),
            ] {
                enroll(&store, id, site).await;
            }
            // Three devices at hq: one incident scoped site=hq.
            for id in ["h1", "h2", "h3"] {
                store_one(
                    &store,
                    id,
                    finding(1, "memory.pressure", Severity::Warning),
                    T0,
                )
                .await;
            }
            store_one(
                &store,
                "h4",
                finding(1, "disk.free_low", Severity::Warning),
                T0 + MINUTE,
            )
            .await;
            store_one(
                &store,
                "l1",
                finding(1, "disk.free_low", Severity::Warning),
                T0 + 2 * MINUTE,
            )
            .await;
            let select = |filter: TicketFilter| {
                let store = store.clone();
                async move {
                    let mut tickets: Vec<(String, String)> = store
                        .tickets(&TicketFilter {
                            state: Some("open".to_owned()),
                            ..filter
                        })
                        .await
                        .expect("tickets")
                        .into_iter()
                        .map(|t| {
                            (
                                t.kind.as_str().to_owned(),
                                t.device_id.unwrap_or_else(|| t.scope.unwrap_or_default()),
                            )
                        })
                        .collect();
                    tickets.sort();
                    tickets
                }
            };
            let named = |list: &[(&str, &str)]| {
                list.iter()
                    .map(|(kind, on)| ((*kind).to_owned(), (*on).to_owned()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                select(TicketFilter::default()).await,
                named(&[("device", "h4"), ("device", "l1"), ("incident", "site=hq")]),
                "{backend}"
            );
            let by_site = |site: &str| TicketFilter {
                site: Some(site.to_owned()),
                ..TicketFilter::default()
            };
            assert_eq!(
                select(by_site("hq")).await,
                named(&[("device", "h4"), ("incident", "site=hq")]),
                "{backend}"
            );
            assert_eq!(
                select(by_site("lab")).await,
                named(&[("device", "l1")]),
                "{backend}"
            );
            assert_eq!(select(by_site("nowhere")).await, named(&[]), "{backend}");
            let by_check = |prefix: &str| TicketFilter {
                check_prefix: Some(prefix.to_owned()),
                ..TicketFilter::default()
            };
            assert_eq!(
                select(by_check("disk.")).await,
                named(&[("device", "h4"), ("device", "l1")]),
                "{backend}"
            );
            assert_eq!(
                select(by_check("mem")).await,
                named(&[("incident", "site=hq")]),
                "{backend}"
            );
            assert_eq!(
                select(by_check("%")).await,
                named(&[]),
                "{backend}: no wildcards"
            );
            assert_eq!(
                select(TicketFilter {
                    kind: Some(TicketKind::Incident),
                    ..TicketFilter::default()
                })
                .await,
                named(&[("incident", "site=hq")]),
                "{backend}"
            );

            let all = store.tickets(&open_filter()).await.expect("tickets");
            let lab = all
                .iter()
                .find(|t| t.device_id.as_deref() == Some("l1"))
                .expect("l1's ticket")
                .id;
            let assigned_at = T0 + 60 * MINUTE;
            store
                .staff_action(
                    lab,
                    "sam",
                    &StaffAction::Assign {
                        to: "tina".to_owned(),
                    },
                    assigned_at,
                )
                .await
                .expect("assign");
            let by_assignee = |assignee: AssigneeFilter| TicketFilter {
                assignee: Some(assignee),
                ..TicketFilter::default()
            };
            assert_eq!(
                select(by_assignee(AssigneeFilter::User("tina".to_owned()))).await,
                named(&[("device", "l1")]),
                "{backend}"
            );
            assert_eq!(
                select(by_assignee(AssigneeFilter::User("tim".to_owned()))).await,
                named(&[]),
                "{backend}"
            );
            assert_eq!(
                select(by_assignee(AssigneeFilter::Unassigned)).await,
                named(&[("device", "h4"), ("incident", "site=hq")]),
                "{backend}"
            );
            assert_eq!(
                select(TicketFilter {
                    changed_since_ms: Some(assigned_at),
                    ..TicketFilter::default()
                })
                .await,
                named(&[("device", "l1")]),
                "{backend}: the assignment bumped updated_at_ms"
            );
            assert_eq!(
                select(TicketFilter {
                    changed_since_ms: Some(assigned_at + 1),
                    ..TicketFilter::default()
                })
                .await,
                named(&[]),
                "{backend}"
            );
            let h4 = all
                .iter()
                .find(|t| t.device_id.as_deref() == Some("h4"))
                .expect("h4's ticket")
                .id;
            with_pool!(store, pool => {
                sqlx::query("UPDATE tickets SET requester = 'alice' WHERE id = $1")
                    .bind(h4)
                    .execute(pool)
                    .await
                    .expect("set a requester");
            });
            assert_eq!(
                select(TicketFilter {
                    requester: Some("alice".to_owned()),
                    ..TicketFilter::default()
                })
                .await,
                named(&[("device", "h4")]),
                "{backend}"
            );
            // Filters combine.
            assert_eq!(
                select(TicketFilter {
                    site: Some("hq".to_owned()),
                    check_prefix: Some("disk.".to_owned()),
                    ..TicketFilter::default()
                })
                .await,
                named(&[("device", "h4")]),
                "{backend}"
            );

            // Paging one at a time, by id and by (updated, id): every ticket once, in order.
            let everything = store
                .tickets(&TicketFilter {
                    order: TicketOrder::Id { after: None },
                    limit: Some(5000),
                    ..TicketFilter::default()
                })
                .await
                .expect("tickets");
            assert!(
                everything.windows(2).all(|w| w[0].id < w[1].id),
                "{backend}"
            );
            let mut by_id = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .tickets(&TicketFilter {
                        order: TicketOrder::Id { after },
                        limit: Some(1),
                        ..TicketFilter::default()
                    })
                    .await
                    .expect("page");
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                by_id.extend(page.iter().map(|t| t.id));
            }
            assert_eq!(
                by_id,
                everything.iter().map(|t| t.id).collect::<Vec<_>>(),
                "{backend}"
            );
            let mut by_update = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .tickets(&TicketFilter {
                        order: TicketOrder::Updated { after },
                        limit: Some(1),
                        ..TicketFilter::default()
                    })
                    .await
                    .expect("page");
                let Some(last) = page.last() else { break };
                after = Some((last.updated_at_ms, last.id));
                by_update.push((last.updated_at_ms, last.id));
            }
            let mut expected: Vec<(i64, i64)> =
                everything.iter().map(|t| (t.updated_at_ms, t.id)).collect();
            expected.sort();
            assert_eq!(by_update, expected, "{backend}");
            assert_eq!(
                by_update.last().map(|(_, id)| *id),
                Some(lab),
                "{backend}: the last one changed is last"
            );
        }
    }

    #[tokio::test]
    async fn stats_and_the_knowledge_base_reflect_the_tickets() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "berlin").await;
            enroll(store, "b", "warsaw").await;
            // a: fires, cleared by itself after 10 minutes.
            store_one(
                store,
                "a",
                finding(1, "disk.free_low", Severity::Warning),
                T0,
            )
            .await;
            store_one(
                store,
                "a",
                finding(2, "disk.free_low", Severity::Ok),
                T0 + 10 * MINUTE,
            )
            .await;
            // b: assigned after 5 minutes, resolved by hand with a solution after 60.
            store_one(
                store,
                "b",
                finding(1, "disk.free_low", Severity::Warning),
                T0 + 3 * 24 * 60 * MINUTE,
            )
            .await;
            let id = store.tickets(&open_filter()).await.expect("tickets")[0].id;
            let at = T0 + 3 * 24 * 60 * MINUTE;
            store
                .staff_action(
                    id,
                    "sam",
                    &StaffAction::Assign {
                        to: "tina".to_owned(),
                    },
                    at + 5 * MINUTE,
                )
                .await
                .expect("assign");
            store
                .staff_action(
                    id,
                    "tina",
                    &StaffAction::Resolve {
                        solution: "Cleared the Teams cache".to_owned(),
                    },
                    at + 60 * MINUTE,
                )
                .await
                .expect("resolve");
            let stats = store
                .stats(T0 - MINUTE, T0 + 30 * 24 * 60 * MINUTE)
                .await
                .expect("stats");
            assert_eq!(
                (
                    stats.tickets_opened,
                    stats.findings_received,
                    stats.resolved
                ),
                (2, 3, 2),
                "{backend}"
            );
            assert_eq!(stats.noise_compression, Some(1.5), "{backend}");
            assert_eq!(stats.auto_resolved_share, Some(0.5), "{backend}");
            assert_eq!(stats.by_category.get("disk"), Some(&2), "{backend}");
            assert_eq!(stats.by_site.get("warsaw"), Some(&1), "{backend}");
            assert_eq!(stats.by_technician.get("tina"), Some(&1), "{backend}");
            let p4 = &stats.by_priority[0];
            assert_eq!((p4.priority, p4.opened), (4, 2), "{backend}");
            assert_eq!(p4.mtta_median_secs, Some(300.0), "{backend}");
            assert_eq!(p4.mttr_median_secs, Some(600.0), "{backend}");
            assert_eq!(p4.mttr_p90_secs, Some(3600.0), "{backend}");
            assert_eq!(p4.resolution_sla_met, Some(1.0), "{backend}");
            assert_eq!(
                stats.top_recurring[0].fingerprint, "disk.free_low:/",
                "{backend}"
            );

            let found = store.knowledge(Some("teams")).await.expect("knowledge");
            assert_eq!(found.len(), 1, "{backend}");
            assert_eq!(found[0].fingerprint, "disk.free_low:/", "{backend}");
            assert_eq!(
                found[0].solutions[0].solution, "Cleared the Teams cache",
                "{backend}"
            );
            assert!(
                store
                    .knowledge(Some("printer"))
                    .await
                    .expect("knowledge")
                    .is_empty(),
                "{backend}"
            );
        }
    }

    /// A device ticket, a user's report and an incident keep their titles in words: read back
    /// in each language, the English stored beside them, an incident's with the devices it
    /// has now (not the three it opened with).
    #[tokio::test]
    async fn tickets_keep_their_title_in_words_and_say_it_in_each_language() {
        use firstline_i18n::Lang;
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let mut policy = Policy::default();
            policy.correlation.min_devices = 3;
            let store = store.clone().with_policy(policy);
            for id in ["a", "b", "c", "d", "e"] {
                enroll(&store, id, "warsaw").await;
            }
            let disk = Finding {
                check: "disk.used_pct".to_owned(),
                summary: "statvfs /home/alice: Disk / is 97% full".to_owned(),
                evidence_json: r#"{"mount_point": "/", "used_pct": 96.8}"#.to_owned(),
                ..finding(1, "disk.used_pct", Severity::Warning)
            };
            store_one(&store, "a", disk, T0).await;
            let report = Finding {
                sequence: 2,
                check: crate::tickets::USER_REPORT.to_owned(),
                resource: "r1".to_owned(),
                severity: Severity::Warning,
                summary: "the intranet is down".to_owned(),
                evidence_json: serde_json::json!({
                    "text": "the intranet is down",
                    "failed_layer": "http",
                    "reporter": {"uid": 1000, "account": "alice"},
                    "playbooks": [{"playbook": "web", "target": "https://intranet.example.com"}],
                })
                .to_string(),
                observed_at_ms: T0,
            };
            store_one(&store, "a", report, T0 + 1).await;
            let dns = |sequence| {
                Finding {
                check: "dns.resolve".to_owned(),
                resource: "intranet.example.com".to_owned(),
                summary: "intranet.example.com does not resolve: failed to lookup address information: Name or service not known".to_owned(),
                evidence_json: r#"{"name": "intranet.example.com", "server": "192.0.2.53:53", "response_code": "NXDOMAIN"}"#.to_owned(),
                ..finding(sequence, "dns.resolve", Severity::Warning)
            }
            };
            for (n, id) in ["b", "c", "d"].iter().enumerate() {
                store_one(&store, id, dns(3), T0 + 2 + n as i64).await;
            }
            let by_kind = |tickets: &[TicketRecord], kind| {
                tickets
                    .iter()
                    .find(|t| t.kind == kind)
                    .cloned()
                    .unwrap_or_else(|| panic!("{backend}: no {kind:?} in {tickets:#?}"))
            };
            let open = store.tickets(&open_filter()).await.expect("tickets");
            let device = open
                .iter()
                .find(|t| t.check == "disk.used_pct")
                .unwrap_or_else(|| panic!("{backend}: no disk ticket in {open:#?}"));
            assert_eq!(device.title, "Disk / is 97% full", "{backend}");
            assert!(
                device.description.contains("statvfs /home/alice"),
                "{backend}: the raw summary stays"
            );
            assert_eq!(
                device.title_in(Lang::Pl),
                "Dysk / jest zapełniony w 97%",
                "{backend}"
            );
            let report = by_kind(&open, TicketKind::Report);
            assert_eq!(
                report.title_in(Lang::En),
                "alice reports: “the intranet is down” (the website answers with an error)",
                "{backend}"
            );
            let incident = by_kind(&open, TicketKind::Incident);
            assert_eq!(
                incident.title,
                "3 devices using DNS server 192.0.2.53 cannot resolve intranet.example.com",
                "{backend}"
            );
            // A fourth device joins: the words count it, the stored English stays as opened.
            store_one(&store, "e", dns(3), T0 + 10).await;
            let incident = store
                .ticket_detail(incident.id)
                .await
                .expect("detail")
                .expect("the incident")
                .ticket;
            assert_eq!(incident.device_count, 4, "{backend}");
            assert_eq!(
                incident.title_in(Lang::En),
                "4 devices using DNS server 192.0.2.53 cannot resolve intranet.example.com",
                "{backend}"
            );
            assert_eq!(
                incident.title_in(Lang::El),
                "Το intranet.example.com δεν επιλύεται σε 4 συσκευές με διακομιστή DNS 192.0.2.53",
                "{backend}"
            );
            // A ticket opened before titles had words shows its stored title in every language.
            let old = TicketRecord {
                title_words: None,
                ..incident.clone()
            };
            assert_eq!(old.title_in(Lang::Zh), old.title, "{backend}");
        }
    }
}
