//! The ticket engine, pure: `decide(event, state, policy)` returns the actions that follow from
//! one event given the state it touches. No I/O, no clock: the event carries the time. The
//! store loads `State` inside a transaction, calls this, and applies the actions.

mod report;

use crate::model::{Finding, Severity};

use super::policy::{Level, Policy, Priority};
use super::{
    ConditionState, KnownFix, NoteKind, ReportHow, TicketKind, TicketState, device_ticket_key,
    fingerprint, incident_key,
};

/// A ticket as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketView {
    pub id: i64,
    pub kind: TicketKind,
    pub state: TicketState,
    /// Staff took it over (assigned, started, set pending): it no longer resolves itself.
    pub staff_owned: bool,
    pub assignee: Option<String>,
    pub check: String,
    pub fingerprint: String,
    pub impact: Level,
    pub urgency: Level,
    pub priority: Priority,
    pub tier: u8,
    pub opened_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub response_due_ms: i64,
    pub resolution_due_ms: i64,
    pub first_response_at_ms: Option<i64>,
    pub pending_since_ms: Option<i64>,
    pub response_breached: bool,
    pub resolution_breached: bool,
    /// Devices listed on the ticket (1 for a device ticket).
    pub device_count: u32,
    /// One of its devices belongs to a VIP.
    pub vip: bool,
}

/// Names a ticket in actions: one that exists, or the n-th `OpenTicket` of the same decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRef {
    Existing(i64),
    New(usize),
}

/// A condition `(device, check, resource)` as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionView {
    pub device_id: String,
    pub check: String,
    pub resource: String,
    pub state: ConditionState,
    /// What the last finding said: firing (warning or worse, or info) or clear.
    pub observed_firing: bool,
    pub severity: Severity,
    /// When the condition entered its current state.
    pub since_ms: i64,
    /// Times of recent changes between firing and clear, for flap detection.
    pub changes_ms: Vec<i64>,
    /// The ticket it feeds: its device ticket or the incident it is part of.
    pub ticket_id: Option<i64>,
}

/// What the engine needs to know of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFacts {
    pub id: String,
    pub hostname: String,
    pub vip: bool,
    /// The scopes this device belongs to, most telling first for the check at hand
    /// (`dns=192.0.2.53`, `gateway=192.0.2.1`, `site=hq`).
    pub scopes: Vec<String>,
}

/// Another device's firing condition of the same check.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub device_id: String,
    pub hostname: String,
    pub resource: String,
    pub vip: bool,
    /// Its own open device ticket, if it has one.
    pub ticket: Option<TicketView>,
}

/// One scope of the device, for fleet correlation.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeView {
    pub scope: String,
    /// Devices known in the scope.
    pub devices_in_scope: u32,
    /// The open incident of this check in this scope.
    pub open_incident: Option<TicketView>,
    /// Other devices of the scope whose condition of this check fired within the correlation
    /// window and is not part of an incident.
    pub recent_firing: Vec<Peer>,
}

/// The incident a condition is part of, with the other devices still failing in it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachedIncident {
    pub ticket: TicketView,
    pub scope: String,
    pub still_firing: Vec<Peer>,
}

/// Everything an event may touch; the store fills what the event needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// The condition of the finding (Observed), or the one settling (FlapQuiet).
    pub condition: Option<ConditionView>,
    /// Observed/FlapQuiet: the condition's latest device ticket (open, or the last resolved).
    /// Staff/SlaTick: the ticket acted on.
    pub ticket: Option<TicketView>,
    pub attached_incident: Option<AttachedIncident>,
    pub scopes: Vec<ScopeView>,
    /// DeviceSilent/DeviceBack: the device's conditions, with the tickets they feed.
    pub device_conditions: Vec<(ConditionView, Option<TicketView>)>,
    pub known_fixes: Vec<KnownFix>,
    /// Tickets with the finding's fingerprint opened within the problem window.
    pub fingerprint_tickets: u32,
    pub problem_flagged: bool,
    /// UserReport: the device's open tickets, to link the report to.
    pub related: Vec<TicketView>,
    /// UserReport: the requester's open report ticket about the same thing on this device
    /// (same requester and group key), with when its latest report came.
    pub joinable_report: Option<JoinableReport>,
    /// UserReport: open incidents that list the device or are of one of its scopes.
    pub outages: Vec<Outage>,
}

/// A report ticket a new report of the same requester and thing may join.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinableReport {
    pub ticket: TicketView,
    pub last_report_at_ms: i64,
}

/// An open incident that may explain a user's report.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub ticket: TicketView,
    /// The incident's scope (`dns=192.0.2.53`).
    pub scope: Option<String>,
    /// What its check failed on (`https://intranet.example.com/`, `files.example.com:445`).
    pub resource: String,
    /// The incident lists the reporting device among its devices.
    pub lists_device: bool,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A finding from a device: a condition fired, changed severity, or cleared. With `hold`,
    /// a firing condition whose scope has other devices failing the same way waits (the
    /// correlation hold) for an incident to form rather than opening a ticket of its own; the
    /// sweep replays it without `hold` once the hold has passed.
    Observed {
        device: &'a DeviceFacts,
        finding: &'a Finding,
        at_ms: i64,
        hold: bool,
    },
    /// The device has sent nothing since `last_seen_ms`.
    DeviceSilent {
        hostname: &'a str,
        last_seen_ms: i64,
        at_ms: i64,
    },
    /// A silent device is reporting again.
    DeviceBack { hostname: &'a str, at_ms: i64 },
    /// A flapping condition has not changed for a whole flap window.
    FlapQuiet { hostname: &'a str, at_ms: i64 },
    /// A user reported a problem in their own words, with the agent's diagnosis
    /// (a `user.report` finding).
    UserReport {
        device: &'a DeviceFacts,
        finding: &'a Finding,
        at_ms: i64,
    },
    /// Time passes: SLA targets may fall due.
    SlaTick { at_ms: i64 },
    /// A person acted on a ticket.
    Staff {
        actor: &'a str,
        action: &'a StaffAction,
        at_ms: i64,
    },
}

/// What support staff do to a ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum StaffAction {
    Assign {
        to: String,
    },
    /// An internal note, for staff only.
    Comment {
        text: String,
    },
    /// A public reply to the requester.
    Reply {
        text: String,
    },
    /// The requester's answer to "is it fixed?" on their help page (`actor` is their account):
    /// yes closes a resolved ticket, no reopens it with their words.
    RequesterAnswer {
        fixed: bool,
        words: String,
    },
    StartWork,
    Pending {
        reason: String,
    },
    Escalate {
        reason: String,
    },
    Resolve {
        solution: String,
    },
    Reopen,
    Close,
    Cancel,
}

/// A ticket about to be opened.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub kind: TicketKind,
    pub key: String,
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
    pub opened_at_ms: i64,
    pub response_due_ms: i64,
    pub resolution_due_ms: i64,
    pub devices: Vec<String>,
    pub vip: bool,
    /// Who reported it (report tickets whose evidence names the account).
    pub requester: Option<crate::tickets::Requester>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Store the condition of a finding (with its evidence).
    SaveCondition {
        condition: ConditionView,
        /// The ticket it feeds (overrides `condition.ticket_id`).
        ticket: Option<TicketRef>,
        /// Its application-version scope, from the evidence.
        app_scope: Option<String>,
        summary: String,
        evidence_json: String,
    },
    /// Change only the state of a stored condition.
    SetConditionState {
        device_id: String,
        check: String,
        resource: String,
        state: ConditionState,
        at_ms: i64,
    },
    /// Detach a condition from its ticket; the hold starts again from `at_ms` (the sweep
    /// gives it a ticket of its own if it is still firing when the hold has passed).
    ReleaseCondition {
        device_id: String,
        check: String,
        resource: String,
        at_ms: i64,
    },
    /// Make a stored condition feed another ticket.
    AttachCondition {
        device_id: String,
        check: String,
        resource: String,
        ticket: TicketRef,
    },
    OpenTicket(Box<NewTicket>),
    /// Move a ticket to a state; resolving stores `resolution`, reopening counts a reopen.
    SetState {
        ticket: TicketRef,
        state: TicketState,
        resolution: Option<String>,
        at_ms: i64,
    },
    Note {
        ticket: TicketRef,
        kind: NoteKind,
        actor: Option<String>,
        text: String,
        data_json: Option<String>,
        at_ms: i64,
    },
    AddDevice {
        ticket: TicketRef,
        device_id: String,
        at_ms: i64,
    },
    DeviceRecovered {
        ticket: TicketRef,
        device_id: String,
        at_ms: i64,
    },
    SetPriority {
        ticket: TicketRef,
        impact: Level,
        urgency: Level,
        priority: Priority,
        response_due_ms: i64,
        resolution_due_ms: i64,
    },
    SetTier {
        ticket: TicketRef,
        tier: u8,
    },
    Assign {
        ticket: TicketRef,
        assignee: String,
    },
    /// Staff touched the ticket: the first response (if none yet) and, when `take_over`,
    /// ownership (it no longer resolves itself).
    Touch {
        ticket: TicketRef,
        at_ms: i64,
        take_over: bool,
    },
    SlaBreached {
        ticket: TicketRef,
        response: bool,
    },
    /// Entering (Some) or leaving (None) pending; leaving moves the due times by `shift_ms`.
    Pending {
        ticket: TicketRef,
        since_ms: Option<i64>,
        shift_ms: i64,
    },
    /// Two tickets are about the same trouble (both directions are recorded).
    Link {
        ticket: TicketRef,
        linked: TicketRef,
    },
    /// A device ticket became part of an incident.
    LinkIncident {
        ticket: TicketRef,
        incident: TicketRef,
    },
    RecordSolution {
        check: String,
        fingerprint: String,
        solution: String,
        ticket: TicketRef,
        at_ms: i64,
    },
    FlagProblem {
        check: String,
        fingerprint: String,
        at_ms: i64,
    },
    /// Tell the notification channels (webhook, email) about the ticket.
    Notify {
        ticket: TicketRef,
        event: NotifyEvent,
    },
    /// Record which ticket took a user's report and how (the help page reads it back).
    RecordReport {
        device_id: String,
        report_id: String,
        ticket: TicketRef,
        how: ReportHow,
        /// The requester (account, else "uid N"), when known.
        requester: Option<String>,
        group_key: String,
        /// A check had found it first: a check-raised ticket of the report's area was open
        /// on the device, or an incident explained it.
        check_first: bool,
        at_ms: i64,
    },
}

/// What channels are told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Opened,
    /// Escalated or (re)assigned.
    Updated,
    Resolved,
    Reopened,
    /// A public reply to the requester.
    Replied,
}

impl NotifyEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Opened => "opened",
            NotifyEvent::Updated => "updated",
            NotifyEvent::Resolved => "resolved",
            NotifyEvent::Reopened => "reopened",
            NotifyEvent::Replied => "replied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Opened,
            Self::Updated,
            Self::Resolved,
            Self::Reopened,
            Self::Replied,
        ]
        .into_iter()
        .find(|event| event.as_str() == text)
    }
}

/// Why a staff action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such ticket")]
    NoTicket,
    #[error("ticket {id} is {state}; {action} needs an open ticket")]
    NotOpen {
        id: i64,
        state: &'static str,
        action: &'static str,
    },
    #[error("ticket {id} is {state}; only a resolved ticket can be {action}")]
    NotResolved {
        id: i64,
        state: &'static str,
        action: &'static str,
    },
    #[error("ticket {id} cannot be reopened: ticket {open} is open for the same problem")]
    AlreadyOpen { id: i64, open: i64 },
    #[error("ticket {0} is already at L3, the last tier")]
    TopTier(i64),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// The actions that follow from `event` in `state`.
pub fn decide(event: &Event, state: &State, policy: &Policy) -> Result<Vec<Action>, Refusal> {
    let mut plan = Plan::default();
    match event {
        Event::Observed {
            device,
            finding,
            at_ms,
            hold,
        } => observed(&mut plan, device, finding, *at_ms, *hold, state, policy),
        Event::DeviceSilent {
            hostname,
            last_seen_ms,
            at_ms,
        } => device_silent(&mut plan, hostname, *last_seen_ms, *at_ms, state),
        Event::DeviceBack { hostname, at_ms } => device_back(&mut plan, hostname, *at_ms, state),
        Event::FlapQuiet { hostname, at_ms } => {
            flap_quiet(&mut plan, hostname, *at_ms, state, policy)
        }
        Event::SlaTick { at_ms } => sla_tick(&mut plan, *at_ms, state),
        Event::UserReport {
            device,
            finding,
            at_ms,
        } => report::user_report(&mut plan, device, finding, *at_ms, state, policy),
        Event::Staff {
            actor,
            action,
            at_ms,
        } => staff(&mut plan, actor, action, *at_ms, state, policy)?,
    }
    Ok(plan.actions)
}

#[derive(Default)]
struct Plan {
    actions: Vec<Action>,
    opened: usize,
}

impl Plan {
    /// Adds an action, and the notification it calls for: resolving, escalating and
    /// assigning are news to the channels.
    fn push(&mut self, action: Action) {
        let news = match &action {
            Action::SetState {
                ticket,
                state: TicketState::Resolved,
                ..
            } => Some((*ticket, NotifyEvent::Resolved)),
            Action::SetTier { ticket, .. } | Action::Assign { ticket, .. } => {
                Some((*ticket, NotifyEvent::Updated))
            }
            _ => None,
        };
        self.actions.push(action);
        if let Some((ticket, event)) = news {
            self.notify(ticket, event);
        }
    }

    fn notify(&mut self, ticket: TicketRef, event: NotifyEvent) {
        self.actions.push(Action::Notify { ticket, event });
    }

    fn open(&mut self, ticket: NewTicket) -> TicketRef {
        self.actions.push(Action::OpenTicket(Box::new(ticket)));
        self.opened += 1;
        let reference = TicketRef::New(self.opened - 1);
        self.notify(reference, NotifyEvent::Opened);
        reference
    }

    fn note(&mut self, ticket: TicketRef, kind: NoteKind, text: String, at_ms: i64) {
        self.push(Action::Note {
            ticket,
            kind,
            actor: None,
            text,
            data_json: None,
            at_ms,
        });
    }

    fn note_with_data(
        &mut self,
        ticket: TicketRef,
        kind: NoteKind,
        text: String,
        data_json: &str,
        at_ms: i64,
    ) {
        self.push(Action::Note {
            ticket,
            kind,
            actor: None,
            text,
            data_json: Some(data_json.to_owned()),
            at_ms,
        });
    }
}

fn observed(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    hold: bool,
    state: &State,
    policy: &Policy,
) {
    let firing = finding.severity != Severity::Ok;
    let previous = state.condition.as_ref();
    let was_firing = previous.is_some_and(|c| c.observed_firing);
    let changed = was_firing != firing;
    let flap_horizon = now - duration_ms(policy.flap_window);
    let mut changes_ms: Vec<i64> = previous
        .map(|c| c.changes_ms.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|at| *at >= flap_horizon)
        .collect();
    if changed && previous.is_some() {
        changes_ms.push(now);
    }
    let was_flapping = previous.is_some_and(|c| c.state == ConditionState::Flapping);
    let flapping = was_flapping || changes_ms.len() >= policy.flap_changes as usize;
    let condition_state = match (flapping, firing) {
        (true, _) => ConditionState::Flapping,
        (false, true) => ConditionState::Firing,
        (false, false) => ConditionState::Resolved,
    };
    let since_ms = match previous {
        Some(previous) if previous.state == condition_state => previous.since_ms,
        _ => now,
    };
    let condition = ConditionView {
        device_id: device.id.clone(),
        check: finding.check.clone(),
        resource: finding.resource.clone(),
        state: condition_state,
        observed_firing: firing,
        severity: finding.severity,
        since_ms,
        changes_ms,
        ticket_id: previous.and_then(|c| c.ticket_id),
    };
    let current = current_ticket(state, condition.ticket_id);
    let mut ticket = condition.ticket_id.map(TicketRef::Existing);

    if was_flapping {
        // Flapping holds the ticket as it is; the settling sweep decides once it is quiet.
        save(plan, condition, ticket, finding);
        return;
    }
    if flapping {
        // The change that tips a condition into flapping: make sure one ticket is open for it,
        // and say so once.
        let open_ticket = match current {
            Some((current, _)) => Some(TicketRef::Existing(current.id)),
            None if firing && finding.severity >= policy.min_severity => {
                firing_path(plan, device, finding, now, hold, state, policy)
            }
            None => None,
        };
        // A firing condition feeds the ticket it now has, or none while it is held (so the
        // sweep can find it); a clear keeps its link for the record.
        if firing {
            ticket = open_ticket;
        }
        if let Some(ticket) = open_ticket {
            plan.note(
                ticket,
                NoteKind::Flapping,
                format!(
                    "{} {} on {} is flapping: {} changes within {}. The ticket stays open, without resolve/reopen churn, until it settles.",
                    finding.check,
                    finding.resource,
                    device.hostname,
                    condition.changes_ms.len(),
                    humantime::format_duration(policy.flap_window)
                ),
                now,
            );
        }
        save(plan, condition, ticket, finding);
        return;
    }
    if firing {
        match current {
            Some((ticket, kind)) => {
                join(plan, device, finding, now, ticket, kind, previous, policy);
            }
            None if finding.severity >= policy.min_severity => {
                ticket = firing_path(plan, device, finding, now, hold, state, policy);
            }
            None => {}
        }
        save(plan, condition, ticket, finding);
    } else {
        save(plan, condition, ticket, finding);
        if changed && let Some((ticket, kind)) = current {
            cleared(
                plan,
                &device.hostname,
                &device.id,
                finding.summary.as_str(),
                Some(finding.evidence_json.as_str()),
                now,
                ticket,
                kind,
                state,
                policy,
            );
        }
    }
}

fn save(plan: &mut Plan, condition: ConditionView, ticket: Option<TicketRef>, finding: &Finding) {
    plan.push(Action::SaveCondition {
        app_scope: super::app_scope(&finding.resource, &finding.evidence_json),
        condition,
        ticket,
        summary: finding.summary.clone(),
        evidence_json: finding.evidence_json.clone(),
    });
}

/// The open ticket the condition feeds, and whether it is an incident.
fn current_ticket(state: &State, ticket_id: Option<i64>) -> Option<(&TicketView, TicketKind)> {
    let id = ticket_id?;
    if let Some(incident) = &state.attached_incident
        && incident.ticket.id == id
        && incident.ticket.state.is_open()
    {
        return Some((&incident.ticket, TicketKind::Incident));
    }
    state
        .ticket
        .as_ref()
        .filter(|ticket| ticket.id == id && ticket.state.is_open())
        .map(|ticket| (ticket, TicketKind::Device))
}

/// A firing condition whose ticket is already open: it joins, noting what changed.
#[allow(clippy::too_many_arguments)]
fn join(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    ticket: &TicketView,
    kind: TicketKind,
    previous: Option<&ConditionView>,
    policy: &Policy,
) {
    let reference = TicketRef::Existing(ticket.id);
    let previous_severity = previous.map(|c| c.severity);
    let was_firing = previous.is_some_and(|c| c.observed_firing);
    if !was_firing {
        plan.note_with_data(
            reference,
            NoteKind::Evidence,
            format!("{}: fired again: {}", device.hostname, finding.summary),
            &finding.evidence_json,
            now,
        );
        if kind == TicketKind::Incident {
            plan.push(Action::AddDevice {
                ticket: reference,
                device_id: device.id.clone(),
                at_ms: now,
            });
        }
    } else if previous_severity != Some(finding.severity) {
        plan.note_with_data(
            reference,
            NoteKind::Evidence,
            format!(
                "{}: severity {} → {}: {}",
                device.hostname,
                previous_severity.map_or("none", Severity::as_str),
                finding.severity.as_str(),
                finding.summary
            ),
            &finding.evidence_json,
            now,
        );
        let urgency = policy.urgency(&finding.check, finding.severity);
        if kind == TicketKind::Device && urgency != ticket.urgency {
            reprioritise(plan, reference, ticket, ticket.impact, urgency, now, policy);
        }
    }
}

/// A firing condition with no open ticket: it joins an incident, forms one, reopens its last
/// ticket or opens a new one. Returns the ticket it now feeds.
fn firing_path(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    hold: bool,
    state: &State,
    policy: &Policy,
) -> Option<TicketRef> {
    // An open incident of this check in one of the device's scopes takes it in.
    for scope in &state.scopes {
        if let Some(incident) = scope.open_incident.as_ref().filter(|t| t.state.is_open()) {
            let reference = TicketRef::Existing(incident.id);
            plan.push(Action::AddDevice {
                ticket: reference,
                device_id: device.id.clone(),
                at_ms: now,
            });
            let devices = incident.device_count + 1;
            plan.note_with_data(
                reference,
                NoteKind::Device,
                format!(
                    "{} joined ({devices} devices): {}",
                    device.hostname, finding.summary
                ),
                &finding.evidence_json,
                now,
            );
            let impact = policy.impact(true, devices, incident.vip || device.vip);
            let urgency = policy
                .urgency(&finding.check, finding.severity)
                .min(incident.urgency);
            if impact != incident.impact || urgency != incident.urgency {
                reprioritise(plan, reference, incident, impact, urgency, now, policy);
            }
            return Some(reference);
        }
    }
    // Enough devices of one scope failing the same way within the window: one incident.
    for scope in &state.scopes {
        // Devices, not conditions: one device failing on two mounts is one device.
        let affected = u32::try_from(distinct_devices(&scope.recent_firing, &device.id).len())
            .unwrap_or(u32::MAX);
        let known = scope.devices_in_scope.max(affected);
        let share_pct = f64::from(affected) * 100.0 / f64::from(known);
        if affected < policy.correlation.min_devices || share_pct < policy.correlation.min_share_pct
        {
            continue;
        }
        return Some(open_incident(
            plan, device, finding, now, scope, affected, state, policy,
        ));
    }
    // Others in a scope already fail the same way: an incident may be forming. Wait for it
    // (the sweep opens a ticket of its own if none forms within the hold) instead of opening
    // a ticket that would be merged away moments later.
    if hold
        && !policy.correlation.hold.is_zero()
        && state
            .scopes
            .iter()
            .any(|scope| !scope.recent_firing.is_empty())
    {
        return None;
    }
    // A device ticket: reopen the last one if it resolved recently, else a new one.
    let key = device_ticket_key(&device.id, &finding.check, &finding.resource);
    if let Some(ticket) = &state.ticket {
        let recently_resolved = ticket.state == TicketState::Resolved
            && ticket
                .resolved_at_ms
                .is_some_and(|at| now - at <= duration_ms(policy.reopen_window));
        if ticket.state.is_open() || recently_resolved {
            let reference = TicketRef::Existing(ticket.id);
            if recently_resolved {
                let state_now = if ticket.assignee.is_some() {
                    TicketState::Assigned
                } else {
                    TicketState::New
                };
                plan.push(Action::SetState {
                    ticket: reference,
                    state: state_now,
                    resolution: None,
                    at_ms: now,
                });
                restart_sla(plan, reference, ticket, now, policy);
                let after = ticket.resolved_at_ms.map_or(0, |at| now - at);
                plan.note_with_data(
                    reference,
                    NoteKind::State,
                    format!(
                        "Reopened: fired again {} after it resolved: {}",
                        humantime::format_duration(std::time::Duration::from_secs(
                            u64::try_from(after / 1000).unwrap_or(0)
                        )),
                        finding.summary
                    ),
                    &finding.evidence_json,
                    now,
                );
            } else {
                plan.note_with_data(
                    reference,
                    NoteKind::Evidence,
                    format!("{}: {}", device.hostname, finding.summary),
                    &finding.evidence_json,
                    now,
                );
            }
            return Some(reference);
        }
    }
    let impact = policy.impact(false, 1, device.vip);
    let urgency = policy.urgency(&finding.check, finding.severity);
    let priority = Priority::from_matrix(impact, urgency);
    let fingerprint = fingerprint(&finding.check, &finding.resource);
    let reference = plan.open(one_device_ticket(
        TicketKind::Device,
        key,
        format!("{}: {}", device.hostname, finding.summary),
        finding.summary.clone(),
        device,
        finding,
        fingerprint.clone(),
        (impact, urgency),
        now,
        policy,
    ));
    plan.note_with_data(
        reference,
        NoteKind::Opened,
        format!(
            "Opened: {} on {}: {} ({priority}: impact {}, urgency {})",
            finding.check,
            device.hostname,
            finding.summary,
            impact.as_str(),
            urgency.as_str()
        ),
        &finding.evidence_json,
        now,
    );
    knowledge(
        plan,
        reference,
        &finding.check,
        &fingerprint,
        now,
        state,
        policy,
    );
    Some(reference)
}

#[allow(clippy::too_many_arguments)]
fn open_incident(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    scope: &ScopeView,
    affected: u32,
    state: &State,
    policy: &Policy,
) -> TicketRef {
    let vip = device.vip || scope.recent_firing.iter().any(|peer| peer.vip);
    let impact = policy.impact(true, affected, vip);
    let urgency = policy.urgency(&finding.check, finding.severity);
    let priority = Priority::from_matrix(impact, urgency);
    let target = policy.sla_target(priority);
    // The same fingerprint as each device's own ticket: a fix learnt on one serves both.
    let fingerprint = fingerprint(&finding.check, &finding.resource);
    let devices: Vec<String> = distinct_devices(&scope.recent_firing, &device.id)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let reference = plan.open(NewTicket {
        kind: TicketKind::Incident,
        key: incident_key(&finding.check, &scope.scope),
        title: format!(
            "{} failing on many devices in {}",
            finding.check, scope.scope
        ),
        description: format!(
            "{affected} devices in {} report {} (latest: {} on {})",
            scope.scope, finding.check, finding.summary, device.hostname
        ),
        check: finding.check.clone(),
        resource: finding.resource.clone(),
        device_id: None,
        scope: Some(scope.scope.clone()),
        fingerprint: fingerprint.clone(),
        severity: finding.severity,
        impact,
        urgency,
        priority,
        opened_at_ms: now,
        response_due_ms: policy.due_ms(priority, now, target.response),
        resolution_due_ms: policy.due_ms(priority, now, target.resolution),
        devices,
        vip,
        requester: None,
    });
    let mut hostnames: Vec<&str> = scope
        .recent_firing
        .iter()
        .map(|peer| peer.hostname.as_str())
        .chain([device.hostname.as_str()])
        .collect();
    hostnames.sort_unstable();
    hostnames.dedup();
    // The ticket's device list has them all; the note names enough to recognise the spread.
    const NAMED: usize = 20;
    let named = if hostnames.len() > NAMED {
        format!(
            "{} and {} more",
            hostnames[..NAMED].join(", "),
            hostnames.len() - NAMED
        )
    } else {
        hostnames.join(", ")
    };
    plan.note_with_data(
        reference,
        NoteKind::Opened,
        format!(
            "Opened: {} fails on {affected} devices in {} ({priority}: impact {}, urgency {}): {}",
            finding.check,
            scope.scope,
            impact.as_str(),
            urgency.as_str(),
            named
        ),
        &finding.evidence_json,
        now,
    );
    for peer in &scope.recent_firing {
        plan.push(Action::AttachCondition {
            device_id: peer.device_id.clone(),
            check: finding.check.clone(),
            resource: peer.resource.clone(),
            ticket: reference,
        });
        let Some(ticket) = peer.ticket.as_ref().filter(|t| t.state.is_open()) else {
            continue;
        };
        let own = TicketRef::Existing(ticket.id);
        plan.push(Action::LinkIncident {
            ticket: own,
            incident: reference,
        });
        if ticket.staff_owned {
            plan.note(
                own,
                NoteKind::Merge,
                format!(
                    "Part of a fleet incident: {} fails on {affected} devices in {}",
                    finding.check, scope.scope
                ),
                now,
            );
        } else {
            plan.note(
                own,
                NoteKind::Merge,
                format!(
                    "Merged into the fleet incident: {} fails on {affected} devices in {}",
                    finding.check, scope.scope
                ),
                now,
            );
            plan.push(Action::SetState {
                ticket: own,
                state: TicketState::Cancelled,
                resolution: Some("merged into a fleet incident".to_owned()),
                at_ms: now,
            });
        }
    }
    knowledge(
        plan,
        reference,
        &finding.check,
        &fingerprint,
        now,
        state,
        policy,
    );
    reference
}

/// The peers' device ids and `this_device`, each once, in first-seen order.
fn distinct_devices<'a>(peers: &'a [Peer], this_device: &'a str) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(peers.len() + 1);
    peers
        .iter()
        .map(|peer| peer.device_id.as_str())
        .chain([this_device])
        .filter(|device| seen.insert(*device))
        .collect()
}

/// A ticket about one device, its priority and SLA from `impact` and `urgency`.
#[allow(clippy::too_many_arguments)]
fn one_device_ticket(
    kind: TicketKind,
    key: String,
    title: String,
    description: String,
    device: &DeviceFacts,
    finding: &Finding,
    fingerprint: String,
    (impact, urgency): (Level, Level),
    now: i64,
    policy: &Policy,
) -> NewTicket {
    let priority = Priority::from_matrix(impact, urgency);
    let target = policy.sla_target(priority);
    NewTicket {
        kind,
        key,
        title,
        description,
        check: finding.check.clone(),
        resource: finding.resource.clone(),
        device_id: Some(device.id.clone()),
        scope: None,
        fingerprint,
        severity: finding.severity,
        impact,
        urgency,
        priority,
        opened_at_ms: now,
        response_due_ms: policy.due_ms(priority, now, target.response),
        resolution_due_ms: policy.due_ms(priority, now, target.resolution),
        devices: vec![device.id.clone()],
        vip: device.vip,
        requester: match kind {
            TicketKind::Report => crate::tickets::requester(&finding.evidence_json),
            _ => None,
        },
    }
}

/// Known fixes and problem candidates for a newly opened ticket.
fn knowledge(
    plan: &mut Plan,
    reference: TicketRef,
    check: &str,
    fingerprint: &str,
    now: i64,
    state: &State,
    policy: &Policy,
) {
    if !state.known_fixes.is_empty() {
        let listed: Vec<String> = state
            .known_fixes
            .iter()
            .enumerate()
            .map(|(index, fix)| {
                format!(
                    "{}. {} (worked {} time{})",
                    index + 1,
                    fix.solution,
                    fix.worked_count,
                    if fix.worked_count == 1 { "" } else { "s" }
                )
            })
            .collect();
        plan.note(
            reference,
            NoteKind::KnownFix,
            format!("Known fixes for {fingerprint}: {}", listed.join("; ")),
            now,
        );
    }
    let tickets = state.fingerprint_tickets + 1;
    if tickets >= policy.problem_after {
        if !state.problem_flagged {
            plan.push(Action::FlagProblem {
                check: check.to_owned(),
                fingerprint: fingerprint.to_owned(),
                at_ms: now,
            });
        }
        plan.note(
            reference,
            NoteKind::Problem,
            format!(
                "Recurring: ticket {tickets} for {fingerprint} within {}; a problem candidate",
                humantime::format_duration(policy.problem_window)
            ),
            now,
        );
    }
}

/// A condition cleared while feeding an open ticket.
#[allow(clippy::too_many_arguments)]
fn cleared(
    plan: &mut Plan,
    hostname: &str,
    device_id: &str,
    summary: &str,
    evidence_json: Option<&str>,
    now: i64,
    ticket: &TicketView,
    kind: TicketKind,
    state: &State,
    policy: &Policy,
) {
    let reference = TicketRef::Existing(ticket.id);
    let recovery = format!("{hostname} recovered: {summary}");
    match evidence_json {
        Some(evidence) => {
            plan.note_with_data(reference, NoteKind::Evidence, recovery, evidence, now)
        }
        None => plan.note(reference, NoteKind::Evidence, recovery, now),
    }
    match kind {
        TicketKind::Device | TicketKind::Report => {
            resolve_or_leave(plan, ticket, now, "the condition cleared")
        }
        TicketKind::Incident => {
            plan.push(Action::DeviceRecovered {
                ticket: reference,
                device_id: device_id.to_owned(),
                at_ms: now,
            });
            let Some(attached) = &state.attached_incident else {
                return;
            };
            // Devices, not conditions: one device may fail on several resources.
            let mut stragglers: Vec<&str> = attached
                .still_firing
                .iter()
                .map(|peer| peer.device_id.as_str())
                .collect();
            stragglers.sort_unstable();
            stragglers.dedup();
            let still = u32::try_from(stragglers.len()).unwrap_or(u32::MAX);
            if still >= policy.correlation.min_devices {
                return;
            }
            let why = if still == 0 {
                "every device recovered".to_owned()
            } else {
                format!(
                    "the incident cleared; {still} device(s) still failing get tickets of their own unless they recover within {}",
                    humantime::format_duration(policy.correlation.hold)
                )
            };
            resolve_or_leave(plan, ticket, now, &why);
            // Stragglers of a fleet-wide recovery are usually seconds behind: back to the
            // hold, and the sweep gives those still failing afterwards tickets of their own.
            for peer in &attached.still_firing {
                plan.push(Action::ReleaseCondition {
                    device_id: peer.device_id.clone(),
                    check: ticket.check.clone(),
                    resource: peer.resource.clone(),
                    at_ms: now,
                });
            }
        }
    }
}

/// Auto-resolve a ticket nobody took over; otherwise leave a note for its owner.
fn resolve_or_leave(plan: &mut Plan, ticket: &TicketView, now: i64, why: &str) {
    let reference = TicketRef::Existing(ticket.id);
    if ticket.staff_owned {
        let owner = ticket.assignee.as_deref().unwrap_or("staff");
        plan.note(
            reference,
            NoteKind::State,
            format!("Auto-resolve held: {why}, but the ticket is being worked by {owner}"),
            now,
        );
    } else {
        plan.push(Action::SetState {
            ticket: reference,
            state: TicketState::Resolved,
            resolution: Some(format!("auto-resolved: {why}")),
            at_ms: now,
        });
        plan.note(
            reference,
            NoteKind::State,
            format!("Auto-resolved: {why}"),
            now,
        );
    }
}

/// An incident closed by hand lets go of its devices still failing: back to the hold, so each
/// gets a ticket of its own if it keeps failing.
fn release_incident_devices(plan: &mut Plan, ticket: &TicketView, state: &State, now: i64) {
    let Some(incident) = state
        .attached_incident
        .as_ref()
        .filter(|incident| incident.ticket.id == ticket.id)
    else {
        return;
    };
    for peer in &incident.still_firing {
        plan.push(Action::ReleaseCondition {
            device_id: peer.device_id.clone(),
            check: ticket.check.clone(),
            resource: peer.resource.clone(),
            at_ms: now,
        });
    }
}

/// A reopened ticket's SLA clocks start again from now.
fn restart_sla(
    plan: &mut Plan,
    reference: TicketRef,
    ticket: &TicketView,
    now: i64,
    policy: &Policy,
) {
    plan.notify(reference, NotifyEvent::Reopened);
    let target = policy.sla_target(ticket.priority);
    plan.push(Action::SetPriority {
        ticket: reference,
        impact: ticket.impact,
        urgency: ticket.urgency,
        priority: ticket.priority,
        response_due_ms: policy.due_ms(ticket.priority, now, target.response),
        resolution_due_ms: policy.due_ms(ticket.priority, now, target.resolution),
    });
}

fn reprioritise(
    plan: &mut Plan,
    reference: TicketRef,
    ticket: &TicketView,
    impact: Level,
    urgency: Level,
    now: i64,
    policy: &Policy,
) {
    let priority = Priority::from_matrix(impact, urgency);
    let target = policy.sla_target(priority);
    // A higher priority may only bring due times forward; a lower one keeps them.
    let (response_due_ms, resolution_due_ms) = if priority < ticket.priority {
        (
            ticket.response_due_ms.min(policy.due_ms(
                priority,
                ticket.opened_at_ms,
                target.response,
            )),
            ticket.resolution_due_ms.min(policy.due_ms(
                priority,
                ticket.opened_at_ms,
                target.resolution,
            )),
        )
    } else {
        (ticket.response_due_ms, ticket.resolution_due_ms)
    };
    plan.push(Action::SetPriority {
        ticket: reference,
        impact,
        urgency,
        priority,
        response_due_ms,
        resolution_due_ms,
    });
    if priority != ticket.priority {
        plan.note(
            reference,
            NoteKind::Priority,
            format!(
                "Priority {} → {priority} (impact {}, urgency {})",
                ticket.priority,
                impact.as_str(),
                urgency.as_str()
            ),
            now,
        );
    }
}

fn device_silent(plan: &mut Plan, hostname: &str, last_seen_ms: i64, now: i64, state: &State) {
    let silent_secs = u64::try_from((now - last_seen_ms) / 1000).unwrap_or(0);
    let note = format!(
        "{hostname} has been silent for {}: its conditions are stale, not resolved",
        humantime::format_duration(std::time::Duration::from_secs(silent_secs))
    );
    move_device_conditions(
        plan,
        state,
        ConditionState::Firing,
        ConditionState::Stale,
        &note,
        now,
    );
}

fn device_back(plan: &mut Plan, hostname: &str, now: i64, state: &State) {
    let note = format!("{hostname} is reporting again; its conditions are current");
    move_device_conditions(
        plan,
        state,
        ConditionState::Stale,
        ConditionState::Firing,
        &note,
        now,
    );
}

/// Moves a device's conditions in state `from` to `to`, with one note on each open ticket
/// they feed.
fn move_device_conditions(
    plan: &mut Plan,
    state: &State,
    from: ConditionState,
    to: ConditionState,
    note: &str,
    now: i64,
) {
    let mut noted = Vec::new();
    for (condition, ticket) in &state.device_conditions {
        if condition.state != from {
            continue;
        }
        plan.push(Action::SetConditionState {
            device_id: condition.device_id.clone(),
            check: condition.check.clone(),
            resource: condition.resource.clone(),
            state: to,
            at_ms: now,
        });
        if let Some(ticket) = ticket.as_ref().filter(|t| t.state.is_open())
            && !noted.contains(&ticket.id)
        {
            noted.push(ticket.id);
            plan.note(
                TicketRef::Existing(ticket.id),
                NoteKind::Stale,
                note.to_owned(),
                now,
            );
        }
    }
}

fn flap_quiet(plan: &mut Plan, hostname: &str, now: i64, state: &State, policy: &Policy) {
    let Some(condition) = &state.condition else {
        return;
    };
    if condition.state != ConditionState::Flapping {
        return;
    }
    let settled = if condition.observed_firing {
        ConditionState::Firing
    } else {
        ConditionState::Resolved
    };
    plan.push(Action::SetConditionState {
        device_id: condition.device_id.clone(),
        check: condition.check.clone(),
        resource: condition.resource.clone(),
        state: settled,
        at_ms: now,
    });
    let Some((ticket, kind)) = current_ticket(state, condition.ticket_id) else {
        return;
    };
    plan.note(
        TicketRef::Existing(ticket.id),
        NoteKind::Flapping,
        format!(
            "{} {} on {hostname} settled: {} for {}",
            condition.check,
            condition.resource,
            settled.as_str(),
            humantime::format_duration(policy.flap_window)
        ),
        now,
    );
    if settled == ConditionState::Resolved {
        cleared(
            plan,
            hostname,
            &condition.device_id,
            "stayed clear after flapping",
            None,
            now,
            ticket,
            kind,
            state,
            policy,
        );
    }
}

fn sla_tick(plan: &mut Plan, now: i64, state: &State) {
    let Some(ticket) = &state.ticket else {
        return;
    };
    if !ticket.state.is_open() || ticket.state == TicketState::Pending {
        return;
    }
    let reference = TicketRef::Existing(ticket.id);
    let mut tier = ticket.tier;
    let breaches = [
        (
            true,
            ticket.first_response_at_ms.is_none()
                && !ticket.response_breached
                && now > ticket.response_due_ms,
            ticket.response_due_ms,
        ),
        (
            false,
            !ticket.resolution_breached && now > ticket.resolution_due_ms,
            ticket.resolution_due_ms,
        ),
    ];
    for (response, breached, due_ms) in breaches {
        if !breached {
            continue;
        }
        let what = if response { "response" } else { "resolution" };
        plan.push(Action::SlaBreached {
            ticket: reference,
            response,
        });
        let late_secs = u64::try_from((now - due_ms) / 1000).unwrap_or(0);
        let late = humantime::format_duration(std::time::Duration::from_secs(late_secs));
        if tier < 3 {
            tier += 1;
            plan.push(Action::SetTier {
                ticket: reference,
                tier,
            });
            plan.note(
                reference,
                NoteKind::Escalation,
                format!(
                    "Escalated L{} → L{tier}: the {} {what} target was breached {late} ago",
                    tier - 1,
                    ticket.priority
                ),
                now,
            );
        } else {
            plan.note(
                reference,
                NoteKind::Sla,
                format!(
                    "The {} {what} target was breached {late} ago (already at L3)",
                    ticket.priority
                ),
                now,
            );
        }
    }
}

fn staff(
    plan: &mut Plan,
    actor: &str,
    action: &StaffAction,
    now: i64,
    state: &State,
    policy: &Policy,
) -> Result<(), Refusal> {
    let ticket = state.ticket.as_ref().ok_or(Refusal::NoTicket)?;
    let reference = TicketRef::Existing(ticket.id);
    let open = |action: &'static str| {
        if ticket.state.is_open() {
            Ok(())
        } else {
            Err(Refusal::NotOpen {
                id: ticket.id,
                state: ticket.state.as_str(),
                action,
            })
        }
    };
    let note = |plan: &mut Plan, kind: NoteKind, text: String| {
        plan.push(Action::Note {
            ticket: reference,
            kind,
            actor: Some(actor.to_owned()),
            text,
            data_json: None,
            at_ms: now,
        });
    };
    // Leaving pending restarts the SLA clocks where they stopped.
    let resume = |plan: &mut Plan| {
        if let Some(since) = ticket.pending_since_ms {
            plan.push(Action::Pending {
                ticket: reference,
                since_ms: None,
                shift_ms: (now - since).max(0),
            });
        }
    };
    let set_state = |plan: &mut Plan, state: TicketState, resolution: Option<String>| {
        plan.push(Action::SetState {
            ticket: reference,
            state,
            resolution,
            at_ms: now,
        });
    };
    match action {
        StaffAction::Assign { to } => {
            open("assigning")?;
            let to = to.trim();
            if to.is_empty() {
                return Err(Refusal::Empty("the assignee"));
            }
            plan.push(Action::Assign {
                ticket: reference,
                assignee: to.to_owned(),
            });
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: true,
            });
            if matches!(ticket.state, TicketState::New | TicketState::Pending) {
                resume(plan);
                set_state(plan, TicketState::Assigned, None);
            }
            note(
                plan,
                NoteKind::Assignment,
                format!("Assigned to {to} by {actor}"),
            );
        }
        StaffAction::Comment { text } => {
            if text.trim().is_empty() {
                return Err(Refusal::Empty("the comment"));
            }
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: false,
            });
            note(plan, NoteKind::Comment, text.trim().to_owned());
        }
        StaffAction::Reply { text } => {
            if text.trim().is_empty() {
                return Err(Refusal::Empty("the reply"));
            }
            if ticket.state.is_open() {
                plan.push(Action::Touch {
                    ticket: reference,
                    at_ms: now,
                    take_over: false,
                });
            }
            note(plan, NoteKind::Reply, text.trim().to_owned());
            plan.notify(reference, NotifyEvent::Replied);
        }
        StaffAction::RequesterAnswer { fixed, words } => {
            let words = words.trim();
            let said = if words.is_empty() {
                String::new()
            } else {
                format!(": {words}")
            };
            // Staff read the sentence; the requester's page shows their answer and words in
            // their own language, from the data.
            let answer_data = serde_json::json!({ "fixed": fixed, "words": words }).to_string();
            let note = |plan: &mut Plan, kind: NoteKind, text: String| {
                plan.push(Action::Note {
                    ticket: reference,
                    kind,
                    actor: Some(actor.to_owned()),
                    text,
                    data_json: Some(answer_data.clone()),
                    at_ms: now,
                });
            };
            match (fixed, ticket.state) {
                (true, TicketState::Resolved) => {
                    set_state(plan, TicketState::Closed, None);
                    note(
                        plan,
                        NoteKind::RequesterAnswer,
                        format!("{actor} confirmed it is fixed{said}"),
                    );
                }
                (false, TicketState::Resolved) => {
                    set_state(
                        plan,
                        if ticket.assignee.is_some() {
                            TicketState::Assigned
                        } else {
                            TicketState::New
                        },
                        None,
                    );
                    restart_sla(plan, reference, ticket, now, policy);
                    note(
                        plan,
                        NoteKind::RequesterAnswer,
                        format!("{actor} says it is still broken; reopened{said}"),
                    );
                }
                (_, state) if state.is_open() => {
                    let answer = if *fixed {
                        "says it works now"
                    } else {
                        "says it is still broken"
                    };
                    note(
                        plan,
                        NoteKind::RequesterAnswer,
                        format!("{actor} {answer}{said}"),
                    );
                }
                (_, state) => {
                    return Err(Refusal::NotResolved {
                        id: ticket.id,
                        state: state.as_str(),
                        action: "answered",
                    });
                }
            }
        }
        StaffAction::StartWork => {
            open("starting work")?;
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: true,
            });
            if ticket.assignee.is_none() {
                plan.push(Action::Assign {
                    ticket: reference,
                    assignee: actor.to_owned(),
                });
            }
            resume(plan);
            set_state(plan, TicketState::InProgress, None);
            note(plan, NoteKind::State, format!("Work started by {actor}"));
        }
        StaffAction::Pending { reason } => {
            open("setting pending")?;
            if ticket.state != TicketState::Pending {
                plan.push(Action::Pending {
                    ticket: reference,
                    since_ms: Some(now),
                    shift_ms: 0,
                });
                set_state(plan, TicketState::Pending, None);
            }
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: true,
            });
            note(
                plan,
                NoteKind::State,
                format!("Pending{}; SLA clocks paused", because(reason)),
            );
        }
        StaffAction::Escalate { reason } => {
            open("escalating")?;
            if ticket.tier >= 3 {
                return Err(Refusal::TopTier(ticket.id));
            }
            plan.push(Action::SetTier {
                ticket: reference,
                tier: ticket.tier + 1,
            });
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: false,
            });
            note(
                plan,
                NoteKind::Escalation,
                format!(
                    "Escalated L{} → L{} by {actor}{}",
                    ticket.tier,
                    ticket.tier + 1,
                    because(reason)
                ),
            );
        }
        StaffAction::Resolve { solution } => {
            open("resolving")?;
            let solution = solution.trim();
            // What fixed it is what the next technician reads; "resolved" alone helps no one.
            if solution.is_empty() {
                return Err(Refusal::Empty("the solution (what fixed it)"));
            }
            resume(plan);
            // Resolving answers the ticket but does not own it: if it comes back, it may
            // resolve itself again.
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: false,
            });
            set_state(plan, TicketState::Resolved, Some(solution.to_owned()));
            release_incident_devices(plan, ticket, state, now);
            plan.push(Action::RecordSolution {
                check: ticket.check.clone(),
                fingerprint: ticket.fingerprint.clone(),
                solution: solution.to_owned(),
                ticket: reference,
                at_ms: now,
            });
            note(
                plan,
                NoteKind::State,
                format!("Resolved by {actor}: {solution}"),
            );
        }
        StaffAction::Reopen => {
            if ticket.state != TicketState::Resolved {
                return Err(Refusal::NotResolved {
                    id: ticket.id,
                    state: ticket.state.as_str(),
                    action: "reopened",
                });
            }
            set_state(
                plan,
                if ticket.assignee.is_some() {
                    TicketState::Assigned
                } else {
                    TicketState::New
                },
                None,
            );
            restart_sla(plan, reference, ticket, now, policy);
            note(plan, NoteKind::State, format!("Reopened by {actor}"));
        }
        StaffAction::Close => {
            if ticket.state != TicketState::Resolved {
                return Err(Refusal::NotResolved {
                    id: ticket.id,
                    state: ticket.state.as_str(),
                    action: "closed",
                });
            }
            set_state(plan, TicketState::Closed, None);
            note(plan, NoteKind::State, format!("Closed by {actor}"));
        }
        StaffAction::Cancel => {
            open("cancelling")?;
            resume(plan);
            set_state(
                plan,
                TicketState::Cancelled,
                Some(format!("cancelled by {actor}")),
            );
            release_incident_devices(plan, ticket, state, now);
            note(plan, NoteKind::State, format!("Cancelled by {actor}"));
        }
    }
    Ok(())
}

/// ": the reason", or nothing when none was given.
fn because(reason: &str) -> String {
    match reason.trim() {
        "" => String::new(),
        reason => format!(": {reason}"),
    }
}

fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const NOW: i64 = 1_000 * HOUR;

    pub(super) fn policy() -> Policy {
        let mut policy = Policy::default();
        policy.correlation.min_devices = 3;
        policy.correlation.min_share_pct = 10.0;
        policy.flap_changes = 4;
        policy
    }

    pub(super) fn device(id: &str) -> DeviceFacts {
        DeviceFacts {
            id: id.to_owned(),
            hostname: format!("pc-{id}"),
            vip: false,
            scopes: vec!["site=hq".to_owned()],
        }
    }

    pub(super) fn finding(check: &str, severity: Severity) -> Finding {
        Finding {
            sequence: 1,
            check: check.to_owned(),
            resource: "/".to_owned(),
            severity,
            summary: format!("{check} is {}", severity.as_str()),
            evidence_json: "{\"used_pct\":97}".to_owned(),
            observed_at_ms: NOW,
        }
    }

    pub(super) fn ticket(id: i64, state: TicketState) -> TicketView {
        let priority = Priority::from_matrix(Level::Low, Level::Medium);
        TicketView {
            id,
            kind: TicketKind::Device,
            state,
            staff_owned: false,
            assignee: None,
            check: "disk.free_low".to_owned(),
            fingerprint: "disk.free_low:/".to_owned(),
            impact: Level::Low,
            urgency: Level::Medium,
            priority,
            tier: 1,
            opened_at_ms: NOW - 2 * HOUR,
            resolved_at_ms: (!state.is_open()).then_some(NOW - HOUR),
            response_due_ms: NOW + HOUR,
            resolution_due_ms: NOW + 10 * HOUR,
            first_response_at_ms: None,
            pending_since_ms: None,
            response_breached: false,
            resolution_breached: false,
            device_count: 1,
            vip: false,
        }
    }

    pub(super) fn incident(id: i64, devices: u32) -> TicketView {
        TicketView {
            kind: TicketKind::Incident,
            device_count: devices,
            impact: Level::Medium,
            priority: Priority::from_matrix(Level::Medium, Level::Medium),
            ..ticket(id, TicketState::New)
        }
    }

    fn condition(device_id: &str, firing: bool, ticket_id: Option<i64>) -> ConditionView {
        ConditionView {
            device_id: device_id.to_owned(),
            check: "disk.free_low".to_owned(),
            resource: "/".to_owned(),
            state: if firing {
                ConditionState::Firing
            } else {
                ConditionState::Resolved
            },
            observed_firing: firing,
            severity: if firing {
                Severity::Warning
            } else {
                Severity::Ok
            },
            since_ms: NOW - 2 * HOUR,
            changes_ms: Vec::new(),
            ticket_id,
        }
    }

    fn peer(id: &str, ticket: Option<TicketView>) -> Peer {
        Peer {
            device_id: id.to_owned(),
            hostname: format!("pc-{id}"),
            resource: "/".to_owned(),
            vip: false,
            ticket,
        }
    }

    /// Actions reduced to short words, so a table can say what should happen.
    pub(super) fn summarise(actions: &[Action]) -> Vec<String> {
        let reference = |r: &TicketRef| match r {
            TicketRef::Existing(id) => format!("#{id}"),
            TicketRef::New(n) => format!("new{n}"),
        };
        actions
            .iter()
            .filter(|action| !matches!(action, Action::Notify { .. }))
            .map(|action| match action {
                Action::SaveCondition {
                    condition, ticket, ..
                } => format!(
                    "condition {} {}",
                    condition.state.as_str(),
                    ticket.as_ref().map_or("-".to_owned(), reference)
                ),
                Action::SetConditionState {
                    device_id, state, ..
                } => format!("condition {device_id} {}", state.as_str()),
                Action::AttachCondition {
                    device_id, ticket, ..
                } => format!("attach {device_id} {}", reference(ticket)),
                Action::ReleaseCondition { device_id, .. } => format!("release {device_id}"),
                Action::OpenTicket(new) => format!(
                    "open {} {} {} devices={}",
                    new.kind.as_str(),
                    new.priority,
                    new.key,
                    new.devices.len()
                ),
                Action::SetState { ticket, state, .. } => {
                    format!("state {} {}", reference(ticket), state.as_str())
                }
                Action::Note { ticket, kind, .. } => {
                    format!("note {} {}", reference(ticket), kind.as_str())
                }
                Action::AddDevice {
                    ticket, device_id, ..
                } => format!("add {device_id} {}", reference(ticket)),
                Action::DeviceRecovered {
                    ticket, device_id, ..
                } => format!("recovered {device_id} {}", reference(ticket)),
                Action::SetPriority {
                    ticket, priority, ..
                } => format!("priority {} {priority}", reference(ticket)),
                Action::SetTier { ticket, tier } => format!("tier {} L{tier}", reference(ticket)),
                Action::Assign { ticket, assignee } => {
                    format!("assign {} {assignee}", reference(ticket))
                }
                Action::Touch {
                    ticket, take_over, ..
                } => format!("touch {} {take_over}", reference(ticket)),
                Action::SlaBreached { ticket, response } => format!(
                    "breached {} {}",
                    reference(ticket),
                    if *response { "response" } else { "resolution" }
                ),
                Action::Pending {
                    ticket, since_ms, ..
                } => format!("pending {} {}", reference(ticket), since_ms.is_some()),
                Action::LinkIncident { ticket, incident } => {
                    format!("link {} {}", reference(ticket), reference(incident))
                }
                Action::Link { ticket, linked } => {
                    format!("related {} {}", reference(ticket), reference(linked))
                }
                Action::RecordSolution {
                    fingerprint,
                    solution,
                    ..
                } => format!("solution {fingerprint} {solution}"),
                Action::FlagProblem { fingerprint, .. } => format!("problem {fingerprint}"),
                Action::RecordReport {
                    ticket,
                    how,
                    requester,
                    check_first,
                    ..
                } => format!(
                    "report {} {} {} first={check_first}",
                    reference(ticket),
                    how.as_str(),
                    requester.as_deref().unwrap_or("-")
                ),
                Action::Notify { .. } => unreachable!("filtered out above"),
            })
            .collect()
    }

    struct Case {
        name: &'static str,
        hold: bool,
        finding: Finding,
        device: DeviceFacts,
        state: State,
        expected: &'static [&'static str],
    }

    fn observed_cases() -> Vec<Case> {
        let a = device("a");
        let warning = finding("disk.free_low", Severity::Warning);
        let critical = finding("disk.free_low", Severity::Critical);
        let clear = finding("disk.free_low", Severity::Ok);
        let staff_owned = TicketView {
            staff_owned: true,
            assignee: Some("alice".to_owned()),
            state: TicketState::Assigned,
            ..ticket(7, TicketState::Assigned)
        };
        let flapping_history = ConditionView {
            changes_ms: vec![NOW - 3 * 60_000, NOW - 2 * 60_000, NOW - 60_000],
            ..condition("a", false, Some(7))
        };
        vec![
            Case {
                name: "open: a first firing opens a device ticket",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State::default(),
                expected: &[
                    "open device P4 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "condition firing new0",
                ],
            },
            Case {
                name: "open: a VIP raises impact, critical raises urgency",
                hold: false,
                finding: critical.clone(),
                device: DeviceFacts {
                    vip: true,
                    ..a.clone()
                },
                state: State::default(),
                expected: &[
                    "open device P2 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "condition firing new0",
                ],
            },
            Case {
                name: "info findings update the condition but open nothing",
                hold: false,
                finding: finding("reboot.pending", Severity::Info),
                device: a.clone(),
                state: State::default(),
                expected: &["condition firing -"],
            },
            Case {
                name: "join: a severity change on an open ticket is a note and a new priority",
                hold: false,
                finding: critical.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", true, Some(7))),
                    ticket: Some(ticket(7, TicketState::New)),
                    ..State::default()
                },
                expected: &[
                    "note #7 evidence",
                    "priority #7 P3",
                    "note #7 priority",
                    "condition firing #7",
                ],
            },
            Case {
                name: "join: firing again while staff still hold the ticket open",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", false, Some(7))),
                    ticket: Some(staff_owned.clone()),
                    ..State::default()
                },
                expected: &["note #7 evidence", "condition firing #7"],
            },
            Case {
                name: "reopen: firing within the reopen window reopens the resolved ticket",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", false, Some(7))),
                    ticket: Some(ticket(7, TicketState::Resolved)),
                    ..State::default()
                },
                expected: &[
                    "state #7 new",
                    "priority #7 P4",
                    "note #7 state",
                    "condition firing #7",
                ],
            },
            Case {
                name: "reopen window passed: a new ticket",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", false, Some(7))),
                    ticket: Some(TicketView {
                        resolved_at_ms: Some(NOW - 48 * HOUR),
                        ..ticket(7, TicketState::Resolved)
                    }),
                    ..State::default()
                },
                expected: &[
                    "open device P4 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "condition firing new0",
                ],
            },
            Case {
                name: "closed tickets are never reopened",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", false, Some(7))),
                    ticket: Some(ticket(7, TicketState::Closed)),
                    ..State::default()
                },
                expected: &[
                    "open device P4 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "condition firing new0",
                ],
            },
            Case {
                name: "auto-resolve: a clear resolves an untouched ticket with the recovery evidence",
                hold: false,
                finding: clear.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", true, Some(7))),
                    ticket: Some(ticket(7, TicketState::New)),
                    ..State::default()
                },
                expected: &[
                    "condition resolved #7",
                    "note #7 evidence",
                    "state #7 resolved",
                    "note #7 state",
                ],
            },
            Case {
                name: "staff-owned: a clear only adds a note",
                hold: false,
                finding: clear.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", true, Some(7))),
                    ticket: Some(staff_owned.clone()),
                    ..State::default()
                },
                expected: &["condition resolved #7", "note #7 evidence", "note #7 state"],
            },
            Case {
                name: "flap: the change that tips it over notes once and resolves nothing",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(flapping_history.clone()),
                    ticket: Some(ticket(7, TicketState::Resolved)),
                    ..State::default()
                },
                expected: &[
                    "state #7 new",
                    "priority #7 P4",
                    "note #7 state",
                    "note #7 flapping",
                    "condition flapping #7",
                ],
            },
            Case {
                name: "flap: while flapping, a clear leaves the ticket alone",
                hold: false,
                finding: clear.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(ConditionView {
                        state: ConditionState::Flapping,
                        ..condition("a", true, Some(7))
                    }),
                    ticket: Some(ticket(7, TicketState::New)),
                    ..State::default()
                },
                expected: &["condition flapping #7"],
            },
            Case {
                name: "fleet: enough devices of one scope in the window form one incident",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    scopes: vec![ScopeView {
                        scope: "site=hq".to_owned(),
                        devices_in_scope: 20,
                        open_incident: None,
                        recent_firing: vec![
                            peer("b", Some(ticket(2, TicketState::New))),
                            peer(
                                "c",
                                Some(TicketView {
                                    staff_owned: true,
                                    ..ticket(3, TicketState::Assigned)
                                }),
                            ),
                        ],
                    }],
                    ..State::default()
                },
                expected: &[
                    "open incident P3 incident:disk.free_low:site=hq devices=3",
                    "note new0 opened",
                    "attach b new0",
                    "link #2 new0",
                    "note #2 merge",
                    "state #2 cancelled",
                    "attach c new0",
                    "link #3 new0",
                    "note #3 merge",
                    "condition firing new0",
                ],
            },
            Case {
                name: "fleet: too small a share of the scope stays per device",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    scopes: vec![ScopeView {
                        scope: "site=hq".to_owned(),
                        devices_in_scope: 100,
                        open_incident: None,
                        recent_firing: vec![peer("b", None), peer("c", None)],
                    }],
                    ..State::default()
                },
                expected: &[
                    "open device P4 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "condition firing new0",
                ],
            },
            Case {
                name: "fleet: an open incident grows and its impact with it",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    scopes: vec![ScopeView {
                        scope: "site=hq".to_owned(),
                        devices_in_scope: 200,
                        open_incident: Some(incident(9, 24)),
                        recent_firing: Vec::new(),
                    }],
                    ..State::default()
                },
                expected: &[
                    "add a #9",
                    "note #9 device",
                    "priority #9 P2",
                    "note #9 priority",
                    "condition firing #9",
                ],
            },
            Case {
                name: "fleet: when the incident clears, devices still failing are released to the hold",
                hold: false,
                finding: clear.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", true, Some(9))),
                    attached_incident: Some(AttachedIncident {
                        ticket: incident(9, 10),
                        scope: "site=hq".to_owned(),
                        still_firing: vec![peer("b", None), peer("c", None)],
                    }),
                    ..State::default()
                },
                expected: &[
                    "condition resolved #9",
                    "note #9 evidence",
                    "recovered a #9",
                    "state #9 resolved",
                    "note #9 state",
                    "release b",
                    "release c",
                ],
            },
            Case {
                name: "fleet: one device recovering from a large incident is a note",
                hold: false,
                finding: clear.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", true, Some(9))),
                    attached_incident: Some(AttachedIncident {
                        ticket: incident(9, 10),
                        scope: "site=hq".to_owned(),
                        still_firing: vec![peer("b", None), peer("c", None), peer("d", None)],
                    }),
                    ..State::default()
                },
                expected: &[
                    "condition resolved #9",
                    "note #9 evidence",
                    "recovered a #9",
                ],
            },
            Case {
                name: "known fixes are listed on a new ticket, recurring fingerprints flagged",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    known_fixes: vec![
                        KnownFix {
                            solution: "Emptied the recycle bin".to_owned(),
                            worked_count: 3,
                        },
                        KnownFix {
                            solution: "Moved the mailbox archive".to_owned(),
                            worked_count: 1,
                        },
                    ],
                    fingerprint_tickets: 2,
                    ..State::default()
                },
                expected: &[
                    "open device P4 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "note new0 known_fix",
                    "problem disk.free_low:/",
                    "note new0 problem",
                    "condition firing new0",
                ],
            },
            Case {
                name: "hold: others of the scope fail the same way, so it waits for an incident",
                hold: true,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    scopes: vec![ScopeView {
                        scope: "site=hq".to_owned(),
                        devices_in_scope: 100,
                        open_incident: None,
                        recent_firing: vec![peer("b", None)],
                    }],
                    ..State::default()
                },
                expected: &["condition firing -"],
            },
            Case {
                name: "hold passed (the sweep replays it): a ticket of its own",
                hold: false,
                finding: warning.clone(),
                device: a.clone(),
                state: State {
                    condition: Some(condition("a", true, None)),
                    scopes: vec![ScopeView {
                        scope: "site=hq".to_owned(),
                        devices_in_scope: 100,
                        open_incident: None,
                        recent_firing: vec![peer("b", None)],
                    }],
                    ..State::default()
                },
                expected: &[
                    "open device P4 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "condition firing new0",
                ],
            },
            Case {
                name: "hold: a lone failing device opens its ticket at once",
                hold: true,
                finding: warning.clone(),
                device: a.clone(),
                state: State::default(),
                expected: &[
                    "open device P4 device:a:disk.free_low:/ devices=1",
                    "note new0 opened",
                    "condition firing new0",
                ],
            },
        ]
    }

    #[test]
    fn findings_open_join_reopen_flap_resolve_and_correlate() {
        let policy = policy();
        for case in observed_cases() {
            let event = Event::Observed {
                device: &case.device,
                finding: &case.finding,
                at_ms: NOW,
                hold: case.hold,
            };
            let actions = decide(&event, &case.state, &policy).expect("observations never fail");
            assert_eq!(summarise(&actions), case.expected, "{}", case.name);
        }
    }

    #[test]
    fn known_fixes_are_listed_in_the_order_given_with_their_counts() {
        let state = State {
            known_fixes: vec![
                KnownFix {
                    solution: "Emptied the recycle bin".to_owned(),
                    worked_count: 3,
                },
                KnownFix {
                    solution: "Moved the archive".to_owned(),
                    worked_count: 1,
                },
            ],
            ..State::default()
        };
        let (a, warning) = (device("a"), finding("disk.free_low", Severity::Warning));
        let event = Event::Observed {
            device: &a,
            finding: &warning,
            at_ms: NOW,
            hold: true,
        };
        let actions = decide(&event, &state, &policy()).expect("decides");
        let text = actions
            .iter()
            .find_map(|action| match action {
                Action::Note {
                    kind: NoteKind::KnownFix,
                    text,
                    ..
                } => Some(text.clone()),
                _ => None,
            })
            .expect("a known-fix note");
        assert_eq!(
            text,
            "Known fixes for disk.free_low:/: 1. Emptied the recycle bin (worked 3 times); 2. Moved the archive (worked 1 time)"
        );
    }

    #[test]
    fn silence_marks_conditions_stale_and_never_resolves() {
        let policy = policy();
        let state = State {
            device_conditions: vec![
                (
                    condition("a", true, Some(7)),
                    Some(ticket(7, TicketState::New)),
                ),
                (condition("a", false, None), None),
            ],
            ..State::default()
        };
        let silent = decide(
            &Event::DeviceSilent {
                hostname: "pc-a",
                last_seen_ms: NOW - HOUR,
                at_ms: NOW,
            },
            &state,
            &policy,
        )
        .expect("decides");
        assert_eq!(summarise(&silent), ["condition a stale", "note #7 stale"]);
        let stale_state = State {
            device_conditions: vec![(
                ConditionView {
                    state: ConditionState::Stale,
                    ..condition("a", true, Some(7))
                },
                Some(ticket(7, TicketState::New)),
            )],
            ..State::default()
        };
        let back = decide(
            &Event::DeviceBack {
                hostname: "pc-a",
                at_ms: NOW,
            },
            &stale_state,
            &policy,
        )
        .expect("decides");
        assert_eq!(summarise(&back), ["condition a firing", "note #7 stale"]);
    }

    #[test]
    fn a_quiet_flapping_condition_settles_and_resolves_only_if_clear() {
        let policy = policy();
        let flapping = |firing| ConditionView {
            state: ConditionState::Flapping,
            ..condition("a", firing, Some(7))
        };
        let cases: [(bool, &[&str]); 2] = [
            (
                false,
                &[
                    "condition a resolved",
                    "note #7 flapping",
                    "note #7 evidence",
                    "state #7 resolved",
                    "note #7 state",
                ],
            ),
            (true, &["condition a firing", "note #7 flapping"]),
        ];
        for (firing, expected) in cases {
            let state = State {
                condition: Some(flapping(firing)),
                ticket: Some(ticket(7, TicketState::New)),
                ..State::default()
            };
            let actions = decide(
                &Event::FlapQuiet {
                    hostname: "pc-a",
                    at_ms: NOW,
                },
                &state,
                &policy,
            )
            .expect("decides");
            assert_eq!(summarise(&actions), expected, "firing = {firing}");
        }
    }

    #[test]
    fn sla_breaches_escalate_one_tier_each_and_pending_pauses_them() {
        let policy = policy();
        let cases: [(&str, TicketView, &[&str]); 5] = [
            ("on time", ticket(7, TicketState::New), &[]),
            (
                "response breached",
                TicketView {
                    response_due_ms: NOW - 1,
                    ..ticket(7, TicketState::New)
                },
                &["breached #7 response", "tier #7 L2", "note #7 escalation"],
            ),
            (
                "both breached",
                TicketView {
                    response_due_ms: NOW - 1,
                    resolution_due_ms: NOW - 1,
                    ..ticket(7, TicketState::New)
                },
                &[
                    "breached #7 response",
                    "tier #7 L2",
                    "note #7 escalation",
                    "breached #7 resolution",
                    "tier #7 L3",
                    "note #7 escalation",
                ],
            ),
            (
                "already noted",
                TicketView {
                    response_due_ms: NOW - 1,
                    response_breached: true,
                    tier: 2,
                    ..ticket(7, TicketState::New)
                },
                &[],
            ),
            (
                "paused while pending",
                TicketView {
                    response_due_ms: NOW - 1,
                    pending_since_ms: Some(NOW - HOUR),
                    ..ticket(7, TicketState::Pending)
                },
                &[],
            ),
        ];
        for (name, ticket, expected) in cases {
            let state = State {
                ticket: Some(ticket),
                ..State::default()
            };
            let actions = decide(&Event::SlaTick { at_ms: NOW }, &state, &policy).expect("decides");
            assert_eq!(summarise(&actions), expected, "{name}");
        }
    }

    #[test]
    fn staff_actions_move_tickets_and_record_solutions() {
        let policy = policy();
        let resolved = ticket(7, TicketState::Resolved);
        let pending = TicketView {
            pending_since_ms: Some(NOW - HOUR),
            ..ticket(7, TicketState::Pending)
        };
        let top = TicketView {
            tier: 3,
            ..ticket(7, TicketState::New)
        };
        type Expected = Result<&'static [&'static str], Refusal>;
        let cases: Vec<(StaffAction, TicketView, Expected)> = vec![
            (
                StaffAction::Assign {
                    to: "alice".to_owned(),
                },
                ticket(7, TicketState::New),
                Ok(&[
                    "assign #7 alice",
                    "touch #7 true",
                    "state #7 assigned",
                    "note #7 assignment",
                ]),
            ),
            (
                StaffAction::Escalate {
                    reason: "needs a desk visit".to_owned(),
                },
                ticket(7, TicketState::New),
                Ok(&["tier #7 L2", "touch #7 false", "note #7 escalation"]),
            ),
            (
                StaffAction::Escalate {
                    reason: "again".to_owned(),
                },
                top,
                Err(Refusal::TopTier(7)),
            ),
            (
                StaffAction::Resolve {
                    solution: "Emptied the recycle bin".to_owned(),
                },
                ticket(7, TicketState::InProgress),
                Ok(&[
                    "touch #7 false",
                    "state #7 resolved",
                    "solution disk.free_low:/ Emptied the recycle bin",
                    "note #7 state",
                ]),
            ),
            (
                StaffAction::Resolve {
                    solution: "  ".to_owned(),
                },
                ticket(7, TicketState::InProgress),
                Err(Refusal::Empty("the solution (what fixed it)")),
            ),
            (
                StaffAction::Resolve {
                    solution: "x".to_owned(),
                },
                resolved.clone(),
                Err(Refusal::NotOpen {
                    id: 7,
                    state: "resolved",
                    action: "resolving",
                }),
            ),
            (
                StaffAction::Pending {
                    reason: "waiting for the user".to_owned(),
                },
                ticket(7, TicketState::Assigned),
                Ok(&[
                    "pending #7 true",
                    "state #7 pending",
                    "touch #7 true",
                    "note #7 state",
                ]),
            ),
            (
                StaffAction::StartWork,
                pending,
                Ok(&[
                    "touch #7 true",
                    "assign #7 bob",
                    "pending #7 false",
                    "state #7 in_progress",
                    "note #7 state",
                ]),
            ),
            (
                StaffAction::Reply {
                    text: "Restart Outlook and tell me if it helps".to_owned(),
                },
                ticket(7, TicketState::Assigned),
                Ok(&["touch #7 false", "note #7 reply"]),
            ),
            (
                StaffAction::Reply {
                    text: " ".to_owned(),
                },
                ticket(7, TicketState::Assigned),
                Err(Refusal::Empty("the reply")),
            ),
            (
                StaffAction::RequesterAnswer {
                    fixed: true,
                    words: String::new(),
                },
                resolved.clone(),
                Ok(&["state #7 closed", "note #7 requester_answer"]),
            ),
            (
                StaffAction::RequesterAnswer {
                    fixed: false,
                    words: "Outlook still closes".to_owned(),
                },
                resolved.clone(),
                Ok(&["state #7 new", "priority #7 P4", "note #7 requester_answer"]),
            ),
            (
                StaffAction::RequesterAnswer {
                    fixed: false,
                    words: "still".to_owned(),
                },
                ticket(7, TicketState::InProgress),
                Ok(&["note #7 requester_answer"]),
            ),
            (
                StaffAction::Close,
                resolved.clone(),
                Ok(&["state #7 closed", "note #7 state"]),
            ),
            (
                StaffAction::Comment {
                    text: "  ".to_owned(),
                },
                resolved,
                Err(Refusal::Empty("the comment")),
            ),
        ];
        for (action, ticket, expected) in cases {
            let state = State {
                ticket: Some(ticket),
                ..State::default()
            };
            let outcome = decide(
                &Event::Staff {
                    actor: "bob",
                    action: &action,
                    at_ms: NOW,
                },
                &state,
                &policy,
            );
            let outcome = outcome.map(|actions| summarise(&actions));
            let expected = expected.map(|words| words.iter().map(|w| (*w).to_owned()).collect());
            assert_eq!(outcome, expected, "{action:?}");
        }
    }
}
