//! Fixes in the store: rollouts (one fix for one ticket), their runs (one request to one
//! device: queued, sent, answered), the admin API's modes, and what the ticket page and the
//! stats read. `crate::fixes::plan` decides each rollout's next step; this applies it, and
//! closes the loop on the ticket: verified resolves it, not fixed escalates it once.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::fixes::{self, FixInfo, Mode, Parameters, PolicyOverride, RunView, Step, Target};
use crate::tickets::NoteKind;
use crate::tickets::engine::StaffAction;

/// One request to one device.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FixRun {
    pub id: String,
    pub ticket_id: i64,
    pub device_id: String,
    pub fix: String,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// "policy:auto", "technician:NAME" or "user:ACCOUNT".
    pub allowed_by: String,
    /// For a fix the affected user started: their account (their consent, sent to the agent).
    pub consent_account: Option<String>,
    pub canary: bool,
    pub try_number: i64,
    pub rollout_attempt: i64,
    /// queued, sent, verified, not_verified, failed, refused, expired or cancelled.
    pub state: String,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
    pub done_at_ms: Option<i64>,
    /// The agent's report: before, what changed (bytes freed per place), the verification.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// One fix for one ticket.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FixRollout {
    pub ticket_id: i64,
    pub fix: String,
    /// running, done or stopped.
    pub state: String,
    pub allowed_by: String,
    pub attempt: i64,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    /// Why it ended: "verified on N devices", or why it stopped.
    pub outcome: Option<String>,
}

/// A fix the ticket page offers, with how it went for this fault before.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FixOffer {
    pub fix: String,
    pub summary: String,
    /// The mode for the ticket's (first) device's site.
    pub mode: Mode,
    /// Devices of the ticket it would run on.
    pub devices: usize,
    /// Runs of this fix on tickets with this fingerprint that verified, and all that ran.
    pub worked: i64,
    pub tried: i64,
    pub running: bool,
}

/// The fixes on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketFixes {
    pub offers: Vec<FixOffer>,
    pub rollouts: Vec<FixRollout>,
    pub runs: Vec<FixRun>,
}

/// The fixes' numbers for the stats page, `/api/v1/stats` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FixStats {
    /// Runs per outcome (verified, not_verified, failed, refused, expired, cancelled, waiting).
    pub runs: BTreeMap<String, i64>,
    /// Verified among the runs that ran (verified, not verified, failed).
    pub verified_rate: Option<f64>,
    /// Resolved tickets a fix started by policy resolved, among all resolved tickets.
    pub self_healed_share: Option<f64>,
    /// Median time from a ticket opening to its fix verifying: started by policy, and by staff.
    pub time_to_fix_auto_p50_ms: Option<i64>,
    pub time_to_fix_staff_p50_ms: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("no such ticket")]
    NoTicket,
    #[error("ticket {id} is {state}; a fix needs an open ticket")]
    NotOpen { id: i64, state: String },
    #[error("{0:?} is not a fix (the fixes are {names})", names = fixes::names())]
    UnknownFix(String),
    #[error(
        "{fix} does not answer ticket {ticket}'s fault: no device of the ticket has a condition it fixes"
    )]
    NotForThisTicket { fix: String, ticket: i64 },
    #[error("device {device:?} is not one of ticket {ticket}'s devices with a fault {fix} fixes")]
    NotOnTicket {
        device: String,
        ticket: i64,
        fix: String,
    },
    #[error("{fix} is off for {site} (its policy); nothing was sent")]
    Off { fix: String, site: String },
    #[error(
        "{fix} runs only with the consent of the user it affects, given on their help page (ask-user); a technician cannot apply it"
    )]
    NeedsUser { fix: String },
    #[error("{fix} is already running on ticket {ticket}")]
    Running { fix: String, ticket: i64 },
    #[error("{0}")]
    BadParameter(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for FixError {
    fn from(error: sqlx::Error) -> Self {
        FixError::Store(StoreError::Database(error))
    }
}

/// Who starts a rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum StartedBy<'a> {
    /// The policy, because the fault was found (`auto`).
    Policy,
    /// A technician pressed "Apply fix" (`approve`, or an `auto` fix by hand).
    Technician(&'a str),
    /// The affected user pressed "Try the fix" on their help page (`ask-user`): their
    /// consent, which travels to the agent with the request.
    User(&'a str),
}

impl StartedBy<'_> {
    fn allowed_by(&self) -> String {
        match self {
            StartedBy::Policy => "policy:auto".to_owned(),
            StartedBy::Technician(name) => format!("technician:{name}"),
            StartedBy::User(account) => format!("user:{account}"),
        }
    }

    /// Whether a fix whose mode is `mode` for a device may be started this way.
    fn may_start(&self, mode: Mode) -> bool {
        match self {
            StartedBy::Policy => mode == Mode::Auto,
            StartedBy::Technician(_) => matches!(mode, Mode::Auto | Mode::Approve),
            StartedBy::User(_) => mode == Mode::AskUser,
        }
    }

    /// Back from a stored `allowed_by`.
    fn parse(allowed_by: &str) -> StartedBy<'_> {
        if let Some(name) = allowed_by.strip_prefix("technician:") {
            StartedBy::Technician(name)
        } else if let Some(account) = allowed_by.strip_prefix("user:") {
            StartedBy::User(account)
        } else {
            StartedBy::Policy
        }
    }
}

/// What a technician may add to a fix's parameters (the rest come from the ticket's fault).
fn extra_parameters(fix: &str) -> &'static [&'static str] {
    match fix {
        "disk.cleanup" => &["older_than_days", "journal_max_mb"],
        "print.restart" => &["stuck_minutes"],
        _ => &[],
    }
}

/// Fix requests one device is sent at a time: what its agent holds (one running, 4
/// waiting; it answers more "busy").
const MAX_SENT_PER_DEVICE: usize = 4;

/// Rows the fixes' pass reads at a time.
const PLAN_PAGE: usize = 500;

/// The checks some fix answers (with user reports, answered by their diagnosis).
const ANSWERED_CHECKS: &str = "('disk.used_pct', 'dns.resolve', 'service.not_running', 'clock.skew_secs', 'network.gateway_missing', 'user.report')";
const OPEN_STATES: &str = "('new', 'assigned', 'in_progress', 'pending')";
/// The reports a ticket was opened by or joined (not those a known outage explained), with
/// the evidence of their diagnosis, as candidates' rows.
const REPORTS_OF_TICKET: &str = "SELECT l.device_id, f.check_name, f.resource, f.evidence_json, d.site FROM report_links l \
     JOIN findings f ON f.device_id = l.device_id AND f.check_name = 'user.report' AND f.resource = l.report_id \
     JOIN devices d ON d.id = l.device_id WHERE l.ticket_id = $1 AND l.how <> 'known_outage' \
     ORDER BY l.device_id, l.report_id";

/// The fix answering one stored condition.
fn fix_of_condition(
    check: &str,
    resource: &str,
    evidence_json: &str,
) -> Option<(&'static FixInfo, Parameters)> {
    if check == crate::tickets::USER_REPORT {
        fixes::for_report(evidence_json)
    } else {
        fixes::for_condition(check, resource)
    }
}

/// A device the ticket's fault is on, with its site.
struct Candidate {
    device_id: String,
    site: String,
    fix: &'static FixInfo,
    parameters: Parameters,
}

macro_rules! note {
    ($transaction:expr, $ticket_id:expr, $at_ms:expr, $actor:expr, $text:expr, $data_json:expr) => {{
        sqlx::query("INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text, data_json) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind($ticket_id)
            .bind($at_ms)
            .bind(NoteKind::Fix.as_str())
            .bind($actor)
            .bind($text)
            .bind($data_json)
            .execute(&mut *$transaction)
            .await?;
        sqlx::query("UPDATE tickets SET updated_at_ms = $1 WHERE id = $2")
            .bind($at_ms)
            .bind($ticket_id)
            .execute(&mut *$transaction)
            .await?;
    }};
}

/// Ends a running rollout's attempt as `state` ("done" or "stopped") with its outcome; true
/// only for the one advance that ended it (two at once, an answer and the pass or two
/// collectors, end it once, and only that one acts on the ticket).
macro_rules! end_rollout {
    ($transaction:expr, $state:expr, $outcome:expr, $ticket_id:expr, $fix:expr, $attempt:expr, $now_ms:expr) => {
        sqlx::query(
            "UPDATE fix_rollouts SET state = $1, ended_at_ms = $2, outcome = $3 \
             WHERE ticket_id = $4 AND fix = $5 AND state = 'running' AND attempt = $6",
        )
        .bind($state)
        .bind($now_ms)
        .bind($outcome)
        .bind($ticket_id)
        .bind($fix)
        .bind($attempt)
        .execute(&mut *$transaction)
        .await?
        .rows_affected()
            == 1
    };
}

/// The devices of `ticket_id` whose fault (a condition not resolved) some fix answers.
macro_rules! candidates {
    ($transaction:expr, $ticket_id:expr) => {{
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.device_id, c.check_name, c.resource, c.evidence_json, d.site FROM conditions c \
             JOIN devices d ON d.id = c.device_id WHERE c.ticket_id = $1 AND c.state <> 'resolved' \
             AND c.check_name IN {ANSWERED_CHECKS} ORDER BY c.device_id, c.check_name, c.resource"
        )))
        .bind($ticket_id)
        .fetch_all(&mut *$transaction)
        .await?;
        // A user's reports on the ticket (they are not conditions), answered by their
        // diagnosis.
        let reports = sqlx::query(REPORTS_OF_TICKET)
            .bind($ticket_id)
            .fetch_all(&mut *$transaction)
            .await?;
        let mut candidates = Vec::with_capacity(rows.len() + reports.len());
        for row in rows.iter().chain(&reports) {
            let check: String = row.try_get("check_name")?;
            let resource: String = row.try_get("resource")?;
            let evidence: String = row.try_get("evidence_json")?;
            if let Some((fix, parameters)) = fix_of_condition(&check, &resource, &evidence) {
                candidates.push(Candidate {
                    device_id: row.try_get("device_id")?,
                    site: row.try_get("site")?,
                    fix,
                    parameters,
                });
            }
        }
        candidates
    }};
}

macro_rules! overrides {
    ($executor:expr) => {{
        let rows = sqlx::query("SELECT fix, site, mode, updated_by, updated_at_ms FROM fix_policies ORDER BY fix, site")
            .fetch_all($executor)
            .await?;
        let mut overrides = Vec::with_capacity(rows.len());
        for row in &rows {
            let mode: String = row.try_get("mode")?;
            if let Some(mode) = Mode::parse(&mode) {
                overrides.push(PolicyOverride {
                    fix: row.try_get("fix")?,
                    site: row.try_get("site")?,
                    mode,
                    updated_by: row.try_get("updated_by")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                });
            }
        }
        overrides
    }};
}

macro_rules! run_from_row {
    ($row:expr) => {{
        let row = $row;
        let parameters: String = row.try_get("parameters_json")?;
        let report: Option<String> = row.try_get("report_json")?;
        FixRun {
            id: row.try_get("id")?,
            ticket_id: row.try_get("ticket_id")?,
            device_id: row.try_get("device_id")?,
            fix: row.try_get("fix")?,
            parameters: serde_json::from_str(&parameters).unwrap_or_default(),
            allowed_by: row.try_get("allowed_by")?,
            consent_account: row.try_get("consent_account")?,
            canary: row.try_get::<i64, _>("canary")? != 0,
            try_number: row.try_get("try_number")?,
            rollout_attempt: row.try_get("rollout_attempt")?,
            state: row.try_get("state")?,
            created_at_ms: row.try_get("created_at_ms")?,
            sent_at_ms: row.try_get("sent_at_ms")?,
            done_at_ms: row.try_get("done_at_ms")?,
            report: report.and_then(|json| serde_json::from_str(&json).ok()),
            error: row.try_get("error")?,
        }
    }};
}

/// What an advanced rollout asks of the rest of the collector.
#[derive(Debug, Default)]
pub struct Advanced {
    /// Devices with new requests (their sessions are nudged).
    pub nudge: BTreeSet<String>,
}

/// What a rollout's end does to its ticket, after the rollout's transaction committed.
enum Ending {
    Resolve { solution: String, actor: String },
    Escalate { reason: String },
}

impl Store {
    /// The modes set through the admin API.
    pub async fn fix_overrides(&self) -> Result<Vec<PolicyOverride>, StoreError> {
        with_pool!(self, pool => Ok(overrides!(pool)))
    }

    /// Sets (or with `None` clears) a fix's mode for a site (`""`: every site).
    pub async fn set_fix_mode(
        &self,
        fix: &str,
        site: &str,
        mode: Option<Mode>,
        updated_by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            match mode {
                Some(mode) => {
                    sqlx::query(
                        "INSERT INTO fix_policies (fix, site, mode, updated_by, updated_at_ms) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (fix, site) DO UPDATE SET mode = excluded.mode, updated_by = excluded.updated_by, updated_at_ms = excluded.updated_at_ms",
                    )
                    .bind(fix)
                    .bind(site)
                    .bind(mode.as_str())
                    .bind(updated_by)
                    .bind(now_ms)
                    .execute(pool)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM fix_policies WHERE fix = $1 AND site = $2")
                        .bind(fix)
                        .bind(site)
                        .execute(pool)
                        .await?;
                }
            }
        });
        Ok(())
    }

    /// Starts `fix` on ticket `ticket_id` and sends its first requests. A technician may aim
    /// at one device of the ticket and add the parameters the fix lets them set; the rest
    /// come from the fault. Refused, with nothing sent: an unknown fix, one that does not
    /// answer the ticket's fault, a device not on the ticket, a fix whose policy is off (or
    /// that needs the user), one already running.
    pub async fn start_fix(
        &self,
        ticket_id: i64,
        fix: &str,
        started_by: &StartedBy<'_>,
        only_device: Option<&str>,
        extra: &Parameters,
        now_ms: i64,
    ) -> Result<Advanced, FixError> {
        let info = fixes::info(fix).ok_or_else(|| FixError::UnknownFix(fix.to_owned()))?;
        let allowed_keys = extra_parameters(info.name);
        for (key, value) in extra {
            if !allowed_keys.contains(&key.as_str()) {
                return Err(FixError::BadParameter(if allowed_keys.is_empty() {
                    format!("{fix} takes no parameters from a technician; got {key:.40?}")
                } else {
                    format!(
                        "{fix} takes only {} from a technician; got {key:.40?}",
                        allowed_keys.join(", ")
                    )
                }));
            }
            if value.is_empty()
                || value.len() > fixes::MAX_PARAMETER_BYTES
                || value.chars().any(char::is_control)
            {
                return Err(FixError::BadParameter(format!(
                    "parameter {key:?} must be 1-{} characters without control characters",
                    fixes::MAX_PARAMETER_BYTES
                )));
            }
        }
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let row = sqlx::query("SELECT state FROM tickets WHERE id = $1")
                .bind(ticket_id)
                .fetch_optional(&mut *transaction)
                .await?;
            let Some(row) = row else {
                transaction.rollback().await?;
                return Err(FixError::NoTicket);
            };
            let state: String = row.try_get("state")?;
            if !crate::tickets::TicketState::parse(&state).is_some_and(|s| s.is_open()) {
                transaction.rollback().await?;
                return Err(FixError::NotOpen { id: ticket_id, state });
            }
            let candidates: Vec<Candidate> = candidates!(transaction, ticket_id)
                .into_iter()
                .filter(|c| c.fix.name == info.name)
                .collect();
            if candidates.is_empty() {
                transaction.rollback().await?;
                return Err(FixError::NotForThisTicket { fix: fix.to_owned(), ticket: ticket_id });
            }
            let candidates: Vec<Candidate> = match only_device {
                Some(device) => candidates.into_iter().filter(|c| c.device_id == device).collect(),
                None => candidates,
            };
            if candidates.is_empty() {
                transaction.rollback().await?;
                return Err(FixError::NotOnTicket {
                    device: only_device.unwrap_or_default().chars().take(80).collect(),
                    ticket: ticket_id,
                    fix: fix.to_owned(),
                });
            }
            // By policy, one device runs one fix at a time: a device failing to resolve a
            // hundred names gets one flush, whose effect the other tickets' checks then see.
            if *started_by == StartedBy::Policy
                && let [only] = candidates.as_slice()
            {
                let busy = sqlx::query(
                    "SELECT 1 AS yes FROM fix_runs r JOIN fix_rollouts o ON o.ticket_id = r.ticket_id AND o.fix = r.fix \
                     WHERE o.state = 'running' AND r.fix = $1 AND r.device_id = $2 AND r.state IN ('queued', 'sent') LIMIT 1",
                )
                .bind(info.name)
                .bind(&only.device_id)
                .fetch_optional(&mut *transaction)
                .await?;
                if busy.is_some() {
                    transaction.rollback().await?;
                    return Err(FixError::Running { fix: fix.to_owned(), ticket: ticket_id });
                }
            }
            let overrides = overrides!(&mut *transaction);
            let modes: Vec<(Mode, &str)> = candidates
                .iter()
                .map(|c| (self.fix_policy.mode(info.name, &c.site, &overrides).0, c.site.as_str()))
                .collect();
            let allowed = |mode: Mode| started_by.may_start(mode);
            if !modes.iter().any(|(mode, _)| allowed(*mode)) {
                transaction.rollback().await?;
                let (mode, site) = modes[0];
                return Err(if mode == Mode::AskUser && !matches!(started_by, StartedBy::User(_)) {
                    FixError::NeedsUser { fix: fix.to_owned() }
                } else {
                    FixError::Off { fix: fix.to_owned(), site: format!("site {site}") }
                });
            }
            let existing = sqlx::query("SELECT state, attempt FROM fix_rollouts WHERE ticket_id = $1 AND fix = $2")
                .bind(ticket_id)
                .bind(info.name)
                .fetch_optional(&mut *transaction)
                .await?;
            let attempt = match existing {
                Some(row) => {
                    let state: String = row.try_get("state")?;
                    if state == "running" || matches!(started_by, StartedBy::Policy | StartedBy::User(_)) {
                        // The policy starts a fix once per ticket, and so does its user (a
                        // fix that did not help is not theirs to try again); then only a
                        // technician.
                        transaction.rollback().await?;
                        return Err(FixError::Running { fix: fix.to_owned(), ticket: ticket_id });
                    }
                    row.try_get::<i64, _>("attempt")? + 1
                }
                None => 1,
            };
            let allowed_by = started_by.allowed_by();
            let extra_json = (!extra.is_empty()).then(|| serde_json::to_string(extra).unwrap_or_default());
            let inserted = sqlx::query(
                "INSERT INTO fix_rollouts (ticket_id, fix, state, allowed_by, attempt, started_at_ms, only_device, extra_json) \
                 VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) \
                 ON CONFLICT (ticket_id, fix) DO UPDATE SET state = 'running', allowed_by = excluded.allowed_by, \
                 attempt = excluded.attempt, started_at_ms = excluded.started_at_ms, ended_at_ms = NULL, outcome = NULL, \
                 only_device = excluded.only_device, extra_json = excluded.extra_json \
                 WHERE fix_rollouts.state <> 'running'",
            )
            .bind(ticket_id)
            .bind(info.name)
            .bind(&allowed_by)
            .bind(attempt)
            .bind(now_ms)
            .bind(only_device)
            .bind(&extra_json)
            .execute(&mut *transaction)
            .await?;
            if inserted.rows_affected() == 0 {
                // Another collector started it a moment ago.
                transaction.rollback().await?;
                return Err(FixError::Running { fix: fix.to_owned(), ticket: ticket_id });
            }
            let who = match started_by {
                StartedBy::Policy => "automatically (its policy is auto)".to_owned(),
                StartedBy::Technician(name) => format!("by {name}"),
                StartedBy::User(account) => format!("by the user {account}, with their consent on their help page"),
            };
            let devices = modes.iter().filter(|(mode, _)| allowed(*mode)).count();
            let text = format!(
                "Fix {} started {who}: {}{}",
                info.name,
                info.summary,
                if devices > 1 { format!(" ({devices} devices, a few first)") } else { String::new() }
            );
            let actor = match started_by {
                StartedBy::Policy => None,
                StartedBy::Technician(name) | StartedBy::User(name) => Some(*name),
            };
            note!(transaction, ticket_id, now_ms, actor, &text, None::<&str>);
            transaction.commit().await?;
        });
        Ok(self.advance_fix(ticket_id, info.name, now_ms).await?)
    }

    /// Takes a running rollout one step (`crate::fixes::plan`): sends requests, or ends it
    /// and resolves or escalates its ticket.
    pub async fn advance_fix(
        &self,
        ticket_id: i64,
        fix: &str,
        now_ms: i64,
    ) -> Result<Advanced, StoreError> {
        let policy = self.fix_policy.clone();
        let mut advanced = Advanced::default();
        let mut ending = None;
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let rollout = sqlx::query(
                "SELECT r.allowed_by, r.attempt, r.only_device, r.extra_json, t.state AS ticket_state, t.fingerprint \
                 FROM fix_rollouts r JOIN tickets t ON t.id = r.ticket_id \
                 WHERE r.ticket_id = $1 AND r.fix = $2 AND r.state = 'running'",
            )
            .bind(ticket_id)
            .bind(fix)
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(rollout) = rollout else {
                transaction.rollback().await?;
                return Ok(advanced);
            };
            let allowed_by: String = rollout.try_get("allowed_by")?;
            let attempt: i64 = rollout.try_get("attempt")?;
            let only_device: Option<String> = rollout.try_get("only_device")?;
            let extra: Parameters = rollout
                .try_get::<Option<String>, _>("extra_json")?
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default();
            let ticket_state: String = rollout.try_get("ticket_state")?;
            let fingerprint: String = rollout.try_get("fingerprint")?;
            let ticket_open = crate::tickets::TicketState::parse(&ticket_state).is_some_and(|s| s.is_open());
            let started_by = StartedBy::parse(&allowed_by);
            let consent_account = match started_by {
                StartedBy::User(account) => Some(account.to_owned()),
                _ => None,
            };
            let overrides = overrides!(&mut *transaction);
            // The devices still failing that the rollout may ask, in a stable order; a site
            // turned off meanwhile is left out.
            let targets: Vec<Target> = if ticket_open {
                candidates!(transaction, ticket_id)
                    .into_iter()
                    .filter(|c| c.fix.name == fix)
                    .filter(|c| only_device.as_deref().is_none_or(|d| d == c.device_id))
                    .filter(|c| started_by.may_start(policy.mode(fix, &c.site, &overrides).0))
                    .filter({
                        // One target per device (several reports of one device are one).
                        let mut seen = BTreeSet::new();
                        move |c| seen.insert(c.device_id.clone())
                    })
                    .map(|c| {
                        let mut parameters = c.parameters;
                        for (key, value) in &extra {
                            parameters.entry(key.clone()).or_insert_with(|| value.clone());
                        }
                        Target { device_id: c.device_id, parameters }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let rows = sqlx::query(
                "SELECT device_id, canary, try_number, state, done_at_ms FROM fix_runs \
                 WHERE ticket_id = $1 AND fix = $2 AND rollout_attempt = $3",
            )
            .bind(ticket_id)
            .bind(fix)
            .bind(attempt)
            .fetch_all(&mut *transaction)
            .await?;
            let mut runs = Vec::with_capacity(rows.len());
            for row in &rows {
                runs.push(RunView {
                    device_id: row.try_get("device_id")?,
                    canary: row.try_get::<i64, _>("canary")? != 0,
                    try_number: u32::try_from(row.try_get::<i64, _>("try_number")?).unwrap_or(u32::MAX),
                    state: row.try_get("state")?,
                    done_at_ms: row.try_get("done_at_ms")?,
                });
            }
            if !ticket_open {
                // Closed meanwhile (recovered, or by a person): what has not gone out yet never
                // will; what was sent may still answer.
                sqlx::query("UPDATE fix_runs SET state = 'cancelled', done_at_ms = $1 WHERE ticket_id = $2 AND fix = $3 AND state = 'queued'")
                    .bind(now_ms)
                    .bind(ticket_id)
                    .bind(fix)
                    .execute(&mut *transaction)
                    .await?;
                for run in runs.iter_mut().filter(|r| r.state == "queued") {
                    run.state = "cancelled".to_owned();
                }
            }
            let steps = if !ticket_open && !runs.iter().any(|r| r.state == "sent") {
                // The ticket closed (recovered, or by a person) with nothing waiting.
                let verified = runs.iter().filter(|r| r.state == "verified").count();
                vec![if verified > 0 { Step::Done { devices: verified } } else {
                    Step::Stop { reason: format!("the ticket was {ticket_state} before the fix ran"), tried: false }
                }]
            } else {
                fixes::plan(&targets, &runs, &policy, now_ms)
            };
            let ttl_ms = i64::try_from(policy.request_ttl.as_millis()).unwrap_or(i64::MAX);
            let mut queued = 0;
            let mut canaries = 0;
            for step in steps {
                match step {
                    Step::Queue { target, canary, try_number } => {
                        let parameters = serde_json::to_string(&target.parameters).unwrap_or_default();
                        let inserted = sqlx::query(
                            "INSERT INTO fix_runs (id, ticket_id, device_id, fix, parameters_json, allowed_by, fingerprint, \
                             rollout_attempt, try_number, canary, state, created_at_ms, expires_at_ms, consent_account) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $13) \
                             ON CONFLICT (ticket_id, fix, device_id, rollout_attempt, try_number) DO NOTHING",
                        )
                        .bind(uuid::Uuid::new_v4().to_string())
                        .bind(ticket_id)
                        .bind(&target.device_id)
                        .bind(fix)
                        .bind(&parameters)
                        .bind(&allowed_by)
                        .bind(&fingerprint)
                        .bind(attempt)
                        .bind(i64::from(try_number))
                        .bind(i64::from(canary))
                        .bind(now_ms)
                        .bind(now_ms.saturating_add(ttl_ms))
                        .bind(&consent_account)
                        .execute(&mut *transaction)
                        .await?;
                        if inserted.rows_affected() > 0 {
                            queued += 1;
                            canaries += usize::from(canary);
                            advanced.nudge.insert(target.device_id);
                        }
                    }
                    Step::Done { devices } => {
                        let outcome = format!("verified on {devices} device{}", if devices == 1 { "" } else { "s" });
                        if !end_rollout!(transaction, "done", &outcome, ticket_id, fix, attempt, now_ms) {
                            continue;
                        }
                        let (solution, actor) = match started_by {
                            StartedBy::Policy => (format!("Fixed automatically, verified: {fix}"), "Firstline (automatic fix)".to_owned()),
                            StartedBy::Technician(name) => (format!("Fixed with {fix}, verified"), name.to_owned()),
                            StartedBy::User(account) => (
                                format!("Fixed with {fix} (started by the user), verified"),
                                format!("{account} (requester)"),
                            ),
                        };
                        // A person who reopened the ticket since the fix started decides.
                        let reopened = sqlx::query(
                            "SELECT 1 AS yes FROM ticket_events WHERE ticket_id = $1 AND kind = 'state' AND text LIKE 'Reopened%' \
                             AND at_ms >= (SELECT started_at_ms FROM fix_rollouts WHERE ticket_id = $1 AND fix = $2) LIMIT 1",
                        )
                        .bind(ticket_id)
                        .bind(fix)
                        .fetch_optional(&mut *transaction)
                        .await?
                        .is_some();
                        if ticket_open && devices > 0 && reopened {
                            note!(transaction, ticket_id, now_ms, None::<&str>, &format!("Fix {fix} verified, but the ticket was reopened since it started: left open for whoever reopened it"), None::<&str>);
                        } else if ticket_open && devices > 0 {
                            ending = Some(Ending::Resolve { solution, actor });
                        } else if devices > 0 && ticket_state == "resolved" {
                            // The check saw the fault clear (the fix's doing) a moment before
                            // the fix's own answer arrived, and the ticket resolved itself as
                            // recovered: the fix gets the credit it earned.
                            let amended = sqlx::query(
                                "UPDATE tickets SET resolution = $1 WHERE id = $2 AND state = 'resolved' AND resolution LIKE 'auto-resolved:%' \
                                 AND resolved_at_ms >= (SELECT started_at_ms FROM fix_rollouts WHERE ticket_id = $2 AND fix = $3)",
                            )
                            .bind(&solution)
                            .bind(ticket_id)
                            .bind(fix)
                            .execute(&mut *transaction)
                            .await?
                            .rows_affected();
                            if amended > 0 {
                                note!(transaction, ticket_id, now_ms, Some(actor.as_str()), &format!("Resolution: {solution}"), None::<&str>);
                            }
                        }
                    }
                    Step::Stop { reason, tried } => {
                        if !end_rollout!(transaction, "stopped", &reason, ticket_id, fix, attempt, now_ms) {
                            continue;
                        }
                        let cancelled = sqlx::query(
                            "UPDATE fix_runs SET state = 'cancelled', done_at_ms = $1 \
                             WHERE ticket_id = $2 AND fix = $3 AND state = 'queued'",
                        )
                        .bind(now_ms)
                        .bind(ticket_id)
                        .bind(fix)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected();
                        let cancelled = if cancelled > 0 { format!(" ({cancelled} waiting requests cancelled)") } else { String::new() };
                        note!(transaction, ticket_id, now_ms, None::<&str>, &format!("Fix {fix} stopped: {reason}{cancelled}"), None::<&str>);
                        if ticket_open && tried {
                            ending = Some(Ending::Escalate { reason: format!("tried {fix}: did not help ({reason})") });
                        }
                    }
                }
            }
            if queued > 0 {
                let text = match (queued, canaries) {
                    (1, _) => format!("Fix {fix} sent to {}; waiting for its answer", advanced.nudge.iter().next().map_or("", String::as_str)),
                    (n, 0) => format!("Fix {fix} sent to {n} more devices"),
                    (n, c) if c == n => format!("Fix {fix} sent to {n} canary devices first; the others wait until they verify"),
                    (n, c) => format!("Fix {fix} sent to {n} devices ({c} canaries)"),
                };
                note!(transaction, ticket_id, now_ms, None::<&str>, &text, None::<&str>);
            }
            transaction.commit().await?;
        });
        match ending {
            Some(Ending::Resolve { solution, actor }) => {
                if let Err(e) = self
                    .staff_action(
                        ticket_id,
                        &actor,
                        &StaffAction::Resolve { solution },
                        now_ms,
                    )
                    .await
                {
                    tracing::info!(ticket = ticket_id, fix, error = %e, "a verified fix could not resolve its ticket");
                }
            }
            Some(Ending::Escalate { reason }) => {
                if let Err(e) = self
                    .staff_action(
                        ticket_id,
                        "Firstline (automatic fix)",
                        &StaffAction::Escalate { reason },
                        now_ms,
                    )
                    .await
                {
                    // At the top tier already: the stop's note says it.
                    tracing::info!(ticket = ticket_id, fix, error = %e, "a fix that did not help could not escalate its ticket");
                }
            }
            None => {}
        }
        Ok(advanced)
    }

    /// The periodic pass: requests past their time expire, fixes whose policy is auto start
    /// on open tickets they answer, and running rollouts take their next step. One ticket
    /// failing is logged and the others go on.
    pub async fn plan_fixes(&self, now_ms: i64) -> Result<Advanced, StoreError> {
        let mut advanced = Advanced::default();
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE fix_runs SET state = 'expired', done_at_ms = $1 WHERE state IN ('queued', 'sent') AND expires_at_ms <= $1",
            )
            .bind(now_ms)
            .execute(pool)
            .await?;
            let overrides = overrides!(pool);
            // Started in this pass (start_fix took their first step already).
            let mut started: BTreeSet<(i64, &'static str)> = BTreeSet::new();
            // Open tickets no fix was started on yet, a page at a time (by ticket id, so every
            // one is seen however many there are): one row per ticket, check, site and, for a
            // stopped service, which one (an incident of thousands of devices is a few rows).
            let mut after = 0_i64;
            loop {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT DISTINCT c.ticket_id, c.check_name, \
                     CASE WHEN c.check_name = 'service.not_running' THEN c.resource ELSE '' END AS resource, \
                     '{{}}' AS evidence_json, d.site FROM conditions c \
                     JOIN tickets t ON t.id = c.ticket_id JOIN devices d ON d.id = c.device_id \
                     WHERE c.ticket_id > $1 AND t.state IN {OPEN_STATES} AND c.state <> 'resolved' \
                     AND c.check_name IN {ANSWERED_CHECKS} \
                     AND NOT EXISTS (SELECT 1 FROM fix_rollouts r WHERE r.ticket_id = c.ticket_id) \
                     UNION ALL \
                     SELECT l.ticket_id, f.check_name, f.resource, f.evidence_json, d.site FROM report_links l \
                     JOIN tickets t ON t.id = l.ticket_id \
                     JOIN findings f ON f.device_id = l.device_id AND f.check_name = 'user.report' AND f.resource = l.report_id \
                     JOIN devices d ON d.id = l.device_id \
                     WHERE l.ticket_id > $1 AND t.kind = 'report' AND t.state IN {OPEN_STATES} AND l.how <> 'known_outage' \
                     AND NOT EXISTS (SELECT 1 FROM fix_rollouts r WHERE r.ticket_id = l.ticket_id) \
                     ORDER BY 1 LIMIT {PLAN_PAGE}"
                )))
                .bind(after)
                .fetch_all(pool)
                .await?;
                let mut wanted: BTreeSet<(i64, &'static str)> = BTreeSet::new();
                let mut last = after;
                for row in &rows {
                    let ticket_id: i64 = row.try_get("ticket_id")?;
                    last = last.max(ticket_id);
                    let check: String = row.try_get("check_name")?;
                    let resource: String = row.try_get("resource")?;
                    let evidence: String = row.try_get("evidence_json")?;
                    let site: String = row.try_get("site")?;
                    if let Some((fix, _)) = fix_of_condition(&check, &resource, &evidence)
                        && self.fix_policy.mode(fix.name, &site, &overrides).0 == Mode::Auto
                    {
                        wanted.insert((ticket_id, fix.name));
                    }
                }
                for (ticket_id, fix) in wanted {
                    match self.start_fix(ticket_id, fix, &StartedBy::Policy, None, &Parameters::new(), now_ms).await {
                        Ok(more) => {
                            advanced.nudge.extend(more.nudge);
                            started.insert((ticket_id, fix));
                        }
                        Err(FixError::Running { .. }) => {}
                        Err(e) => tracing::warn!(ticket = ticket_id, fix, error = %e, "starting an automatic fix failed"),
                    }
                }
                // A full page may end inside a ticket's rows: that ticket is read again next
                // page (its fix, if started, is then skipped by NOT EXISTS).
                if rows.len() < PLAN_PAGE {
                    break;
                }
                // Unless one ticket filled the page (then its rest is left for later passes).
                after = if last - 1 > after { last - 1 } else { last };
            }
            let mut after = 0_i64;
            loop {
                let running = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT ticket_id, fix FROM fix_rollouts WHERE state = 'running' AND ticket_id > $1 ORDER BY ticket_id LIMIT {PLAN_PAGE}"
                )))
                .bind(after)
                .fetch_all(pool)
                .await?;
                for row in &running {
                    let ticket_id: i64 = row.try_get("ticket_id")?;
                    after = after.max(ticket_id);
                    let fix: String = row.try_get("fix")?;
                    if started.iter().any(|(t, f)| *t == ticket_id && *f == fix) {
                        continue;
                    }
                    match self.advance_fix(ticket_id, &fix, now_ms).await {
                        Ok(more) => advanced.nudge.extend(more.nudge),
                        Err(e) => tracing::warn!(ticket = ticket_id, fix = %fix, error = %e, "advancing a fix failed"),
                    }
                }
                if running.len() < PLAN_PAGE {
                    break;
                }
            }
        });
        Ok(advanced)
    }

    /// Requests for `device_id` still to deliver: queued ones, and with `resend` also those
    /// sent on an earlier stream that never answered (the agent answers a re-sent id from
    /// memory, never running it twice). Marks them sent.
    pub async fn take_fixes(
        &self,
        device_id: &str,
        resend: bool,
        now_ms: i64,
    ) -> Result<Vec<FixRun>, StoreError> {
        let states = if resend {
            "('queued', 'sent')"
        } else {
            "('queued')"
        };
        let select = format!(
            "SELECT * FROM fix_runs WHERE device_id = $1 AND state IN {states} \
             AND expires_at_ms > $2 AND EXISTS (SELECT 1 FROM fix_rollouts r WHERE r.ticket_id = fix_runs.ticket_id \
             AND r.fix = fix_runs.fix AND r.state = 'running' AND r.attempt = fix_runs.rollout_attempt) \
             ORDER BY created_at_ms LIMIT {MAX_SENT_PER_DEVICE}"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(device_id)
                .bind(now_ms)
                .fetch_all(pool)
                .await?;
            let mut runs = Vec::with_capacity(rows.len());
            for row in &rows {
                let run = run_from_row!(row);
                // Sent only if still waiting now (not cancelled a moment ago by a stop).
                let claimed = sqlx::query("UPDATE fix_runs SET state = 'sent', sent_at_ms = $1 WHERE id = $2 AND state IN ('queued', 'sent')")
                    .bind(now_ms)
                    .bind(&run.id)
                    .execute(pool)
                    .await?
                    .rows_affected();
                if claimed == 1 {
                    runs.push(run);
                }
            }
            Ok(runs)
        })
    }

    /// Records what `device_id` answered to `request_id`, with a note on the ticket saying
    /// what changed and whether the fault is gone. Only the device a request was for may
    /// answer it; an answer to an unknown or finished request is ignored (None). Returns the
    /// rollout to advance.
    pub async fn complete_fix(
        &self,
        device_id: &str,
        request_id: &str,
        outcome: &str,
        report_json: Option<&str>,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let outcome = match outcome {
            "verified" | "not_verified" | "failed" | "refused" => outcome,
            // An agent newer than this collector: what it did is kept, as a failure.
            _ => "failed",
        };
        let report: Option<serde_json::Value> =
            report_json.and_then(|json| serde_json::from_str(json).ok());
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            // An answer to nothing of this device's costs one read, not the write lock.
            let known = sqlx::query("SELECT 1 AS yes FROM fix_runs WHERE id = $1 AND device_id = $2 AND state IN ('queued', 'sent', 'expired')")
                .bind(request_id)
                .bind(device_id)
                .fetch_optional(pool)
                .await?;
            if known.is_none() {
                return Ok(None);
            }
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let row = sqlx::query(
                "SELECT ticket_id, fix, state FROM fix_runs WHERE id = $1 AND device_id = $2",
            )
            .bind(request_id)
            .bind(device_id)
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(row) = row else {
                transaction.rollback().await?;
                return Ok(None);
            };
            let state: String = row.try_get("state")?;
            // An answer after expiry still says what happened on the device: keep it.
            if !matches!(state.as_str(), "queued" | "sent" | "expired") {
                transaction.rollback().await?;
                return Ok(None);
            }
            let ticket_id: i64 = row.try_get("ticket_id")?;
            let fix: String = row.try_get("fix")?;
            sqlx::query(
                "UPDATE fix_runs SET state = $1, done_at_ms = $2, report_json = $3, error = $4 WHERE id = $5",
            )
            .bind(outcome)
            .bind(now_ms)
            .bind(report_json)
            .bind(error)
            .bind(request_id)
            .execute(&mut *transaction)
            .await?;
            let text = describe_result(&fix, device_id, outcome, report.as_ref(), error);
            note!(transaction, ticket_id, now_ms, None::<&str>, &text, report_json);
            transaction.commit().await?;
            Ok(Some((ticket_id, fix)))
        })
    }

    /// The fixes the ticket page offers, and the rollouts and runs so far.
    pub async fn ticket_fixes(&self, ticket_id: i64) -> Result<TicketFixes, StoreError> {
        with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let candidates = candidates!(connection, ticket_id);
            let overrides = overrides!(&mut *connection);
            let fingerprint: Option<String> = sqlx::query("SELECT fingerprint FROM tickets WHERE id = $1")
                .bind(ticket_id)
                .fetch_optional(&mut *connection)
                .await?
                .map(|row| row.try_get("fingerprint"))
                .transpose()?;
            let rows = sqlx::query("SELECT * FROM fix_rollouts WHERE ticket_id = $1 ORDER BY started_at_ms")
                .bind(ticket_id)
                .fetch_all(&mut *connection)
                .await?;
            let mut rollouts = Vec::with_capacity(rows.len());
            for row in &rows {
                rollouts.push(FixRollout {
                    ticket_id,
                    fix: row.try_get("fix")?,
                    state: row.try_get("state")?,
                    allowed_by: row.try_get("allowed_by")?,
                    attempt: row.try_get("attempt")?,
                    started_at_ms: row.try_get("started_at_ms")?,
                    ended_at_ms: row.try_get("ended_at_ms")?,
                    outcome: row.try_get("outcome")?,
                });
            }
            let mut offers: Vec<FixOffer> = Vec::new();
            let mut counted = BTreeSet::new();
            for candidate in &candidates {
                if !counted.insert((candidate.fix.name, candidate.device_id.clone())) {
                    continue;
                }
                if let Some(offer) = offers.iter_mut().find(|o| o.fix == candidate.fix.name) {
                    offer.devices += 1;
                    continue;
                }
                let (worked, tried) = match &fingerprint {
                    Some(fingerprint) => {
                        let row = sqlx::query(
                            "SELECT COALESCE(SUM(CASE WHEN state = 'verified' THEN 1 ELSE 0 END), 0) AS worked, COUNT(*) AS tried \
                             FROM fix_runs WHERE fingerprint = $1 AND fix = $2 AND state IN ('verified', 'not_verified', 'failed')",
                        )
                        .bind(fingerprint)
                        .bind(candidate.fix.name)
                        .fetch_one(&mut *connection)
                        .await?;
                        (row.try_get::<i64, _>("worked")?, row.try_get::<i64, _>("tried")?)
                    }
                    None => (0, 0),
                };
                offers.push(FixOffer {
                    fix: candidate.fix.name.to_owned(),
                    summary: candidate.fix.summary.to_owned(),
                    mode: self.fix_policy.mode(candidate.fix.name, &candidate.site, &overrides).0,
                    devices: 1,
                    worked,
                    tried,
                    running: rollouts.iter().any(|r| r.fix == candidate.fix.name && r.state == "running"),
                });
            }
            let rows = sqlx::query("SELECT * FROM fix_runs WHERE ticket_id = $1 ORDER BY created_at_ms, device_id LIMIT 200")
                .bind(ticket_id)
                .fetch_all(&mut *connection)
                .await?;
            let mut runs = Vec::with_capacity(rows.len());
            for row in &rows {
                runs.push(run_from_row!(row));
            }
            Ok(TicketFixes { offers, rollouts, runs })
        })
    }

    /// Requests waiting (queued or sent, unanswered) for `device_id`, for tests.
    #[cfg(test)]
    pub(crate) async fn fix_runs_waiting(&self, device_id: &str, now_ms: i64) -> i64 {
        with_pool!(self, pool => {
            sqlx::query("SELECT COUNT(*) AS n FROM fix_runs WHERE device_id = $1 AND state IN ('queued', 'sent') AND expires_at_ms > $2")
                .bind(device_id)
                .bind(now_ms)
                .fetch_one(pool)
                .await
                .and_then(|row| row.try_get::<i64, _>("n"))
                .unwrap_or(-1)
        })
    }

    /// The fixes' numbers.
    pub async fn fix_stats(&self) -> Result<FixStats, StoreError> {
        with_pool!(self, pool => {
            let mut stats = FixStats::default();
            let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM fix_runs GROUP BY state")
                .fetch_all(pool)
                .await?;
            for row in &rows {
                let state: String = row.try_get("state")?;
                let state = if matches!(state.as_str(), "queued" | "sent") { "waiting".to_owned() } else { state };
                *stats.runs.entry(state).or_default() += row.try_get::<i64, _>("n")?;
            }
            let count = |state: &str| stats.runs.get(state).copied().unwrap_or(0);
            let ran = count("verified") + count("not_verified") + count("failed");
            stats.verified_rate = (ran > 0).then(|| count("verified") as f64 / ran as f64);
            let resolved: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tickets WHERE resolved_at_ms IS NOT NULL")
                .fetch_one(pool)
                .await?
                .try_get("n")?;
            let rows = sqlx::query(
                "SELECT r.allowed_by, r.ended_at_ms, t.opened_at_ms FROM fix_rollouts r JOIN tickets t ON t.id = r.ticket_id \
                 WHERE r.state = 'done' AND r.outcome LIKE 'verified%' AND r.ended_at_ms IS NOT NULL",
            )
            .fetch_all(pool)
            .await?;
            let mut auto = Vec::new();
            let mut staff = Vec::new();
            for row in &rows {
                let allowed_by: String = row.try_get("allowed_by")?;
                let took = row.try_get::<i64, _>("ended_at_ms")? - row.try_get::<i64, _>("opened_at_ms")?;
                if allowed_by.starts_with("policy:") { auto.push(took) } else { staff.push(took) }
            }
            stats.self_healed_share = (resolved > 0).then(|| auto.len() as f64 / resolved as f64);
            let median = |mut values: Vec<i64>| {
                values.sort_unstable();
                values.get(values.len() / 2).copied()
            };
            stats.time_to_fix_auto_p50_ms = median(auto);
            stats.time_to_fix_staff_p50_ms = median(staff);
            Ok(stats)
        })
    }
}

/// One answer on the timeline, in words: what changed, bytes freed, what the probe saw after.
fn describe_result(
    fix: &str,
    device_id: &str,
    outcome: &str,
    report: Option<&serde_json::Value>,
    error: Option<&str>,
) -> String {
    let verdict = match outcome {
        "verified" => "fixed, verified",
        "not_verified" => "ran, but the fault is still there",
        "refused" => "refused by the device",
        _ => "failed",
    };
    let mut text = format!("Fix {fix} on {device_id}: {verdict}");
    if let Some(report) = report {
        let freed: u64 = report["changes"]
            .as_array()
            .map(|changes| {
                changes
                    .iter()
                    .filter_map(|c| c["bytes_freed"].as_u64())
                    .sum()
            })
            .unwrap_or(0);
        if freed > 0 {
            text.push_str(&format!("; freed {}", human_bytes(freed)));
        }
        if let Some(before) = report["before"].as_str() {
            text.push_str(&format!("; before: {before:.200}"));
        }
        if let Some(after) = report["verification"]["detail"].as_str() {
            text.push_str(&format!("; after: {after:.200}"));
        }
    }
    if let Some(error) = error {
        text.push_str(&format!(" ({error:.300})"));
    }
    text
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_as_what_changed_and_what_the_probe_saw_after() {
        let report = serde_json::json!({
            "fix": "disk.cleanup",
            "outcome": "verified",
            "before": "/mnt/data is 93% full",
            "changes": [{"target": "/tmp", "action": "removed 40 files", "bytes_freed": 9_437_184}, {"target": "trash", "bytes_freed": 1000}],
            "verification": {"passed": true, "detail": "/mnt/data is 21% full"},
        });
        assert_eq!(
            describe_result("disk.cleanup", "pc-7", "verified", Some(&report), None),
            "Fix disk.cleanup on pc-7: fixed, verified; freed 9.4 MB; before: /mnt/data is 93% full; after: /mnt/data is 21% full"
        );
        assert_eq!(
            describe_result(
                "service.restart",
                "pc-7",
                "refused",
                None,
                Some("refused by the agent: \"sshd\" is not on the list")
            ),
            "Fix service.restart on pc-7: refused by the device (refused by the agent: \"sshd\" is not on the list)"
        );
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;
    use crate::model::{Finding, Severity};
    use crate::store::TicketFilter;
    use crate::store::tests::{TestStore, backends};
    use crate::store::tickets::tests::{MINUTE, T0, enroll, store_one};
    use crate::tickets::{Policy, TicketKind, TicketState};

    fn failing(sequence: u64, check: &str, resource: &str, severity: Severity) -> Finding {
        Finding {
            sequence,
            check: check.to_owned(),
            resource: resource.to_owned(),
            severity,
            summary: format!("{check} on {resource}: {}", severity.as_str()),
            evidence_json: "{}".to_owned(),
            observed_at_ms: T0,
        }
    }

    async fn open_tickets(store: &Store) -> Vec<crate::store::TicketRecord> {
        store
            .tickets(&TicketFilter {
                state: Some("open".to_owned()),
                ..TicketFilter::default()
            })
            .await
            .expect("tickets")
    }

    /// Answers every request waiting for `device` with `outcome`; returns how many.
    async fn answer(store: &Store, device: &str, outcome: &str, at_ms: i64) -> usize {
        let runs = store.take_fixes(device, false, at_ms).await.expect("take");
        for run in &runs {
            let report = format!(
                r#"{{"fix":"{}","outcome":"{outcome}","changes":[],"verification":{{"passed":{},"detail":"looked again"}}}}"#,
                run.fix,
                outcome == "verified"
            );
            let done = store
                .complete_fix(device, &run.id, outcome, Some(&report), None, at_ms)
                .await
                .expect("complete");
            let (ticket, fix) = done.expect("an open request");
            store
                .advance_fix(ticket, &fix, at_ms)
                .await
                .expect("advance");
        }
        runs.len()
    }

    async fn waiting(store: &Store, devices: &[String], at_ms: i64) -> Vec<String> {
        let mut waiting = Vec::new();
        for device in devices {
            // Peek without taking: a resend-free take marks them sent, so count via the runs.
            let fixes = store.fix_runs_waiting(device, at_ms).await;
            if fixes > 0 {
                waiting.push(device.clone());
            }
        }
        waiting
    }

    #[tokio::test]
    async fn a_fleet_incident_runs_its_canaries_first_and_a_failing_canary_stops_the_rest() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let store = store.clone().with_policy(Policy::default());
            let ids: Vec<String> = (0..10).map(|n| format!("d{n:02}")).collect();
            for id in &ids {
                enroll(&store, id, "hq").await;
                store_one(
                    &store,
                    id,
                    failing(1, "dns.resolve", "intranet.example.com", Severity::Warning),
                    T0,
                )
                .await;
            }
            let open = open_tickets(&store).await;
            assert_eq!(open.len(), 1, "{backend}: {open:?}");
            assert_eq!(
                (open[0].kind, open[0].device_count),
                (TicketKind::Incident, 10),
                "{backend}"
            );
            let incident = open[0].id;

            // dns.flush is auto by default: the pass starts it on the two canaries only.
            let advanced = store.plan_fixes(T0 + MINUTE).await.expect("plan");
            assert_eq!(
                advanced.nudge.iter().cloned().collect::<Vec<_>>(),
                ["d00", "d01"],
                "{backend}"
            );
            assert_eq!(
                waiting(&store, &ids, T0 + MINUTE).await,
                ["d00", "d01"],
                "{backend}"
            );
            // A second pass (or a second collector) asks nobody else while they work.
            assert!(
                store
                    .plan_fixes(T0 + MINUTE + 1)
                    .await
                    .expect("plan")
                    .nudge
                    .is_empty(),
                "{backend}"
            );

            assert_eq!(
                answer(&store, "d00", "verified", T0 + 2 * MINUTE).await,
                1,
                "{backend}"
            );
            assert_eq!(
                answer(&store, "d01", "not_verified", T0 + 2 * MINUTE).await,
                1,
                "{backend}"
            );
            // Stopped: nobody else is asked, now or later, and the incident escalated once.
            for later in [3, 60, 600] {
                let advanced = store.plan_fixes(T0 + later * MINUTE).await.expect("plan");
                assert!(advanced.nudge.is_empty(), "{backend}: after {later} min");
            }
            assert!(
                waiting(&store, &ids, T0 + 600 * MINUTE).await.is_empty(),
                "{backend}"
            );
            let fixes = store.ticket_fixes(incident).await.expect("fixes");
            assert_eq!(fixes.rollouts.len(), 1, "{backend}");
            assert_eq!(fixes.rollouts[0].state, "stopped", "{backend}");
            assert!(
                fixes.rollouts[0]
                    .outcome
                    .as_deref()
                    .unwrap_or_default()
                    .contains("canary device d01 was not fixed"),
                "{backend}: {:?}",
                fixes.rollouts[0]
            );
            assert_eq!(fixes.runs.len(), 2, "{backend}: only the canaries ran");
            let detail = store
                .ticket_detail(incident)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(
                (detail.ticket.state.is_open(), detail.ticket.tier),
                (true, 2),
                "{backend}"
            );
            let escalations: Vec<_> = detail
                .timeline
                .iter()
                .filter(|e| e.kind == "escalation")
                .collect();
            assert_eq!(escalations.len(), 1, "{backend}: {escalations:?}");
            assert!(
                escalations[0]
                    .text
                    .contains("tried dns.flush: did not help"),
                "{backend}: {}",
                escalations[0].text
            );
            let offer = &fixes.offers[0];
            assert_eq!(
                (offer.fix.as_str(), offer.worked, offer.tried, offer.running),
                ("dns.flush", 1, 2, false),
                "{backend}"
            );
        }
    }

    #[tokio::test]
    async fn verified_canaries_let_the_rest_go_and_a_verified_fleet_resolves_the_incident() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let ids: Vec<String> = (0..10).map(|n| format!("d{n:02}")).collect();
            for id in &ids {
                enroll(store, id, "hq").await;
                store_one(
                    store,
                    id,
                    failing(1, "dns.resolve", "intranet.example.com", Severity::Warning),
                    T0,
                )
                .await;
            }
            let incident = open_tickets(store).await[0].id;
            store.plan_fixes(T0 + MINUTE).await.expect("plan");
            answer(store, "d00", "verified", T0 + 2 * MINUTE).await;
            answer(store, "d01", "verified", T0 + 2 * MINUTE).await;
            // Their answers asked the other eight at once.
            assert_eq!(
                waiting(store, &ids, T0 + 2 * MINUTE).await,
                ids[2..].to_vec(),
                "{backend}"
            );
            for id in &ids[2..] {
                answer(store, id, "verified", T0 + 3 * MINUTE).await;
            }
            let detail = store
                .ticket_detail(incident)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(detail.ticket.state, TicketState::Resolved, "{backend}");
            assert_eq!(
                detail.ticket.resolution.as_deref(),
                Some("Fixed automatically, verified: dns.flush"),
                "{backend}"
            );
            let stats = store.fix_stats().await.expect("stats");
            assert_eq!(stats.runs.get("verified"), Some(&10), "{backend}");
            assert_eq!(stats.verified_rate, Some(1.0), "{backend}");
            assert_eq!(stats.time_to_fix_auto_p50_ms, Some(3 * MINUTE), "{backend}");
        }
    }

    #[tokio::test]
    async fn one_device_runs_one_automatic_fix_at_a_time_however_many_tickets_it_answers() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            for (n, name) in ["a.example.com", "b.example.com", "c.example.com"]
                .iter()
                .enumerate()
            {
                store_one(
                    store,
                    "a",
                    failing(n as u64 + 1, "dns.resolve", name, Severity::Warning),
                    T0,
                )
                .await;
            }
            store.sweep(T0 + 3 * MINUTE).await.expect("sweep");
            assert_eq!(open_tickets(store).await.len(), 3, "{backend}");
            store.plan_fixes(T0 + 3 * MINUTE).await.expect("plan");
            store.plan_fixes(T0 + 3 * MINUTE + 1).await.expect("plan");
            assert_eq!(
                store.fix_runs_waiting("a", T0 + 3 * MINUTE).await,
                1,
                "{backend}: one flush at a time"
            );
            assert_eq!(
                answer(store, "a", "verified", T0 + 4 * MINUTE).await,
                1,
                "{backend}"
            );
            // The next pass starts the next ticket's (its name still fails here).
            store.plan_fixes(T0 + 4 * MINUTE).await.expect("plan");
            assert_eq!(
                store.fix_runs_waiting("a", T0 + 4 * MINUTE).await,
                1,
                "{backend}"
            );
        }
    }

    #[tokio::test]
    async fn what_cannot_run_is_refused_with_nothing_sent() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a", "hq").await;
            enroll(store, "b", "hq").await;
            store_one(
                store,
                "a",
                failing(1, "service.not_running", "sshd", Severity::Warning),
                T0,
            )
            .await;
            let ticket = open_tickets(store).await[0].id;
            let alice = StartedBy::Technician("alice");
            let none = Parameters::new();
            let refused =
                |result: Result<Advanced, FixError>| result.expect_err("refused").to_string();
            assert!(
                refused(
                    store
                        .start_fix(ticket, "rm.rf", &alice, None, &none, T0)
                        .await
                )
                .contains("is not a fix"),
                "{backend}"
            );
            assert!(
                refused(
                    store
                        .start_fix(ticket, "dns.flush", &alice, None, &none, T0)
                        .await
                )
                .contains("does not answer ticket"),
                "{backend}"
            );
            assert!(
                refused(
                    store
                        .start_fix(ticket, "service.restart", &alice, Some("b"), &none, T0)
                        .await
                )
                .contains("is not one of ticket"),
                "{backend}"
            );
            let path = Parameters::from([("mount".to_owned(), "/etc".to_owned())]);
            assert!(
                refused(
                    store
                        .start_fix(ticket, "service.restart", &alice, None, &path, T0)
                        .await
                )
                .contains("takes no parameters from a technician"),
                "{backend}"
            );
            // service.restart waits for a technician: the pass does not start it.
            assert!(
                store
                    .plan_fixes(T0 + MINUTE)
                    .await
                    .expect("plan")
                    .nudge
                    .is_empty(),
                "{backend}"
            );
            store
                .set_fix_mode("service.restart", "hq", Some(Mode::Off), "admin", T0)
                .await
                .expect("set");
            assert!(
                refused(
                    store
                        .start_fix(ticket, "service.restart", &alice, None, &none, T0)
                        .await
                )
                .contains("is off for site hq"),
                "{backend}"
            );
            assert_eq!(
                store.take_fixes("a", true, T0).await.expect("take"),
                [],
                "{backend}: nothing was sent"
            );

            // Back to the file's mode (approve): the technician's fix goes to the device.
            store
                .set_fix_mode("service.restart", "hq", None, "admin", T0)
                .await
                .expect("clear");
            let advanced = store
                .start_fix(ticket, "service.restart", &alice, None, &none, T0)
                .await
                .expect("start");
            assert_eq!(
                advanced.nudge.into_iter().collect::<Vec<_>>(),
                ["a"],
                "{backend}"
            );
            assert!(
                refused(
                    store
                        .start_fix(ticket, "service.restart", &alice, None, &none, T0)
                        .await
                )
                .contains("already running"),
                "{backend}"
            );
            let runs = store.take_fixes("a", false, T0).await.expect("take");
            assert_eq!(runs.len(), 1, "{backend}");
            assert_eq!(
                runs[0].parameters,
                serde_json::json!({"service": "sshd"}),
                "{backend}"
            );
            assert_eq!(runs[0].allowed_by, "technician:alice", "{backend}");
            // Another device cannot answer it.
            assert_eq!(
                store
                    .complete_fix("b", &runs[0].id, "verified", None, None, T0)
                    .await
                    .expect("complete"),
                None,
                "{backend}"
            );
            // The device refuses it (not on its allow-list): nothing ran, so nothing is
            // escalated as "did not help"; the rollout stops and is never sent again.
            answer(store, "a", "refused", T0 + 1).await;
            store
                .complete_fix(
                    "a",
                    &runs[0].id,
                    "refused",
                    None,
                    Some("refused by the agent: sshd is not on this device's list"),
                    T0 + 1,
                )
                .await
                .expect("complete");
            store
                .advance_fix(ticket, "service.restart", T0 + 2)
                .await
                .expect("advance");
            store.plan_fixes(T0 + 600 * MINUTE).await.expect("plan");
            assert_eq!(
                store
                    .take_fixes("a", true, T0 + 600 * MINUTE)
                    .await
                    .expect("take"),
                [],
                "{backend}"
            );
            let detail = store
                .ticket_detail(ticket)
                .await
                .expect("detail")
                .expect("ticket");
            assert_eq!(detail.ticket.tier, 1, "{backend}");
            assert!(
                detail
                    .timeline
                    .iter()
                    .any(|e| e.text
                        == "Fix service.restart stopped: the fix was refused by the device"),
                "{backend}: {:?}",
                detail.timeline.iter().map(|e| &e.text).collect::<Vec<_>>()
            );
            assert!(
                detail.timeline.iter().any(|e| e.text.contains("refused by the device (refused by the agent: sshd is not on this device's list)")),
                "{backend}: {:?}",
                detail.timeline.iter().map(|e| &e.text).collect::<Vec<_>>()
            );
        }
    }
}
