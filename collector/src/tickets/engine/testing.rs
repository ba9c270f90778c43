//! Fixtures shared by the engine's unit tests: a policy, devices, findings, tickets, and
//! `summarise`, which reduces actions to short words a table can compare.

use crate::model::{Finding, Severity};
use crate::tickets::policy::{Level, Policy, Priority};
use crate::tickets::{ConditionState, TicketKind, TicketState};

use super::{Action, ConditionView, DeviceFacts, Peer, TicketRef, TicketView};

pub(super) const HOUR: i64 = 3_600_000;
pub(super) const NOW: i64 = 1_000 * HOUR;

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

pub(super) fn condition(device_id: &str, firing: bool, ticket_id: Option<i64>) -> ConditionView {
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

pub(super) fn peer(id: &str, ticket: Option<TicketView>) -> Peer {
    Peer {
        device_id: id.to_owned(),
        hostname: format!("pc-{id}"),
        check: "disk.free_low".to_owned(),
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
            Action::MoveReports { from, to } => {
                format!("reports {} {}", reference(from), reference(to))
            }
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
