//! The ticket engine, pure: `decide(event, state, policy)` returns the actions that follow from
//! one event given the state it touches. No I/O, no clock: the event carries the time. The
//! store loads `State` inside a transaction, calls this, and applies the actions. This file
//! holds the types, `decide` and the `Plan` the rules write to; the rules live one family per
//! file under `engine/`.

mod conditions;
mod devices;
mod incidents;
mod knowledge;
mod report;
mod sla;
mod staff;
#[cfg(test)]
mod testing;

use crate::model::{Finding, Severity};

use super::policy::{Level, Policy, Priority};
use super::{ConditionState, KnownFix, NoteKind, ReportHow, TicketKind, TicketState};
use conditions::observed;
use devices::{device_back, device_silent, flap_quiet};
use sla::sla_tick;
use staff::staff;

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
    /// Its check: the event's, or, among an incident's conditions, whatever a merge brought.
    pub check: String,
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
    /// The conditions still firing that feed it, the event's own condition excepted (the
    /// device's other resources included).
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
    /// Staff Merge: the ticket merged into, and the conditions feeding the merged ticket.
    pub merge_into: Option<TicketView>,
    pub feeding: Vec<ConditionView>,
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
    /// Fold this ticket into ticket `into` (another device's ticket about the same trouble, or
    /// an incident): its conditions, devices and reports move there, it is cancelled as
    /// merged, and both record the link.
    Merge {
        into: i64,
    },
}

/// A ticket about to be opened.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub kind: TicketKind,
    pub key: String,
    /// The title in words (`tickets::titles`), put into the reader's language where it is
    /// read; [`NewTicket::title`] is its English, stored for the API, e-mail and search.
    pub title_words: firstline_i18n::Message,
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

impl NewTicket {
    /// The title in English, as stored beside its words.
    pub fn title(&self) -> String {
        self.title_words.text(firstline_i18n::Lang::En)
    }
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
    /// What hangs off a merged ticket moves to `to`: the user reports it took (the
    /// requester's help page follows them; the requester too, to a ticket of the same device
    /// that has none) and, for an incident, the device tickets it took.
    MoveReports {
        from: TicketRef,
        to: TicketRef,
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
    #[error("there is no ticket {0} to merge into")]
    NoMergeTarget(i64),
    #[error("ticket {0} cannot be merged into itself")]
    SameTicket(i64),
    #[error(
        "incident {id} cannot be merged into ticket {into}, which is not an incident; merge ticket {into} into the incident instead"
    )]
    IncidentIntoDevice { id: i64, into: i64 },
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

fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
