//! Tickets in the store: the thin shell around the pure engine. Each event runs in one
//! transaction: load the state it touches (locked), `decide`, apply the actions. On
//! PostgreSQL, transactions deciding one check lock that check's row in `check_locks` first, so
//! collectors sharing the database take turns; the unique `open_key` makes a duplicate open
//! ticket impossible even if that were bypassed.

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

/// A ticket as stored, for the REST API.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketRecord {
    pub id: i64,
    pub kind: TicketKind,
    pub state: TicketState,
    pub title: String,
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

/// Which tickets to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    /// A state, or "open" for every open state.
    pub state: Option<String>,
    pub priority: Option<u8>,
    pub tier: Option<u8>,
    pub device_id: Option<String>,
    pub kind: Option<TicketKind>,
    pub limit: Option<u32>,
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

/// The SQL of the ticket shell, implemented once per backend's transaction type.
pub(super) trait TicketSql: Send {
    fn lock_check_names(&mut self, checks: &[String]) -> impl Future<Output = Result<()>> + Send;
    fn device_row(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Option<(String, bool)>>> + Send;
    fn scopes_of(&mut self, device_id: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn condition(
        &mut self,
        device_id: &str,
        check: &str,
        resource: &str,
    ) -> impl Future<Output = Result<Option<ConditionView>>> + Send;
    fn device_conditions(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Vec<ConditionView>>> + Send;
    fn ticket(&mut self, id: i64) -> impl Future<Output = Result<Option<TicketRecord>>> + Send;
    fn latest_ticket(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Option<TicketRecord>>> + Send;
    fn open_ticket(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Option<TicketRecord>>> + Send;
    fn scope_size(&mut self, scope: &str) -> impl Future<Output = Result<u32>> + Send;
    fn open_tickets_of(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Vec<TicketRecord>>> + Send;
    fn recent_firing(
        &mut self,
        check: &str,
        scope: &str,
        except_device: &str,
        since_ms: i64,
        min_severity: Severity,
    ) -> impl Future<Output = Result<Vec<(Peer, Option<i64>)>>> + Send;
    fn still_firing(
        &mut self,
        ticket_id: i64,
        except_device: &str,
    ) -> impl Future<Output = Result<Vec<Peer>>> + Send;
    fn known_fixes(
        &mut self,
        fingerprint: &str,
    ) -> impl Future<Output = Result<Vec<KnownFix>>> + Send;
    fn fingerprint_history(
        &mut self,
        fingerprint: &str,
        since_ms: i64,
    ) -> impl Future<Output = Result<(u32, bool)>> + Send;
    fn apply_one(
        &mut self,
        action: &Action,
        opened: &[i64],
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// The ticket that already took report `report_id` of the device, if one did.
    fn report_taken(
        &mut self,
        device_id: &str,
        report_id: &str,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// The requester's open report ticket on the device about `group_key` whose latest
    /// report came at or after `since_ms`, with when that was.
    fn joinable_report(
        &mut self,
        device_id: &str,
        requester: Option<&str>,
        group_key: &str,
        since_ms: i64,
    ) -> impl Future<Output = Result<Option<(TicketRecord, i64)>>> + Send;
    /// Open incidents listing the device or of one of its scopes, with whether they list it.
    fn outages_for(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Vec<(TicketRecord, bool)>>> + Send;
}

/// Locks the rows of the checks in `findings`, in name order so two transactions never wait
/// on each other crosswise.
pub(super) async fn lock_checks<'a, T: TicketSql>(
    tx: &mut T,
    findings: impl Iterator<Item = &'a Finding>,
) -> Result<()> {
    let mut checks: Vec<String> = findings.map(|f| f.check.clone()).collect();
    checks.sort();
    checks.dedup();
    tx.lock_check_names(&checks).await
}

/// What the engine needs of a device (its scopes in stored order).
pub(super) async fn device_facts<T: TicketSql>(
    tx: &mut T,
    device_id: &str,
) -> Result<Option<DeviceFacts>> {
    let Some((hostname, vip)) = tx.device_row(device_id).await? else {
        return Ok(None);
    };
    let mut scopes = tx.scopes_of(device_id).await?;
    if scopes.is_empty() {
        // No inventory yet: the device is still somewhere.
        scopes.push("site=default".to_owned());
    }
    Ok(Some(DeviceFacts {
        id: device_id.to_owned(),
        hostname,
        vip,
        scopes,
    }))
}

/// Decides and applies what one newly stored finding means for conditions and tickets.
pub(super) async fn observe<T: TicketSql>(
    tx: &mut T,
    policy: &Policy,
    device: &DeviceFacts,
    finding: &Finding,
    now_ms: i64,
    hold: bool,
) -> Result<()> {
    if finding.check == crate::tickets::USER_REPORT {
        return user_report(tx, policy, device, finding, now_ms).await;
    }
    let condition = tx
        .condition(&device.id, &finding.check, &finding.resource)
        .await?;
    let key = device_ticket_key(&device.id, &finding.check, &finding.resource);
    let ticket = tx.latest_ticket(&key).await?;
    let firing = finding.severity != Severity::Ok;
    let mut state = State {
        condition,
        ticket: ticket.as_ref().map(TicketRecord::view),
        ..State::default()
    };
    let fed = state.condition.as_ref().and_then(|c| c.ticket_id);
    if let Some(id) = fed
        && ticket.as_ref().map(|t| t.id) != Some(id)
        && let Some(incident) = tx.ticket(id).await?
        && incident.kind == TicketKind::Incident
    {
        let still_firing = if firing || !incident.state.is_open() {
            Vec::new()
        } else {
            tx.still_firing(id, &device.id).await?
        };
        state.attached_incident = Some(AttachedIncident {
            ticket: incident.view(),
            scope: incident.scope.clone().unwrap_or_default(),
            still_firing,
        });
    }
    let feeds_open_ticket = state
        .attached_incident
        .as_ref()
        .is_some_and(|i| i.ticket.state.is_open())
        || state
            .ticket
            .as_ref()
            .is_some_and(|t| Some(t.id) == fed && t.state.is_open());
    if firing && finding.severity >= policy.min_severity && !feeds_open_ticket {
        // An application version explains a failure best of all; then the device's scopes.
        let scopes = crate::tickets::app_scope(&finding.resource, &finding.evidence_json)
            .into_iter()
            .chain(scopes_for_check(&finding.check, &device.scopes));
        for scope in scopes {
            let open_incident = tx
                .open_ticket(&incident_key(&finding.check, &scope))
                .await?;
            state.scopes.push(ScopeView {
                scope,
                devices_in_scope: 0,
                open_incident: open_incident.as_ref().map(TicketRecord::view),
                recent_firing: Vec::new(),
            });
        }
        // Only when no incident is open already does the engine weigh forming one.
        if state.scopes.iter().all(|s| s.open_incident.is_none()) {
            let since_ms = now_ms - duration_ms(policy.correlation.window);
            for scope in &mut state.scopes {
                scope.devices_in_scope = tx.scope_size(&scope.scope).await?;
                let peers = tx
                    .recent_firing(
                        &finding.check,
                        &scope.scope,
                        &device.id,
                        since_ms,
                        policy.min_severity,
                    )
                    .await?;
                let affected = u32::try_from(peers.len()).unwrap_or(u32::MAX) + 1;
                let qualifies = affected >= policy.correlation.min_devices;
                for (mut peer, ticket_id) in peers {
                    // Their own tickets matter only if an incident is about to absorb them.
                    if qualifies && let Some(id) = ticket_id {
                        peer.ticket = tx
                            .ticket(id)
                            .await?
                            .filter(|t| t.kind == TicketKind::Device)
                            .map(|t| t.view());
                    }
                    scope.recent_firing.push(peer);
                }
            }
        }
        let fingerprint = fingerprint(&finding.check, &finding.resource);
        state.known_fixes = tx.known_fixes(&fingerprint).await?;
        let since_ms = now_ms - duration_ms(policy.problem_window);
        (state.fingerprint_tickets, state.problem_flagged) =
            tx.fingerprint_history(&fingerprint, since_ms).await?;
    }
    let event = Event::Observed {
        device,
        finding,
        at_ms: now_ms,
        hold,
    };
    decide_and_apply(tx, &event, &state, policy, now_ms).await
}

/// A user's report: it joins the requester's open report ticket about the same thing,
/// attaches to an incident that explains it, or opens a ticket linked to the device's open
/// tickets (the engine decides which).
async fn user_report<T: TicketSql>(
    tx: &mut T,
    policy: &Policy,
    device: &DeviceFacts,
    finding: &Finding,
    now_ms: i64,
) -> Result<()> {
    // A report id the device already used (a second finding for one report) was decided.
    if let Some(ticket_id) = tx.report_taken(&device.id, &finding.resource).await? {
        tracing::warn!(device = %device.id, report = %finding.resource, ticket_id,
            "a user report with an id already taken; not decided again");
        return Ok(());
    }
    let related = tx.open_tickets_of(&device.id).await?;
    let requester = crate::tickets::requester(&finding.evidence_json).map(|r| r.name);
    let group_key = crate::tickets::report_group_key(&finding.evidence_json);
    let joinable_report = tx
        .joinable_report(
            &device.id,
            requester.as_deref(),
            &group_key,
            now_ms - duration_ms(policy.report_join_window),
        )
        .await?
        .map(|(ticket, last_report_at_ms)| JoinableReport {
            ticket: ticket.view(),
            last_report_at_ms,
        });
    let outages = tx
        .outages_for(&device.id)
        .await?
        .into_iter()
        .map(|(ticket, lists_device)| Outage {
            scope: ticket.scope.clone(),
            resource: ticket.resource.clone(),
            ticket: ticket.view(),
            lists_device,
        })
        .collect();
    let fingerprint = crate::tickets::user_report_fingerprint(&finding.evidence_json);
    let mut state = State {
        related: related.iter().map(TicketRecord::view).collect(),
        known_fixes: tx.known_fixes(&fingerprint).await?,
        joinable_report,
        outages,
        ..State::default()
    };
    let since_ms = now_ms - duration_ms(policy.problem_window);
    (state.fingerprint_tickets, state.problem_flagged) =
        tx.fingerprint_history(&fingerprint, since_ms).await?;
    let event = Event::UserReport {
        device,
        finding,
        at_ms: now_ms,
    };
    decide_and_apply(tx, &event, &state, policy, now_ms).await
}

/// Runs the engine on an event that cannot be refused and applies what it decided.
async fn decide_and_apply<T: TicketSql>(
    tx: &mut T,
    event: &Event<'_>,
    state: &State,
    policy: &Policy,
    now_ms: i64,
) -> Result<()> {
    let actions = decide(event, state, policy).map_err(|refusal| StoreError::Invalid {
        what: "ticket decision",
        detail: refusal.to_string(),
    })?;
    apply(tx, &actions, now_ms).await
}

async fn apply<T: TicketSql>(tx: &mut T, actions: &[Action], now_ms: i64) -> Result<()> {
    let mut opened = Vec::new();
    for action in actions {
        if let Some(id) = tx.apply_one(action, &opened, now_ms).await? {
            opened.push(id);
        }
    }
    Ok(())
}

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

macro_rules! ticket_record {
    ($row:expr) => {{
        let row = $row;
        let text = |column: &str| -> Result<String> { Ok(row.try_get::<String, _>(column)?) };
        let parse_state = text("state")?;
        let parse_kind = text("kind")?;
        let parse_severity = text("severity")?;
        let parse_impact = text("impact")?;
        let parse_urgency = text("urgency")?;
        let priority: i64 = row.try_get("priority")?;
        TicketRecord {
            id: row.try_get("id")?,
            kind: TicketKind::parse(&parse_kind)
                .ok_or_else(|| corrupt("ticket kind", parse_kind.clone()))?,
            state: TicketState::parse(&parse_state)
                .ok_or_else(|| corrupt("ticket state", parse_state.clone()))?,
            title: text("title")?,
            description: text("description")?,
            check: text("check_name")?,
            resource: text("resource")?,
            device_id: row.try_get("device_id")?,
            scope: row.try_get("scope")?,
            fingerprint: text("fingerprint")?,
            severity: Severity::parse(&parse_severity)
                .ok_or_else(|| corrupt("ticket severity", parse_severity.clone()))?,
            impact: Level::parse(&parse_impact)
                .ok_or_else(|| corrupt("ticket impact", parse_impact.clone()))?,
            urgency: Level::parse(&parse_urgency)
                .ok_or_else(|| corrupt("ticket urgency", parse_urgency.clone()))?,
            priority: u8::try_from(priority)
                .ok()
                .and_then(Priority::from_number)
                .ok_or_else(|| corrupt("ticket priority", priority.to_string()))?,
            tier: u8::try_from(row.try_get::<i64, _>("tier")?.clamp(1, 3)).unwrap_or(1),
            assignee: row.try_get("assignee")?,
            staff_owned: flag(row.try_get("staff_owned")?),
            vip: flag(row.try_get("vip")?),
            device_count: count(row.try_get("device_count")?),
            opened_at_ms: row.try_get("opened_at_ms")?,
            updated_at_ms: row.try_get("updated_at_ms")?,
            resolved_at_ms: row.try_get("resolved_at_ms")?,
            closed_at_ms: row.try_get("closed_at_ms")?,
            first_response_at_ms: row.try_get("first_response_at_ms")?,
            response_due_ms: row.try_get("response_due_ms")?,
            resolution_due_ms: row.try_get("resolution_due_ms")?,
            pending_since_ms: row.try_get("pending_since_ms")?,
            response_breached: flag(row.try_get("response_breached")?),
            resolution_breached: flag(row.try_get("resolution_breached")?),
            reopen_count: count(row.try_get("reopen_count")?),
            incident_id: row.try_get("incident_id")?,
            resolution: row.try_get("resolution")?,
            requester: row.try_get("requester")?,
            requester_uid: row.try_get("requester_uid")?,
            affected_users: Vec::new(),
        }
    }};
}

macro_rules! condition_view {
    ($row:expr) => {{
        let row = $row;
        let state: String = row.try_get("state")?;
        let severity: String = row.try_get("severity")?;
        let changes_json: String = row.try_get("changes_json")?;
        ConditionView {
            device_id: row.try_get("device_id")?,
            check: row.try_get("check_name")?,
            resource: row.try_get("resource")?,
            state: ConditionState::parse(&state)
                .ok_or_else(|| corrupt("condition state", state.clone()))?,
            observed_firing: flag(row.try_get("observed_firing")?),
            severity: Severity::parse(&severity)
                .ok_or_else(|| corrupt("condition severity", severity.clone()))?,
            since_ms: row.try_get("since_ms")?,
            // A history that does not read only costs flap detection its memory.
            changes_ms: serde_json::from_str(&changes_json).unwrap_or_default(),
            ticket_id: row.try_get("ticket_id")?,
        }
    }};
}

/// The ticket one query finds, if any.
macro_rules! one_ticket {
    ($tx:expr, $sql:expr, $bind:expr) => {{
        let row = sqlx::query($sql)
            .bind($bind)
            .fetch_optional(&mut **$tx)
            .await?;
        Ok(match row {
            Some(row) => Some(ticket_record!(&row)),
            None => None,
        })
    }};
}

macro_rules! ticket_sql {
    ($database:ty, $for_update:expr) => {
        impl TicketSql for sqlx::Transaction<'_, $database> {
            async fn lock_check_names(&mut self, checks: &[String]) -> Result<()> {
                for check in checks {
                    sqlx::query("INSERT INTO check_locks (check_name) VALUES ($1) ON CONFLICT (check_name) DO NOTHING")
                        .bind(check)
                        .execute(&mut **self)
                        .await?;
                    let lock = concat!("SELECT check_name FROM check_locks WHERE check_name = $1", $for_update);
                    sqlx::query(lock).bind(check).fetch_one(&mut **self).await?;
                }
                Ok(())
            }

            async fn device_row(&mut self, device_id: &str) -> Result<Option<(String, bool)>> {
                let row = sqlx::query("SELECT hostname, vip FROM devices WHERE id = $1")
                    .bind(device_id)
                    .fetch_optional(&mut **self)
                    .await?;
                Ok(match row {
                    Some(row) => Some((row.try_get("hostname")?, flag(row.try_get("vip")?))),
                    None => None,
                })
            }

            async fn scopes_of(&mut self, device_id: &str) -> Result<Vec<String>> {
                let rows = sqlx::query("SELECT scope FROM device_scopes WHERE device_id = $1 ORDER BY scope")
                    .bind(device_id)
                    .fetch_all(&mut **self)
                    .await?;
                rows.iter().map(|row| Ok(row.try_get("scope")?)).collect()
            }

            async fn condition(&mut self, device_id: &str, check: &str, resource: &str) -> Result<Option<ConditionView>> {
                let sql = concat!("SELECT * FROM conditions WHERE device_id = $1 AND check_name = $2 AND resource = $3", $for_update);
                let row = sqlx::query(sql)
                    .bind(device_id)
                    .bind(check)
                    .bind(resource)
                    .fetch_optional(&mut **self)
                    .await?;
                Ok(match row {
                    Some(row) => Some(condition_view!(&row)),
                    None => None,
                })
            }

            async fn device_conditions(&mut self, device_id: &str) -> Result<Vec<ConditionView>> {
                let sql = concat!("SELECT * FROM conditions WHERE device_id = $1 ORDER BY check_name, resource", $for_update);
                let rows = sqlx::query(sql).bind(device_id).fetch_all(&mut **self).await?;
                let mut conditions = Vec::with_capacity(rows.len());
                for row in &rows {
                    conditions.push(condition_view!(row));
                }
                Ok(conditions)
            }

            async fn ticket(&mut self, id: i64) -> Result<Option<TicketRecord>> {
                one_ticket!(self, concat!("SELECT * FROM tickets WHERE id = $1", $for_update), id)
            }

            async fn latest_ticket(&mut self, key: &str) -> Result<Option<TicketRecord>> {
                one_ticket!(self, concat!("SELECT * FROM tickets WHERE ticket_key = $1 ORDER BY CASE WHEN open_key IS NULL THEN 1 ELSE 0 END, id DESC LIMIT 1", $for_update), key)
            }

            async fn open_ticket(&mut self, key: &str) -> Result<Option<TicketRecord>> {
                one_ticket!(self, concat!("SELECT * FROM tickets WHERE open_key = $1", $for_update), key)
            }

            async fn open_tickets_of(&mut self, device_id: &str) -> Result<Vec<TicketRecord>> {
                let rows = sqlx::query(
                    "SELECT * FROM tickets WHERE open_key IS NOT NULL AND kind <> 'report' AND (device_id = $1 OR id IN \
                     (SELECT ticket_id FROM ticket_devices WHERE device_id = $1 AND recovered_at_ms IS NULL)) \
                     ORDER BY id LIMIT 20",
                )
                .bind(device_id)
                .fetch_all(&mut **self)
                .await?;
                let mut tickets = Vec::with_capacity(rows.len());
                for row in &rows {
                    tickets.push(ticket_record!(row));
                }
                Ok(tickets)
            }

            async fn scope_size(&mut self, scope: &str) -> Result<u32> {
                // An application version's devices are those known to run it.
                let sql = if scope.starts_with("app=") {
                    "SELECT COUNT(DISTINCT device_id) AS size FROM conditions WHERE app_scope = $1"
                } else {
                    "SELECT COUNT(*) AS size FROM device_scopes WHERE scope = $1"
                };
                let size: i64 = sqlx::query(sql)
                    .bind(scope)
                    .fetch_one(&mut **self)
                    .await?
                    .try_get("size")?;
                Ok(count(size))
            }

            async fn recent_firing(
                &mut self,
                check: &str,
                scope: &str,
                except_device: &str,
                since_ms: i64,
                min_severity: Severity,
            ) -> Result<Vec<(Peer, Option<i64>)>> {
                let [first, second, third] = severities_from(min_severity);
                let in_scope = if scope.starts_with("app=") {
                    "SELECT c.device_id, c.resource, c.ticket_id, d.hostname, d.vip FROM conditions c \
                     JOIN devices d ON d.id = c.device_id \
                     LEFT JOIN tickets t ON t.id = c.ticket_id \
                     WHERE c.app_scope = $1 AND "
                } else {
                    "SELECT c.device_id, c.resource, c.ticket_id, d.hostname, d.vip FROM conditions c \
                     JOIN device_scopes s ON s.device_id = c.device_id AND s.scope = $1 \
                     JOIN devices d ON d.id = c.device_id \
                     LEFT JOIN tickets t ON t.id = c.ticket_id WHERE "
                };
                let sql = format!(
                    "{in_scope}c.check_name = $2 AND c.device_id <> $3 AND c.observed_firing = 1 \
                     AND c.state <> 'resolved' AND c.since_ms >= $4 AND c.severity IN ($5, $6, $7) \
                     AND NOT (COALESCE(t.kind, '') = 'incident' AND t.open_key IS NOT NULL) \
                     ORDER BY c.since_ms, c.device_id LIMIT 100000"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(scope)
                .bind(check)
                .bind(except_device)
                .bind(since_ms)
                .bind(first)
                .bind(second)
                .bind(third)
                .fetch_all(&mut **self)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok((
                            Peer {
                                device_id: row.try_get("device_id")?,
                                hostname: row.try_get("hostname")?,
                                resource: row.try_get("resource")?,
                                vip: flag(row.try_get("vip")?),
                                ticket: None,
                            },
                            row.try_get("ticket_id")?,
                        ))
                    })
                    .collect()
            }

            async fn still_firing(&mut self, ticket_id: i64, except_device: &str) -> Result<Vec<Peer>> {
                let rows = sqlx::query(
                    "SELECT c.device_id, c.resource, d.hostname, d.vip FROM conditions c \
                     JOIN devices d ON d.id = c.device_id \
                     WHERE c.ticket_id = $1 AND c.device_id <> $2 AND c.observed_firing = 1 \
                     ORDER BY c.device_id, c.resource",
                )
                .bind(ticket_id)
                .bind(except_device)
                .fetch_all(&mut **self)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(Peer {
                            device_id: row.try_get("device_id")?,
                            hostname: row.try_get("hostname")?,
                            resource: row.try_get("resource")?,
                            vip: flag(row.try_get("vip")?),
                            ticket: None,
                        })
                    })
                    .collect()
            }

            async fn known_fixes(&mut self, fingerprint: &str) -> Result<Vec<KnownFix>> {
                let rows = sqlx::query(
                    "SELECT solution, worked_count FROM solutions WHERE fingerprint = $1 \
                     ORDER BY worked_count DESC, last_at_ms DESC LIMIT 5",
                )
                .bind(fingerprint)
                .fetch_all(&mut **self)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(KnownFix {
                            solution: row.try_get("solution")?,
                            worked_count: count(row.try_get("worked_count")?),
                        })
                    })
                    .collect()
            }

            async fn fingerprint_history(&mut self, fingerprint: &str, since_ms: i64) -> Result<(u32, bool)> {
                let tickets: i64 = sqlx::query(
                    "SELECT COUNT(*) AS tickets FROM tickets WHERE fingerprint = $1 AND opened_at_ms >= $2",
                )
                .bind(fingerprint)
                .bind(since_ms)
                .fetch_one(&mut **self)
                .await?
                .try_get("tickets")?;
                let flagged = sqlx::query("SELECT fingerprint FROM problems WHERE fingerprint = $1")
                    .bind(fingerprint)
                    .fetch_optional(&mut **self)
                    .await?
                    .is_some();
                Ok((count(tickets), flagged))
            }

            async fn report_taken(&mut self, device_id: &str, report_id: &str) -> Result<Option<i64>> {
                let row = sqlx::query("SELECT ticket_id FROM report_links WHERE device_id = $1 AND report_id = $2")
                    .bind(device_id)
                    .bind(report_id)
                    .fetch_optional(&mut **self)
                    .await?;
                Ok(match row {
                    Some(row) => Some(row.try_get("ticket_id")?),
                    None => None,
                })
            }

            async fn joinable_report(
                &mut self,
                device_id: &str,
                requester: Option<&str>,
                group_key: &str,
                since_ms: i64,
            ) -> Result<Option<(TicketRecord, i64)>> {
                let row = sqlx::query(
                    "SELECT t.*, rl.at_ms AS last_report_at_ms FROM report_links rl JOIN tickets t ON t.id = rl.ticket_id \
                     WHERE rl.device_id = $1 AND rl.group_key = $2 \
                     AND (rl.requester = $3 OR (rl.requester IS NULL AND $3 IS NULL)) \
                     AND rl.how IN ('opened', 'joined') AND rl.at_ms >= $4 \
                     AND t.kind = 'report' AND t.open_key IS NOT NULL \
                     ORDER BY rl.at_ms DESC, t.id DESC LIMIT 1",
                )
                .bind(device_id)
                .bind(group_key)
                .bind(requester)
                .bind(since_ms)
                .fetch_optional(&mut **self)
                .await?;
                Ok(match row {
                    Some(row) => Some((ticket_record!(&row), row.try_get("last_report_at_ms")?)),
                    None => None,
                })
            }

            async fn outages_for(&mut self, device_id: &str) -> Result<Vec<(TicketRecord, bool)>> {
                let rows = sqlx::query(
                    "SELECT t.*, (SELECT COUNT(*) FROM ticket_devices td WHERE td.ticket_id = t.id AND td.device_id = $1) \
                     AS lists_device FROM tickets t WHERE t.kind = 'incident' AND t.open_key IS NOT NULL AND \
                     (t.id IN (SELECT ticket_id FROM ticket_devices WHERE device_id = $1) \
                      OR t.scope IN (SELECT scope FROM device_scopes WHERE device_id = $1)) \
                     ORDER BY t.id LIMIT 20",
                )
                .bind(device_id)
                .fetch_all(&mut **self)
                .await?;
                let mut outages = Vec::with_capacity(rows.len());
                for row in &rows {
                    let lists: i64 = row.try_get("lists_device")?;
                    outages.push((ticket_record!(row), lists > 0));
                }
                Ok(outages)
            }

            async fn apply_one(&mut self, action: &Action, opened: &[i64], now_ms: i64) -> Result<Option<i64>> {
                match action {
                    Action::RecordReport { device_id, report_id, ticket, how, requester, group_key, check_first, at_ms } => {
                        sqlx::query(
                            "INSERT INTO report_links (device_id, report_id, ticket_id, how, requester, group_key, check_first, at_ms) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (device_id, report_id) DO NOTHING",
                        )
                        .bind(device_id)
                        .bind(report_id)
                        .bind(resolve(*ticket, opened)?)
                        .bind(how.as_str())
                        .bind(requester.as_deref())
                        .bind(group_key)
                        .bind(i64::from(*check_first))
                        .bind(at_ms)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::SaveCondition { condition, ticket, app_scope, summary, evidence_json } => {
                        let ticket_id = match ticket {
                            Some(reference) => Some(resolve(*reference, opened)?),
                            None => None,
                        };
                        let changes = serde_json::to_string(&condition.changes_ms).unwrap_or_else(|_| "[]".to_owned());
                        sqlx::query(
                            "INSERT INTO conditions (device_id, check_name, resource, state, observed_firing, severity, \
                             summary, evidence_json, since_ms, updated_at_ms, changes_json, ticket_id, app_scope, changed_at_ms) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                             ON CONFLICT (device_id, check_name, resource) DO UPDATE SET state = excluded.state, \
                             observed_firing = excluded.observed_firing, severity = excluded.severity, \
                             summary = excluded.summary, evidence_json = excluded.evidence_json, \
                             since_ms = excluded.since_ms, updated_at_ms = excluded.updated_at_ms, \
                             changes_json = excluded.changes_json, ticket_id = excluded.ticket_id, \
                             app_scope = excluded.app_scope, changed_at_ms = excluded.changed_at_ms",
                        )
                        .bind(&condition.device_id)
                        .bind(&condition.check)
                        .bind(&condition.resource)
                        .bind(condition.state.as_str())
                        .bind(i64::from(condition.observed_firing))
                        .bind(condition.severity.as_str())
                        .bind(summary)
                        .bind(evidence_json)
                        .bind(condition.since_ms)
                        .bind(now_ms)
                        .bind(changes)
                        .bind(ticket_id)
                        .bind(app_scope)
                        .bind(condition.changes_ms.last().copied().unwrap_or(condition.since_ms))
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::SetConditionState { device_id, check, resource, state, at_ms } => {
                        sqlx::query(
                            "UPDATE conditions SET state = $1, updated_at_ms = $2 \
                             WHERE device_id = $3 AND check_name = $4 AND resource = $5",
                        )
                        .bind(state.as_str())
                        .bind(at_ms)
                        .bind(device_id)
                        .bind(check)
                        .bind(resource)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::ReleaseCondition { device_id, check, resource, at_ms } => {
                        sqlx::query(
                            "UPDATE conditions SET ticket_id = NULL, updated_at_ms = $1 \
                             WHERE device_id = $2 AND check_name = $3 AND resource = $4",
                        )
                        .bind(at_ms)
                        .bind(device_id)
                        .bind(check)
                        .bind(resource)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::AttachCondition { device_id, check, resource, ticket } => {
                        sqlx::query(
                            "UPDATE conditions SET ticket_id = $1 WHERE device_id = $2 AND check_name = $3 AND resource = $4",
                        )
                        .bind(resolve(*ticket, opened)?)
                        .bind(device_id)
                        .bind(check)
                        .bind(resource)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::OpenTicket(new) => {
                        let id = insert_ticket!(self, new);
                        for device_id in &new.devices {
                            sqlx::query(
                                "INSERT INTO ticket_devices (ticket_id, device_id, added_at_ms) VALUES ($1, $2, $3) \
                                 ON CONFLICT (ticket_id, device_id) DO NOTHING",
                            )
                            .bind(id)
                            .bind(device_id)
                            .bind(new.opened_at_ms)
                            .execute(&mut **self)
                            .await?;
                        }
                        crate::store::help::outage_notices!(*self, id, None::<&str>, true, new.opened_at_ms);
                        return Ok(Some(id));
                    }
                    Action::SetState { ticket, state, resolution, at_ms } => {
                        let open = i64::from(state.is_open());
                        sqlx::query(
                            "UPDATE tickets SET \
                             reopen_count = reopen_count + (CASE WHEN $1 = 1 AND state = 'resolved' THEN 1 ELSE 0 END), \
                             staff_owned = CASE WHEN $1 = 1 AND state = 'resolved' AND assignee IS NULL THEN 0 ELSE staff_owned END, \
                             response_breached = CASE WHEN $1 = 1 AND state = 'resolved' THEN 0 ELSE response_breached END, \
                             resolution_breached = CASE WHEN $1 = 1 AND state = 'resolved' THEN 0 ELSE resolution_breached END, \
                             state = $2, \
                             open_key = CASE WHEN $1 = 1 THEN ticket_key ELSE NULL END, \
                             resolved_at_ms = CASE WHEN $2 = 'resolved' THEN $3 WHEN $1 = 1 THEN NULL ELSE resolved_at_ms END, \
                             closed_at_ms = CASE WHEN $2 IN ('closed', 'cancelled') THEN $3 ELSE closed_at_ms END, \
                             resolution = CASE WHEN $1 = 1 THEN NULL ELSE COALESCE($4, resolution) END, \
                             updated_at_ms = $3 WHERE id = $5",
                        )
                        .bind(open)
                        .bind(state.as_str())
                        .bind(at_ms)
                        .bind(resolution)
                        .bind(resolve(*ticket, opened)?)
                        .execute(&mut **self)
                        .await?;
                        // A resolved ticket with a requester asks them "is it fixed?"; any
                        // other state stops asking.
                        let id = resolve(*ticket, opened)?;
                        let asking = *state == TicketState::Resolved;
                        let asked = sqlx::query(
                            "UPDATE tickets SET awaiting_requester_since_ms = CASE WHEN $1 = 1 THEN $2 ELSE NULL END \
                             WHERE id = $3 AND requester IS NOT NULL AND device_id IS NOT NULL",
                        )
                        .bind(i64::from(asking))
                        .bind(at_ms)
                        .bind(id)
                        .execute(&mut **self)
                        .await?
                        .rows_affected();
                        if asking && asked > 0 {
                            crate::store::help::requester_notice!(*self, id, "resolved", "", *at_ms);
                        }
                        if matches!(state, TicketState::Resolved | TicketState::Cancelled) {
                            crate::store::help::outage_notices!(*self, id, None::<&str>, false, *at_ms);
                        }
                    }
                    Action::Note { ticket, kind, actor, text, data_json, at_ms } => {
                        let id = resolve(*ticket, opened)?;
                        sqlx::query(
                            "INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text, data_json) VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(id)
                        .bind(at_ms)
                        .bind(kind.as_str())
                        .bind(actor)
                        .bind(text)
                        .bind(data_json)
                        .execute(&mut **self)
                        .await?;
                        sqlx::query("UPDATE tickets SET updated_at_ms = $1 WHERE id = $2")
                            .bind(at_ms)
                            .bind(id)
                            .execute(&mut **self)
                            .await?;
                        if *kind == crate::tickets::NoteKind::Reply {
                            crate::store::help::requester_notice!(*self, id, "reply", text.as_str(), *at_ms);
                        }
                    }
                    Action::AddDevice { ticket, device_id, at_ms } => {
                        let id = resolve(*ticket, opened)?;
                        let added = sqlx::query(
                            "INSERT INTO ticket_devices (ticket_id, device_id, added_at_ms) VALUES ($1, $2, $3) \
                             ON CONFLICT (ticket_id, device_id) DO UPDATE SET recovered_at_ms = NULL \
                             WHERE ticket_devices.recovered_at_ms IS NOT NULL",
                        )
                        .bind(id)
                        .bind(device_id)
                        .bind(at_ms)
                        .execute(&mut **self)
                        .await?
                        .rows_affected();
                        if added > 0 {
                            sqlx::query(
                                "UPDATE tickets SET device_count = (SELECT COUNT(*) FROM ticket_devices WHERE ticket_id = $1), \
                                 updated_at_ms = $2 WHERE id = $1",
                            )
                            .bind(id)
                            .bind(at_ms)
                            .execute(&mut **self)
                            .await?;                            crate::store::help::outage_notices!(*self, id, Some(device_id.as_str()), true, *at_ms);
                        }
                    }
                    Action::DeviceRecovered { ticket, device_id, at_ms } => {
                        sqlx::query("UPDATE ticket_devices SET recovered_at_ms = $1 WHERE ticket_id = $2 AND device_id = $3")
                            .bind(at_ms)
                            .bind(resolve(*ticket, opened)?)
                            .bind(device_id)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::SetPriority { ticket, impact, urgency, priority, response_due_ms, resolution_due_ms } => {
                        sqlx::query(
                            "UPDATE tickets SET impact = $1, urgency = $2, priority = $3, response_due_ms = $4, \
                             resolution_due_ms = $5 WHERE id = $6",
                        )
                        .bind(impact.as_str())
                        .bind(urgency.as_str())
                        .bind(i64::from(priority.number()))
                        .bind(response_due_ms)
                        .bind(resolution_due_ms)
                        .bind(resolve(*ticket, opened)?)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::SetTier { ticket, tier } => {
                        sqlx::query("UPDATE tickets SET tier = $1 WHERE id = $2")
                            .bind(i64::from(*tier))
                            .bind(resolve(*ticket, opened)?)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::Assign { ticket, assignee } => {
                        sqlx::query("UPDATE tickets SET assignee = $1 WHERE id = $2")
                            .bind(assignee)
                            .bind(resolve(*ticket, opened)?)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::Touch { ticket, at_ms, take_over } => {
                        sqlx::query(
                            "UPDATE tickets SET first_response_at_ms = COALESCE(first_response_at_ms, $1), \
                             staff_owned = CASE WHEN $2 = 1 THEN 1 ELSE staff_owned END WHERE id = $3",
                        )
                        .bind(at_ms)
                        .bind(i64::from(*take_over))
                        .bind(resolve(*ticket, opened)?)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::SlaBreached { ticket, response } => {
                        let sql = if *response {
                            "UPDATE tickets SET response_breached = 1 WHERE id = $1"
                        } else {
                            "UPDATE tickets SET resolution_breached = 1 WHERE id = $1"
                        };
                        sqlx::query(sql).bind(resolve(*ticket, opened)?).execute(&mut **self).await?;
                    }
                    Action::Pending { ticket, since_ms, shift_ms } => {
                        sqlx::query(
                            "UPDATE tickets SET pending_since_ms = $1, response_due_ms = response_due_ms + $2, \
                             resolution_due_ms = resolution_due_ms + $2 WHERE id = $3",
                        )
                        .bind(since_ms)
                        .bind(shift_ms)
                        .bind(resolve(*ticket, opened)?)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::Link { ticket, linked } => {
                        let (ticket, linked) = (resolve(*ticket, opened)?, resolve(*linked, opened)?);
                        for (from, to) in [(ticket, linked), (linked, ticket)] {
                            sqlx::query(
                                "INSERT INTO ticket_links (ticket_id, linked_id) VALUES ($1, $2) \
                                 ON CONFLICT (ticket_id, linked_id) DO NOTHING",
                            )
                            .bind(from)
                            .bind(to)
                            .execute(&mut **self)
                            .await?;
                        }
                    }
                    Action::LinkIncident { ticket, incident } => {
                        sqlx::query("UPDATE tickets SET incident_id = $1 WHERE id = $2")
                            .bind(resolve(*incident, opened)?)
                            .bind(resolve(*ticket, opened)?)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::RecordSolution { check, fingerprint, solution, at_ms, .. } => {
                        sqlx::query(
                            "INSERT INTO solutions (fingerprint, solution, check_name, worked_count, first_at_ms, last_at_ms) \
                             VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (fingerprint, solution) DO UPDATE SET \
                             worked_count = solutions.worked_count + 1, last_at_ms = excluded.last_at_ms",
                        )
                        .bind(fingerprint)
                        .bind(solution)
                        .bind(check)
                        .bind(at_ms)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::Notify { ticket, event } => {
                        sqlx::query("INSERT INTO notifications (ticket_id, event, at_ms) VALUES ($1, $2, $3)")
                            .bind(resolve(*ticket, opened)?)
                            .bind(event.as_str())
                            .bind(now_ms)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::FlagProblem { check, fingerprint, at_ms } => {
                        sqlx::query(
                            "INSERT INTO problems (fingerprint, check_name, flagged_at_ms) VALUES ($1, $2, $3) \
                             ON CONFLICT (fingerprint) DO NOTHING",
                        )
                        .bind(fingerprint)
                        .bind(check)
                        .bind(at_ms)
                        .execute(&mut **self)
                        .await?;
                    }
                }
                Ok(None)
            }
        }
    };
}

macro_rules! insert_ticket {
    ($tx:expr, $new:expr) => {{
        let new: &NewTicket = $new;
        let inserted = sqlx::query(
            "INSERT INTO tickets (kind, ticket_key, open_key, state, title, description, check_name, resource, \
             device_id, scope, fingerprint, severity, impact, urgency, priority, tier, vip, device_count, \
             opened_at_ms, updated_at_ms, response_due_ms, resolution_due_ms, requester, requester_uid) \
             VALUES ($1, $2, $2, 'new', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16, $16, $17, $18, $19, $20) \
             ON CONFLICT (open_key) DO NOTHING RETURNING id",
        )
        .bind(new.kind.as_str())
        .bind(&new.key)
        .bind(&new.title)
        .bind(&new.description)
        .bind(&new.check)
        .bind(&new.resource)
        .bind(&new.device_id)
        .bind(&new.scope)
        .bind(&new.fingerprint)
        .bind(new.severity.as_str())
        .bind(new.impact.as_str())
        .bind(new.urgency.as_str())
        .bind(i64::from(new.priority.number()))
        .bind(i64::from(new.vip))
        .bind(i64::try_from(new.devices.len()).unwrap_or(i64::MAX))
        .bind(new.opened_at_ms)
        .bind(new.response_due_ms)
        .bind(new.resolution_due_ms)
        .bind(new.requester.as_ref().map(|r| r.name.as_str()))
        .bind(new.requester.as_ref().and_then(|r| r.uid))
        .fetch_optional(&mut **$tx)
        .await?;
        match inserted {
            Some(row) => row.try_get::<i64, _>("id")?,
            // A ticket for this key is open already (the unique open_key says so): what was
            // meant for a new ticket goes to that one instead of failing the transaction.
            None => {
                tracing::warn!(key = %new.key, "a ticket for this key is open already; using it");
                sqlx::query("SELECT id FROM tickets WHERE open_key = $1")
                    .bind(&new.key)
                    .fetch_one(&mut **$tx)
                    .await?
                    .try_get::<i64, _>("id")?
            }
        }
    }};
}

ticket_sql!(sqlx::Sqlite, "");
ticket_sql!(sqlx::Postgres, " FOR UPDATE");

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

    /// Tickets matching `filter`: open ones first, by priority and then by how soon they fall
    /// due.
    pub async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<TicketRecord>> {
        let limit = i64::from(filter.limit.unwrap_or(500).clamp(1, 5000));
        // Only the filters given are in the statement, so each can use its index (with
        // `$1 IS NULL OR …` both databases scan every ticket); "open" is the range of
        // `tickets_by_queue_order` whose first column is 0. The text is fixed fragments only.
        let mut conditions: Vec<String> = Vec::new();
        let mut placeholder = 0;
        let mut next = || {
            placeholder += 1;
            format!("${placeholder}")
        };
        match filter.state.as_deref() {
            Some("open") => {
                conditions.push("(CASE WHEN open_key IS NULL THEN 1 ELSE 0 END) = 0".to_owned())
            }
            Some(_) => conditions.push(format!("state = {}", next())),
            None => {}
        }
        if filter.priority.is_some() {
            conditions.push(format!("priority = {}", next()));
        }
        if filter.tier.is_some() {
            conditions.push(format!("tier = {}", next()));
        }
        if filter.device_id.is_some() {
            let device = next();
            conditions.push(format!(
                "(device_id = {device} OR id IN (SELECT ticket_id FROM ticket_devices WHERE device_id = {device}))"
            ));
        }
        if filter.kind.is_some() {
            conditions.push(format!("kind = {}", next()));
        }
        let sql = format!(
            "SELECT * FROM tickets{}{} \
             ORDER BY CASE WHEN open_key IS NULL THEN 1 ELSE 0 END, priority, resolution_due_ms, id LIMIT {}",
            if conditions.is_empty() { "" } else { " WHERE " },
            conditions.join(" AND "),
            next()
        );
        with_pool!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            if let Some(state) = filter.state.as_deref().filter(|state| *state != "open") {
                query = query.bind(state);
            }
            if let Some(priority) = filter.priority {
                query = query.bind(i64::from(priority));
            }
            if let Some(tier) = filter.tier {
                query = query.bind(i64::from(tier));
            }
            if let Some(device_id) = filter.device_id.as_deref() {
                query = query.bind(device_id);
            }
            if let Some(kind) = filter.kind {
                query = query.bind(kind.as_str());
            }
            let rows = query.bind(limit).fetch_all(pool).await?;
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
        self.ticket_detail_with(id, true).await
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
            Ok(Some(TicketDetail { ticket, devices, timeline, suggested_fixes, problem_candidate, linked_tickets }))
        })
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
        with_pool!(self, pool => bounded_transaction!(self, pool, Writer::StaffAction, StaffError, |transaction| {
            let ticket = transaction.ticket(ticket_id).await?;
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
            let mut state = State { ticket: ticket.as_ref().map(TicketRecord::view), ..State::default() };
            // Resolving or cancelling an incident by hand releases its devices still failing.
            if let Some(incident) = ticket.as_ref().filter(|t| t.kind == TicketKind::Incident && t.state.is_open()) {
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

    /// The periodic pass: devices gone silent (stale) or back, holds that passed, flapping
    /// conditions that settled, and SLA targets that fell due. Each item is decided in its own
    /// transaction under the same locks as ingest, so several collectors may sweep at once; an
    /// item that fails is logged and skipped, and the others go on.
    pub async fn sweep(&self, now_ms: i64) -> Result<SweepReport> {
        self.sweep_judging_silence(now_ms, true).await
    }

    /// As [`Store::sweep`]; with `judge_silence` false no device is marked silent (devices
    /// reporting again are still marked back): right after the collector (or its store) comes
    /// back, agents are still reconnecting, and the outage was not theirs.
    pub async fn sweep_judging_silence(
        &self,
        now_ms: i64,
        judge_silence: bool,
    ) -> Result<SweepReport> {
        let policy = self.policy.clone();
        let mut report = SweepReport::default();
        let stale_before = if judge_silence {
            now_ms - duration_ms(policy.stale_after)
        } else {
            i64::MIN
        };
        let quiet_before = now_ms - duration_ms(policy.flap_window);
        let held_before = now_ms - duration_ms(policy.correlation.hold);
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let device_lock = if postgres {
            "SELECT stale_since_ms, last_seen_at_ms FROM devices WHERE id = $1 FOR UPDATE"
        } else {
            "SELECT stale_since_ms, last_seen_at_ms FROM devices WHERE id = $1"
        };
        let [first, second, third] = severities_from(policy.min_severity);
        with_pool!(self, pool => {
            // Devices gone silent with firing conditions, and stale devices reporting again.
            let rows = sqlx::query(
                "SELECT id, hostname, stale_since_ms FROM devices WHERE \
                 (stale_since_ms IS NULL AND last_seen_at_ms < $1 AND EXISTS \
                   (SELECT 1 FROM conditions c WHERE c.device_id = devices.id AND c.state = 'firing')) \
                 OR (stale_since_ms IS NOT NULL AND last_seen_at_ms > stale_since_ms) LIMIT 1000",
            )
            .bind(stale_before)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let device_id: String = row.try_get("id")?;
                let hostname: String = row.try_get("hostname")?;
                let stale_since: Option<i64> = row.try_get("stale_since_ms")?;
                let outcome: Result<Option<bool>> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    // Check locks first, then rows: the order ingest takes them in.
                    let check_rows = sqlx::query("SELECT DISTINCT check_name FROM conditions WHERE device_id = $1")
                        .bind(&device_id)
                        .fetch_all(&mut *transaction)
                        .await?;
                    let mut checks = Vec::with_capacity(check_rows.len());
                    for row in &check_rows {
                        checks.push(row.try_get::<String, _>("check_name")?);
                    }
                    // Byte order, as ingest sorts them (the database's collation may differ).
                    checks.sort();
                    if postgres {
                        transaction.lock_check_names(&checks).await?;
                    }
                    let current = sqlx::query(device_lock).bind(&device_id).fetch_one(&mut *transaction).await?;
                    let current_stale: Option<i64> = current.try_get("stale_since_ms")?;
                    let last_seen_ms: Option<i64> = current.try_get("last_seen_at_ms")?;
                    let silent = last_seen_ms.is_none_or(|seen| seen < stale_before);
                    // Another collector got here first, or the device spoke meanwhile.
                    if current_stale != stale_since || (stale_since.is_none() && !silent) {
                        transaction.rollback().await?;
                        return Ok(None);
                    }
                    let conditions = transaction.device_conditions(&device_id).await?;
                    let mut device_conditions = Vec::with_capacity(conditions.len());
                    for condition in conditions {
                        let ticket = match condition.ticket_id {
                            Some(id) => transaction.ticket(id).await?.map(|t| t.view()),
                            None => None,
                        };
                        device_conditions.push((condition, ticket));
                    }
                    let state = State { device_conditions, ..State::default() };
                    let (event, new_stale) = if stale_since.is_none() {
                        let last_seen_ms = last_seen_ms.unwrap_or(now_ms);
                        (Event::DeviceSilent { hostname: &hostname, last_seen_ms, at_ms: now_ms }, Some(now_ms))
                    } else {
                        (Event::DeviceBack { hostname: &hostname, at_ms: now_ms }, None)
                    };
                    let actions = decide(&event, &state, &policy).unwrap_or_default();
                    apply(&mut transaction, &actions, now_ms).await?;
                    sqlx::query("UPDATE devices SET stale_since_ms = $1 WHERE id = $2")
                        .bind(new_stale)
                        .bind(&device_id)
                        .execute(&mut *transaction)
                        .await?;
                    transaction.commit().await?;
                    Ok(Some(stale_since.is_none()))
                }) }
                .await;
                match tally(outcome, &mut report, "marking a device stale or back", &device_id) {
                    Some(Some(true)) => report.devices_stale += 1,
                    Some(Some(false)) => report.devices_back += 1,
                    _ => {}
                }
            }

            // Conditions held for an incident that did not form get tickets of their own.
            let rows = sqlx::query(
                "SELECT device_id, check_name, resource FROM conditions WHERE state = 'firing' AND ticket_id IS NULL \
                 AND observed_firing = 1 AND severity IN ($1, $2, $3) AND since_ms < $4 AND updated_at_ms < $4 \
                 ORDER BY since_ms LIMIT 1000",
            )
            .bind(first)
            .bind(second)
            .bind(third)
            .bind(held_before)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let device_id: String = row.try_get("device_id")?;
                let check: String = row.try_get("check_name")?;
                let resource: String = row.try_get("resource")?;
                // This collector's turn on the check first, as the group commit takes it (`bounded.rs`).
                let _turns = if postgres { self.check_turns.take(std::iter::once(check.as_str())).await } else { Vec::new() };
                let outcome: Result<bool> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    if postgres {
                        transaction.lock_check_names(std::slice::from_ref(&check)).await?;
                    }
                    let held = sqlx::query(
                        "SELECT severity, summary, evidence_json FROM conditions WHERE device_id = $1 AND check_name = $2 \
                         AND resource = $3 AND state = 'firing' AND ticket_id IS NULL",
                    )
                    .bind(&device_id)
                    .bind(&check)
                    .bind(&resource)
                    .fetch_optional(&mut *transaction)
                    .await?;
                    let (Some(held), Some(device)) = (held, device_facts(&mut transaction, &device_id).await?) else {
                        // Attached to an incident or cleared meanwhile.
                        transaction.rollback().await?;
                        return Ok(false);
                    };
                    let severity: String = held.try_get("severity")?;
                    let finding = Finding {
                        sequence: 0,
                        check: check.clone(),
                        resource: resource.clone(),
                        severity: Severity::parse(&severity).ok_or_else(|| corrupt("condition severity", severity.clone()))?,
                        summary: held.try_get("summary")?,
                        evidence_json: held.try_get("evidence_json")?,
                        observed_at_ms: now_ms,
                    };
                    observe(&mut transaction, &policy, &device, &finding, now_ms, false).await?;
                    transaction.commit().await?;
                    Ok(true)
                }) }
                .await;
                if let Some(released) = tally(outcome, &mut report, "releasing a held condition", &device_id) {
                    report.holds_released += u32::from(released);
                }
            }

            // Flapping conditions quiet for a whole flap window settle.
            let rows = sqlx::query(
                "SELECT c.device_id, c.check_name, c.resource, d.hostname FROM conditions c JOIN devices d ON d.id = c.device_id \
                 WHERE c.state = 'flapping' AND c.changed_at_ms < $1 LIMIT 1000",
            )
            .bind(quiet_before)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let device_id: String = row.try_get("device_id")?;
                let check: String = row.try_get("check_name")?;
                let resource: String = row.try_get("resource")?;
                let hostname: String = row.try_get("hostname")?;
                // This collector's turn on the check first, as the group commit takes it (`bounded.rs`).
                let _turns = if postgres { self.check_turns.take(std::iter::once(check.as_str())).await } else { Vec::new() };
                let outcome: Result<bool> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    if postgres {
                        transaction.lock_check_names(std::slice::from_ref(&check)).await?;
                    }
                    let condition = transaction.condition(&device_id, &check, &resource).await?;
                    let Some(condition) = condition.filter(|c| c.state == ConditionState::Flapping) else {
                        transaction.rollback().await?;
                        return Ok(false);
                    };
                    let mut state = State::default();
                    if let Some(id) = condition.ticket_id
                        && let Some(ticket) = transaction.ticket(id).await?
                    {
                        if ticket.kind == TicketKind::Incident {
                            let still_firing = transaction.still_firing(id, &device_id).await?;
                            state.attached_incident = Some(AttachedIncident {
                                scope: ticket.scope.clone().unwrap_or_default(),
                                ticket: ticket.view(),
                                still_firing,
                            });
                        } else {
                            state.ticket = Some(ticket.view());
                        }
                    }
                    state.condition = Some(condition);
                    let actions = decide(&Event::FlapQuiet { hostname: &hostname, at_ms: now_ms }, &state, &policy).unwrap_or_default();
                    apply(&mut transaction, &actions, now_ms).await?;
                    transaction.commit().await?;
                    Ok(true)
                }) }
                .await;
                if let Some(settled) = tally(outcome, &mut report, "settling a flapping condition", &device_id) {
                    report.conditions_settled += u32::from(settled);
                }
            }

            // SLA targets that fell due.
            let rows = sqlx::query(
                "SELECT id FROM tickets WHERE open_key IS NOT NULL AND state <> 'pending' AND \
                 ((first_response_at_ms IS NULL AND response_breached = 0 AND response_due_ms < $1) \
                  OR (resolution_breached = 0 AND resolution_due_ms < $1)) ORDER BY id LIMIT 1000",
            )
            .bind(now_ms)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let outcome: Result<u32> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    let ticket = transaction.ticket(id).await?;
                    let state = State { ticket: ticket.as_ref().map(TicketRecord::view), ..State::default() };
                    let actions = decide(&Event::SlaTick { at_ms: now_ms }, &state, &policy).unwrap_or_default();
                    apply(&mut transaction, &actions, now_ms).await?;
                    transaction.commit().await?;
                    let breaches = actions.iter().filter(|a| matches!(a, Action::SlaBreached { .. })).count();
                    Ok(u32::try_from(breaches).unwrap_or(0))
                }) }
                .await;
                if let Some(breaches) = tally(outcome, &mut report, "checking a ticket's SLA", &id.to_string()) {
                    report.sla_breaches += breaches;
                }
            }
        });
        match self.expire_reproduce(now_ms).await {
            Ok(expired) => report.reproduce_expired = expired,
            Err(e) => {
                tracing::warn!(error = %e, "sweep: expiring reproduce requests failed; the next sweep tries again");
                report.failed += 1;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{TestStore, backends};
    use super::*;
    use crate::model::Inventory;
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
}
